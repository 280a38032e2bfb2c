/*
 * journey_capture.c -- POST /api/v1/captures (steps 8-12): one capture,
 * multipart "photo" + "frames" (liveness burst, 0..CAP_MAX_FRAMES) +
 * "meta" (JSON {camera, source}).
 *
 * Order of the rules (the database is the authority, nginx only caches):
 *   step shoot, submit or pay (retaking is allowed until payment);
 *   423 LOCKED liveness (teacher unlock) / quality (self-ending, "until");
 *   429 COOLING_DOWN {"retry_after","until"};
 *   409 DRAFTS_FULL when the box holds capacity drafts;
 *   415 UNSUPPORTED_FORMAT for bytes that are no JPEG/PNG/WebP/HEIF;
 *   409 UPLOAD_IN_PROGRESS: at most tucai_uploads_in_flight (default 1)
 *   captures per student at a time across all hosts: one of the MariaDB
 *   leases 'tucai:cap:<student>' (slot 0, the historical name) or
 *   'tucai:cap:<student>:<k>' (k = 1..N-1) must be free (lease.h).
 * Then the upload is checked and produced by photo_process(), and the
 * original is stored (temp + fsync + rename) just before the rows.
 *   Decode failures (422 CORRUPT_IMAGE, 415 UNSUPPORTED_FORMAT) are not
 *   attempts: no row, no cooldown, nothing stored.
 *   A failed check inserts the capture, sets the cooldown and the
 *   consecutive counters in one transaction; answers 422 CHECK_FAILED
 *   {"verdict","until","retry_after","attempts_left"}, or 423 LOCKED
 *   {"lock","until"?,"verdict"} when this very failure locked the account.
 *   A pass stores the produced JPEG, inserts capture + draft, resets the
 *   counters: 201 {"draft","verdict","step"}.
 * Files written for a transaction that does not commit are removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "journey.h"
#include "lease.h"
#include "metrics.h"
#include "multipart.h"
#include "outbox.h"
#include "pay.h"
#include "photo.h"

#define CAP_MAX_FRAMES  8
#define CAP_META_MAX    1024
/* An upload slot outlives any capture (request_timeout is 30 s): it lapses
 * by itself only when its host died. */
#define CAP_SLOT_TTL    120

/* Per child: libvips and the configured defaults, loaded on first use. */
static int                photo_ready;
static photo_spec_t       base_spec;
static photo_thresholds_t base_th;

static int
photo_setup(tucai_ctx_t *ctx)
{
    char    err[200];
    json_t *j;

    if (photo_ready) {
        return 0;
    }
    if (photo_init("tucai-worker") != 0) {
        return -1;
    }
    photo_spec_default(&base_spec);
    photo_thresholds_default(&base_th);
    if (ctx->cfg->photo_spec_file[0] != '\0') {
        j = json_load_file(ctx->cfg->photo_spec_file, 0, NULL);
        if (j == NULL || photo_spec_from_json(&base_spec, j, err, sizeof(err))) {
            fprintf(stderr, "journey: bad [photo] spec_file %s\n",
                    ctx->cfg->photo_spec_file);
        }
        json_decref(j);
    }
    if (ctx->cfg->photo_thresholds_file[0] != '\0') {
        j = json_load_file(ctx->cfg->photo_thresholds_file, 0, NULL);
        if (j == NULL
            || photo_thresholds_from_json(&base_th, j, err, sizeof(err)))
        {
            fprintf(stderr, "journey: bad [photo] thresholds_file %s\n",
                    ctx->cfg->photo_thresholds_file);
        }
        json_decref(j);
    }
    photo_ready = 1;
    return 0;
}

/* The school's spec: its spec_json over the configured default. */
static int
school_spec(tucai_ctx_t *ctx, uint32_t school_id, photo_spec_t *spec)
{
    char    buf[8192], err[200];
    json_t *j;
    int     rc;

    *spec = base_spec;
    rc = db_query_str(ctx, buf, sizeof(buf),
                      "SELECT spec_json FROM schools WHERE id = %lu",
                      (uint64_t) school_id);
    if (rc < 0) {
        return -1;
    }
    if (rc == 1 && buf[0] != '\0') {
        j = json_loads(buf, 0, NULL);
        if (j == NULL || photo_spec_from_json(spec, j, err, sizeof(err))) {
            /* A broken school spec must not block students: default. */
            fprintf(stderr, "journey: school %u: bad spec_json, using default\n",
                    school_id);
            *spec = base_spec;
        }
        json_decref(j);
    }
    return 0;
}

