/*
 * journey_login.c -- POST /api/v1/login (step 1): a wx.login code becomes
 * an openid at WeChat (jscode2session), the account row is created or
 * touched, and we answer our own signed session token.
 */
#include <string.h>

#include "handlers.h"
#include "journey.h"
#include "wechat.h"

#define CODE_MAX 128 /* WeChat codes are ~32 chars */

int
journey_login(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    json_t     *body;
    const char *code;
    char        openid[128], token[320];
    wx_status_t ws;
    uint64_t    account_id;
    int         expires_in;
    int64_t     now = (int64_t) time(NULL);
    jst_t       st;

    body = journey_json_body(req, resp);
    if (body == NULL) {
        return 0;
    }
    code = json_string_value(json_object_get(body, "code"));
    if (code == NULL || code[0] == '\0' || strlen(code) > CODE_MAX) {
        json_decref(body);
        return resp_error(resp, 400, "WECHAT_CODE_INVALID",
            "登录凭证无效，请重新进入小程序", "invalid wx.login code",
            json_pack("{s:s}", "field", "code"));
    }
    ws = wx_code2session(ctx, code, openid, sizeof(openid));
    json_decref(body);
    switch (ws) {
    case WX_OK: break;
    case WX_INVALID_CODE:
    case WX_BAD_REQUEST:
        return resp_error(resp, 400, "WECHAT_CODE_INVALID",
            "登录凭证无效或已使用，请重新进入小程序",
            "the wx.login code is invalid or already used",
            json_pack("{s:s}", "field", "code"));
    case WX_REFUSED:
        return resp_error(resp, 403, "WECHAT_REFUSED",
            "微信拒绝了本次登录，请稍后再试", "WeChat refused this login",
            NULL);
    default:
        return resp_error(resp, 502, "WECHAT_UNAVAILABLE",
            "微信服务暂不可用，请稍后重试",
            "WeChat is unavailable, retry shortly",
            json_pack("{s:i}", "retry_after", 5));
    }
    if (openid[0] == '\0' || strlen(openid) > 64) {
        return resp_error(resp, 502, "WECHAT_UNAVAILABLE",
            "微信返回了无效的数据", "WeChat answered no openid",
            json_pack("{s:i}", "retry_after", 5));
    }

    /* LAST_INSERT_ID(id) makes the existing row's id readable as well. */
    if (db_exec(ctx,
            "INSERT INTO accounts (openid, created_at, last_login_at)"
            " VALUES (%s, %ld, %ld) ON DUPLICATE KEY UPDATE"
            " last_login_at = VALUES(last_login_at), id = LAST_INSERT_ID(id)",
            openid, now, now)
        < 0)
    {
        return resp_db_unavailable(resp);
    }
    account_id = db_insert_id(ctx);
    if (account_id == 0 || journey_load(ctx, account_id, &st) != 0) {
        return resp_db_unavailable(resp);
    }
    /* A returning, already bound student gets the school in the token. */
    if (journey_token(ctx, account_id, st.bound ? st.school_id : 0, token,
            sizeof(token), &expires_in)
        != 0)
    {
        return resp_error(resp, 503, "TOKEN_UNAVAILABLE", "无法签发登录凭证",
            "cannot issue a token", NULL);
    }
    journey_step_sync(ctx, &st);
    return resp_json(resp, 200,
        json_pack("{s:s,s:i,s:s}", "token", token, "expires_in", expires_in,
            "step", journey_step_name(st.step)));
}
