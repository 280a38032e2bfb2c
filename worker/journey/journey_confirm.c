/*
 * journey_confirm.c -- POST /api/v1/confirm (step 4, second half): binds
 * this WeChat account to the scanned student, one to one, in a transaction
 * that locks the account row then the student row, so two accounts racing
 * for one student are serialised and the loser gets 409
 * CODE_BOUND_ELSEWHERE.  The code is re-checked (revoked or expired since
 * the scan: 410 CODE_REVOKED).  Answers {"step","token","expires_in"}:
 * a fresh token that carries the school.  Allowed at step confirm only.
 */
#include <string.h>

#include "handlers.h"
#include "journey.h"

#define ER_DUP_ENTRY_ 1062

static int
bound_elsewhere(tucai_resp_t *resp, const char *contact)
{
    return resp_error(resp, 409, "CODE_BOUND_ELSEWHERE",
        "该学生已绑定其他微信账号，如有疑问请联系学校图像采集工作部门",
        "this student is bound to another WeChat account; "
        "contact your school's photo office",
        json_pack("{s:s}", "contact", contact));
}

int
journey_confirm(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t      st;
    MYSQL_RES *res;
    MYSQL_ROW  row;
    char       token[320], phone[24];
    uint64_t   sid, code_id;
    int64_t    now = (int64_t) time(NULL), n;
    int        rc, expires_in;

    if (journey_enter(ctx, req, resp, &st, J_BIT(J_CONFIRM)) != 0) {
        return 0;
    }
    if (journey_txn(ctx) != 0) {
        return resp_db_unavailable(resp);
    }
    rc = jdb_row(ctx, &res, &row,
        "SELECT pending_student_id, pending_phone,"
        " pending_code_id FROM accounts WHERE id = %lu FOR UPDATE",
        st.account_id);
    if (rc <= 0) {
        goto db_fail;
    }
    sid = jsql_u64(row[0]);
    jsql_copy(phone, sizeof(phone), row[1]);
    code_id = jsql_u64(row[2]);
    mysql_free_result(res);
    if (sid == 0 || phone[0] == '\0') {
        /* Changed under us by a concurrent request of the same account. */
        db_rollback(ctx);
        return journey_guard(&(jst_t){ .step = J_CODE }, 0, resp), 0;
    }

    rc = jdb_row(ctx, &res, &row,
        "SELECT account_id FROM students"
        " WHERE id = %lu FOR UPDATE",
        sid);
    if (rc <= 0) {
        goto db_fail;
    }
    if (row[0] != NULL && jsql_u64(row[0]) != st.account_id) {
        mysql_free_result(res);
        db_rollback(ctx);
        return bound_elsewhere(resp, st.contact);
    }
    mysql_free_result(res);

    if (code_id != 0) {
        rc = jdb_row(ctx, &res, &row,
            "SELECT status, expires_at FROM codes"
            " WHERE id = %lu",
            code_id);
        if (rc < 0) {
            goto db_fail;
        }
        if (rc == 0 || strcmp(row[0], "active") != 0
            || (jsql_i64(row[1]) != 0 && jsql_i64(row[1]) <= now))
        {
            int expired = rc == 1 && strcmp(row[0], "active") == 0;
            if (res != NULL) {
                mysql_free_result(res);
            }
            db_rollback(ctx);
            return resp_error(resp, 410, "CODE_REVOKED",
                "采集码已失效，请联系学校图像采集工作部门",
                "the collection code is no longer valid; "
                "contact your school's photo office",
                json_pack("{s:s,s:s}", "contact", st.contact, "reason",
                    expired ? "expired" : "revoked"));
        }
        mysql_free_result(res);
    }

    n = db_exec(ctx,
        "UPDATE students SET account_id = %lu, phone = %s,"
        " updated_at = %ld WHERE id = %lu AND account_id IS NULL",
        st.account_id, phone, now, sid);
    if (n < 0 && db_errno(ctx) == ER_DUP_ENTRY_) {
        /* This account is already bound to another student. */
        db_rollback(ctx);
        return bound_elsewhere(resp, st.contact);
    }
    if (n != 1) {
        goto db_fail;
    }
    if (db_exec(ctx,
            "UPDATE accounts SET pending_student_id = NULL,"
            " pending_phone = NULL, pending_code_id = NULL WHERE id = %lu",
            st.account_id)
            < 0
        || db_commit(ctx) != 0)
    {
        goto db_fail;
    }

    if (journey_load(ctx, st.account_id, &st) != 0) {
        return resp_db_unavailable(resp);
    }
    journey_step_sync(ctx, &st);
    if (journey_token(
            ctx, st.account_id, st.school_id, token, sizeof(token), &expires_in)
        != 0)
    {
        return resp_error(resp, 503, "TOKEN_UNAVAILABLE", "无法签发登录凭证",
            "cannot issue a token", json_pack("{s:i}", "retry_after", 5));
    }
    journey_state(resp, req, &st);
    return resp_json(resp, 200,
        json_pack("{s:s,s:s,s:i}", "step", journey_step_name(st.step), "token",
            token, "expires_in", expires_in));

db_fail:
    db_rollback(ctx);
    return resp_db_unavailable(resp);
}