static const char *
sniff_ext(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "jpg";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return "png";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) {
        return "webp";
    }
    if (n >= 12 && memcmp(b + 4, "ftyp", 4) == 0) return "heic";
    return NULL;
}

/* The student's lock/cooldown/box answers, or 0 when capturing may go on. */
static int
state_refusal(const tucai_req_t *req, const jst_t *st, tucai_resp_t *resp)
{
    int64_t  now = (int64_t) time(NULL);
    uint32_t cap = journey_policy(req, TUCAI_POL_DRAFTS_CAPACITY);

    journey_state(resp, req, st);
    if (st->lock_kind == TUCAI_LOCK_LIVENESS) {
        resp_refuse(resp, TUCAI_ERR_LOCKED_LIVENESS,
                   json_pack("{s:s,s:s}", "lock", "liveness",
                             "contact", st->contact));
        return -1;
    }
    if (st->lock_kind == TUCAI_LOCK_QUALITY) {
        resp->retry_after = (uint32_t) (st->lock_until - now);
        resp_refuse(resp, TUCAI_ERR_LOCKED_QUALITY,
                   json_pack("{s:s,s:o,s:I}", "lock", "quality",
                             "until", journey_time(st->lock_until),
                             "retry_after",
                             (json_int_t) (st->lock_until - now)));
        return -1;
    }
    if (st->cooldown_until > now) {
        resp->retry_after = (uint32_t) (st->cooldown_until - now);
        resp_refuse(resp, TUCAI_ERR_COOLING_DOWN,
                   json_pack("{s:I,s:o}", "retry_after",
                             (json_int_t) (st->cooldown_until - now),
                             "until", journey_time(st->cooldown_until)));
        return -1;
    }
    if ((uint32_t) st->ndrafts >= cap) {
        resp_error(resp, 409, "DRAFTS_FULL",
                   "草稿箱已满，请先删除一张草稿",
                   "the drafts box is full; delete a draft first",
                   json_pack("{s:I}", "capacity", (json_int_t) cap));
        return -1;
    }
    return 0;
}

typedef struct {
    photo_input_t        in;
    const unsigned char *frames[CAP_MAX_FRAMES];
    size_t               frame_lens[CAP_MAX_FRAMES];
    const char          *ext;
} capture_input_t;

/* A meta value as a short token ("back", "album"): only [A-Za-z0-9_.-]
 * is kept, so a cut never splits a UTF-8 sequence and the stored column
 * and the progress keys stay plain. */
static void
meta_copy(char *dst, size_t n, const char *s)
{
    size_t len = 0;

    for (; s != NULL && *s != '\0' && len + 1 < n; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
            || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'
            || *s == '-')
        {
            dst[len++] = *s;
        }
    }
    dst[len] = '\0';
}

