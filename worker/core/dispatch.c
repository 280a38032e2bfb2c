/* dispatch.c -- one request to its handler (the program's operation
 * table, pool_app); the pool's uniform failures. */
#include <string.h>

#include "db.h"
#include "log.h"
#include "pool.h"

const tucai_app_t *pool_app;

static void reset(tucai_resp_t *r)
{
    tbuf body = r->body;

    body.len = 0;
    memset(r, 0, sizeof(*r));
    r->body = body;
}

void dispatch(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    tucai_handler_pt h;
    int              rc;

    h = pool_app->handler_for(req->hdr.code);
    if (h == NULL) {
        resp_error(resp, 404, "NOT_FOUND", "没有这个接口", "no such endpoint",
                   NULL);
        return;
    }
    /* Health reports the database itself; everyone else needs it up. */
    if (req->hdr.code != TUCAI_OP_HEALTH && db_ensure(ctx) != 0) {
        resp_db_unavailable(resp);
        return;
    }

    rc = h(ctx, req, resp);

    if (db_in_txn(ctx)) {
        /* a handler must not leave a transaction open: nothing half-written */
        tlog_error("handler for op %u left a transaction open; rolled back",
                   req->hdr.code);
        db_rollback(ctx);
        if (rc == 0 && resp->status < 400) {
            rc = -1;
        }
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
        resp_error(resp, 500, "INTERNAL", "内部错误", "handler gave no answer",
                   NULL);
    }
}
