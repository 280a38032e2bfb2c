/*
 * pay_client.c -- WeChat Pay v3 signing, verification, decryption and calls
 * (pay_client.h), with OpenSSL EVP.
 *
 * [pay] platform_keys is a comma-separated map "ID=file,ID=file"; an ID is a
 * platform certificate serial or a WeChat Pay public key id (PUB_KEY_ID_...),
 * a file holds a PEM public key or certificate.  A bare "file" entry takes
 * its ID from the file next to it with the extension replaced by ".id", so
 * keys generated at test time need no id in the config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "pay_client.h"
#include "wxhttp.h"
#include "log.h"

#define MAX_PLATFORM_KEYS 8

typedef struct {
    char      id[80];
    EVP_PKEY *key;
} platform_key_t;

static int            keys_loaded; /* 1 ok, -1 failed (retried later) */
static time_t         keys_tried_at;
static EVP_PKEY      *merchant_key;
static platform_key_t platform[MAX_PLATFORM_KEYS];
static int            nplatform;

static EVP_PKEY *
load_public(const char *file)
{
    FILE     *f = fopen(file, "r");
    EVP_PKEY *k = NULL;
    X509     *x;

    if (f == NULL) {
        return NULL;
    }
    k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    if (k == NULL) {
        rewind(f);
        x = PEM_read_X509(f, NULL, NULL, NULL);
        if (x != NULL) {
            k = X509_get_pubkey(x);
            X509_free(x);
        }
    }
    fclose(f);
    ERR_clear_error();
    return k;
}

static void
trim(char *s)
{
    size_t n = strlen(s);
    char  *p = s;

    while (n > 0
        && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'
            || s[n - 1] == '\t'))
    {
        s[--n] = '\0';
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    memmove(s, p, strlen(p) + 1);
}

static int
id_from_file(const char *file, char *id, size_t n)
{
    char  path[TUCAI_PATH_MAX + 8];
    char *dot, *slash;
    FILE *f;

    snprintf(path, sizeof(path), "%s", file);
    dot = strrchr(path, '.');
    slash = strrchr(path, '/');
    if (dot != NULL && (slash == NULL || dot > slash)) {
        *dot = '\0';
    }
    strncat(path, ".id", sizeof(path) - strlen(path) - 1);
    f = fopen(path, "r");
    if (f == NULL || fgets(id, (int) n, f) == NULL) {
        if (f) {
            fclose(f);
        }
        return -1;
    }
    fclose(f);
    trim(id);
    return id[0] ? 0 : -1;
}

static int
load_keys(const tucai_config_t *cfg)
{
    char  map[sizeof(cfg->pay_platform_keys)];
    char *save = NULL, *ent, *eq;
    FILE *f;

    if (keys_loaded == 1) {
        return 0;
    }
    /* A missing file is retried at most every 10 s, not per request. */
    if (keys_loaded == -1 && time(NULL) - keys_tried_at < 10) {
        return -1;
    }
    keys_tried_at = time(NULL);
    keys_loaded = -1;

    if (merchant_key == NULL) {
        f = fopen(cfg->pay_merchant_key_file, "r");
        if (f != NULL) {
            merchant_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
            fclose(f);
        }
        ERR_clear_error();
        if (merchant_key == NULL) {
            tlog_error("pay: cannot load merchant key from \"%s\"",
                cfg->pay_merchant_key_file);
            return -1;
        }
    }
    for (int i = 0; i < nplatform; i++) {
        EVP_PKEY_free(platform[i].key);
    }
    nplatform = 0;
    snprintf(map, sizeof(map), "%s", cfg->pay_platform_keys);
    for (ent = strtok_r(map, ",", &save); ent != NULL;
         ent = strtok_r(NULL, ",", &save))
    {
        platform_key_t *pk;
        const char     *file;

        if (nplatform == MAX_PLATFORM_KEYS) {
            tlog_warn("pay: more than %d platform keys, extra ignored",
                MAX_PLATFORM_KEYS);
            break;
        }
        pk = &platform[nplatform];
        trim(ent);
        eq = strchr(ent, '=');
        if (eq != NULL) {
            *eq = '\0';
            snprintf(pk->id, sizeof(pk->id), "%s", ent);
            trim(pk->id);
            file = eq + 1;
        } else {
            file = ent;
            if (id_from_file(file, pk->id, sizeof(pk->id)) != 0) {
                tlog_error("pay: no id file next to platform key \"%s\"", file);
                continue;
            }
        }
        pk->key = load_public(file);
        if (pk->key == NULL || pk->id[0] == '\0') {
            tlog_error("pay: cannot load platform key \"%s\"", file);
            EVP_PKEY_free(pk->key);
            pk->key = NULL;
            continue;
        }
        nplatform++;
    }
    if (nplatform == 0 || strlen(cfg->pay_apiv3_key) != 32) {
        tlog_error("pay: platform keys or APIv3 key missing");
        return -1;
    }
    keys_loaded = 1;
    return 0;
}

