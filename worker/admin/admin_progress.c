/*
 * admin_progress.c -- GET /admin/api/v1/progress: where the school stands.
 * -> {"total","by_step":{step:n},"locked":{"liveness","quality"},
 *     "bound","photos_ready","codes":{"active","revoked"},
 *     "captures":{"total","passed","failed",
 *                 "by_source":{SRC:{"total","passed"}},
 *                 "by_camera":{CAM:{"total","passed"}}},
 *     "failure_reasons":{CODE:n},
 *     "orders":{"paid","free","unpaid","paid_fen"},
 *     "by_class":[{"class","total","bound","shot","drafted","paid",
 *                  "photos_ready","locked"}],
 *     "by_day":[{"date","captures","passed","paid","photos"}]}
 * by_class is sorted by class name (null = students without a class);
 * by_day has the last PROGRESS_DAYS days in Beijing time (UTC+8, the
 * schools' time zone), oldest first, days without activity included.
 * Failure reasons are counted per failed capture from captures.reasons
 * (comma-separated codes), so a capture failing two checks counts in both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "handlers.h"

#define PROGRESS_DAYS  30
#define BEIJING_OFFSET (8 * 3600)

static const char *steps[] = { "code", "phone", "confirm", "notice",
    "subscribe", "video", "shoot", "submit", "pay", "producing", "done", NULL };

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
        cur = json_pack(
            "{s:I,s:I}", "total", (json_int_t) 0, "passed", (json_int_t) 0);
        if (cur == NULL || json_object_set_new(by, key, cur) != 0) {
            return;
        }
    }
    json_object_set_new(cur, "total",
        json_integer(json_integer_value(json_object_get(cur, "total")) + n));
    json_object_set_new(cur, "passed",
        json_integer(json_integer_value(json_object_get(cur, "passed")) + p));
}

/* day number in Beijing time of a Unix time */
static int64_t
bj_day(int64_t t)
{
    return (t + BEIJING_OFFSET) / 86400;
}

/* Orders, the per-class table and the per-day series.  0 or -1. */
static int
progress_more(tucai_ctx_t *ctx, const adm_who_t *who, json_t *out, int64_t now)
{
    MYSQL_RES *res;
    MYSQL_ROW  row;

    res = adm_query(ctx,
        "SELECT COALESCE(SUM(status = 'PAID'), 0), COALESCE(SUM(status = 'FREE'), 0),"
        " COALESCE(SUM(status = 'UNPAID' AND live = 1), 0),"
        " COALESCE(SUM(IF(status = 'PAID', amount_fen, 0)), 0)"
        " FROM orders WHERE school_id = %u",
        who->school_id);
    if (res == NULL)
        return -1;
    row = mysql_fetch_row(res);
    json_object_set_new(out, "orders",
        json_pack("{s:I,s:I,s:I,s:I}", "paid",
            (json_int_t) (row ? strtoll(row[0], NULL, 10) : 0), "free",
            (json_int_t) (row ? strtoll(row[1], NULL, 10) : 0), "unpaid",
            (json_int_t) (row ? strtoll(row[2], NULL, 10) : 0), "paid_fen",
            (json_int_t) (row ? strtoll(row[3], NULL, 10) : 0)));
    mysql_free_result(res);

    /* one pass over the school's students; the EXISTS probes use the
     * primary/student keys of photos, orders and drafts */
    json_t *by_class = json_array();
    json_object_set_new(out, "by_class", by_class);
    res = adm_query(ctx,
        "SELECT NULLIF(s.class, ''), COUNT(*), COALESCE(SUM(s.account_id IS NOT NULL), 0),"
        " COALESCE(SUM(s.attempts > 0), 0),"
        " COALESCE(SUM(EXISTS (SELECT 1 FROM drafts d WHERE d.student_id = s.id)), 0),"
        " COALESCE(SUM(EXISTS (SELECT 1 FROM orders o WHERE o.student_id = s.id"
        "   AND o.status IN ('PAID', 'FREE'))), 0),"
        " COALESCE(SUM(EXISTS (SELECT 1 FROM photos p WHERE p.student_id = s.id)), 0),"
        " COALESCE(SUM(s.lock_kind = 1 OR (s.lock_kind = 2 AND s.lock_until > %ld)), 0)"
        " FROM students s WHERE s.school_id = %u GROUP BY NULLIF(s.class, '')"
        " ORDER BY NULLIF(s.class, '') IS NULL, NULLIF(s.class, '') LIMIT 2000",
        now, who->school_id);
    if (res == NULL)
        return -1;
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_array_append_new(by_class,
            json_pack("{s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "class", row[0],
                "total", (json_int_t) strtoll(row[1], NULL, 10), "bound",
                (json_int_t) strtoll(row[2], NULL, 10), "shot",
                (json_int_t) strtoll(row[3], NULL, 10), "drafted",
                (json_int_t) strtoll(row[4], NULL, 10), "paid",
                (json_int_t) strtoll(row[5], NULL, 10), "photos_ready",
                (json_int_t) strtoll(row[6], NULL, 10), "locked",
                (json_int_t) strtoll(row[7], NULL, 10)));
    }
    mysql_free_result(res);

    /* per day: captures (and passed), paid orders, produced photos */
    int64_t    today = bj_day(now), first = today - PROGRESS_DAYS + 1;
    int64_t    since = first * 86400 - BEIJING_OFFSET;
    json_int_t cnt[PROGRESS_DAYS][4];
    memset(cnt, 0, sizeof(cnt));
    res = adm_query(ctx,
        "SELECT FLOOR((c.created_at + %d) / 86400), COUNT(*), COALESCE(SUM(c.pass = 1), 0)"
        " FROM captures c JOIN students s ON s.id = c.student_id"
        " WHERE s.school_id = %u AND c.created_at >= %ld GROUP BY 1"
        " UNION ALL SELECT FLOOR((paid_at + %d) / 86400), -COUNT(*), 0 FROM orders"
        " WHERE school_id = %u AND status = 'PAID' AND paid_at >= %ld GROUP BY 1"
        " UNION ALL SELECT FLOOR((p.produced_at + %d) / 86400), 0, -COUNT(*)"
        " FROM photos p JOIN students s ON s.id = p.student_id"
        " WHERE s.school_id = %u AND p.produced_at >= %ld GROUP BY 1",
        BEIJING_OFFSET, who->school_id, since, BEIJING_OFFSET, who->school_id,
        since, BEIJING_OFFSET, who->school_id, since);
    if (res == NULL)
        return -1;
    /* the three unions are told apart by sign: captures (n, passed),
     * payments (-n, 0), photos (0, -n) */
    while ((row = mysql_fetch_row(res)) != NULL) {
        int64_t    d = strtoll(row[0], NULL, 10) - first;
        json_int_t a = strtoll(row[1], NULL, 10), b = strtoll(row[2], NULL, 10);
        if (d < 0 || d >= PROGRESS_DAYS)
            continue;
        if (a > 0) {
            cnt[d][0] += a;
            cnt[d][1] += b;
        } else if (a < 0)
            cnt[d][2] += -a;
        else
            cnt[d][3] += -b;
    }
    mysql_free_result(res);
    json_t *by_day = json_array();
    json_object_set_new(out, "by_day", by_day);
    for (int i = 0; i < PROGRESS_DAYS; i++) {
        char      date[16];
        time_t    t = (time_t) ((first + i) * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d", &tm);
        json_array_append_new(by_day,
            json_pack("{s:s,s:I,s:I,s:I,s:I}", "date", date, "captures",
                cnt[i][0], "passed", cnt[i][1], "paid", cnt[i][2], "photos",
                cnt[i][3]));
    }
    return 0;
}

