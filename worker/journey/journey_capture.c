/*
 * journey_capture.c -- POST /api/v1/captures (PRODUCT.md steps 8-13): the
 * order in which the rules apply to one capture.  Each rule is its own
 * file (capture.h lists them); the pure ones are steps.c and locks.c.
 *
 * Order of the rules (the database is the authority, nginx only caches):
 *   step shoot, submit or pay (retaking is allowed until payment: steps.h);
 *   423 LOCKED / 429 COOLING_DOWN / 409 DRAFTS_FULL (capture_refusals.c);
 *   413, 400 and 415 for the upload itself (capture_upload.c);
 *   409 UPLOAD_IN_PROGRESS when every upload slot of the student is taken
 *   (capture_in_flight.c);
 *   under the slot, the state is read again and the refusals re-applied.
 * Then the upload is checked and produced (capture_check.c; bytes that do
 * not decode are no attempt), the original is stored (temp + fsync +
 * rename) and the outcome recorded: capture_failed.c or capture_passed.c.
 * Files written for a transaction that does not commit are removed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "capture.h"

int
journey_capture(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t              st;
    capture_input_t    ci;
    photo_spec_t       spec;
    photo_thresholds_t th;
    photo_result_t     res;
    char               lockname[64], orig[256], hex[17], *verdict_text = NULL;
    int64_t            now;
    int                rc = -1, have_res = 0, got = 0;

    if (journey_begin(ctx, req, resp, &st) != 0
        || journey_guard(&st, J_CAPTURE_STEPS, resp) != 0
        || capture_refused(req, &st, resp) != 0
        || capture_parse_upload(req, resp, &ci) != 0)
    {
        return 0;
    }

    if (capture_slot_take(
            ctx, req, st.student_id, lockname, sizeof(lockname), &got)
        != 0)
    {
        return resp_db_unavailable(resp);
    }
    if (got != 1) {
        return resp_refuse(resp, TUCAI_ERR_UPLOAD_IN_PROGRESS, NULL);
    }

    /* Under the lock, the authoritative state again: a capture that just
     * ended on another host may have set a cooldown or filled the box. */
    if (journey_load(ctx, st.account_id, &st) != 0) {
        resp_db_unavailable(resp);
        goto out;
    }
    if (journey_guard(&st, J_CAPTURE_STEPS, resp) != 0
        || capture_refused(req, &st, resp) != 0
        || capture_check_prepare(ctx, req, resp, &st, &spec, &th) != 0)
    {
        goto out;
    }

    now = (int64_t) time(NULL);
    if (journey_random_hex(hex, sizeof(hex), 8) != 0) {
        goto storage;
    }
    snprintf(orig, sizeof(orig), "originals/%llu/%lld-%s.%s",
        (unsigned long long) st.student_id, (long long) now, hex, ci.ext);

    if (capture_check_run(&ci, &spec, &th, &res, resp) != 0) {
        goto out;
    }
    have_res = 1;

    verdict_text =
        json_dumps(res.verdict, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (verdict_text == NULL) {
        goto storage;
    }

    /* The original is written only now, after the check (the bytes are in
     * memory anyway): a child killed mid-check leaves no file behind. */
    if (journey_write_file(
            ctx->cfg->storage_dir, orig, ci.in.photo, ci.in.photo_len)
        != 0)
    {
        goto storage;
    }
    rc = res.pass && res.jpeg != NULL
        ? capture_store_pass(
            ctx, req, resp, &st, &res, orig, verdict_text, &ci.in.meta)
        : capture_store_fail(
            ctx, req, resp, &st, &res, orig, verdict_text, &ci.in.meta);
    if (rc != 0) {
        /* Nothing committed: the original goes too. */
        journey_unlink(ctx->cfg->storage_dir, orig);
        if (rc == -2) {
            goto storage;
        }
        resp_db_unavailable(resp);
    }
    goto out;

storage:
    resp_error(resp, 503, "STORAGE_UNAVAILABLE", "存储暂不可用，请稍后重试",
        "storage unavailable, retry shortly",
        json_pack("{s:i}", "retry_after", 5));
out:
    free(verdict_text);
    if (have_res) {
        photo_result_free(&res);
    }
    if (got == 1) {
        capture_slot_release(ctx, lockname);
    }
    return 0;
}
