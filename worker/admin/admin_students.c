/*
 * admin_students.c -- the teacher's view of their school's students
 * (GET /students with filters) and the unlock (POST /students/{no}/unlock).
 * Every query is scoped by the teacher's school: another school's student
 * is simply not found (404), never "forbidden".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "handlers.h"

static const char *steps[] = {
    "code", "phone", "confirm", "notice", "subscribe", "video", "shoot",
    "submit", "pay", "producing", "done", NULL
};

static int
valid_step(const char *s)
{
    for (int i = 0; steps[i]; i++) {
        if (strcmp(s, steps[i]) == 0) return 1;
    }
    return 0;
}

/* q as a LIKE pattern %q%, with the wildcards of q taken literally. */
static void
like_pattern(const char *q, char *out, size_t n)
{
    size_t o = 0;
    out[o++] = '%';
    for (; *q && o + 3 < n; q++) {
        if (*q == '%' || *q == '_' || *q == '\\') out[o++] = '\\';
        out[o++] = *q;
    }
    out[o++] = '%';
    out[o] = '\0';
}

static json_t *
time_or_null(int64_t t)
{
    char buf[32];
    return t > 0 ? json_string(tucai_rfc3339(buf, sizeof(buf), t)) : json_null();
}

/* GET /admin/api/v1/students?step=&q=&locked=&limit=&offset=
 * -> {"students":[...],"total","limit","offset"} */
int
admin_students(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char step[24] = "", q[72] = "", locked[8] = "", num[24], pat[160];
    uint64_t limit = 200, offset = 0;
    int64_t now = (int64_t) time(NULL);

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    if (adm_query_param(req->query, "step", step, sizeof(step)) && step[0]
        && !valid_step(step))
    {
        return resp_error(resp, 400, "BAD_REQUEST", "未知的步骤", "unknown step",
                          json_pack("{s:s}", "field", "step"));
    }
    if (adm_query_param(req->query, "q", q, sizeof(q)) && strlen(q) > 64) {
        return resp_error(resp, 400, "BAD_REQUEST", "搜索词过长",
                          "search text too long", json_pack("{s:s}", "field", "q"));
    }
    if (adm_query_param(req->query, "locked", locked, sizeof(locked))
        && locked[0] && strcmp(locked, "1") && strcmp(locked, "0")
        && strcmp(locked, "true") && strcmp(locked, "false"))
    {
        return resp_error(resp, 400, "BAD_REQUEST", "locked 应为 1 或 0",
                          "locked must be 1 or 0",
                          json_pack("{s:s}", "field", "locked"));
    }
    if (adm_query_param(req->query, "limit", num, sizeof(num))) {
        limit = strtoull(num, NULL, 10);
        if (limit == 0 || limit > ADM_MAX_LIST) limit = ADM_MAX_LIST;
    }
    if (adm_query_param(req->query, "offset", num, sizeof(num))) {
        offset = strtoull(num, NULL, 10);
        if (offset > 10000000) offset = 10000000;
    }
    like_pattern(q, pat, sizeof(pat));

    /* The lock a student is under right now: liveness until unlocked,
     * quality until its end. */
    char *lock_sql = db_fmt(ctx,
        "(CASE WHEN s.lock_kind = 1 THEN 1"
        " WHEN s.lock_kind = 2 AND s.lock_until > %ld THEN 2 ELSE 0 END)", now);
    char *where = db_fmt(ctx,
        "s.school_id = %u AND (%s = '' OR s.step = %s)"
        " AND (%s = '%%%%' OR s.student_no LIKE %s OR s.name LIKE %s)"
        " AND (%d = 0 OR (%d = 1) = (%-s > 0))",
        who.school_id, step, step, pat, pat, pat,
        locked[0] ? 1 : 0, locked[0] == '1' || locked[0] == 't' ? 1 : 0,
        lock_sql ? lock_sql : "0");
    if (lock_sql == NULL || where == NULL) {
        free(lock_sql);
        free(where);
        return resp_db_unavailable(resp);
    }

    uint64_t total = 0;
    MYSQL_RES *res = NULL;
    if (adm_query_u64(ctx, &total, "SELECT COUNT(*) FROM students s WHERE %-s",
                      where) >= 0)
    {
        res = adm_query(ctx,
            "SELECT s.student_no, s.name, s.phone, s.step, %-s, s.lock_until,"
            " s.cooldown_until, s.attempts, s.liveness_fails, s.quality_fails,"
            " s.account_id IS NOT NULL,"
            " (SELECT MAX(c.status = 'active') FROM codes c WHERE c.student_id = s.id),"
            " EXISTS (SELECT 1 FROM photos p WHERE p.student_id = s.id)"
            " FROM students s WHERE %-s ORDER BY s.student_no LIMIT %lu OFFSET %lu",
            lock_sql, where, limit, offset);
    }
    free(lock_sql);
    free(where);
    if (res == NULL) {
        return resp_db_unavailable(resp);
    }

    json_t *arr = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        int lock = atoi(row[4]);
        int64_t cool = strtoll(row[6], NULL, 10);
        json_array_append_new(arr, json_pack(
            "{s:s,s:s,s:s?,s:s,s:s?,s:o,s:o,s:i,s:i,s:i,s:b,s:s,s:b}",
            "student_no", row[0], "name", row[1], "phone", row[2],
            "step", row[3],
            "lock", lock == 1 ? "liveness" : lock == 2 ? "quality" : NULL,
            "lock_until", lock == 2 ? time_or_null(strtoll(row[5], NULL, 10))
                                    : json_null(),
            "cooldown_until", cool > now ? time_or_null(cool) : json_null(),
            "attempts", atoi(row[7]), "liveness_fails", atoi(row[8]),
            "quality_fails", atoi(row[9]), "bound", atoi(row[10]),
            "code", row[11] == NULL ? "none" : atoi(row[11]) ? "active" : "revoked",
            "photo_ready", atoi(row[12])));
    }
    mysql_free_result(res);
    return resp_json(resp, 200, json_pack("{s:o,s:I,s:I,s:I}", "students", arr,
        "total", (json_int_t) total, "limit", (json_int_t) limit,
        "offset", (json_int_t) offset));
}