/* Parses the multipart upload into ci, or answers the error: -1. */
static int
parse_upload(const tucai_req_t *req, tucai_resp_t *resp, capture_input_t *ci)
{
    mp_part_t        parts[MP_MAX_PARTS];
    const mp_part_t *photo = NULL, *meta = NULL;
    const char      *b, *err;
    size_t           blen;
    int              np, i;
    json_t          *m;

    memset(ci, 0, sizeof(*ci));
    if (req->body_len > journey_policy(req, TUCAI_POL_MAX_UPLOAD)) {
        return resp_refuse(resp, TUCAI_ERR_BODY_TOO_LARGE,
                           json_pack("{s:I}", "limit", (json_int_t)
                                     journey_policy(req, TUCAI_POL_MAX_UPLOAD))),
               -1;
    }
    if (mp_boundary(req->content_type.p, req->content_type.len, &b, &blen)) {
        return resp_error(resp, 400, "BAD_MULTIPART",
                          "请以 multipart/form-data 上传",
                          "expected multipart/form-data with a boundary",
                          NULL), -1;
    }
    np = mp_parse(req->body, req->body_len, b, blen, parts, MP_MAX_PARTS, &err);
    if (np < 0) {
        return resp_error(resp, 400, "BAD_MULTIPART", "上传格式错误",
                          "bad multipart body",
                          json_pack("{s:s}", "detail", err)), -1;
    }
    for (i = 0; i < np; i++) {
        if (mp_named(&parts[i], "photo")) {
            if (photo != NULL) {
                goto dup;
            }
            photo = &parts[i];
        } else if (mp_named(&parts[i], "frames")
                   || mp_named(&parts[i], "frames[]"))
        {
            if (ci->in.nframes == CAP_MAX_FRAMES) {
                return resp_error(resp, 400, "BAD_REQUEST", "活体帧过多",
                                  "too many liveness frames",
                                  json_pack("{s:s,s:i}", "field", "frames",
                                            "limit", CAP_MAX_FRAMES)), -1;
            }
            ci->frames[ci->in.nframes] = parts[i].data;
            ci->frame_lens[ci->in.nframes++] = parts[i].len;
        } else if (mp_named(&parts[i], "meta")) {
            if (meta != NULL) {
                goto dup;
            }
            meta = &parts[i];
        }
    }
    if (photo == NULL || photo->len == 0) {
        return resp_error(resp, 400, "BAD_REQUEST", "请上传照片",
                          "field photo is missing",
                          json_pack("{s:s}", "field", "photo")), -1;
    }
    ci->ext = sniff_ext(photo->data, photo->len);
    if (ci->ext == NULL) {
        return resp_error(resp, 415, "UNSUPPORTED_FORMAT",
                          "不支持的图片格式，请上传 JPEG、PNG、HEIC 或 WebP",
                          "unsupported image format (JPEG, PNG, HEIC, WebP)",
                          NULL), -1;
    }
    ci->in.photo = photo->data;
    ci->in.photo_len = photo->len;
    ci->in.frames = ci->frames;
    ci->in.frame_lens = ci->frame_lens;
    ci->in.judge_liveness = 1;
    if (meta != NULL) {
        m = meta->len <= CAP_META_MAX
            ? json_loadb((const char *) meta->data, meta->len, 0, NULL) : NULL;
        if (!json_is_object(m)) {
            json_decref(m);
            return resp_error(resp, 400, "BAD_JSON", "meta 不是有效的 JSON",
                              "meta is not a JSON object",
                              json_pack("{s:s}", "field", "meta")), -1;
        }
        meta_copy(ci->in.meta.camera, sizeof(ci->in.meta.camera),
                  json_string_value(json_object_get(m, "camera")));
        meta_copy(ci->in.meta.source, sizeof(ci->in.meta.source),
                  json_string_value(json_object_get(m, "source")));
        json_decref(m);
    }
    return 0;

dup:
    return resp_error(resp, 400, "BAD_REQUEST", "重复的字段",
                      "duplicated field", NULL), -1;
}

/* Comma-separated reason codes of a verdict (captures.reasons). */
static void
reason_codes(json_t *verdict, char *out, size_t n)
{
    json_t *r;
    size_t  i, len = 0;
    const char *c;

    out[0] = '\0';
    json_array_foreach(json_object_get(verdict, "reasons"), i, r) {
        c = json_string_value(json_object_get(r, "code"));
        if (c == NULL || len + strlen(c) + 2 >= n) {
            continue;
        }
        len += (size_t) snprintf(out + len, n - len, "%s%s", len ? "," : "", c);
    }
}

/* The subscribe message for a check result, queued in the caller's
 * transaction: the message exists iff the capture does.  The dedupe key's
 * prefix names the outbox kind (check_passed / check_failed). */
static void
notify(tucai_ctx_t *ctx, uint64_t sid, uint64_t capture_id, int pass)
{
    char key[64];

    snprintf(key, sizeof(key), "%s:%llu", pass ? "check_passed" : "check_failed",
             (unsigned long long) capture_id);
    (void) outbox_photo_status(ctx, sid, key,
                               pass ? "照片检测通过，已存入草稿箱"
                                    : "照片未通过检测，请查看原因后重拍",
                               pass ? "已通过" : "未通过");
}

/* The captures row of an attempt, with the client's meta (camera,
 * source) so the back office sees how the photo was taken. 0 or -1. */
static int
insert_capture(tucai_ctx_t *ctx, const jst_t *st, int64_t now, int pass,
    const char *reasons, const char *verdict_text, const char *orig,
    const photo_meta_t *meta, uint64_t *capture_id)
{
    if (db_exec(ctx, "INSERT INTO captures (student_id, created_at, pass,"
                " reasons, verdict_json, original_path, camera, source) VALUES"
                " (%lu, %ld, %d, %s, %s, %s, %s, %s)", st->student_id, now, pass,
                reasons, verdict_text, orig, meta->camera, meta->source) != 1)
    {
        return -1;
    }
    *capture_id = db_insert_id(ctx);
    return 0;
}

/* Pass: draft file + rows.  Answers 201; or cleans up and returns -1
 * (database) or -2 (storage) for the caller to answer. */
