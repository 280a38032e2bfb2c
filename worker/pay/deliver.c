/*
 * deliver.c -- final production after PAID or FREE: the submitted draft's
 * produced JPEG becomes final/<student>.jpg (written to a temporary name,
 * synced, then renamed, so nginx never serves half a file), the photos row
 * and step "done" are written in the caller's transaction, and the
 * "photo ready" message is queued in it too.  When the file cannot be
 * made, nothing is written and the payment still commits: deliver_pending()
 * (pay_reconcile.c, a periodic job) retries orders PAID/FREE without a photo.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pay.h"
#include "pay_int.h"
#include "outbox.h"
#include "db.h"
#include "log.h"

#define FINAL_MAX_BYTES (16 * 1024 * 1024)

static int
copy_atomic(const char *src, const char *dst)
{
    char          tmp[TUCAI_PATH_MAX + 64];
    unsigned char buf[65536];
    int           in, out, ok = 0;
    ssize_t       n;
    size_t        total = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", dst, (int) getpid());
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        tlog_error("deliver: cannot open %s: %s", src, strerror(errno));
        return -1;
    }
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        tlog_error("deliver: cannot create %s: %s", tmp, strerror(errno));
        close(in);
        return -1;
    }
    for (;;) {
        n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            ok = n == 0 && total > 0;
            break;
        }
        total += (size_t) n;
        if (total > FINAL_MAX_BYTES || write(out, buf, (size_t) n) != n) {
            break;
        }
    }
    if (ok && fsync(out) != 0) {
        ok = 0;
    }
    close(in);
    if (close(out) != 0) {
        ok = 0;
    }
    if (!ok || rename(tmp, dst) != 0) {
        tlog_error("deliver: copying %s to %s failed", src, dst);
        unlink(tmp);
        return -1;
    }
    return 0;
}

int
deliver_order(tucai_ctx_t *ctx, const pay_order_t *o)
{
    const tucai_config_t *cfg = ctx->cfg;
    char                  draft_path[256], src[TUCAI_PATH_MAX + 260];
    char                  dir[TUCAI_PATH_MAX + 16], dst[TUCAI_PATH_MAX + 64];
    char                  rel[64], key[64];
    int64_t               now = (int64_t) time(NULL);
    int                   rc;

    rc = db_query_str(ctx, draft_path, sizeof(draft_path),
        "SELECT photo_path FROM drafts WHERE id = %lu AND student_id = %lu",
        o->draft_id, o->student_id);
    if (rc < 0) {
        return -1;
    }
    if (rc != 1 || draft_path[0] == '\0' || strstr(draft_path, "..") != NULL) {
        tlog_error("deliver: order %llu: draft %llu has no photo",
            (unsigned long long) o->id, (unsigned long long) o->draft_id);
        return -2;
    }
    snprintf(src, sizeof(src), "%s/%s", cfg->storage_dir, draft_path);
    snprintf(dir, sizeof(dir), "%s/final", cfg->storage_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        tlog_error("deliver: mkdir %s: %s", dir, strerror(errno));
        return -2;
    }
    snprintf(
        rel, sizeof(rel), "final/%llu.jpg", (unsigned long long) o->student_id);
    snprintf(dst, sizeof(dst), "%s/%s", cfg->storage_dir, rel);
    if (copy_atomic(src, dst) != 0) {
        return -2;
    }
    if (db_exec(ctx,
            "INSERT INTO photos (student_id, order_id, draft_id, path, produced_at)"
            " VALUES (%lu, %lu, %lu, %s, %ld) ON DUPLICATE KEY UPDATE"
            " order_id = VALUES(order_id), draft_id = VALUES(draft_id),"
            " path = VALUES(path), produced_at = VALUES(produced_at)",
            o->student_id, o->id, o->draft_id, rel, now)
            < 0
        || db_exec(ctx,
               "UPDATE students SET step = 'done', updated_at = %ld WHERE id = %lu",
               now, o->student_id)
            < 0)
    {
        return -1;
    }
    snprintf(key, sizeof(key), "photo_ready:%llu", (unsigned long long) o->id);
    rc = outbox_photo_status(
        ctx, o->student_id, key, "证件照已制作完成，可以下载", "已完成");
    return rc != 0 ? -1 : 0;
}
