/*
 * journey_notice.c -- the school's notice (step 5): GET /api/v1/notice and
 * POST /api/v1/notice/ack {"version"}.  Only the current version can be
 * acknowledged (409 NOTICE_OUTDATED with the current "version"); a school
 * that publishes a new version pulls students who have not ordered yet
 * back to this step.  Allowed from step notice on (re-reading is fine).
 */
#include "handlers.h"
#include "journey.h"

int
journey_notice(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t      st;
    MYSQL_RES *res;
    MYSQL_ROW  row;
    int        rc;
    json_t    *o;

    if (journey_enter(ctx, req, resp, &st, J_FROM(J_NOTICE)) != 0) {
        return 0;
    }
    rc = jdb_row(ctx, &res, &row,
        "SELECT notice_version, notice_title,"
        " notice_body FROM schools WHERE id = %lu",
        (uint64_t) st.school_id);
    if (rc <= 0) {
        return resp_db_unavailable(resp);
    }
    o = json_pack("{s:I,s:s,s:s,s:I}", "version", (json_int_t) jsql_u64(row[0]),
        "title", row[1] ? row[1] : "", "body", row[2] ? row[2] : "",
        "acked_version", (json_int_t) st.notice_ack_version);
    mysql_free_result(res);
    return resp_json(resp, 200, o);
}

int
journey_notice_ack(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t   st;
    json_t *body, *v;
    int64_t version, n;

    if (journey_enter(ctx, req, resp, &st, J_FROM(J_NOTICE)) != 0) {
        return 0;
    }
    body = journey_json_body(req, resp);
    if (body == NULL) {
        return 0;
    }
    v = json_object_get(body, "version");
    if (!json_is_integer(v)) {
        json_decref(body);
        return resp_error(resp, 400, "BAD_REQUEST", "缺少须知版本号",
            "field version (integer) is required",
            json_pack("{s:s}", "field", "version"));
    }
    version = (int64_t) json_integer_value(v);
    json_decref(body);
    /* The school row decides, in the same statement: no race with a
     * teacher publishing a new version meanwhile. */
    n = db_exec(ctx,
        "UPDATE students s JOIN schools sc ON sc.id = s.school_id"
        " SET s.notice_ack_version = sc.notice_version, s.updated_at = %ld"
        " WHERE s.id = %lu AND sc.notice_version = %ld",
        (int64_t) time(NULL), st.student_id, version);
    if (n < 0) {
        return resp_db_unavailable(resp);
    }
    if (n == 0 && version != (int64_t) st.notice_version) {
        return resp_error(resp, 409, "NOTICE_OUTDATED",
            "须知已更新，请重新阅读",
            "the notice has changed; "
            "read the current version",
            json_pack("{s:I}", "version", (json_int_t) st.notice_version));
    }
    return journey_reply_step(ctx, req, resp, NULL);
}
