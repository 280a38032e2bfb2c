/*
 * wechat.c -- the mini-program API client (wechat.h): code2session, phone
 * number, subscribe/send and the access token they need.
 *
 * The access token lives in table wx_tokens so all children share one (a
 * new token invalidates the old one at WeChat: children fetching their own
 * would keep killing each other's).  It is refreshed by one child at a time
 * under GET_LOCK, ahead of expiry, and once more when WeChat says it is
 * invalid (40001/42001/41001).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "wechat.h"
#include "db.h"
#include "lease.h"
#include "log.h"
#include "wxhttp.h"

#define TOKEN_NAME     "stable"
#define TOKEN_MARGIN_S 300  /* refresh this long before expiry */
#define TOKEN_MAX      1024 /* WeChat: store at least 512 characters */

/* Last token this process saw: used when the database is briefly away. */
static char    proc_token[TOKEN_MAX];
static int64_t proc_token_exp;

/*
 * Calls WeChat and parses a JSON answer, retrying (bounded, with backoff)
 * on network errors, 5xx and errcode -1 only.  *errcode gets WeChat's
 * errcode (0 when absent).  Returns the JSON object or NULL (unavailable).
 */
static json_t *
wx_call(tucai_ctx_t *ctx, const char *what, const char *url,
    const char *post_body, long *errcode)
{
    static const char *const json_hdr[] = { "Content-Type: application/json",
        NULL };
    const tucai_config_t    *cfg = ctx->cfg;
    int attempt, tries = 1 + (cfg->wx_retries > 0 ? cfg->wx_retries : 0);
    wxhttp_resp_t r;
    json_t       *j;
    json_error_t  je;

    for (attempt = 1; attempt <= tries; attempt++) {
        if (attempt > 1) {
            wxhttp_backoff(attempt - 1);
        }
        if (wxhttp_call(cfg, post_body ? "POST" : "GET", url,
                post_body ? json_hdr : NULL, post_body,
                post_body ? strlen(post_body) : 0, &r)
            != 0)
        {
            tlog_warn("wechat %s: attempt %d: %s", what, attempt, r.error);
            continue;
        }
        if (r.status >= 500 || r.status != 200) {
            tlog_warn(
                "wechat %s: attempt %d: HTTP %ld", what, attempt, r.status);
            wxhttp_resp_free(&r);
            if (r.status >= 500) {
                continue;
            }
            return NULL;
        }
        j = json_loadb((const char *) r.body.p, r.body.len, 0, &je);
        wxhttp_resp_free(&r);
        if (!json_is_object(j)) {
            tlog_warn("wechat %s: answer is not a JSON object", what);
            json_decref(j);
            continue;
        }
        *errcode = json_integer_value(json_object_get(j, "errcode"));
        if (*errcode == -1) {
            tlog_warn("wechat %s: attempt %d: system busy (-1)", what, attempt);
            json_decref(j);
            continue;
        }
        return j;
    }
    return NULL;
}

static int
token_invalid(long errcode)
{
    return errcode == 40001 || errcode == 42001 || errcode == 41001;
}

/* Reads the cached token; 1 when fresh (not within margin of expiry). */
static int
token_read(tucai_ctx_t *ctx, char *token, size_t len)
{
    MYSQL_RES *res;
    MYSQL_ROW  row;
    int        fresh = 0;

    if (ctx->db == NULL) {
        return 0;
    }
    res = db_query(ctx,
        "SELECT token, expires_at FROM wx_tokens WHERE name = %s", TOKEN_NAME);
    if (res == NULL) {
        return 0;
    }
    row = mysql_fetch_row(res);
    if (row != NULL && row[0] != NULL && row[1] != NULL
        && strtoll(row[1], NULL, 10) > (int64_t) time(NULL) + TOKEN_MARGIN_S
        && strlen(row[0]) < len)
    {
        snprintf(token, len, "%s", row[0]);
        fresh = 1;
    }
    mysql_free_result(res);
    return fresh;
}

/* Fetches a new token from WeChat (stable_token; force when ours was
 * refused).  Returns 0 with token filled, -1 on failure. */
