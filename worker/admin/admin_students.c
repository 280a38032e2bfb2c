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
#include "outbox.h"

static const char *steps[] = { "code", "phone", "confirm", "notice",
    "subscribe", "video", "shoot", "submit", "pay", "producing", "done", NULL };

static int
valid_step(const char *s)
{
    for (int i = 0; steps[i]; i++) {
        if (strcmp(s, steps[i]) == 0)
            return 1;
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
        if (*q == '%' || *q == '_' || *q == '\\')
            out[o++] = '\\';
        out[o++] = *q;
    }
    out[o++] = '%';
    out[o] = '\0';
}

static json_t *
time_or_null(int64_t t)
{
    char buf[32];
    return t > 0 ? json_string(tucai_rfc3339(buf, sizeof(buf), t))
                 : json_null();
}

/* A yes/no filter: "" (absent) -1, "1"/"true" 1, "0"/"false" 0, else -2. */
static int
flag_param(const tucai_req_t *req, const char *key)
{
    char v[8];
    if (!adm_query_param(req->query, key, v, sizeof(v)) || v[0] == '\0') {
        return -1;
    }
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        return 1;
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        return 0;
    return -2;
}

/* Sort keys of the list; the student number breaks ties so pages are
 * stable. */
static const struct {
    const char *key, *sql;
} sorts[] = { { "student_no", "s.student_no" },
    { "name",
        "CONVERT(s.name USING gbk)" }, /* GBK order is pinyin order for common hanzi */
    { "class", "s.class" },
    { "step",
        "FIELD(s.step, 'code', 'phone', 'confirm', 'notice', 'subscribe',"
        " 'video', 'shoot', 'submit', 'pay', 'producing', 'done')" },
    { "attempts", "s.attempts" }, { "updated", "s.updated_at" },
    { NULL, NULL } };

/* GET /admin/api/v1/students?q=&step=&class=&locked=&paid=&photo=&sort=
 *     &dir=&limit=&offset=
 * -> {"students":[...],"total","limit","offset"}
 * class=- selects students without a class; paid=1 those whose order is
 * paid (or free); photo=1 those whose final photo is produced. */
