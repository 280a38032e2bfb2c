/*
 * pay_notify.c -- POST /api/v1/pay/notify: WeChat Pay's payment
 * notification.  Checked in this order: signature by a known platform key
 * over the exact body (401 on failure: forged, or replayed with a changed
 * body), timestamp window (stale replays), JSON shape, AES-256-GCM
 * decryption with the APIv3 key, then appid/mchid/amount against our
 * order.  A refusal of a notification WeChat signed is recorded in
 * pay_events; one that fails the signature or the time window is anyone's
 * (the endpoint is anonymous), so it writes no row, only a log line at most
 * once a second per child.  Either way the order is untouched; acceptance
 * marks it PAID exactly once (pay_mark_paid), so duplicates and late or
 * concurrent copies all answer 204.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay.h"
#include "pay_int.h"
#include "pay_client.h"
#include "handlers.h"
#include "db.h"
#include "log.h"

#define NOTIFY_MAX_BODY (64 * 1024)

/* WeChat reads {"code":"FAIL","message"}; our API's form needs "error". */
static int
refuse(tucai_ctx_t *ctx, tucai_resp_t *resp, int status, const char *error,
    const char *message, const char *no, const char *detail)
{
    pay_event(ctx, no, "notify", 0, detail ? detail : message);
    return resp_json(resp, status,
        json_pack("{s:s,s:s,s:s}", "code", "FAIL", "error", error, "message",
            message));
}

/* Unverified: costs the sender a log line a second at most, never a row. */
static int
refuse_unverified(tucai_resp_t *resp, int status, const char *error,
    const char *message, const char *detail)
{
    static time_t   last;
    static unsigned dropped;
    time_t          now = time(NULL);

    if (now != last) {
        tlog_warn("pay notify refused: %s (%u more refused unlogged)", detail,
            dropped);
        last = now;
        dropped = 0;
    } else {
        dropped++;
    }
    return resp_json(resp, status,
        json_pack("{s:s,s:s,s:s}", "code", "FAIL", "error", error, "message",
            message));
}

int
pay_handle_notify(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    json_t     *n, *tx;
    const char *event, *state, *no;
    char        why[256];
    int         v;

    if (req->body_len == 0 || req->body_len > NOTIFY_MAX_BODY) {
        return refuse_unverified(resp, 400, "BAD_REQUEST",
            "empty or oversized body", "empty or oversized body");
    }
    v = payc_verify(ctx->cfg, req->wxpay_timestamp.p, req->wxpay_timestamp.len,
        req->wxpay_nonce.p, req->wxpay_nonce.len, req->wxpay_signature.p,
        req->wxpay_signature.len, req->wxpay_serial.p, req->wxpay_serial.len,
        req->body, req->body_len);
    if (v == PAYC_BAD_SIGNATURE) {
        return refuse_unverified(resp, 401, "BAD_SIGNATURE",
            "签名验证失败 / bad signature", "bad or missing signature");
    }
    if (v == PAYC_STALE) {
        return refuse_unverified(resp, 400, "STALE_NOTIFICATION",
            "通知时间超出允许范围 / timestamp outside the window",
            "stale timestamp");
    }
    n = json_loadb((const char *) req->body, req->body_len, 0, NULL);
    if (!json_is_object(n)) {
        json_decref(n);
        return refuse(ctx, resp, 400, "BAD_JSON",
            "通知格式错误 / malformed notification", NULL, NULL);
    }
    event = json_string_value(json_object_get(n, "event_type"));
    tx = payc_decrypt_resource(ctx->cfg, json_object_get(n, "resource"));
    if (tx == NULL) {
        json_decref(n);
        return refuse(ctx, resp, 400, "UNDECRYPTABLE",
            "通知无法解密 / cannot decrypt", NULL, NULL);
    }
    no = json_string_value(json_object_get(tx, "out_trade_no"));
    state = json_string_value(json_object_get(tx, "trade_state"));
    if (event == NULL || strcmp(event, "TRANSACTION.SUCCESS") != 0
        || state == NULL || strcmp(state, "SUCCESS") != 0)
    {
        /* Genuine but not a payment success (e.g. refunds): noted only. */
        snprintf(why, sizeof(why), "ignored event %s state %s",
            event ? event : "-", state ? state : "-");
        pay_event(ctx, no, "notify", 1, why);
        json_decref(tx);
        json_decref(n);
        return resp_empty(resp, 204);
    }
    v = pay_mark_paid(ctx, tx, "notify", why, sizeof(why));
    if (v == 0) {
        pay_event(ctx, no, "notify", 1, why);
        v = resp_empty(resp, 204);
    } else if (v > 0) {
        v = refuse(ctx, resp,
            strcmp(why, "unknown out_trade_no") == 0 ? 404 : 400,
            "ORDER_MISMATCH", "与订单不符 / does not match the order", no, why);
    } else {
        /* WeChat retries on 5xx: the payment is not lost. */
        v = refuse(ctx, resp, 500, "DB_UNAVAILABLE",
            "暂时无法处理 / retry later", no, why);
    }
    json_decref(tx);
    json_decref(n);
    return v;
}