static int
token_fetch(tucai_ctx_t *ctx, int force, char *token, size_t len, int64_t *exp)
{
    const tucai_config_t *cfg = ctx->cfg;
    char                  url[512];
    char                 *body;
    json_t               *req, *j;
    long                  errcode = 0;
    const char           *t;
    json_int_t            ttl;

    snprintf(url, sizeof(url), "%s/cgi-bin/stable_token", cfg->wx_api_base);
    req = json_pack("{s:s,s:s,s:s,s:b}", "grant_type", "client_credential",
        "appid", cfg->wx_appid, "secret", cfg->wx_secret, "force_refresh",
        force);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL) {
        return -1;
    }
    j = wx_call(ctx, "stable_token", url, body, &errcode);
    free(body);
    if (j == NULL) {
        return -1;
    }
    t = json_string_value(json_object_get(j, "access_token"));
    ttl = json_integer_value(json_object_get(j, "expires_in"));
    if (errcode != 0 || t == NULL || t[0] == '\0' || strlen(t) >= len
        || ttl <= 0) {
        tlog_error("wechat stable_token: refused, errcode %ld (%s)", errcode,
            json_string_value(json_object_get(j, "errmsg")) ?: "");
        json_decref(j);
        return -1;
    }
    snprintf(token, len, "%s", t);
    *exp = (int64_t) time(NULL) + ttl;
    json_decref(j);
    return 0;
}

/*
 * Refreshes the shared token.  bad (may be NULL) is a token WeChat just
 * refused: another child may already have replaced it, then that one is
 * used.  Returns 0 with token filled, or -1.
 */
static int
token_refresh(tucai_ctx_t *ctx, const char *bad, char *token, size_t len)
{
    int64_t exp = 0;
    int     locked = 0, rc;
    char    cur[TOKEN_MAX];

    /* a lease (a row) so one refresh runs in the whole cluster */
    if (ctx->db != NULL && db_lease_wait(ctx, "tucai_wx_token", 15, 5000) == 1)
    {
        locked = 1;
    }
    /* Someone refreshed while we waited for the lock? */
    if (locked && token_read(ctx, cur, sizeof(cur))
        && (bad == NULL || strcmp(cur, bad) != 0))
    {
        snprintf(token, len, "%s", cur);
        (void) db_lease_release(ctx, "tucai_wx_token");
        return 0;
    }
    rc = token_fetch(ctx, bad != NULL, cur, sizeof(cur), &exp);
    if (rc == 0) {
        snprintf(token, len, "%s", cur);
        snprintf(proc_token, sizeof(proc_token), "%s", cur);
        proc_token_exp = exp;
        if (ctx->db != NULL
            && db_exec(ctx,
                   "INSERT INTO wx_tokens (name, token, expires_at) "
                   "VALUES (%s, %s, %ld) ON DUPLICATE KEY UPDATE "
                   "token = VALUES(token), expires_at = VALUES(expires_at)",
                   TOKEN_NAME, cur, exp)
                < 0)
        {
            tlog_warn(
                "wechat token: not cached in the database: %s", db_error(ctx));
        }
    }
    if (locked) {
        (void) db_lease_release(ctx, "tucai_wx_token");
    }
    return rc;
}

wx_status_t
wx_access_token(tucai_ctx_t *ctx, char *token, size_t len)
{
    if (token_read(ctx, token, len)) {
        return WX_OK;
    }
    if (ctx->db == NULL && proc_token[0] != '\0'
        && proc_token_exp > (int64_t) time(NULL) + TOKEN_MARGIN_S
        && strlen(proc_token) < len)
    {
        snprintf(token, len, "%s", proc_token);
        return WX_OK;
    }
    return token_refresh(ctx, NULL, token, len) == 0 ? WX_OK : WX_UNAVAILABLE;
}

/* POSTs body to path?access_token=..., refreshing the token once when
 * WeChat refuses it.  Returns the answer or NULL (unavailable). */
static json_t *
wx_call_token(tucai_ctx_t *ctx, const char *what, const char *path,
    const char *body, long *errcode)
{
    char    token[TOKEN_MAX], url[TOKEN_MAX + 512];
    json_t *j;
    int     round;

    if (wx_access_token(ctx, token, sizeof(token)) != WX_OK) {
        return NULL;
    }
    for (round = 0; round < 2; round++) {
        snprintf(url, sizeof(url), "%s%s?access_token=%s",
            ctx->cfg->wx_api_base, path, token);
        j = wx_call(ctx, what, url, body, errcode);
        if (j == NULL || !token_invalid(*errcode) || round == 1) {
            return j;
        }
        json_decref(j);
        tlog_info(
            "wechat %s: token refused (%ld), refreshing once", what, *errcode);
        if (token_refresh(ctx, token, token, sizeof(token)) != 0) {
            return NULL;
        }
    }
    return NULL;
}