static int
store_pass(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    jst_t *st, photo_result_t *res, const char *orig, char *verdict_text,
    const photo_meta_t *meta)
{
    char     rel[256], hex[17];
    int64_t  now = (int64_t) time(NULL), n;
    uint64_t capture_id, draft_id;
    json_t  *o;

    if (journey_random_hex(hex, sizeof(hex), 8) != 0) {
        return -2;
    }
    snprintf(rel, sizeof(rel), "drafts/%llu/%lld-%s.jpg",
             (unsigned long long) st->student_id, (long long) now, hex);
    if (journey_write_file(ctx->cfg->storage_dir, rel, res->jpeg,
                           res->jpeg_len) != 0)
    {
        return -2;              /* storage, not the database */
    }
    if (journey_txn(ctx) != 0
        || insert_capture(ctx, st, now, 1, "", verdict_text, orig, meta,
                          &capture_id) != 0)
    {
        goto fail;
    }
    if (db_exec(ctx, "INSERT INTO drafts (student_id, capture_id, created_at,"
                " photo_path, original_path) VALUES (%lu, %lu, %ld, %s, %s)",
                st->student_id, capture_id, now, rel, orig) != 1)
    {
        goto fail;
    }
    draft_id = db_insert_id(ctx);
    /* An ended quality lock is cleared for good (lock_kind is assigned
     * first, so lock_until sees its new value). */
    n = db_exec(ctx, "UPDATE students SET liveness_fails = 0, quality_fails = 0,"
                " attempts = attempts + 1, lock_kind = IF(lock_kind = 2 AND"
                " lock_until <= %ld, 0, lock_kind), lock_until ="
                " IF(lock_kind = 0, 0, lock_until), updated_at = %ld WHERE id = %lu",
                now, now, st->student_id);
    if (n < 0) {
        goto fail;
    }
    notify(ctx, st->student_id, capture_id, 1);
    if (db_commit(ctx) != 0) {
        goto fail;
    }
    if (journey_load(ctx, st->account_id, st) == 0) {
        journey_step_sync(ctx, st);
    }
    journey_state(resp, req, st);
    o = json_pack("{s:o,s:O,s:s}", "draft",
                  journey_draft_json(req, draft_id, now),
                  "verdict", res->verdict, "step", journey_step_name(st->step));
    return resp_json(resp, 201, o);

fail:
    db_rollback(ctx);
    journey_unlink(ctx->cfg->storage_dir, rel);
    return -1;
}

