/* jobs.c -- the periodic work's runner (jobs.h). */
#include "jobs.h"
#include "clock.h"
#include "db.h"

#define TICK_EVERY_MS  1000   /* per process */

void jobs_tick(tucai_ctx_t *ctx, const tucai_job_pt *jobs, int budget_ms)
{
    static int64_t last_ms;
    int64_t        now_ms = tucai_now_ms(), got = 0;

    if (ctx->db == NULL || db_in_txn(ctx) || now_ms - last_ms < TICK_EVERY_MS) {
        return;
    }
    last_ms = now_ms;
    /* the lock's name predates jobs.c: a pool being upgraded keeps one
     * runner across old and new binaries */
    if (db_query_int(ctx, &got, "SELECT GET_LOCK('tucai_pay_tick', 0)") != 1 || got != 1) {
        return;
    }
    for (; *jobs != NULL; jobs++) {
        (*jobs)(ctx, now_ms + budget_ms);
    }
    (void) db_exec(ctx, "DO RELEASE_LOCK('tucai_pay_tick')");
}
