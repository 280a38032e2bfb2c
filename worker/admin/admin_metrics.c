/*
 * admin_metrics.c -- TUCAI_OP_METRICS (no path: `tucai_status prometheus
 * UPSTREAM;` in nginx asks for it): the pool's figures as Prometheus text,
 * the shared-memory ones (metrics.c) plus what only the database knows,
 * counted now: the outbox backlog and the payments awaiting
 * reconciliation.  Answers without the database too (tucai_db_up 0).
 */
#include <stdio.h>
#include <time.h>

#include "admin.h"
#include "db.h"
#include "handlers.h"
#include "metrics.h"

int
admin_metrics(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    int64_t pending = 0, oldest = 0, dead = 0, skipped = 0, unpaid = 0,
            unpaid_oldest = 0;
    int64_t now = (int64_t) time(NULL);
    int     up, rc = 0;

    (void) req;
    resp->body.len = 0;
    if (metrics_render(&resp->body) != 0) {
        return resp_error(resp, 500, "INTERNAL", "内部错误",
            "pool metrics unavailable", NULL);
    }

    /* small indexed counts (outbox ix_due, orders ix_status) */
    up = db_ensure(ctx) == 0
        && db_query_int(ctx, &pending,
               "SELECT COUNT(*) FROM outbox"
               " WHERE status = 'pending'")
            == 1
        && db_query_int(ctx, &oldest,
               "SELECT MIN(created_at) FROM outbox"
               " WHERE status = 'pending'")
            == 1
        && db_query_int(ctx, &dead,
               "SELECT COUNT(*) FROM outbox"
               " WHERE status = 'dead'")
            == 1
        && db_query_int(ctx, &skipped,
               "SELECT COUNT(*) FROM outbox"
               " WHERE status = 'skipped'")
            == 1
        && db_query_int(ctx, &unpaid,
               "SELECT COUNT(*) FROM orders"
               " WHERE status = 'UNPAID'")
            == 1
        && db_query_int(ctx, &unpaid_oldest,
               "SELECT MIN(created_at)"
               " FROM orders WHERE status = 'UNPAID'")
            == 1;

    rc |= metrics_printf(&resp->body,
        "# HELP tucai_db_up Whether the pool reached its database for this scrape.\n"
        "# TYPE tucai_db_up gauge\n"
        "tucai_db_up %d\n",
        up ? 1 : 0);
    if (up) {
        rc |= metrics_printf(&resp->body,
            "# HELP tucai_outbox_messages Subscribe messages in the outbox by status (sent ones not counted).\n"
            "# TYPE tucai_outbox_messages gauge\n"
            "tucai_outbox_messages{status=\"pending\"} %lld\n"
            "tucai_outbox_messages{status=\"dead\"} %lld\n"
            "tucai_outbox_messages{status=\"skipped\"} %lld\n"
            "# HELP tucai_outbox_oldest_pending_age_seconds Age of the oldest pending message (0 when none).\n"
            "# TYPE tucai_outbox_oldest_pending_age_seconds gauge\n"
            "tucai_outbox_oldest_pending_age_seconds %lld\n"
            "# HELP tucai_payments_pending_reconciliation Orders still UNPAID: the reconciliation tick asks WeChat Pay about them.\n"
            "# TYPE tucai_payments_pending_reconciliation gauge\n"
            "tucai_payments_pending_reconciliation %lld\n"
            "# HELP tucai_payments_oldest_pending_age_seconds Age of the oldest UNPAID order (0 when none).\n"
            "# TYPE tucai_payments_oldest_pending_age_seconds gauge\n"
            "tucai_payments_oldest_pending_age_seconds %lld\n",
            (long long) pending, (long long) dead, (long long) skipped,
            (long long) (pending && oldest ? now - oldest : 0),
            (long long) unpaid,
            (long long) (unpaid && unpaid_oldest ? now - unpaid_oldest : 0));
    }
    if (rc != 0) {
        resp->body.len = 0;
        return resp_error(resp, 500, "INTERNAL", "内部错误",
            "pool metrics unavailable", NULL);
    }
    resp->status = 200;
    snprintf(resp->content_type, sizeof(resp->content_type), "%s",
        "text/plain; version=0.0.4; charset=utf-8");
    return 0;
}
