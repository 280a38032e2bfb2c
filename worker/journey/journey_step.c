/*
 * journey_step.c -- the student's state from the database (jst_t, steps.h):
 * the prologue of every student endpoint, the step guard and the copy of
 * the step for the back office.  The step machine itself is steps.c.
 */
#include <string.h>

#include "journey.h"
#include "locks.h"

#define STUDENT_COLS                                                         \
    "SELECT s.id, s.school_id, s.student_no, s.name, s.phone, s.account_id," \
    " s.notice_ack_version, s.subs_set, s.sub_photo_status,"                 \
    " s.sub_payment_result, s.video_started_at, s.video_finished_at,"        \
    " s.cooldown_until, s.lock_kind, s.lock_until, s.liveness_fails,"        \
    " s.quality_fails, s.attempts, sc.name, sc.contact, sc.fee_fen,"         \
    " sc.notice_version, sc.video_url, sc.video_duration_s,"                 \
    " sc.tpl_photo_status, sc.tpl_payment_result,"                           \
    " (SELECT COUNT(*) FROM drafts d WHERE d.student_id = s.id"              \
    "   AND d.status = 'draft'),"                                            \
    " (SELECT o.status FROM orders o WHERE o.student_id = s.id"              \
    "   AND o.live = 1 LIMIT 1),"                                            \
    " (SELECT COUNT(*) FROM photos p WHERE p.student_id = s.id)"             \
    " FROM students s JOIN schools sc ON sc.id = s.school_id"

static void
fill_student(jst_t *st, MYSQL_ROW r)
{
    int64_t now = (int64_t) time(NULL);

    st->has_student = 1;
    st->student_id = jsql_u64(r[0]);
    st->school_id = (uint32_t) jsql_u64(r[1]);
    jsql_copy(st->student_no, sizeof(st->student_no), r[2]);
    jsql_copy(st->name, sizeof(st->name), r[3]);
    jsql_copy(st->phone, sizeof(st->phone), r[4]);
    st->bound = r[5] != NULL && jsql_u64(r[5]) == st->account_id;
    st->notice_ack_version = (uint32_t) jsql_u64(r[6]);
    st->subs_set = (int) jsql_i64(r[7]);
    st->sub_photo_status = (int) jsql_i64(r[8]);
    st->sub_payment_result = (int) jsql_i64(r[9]);
    st->video_started_at = jsql_i64(r[10]);
    st->video_finished_at = jsql_i64(r[11]);
    st->cooldown_until = jsql_i64(r[12]);
    st->lock_kind = (int) jsql_i64(r[13]);
    st->lock_until = jsql_i64(r[14]);
    st->liveness_fails = (uint32_t) jsql_u64(r[15]);
    st->quality_fails = (uint32_t) jsql_u64(r[16]);
    st->attempts = (uint32_t) jsql_u64(r[17]);
    jsql_copy(st->school_name, sizeof(st->school_name), r[18]);
    jsql_copy(st->contact, sizeof(st->contact), r[19]);
    st->fee_fen = (uint32_t) jsql_u64(r[20]);
    st->notice_version = (uint32_t) jsql_u64(r[21]);
    jsql_copy(st->video_url, sizeof(st->video_url), r[22]);
    st->video_duration_s = (uint32_t) jsql_u64(r[23]);
    jsql_copy(st->tpl_photo_status, sizeof(st->tpl_photo_status), r[24]);
    jsql_copy(st->tpl_payment_result, sizeof(st->tpl_payment_result), r[25]);
    st->ndrafts = (int) jsql_i64(r[26]);
    st->has_order = r[27] != NULL;
    jsql_copy(st->order_status, sizeof(st->order_status), r[27]);
    st->photo_ready = jsql_i64(r[28]) > 0;

    /* Ended states read as none; the row is rewritten by the next capture. */
    lock_current(now, &st->cooldown_until, &st->lock_kind, &st->lock_until);
}

