/*
 * wechat.h -- outbound calls to WeChat's mini-program APIs (libcurl), with
 * timeouts and retries, base URL from [wechat] api_base.  Pure client: it
 * knows the wire contract (../shared/WECHAT.md), not the journey.  Always
 * linked into tucai-worker: plain declarations.
 */
#ifndef TUCAI_WECHAT_H
#define TUCAI_WECHAT_H

#include "buf.h"
#include "ctx.h"

typedef enum {
    WX_OK = 0,
    WX_INVALID_CODE, /* 40029, 40163: the client's code is bad/used */
    WX_REFUSED,      /* 43101: user refused / no quota: final, no retry */
    WX_BAD_REQUEST,  /* 40003, 40037, 47003, 41030: our data is wrong */
    WX_UNAVAILABLE   /* network, timeout, 5xx, -1 after retries */
} wx_status_t;

/* jscode2session: js_code -> openid (session_key is never kept). */
wx_status_t wx_code2session(
    tucai_ctx_t *ctx, const char *js_code, char *openid, size_t openid_len);

/* getuserphonenumber: phone code -> purePhoneNumber. */
wx_status_t wx_phone_number(
    tucai_ctx_t *ctx, const char *phone_code, char *phone, size_t phone_len);

/* subscribe/send; body is the complete JSON request (touser, template_id,
 * page, data, miniprogram_state).  errmsg (may be NULL) gets WeChat's text. */
wx_status_t wx_subscribe_send(
    tucai_ctx_t *ctx, const char *body_json, char *errmsg, size_t errmsg_len);

/* Access token from the shared cache table, refreshed when near expiry. */
wx_status_t wx_access_token(tucai_ctx_t *ctx, char *token, size_t len);

#endif
