/* token.c -- issuing (and, for tools/tests, verifying) session tokens. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "token.h"

#define MAX_KEYS   8
#define MAX_SECRET 128

typedef struct {
    char          kid[17];
    unsigned char secret[MAX_SECRET];
    size_t        len;
} tkey_t;

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int
kid_ok(const char *k)
{
    size_t n = strlen(k), i;

    if (n < 1 || n > 16) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!isalnum((unsigned char) k[i]) && k[i] != '_' && k[i] != '-') {
            return 0;
        }
    }
    return 1;
}

/* Read on every use: the file is tiny, and a rotated key takes effect
 * without a restart. */
static int
load_keys(const char *path, tkey_t *keys, int max)
{
    FILE *f = fopen(path, "r");
    char  line[512];
    int   n = 0;

    if (f == NULL) {
        return -1;
    }
    while (n < max && fgets(line, sizeof(line), f)) {
        char   kid[64], hex[400];
        size_t hl, i;

        if (line[0] == '#' || sscanf(line, "%63s %399s", kid, hex) != 2) {
            continue;
        }
        hl = strlen(hex);
        if (!kid_ok(kid) || hl < 64 || hl % 2 || hl / 2 > MAX_SECRET) {
            continue;
        }
        for (i = 0; i < hl / 2; i++) {
            int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                break;
            }
            keys[n].secret[i] = (unsigned char) (hi << 4 | lo);
        }
        if (i != hl / 2) {
            continue;
        }
        snprintf(keys[n].kid, sizeof(keys[n].kid), "%s", kid);
        keys[n].len = hl / 2;
        n++;
    }
    fclose(f);
    return n;
}

static void
b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i;
    char  *o = out;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v =
            (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t) in[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
    }
    *o = '\0';
}

static int
sign(const tkey_t *k, const char *msg, size_t len, char *sig)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int  ml = 0;

    if (HMAC(EVP_sha256(), k->secret, (int) k->len, (const unsigned char *) msg,
            len, mac, &ml)
        == NULL)
    {
        return -1;
    }
    b64url(mac, ml, sig);
    return 0;
}

int
token_issue_exp(const tucai_config_t *cfg, char role, uint64_t subject,
    uint32_t school, uint64_t exp, char *out, size_t n)
{
    tkey_t keys[MAX_KEYS];
    char   buf[TUCAI_TOKEN_MAX + 64], sig[64];
    int    len, nk;

    if ((role != 's' && role != 't') || out == NULL) {
        return -1;
    }
    nk = load_keys(cfg->token_key_file, keys, MAX_KEYS);
    if (nk <= 0) {
        return -1;
    }
    len =
        snprintf(buf, sizeof(buf), "t1.%s.%c.%" PRIu64 ".%" PRIu32 ".%" PRIu64,
            keys[0].kid, role, subject, school, exp);
    if (len < 0 || sign(&keys[0], buf, (size_t) len, sig) != 0) {
        OPENSSL_cleanse(keys, sizeof(keys));
        return -1;
    }
    OPENSSL_cleanse(keys, sizeof(keys));
    if ((size_t) len + 1 + strlen(sig) > TUCAI_TOKEN_MAX
        || (size_t) len + 1 + strlen(sig) + 1 > n)
    {
        return -1;
    }
    snprintf(out, n, "%s.%s", buf, sig);
    return 0;
}

int
token_issue(const tucai_config_t *cfg, char role, uint64_t subject,
    uint32_t school, char *out, size_t n)
{
    return token_issue_exp(cfg, role, subject, school,
        (uint64_t) time(NULL) + (uint64_t) cfg->token_ttl_s, out, n);
}

/* Decimal without leading zeros, fits u64. */
static int
parse_u64(const char *s, size_t len, uint64_t *v)
{
    size_t i;

    if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) {
        return -1;
    }
    *v = 0;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char) s[i]))
            return -1;
        if (*v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
            return -1;
        *v = *v * 10 + (uint64_t) (s[i] - '0');
    }
    return 0;
}

int
token_verify(const tucai_config_t *cfg, const char *tok, char *role,
    uint64_t *subject, uint32_t *school, uint64_t *exp)
{
    const char *f[7];
    size_t      fl[7], tl;
    tkey_t      keys[MAX_KEYS];
    char        sig[64], kid[17];
    uint64_t    sub, sch, ex;
    int         i, nk, ok = -1;
    const char *p = tok;

    tl = strlen(tok);
    if (tl > TUCAI_TOKEN_MAX) {
        return -1;
    }
    for (i = 0; i < 7; i++) {
        const char *d = (i < 6) ? strchr(p, '.') : p + strlen(p);
        if (d == NULL)
            return -1;
        f[i] = p;
        fl[i] = (size_t) (d - p);
        p = d + 1;
    }
    if (fl[0] != 2 || memcmp(f[0], "t1", 2) != 0 || fl[2] != 1
        || (f[2][0] != 's' && f[2][0] != 't') || fl[1] < 1 || fl[1] > 16
        || parse_u64(f[3], fl[3], &sub) || parse_u64(f[4], fl[4], &sch)
        || sch > UINT32_MAX || parse_u64(f[5], fl[5], &ex)
        || ex < (uint64_t) time(NULL))
    {
        return -1;
    }
    memcpy(kid, f[1], fl[1]);
    kid[fl[1]] = '\0';
    nk = load_keys(cfg->token_key_file, keys, MAX_KEYS);
    for (i = 0; i < nk; i++) {
        if (strcmp(keys[i].kid, kid) != 0)
            continue;
        if (sign(&keys[i], tok, (size_t) (f[6] - tok - 1), sig) == 0
            && strlen(sig) == fl[6] && CRYPTO_memcmp(sig, f[6], fl[6]) == 0)
        {
            ok = 0;
        }
        break;
    }
    OPENSSL_cleanse(keys, sizeof(keys));
    if (ok == 0) {
        if (role)
            *role = f[2][0];
        if (subject)
            *subject = sub;
        if (school)
            *school = (uint32_t) sch;
        if (exp)
            *exp = ex;
    }
    return ok;
}
