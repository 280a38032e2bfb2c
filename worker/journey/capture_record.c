/*
 * capture_record.c -- what every checked capture leaves, pass or fail, in
 * the caller's transaction: the captures row (verdict, reasons, the
 * original, the client's meta) and the photo-status subscribe message of
 * PRODUCT.md step 6 (queued in the outbox, so it exists iff the capture
 * does).
 */
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "outbox.h"

/* Comma-separated reason codes of a verdict (captures.reasons). */
void
capture_reason_codes(json_t *verdict, char *out, size_t n)
{
    json_t     *r;
    size_t      i, len = 0;
    const char *c;

    out[0] = '\0';
    json_array_foreach (json_object_get(verdict, "reasons"), i, r) {
        c = json_string_value(json_object_get(r, "code"));
        if (c == NULL || len + strlen(c) + 2 >= n) {
            continue;
        }
        len += (size_t) snprintf(out + len, n - len, "%s%s", len ? "," : "", c);
    }
}

/* The subscribe message for a check result, queued in the caller's
 * transaction: the message exists iff the capture does.  The dedupe key's
 * prefix names the outbox kind (check_passed / check_failed). */
void
capture_notify(tucai_ctx_t *ctx, uint64_t sid, uint64_t capture_id, int pass)
{
    char key[64];

    snprintf(key, sizeof(key), "%s:%llu",
        pass ? "check_passed" : "check_failed",
        (unsigned long long) capture_id);
    (void) outbox_photo_status(ctx, sid, key,
        pass ? "照片检测通过，已存入草稿箱"
             : "照片未通过检测，请查看原因后重拍",
        pass ? "已通过" : "未通过");
}

/* The captures row of an attempt, with the client's meta (camera,
 * source) so the back office sees how the photo was taken. 0 or -1. */
int
capture_insert(tucai_ctx_t *ctx, const jst_t *st, int64_t now, int pass,
    const char *reasons, const char *verdict_text, const char *orig,
    const photo_meta_t *meta, uint64_t *capture_id)
{
    if (db_exec(ctx,
            "INSERT INTO captures (student_id, created_at, pass,"
            " reasons, verdict_json, original_path, camera, source) VALUES"
            " (%lu, %ld, %d, %s, %s, %s, %s, %s)",
            st->student_id, now, pass, reasons, verdict_text, orig,
            meta->camera, meta->source)
        != 1)
    {
        return -1;
    }
    *capture_id = db_insert_id(ctx);
    return 0;
}
