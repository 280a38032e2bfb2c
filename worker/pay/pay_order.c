/*
 * pay_order.c -- an order's life after creation: marked PAID exactly once
 * (from a notification or a query, whichever comes first), refreshed from
 * WeChat, closed when expired.  Shared by pay.c, pay_notify.c and
 * pay_reconcile.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay.h"
#include "pay_int.h"
#include "outbox.h"
#include "pay_client.h"
#include "db.h"
#include "log.h"

#define ER_LOCK_DEADLOCK     1213
#define ER_LOCK_WAIT_TIMEOUT 1205

static int64_t
col_i64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

void
pay_order_row(MYSQL_ROW r, pay_order_t *o)
{
    memset(o, 0, sizeof(*o));
    o->id = (uint64_t) col_i64(r[0]);
    o->student_id = (uint64_t) col_i64(r[1]);
    o->draft_id = (uint64_t) col_i64(r[2]);
    o->school_id = (uint32_t) col_i64(r[3]);
    o->amount_fen = (uint32_t) col_i64(r[4]);
    snprintf(o->out_trade_no, sizeof(o->out_trade_no), "%s", r[5] ? r[5] : "");
    snprintf(o->status, sizeof(o->status), "%s", r[6] ? r[6] : "");
    snprintf(o->prepay_id, sizeof(o->prepay_id), "%s", r[7] ? r[7] : "");
    o->prepay_at = col_i64(r[8]);
    o->expires_at = col_i64(r[9]);
    o->created_at = col_i64(r[10]);
    o->paid_at = col_i64(r[11]);
    o->live = (int) col_i64(r[12]);
}

int
pay_order_find(tucai_ctx_t *ctx, pay_order_t *o, const char *where)
{
    MYSQL_RES *res;
    MYSQL_ROW  r;
    int        found = 0;

    if (where == NULL) {
        return -1;
    }
    res =
        db_query(ctx, "SELECT " PAY_ORDER_COLS " FROM orders WHERE %-s", where);
    if (res == NULL) {
        return -1;
    }
    r = mysql_fetch_row(res);
    if (r != NULL) {
        pay_order_row(r, o);
        found = 1;
    }
    mysql_free_result(res);
    return found;
}

json_t *
pay_order_obj(const pay_order_t *o)
{
    char t[32];

    /* draft_id: the H5 payment page shows the chosen photo */
    return json_pack("{s:I,s:s,s:s,s:i,s:s,s:I}", "id", (json_int_t) o->id,
        "out_trade_no", o->out_trade_no, "status", o->status, "amount_fen",
        (int) o->amount_fen, "expires_at",
        tucai_rfc3339(t, sizeof(t), o->expires_at), "draft_id",
        (json_int_t) o->draft_id);
}

void
pay_event(tucai_ctx_t *ctx, const char *out_trade_no, const char *source,
    int accepted, const char *detail)
{
    char d[512];

    snprintf(d, sizeof(d), "%s", detail ? detail : "");
    if (db_exec(ctx,
            "INSERT INTO pay_events (out_trade_no, source, accepted, detail,"
            " created_at) VALUES (%s, %s, %d, %s, %ld)",
            out_trade_no && out_trade_no[0] ? out_trade_no : NULL, source,
            accepted, d, (int64_t) time(NULL))
        < 0)
    {
        tlog_warn("pay: event not recorded: %s", db_error(ctx));
    }
    if (!accepted) {
        tlog_warn("pay: %s refused for %s: %s", source,
            out_trade_no && out_trade_no[0] ? out_trade_no : "-", d);
    }
}