/* Failed check: counters, cooldown, maybe a lock, in one transaction. */
static int
store_fail(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    jst_t *st, photo_result_t *res, const char *orig, char *verdict_text,
    const photo_meta_t *meta)
{
    char       reasons[512];
    int64_t    now = (int64_t) time(NULL), cooldown_until, lock_until = 0;
    uint32_t   lf, qf, lock_after_l, lock_after_q, left;
    int        lock_kind = TUCAI_LOCK_NONE, rc;
    uint64_t   capture_id;
    MYSQL_RES *r;
    MYSQL_ROW  row;

    lock_after_l = journey_policy(req, TUCAI_POL_LIVENESS_LOCK_AFTER);
    lock_after_q = journey_policy(req, TUCAI_POL_QUALITY_LOCK_AFTER);
    cooldown_until = now + journey_policy(req, TUCAI_POL_COOLDOWN_S);
    reason_codes(res->verdict, reasons, sizeof(reasons));

    if (journey_txn(ctx) != 0) {
        return -1;
    }
    rc = jdb_row(ctx, &r, &row, "SELECT liveness_fails, quality_fails"
                 " FROM students WHERE id = %lu FOR UPDATE", st->student_id);
    if (rc <= 0) {
        goto fail;
    }
    lf = (uint32_t) jsql_u64(row[0]);
    qf = (uint32_t) jsql_u64(row[1]);
    mysql_free_result(r);

    /* Consecutive per kind; only a pass resets them. */
    if (res->liveness_failed) {
        lf++;
    } else {
        qf++;
    }
    if (lf >= lock_after_l) {
        lock_kind = TUCAI_LOCK_LIVENESS;     /* until a teacher unlocks */
    } else if (qf >= lock_after_q) {
        lock_kind = TUCAI_LOCK_QUALITY;
        lock_until = now + journey_policy(req, TUCAI_POL_QUALITY_LOCK_S);
        qf = 0;     /* the lock served the count: start afresh after it */
    }

    if (insert_capture(ctx, st, now, 0, reasons, verdict_text, orig, meta,
                       &capture_id) != 0)
    {
        goto fail;
    }
    if (db_exec(ctx, "UPDATE students SET liveness_fails = %u,"
                " quality_fails = %u, attempts = attempts + 1,"
                " cooldown_until = %ld,"
                " lock_kind = IF(%d <> 0, %d, IF(lock_kind = 2 AND"
                " lock_until <= %ld, 0, lock_kind)),"
                " lock_until = IF(%d <> 0, %ld, IF(lock_kind = 0, 0, lock_until)),"
                " updated_at = %ld WHERE id = %lu", lf, qf, cooldown_until,
                lock_kind, lock_kind, now, lock_kind, lock_until, now,
                st->student_id) < 0)
    {
        goto fail;
    }
    notify(ctx, st->student_id, capture_id, 0);
    if (db_commit(ctx) != 0) {
        goto fail;
    }

    resp_state(resp, req->hdr.subject, (uint64_t) cooldown_until, lock_kind,
               (uint64_t) lock_until);
    if (lock_kind == TUCAI_LOCK_LIVENESS) {
        return resp_refuse(resp, TUCAI_ERR_LOCKED_LIVENESS,
                          json_pack("{s:s,s:O,s:s}", "lock", "liveness",
                                    "verdict", res->verdict,
                                    "contact", st->contact));
    }
    if (lock_kind == TUCAI_LOCK_QUALITY) {
        resp->retry_after = (uint32_t) (lock_until - now);
        return resp_refuse(resp, TUCAI_ERR_LOCKED_QUALITY,
                          json_pack("{s:s,s:o,s:I,s:O}", "lock", "quality",
                                    "until", journey_time(lock_until),
                                    "retry_after",
                                    (json_int_t) (lock_until - now),
                                    "verdict", res->verdict));
    }
    left = lock_after_l - lf < lock_after_q - qf ? lock_after_l - lf
                                                 : lock_after_q - qf;
    resp->retry_after = (uint32_t) (cooldown_until - now);
    return resp_error(resp, 422, "CHECK_FAILED",
                      "照片未通过检测，请按提示调整后重拍",
                      "the photo failed the check; see the reasons",
                      json_pack("{s:O,s:o,s:I,s:I}", "verdict", res->verdict,
                                "until", journey_time(cooldown_until),
                                "retry_after",
                                (json_int_t) (cooldown_until - now),
                                "attempts_left", (json_int_t) left));

fail:
    db_rollback(ctx);
    return -1;
}

/*
 * Takes the first free of the student's N upload slots: leases (lease.h),
 * so the limit holds across hosts and database nodes; a crashed child's
 * slot is freed by its replacement, a crashed host's after CAP_SLOT_TTL.
 * *got is 1 with lockname set, 0 when every slot is busy; -1 on DB error.
 */
static int
take_slot(tucai_ctx_t *ctx, const tucai_req_t *req, uint64_t sid,
    char *lockname, size_t n, int64_t *got)
{
    uint32_t slots = journey_policy(req, TUCAI_POL_UPLOADS_IN_FLIGHT), k;

    /* nginx bounds the knob to 1..16; a raw frame must not ask for more. */
    slots = slots < 1 ? 1 : slots > 16 ? 16 : slots;
    *got = 0;
    for (k = 0; k < slots; k++) {
        if (k == 0) {
            snprintf(lockname, n, "tucai:cap:%llu", (unsigned long long) sid);
        } else {
            snprintf(lockname, n, "tucai:cap:%llu:%u",
                     (unsigned long long) sid, k);
        }
        switch (db_lease_take(ctx, lockname, CAP_SLOT_TTL)) {
        case -1:
            return -1;
        case 1:
            *got = 1;
            return 0;
        }
    }
    return 0;
}

