/*
 * admin_student.c -- one student as the photo teacher sees them before
 * acting: GET /admin/api/v1/students/{no} (binding, codes, capture history
 * with reasons and source/camera, drafts, order, final photo, the audit
 * rows about them) and GET /admin/api/v1/captures/{id}/photo (a capture's
 * picture: the produced draft when it passed, else the original upload).
 * Scoped by the teacher's school like every admin query: another school's
 * student or capture is 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "handlers.h"

#define STU_MAX_CAPTURES 100 /* newest first */
#define STU_MAX_AUDIT    50

static json_t *
time_or_null(const char *v)
{
    char    buf[32];
    int64_t t = v ? strtoll(v, NULL, 10) : 0;
    return t > 0 ? json_string(tucai_rfc3339(buf, sizeof(buf), t))
                 : json_null();
}

static json_t *
capture_list(tucai_ctx_t *ctx, uint64_t sid)
{
    MYSQL_RES *res = adm_query(ctx,
        "SELECT c.id, c.created_at, c.pass, c.reasons, c.verdict_json,"
        " c.camera, c.source, c.original_path <> '' OR d.id IS NOT NULL"
        " FROM captures c LEFT JOIN drafts d ON d.capture_id = c.id"
        " WHERE c.student_id = %lu ORDER BY c.id DESC LIMIT %d",
        sid, STU_MAX_CAPTURES);
    if (res == NULL)
        return NULL;
    json_t   *arr = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        char    url[96];
        json_t *verdict = row[4] ? json_loads(row[4], 0, NULL) : NULL;
        json_t *reasons = verdict ? json_object_get(verdict, "reasons") : NULL;
        snprintf(url, sizeof(url), "/admin/api/v1/captures/%s/photo", row[0]);
        json_t *rs =
            json_is_array(reasons) ? json_incref(reasons) : json_array();
        json_array_append_new(arr,
            json_pack("{s:I,s:o,s:b,s:o,s:s,s:s,s:s?}", "id",
                (json_int_t) strtoll(row[0], NULL, 10), "at",
                time_or_null(row[1]), "pass", atoi(row[2]), "reasons", rs,
                "camera", row[5], "source", row[6], "photo_url",
                atoi(row[7]) ? url : NULL));
        json_decref(verdict);
    }
    mysql_free_result(res);
    return arr;
}

