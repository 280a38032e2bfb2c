/*
 * pay_reconcile.c -- the payment's periodic jobs (run by jobs.c): asks
 * WeChat about UNPAID orders whose notification may never come, each order
 * at most once per [pay] reconcile seconds and a few per run (rate-bounded);
 * orders past expiry are closed at WeChat, then here; paid orders whose
 * photo could not be made are delivered late.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay.h"
#include "pay_int.h"
#include "db.h"
#include "clock.h"
#include "log.h"

#define ORDERS_PER_TICK 5

void
pay_reconcile(tucai_ctx_t *ctx, int64_t deadline_ms)
{
    pay_order_t o[ORDERS_PER_TICK];
    MYSQL_RES  *res;
    MYSQL_ROW   r;
    int         n = 0, i;
    int64_t     now = (int64_t) time(NULL);

    res = db_query(ctx,
        "SELECT " PAY_ORDER_COLS " FROM orders"
        " WHERE status = 'UNPAID' AND queried_at <= %ld"
        " ORDER BY queried_at, id LIMIT %d",
        now - ctx->cfg->pay_reconcile_s, ORDERS_PER_TICK);
    if (res == NULL) {
        return;
    }
    while (n < ORDERS_PER_TICK && (r = mysql_fetch_row(res)) != NULL) {
        pay_order_row(r, &o[n++]);
    }
    mysql_free_result(res);
    for (i = 0; i < n && tucai_now_ms() < deadline_ms; i++) {
        if (pay_refresh_order(ctx, &o[i], 1) != 0) {
            break; /* WeChat unreachable: no point asking about more */
        }
    }
}

void
deliver_pending(tucai_ctx_t *ctx, int64_t deadline_ms)
{
    pay_order_t o[3];
    MYSQL_RES  *res;
    MYSQL_ROW   r;
    int         n = 0, i;

    res = db_query(ctx,
        "SELECT o.id, o.student_id, o.draft_id, o.school_id, o.amount_fen,"
        " o.out_trade_no, o.status, IFNULL(o.prepay_id, ''),"
        " IFNULL(o.prepay_at, 0), o.expires_at, o.created_at,"
        " IFNULL(o.paid_at, 0), IFNULL(o.live, 0)"
        " FROM orders o LEFT JOIN photos p ON p.student_id = o.student_id"
        " WHERE o.status IN ('PAID', 'FREE') AND o.live = 1"
        " AND p.student_id IS NULL ORDER BY o.id LIMIT 3");
    if (res == NULL) {
        return;
    }
    while (n < 3 && (r = mysql_fetch_row(res)) != NULL) {
        pay_order_row(r, &o[n++]);
    }
    mysql_free_result(res);
    for (i = 0; i < n && tucai_now_ms() < deadline_ms; i++) {
        if (db_begin(ctx) != 0) {
            return;
        }
        if (deliver_order(ctx, &o[i]) != 0 || db_commit(ctx) != 0) {
            db_rollback(ctx);
        } else {
            tlog_info("deliver: order %llu delivered late",
                (unsigned long long) o[i].id);
        }
    }
}
