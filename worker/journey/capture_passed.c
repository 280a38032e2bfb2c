/*
 * capture_passed.c -- PRODUCT.md steps 10 and 13 after a passed check: the
 * produced JPEG is saved in the drafts box (file, then the capture and draft
 * rows in one transaction), the consecutive failure counts start afresh and
 * an ended quality lock is cleared; answers 201 {"draft","verdict","step"}.
 * Files written for a transaction that does not commit are removed.
 */
#include <stdio.h>

#include "capture.h"

/* Pass: draft file + rows.  Answers 201; or cleans up and returns -1
 * (database) or -2 (storage) for the caller to answer. */
int
capture_store_pass(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    jst_t *st, photo_result_t *res, const char *orig, const char *verdict_text,
    const photo_meta_t *meta)
{
    char     rel[256], hex[17];
    int64_t  now = (int64_t) time(NULL), n;
    uint64_t capture_id, draft_id;
    json_t  *o;

    if (journey_random_hex(hex, sizeof(hex), 8) != 0) {
        return -2;
    }
    snprintf(rel, sizeof(rel), "drafts/%llu/%lld-%s.jpg",
        (unsigned long long) st->student_id, (long long) now, hex);
    if (journey_write_file(ctx->cfg->storage_dir, rel, res->jpeg, res->jpeg_len)
        != 0)
    {
        return -2; /* storage, not the database */
    }
    if (journey_txn(ctx) != 0
        || capture_insert(
               ctx, st, now, 1, "", verdict_text, orig, meta, &capture_id)
            != 0)
    {
        goto fail;
    }
    if (db_exec(ctx,
            "INSERT INTO drafts (student_id, capture_id, created_at,"
            " photo_path, original_path) VALUES (%lu, %lu, %ld, %s, %s)",
            st->student_id, capture_id, now, rel, orig)
        != 1)
    {
        goto fail;
    }
    draft_id = db_insert_id(ctx);
    /* An ended quality lock is cleared for good (lock_kind is assigned
     * first, so lock_until sees its new value). */
    n = db_exec(ctx,
        "UPDATE students SET liveness_fails = 0, quality_fails = 0,"
        " attempts = attempts + 1, lock_kind = IF(lock_kind = 2 AND"
        " lock_until <= %ld, 0, lock_kind), lock_until ="
        " IF(lock_kind = 0, 0, lock_until), updated_at = %ld WHERE id = %lu",
        now, now, st->student_id);
    if (n < 0) {
        goto fail;
    }
    capture_notify(ctx, st->student_id, capture_id, 1);
    if (db_commit(ctx) != 0) {
        goto fail;
    }
    if (journey_load(ctx, st->account_id, st) == 0) {
        journey_step_sync(ctx, st);
    }
    journey_state(resp, req, st);
    o = json_pack("{s:o,s:O,s:s}", "draft",
        journey_draft_json(req, draft_id, now), "verdict", res->verdict, "step",
        journey_step_name(st->step));
    return resp_json(resp, 201, o);

fail:
    db_rollback(ctx);
    journey_unlink(ctx->cfg->storage_dir, rel);
    return -1;
}