/* Checks tx against our configuration and the order; NULL when it matches. */
static const char *
tx_mismatch(const tucai_config_t *cfg, json_t *tx, const pay_order_t *o)
{
    const char *appid = json_string_value(json_object_get(tx, "appid"));
    const char *mchid = json_string_value(json_object_get(tx, "mchid"));
    json_t     *total = json_object_get(json_object_get(tx, "amount"), "total");

    if (mchid == NULL || strcmp(mchid, cfg->pay_mchid) != 0) {
        return "mchid does not match";
    }
    if (appid == NULL || strcmp(appid, cfg->wx_appid) != 0) {
        return "appid does not match";
    }
    if (!json_is_integer(total)
        || json_integer_value(total) != (json_int_t) o->amount_fen)
    {
        return "amount does not match the order";
    }
    return NULL;
}

static int
mark_paid_once(
    tucai_ctx_t *ctx, json_t *tx, const char *source, char *why, size_t why_len)
{
    const char *no = json_string_value(json_object_get(tx, "out_trade_no"));
    const char *txid = json_string_value(json_object_get(tx, "transaction_id"));
    const char *bad;
    char       *w;
    pay_order_t o;
    int         found;
    int64_t     n, now = (int64_t) time(NULL);
    char        msgkey[64];

    if (db_begin(ctx) != 0) {
        return -1;
    }
    w = db_fmt(ctx, "out_trade_no = %s FOR UPDATE", no);
    found = pay_order_find(ctx, &o, w);
    free(w);
    if (found < 0) {
        goto fail;
    }
    if (found == 0) {
        db_rollback(ctx);
        snprintf(why, why_len, "unknown out_trade_no");
        return 1;
    }
    bad = tx_mismatch(ctx->cfg, tx, &o);
    if (bad != NULL) {
        db_rollback(ctx);
        snprintf(why, why_len, "%s", bad);
        return 1;
    }
    if (strcmp(o.status, "PAID") == 0) {
        db_rollback(ctx);
        snprintf(why, why_len, "already paid");
        return 0;
    }
    if (strcmp(o.status, "UNPAID") != 0) {
        /* Paid at WeChat after we closed it: money taken for a closed
         * order.  Recorded for the office to refund; never re-opened, as
         * the student may have a newer live order. */
        db_rollback(ctx);
        snprintf(why, why_len, "paid but order is %s: refund needed", o.status);
        tlog_error(
            "pay: %s paid while %s: needs a refund", o.out_trade_no, o.status);
        return 0;
    }
    n = db_exec(ctx,
        "UPDATE orders SET status = 'PAID', transaction_id = %s,"
        " paid_at = %ld, updated_at = %ld WHERE id = %lu AND status = 'UNPAID'",
        txid, now, now, o.id);
    if (n < 0) {
        goto fail;
    }
    if (n == 1) {
        snprintf(o.status, sizeof(o.status), "PAID");
        /* The payment message first, so it is sent before "photo ready". */
        snprintf(msgkey, sizeof(msgkey), "payment_result:%s", o.out_trade_no);
        if (outbox_payment_result(ctx, o.student_id, msgkey, o.out_trade_no,
                o.amount_fen, "支付成功")
            != 0)
        {
            goto fail;
        }
        if (deliver_order(ctx, &o) == -1) {
            goto fail; /* -2: paid stands, delivery retried by deliver_pending */
        }
    }
    if (db_commit(ctx) != 0) {
        goto fail;
    }
    snprintf(why, why_len, "%s", n == 1 ? "paid" : "already paid");
    (void) source;
    return 0;

fail:
    snprintf(why, why_len, "database: %s", db_error(ctx));
    db_rollback(ctx);
    return -1;
}

int
pay_mark_paid(
    tucai_ctx_t *ctx, json_t *tx, const char *source, char *why, size_t why_len)
{
    const char *no = json_string_value(json_object_get(tx, "out_trade_no"));
    int         rc = -1, i;

    if (no == NULL || no[0] == '\0' || strlen(no) > 32) {
        snprintf(why, why_len, "no out_trade_no");
        return 1;
    }
    /* Concurrent notifications serialise on the row lock; a deadlock
     * (delivery rows) is simply tried again. */
    for (i = 0; i < 3; i++) {
        rc = mark_paid_once(ctx, tx, source, why, why_len);
        if (rc != -1
            || (db_errno(ctx) != ER_LOCK_DEADLOCK
                && db_errno(ctx) != ER_LOCK_WAIT_TIMEOUT))
        {
            break;
        }
    }
    return rc;
}