/* POST /admin/api/v1/students/{student_no}/unlock -> 204
 * Clears either lock, the consecutive-failure counters and the cooldown;
 * tells nginx to drop the account's cached state. */
int
admin_unlock(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char no[40];

    if (adm_auth(ctx, req, resp, &who) != 0
        || adm_param_student_no(req, resp, no, sizeof(no)) != 0)
    {
        return 0;
    }
    if (adm_begin(ctx) != 0) {
        return resp_db_unavailable(resp);
    }
    MYSQL_RES *res = adm_query(ctx,
        "SELECT id, account_id, lock_kind, lock_until, liveness_fails,"
        " quality_fails FROM students WHERE school_id = %u AND student_no = %s"
        " FOR UPDATE", who.school_id, no);
    if (res == NULL) {
        adm_rollback(ctx);
        return resp_db_unavailable(resp);
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        adm_rollback(ctx);
        return adm_not_found(resp);
    }
    uint64_t sid = strtoull(row[0], NULL, 10);
    uint64_t account = row[1] ? strtoull(row[1], NULL, 10) : 0;
    json_t *d = json_pack("{s:i,s:I,s:i,s:i}", "lock_kind", atoi(row[2]),
        "lock_until", (json_int_t) strtoll(row[3], NULL, 10),
        "liveness_fails", atoi(row[4]), "quality_fails", atoi(row[5]));
    mysql_free_result(res);

    if (adm_exec(ctx, NULL,
            "UPDATE students SET lock_kind = 0, lock_until = 0,"
            " liveness_fails = 0, quality_fails = 0, cooldown_until = 0,"
            " updated_at = %ld WHERE id = %lu", (int64_t) time(NULL), sid) != 0
        || adm_audit(ctx, req, &who, "student.unlock", no, d) != 0
        || adm_commit(ctx) != 0)
    {
        json_decref(d);
        adm_rollback(ctx);
        return resp_db_unavailable(resp);
    }
    json_decref(d);
    resp->clear_subject = account;
    return resp_empty(resp, 204);
}