wx_status_t
wx_code2session(
    tucai_ctx_t *ctx, const char *js_code, char *openid, size_t openid_len)
{
    const tucai_config_t *cfg = ctx->cfg;
    char                 *code, *appid, *secret;
    char                  url[1024];
    json_t               *j;
    long                  errcode = 0;
    const char           *oid;
    wx_status_t           st;

    if (js_code == NULL || js_code[0] == '\0' || strlen(js_code) > 256) {
        return WX_INVALID_CODE;
    }
    code = wxhttp_escape(js_code);
    appid = wxhttp_escape(cfg->wx_appid);
    secret = wxhttp_escape(cfg->wx_secret);
    if (code == NULL || appid == NULL || secret == NULL) {
        free(code);
        free(appid);
        free(secret);
        return WX_UNAVAILABLE;
    }
    snprintf(url, sizeof(url),
        "%s/sns/jscode2session?appid=%s&secret=%s"
        "&js_code=%s&grant_type=authorization_code",
        cfg->wx_api_base, appid, secret, code);
    free(code);
    free(appid);
    free(secret);

    j = wx_call(ctx, "jscode2session", url, NULL, &errcode);
    if (j == NULL) {
        return WX_UNAVAILABLE;
    }
    oid = json_string_value(json_object_get(j, "openid"));
    if (errcode == 0 && oid != NULL && oid[0] != '\0'
        && strlen(oid) < openid_len && strlen(oid) <= 64)
    {
        snprintf(openid, openid_len, "%s", oid);
        st = WX_OK;
    } else if (errcode == 40029 || errcode == 40163) {
        st = WX_INVALID_CODE;
    } else if (errcode == 40226) {
        st = WX_REFUSED;
    } else {
        tlog_warn("wechat jscode2session: errcode %ld (%s)", errcode,
            json_string_value(json_object_get(j, "errmsg")) ?: "");
        st = WX_UNAVAILABLE;
    }
    json_decref(j);
    return st;
}

wx_status_t
wx_phone_number(
    tucai_ctx_t *ctx, const char *phone_code, char *phone, size_t phone_len)
{
    json_t     *req, *j;
    char       *body;
    long        errcode = 0;
    const char *num;
    wx_status_t st;

    if (phone_code == NULL || phone_code[0] == '\0' || strlen(phone_code) > 256)
    {
        return WX_INVALID_CODE;
    }
    req = json_pack("{s:s}", "code", phone_code);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL) {
        return WX_UNAVAILABLE;
    }
    j = wx_call_token(ctx, "getuserphonenumber",
        "/wxa/business/getuserphonenumber", body, &errcode);
    free(body);
    if (j == NULL) {
        return WX_UNAVAILABLE;
    }
    num = json_string_value(
        json_object_get(json_object_get(j, "phone_info"), "purePhoneNumber"));
    if (errcode == 0 && num != NULL && num[0] != '\0'
        && strlen(num) < phone_len) {
        snprintf(phone, phone_len, "%s", num);
        st = WX_OK;
    } else if (errcode == 40029 || errcode == 40163) {
        st = WX_INVALID_CODE;
    } else {
        tlog_warn("wechat getuserphonenumber: errcode %ld", errcode);
        st = errcode == 47001 ? WX_BAD_REQUEST : WX_UNAVAILABLE;
    }
    json_decref(j);
    return st;
}

wx_status_t
wx_subscribe_send(
    tucai_ctx_t *ctx, const char *body_json, char *errmsg, size_t errmsg_len)
{
    json_t     *j;
    long        errcode = 0;
    const char *m;
    wx_status_t st;

    if (errmsg != NULL && errmsg_len > 0) {
        errmsg[0] = '\0';
    }
    j = wx_call_token(ctx, "subscribe/send", "/cgi-bin/message/subscribe/send",
        body_json, &errcode);
    if (j == NULL) {
        if (errmsg != NULL && errmsg_len > 0) {
            snprintf(errmsg, errmsg_len, "wechat unavailable");
        }
        return WX_UNAVAILABLE;
    }
    m = json_string_value(json_object_get(j, "errmsg"));
    if (errmsg != NULL && errmsg_len > 0) {
        snprintf(errmsg, errmsg_len, "%ld %s", errcode, m ? m : "");
    }
    switch (errcode) {
    case 0: st = WX_OK; break;
    case 43101: st = WX_REFUSED; break;
    case 40003:
    case 40037:
    case 47003:
    case 41030:
    case 47001: st = WX_BAD_REQUEST; break;
    default: st = WX_UNAVAILABLE; break;
    }
    json_decref(j);
    return st;
}