int
admin_students(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t   who;
    char        step[24] = "", q[72] = "", cls[40] = "", num[24], pat[160];
    char        sort[16] = "student_no", dir[8] = "asc";
    uint64_t    limit = 200, offset = 0;
    int64_t     now = (int64_t) time(NULL);
    int         has_class, locked, paid, photo;
    const char *sort_sql = NULL;

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    if (adm_query_param(req->query, "step", step, sizeof(step)) && step[0]
        && !valid_step(step))
    {
        return resp_error(resp, 400, "BAD_REQUEST", "未知的步骤",
            "unknown step", json_pack("{s:s}", "field", "step"));
    }
    if (adm_query_param(req->query, "q", q, sizeof(q)) && strlen(q) > 64) {
        return resp_error(resp, 400, "BAD_REQUEST", "搜索词过长",
            "search text too long", json_pack("{s:s}", "field", "q"));
    }
    has_class =
        adm_query_param(req->query, "class", cls, sizeof(cls)) && cls[0];
    if (has_class && strlen(cls) > 32) {
        return resp_error(resp, 400, "BAD_REQUEST", "班级名称过长",
            "class too long", json_pack("{s:s}", "field", "class"));
    }
    locked = flag_param(req, "locked");
    paid = flag_param(req, "paid");
    photo = flag_param(req, "photo");
    if (locked == -2 || paid == -2 || photo == -2) {
        const char *f = locked == -2 ? "locked" : paid == -2 ? "paid" : "photo";
        return resp_error(resp, 400, "BAD_REQUEST", "筛选条件应为 1 或 0",
            "filter must be 1 or 0", json_pack("{s:s}", "field", f));
    }
    adm_query_param(req->query, "sort", sort, sizeof(sort));
    for (int i = 0; sorts[i].key; i++) {
        if (strcmp(sort, sorts[i].key) == 0)
            sort_sql = sorts[i].sql;
    }
    adm_query_param(req->query, "dir", dir, sizeof(dir));
    if (sort_sql == NULL || (strcmp(dir, "asc") && strcmp(dir, "desc"))) {
        return resp_error(resp, 400, "BAD_REQUEST", "不支持的排序方式",
            "unknown sort order",
            json_pack("{s:s}", "field", sort_sql ? "dir" : "sort"));
    }
    if (adm_query_param(req->query, "limit", num, sizeof(num))) {
        limit = strtoull(num, NULL, 10);
        if (limit == 0 || limit > ADM_MAX_LIST)
            limit = ADM_MAX_LIST;
    }
    if (adm_query_param(req->query, "offset", num, sizeof(num))) {
        offset = strtoull(num, NULL, 10);
        if (offset > 10000000)
            offset = 10000000;
    }
    like_pattern(q, pat, sizeof(pat));

    /* The lock a student is under right now: liveness until unlocked,
     * quality until its end. */
    const char *lock_expr =
        "(CASE WHEN s.lock_kind = 1 THEN 1"
        " WHEN s.lock_kind = 2 AND s.lock_until > %ld THEN 2 ELSE 0 END)";
    const char *paid_expr =
        "EXISTS (SELECT 1 FROM orders o WHERE o.student_id = s.id"
        " AND o.status IN ('PAID', 'FREE'))";
    const char *photo_expr =
        "EXISTS (SELECT 1 FROM photos p WHERE p.student_id = s.id)";
    char *lock_sql = adm_sql(ctx->db, lock_expr, now);
    char *where = adm_sql(ctx->db,
        "s.school_id = %u AND (%s = '' OR s.step = %s)"
        " AND (%s = '%%%%' OR s.student_no LIKE %s OR s.name LIKE %s)"
        " AND (%d = 0 OR (%d = 1) = (%-s > 0))"
        " AND (%d = 0 OR (%s = '-' AND COALESCE(s.class, '') = '')"
        "   OR s.class = %s)"
        " AND (%d < 0 OR %d = %-s) AND (%d < 0 OR %d = %-s)",
        who.school_id, step, step, pat, pat, pat, locked >= 0 ? 1 : 0,
        locked == 1 ? 1 : 0, lock_sql ? lock_sql : "0", has_class, cls, cls,
        paid, paid, paid_expr, photo, photo, photo_expr);
    if (lock_sql == NULL || where == NULL) {
        free(lock_sql);
        free(where);
        return resp_db_unavailable(resp);
    }

    uint64_t   total = 0;
    MYSQL_RES *res = NULL;
    if (adm_query_u64(
            ctx, &total, "SELECT COUNT(*) FROM students s WHERE %-s", where)
        >= 0)
    {
        res = adm_query(ctx,
            "SELECT s.student_no, s.name, s.phone, s.step, %-s, s.lock_until,"
            " s.cooldown_until, s.attempts, s.liveness_fails, s.quality_fails,"
            " s.account_id IS NOT NULL,"
            " (SELECT MAX(c.status = 'active') FROM codes c WHERE c.student_id = s.id),"
            " %-s, s.class,"
            " (SELECT o.status FROM orders o WHERE o.student_id = s.id"
            "   ORDER BY o.live IS NULL, o.id DESC LIMIT 1), s.updated_at"
            " FROM students s WHERE %-s ORDER BY %-s %-s, s.student_no %-s"
            " LIMIT %lu OFFSET %lu",
            lock_sql, photo_expr, where, sort_sql, dir, dir, limit, offset);
    }
    free(lock_sql);
    free(where);
    if (res == NULL) {
        return resp_db_unavailable(resp);
    }

    json_t   *arr = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        int         lock = atoi(row[4]);
        int64_t     cool = strtoll(row[6], NULL, 10);
        const char *ost = row[14];
        json_array_append_new(arr,
            json_pack(
                "{s:s,s:s,s:s?,s:s,s:s?,s:o,s:o,s:i,s:i,s:i,s:b,s:s,s:b,s:s?,"
                "s:s?,s:b,s:o}",
                "student_no", row[0], "name", row[1], "phone", row[2], "step",
                row[3], "lock",
                lock == 1       ? "liveness"
                    : lock == 2 ? "quality"
                                : NULL,
                "lock_until",
                lock == 2 ? time_or_null(strtoll(row[5], NULL, 10))
                          : json_null(),
                "cooldown_until", cool > now ? time_or_null(cool) : json_null(),
                "attempts", atoi(row[7]), "liveness_fails", atoi(row[8]),
                "quality_fails", atoi(row[9]), "bound", atoi(row[10]), "code",
                row[11] == NULL     ? "none"
                    : atoi(row[11]) ? "active"
                                    : "revoked",
                "photo_ready", atoi(row[12]), "class",
                row[13] && row[13][0] ? row[13] : NULL, "order_status", ost,
                "paid",
                ost && (strcmp(ost, "PAID") == 0 || strcmp(ost, "FREE") == 0),
                "updated_at", time_or_null(strtoll(row[15], NULL, 10))));
    }
    mysql_free_result(res);
    return resp_json(resp, 200,
        json_pack("{s:o,s:I,s:I,s:I}", "students", arr, "total",
            (json_int_t) total, "limit", (json_int_t) limit, "offset",
            (json_int_t) offset));
}

