/* dispatch.c -- one request to its handler (the program's operation
 * table, pool_app); the pool's uniform failures. */
#include <string.h>
#include <time.h>

#include "db.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"

const tucai_app_t *pool_app;

#define DISPATCH_CONFLICT_TRIES 4

static void
reset(tucai_resp_t *r)
{
    tbuf body = r->body;

    body.len = 0;
    memset(r, 0, sizeof(*r));
    r->body = body;
}

static void dispatch_one(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp);

static int64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* every request, whatever its outcome, is one observation (metrics.h) */
void
dispatch(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    int64_t t0 = now_us();

    dispatch_one(ctx, req, resp);
    metrics_response(req->hdr.code, resp->status, now_us() - t0);
}

static void
dispatch_one(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    tucai_handler_pt h;
    int              rc;

    h = pool_app->handler_for(req->hdr.code);
    if (h == NULL) {
        resp_refuse(resp, TUCAI_ERR_NO_SUCH_ENDPOINT, NULL);
        return;
    }
    /* Health and metrics report the database themselves; everyone else
     * needs it up. */
    if (req->hdr.code != TUCAI_OP_HEALTH && req->hdr.code != TUCAI_OP_METRICS
        && req->hdr.code != TUCAI_OP_STATUS && db_ensure(ctx) != 0)
    {
        resp_db_unavailable(resp);
        return;
    }

    /* leases whose release was lost with the connection go back first */
    if (db_lease_pending()) {
        (void) db_lease_flush(ctx);
    }

    /* The one place a request lost to a conflict with another transaction
     * (InnoDB deadlock, lock wait timeout, a Galera certification failure)
     * runs again: the handler rolled back and answered 503, nothing of it
     * was committed past its last consistent point, so its work is done
     * again from the start, up to DISPATCH_CONFLICT_TRIES times. */
    for (int attempt = 0;; attempt++) {
        db_conflict_reset();
        rc = h(ctx, req, resp);
        if (db_in_txn(ctx)) {
            /* a handler must not leave a transaction open: nothing
             * half-written */
            tlog_error("handler for op %u left a transaction open; rolled back",
                req->hdr.code);
            db_rollback(ctx);
            if (rc == 0 && resp->status < 400) {
                rc = -1;
            }
        }
        if ((rc != 0 || resp->status == 503) && db_conflict_seen()
            && attempt + 1 < DISPATCH_CONFLICT_TRIES)
        {
            tlog_info(
                "op %u: conflict with another transaction (%s), running it"
                " again",
                req->hdr.code, db_error(ctx));
            reset(resp);
            db_conflict_backoff(attempt);
            continue;
        }
        break;
    }
    if (rc != 0) {
        int lost = db_lost(ctx);
        tlog_warn("handler for op %u failed%s: %s", req->hdr.code,
            lost ? " (database lost)" : "", db_error(ctx));
        reset(resp);
        resp_db_unavailable(resp);
        return;
    }
    if (resp->status == 0) {
        reset(resp);
        resp_error(
            resp, 500, "INTERNAL", "内部错误", "handler gave no answer", NULL);
    }
}
