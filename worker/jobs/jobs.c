/* jobs.c -- the periodic work's runner (jobs.h). */
#include "jobs.h"
#include "clock.h"
#include "db.h"
#include "lease.h"

#define TICK_EVERY_MS 1000 /* per process */

void
jobs_tick(tucai_ctx_t *ctx, const tucai_job_pt *jobs, int budget_ms)
{
    static int64_t last_ms;
    int64_t        now_ms = tucai_now_ms();

    if (ctx->db == NULL || db_in_txn(ctx) || now_ms - last_ms < TICK_EVERY_MS) {
        return;
    }
    last_ms = now_ms;
    /* one runner in the whole cluster (a lease: GET_LOCK is per node);
     * the name predates jobs.c, so a pool being upgraded keeps one runner
     * across old and new binaries */
    if (db_lease_take(ctx, "tucai_pay_tick", 60) != 1) {
        return;
    }
    for (; *jobs != NULL; jobs++) {
        (*jobs)(ctx, now_ms + budget_ms);
    }
    (void) db_lease_release(ctx, "tucai_pay_tick");
}