/* POST /admin/api/v1/students/{student_no}/unlock -> 204
 * Clears either lock, the consecutive-failure counters and the cooldown;
 * tells nginx to drop the account's cached state. */
int
admin_unlock(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char      no[40], reason[ADM_REASON_MAX];

    if (adm_auth(ctx, req, resp, &who) != 0
        || adm_param_student_no(req, resp, no, sizeof(no)) != 0
        || adm_reason(req, resp, reason, sizeof(reason)) != 0)
    {
        return 0;
    }
    if (adm_begin(ctx) != 0) {
        return resp_db_unavailable(resp);
    }
    MYSQL_RES *res = adm_query(ctx,
        "SELECT id, account_id, lock_kind, lock_until, liveness_fails,"
        " quality_fails FROM students WHERE school_id = %u AND student_no = %s"
        " FOR UPDATE",
        who.school_id, no);
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
    int      was_locked = atoi(row[2]) != 0;
    json_t  *d = json_pack("{s:i,s:I,s:i,s:i,s:s}", "lock_kind", atoi(row[2]),
         "lock_until", (json_int_t) strtoll(row[3], NULL, 10), "liveness_fails",
         atoi(row[4]), "quality_fails", atoi(row[5]), "reason", reason);
    mysql_free_result(res);

    if (was_locked) {
        adm_tell_student(
            ctx, sid, "unlock", "老师已解锁，可以重新拍摄", "已解锁");
    }
    if (adm_exec(ctx, NULL,
            "UPDATE students SET lock_kind = 0, lock_until = 0,"
            " liveness_fails = 0, quality_fails = 0, cooldown_until = 0,"
            " updated_at = %ld WHERE id = %lu",
            (int64_t) time(NULL), sid)
            != 0
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

/* A photo_status subscribe message about a teacher's action, queued in the
 * caller's transaction; outbox_photo_status sends nothing to a student who did
 * not accept that template.  Best effort: the action stands without it. */
void
adm_tell_student(tucai_ctx_t *ctx, uint64_t sid, const char *what,
    const char *text, const char *state)
{
    char    key[64];
    int64_t now = (int64_t) time(NULL);

    snprintf(key, sizeof(key), "teacher_%s:%llu:%lld", what,
        (unsigned long long) sid, (long long) now);
    (void) outbox_photo_status(ctx, sid, key, text, state);
}