int
payc_ready(const tucai_config_t *cfg)
{
    return load_keys(cfg);
}

void
payc_nonce(char *buf, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char     r[32];
    size_t            i, k = (n - 1) / 2 + 1;

    if (k > sizeof(r)) {
        k = sizeof(r);
    }
    if (RAND_bytes(r, (int) k) != 1) {
        /* never expected; still unique enough as a nonce */
        for (i = 0; i < k; i++) {
            r[i] = (unsigned char) random();
        }
    }
    for (i = 0; i + 1 < n && i / 2 < k; i++) {
        buf[i] = hex[(i & 1) ? (r[i / 2] & 15) : (r[i / 2] >> 4)];
    }
    buf[i] = '\0';
}

/* Base64(SHA256withRSA(merchant key, msg)) into out (>= 400 bytes). */
static int
sign_b64(const void *msg, size_t len, char *out, size_t n)
{
    EVP_MD_CTX   *md = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t        slen = sizeof(sig);
    int           ok;

    if (md == NULL) {
        return -1;
    }
    ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, merchant_key) == 1
        && EVP_DigestSign(md, sig, &slen, msg, len) == 1
        && 4 * ((slen + 2) / 3) < n;
    EVP_MD_CTX_free(md);
    if (!ok) {
        ERR_clear_error();
        return -1;
    }
    EVP_EncodeBlock((unsigned char *) out, sig, (int) slen);
    return 0;
}

/* Decodes standard Base64; returns the length or -1. */
static int
b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    int n, pad = 0;

    if (len == 0 || len % 4 != 0 || len / 4 * 3 > cap || len > 1 << 20) {
        return -1;
    }
    n = EVP_DecodeBlock(out, (const unsigned char *) in, (int) len);
    if (n < 0) {
        return -1;
    }
    if (in[len - 1] == '=') {
        pad++;
    }
    if (in[len - 2] == '=') {
        pad++;
    }
    return n - pad;
}

