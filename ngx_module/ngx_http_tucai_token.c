/*
 * ngx_http_tucai_token.c -- session token verification and key loading.
 *
 * token = "t1." kid "." role "." subject "." school "." exp "." sig
 * sig   = base64url(HMAC-SHA256(key[kid], everything before "." sig)), no
 * padding.  The key file is read once at configuration time (nginx -t
 * rejects a bad one); request-time work is one HMAC and no allocation
 * beyond the request context.
 */
#include "ngx_http_tucai.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define NGX_HTTP_TUCAI_TOKEN_MAX   256
#define NGX_HTTP_TUCAI_KID_MAX     16
#define NGX_HTTP_TUCAI_SECRET_MIN  32
#define NGX_HTTP_TUCAI_SECRET_MAX  256
#define NGX_HTTP_TUCAI_KEYS_MAX    16
#define NGX_HTTP_TUCAI_KEYFILE_MAX 65536
#define NGX_HTTP_TUCAI_CACHE_SLOTS 256


/*
 * A per-worker, direct-mapped cache of tokens that verified: a student's
 * phone sends the same token on every request, and one full-length
 * constant-time compare is far cheaper than an HMAC.  Only good tokens are
 * cached, with their claims; expiry is checked on every hit, and a reload
 * (new keys) starts new workers with an empty cache.
 */
typedef struct {
    size_t                  len;
    u_char                  token[NGX_HTTP_TUCAI_TOKEN_MAX];
    ngx_http_tucai_token_t  claims;
} ngx_http_tucai_cached_t;

static ngx_http_tucai_cached_t  ngx_http_tucai_cache[NGX_HTTP_TUCAI_CACHE_SLOTS];


static ngx_int_t
ngx_http_tucai_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}


static ngx_int_t
ngx_http_tucai_kid_char(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '-';
}


char *
ngx_http_tucai_load_keys(ngx_conf_t *cf, ngx_str_t *name, ngx_array_t **keys)
{
    u_char                *buf, *p, *end, *eol, *k, *h;
    size_t                 klen, hlen, i;
    ssize_t                n;
    ngx_fd_t               fd;
    ngx_file_t             file;
    ngx_uint_t             line;
    ngx_file_info_t        fi;
    ngx_http_tucai_key_t  *key;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "tucai_token_keys: cannot open \"%V\"", name);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = *name;
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_TUCAI_KEYFILE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tucai_token_keys: \"%V\" unreadable or larger "
                           "than %d bytes", name, NGX_HTTP_TUCAI_KEYFILE_MAX);
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    buf = ngx_pnalloc(cf->temp_pool, ngx_file_size(&fi) + 1);
    if (buf == NULL) {
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, buf, ngx_file_size(&fi), 0);
    ngx_close_file(fd);

    if (n != (ssize_t) ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "tucai_token_keys: short read of \"%V\"", name);
        return NGX_CONF_ERROR;
    }

    *keys = ngx_array_create(cf->pool, 2, sizeof(ngx_http_tucai_key_t));
    if (*keys == NULL) {
        return NGX_CONF_ERROR;
    }

    p = buf;
    end = buf + n;

    for (line = 1; p < end; line++, p = eol + 1) {
        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        while (p < eol && (*p == ' ' || *p == '\t')) {
            p++;
        }
        if (p == eol || *p == '#' || *p == '\r') {
            continue;
        }

        k = p;
        while (p < eol && ngx_http_tucai_kid_char(*p)) {
            p++;
        }
        klen = p - k;

        while (p < eol && (*p == ' ' || *p == '\t')) {
            p++;
        }
        h = p;
        while (p < eol && ngx_http_tucai_hex(*p) >= 0) {
            p++;
        }
        hlen = p - h;
        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r')) {
            p++;
        }

        if (klen == 0 || klen > NGX_HTTP_TUCAI_KID_MAX || p != eol
            || hlen % 2 || hlen < 2 * NGX_HTTP_TUCAI_SECRET_MIN
            || hlen > 2 * NGX_HTTP_TUCAI_SECRET_MAX)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "tucai_token_keys: \"%V\" line %ui: expected "
                               "\"KID HEXSECRET\" (kid [A-Za-z0-9_-]{1,16}, "
                               "secret 32..256 bytes as hex)", name, line);
            return NGX_CONF_ERROR;
        }

        if ((*keys)->nelts == NGX_HTTP_TUCAI_KEYS_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "tucai_token_keys: \"%V\" has more than %d keys",
                               name, NGX_HTTP_TUCAI_KEYS_MAX);
            return NGX_CONF_ERROR;
        }

        key = ngx_array_push(*keys);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        key->kid.len = klen;
        key->kid.data = ngx_pstrdup(cf->pool, &(ngx_str_t) { klen, k });
        key->len = hlen / 2;
        key->secret = ngx_pnalloc(cf->pool, key->len);
        if (key->kid.data == NULL || key->secret == NULL) {
            return NGX_CONF_ERROR;
        }
        for (i = 0; i < key->len; i++) {
            key->secret[i] = (u_char) (ngx_http_tucai_hex(h[2 * i]) << 4
                                       | ngx_http_tucai_hex(h[2 * i + 1]));
        }
    }

    /* the secret text is in temp_pool: wipe it before it is reused */
    ngx_explicit_memzero(buf, n);

    if ((*keys)->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tucai_token_keys: \"%V\" holds no key", name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_http_tucai_ctx_t *
ngx_http_tucai_get_ctx(ngx_http_request_t *r)
{
    ngx_http_tucai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tucai_module);
    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tucai_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }
        ctx->request = r;
        ngx_http_set_ctx(r, ctx, ngx_http_tucai_module);
    }
    return ctx;
}