int
journey_load(tucai_ctx_t *ctx, uint64_t account_id, jst_t *st)
{
    MYSQL_RES *res;
    MYSQL_ROW  row;
    int        rc;

    memset(st, 0, sizeof(*st));
    rc = jdb_row(ctx, &res, &row,
        "SELECT pending_student_id, pending_phone, pending_code_id"
        " FROM accounts WHERE id = %lu AND unbound_at IS NULL",
        account_id);
    if (rc <= 0) {
        /* 1: no such account, or one a teacher unbound (its tokens die) */
        return rc == 0 ? 1 : -1;
    }
    st->account_id = account_id;
    st->pending_student_id = jsql_u64(row[0]);
    jsql_copy(st->pending_phone, sizeof(st->pending_phone), row[1]);
    st->pending_code_id = jsql_u64(row[2]);
    mysql_free_result(res);

    rc = jdb_row(
        ctx, &res, &row, STUDENT_COLS " WHERE s.account_id = %lu", account_id);
    if (rc == 0 && st->pending_student_id != 0) {
        rc = jdb_row(ctx, &res, &row, STUDENT_COLS " WHERE s.id = %lu",
            st->pending_student_id);
    }
    if (rc < 0) {
        return -1;
    }
    if (rc == 1) {
        fill_student(st, row);
        mysql_free_result(res);
    }
    st->step = journey_step_of(st);
    return 0;
}

int
journey_begin(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp, jst_t *st)
{
    int rc;

    if (req->hdr.role != TUCAI_ROLE_STUDENT || req->hdr.subject == 0) {
        return journey_unauthorized(resp), -1;
    }
    if (ctx->db == NULL) {
        return resp_db_unavailable(resp), -1;
    }
    rc = journey_load(ctx, req->hdr.subject, st);
    if (rc < 0) {
        return resp_db_unavailable(resp), -1;
    }
    if (rc > 0) {
        /* A valid signature for an account that is gone (database reset). */
        return journey_unauthorized(resp), -1;
    }
    return 0;
}

int
journey_enter(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    jst_t *st, unsigned allowed)
{
    if (journey_begin(ctx, req, resp, st) != 0
        || journey_guard(st, allowed, resp) != 0)
    {
        return -1;
    }
    return 0;
}

int
journey_guard(const jst_t *st, unsigned allowed, tucai_resp_t *resp)
{
    if (journey_step_allowed(allowed, st->step)) {
        return 0;
    }
    resp_error(resp, 409, "STEP_NOT_ALLOWED", "当前步骤不能进行此操作",
        "not allowed at the current step",
        json_pack("{s:s}", "step", journey_step_name(st->step)));
    return -1;
}

void
journey_step_sync(tucai_ctx_t *ctx, const jst_t *st)
{
    if (!st->bound) {
        return;
    }
    /* Best effort: a copy for listings, the truth is recomputed anyway. */
    (void) db_exec(ctx,
        "UPDATE students SET step = %s WHERE id = %lu AND step <> %s",
        journey_step_name(st->step), st->student_id,
        journey_step_name(st->step));
}

void
journey_state(tucai_resp_t *resp, const tucai_req_t *req, const jst_t *st)
{
    if (!st->bound) {
        return;
    }
    resp_state(resp, req->hdr.subject, (uint64_t) st->cooldown_until,
        st->lock_kind, (uint64_t) st->lock_until);
    resp_contact(resp, st->contact);
}

int
journey_reply_step(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp, json_t *extra)
{
    jst_t   st;
    json_t *o;

    if (journey_load(ctx, req->hdr.subject, &st) != 0) {
        json_decref(extra);
        return resp_db_unavailable(resp);
    }
    journey_step_sync(ctx, &st);
    o = json_pack("{s:s}", "step", journey_step_name(st.step));
    if (extra != NULL) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    return resp_json(resp, 200, o);
}