int
payc_verify(const tucai_config_t *cfg, const char *ts, size_t ts_len,
    const char *nonce, size_t nonce_len, const char *sig, size_t sig_len,
    const char *serial, size_t serial_len, const unsigned char *body,
    size_t body_len)
{
    EVP_PKEY     *key = NULL;
    EVP_MD_CTX   *md;
    unsigned char raw[1024];
    char          tsbuf[24];
    int           rawlen, i, ok;
    long long     t;
    char         *end;

    if (load_keys(cfg) != 0 || ts == NULL || nonce == NULL || sig == NULL
        || serial == NULL || ts_len == 0 || ts_len >= sizeof(tsbuf)
        || nonce_len == 0 || nonce_len > 64 || sig_len == 0)
    {
        return PAYC_BAD_SIGNATURE;
    }
    for (i = 0; i < nplatform; i++) {
        if (strlen(platform[i].id) == serial_len
            && memcmp(platform[i].id, serial, serial_len) == 0)
        {
            key = platform[i].key;
        }
    }
    /* Probe messages (WECHATPAY/SIGNTEST/...) are not Base64: they fail
     * here like any other bad signature. */
    rawlen = key ? b64_decode(sig, sig_len, raw, sizeof(raw)) : -1;
    if (rawlen <= 0) {
        return PAYC_BAD_SIGNATURE;
    }
    memcpy(tsbuf, ts, ts_len);
    tsbuf[ts_len] = '\0';
    t = strtoll(tsbuf, &end, 10);
    if (*end != '\0' || t <= 0) {
        return PAYC_BAD_SIGNATURE;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return PAYC_BAD_SIGNATURE;
    }
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1
        && EVP_DigestVerifyUpdate(md, ts, ts_len) == 1
        && EVP_DigestVerifyUpdate(md, "\n", 1) == 1
        && EVP_DigestVerifyUpdate(md, nonce, nonce_len) == 1
        && EVP_DigestVerifyUpdate(md, "\n", 1) == 1
        && EVP_DigestVerifyUpdate(md, body, body_len) == 1
        && EVP_DigestVerifyUpdate(md, "\n", 1) == 1
        && EVP_DigestVerifyFinal(md, raw, (size_t) rawlen) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (!ok) {
        return PAYC_BAD_SIGNATURE;
    }
    /* Checked after the signature: a signed but old message is a replay. */
    if (llabs(t - (long long) time(NULL)) > cfg->pay_notify_window_s) {
        return PAYC_STALE;
    }
    return PAYC_OK;
}

json_t *
payc_decrypt_resource(const tucai_config_t *cfg, json_t *resource)
{
    const char *alg = json_string_value(json_object_get(resource, "algorithm"));
    const char *ct64 =
        json_string_value(json_object_get(resource, "ciphertext"));
    const char *nonce = json_string_value(json_object_get(resource, "nonce"));
    const char *ad =
        json_string_value(json_object_get(resource, "associated_data"));
    unsigned char  *ct = NULL, *pt = NULL;
    int             ctlen, n, ok = 0, ptlen = 0;
    EVP_CIPHER_CTX *c = NULL;
    json_t         *j = NULL;

    if (load_keys(cfg) != 0 || alg == NULL
        || strcmp(alg, "AEAD_AES_256_GCM") != 0 || ct64 == NULL || nonce == NULL
        || strlen(nonce) != 12 || strlen(ct64) > 64 * 1024)
    {
        return NULL;
    }
    if (ad == NULL) {
        ad = "";
    }
    ct = malloc(strlen(ct64) + 4);
    pt = malloc(strlen(ct64) + 4);
    if (ct == NULL || pt == NULL) {
        goto done;
    }
    ctlen = b64_decode(ct64, strlen(ct64), ct, strlen(ct64) + 4);
    if (ctlen <= 16) {
        goto done;
    }
    ctlen -= 16; /* the GCM tag is the last 16 bytes */
    c = EVP_CIPHER_CTX_new();
    ok = c != NULL
        && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
        && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1
        && EVP_DecryptInit_ex(c, NULL, NULL,
               (const unsigned char *) cfg->pay_apiv3_key,
               (const unsigned char *) nonce)
            == 1
        && EVP_DecryptUpdate(
               c, NULL, &n, (const unsigned char *) ad, (int) strlen(ad))
            == 1
        && EVP_DecryptUpdate(c, pt, &ptlen, ct, ctlen) == 1
        && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, ct + ctlen) == 1
        && EVP_DecryptFinal_ex(c, pt + ptlen, &n) == 1;
    if (ok) {
        ptlen += n;
        j = json_loadb((const char *) pt, (size_t) ptlen, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            j = NULL;
        }
    }
done:
    EVP_CIPHER_CTX_free(c);
    ERR_clear_error();
    free(ct);
    free(pt);
    return j;
}

