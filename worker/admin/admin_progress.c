/*
 * admin_progress.c -- GET /admin/api/v1/progress: where the school stands.
 * -> {"total","by_step":{step:n},"locked":{"liveness","quality"},
 *     "bound","photos_ready","codes":{"active","revoked"},
 *     "captures":{"total","passed","failed",
 *                 "by_source":{SRC:{"total","passed"}},
 *                 "by_camera":{CAM:{"total","passed"}}},
 *     "failure_reasons":{CODE:n}}
 * Failure reasons are counted per failed capture from captures.reasons
 * (comma-separated codes), so a capture failing two checks counts in both.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "handlers.h"

static const char *steps[] = {
    "code", "phone", "confirm", "notice", "subscribe", "video", "shoot",
    "submit", "pay", "producing", "done", NULL
};

/* by[key] += {"total": n, "passed": p}; an empty key is "unknown". */
static void
progress_add(json_t *by, const char *key, json_int_t n, json_int_t p)
{
    json_t *cur;

    if (key == NULL || key[0] == '\0') {
        key = "unknown";
    }
    cur = json_object_get(by, key);
    if (cur == NULL) {
        cur = json_pack("{s:I,s:I}", "total", (json_int_t) 0,
                        "passed", (json_int_t) 0);
        if (cur == NULL || json_object_set_new(by, key, cur) != 0) {
            return;
        }
    }
    json_object_set_new(cur, "total", json_integer(
        json_integer_value(json_object_get(cur, "total")) + n));
    json_object_set_new(cur, "passed", json_integer(
        json_integer_value(json_object_get(cur, "passed")) + p));
}

int
admin_progress(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    MYSQL_RES *res;
    MYSQL_ROW row;
    int64_t now = (int64_t) time(NULL);

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }

    json_t *by_step = json_object();
    for (int i = 0; steps[i]; i++) {
        json_object_set_new(by_step, steps[i], json_integer(0));
    }
    json_t *out = json_pack("{s:o}", "by_step", by_step);

    res = adm_query(ctx, "SELECT step, COUNT(*) FROM students WHERE school_id = %u"
                         " GROUP BY step", who.school_id);
    if (res == NULL) goto fail;
    json_int_t total = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_int_t n = strtoll(row[1], NULL, 10);
        total += n;
        json_object_set_new(by_step, row[0], json_integer(n));
    }
    mysql_free_result(res);
    json_object_set_new(out, "total", json_integer(total));

    res = adm_query(ctx,
        "SELECT COALESCE(SUM(lock_kind = 1), 0),"
        " COALESCE(SUM(lock_kind = 2 AND lock_until > %ld), 0),"
        " COALESCE(SUM(account_id IS NOT NULL), 0),"
        " (SELECT COUNT(*) FROM photos p JOIN students s2 ON s2.id = p.student_id"
        "   WHERE s2.school_id = %u),"
        " (SELECT COALESCE(SUM(status = 'active'), 0) FROM codes WHERE school_id = %u),"
        " (SELECT COALESCE(SUM(status = 'revoked'), 0) FROM codes WHERE school_id = %u)"
        " FROM students WHERE school_id = %u",
        now, who.school_id, who.school_id, who.school_id, who.school_id);
    if (res == NULL) goto fail;
    row = mysql_fetch_row(res);
    if (row) {
        json_object_set_new(out, "locked", json_pack("{s:I,s:I}",
            "liveness", (json_int_t) strtoll(row[0], NULL, 10),
            "quality", (json_int_t) strtoll(row[1], NULL, 10)));
        json_object_set_new(out, "bound", json_integer(strtoll(row[2], NULL, 10)));
        json_object_set_new(out, "photos_ready", json_integer(strtoll(row[3], NULL, 10)));
        json_object_set_new(out, "codes", json_pack("{s:I,s:I}",
            "active", (json_int_t) strtoll(row[4], NULL, 10),
            "revoked", (json_int_t) strtoll(row[5], NULL, 10)));
    }
    mysql_free_result(res);

    res = adm_query(ctx,
        "SELECT COUNT(*), COALESCE(SUM(c.pass = 1), 0) FROM captures c"
        " JOIN students s ON s.id = c.student_id WHERE s.school_id = %u",
        who.school_id);
    if (res == NULL) goto fail;
    row = mysql_fetch_row(res);
    json_int_t ctotal = row ? strtoll(row[0], NULL, 10) : 0;
    json_int_t cpass = row ? strtoll(row[1], NULL, 10) : 0;
    mysql_free_result(res);
    json_t *caps = json_pack("{s:I,s:I,s:I}",
        "total", ctotal, "passed", cpass, "failed", ctotal - cpass);
    json_object_set_new(out, "captures", caps);

    /* How the photos were taken, from the client's capture meta (step 7):
     * album pictures or front-camera shots stand out here.  "" (no meta)
     * is counted as "unknown". */
    json_t *by_source = json_object(), *by_camera = json_object();
    json_object_set_new(caps, "by_source", by_source);
    json_object_set_new(caps, "by_camera", by_camera);
    res = adm_query(ctx,
        "SELECT c.source, c.camera, COUNT(*), COALESCE(SUM(c.pass = 1), 0)"
        " FROM captures c JOIN students s ON s.id = c.student_id"
        " WHERE s.school_id = %u GROUP BY c.source, c.camera LIMIT 10000",
        who.school_id);
    if (res == NULL) goto fail;
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_int_t n = strtoll(row[2], NULL, 10);
        json_int_t p = strtoll(row[3], NULL, 10);
        progress_add(by_source, row[0], n, p);
        progress_add(by_camera, row[1], n, p);
    }
    mysql_free_result(res);

    /* Grouping by the whole reasons string keeps the rows few (distinct
     * combinations), then each combination is split here. */
    json_t *reasons = json_object();
    json_object_set_new(out, "failure_reasons", reasons);
    res = adm_query(ctx,
        "SELECT c.reasons, COUNT(*) FROM captures c"
        " JOIN students s ON s.id = c.student_id"
        " WHERE s.school_id = %u AND c.pass = 0 GROUP BY c.reasons LIMIT 10000",
        who.school_id);
    if (res == NULL) goto fail;
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_int_t n = strtoll(row[1], NULL, 10);
        char *save = NULL, *list = strdup(row[0] ? row[0] : "");
        if (list == NULL) continue;
        for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if (strlen(t) > 40) continue;
            json_t *cur = json_object_get(reasons, t);
            json_object_set_new(reasons, t,
                json_integer((cur ? json_integer_value(cur) : 0) + n));
        }
        free(list);
    }
    mysql_free_result(res);
    return resp_json(resp, 200, out);

fail:
    json_decref(out);
    return resp_db_unavailable(resp);
}
