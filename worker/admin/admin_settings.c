/*
 * admin_settings.c -- the school's own settings: contact, fee, notice (a
 * changed text gets a new version, so students must acknowledge it again),
 * guide video, subscription templates and the photo spec (validated by the
 * photo pipeline's own parser, so a saved spec is one it accepts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "handlers.h"
#include "photo.h"

#define SET_MAX_NOTICE_BODY 20000  /* bytes */
#define SET_MAX_FEE_FEN     100000 /* 1000 yuan */
#define SET_MAX_VIDEO_S     3600

#define BEIJING_OFFSET (8 * 3600)

/* A window bound as its Beijing date "YYYY-MM-DD" (JSON null when open);
 * the end is stored as the first second after its day. */
static json_t *
window_date(const char *v, int is_end)
{
    char buf[16];
    if (v == NULL)
        return json_null();
    time_t t =
        (time_t) (strtoll(v, NULL, 10) + BEIJING_OFFSET - (is_end ? 1 : 0));
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    return json_string(buf);
}

/* "YYYY-MM-DD" (Beijing) -> Unix time of its first second, plus a day when
 * is_end; 0 ok, -1 not a date. */
static int
parse_window_date(const char *s, int is_end, int64_t *out)
{
    int  y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || strlen(s) != 10
        || y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31)
    {
        return -1;
    }
    struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };
    time_t    t = timegm(&tm);
    gmtime_r(&t, &tm);
    if (tm.tm_mday != d)
        return -1; /* 2026-02-30 */
    *out = (int64_t) t - BEIJING_OFFSET + (is_end ? 86400 : 0);
    return 0;
}

static json_t *
settings_json(tucai_ctx_t *ctx, uint32_t school)
{
    MYSQL_RES *res = adm_query(ctx,
        "SELECT id, name, contact, fee_fen, notice_version, notice_title,"
        " notice_body, video_url, video_duration_s, tpl_photo_status,"
        " tpl_payment_result, spec_json, window_start, window_end"
        " FROM schools WHERE id = %u",
        school);
    if (res == NULL)
        return NULL;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return NULL;
    }
    photo_spec_t spec;
    photo_spec_default(&spec);
    int custom = 0;
    if (row[11] && row[11][0]) {
        json_t *j = json_loads(row[11], 0, NULL);
        char    err[128];
        if (j && photo_spec_from_json(&spec, j, err, sizeof(err)) == 0) {
            custom = 1;
        }
        json_decref(j);
    }
    json_t *out = json_pack(
        "{s:{s:i,s:s,s:s},s:i,s:{s:i,s:s,s:s},s:{s:s,s:i},s:{s:s,s:s},s:o,s:b}",
        "school", "id", atoi(row[0]), "name", row[1], "contact", row[2],
        "fee_fen", atoi(row[3]), "notice", "version", atoi(row[4]), "title",
        row[5], "body", row[6], "video", "url", row[7], "duration_s",
        atoi(row[8]), "templates", "photo_status", row[9], "payment_result",
        row[10], "spec", photo_spec_to_json(&spec), "spec_custom", custom);
    if (out != NULL) {
        json_object_set_new(out, "window",
            json_pack("{s:o,s:o}", "start", window_date(row[12], 0), "end",
                window_date(row[13], 1)));
    }
    mysql_free_result(res);
    return out;
}

/* A value for the audit log: long texts (the notice) are cut. */
static json_t *
audit_value(json_t *v)
{
    if (json_is_string(v) && json_string_length(v) > 120) {
        char        buf[128];
        const char *p = json_string_value(v);
        size_t      n = 117;
        while (n > 0 && ((unsigned char) p[n] & 0xc0) == 0x80)
            n--; /* whole UTF-8 */
        snprintf(buf, sizeof(buf), "%.*s...", (int) n, p);
        return json_string(buf);
    }
    return json_incref(v);
}

/* changes["a.b"] = [old, new] for every leaf that differs. */
static void
diff_settings(json_t *changes, const char *prefix, json_t *a, json_t *b)
{
    const char *key;
    json_t     *va;
    json_object_foreach (a, key, va) {
        json_t *vb = json_object_get(b, key);
        char    path[96];
        snprintf(
            path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        if (json_is_object(va) && json_is_object(vb)) {
            diff_settings(changes, path, va, vb);
        } else if (vb && !json_equal(va, vb)) {
            json_object_set_new(changes, path,
                json_pack("[o,o]", audit_value(va), audit_value(vb)));
        }
    }
}

int
admin_settings_get(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    json_t *s = settings_json(ctx, who.school_id);
    return s ? resp_json(resp, 200, s) : resp_db_unavailable(resp);
}

static int
bad(tucai_resp_t *resp, const char *field, const char *zh, const char *en)
{
    return resp_error(
        resp, 400, "BAD_REQUEST", zh, en, json_pack("{s:s}", "field", field));
}

/* A string member: absent -> NULL (unchanged); wrong type or too long ->
 * *err = 1. */
static const char *
str_member(json_t *o, const char *k, size_t max, int *err)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL)
        return NULL;
    if (!json_is_string(v) || json_string_length(v) > max
        || strlen(json_string_value(v)) != json_string_length(v))
    {
        *err = 1;
        return NULL;
    }
    return json_string_value(v);
}