json_t *
payc_request_payment(const tucai_config_t *cfg, const char *prepay_id)
{
    char  ts[24], nonce[33], pkg[128], sig[1400];
    char *msg;
    int   rc;

    if (load_keys(cfg) != 0 || strlen(prepay_id) > 100) {
        return NULL;
    }
    snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));
    payc_nonce(nonce, sizeof(nonce));
    snprintf(pkg, sizeof(pkg), "prepay_id=%s", prepay_id);
    if (asprintf(&msg, "%s\n%s\n%s\n%s\n", cfg->wx_appid, ts, nonce, pkg) < 0) {
        return NULL;
    }
    rc = sign_b64(msg, strlen(msg), sig, sizeof(sig));
    free(msg);
    if (rc != 0) {
        return NULL;
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "timeStamp", ts, "nonceStr",
        nonce, "package", pkg, "signType", "RSA", "paySign", sig);
}

int
payc_call(tucai_ctx_t *ctx, const char *method, const char *path,
    const char *body, long *status, json_t **answer)
{
    const tucai_config_t *cfg = ctx->cfg;
    char                  ts[24], nonce[33], sig[1400], url[1024];
    char                  auth[2048], *msg;
    const char           *hdrs[3];
    wxhttp_resp_t         r;
    int    attempt, tries = 1 + (cfg->wx_retries > 0 ? cfg->wx_retries : 0);
    int    v;
    size_t blen = body ? strlen(body) : 0;

    *answer = NULL;
    *status = 0;
    if (load_keys(cfg) != 0) {
        return -1;
    }
    snprintf(url, sizeof(url), "%s%s", cfg->pay_api_base, path);
    for (attempt = 1; attempt <= tries; attempt++) {
        if (attempt > 1) {
            wxhttp_backoff(attempt - 1);
        }
        snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));
        payc_nonce(nonce, sizeof(nonce));
        if (asprintf(&msg, "%s\n%s\n%s\n%s\n%s\n", method, path, ts, nonce,
                body ? body : "")
            < 0)
        {
            return -1;
        }
        v = sign_b64(msg, strlen(msg), sig, sizeof(sig));
        free(msg);
        if (v != 0) {
            tlog_error("pay: signing failed");
            return -1;
        }
        snprintf(auth, sizeof(auth),
            "Authorization: WECHATPAY2-SHA256-RSA2048 "
            "mchid=\"%s\",nonce_str=\"%s\",signature=\"%s\",timestamp=\"%s\","
            "serial_no=\"%s\"",
            cfg->pay_mchid, nonce, sig, ts, cfg->pay_merchant_serial);
        hdrs[0] = auth;
        hdrs[1] = body ? "Content-Type: application/json" : NULL;
        hdrs[2] = NULL;
        if (wxhttp_call(cfg, method, url, hdrs, body, blen, &r) != 0) {
            tlog_warn(
                "pay %s %s: attempt %d: %s", method, path, attempt, r.error);
            continue;
        }
        /* Every answer must carry a valid platform signature, errors too:
         * anything else did not come from WeChat Pay. */
        v = payc_verify(cfg, r.wx_timestamp, strlen(r.wx_timestamp), r.wx_nonce,
            strlen(r.wx_nonce), r.wx_signature, strlen(r.wx_signature),
            r.wx_serial, strlen(r.wx_serial),
            r.body.p ? r.body.p : (const unsigned char *) "", r.body.len);
        if (v != PAYC_OK) {
            tlog_error("pay %s %s: answer signature %s (HTTP %ld)", method,
                path, v == PAYC_STALE ? "stale" : "invalid", r.status);
            wxhttp_resp_free(&r);
            continue;
        }
        if (r.status >= 500) {
            tlog_warn("pay %s %s: attempt %d: HTTP %ld", method, path, attempt,
                r.status);
            wxhttp_resp_free(&r);
            continue;
        }
        *status = r.status;
        if (r.body.len > 0) {
            *answer = json_loadb((const char *) r.body.p, r.body.len, 0, NULL);
            if (!json_is_object(*answer)) {
                json_decref(*answer);
                *answer = NULL;
            }
        }
        wxhttp_resp_free(&r);
        return 0;
    }
    return -1;
}
