/*
 * admin_unbind.c -- POST /admin/api/v1/students/{student_no}/unbind
 * {"reason":"..."} -> 204.  A wrong binding (a stolen code, a lost phone) is
 * undone by the school: the bound WeChat account is retired (unbound_at;
 * journey_load then treats its tokens as naming no account: 401 at once),
 * its openid renamed so that the same WeChat user logging in again gets a
 * fresh account, the student's active code revoked (the stolen one must not
 * bind again), and the edge's cached state for the old account dropped.
 * The student keeps his progress; a new code binds his new account.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "handlers.h"

#define UNBIND_REASON_MAX 200 /* characters */

static size_t
utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char) *s & 0xC0) != 0x80)
            n++;
    }
    return n;
}

int
admin_unbind(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char      no[40];
    json_t   *body;

    if (adm_auth(ctx, req, resp, &who) != 0
        || adm_param_student_no(req, resp, no, sizeof(no)) != 0
        || adm_json_body(req, resp, &body) != 0)
    {
        return 0;
    }
    const char *reason = json_string_value(json_object_get(body, "reason"));
    if (reason == NULL || reason[0] == '\0'
        || utf8_chars(reason) > UNBIND_REASON_MAX)
    {
        json_decref(body);
        return resp_error(resp, 400, "BAD_REQUEST",
            "请填写解绑原因（1 到 200 字）",
            "a reason (1..200 characters) is required",
            json_pack("{s:s}", "field", "reason"));
    }
    if (adm_begin(ctx) != 0) {
        json_decref(body);
        return resp_db_unavailable(resp);
    }
    MYSQL_RES *res = adm_query(ctx,
        "SELECT id, account_id FROM students WHERE school_id = %u"
        " AND student_no = %s FOR UPDATE",
        who.school_id, no);
    if (res == NULL) {
        adm_rollback(ctx);
        json_decref(body);
        return resp_db_unavailable(resp);
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL || row[1] == NULL) {
        int found = row != NULL;
        mysql_free_result(res);
        adm_rollback(ctx);
        json_decref(body);
        if (!found)
            return adm_not_found(resp);
        return resp_error(resp, 409, "NOT_BOUND", "该学生尚未绑定微信账号",
            "no WeChat account is bound to this student", NULL);
    }
    uint64_t sid = strtoull(row[0], NULL, 10);
    uint64_t account = strtoull(row[1], NULL, 10);
    mysql_free_result(res);

    int64_t  now = (int64_t) time(NULL);
    uint64_t revoked = 0;
    char     openid[48];
    /* '!' is not in WeChat's openid alphabet: no real openid collides */
    snprintf(
        openid, sizeof(openid), "!unbound-%llu", (unsigned long long) account);
    json_t *d = json_pack(
        "{s:s,s:I}", "reason", reason, "account", (json_int_t) account);
    if (d == NULL
        || adm_exec(ctx, NULL,
               "UPDATE students SET account_id = NULL, updated_at = %ld"
               " WHERE id = %lu",
               now, sid)
            != 0
        || adm_exec(ctx, NULL,
               "UPDATE accounts SET unbound_at = %ld, openid = %s,"
               " pending_student_id = NULL, pending_phone = NULL,"
               " pending_code_id = NULL WHERE id = %lu",
               now, openid, account)
            != 0
        || adm_exec(ctx, &revoked,
               "UPDATE codes SET status = 'revoked', revoked_at = %ld"
               " WHERE student_id = %lu AND status = 'active'",
               now, sid)
            != 0
        || json_object_set_new(
               d, "codes_revoked", json_integer((json_int_t) revoked))
            != 0
        || adm_audit(ctx, req, &who, "student.unbind", no, d) != 0
        || adm_commit(ctx) != 0)
    {
        json_decref(d);
        json_decref(body);
        adm_rollback(ctx);
        return resp_db_unavailable(resp);
    }
    json_decref(d);
    json_decref(body);
    resp->clear_subject = account;
    return resp_empty(resp, 204);
}
