/*
 * capture_failed.c -- PRODUCT.md steps 10-12 after a failed check: in one
 * transaction the capture row, the consecutive counters, the cooldown and,
 * when a count reaches its knob, the lock (the rules are locks.c's); then
 * 422 CHECK_FAILED {"verdict","until","retry_after","attempts_left"}, or
 * 423 LOCKED {"lock","until"?,"verdict"} when this very failure locked the
 * account.
 */
#include "capture.h"
#include "locks.h"

int
capture_store_fail(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    jst_t *st, photo_result_t *res, const char *orig, const char *verdict_text,
    const photo_meta_t *meta)
{
    char           reasons[512];
    int64_t        now = (int64_t) time(NULL);
    int            rc;
    uint64_t       capture_id;
    lock_policy_t  pol;
    lock_outcome_t o;
    MYSQL_RES     *r;
    MYSQL_ROW      row;

    pol.cooldown_s = journey_policy(req, TUCAI_POL_COOLDOWN_S);
    pol.liveness_lock_after =
        journey_policy(req, TUCAI_POL_LIVENESS_LOCK_AFTER);
    pol.quality_lock_after = journey_policy(req, TUCAI_POL_QUALITY_LOCK_AFTER);
    pol.quality_lock_s = journey_policy(req, TUCAI_POL_QUALITY_LOCK_S);
    capture_reason_codes(res->verdict, reasons, sizeof(reasons));

    if (journey_txn(ctx) != 0) {
        return -1;
    }
    rc = jdb_row(ctx, &r, &row,
        "SELECT liveness_fails, quality_fails"
        " FROM students WHERE id = %lu FOR UPDATE",
        st->student_id);
    if (rc <= 0) {
        goto fail;
    }
    lock_after_failure(&pol, (uint32_t) jsql_u64(row[0]),
        (uint32_t) jsql_u64(row[1]), res->liveness_failed, now, &o);
    mysql_free_result(r);

    if (capture_insert(
            ctx, st, now, 0, reasons, verdict_text, orig, meta, &capture_id)
        != 0)
    {
        goto fail;
    }
    /* A lock set now wins; otherwise an ended quality lock is cleared
     * (lock_kind is assigned first, so lock_until sees its new value). */
    if (db_exec(ctx,
            "UPDATE students SET liveness_fails = %u,"
            " quality_fails = %u, attempts = attempts + 1,"
            " cooldown_until = %ld,"
            " lock_kind = IF(%d <> 0, %d, IF(lock_kind = 2 AND"
            " lock_until <= %ld, 0, lock_kind)),"
            " lock_until = IF(%d <> 0, %ld, IF(lock_kind = 0, 0, lock_until)),"
            " updated_at = %ld WHERE id = %lu",
            o.liveness_fails, o.quality_fails, o.cooldown_until, o.lock_kind,
            o.lock_kind, now, o.lock_kind, o.lock_until, now, st->student_id)
        < 0)
    {
        goto fail;
    }
    capture_notify(ctx, st->student_id, capture_id, 0);
    if (db_commit(ctx) != 0) {
        goto fail;
    }

    resp_state(resp, req->hdr.subject, (uint64_t) o.cooldown_until, o.lock_kind,
        (uint64_t) o.lock_until);
    if (o.lock_kind == TUCAI_LOCK_LIVENESS) {
        return resp_refuse(resp, TUCAI_ERR_LOCKED_LIVENESS,
            json_pack("{s:s,s:O,s:s}", "lock", "liveness", "verdict",
                res->verdict, "contact", st->contact));
    }
    if (o.lock_kind == TUCAI_LOCK_QUALITY) {
        resp->retry_after = (uint32_t) (o.lock_until - now);
        return resp_refuse(resp, TUCAI_ERR_LOCKED_QUALITY,
            json_pack("{s:s,s:o,s:I,s:O}", "lock", "quality", "until",
                journey_time(o.lock_until), "retry_after",
                (json_int_t) (o.lock_until - now), "verdict", res->verdict));
    }
    resp->retry_after = (uint32_t) (o.cooldown_until - now);
    return resp_error(resp, 422, "CHECK_FAILED",
        "照片未通过检测，请按提示调整后重拍",
        "the photo failed the check; see the reasons",
        json_pack("{s:O,s:o,s:I,s:I}", "verdict", res->verdict, "until",
            journey_time(o.cooldown_until), "retry_after",
            (json_int_t) (o.cooldown_until - now), "attempts_left",
            (json_int_t) o.attempts_left));

fail:
    db_rollback(ctx);
    return -1;
}