/* decimal without leading zeros, fitting in 64 bits */
static u_char *
ngx_http_tucai_decimal(u_char *p, u_char *end, uint64_t *v)
{
    u_char  *s = p;

    *v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (*v > (UINT64_MAX - 9) / 10) {
            return NULL;
        }
        *v = *v * 10 + (*p - '0');
        p++;
    }
    if (p == s || (*s == '0' && p - s > 1)) {
        return NULL;
    }
    return p;
}


static ngx_uint_t
ngx_http_tucai_verify(ngx_http_request_t *r, ngx_str_t *tok,
    ngx_http_tucai_token_t *t)
{
    u_char                      *p, *end, *signed_end, *kid;
    u_char                       mac[EVP_MAX_MD_SIZE], sig[64];
    size_t                       kidlen;
    uint64_t                     subject, school, exp;
    ngx_str_t                    enc, dec;
    ngx_uint_t                   i, role;
    unsigned int                 maclen;
    ngx_http_tucai_key_t        *key;
    ngx_http_tucai_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tucai_module);

    if (tmcf->keys == NULL || tok->len > NGX_HTTP_TUCAI_TOKEN_MAX
        || tok->len < 3 || ngx_strncmp(tok->data, "t1.", 3) != 0)
    {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }

    p = tok->data + 3;
    end = tok->data + tok->len;

    kid = p;
    while (p < end && ngx_http_tucai_kid_char(*p)) {
        p++;
    }
    kidlen = p - kid;
    if (kidlen == 0 || kidlen > NGX_HTTP_TUCAI_KID_MAX || p == end || *p++ != '.')
    {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }

    if (p + 2 > end || (*p != 's' && *p != 't') || p[1] != '.') {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }
    role = (*p == 's') ? TUCAI_ROLE_STUDENT : TUCAI_ROLE_TEACHER;
    p += 2;

    p = ngx_http_tucai_decimal(p, end, &subject);
    if (p == NULL || p == end || *p++ != '.') {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }
    p = ngx_http_tucai_decimal(p, end, &school);
    if (p == NULL || p == end || *p++ != '.' || school > UINT32_MAX) {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }
    p = ngx_http_tucai_decimal(p, end, &exp);
    if (p == NULL || p == end || *p != '.' || exp > (uint64_t) NGX_MAX_TIME_T_VALUE)
    {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }
    signed_end = p++;

    /* HMAC-SHA256 is 32 bytes: 43 base64url characters, no padding */
    enc.data = p;
    enc.len = end - p;
    if (enc.len != 43) {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }
    dec.data = sig;
    if (ngx_decode_base64url(&dec, &enc) != NGX_OK || dec.len != 32) {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }

    key = NULL;
    for (i = 0; i < tmcf->keys->nelts; i++) {
        key = &((ngx_http_tucai_key_t *) tmcf->keys->elts)[i];
        if (key->kid.len == kidlen
            && ngx_memcmp(key->kid.data, kid, kidlen) == 0)
        {
            break;
        }
        key = NULL;
    }
    if (key == NULL) {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }

    if (HMAC(EVP_sha256(), key->secret, (int) key->len, tok->data,
             signed_end - tok->data, mac, &maclen) == NULL
        || maclen != 32)
    {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }

    if (CRYPTO_memcmp(mac, sig, 32) != 0) {
        return NGX_HTTP_TUCAI_TOK_INVALID;
    }

    t->role = role;
    t->subject = subject;
    t->school = (uint32_t) school;
    t->exp = (time_t) exp;
    t->kid.data = kid;
    t->kid.len = kidlen;

    if (t->exp <= ngx_time()) {
        return NGX_HTTP_TUCAI_TOK_EXPIRED;
    }

    return NGX_HTTP_TUCAI_TOK_OK;
}