int
pay_close_remote(tucai_ctx_t *ctx, const char *out_trade_no)
{
    char    path[160], body[96];
    long    st;
    json_t *a;
    int     rc;

    snprintf(path, sizeof(path), "/v3/pay/transactions/out-trade-no/%s/close",
        out_trade_no);
    snprintf(body, sizeof(body), "{\"mchid\":\"%s\"}", ctx->cfg->pay_mchid);
    if (payc_call(ctx, "POST", path, body, &st, &a) != 0) {
        return -1;
    }
    if (st == 204 || st == 200 || st == 404) {
        rc = 0;
    } else {
        const char *code = json_string_value(json_object_get(a, "code"));

        rc = code
                && (strcmp(code, "ORDERPAID") == 0
                    || strcmp(code, "ORDER_PAID") == 0)
            ? 1
            : (code && strcmp(code, "ORDER_CLOSED") == 0 ? 0 : -1);
    }
    json_decref(a);
    return rc;
}

/* Marks our row CLOSED (live = NULL frees the student's live slot). */
static void
close_local(tucai_ctx_t *ctx, const pay_order_t *o, const char *why)
{
    int64_t now = (int64_t) time(NULL);

    if (db_exec(ctx,
            "UPDATE orders SET status = 'CLOSED', live = NULL, updated_at = %ld"
            " WHERE id = %lu AND status = 'UNPAID'",
            now, o->id)
        == 1)
    {
        (void) db_exec(ctx,
            "UPDATE students SET step = 'submit', updated_at = %ld"
            " WHERE id = %lu AND step = 'pay'",
            now, o->student_id);
        pay_event(ctx, o->out_trade_no, "close", 1, why);
    }
}

int
pay_refresh_order(tucai_ctx_t *ctx, const pay_order_t *o, int close_expired)
{
    char        path[160], why[256];
    long        st;
    json_t     *tx;
    const char *state;
    int64_t     now = (int64_t) time(NULL);
    int         rc;

    if (strcmp(o->status, "UNPAID") != 0) {
        return 0;
    }
    (void) db_exec(
        ctx, "UPDATE orders SET queried_at = %ld WHERE id = %lu", now, o->id);
    snprintf(path, sizeof(path),
        "/v3/pay/transactions/out-trade-no/%s?mchid=%s", o->out_trade_no,
        ctx->cfg->pay_mchid);
    if (payc_call(ctx, "GET", path, NULL, &st, &tx) != 0) {
        return -1;
    }
    state = json_string_value(json_object_get(tx, "trade_state"));
    if (st == 200 && state != NULL && strcmp(state, "SUCCESS") == 0) {
        rc = pay_mark_paid(ctx, tx, "query", why, sizeof(why));
        pay_event(ctx, o->out_trade_no, "query", rc == 0, why);
        json_decref(tx);
        return rc < 0 ? -1 : 0;
    }
    if (st == 200 && state != NULL
        && (strcmp(state, "CLOSED") == 0 || strcmp(state, "REVOKED") == 0
            || strcmp(state, "PAYERROR") == 0))
    {
        close_local(ctx, o, state);
        json_decref(tx);
        return 0;
    }
    json_decref(tx);
    if (close_expired && o->expires_at <= now) {
        /* Closing at WeChat first: once closed there it cannot be paid, so
         * closing here cannot lose a payment. */
        rc = pay_close_remote(ctx, o->out_trade_no);
        if (rc == 0) {
            close_local(ctx, o, "expired");
        } else if (rc == 1) {
            return pay_refresh_order(ctx, o, 0);
        } else {
            return -1;
        }
    }
    return 0;
}