int
journey_capture(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t            st;
    capture_input_t  ci;
    photo_spec_t     spec;
    photo_thresholds_t th;
    photo_result_t   res;
    char             lockname[64], orig[256], hex[17], *verdict_text = NULL;
    int64_t          got = 0, now;
    int              rc = -1, have_res = 0;

    if (journey_begin(ctx, req, resp, &st) != 0
        || journey_guard(&st, J_BIT(J_SHOOT) | J_BIT(J_SUBMIT) | J_BIT(J_PAY),
                         resp) != 0
        || state_refusal(req, &st, resp) != 0
        || parse_upload(req, resp, &ci) != 0)
    {
        return 0;
    }

    if (take_slot(ctx, req, st.student_id, lockname, sizeof(lockname), &got)
        != 0)
    {
        return resp_db_unavailable(resp);
    }
    if (got != 1) {
        return resp_refuse(resp, TUCAI_ERR_UPLOAD_IN_PROGRESS, NULL);
    }

    /* Under the lock, the authoritative state again: a capture that just
     * ended on another host may have set a cooldown or filled the box. */
    if (journey_load(ctx, st.account_id, &st) != 0) {
        resp_db_unavailable(resp);
        goto out;
    }
    if (journey_guard(&st, J_BIT(J_SHOOT) | J_BIT(J_SUBMIT) | J_BIT(J_PAY),
                      resp) != 0
        || state_refusal(req, &st, resp) != 0)
    {
        goto out;
    }

    if (photo_setup(ctx) != 0 || school_spec(ctx, st.school_id, &spec) != 0) {
        resp_error(resp, 503, "PHOTO_UNAVAILABLE", "照片服务暂不可用，请稍后重试",
                   "photo service unavailable, retry shortly",
                   json_pack("{s:i}", "retry_after", 5));
        goto out;
    }
    th = base_th;
    th.max_bytes = journey_policy(req, TUCAI_POL_MAX_UPLOAD);

    now = (int64_t) time(NULL);
    if (journey_random_hex(hex, sizeof(hex), 8) != 0) {
        goto storage;
    }
    snprintf(orig, sizeof(orig), "originals/%llu/%lld-%s.%s",
             (unsigned long long) st.student_id, (long long) now, hex, ci.ext);

    if (photo_process(&ci.in, &spec, &th, 1, &res) != 0) {
        resp_error(resp, 503, "PHOTO_UNAVAILABLE", "照片处理失败，请稍后重试",
                   "photo processing failed, retry shortly",
                   json_pack("{s:i}", "retry_after", 5));
        goto out;
    }
    have_res = 1;
    {
        /* the pool's photo stage histograms (metrics.h) */
        int64_t us[METRICS_NSTAGES];
        int     k;

        _Static_assert(METRICS_NSTAGES == PHOTO_NSTAGES, "photo stages");
        for (k = 0; k < METRICS_NSTAGES; k++) {
            us[k] = res.stage_ms[k] < 0 ? -1 : (int64_t) (res.stage_ms[k] * 1000);
        }
        metrics_stages(us);
    }

    if (res.decode_failed) {
        /* Not an attempt: no row, no cooldown, nothing kept. */
        if (res.decode_code != NULL
            && strcmp(res.decode_code, "UNSUPPORTED_FORMAT") == 0)
        {
            resp_error(resp, 415, "UNSUPPORTED_FORMAT",
                       "不支持的图片格式，请上传 JPEG、PNG、HEIC 或 WebP",
                       "unsupported image format",
                       json_pack("{s:O}", "verdict", res.verdict));
        } else {
            resp_error(resp, 422, "CORRUPT_IMAGE", "图片已损坏或无法读取，请重拍",
                       "the image is corrupt or unreadable",
                       json_pack("{s:O}", "verdict", res.verdict));
        }
        goto out;
    }

    verdict_text = json_dumps(res.verdict,
                              JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (verdict_text == NULL) {
        goto storage;
    }

    /* The original is written only now, after the check (the bytes are in
     * memory anyway): a child killed mid-check leaves no file behind. */
    if (journey_write_file(ctx->cfg->storage_dir, orig, ci.in.photo,
                           ci.in.photo_len) != 0)
    {
        goto storage;
    }
    rc = res.pass && res.jpeg != NULL
         ? store_pass(ctx, req, resp, &st, &res, orig, verdict_text,
                      &ci.in.meta)
         : store_fail(ctx, req, resp, &st, &res, orig, verdict_text,
                      &ci.in.meta);
    if (rc != 0) {
        /* Nothing committed: the original goes too. */
        journey_unlink(ctx->cfg->storage_dir, orig);
        if (rc == -2) {
            goto storage;
        }
        resp_db_unavailable(resp);
    }
    goto out;

storage:
    resp_error(resp, 503, "STORAGE_UNAVAILABLE", "存储暂不可用，请稍后重试",
               "storage unavailable, retry shortly",
               json_pack("{s:i}", "retry_after", 5));
out:
    free(verdict_text);
    if (have_res) {
        photo_result_free(&res);
    }
    if (got == 1) {
        (void) db_lease_release(ctx, lockname);
    }
    return 0;
}
