/* retention.c -- expiry of failed-capture originals (retention.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "retention.h"
#include "clock.h"
#include "db.h"
#include "log.h"

#define RETENTION_BATCH 50
/* With nothing due, look again this much later: the scan is an index range
 * (captures ix_pass_created) but need not run every tick. */
#define RETENTION_IDLE_S 10

void
retention_run(tucai_ctx_t *ctx, int64_t deadline_ms)
{
    static int64_t next_at;
    MYSQL_RES     *res;
    MYSQL_ROW      r;
    char           path[PATH_MAX];
    int64_t        now = (int64_t) time(NULL);
    uint64_t       ids[RETENTION_BATCH];
    int            n = 0, removed = 0, i;

    if (now < next_at || tucai_now_ms() >= deadline_ms) {
        return;
    }
    /* Due: older than the retention, and the student under no lock that
     * is still in force (a liveness lock lasts until a teacher unlocks; a
     * quality lock until lock_until). */
    res = db_query(ctx,
        "SELECT c.id, c.original_path FROM captures c"
        " JOIN students s ON s.id = c.student_id"
        " WHERE c.pass = 0 AND c.created_at < %ld AND c.original_path <> ''"
        " AND (s.lock_kind = 0 OR (s.lock_kind = 2 AND s.lock_until <= %ld))"
        " ORDER BY c.created_at LIMIT %d",
        now - ctx->cfg->storage_failed_retention_s, now, RETENTION_BATCH);
    if (res == NULL) {
        next_at = now + RETENTION_IDLE_S;
        return;
    }
    while ((r = mysql_fetch_row(res)) != NULL && n < RETENTION_BATCH) {
        if (r[1] == NULL || strstr(r[1], "..") != NULL || r[1][0] == '/') {
            continue; /* never ours: leave it, say so */
        }
        if ((size_t) snprintf(
                path, sizeof(path), "%s/%s", ctx->cfg->storage_dir, r[1])
            >= sizeof(path))
        {
            continue;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            tlog_warn("retention: cannot remove %s: %s", path, strerror(errno));
            continue;
        }
        ids[n++] = strtoull(r[0], NULL, 10);
    }
    mysql_free_result(res);

    for (i = 0; i < n; i++) {
        /* the file is gone: the row says so, its verdict stays */
        if (db_exec(ctx,
                "UPDATE captures SET original_path = '' WHERE id = %lu",
                (unsigned long) ids[i])
            > 0)
        {
            removed++;
        }
    }
    if (removed) {
        tlog_info("retention: removed %d failed-capture original(s)", removed);
    }
    if (n < RETENTION_BATCH) {
        next_at = now + RETENTION_IDLE_S;
    }
}
