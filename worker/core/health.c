/* health.c -- GET /api/v1/health (anyone: ok / not ok only) and
 * TUCAI_OP_STATUS (no path, so only callers of the pool socket, which
 * SO_PEERCRED limits to nginx and operators: pool pids, counters and the
 * MariaDB version, which would help an attacker and tell a user nothing). */
#include <unistd.h>

#include "db.h"
#include "handlers.h"
#include "pool.h"

static int
health_answer(tucai_ctx_t *ctx, tucai_resp_t *resp, int detail)
{
    int     ok;
    json_t *o;

    /* a ping, not a statement: health is the load balancers' probe */
    ok = db_ping(ctx) == 0;
    if (ok && !detail) {
        /* the most frequent request's answer, fixed text */
        static const char body[] = "{\"status\":\"ok\"}";
        return resp_json_text(resp, 200, body, sizeof(body) - 1);
    }
    if (detail) {
        o = json_pack("{s:s,s:{s:s,s:i,s:I,s:i,s:I},s:{s:b,s:s},s:i}", "status",
            ok ? "ok" : "degraded", "pool", "version", TUCAI_POOL_VERSION,
            "children", ctx->cfg->children, "pid",
            (json_int_t) tucai_master_pid, "child", ctx->child_no, "accepts",
            (json_int_t) ctx->accepts, "db", "ok", ok, "version",
            ok ? db_server_version(ctx) : "", "protocol", TUCAI_VERSION);
    } else {
        o = json_pack("{s:s}", "status", ok ? "ok" : "degraded");
    }
    if (!ok) {
        /* plus the API.md error fields, so clients see both */
        json_object_set_new(o, "error", json_string("DB_UNAVAILABLE"));
        json_object_set_new(o, "message",
            json_string(
                "数据库暂不可用，请稍后重试 / database unavailable, retry shortly"));
        json_object_set_new(o, "retry_after", json_integer(2));
        resp->retry_after = 2;
        return resp_json(resp, 503, o);
    }
    return resp_json(resp, 200, o);
}

int
health_handle(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    (void) req;
    return health_answer(ctx, resp, 0);
}

int
health_status(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    (void) req;
    return health_answer(ctx, resp, 1);
}
