/*
 * pay_reconcile.c -- pay_tick(): the periodic work children run between
 * requests.  One child at a time (GET_LOCK, not waited for) sends due
 * outbox messages and asks WeChat about UNPAID orders whose notification
 * may never come, each order at most once per [pay] reconcile seconds and
 * a few per tick (rate-bounded); orders past expiry are closed at WeChat,
 * then here; paid orders whose photo could not be made are delivered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay.h"
#include "pay_int.h"
#include "db.h"
#include "lease.h"
#include "log.h"

#define TICK_EVERY_MS   1000   /* per child */
#define ORDERS_PER_TICK 5

int64_t pay_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reconcile(tucai_ctx_t *ctx, int64_t deadline_ms)
{
    pay_order_t o[ORDERS_PER_TICK];
    MYSQL_RES  *res;
    MYSQL_ROW   r;
    int         n = 0, i;
    int64_t     now = (int64_t) time(NULL);

    res = db_query(ctx, "SELECT " PAY_ORDER_COLS " FROM orders"
                        " WHERE status = 'UNPAID' AND queried_at <= %I"
                        " ORDER BY queried_at, id LIMIT %d",
                   now - ctx->cfg->pay_reconcile_s, ORDERS_PER_TICK);
    if (res == NULL) {
        return;
    }
    while (n < ORDERS_PER_TICK && (r = mysql_fetch_row(res)) != NULL) {
        pay_order_row(r, &o[n++]);
    }
    mysql_free_result(res);
    for (i = 0; i < n && pay_now_ms() < deadline_ms; i++) {
        if (pay_refresh_order(ctx, &o[i], 1) != 0) {
            break;          /* WeChat unreachable: no point asking about more */
        }
    }
}

void pay_tick(tucai_ctx_t *ctx, int budget_ms)
{
    static int64_t last_ms;
    int64_t        now_ms = pay_now_ms();

    if (ctx->db == NULL || db_in_txn(ctx) || now_ms - last_ms < TICK_EVERY_MS) {
        return;
    }
    last_ms = now_ms;
    /* one ticker in the whole cluster (a lease: GET_LOCK is per node) */
    if (db_lease_take(ctx, "tucai_pay_tick", 60) != 1) {
        return;
    }
    outbox_run(ctx, now_ms + budget_ms);
    reconcile(ctx, now_ms + budget_ms);
    deliver_pending(ctx, now_ms + budget_ms);
    (void) db_lease_release(ctx, "tucai_pay_tick");
}