/*
 * Verifies a token string (any source: Authorization, or a variable given
 * to the set_tucai_token_* directives), through the cache.
 */
ngx_uint_t
ngx_http_tucai_check_token(ngx_http_request_t *r, ngx_str_t *tok,
    ngx_http_tucai_token_t *t)
{
    ngx_str_t                 v;
    ngx_http_tucai_cached_t  *c;

    v = *tok;
    ngx_memzero(t, sizeof(ngx_http_tucai_token_t));

    if (v.len == 0 || v.len > NGX_HTTP_TUCAI_TOKEN_MAX) {
        t->status = NGX_HTTP_TUCAI_TOK_INVALID;
        return t->status;
    }

    c = &ngx_http_tucai_cache[ngx_crc32_short(v.data, v.len)
                              % NGX_HTTP_TUCAI_CACHE_SLOTS];

    if (c->len == v.len && CRYPTO_memcmp(c->token, v.data, v.len) == 0) {
        *t = c->claims;
        /* kid points into the cache slot, which a later token may reuse */
        t->kid.data = v.data + (c->claims.kid.data - c->token);
        t->status = (t->exp <= ngx_time()) ? NGX_HTTP_TUCAI_TOK_EXPIRED
                                           : NGX_HTTP_TUCAI_TOK_OK;
        if (t->status == NGX_HTTP_TUCAI_TOK_OK) {
            return t->status;
        }
        c->len = 0;

    } else {
        t->status = ngx_http_tucai_verify(r, &v, t);
        if (t->status == NGX_HTTP_TUCAI_TOK_OK) {
            ngx_memcpy(c->token, v.data, v.len);
            c->len = v.len;
            c->claims = *t;
            c->claims.kid.data = c->token + (t->kid.data - v.data);
        }
    }

    if (t->status != NGX_HTTP_TUCAI_TOK_OK) {
        t->role = TUCAI_ROLE_NONE;
        t->subject = 0;
        t->school = 0;
    }
    return t->status;
}


/* Parses and verifies the Bearer token once per request (cached in ctx). */
ngx_http_tucai_token_t *
ngx_http_tucai_token(ngx_http_request_t *r)
{
    ngx_str_t                 v;
    ngx_http_tucai_ctx_t     *ctx;
    ngx_http_tucai_token_t   *t;

    ctx = ngx_http_tucai_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }
    t = &ctx->token;
    if (ctx->token_done) {
        return t;
    }
    ctx->token_done = 1;
    t->status = NGX_HTTP_TUCAI_TOK_NONE;

    if (r->headers_in.authorization == NULL) {
        return t;
    }

    v = r->headers_in.authorization->value;
    if (v.len < 7 || ngx_strncasecmp(v.data, (u_char *) "Bearer ", 7) != 0) {
        t->status = NGX_HTTP_TUCAI_TOK_INVALID;
        return t;
    }
    v.data += 7;
    v.len -= 7;
    while (v.len && v.data[0] == ' ') {
        v.data++;
        v.len--;
    }
    while (v.len && v.data[v.len - 1] == ' ') {
        v.len--;
    }

    ngx_http_tucai_check_token(r, &v, t);

    if (t->status != NGX_HTTP_TUCAI_TOK_OK) {
        /* never expose claims of a token that did not verify */
        t->role = TUCAI_ROLE_NONE;
        t->subject = 0;
        t->school = 0;
    }
    return t;
}