/* GET /admin/api/v1/students/{student_no} */
int
admin_student(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char      no[40];
    int64_t   now = (int64_t) time(NULL);
    MYSQL_ROW row;

    if (adm_auth(ctx, req, resp, &who) != 0
        || adm_param_student_no(req, resp, no, sizeof(no)) != 0)
    {
        return 0;
    }
    MYSQL_RES *res = adm_query(ctx,
        "SELECT s.id, s.student_no, s.name, s.class, s.phone, s.step,"
        " s.account_id IS NOT NULL, s.notice_ack_version, s.subs_set,"
        " s.sub_photo_status, s.sub_payment_result, s.video_started_at,"
        " s.video_finished_at, s.cooldown_until, s.lock_kind, s.lock_until,"
        " s.liveness_fails, s.quality_fails, s.attempts, s.created_at,"
        " s.updated_at FROM students s"
        " WHERE s.school_id = %u AND s.student_no = %s",
        who.school_id, no);
    if (res == NULL) {
        return resp_db_unavailable(resp);
    }
    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return adm_not_found(resp);
    }
    uint64_t    sid = strtoull(row[0], NULL, 10);
    int         lk = atoi(row[14]);
    int64_t     lock_until = strtoll(row[15], NULL, 10);
    int64_t     cool = strtoll(row[13], NULL, 10);
    const char *lock = lk == 1        ? "liveness"
        : lk == 2 && lock_until > now ? "quality"
                                      : NULL;
    json_t *out = json_pack("{s:{s:s,s:s,s:s?,s:s?,s:s,s:b,s:i,s:b,s:{s:b,s:b},"
                            "s:o,s:o,s:o,s:s?,s:o,s:i,s:i,s:i,s:o,s:o}}",
        "student", "student_no", row[1], "name", row[2], "class",
        row[3] && row[3][0] ? row[3] : NULL, "phone", row[4], "step", row[5],
        "bound", atoi(row[6]), "notice_ack_version", atoi(row[7]), "subs_set",
        atoi(row[8]), "subscriptions", "photo_status", atoi(row[9]),
        "payment_result", atoi(row[10]), "video_started_at",
        time_or_null(row[11]), "video_finished_at", time_or_null(row[12]),
        "cooldown_until", cool > now ? time_or_null(row[13]) : json_null(),
        "lock", lock, "lock_until",
        lock && lk == 2 ? time_or_null(row[15]) : json_null(), "liveness_fails",
        atoi(row[16]), "quality_fails", atoi(row[17]), "attempts",
        atoi(row[18]), "created_at", time_or_null(row[19]), "updated_at",
        time_or_null(row[20]));
    mysql_free_result(res);
    if (out == NULL) {
        return resp_db_unavailable(resp);
    }

    /* codes: only their state; the text is never kept */
    json_t *codes = json_array();
    json_object_set_new(out, "codes", codes);
    res = adm_query(ctx,
        "SELECT status, created_at, revoked_at, expires_at"
        " FROM codes WHERE student_id = %lu ORDER BY id DESC"
        " LIMIT 20",
        sid);
    if (res == NULL)
        goto fail;
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_array_append_new(codes,
            json_pack("{s:s,s:o,s:o,s:o}", "status", row[0], "created_at",
                time_or_null(row[1]), "revoked_at", time_or_null(row[2]),
                "expires_at", time_or_null(row[3])));
    }
    mysql_free_result(res);

    json_t *caps = capture_list(ctx, sid);
    if (caps == NULL)
        goto fail;
    json_object_set_new(out, "captures", caps);

    json_t *drafts = json_array();
    json_object_set_new(out, "drafts", drafts);
    res = adm_query(ctx,
        "SELECT id, capture_id, created_at, status, deleted_at"
        " FROM drafts WHERE student_id = %lu ORDER BY id DESC"
        " LIMIT 50",
        sid);
    if (res == NULL)
        goto fail;
    while ((row = mysql_fetch_row(res)) != NULL) {
        char url[96];
        snprintf(url, sizeof(url), "/admin/api/v1/captures/%s/photo", row[1]);
        json_array_append_new(drafts,
            json_pack("{s:I,s:I,s:o,s:s,s:o,s:s}", "id",
                (json_int_t) strtoll(row[0], NULL, 10), "capture_id",
                (json_int_t) strtoll(row[1], NULL, 10), "created_at",
                time_or_null(row[2]), "status", row[3], "deleted_at",
                time_or_null(row[4]), "photo_url", url));
    }
    mysql_free_result(res);

    res = adm_query(ctx,
        "SELECT out_trade_no, status, amount_fen, draft_id,"
        " created_at, paid_at, expires_at FROM orders"
        " WHERE student_id = %lu ORDER BY live IS NULL, id DESC"
        " LIMIT 1",
        sid);
    if (res == NULL)
        goto fail;
    row = mysql_fetch_row(res);
    json_object_set_new(out, "order",
        row == NULL ? json_null()
                    : json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:o}", "out_trade_no",
                        row[0], "status", row[1], "amount_fen",
                        (json_int_t) strtoll(row[2], NULL, 10), "draft_id",
                        (json_int_t) strtoll(row[3], NULL, 10), "created_at",
                        time_or_null(row[4]), "paid_at", time_or_null(row[5]),
                        "expires_at", time_or_null(row[6])));
    mysql_free_result(res);

    res = adm_query(
        ctx, "SELECT produced_at FROM photos WHERE student_id = %lu", sid);
    if (res == NULL)
        goto fail;
    row = mysql_fetch_row(res);
    char purl[96];
    snprintf(purl, sizeof(purl), "/admin/api/v1/students/%s/photo", no);
    json_object_set_new(out, "photo",
        row == NULL ? json_null()
                    : json_pack("{s:o,s:s}", "produced_at",
                        time_or_null(row[0]), "url", purl));
    mysql_free_result(res);

    json_t *audit = json_array();
    json_object_set_new(out, "audit", audit);
    res = adm_query(ctx,
        "SELECT a.action, a.detail, a.created_at, t.username FROM audit_log a"
        " LEFT JOIN teachers t ON t.id = a.teacher_id"
        " WHERE a.school_id = %u AND a.target = %s ORDER BY a.id DESC LIMIT %d",
        who.school_id, no, STU_MAX_AUDIT);
    if (res == NULL)
        goto fail;
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_t *d = row[1] ? json_loads(row[1], 0, NULL) : NULL;
        json_array_append_new(audit,
            json_pack("{s:s,s:o,s:o,s:s?}", "action", row[0], "detail",
                d ? d : json_null(), "at", time_or_null(row[2]), "teacher",
                row[3]));
    }
    mysql_free_result(res);
    return resp_json(resp, 200, out);

fail:
    json_decref(out);
    return resp_db_unavailable(resp);
}

static int
safe_rel(const char *p)
{
    return p[0] && p[0] != '/' && strstr(p, "..") == NULL && strlen(p) < 256;
}

/* GET /admin/api/v1/captures/{id}/photo */
int
admin_capture_photo(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t   who;
    char        id[24], uri[512];
    const char *ct = "image/jpeg";

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    if (req->param.len == 0 || req->param.len >= sizeof(id)) {
        return adm_not_found(resp);
    }
    memcpy(id, req->param.p, req->param.len);
    id[req->param.len] = '\0';
    for (size_t i = 0; id[i]; i++) {
        if (id[i] < '0' || id[i] > '9')
            return adm_not_found(resp);
    }
    MYSQL_RES *res = adm_query(ctx,
        "SELECT d.photo_path, c.original_path FROM captures c"
        " JOIN students s ON s.id = c.student_id"
        " LEFT JOIN drafts d ON d.capture_id = c.id"
        " WHERE c.id = %lu AND s.school_id = %u LIMIT 1",
        (uint64_t) strtoull(id, NULL, 10), who.school_id);
    if (res == NULL) {
        return resp_db_unavailable(resp);
    }
    MYSQL_ROW   row = mysql_fetch_row(res);
    const char *path = row == NULL   ? NULL
        : row[0] && safe_rel(row[0]) ? row[0]
        : row[1] && safe_rel(row[1]) ? row[1]
                                     : NULL;
    if (path == NULL) {
        mysql_free_result(res);
        return adm_not_found(resp);
    }
    /* originals keep the upload's format */
    const char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".png") == 0)
        ct = "image/png";
    else if (dot && strcmp(dot, ".webp") == 0)
        ct = "image/webp";
    else if (dot && (strcmp(dot, ".heic") == 0 || strcmp(dot, ".heif") == 0))
        ct = "image/heic";
    snprintf(uri, sizeof(uri), "%s/%s", ctx->cfg->storage_uri, path);
    mysql_free_result(res);
    return resp_redirect(resp, uri, ct);
}