int
admin_progress(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t  who;
    MYSQL_RES *res;
    MYSQL_ROW  row;
    int64_t    now = (int64_t) time(NULL);

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }

    json_t *by_step = json_object();
    for (int i = 0; steps[i]; i++) {
        json_object_set_new(by_step, steps[i], json_integer(0));
    }
    json_t *out = json_pack("{s:o}", "by_step", by_step);

    res = adm_query(ctx,
        "SELECT step, COUNT(*) FROM students WHERE school_id = %u"
        " GROUP BY step",
        who.school_id);
    if (res == NULL)
        goto fail;
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
    if (res == NULL)
        goto fail;
    row = mysql_fetch_row(res);
    if (row) {
        json_object_set_new(out, "locked",
            json_pack("{s:I,s:I}", "liveness",
                (json_int_t) strtoll(row[0], NULL, 10), "quality",
                (json_int_t) strtoll(row[1], NULL, 10)));
        json_object_set_new(
            out, "bound", json_integer(strtoll(row[2], NULL, 10)));
        json_object_set_new(
            out, "photos_ready", json_integer(strtoll(row[3], NULL, 10)));
        json_object_set_new(out, "codes",
            json_pack("{s:I,s:I}", "active",
                (json_int_t) strtoll(row[4], NULL, 10), "revoked",
                (json_int_t) strtoll(row[5], NULL, 10)));
    }
    mysql_free_result(res);

    res = adm_query(ctx,
        "SELECT COUNT(*), COALESCE(SUM(c.pass = 1), 0) FROM captures c"
        " JOIN students s ON s.id = c.student_id WHERE s.school_id = %u",
        who.school_id);
    if (res == NULL)
        goto fail;
    row = mysql_fetch_row(res);
    json_int_t ctotal = row ? strtoll(row[0], NULL, 10) : 0;
    json_int_t cpass = row ? strtoll(row[1], NULL, 10) : 0;
    mysql_free_result(res);
    json_t *caps = json_pack("{s:I,s:I,s:I}", "total", ctotal, "passed", cpass,
        "failed", ctotal - cpass);
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
    if (res == NULL)
        goto fail;
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
    if (res == NULL)
        goto fail;
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_int_t n = strtoll(row[1], NULL, 10);
        char      *save = NULL, *list = strdup(row[0] ? row[0] : "");
        if (list == NULL)
            continue;
        for (char *t = strtok_r(list, ", ", &save); t;
             t = strtok_r(NULL, ", ", &save)) {
            if (strlen(t) > 40)
                continue;
            json_t *cur = json_object_get(reasons, t);
            json_object_set_new(reasons, t,
                json_integer((cur ? json_integer_value(cur) : 0) + n));
        }
        free(list);
    }
    mysql_free_result(res);

    if (progress_more(ctx, &who, out, now) != 0)
        goto fail;
    return resp_json(resp, 200, out);

fail:
    json_decref(out);
    return resp_db_unavailable(resp);
}