static int
valid_url(const char *u)
{
    if (u[0] == '\0')
        return 1; /* none */
    if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7) && u[0] != '/') {
        return 0;
    }
    for (; *u; u++) {
        if ((unsigned char) *u <= 0x20 || *u == '"' || *u == '<' || *u == '>') {
            return 0;
        }
    }
    return 1;
}

static int
valid_template(const char *t)
{
    for (; *t; t++) {
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z')
                || (*t >= '0' && *t <= '9') || *t == '-' || *t == '_'))
        {
            return 0;
        }
    }
    return 1;
}

/* POST /admin/api/v1/settings: any subset of
 *   {"contact","fee_fen","notice":{"title","body"},"video":{"url","duration_s"},
 *    "templates":{"photo_status","payment_result"},"spec":{...}|null,
 *    "window":{"start":"YYYY-MM-DD"|null,"end":"YYYY-MM-DD"|null}}
 * -> the settings as GET shows them. */
int
admin_settings_set(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t          who;
    json_t            *b;
    int                err = 0;
    static const char *known[] = { "contact", "fee_fen", "notice", "video",
        "window", "templates", "spec", NULL };

    if (adm_auth(ctx, req, resp, &who) != 0
        || adm_json_body(req, resp, &b) != 0) {
        return 0;
    }
    const char *key;
    json_t     *val;
    json_object_foreach (b, key, val) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            bad(resp, key, "未知的设置项", "unknown setting");
            json_decref(b);
            return 0;
        }
    }

    const char *contact = str_member(b, "contact", 255, &err);
    if (err) {
        json_decref(b);
        return bad(
            resp, "contact", "联系方式过长", "contact too long (max 255)");
    }

    json_t *fee = json_object_get(b, "fee_fen");
    if (fee
        && (!json_is_integer(fee) || json_integer_value(fee) < 0
            || json_integer_value(fee) > SET_MAX_FEE_FEN))
    {
        json_decref(b);
        return bad(resp, "fee_fen", "费用应为 0-100000 分",
            "fee_fen must be 0..100000");
    }

    json_t     *notice = json_object_get(b, "notice");
    const char *ntitle = NULL, *nbody = NULL;
    if (notice) {
        if (!json_is_object(notice)) {
            json_decref(b);
            return bad(
                resp, "notice", "notice 应为对象", "notice must be an object");
        }
        ntitle = str_member(notice, "title", 255, &err);
        if (err) {
            json_decref(b);
            return bad(
                resp, "notice.title", "标题过长", "title too long (max 255)");
        }
        nbody = str_member(notice, "body", SET_MAX_NOTICE_BODY, &err);
        if (err) {
            json_decref(b);
            return bad(resp, "notice.body", "正文过长",
                "body too long (max 20000 bytes)");
        }
    }

    json_t     *video = json_object_get(b, "video");
    const char *vurl = NULL;
    json_t     *vdur = NULL;
    if (video) {
        if (!json_is_object(video)) {
            json_decref(b);
            return bad(
                resp, "video", "video 应为对象", "video must be an object");
        }
        vurl = str_member(video, "url", 512, &err);
        if (err || (vurl && !valid_url(vurl))) {
            json_decref(b);
            return bad(resp, "video.url", "视频地址无效",
                "invalid video url (http(s)://, max 512)");
        }
        vdur = json_object_get(video, "duration_s");
        if (vdur
            && (!json_is_integer(vdur) || json_integer_value(vdur) < 1
                || json_integer_value(vdur) > SET_MAX_VIDEO_S))
        {
            json_decref(b);
            return bad(resp, "video.duration_s", "视频时长应为 1-3600 秒",
                "duration_s must be 1..3600");
        }
    }

    json_t     *tpl = json_object_get(b, "templates");
    const char *tps = NULL, *tpr = NULL;
    if (tpl) {
        if (!json_is_object(tpl)) {
            json_decref(b);
            return bad(resp, "templates", "templates 应为对象",
                "templates must be an object");
        }
        tps = str_member(tpl, "photo_status", 128, &err);
        if (!err)
            tpr = str_member(tpl, "payment_result", 128, &err);
        if (err || (tps && !valid_template(tps))
            || (tpr && !valid_template(tpr))) {
            json_decref(b);
            return bad(
                resp, "templates", "模板 ID 无效", "invalid template id");
        }
    }

    /* the collection window: Beijing dates, either side may be open */
    json_t *win = json_object_get(b, "window");
    int64_t wstart = 0, wend = 0;
    int     has_wstart = 0, has_wend = 0;
    if (win) {
        json_t *ws = json_object_get(win, "start"),
               *we = json_object_get(win, "end");
        if (!json_is_object(win)
            || (ws && !json_is_null(ws)
                && (!json_is_string(ws)
                    || parse_window_date(json_string_value(ws), 0, &wstart)
                        != 0))
            || (we && !json_is_null(we)
                && (!json_is_string(we)
                    || parse_window_date(json_string_value(we), 1, &wend) != 0)))
        {
            json_decref(b);
            return bad(resp, "window", "采集时间应为 YYYY-MM-DD 格式的日期",
                "window dates must be YYYY-MM-DD");
        }
        has_wstart = json_is_string(ws);
        has_wend = json_is_string(we);
        if (has_wstart && has_wend && wend <= wstart) {
            json_decref(b);
            return bad(resp, "window", "采集结束日期不能早于开始日期",
                "the window ends before it starts");
        }
    }

    int     has_spec = json_object_get(b, "spec") != NULL;
    json_t *spec = json_object_get(b, "spec");
    char   *spec_text = NULL;
    if (has_spec && !json_is_null(spec)) {
        photo_spec_t s;
        char         perr[160] = "";
        photo_spec_default(&s);
        if (!json_is_object(spec)
            || photo_spec_from_json(&s, spec, perr, sizeof(perr)) != 0)
        {
            char en[220];
            snprintf(en, sizeof(en), "invalid photo spec: %s",
                perr[0] ? perr : "not an object");
            json_decref(b);
            return resp_error(resp, 400, "BAD_REQUEST", "照片规格无效", en,
                json_pack("{s:s}", "field", "spec"));
        }
        /* Store the normalised, complete spec. */
        json_t *norm = photo_spec_to_json(&s);
        spec_text = norm ? json_dumps(norm, JSON_COMPACT) : NULL;
        json_decref(norm);
        if (spec_text == NULL) {
            json_decref(b);
            return resp_db_unavailable(resp);
        }
    }

    int      fail = adm_begin(ctx) != 0;
    uint64_t sid = who.school_id;
    json_t  *before = fail ? NULL : settings_json(ctx, who.school_id);
    if (!fail && contact)
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET contact = %s WHERE id = %lu", contact, sid);
    if (!fail && fee)
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET fee_fen = %d WHERE id = %lu",
            (int) json_integer_value(fee), sid);
    if (!fail && (ntitle || nbody))
        /* The version moves only when the text really changes. */
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET notice_version = notice_version +"
            " IF(notice_title <=> COALESCE(%s, notice_title)"
            "    AND notice_body <=> COALESCE(%s, notice_body), 0, 1),"
            " notice_title = COALESCE(%s, notice_title),"
            " notice_body = COALESCE(%s, notice_body) WHERE id = %lu",
            ntitle, nbody, ntitle, nbody, sid);
    if (!fail && vurl)
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET video_url = %s WHERE id = %lu", vurl, sid);
    if (!fail && vdur)
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET video_duration_s = %d WHERE id = %lu",
            (int) json_integer_value(vdur), sid);
    if (!fail && tps)
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET tpl_photo_status = %s WHERE id = %lu", tps,
            sid);
    if (!fail && tpr)
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET tpl_payment_result = %s WHERE id = %lu", tpr,
            sid);
    if (!fail && win)
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET window_start = IF(%d, %ld, NULL),"
            " window_end = IF(%d, %ld, NULL) WHERE id = %lu",
            has_wstart, wstart, has_wend, wend, sid);
    if (!fail && has_spec)
        fail = adm_exec(ctx, NULL,
            "UPDATE schools SET spec_json = %s WHERE id = %lu", spec_text, sid);
    free(spec_text);

    if (!fail) {
        json_t *keys = json_array();
        json_object_foreach (b, key, val)
            json_array_append_new(keys, json_string(key));
        json_t *after = settings_json(ctx, who.school_id);
        json_t *changes = json_object();
        if (before && after) {
            diff_settings(changes, "", before, after);
        }
        json_decref(after);
        json_t *d = json_pack("{s:o,s:o}", "changed", keys, "changes", changes);
        fail = adm_audit(ctx, req, &who, "settings.update", "", d) != 0;
        json_decref(d);
    }
    json_decref(before);
    json_decref(b);
    if (fail || adm_commit(ctx) != 0) {
        adm_rollback(ctx);
        return resp_db_unavailable(resp);
    }
    json_t *s = settings_json(ctx, who.school_id);
    return s ? resp_json(resp, 200, s) : resp_db_unavailable(resp);
}
