/*
 * journey_util.c -- helpers shared by the journey endpoints: request JSON,
 * time and draft objects, common errors, tokens, randomness and atomic
 * file writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "journey.h"
#include "token.h"

json_t *
journey_json_body(const tucai_req_t *req, tucai_resp_t *resp)
{
    json_t      *o;
    json_error_t err;

    if (req->body_len == 0) {
        return json_object(); /* "{}" may be sent as nothing */
    }
    o = json_loadb(
        (const char *) req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        resp_refuse(resp, TUCAI_ERR_BAD_JSON, NULL);
        return NULL;
    }
    return o;
}

json_t *
journey_time(int64_t t)
{
    char buf[32];

    if (t <= 0) {
        return json_null();
    }
    return json_string(tucai_rfc3339(buf, sizeof(buf), t));
}

int
journey_unauthorized(tucai_resp_t *resp)
{
    return resp_refuse(resp, TUCAI_ERR_SESSION_ENDED, NULL);
}

int
journey_not_found(tucai_resp_t *resp)
{
    return resp_error(resp, 404, "NOT_FOUND", "不存在", "not found", NULL);
}

int
journey_token(tucai_ctx_t *ctx, uint64_t subject, uint32_t school, char *out,
    size_t n, int *expires_in)
{
    if (token_issue(ctx->cfg, 's', subject, school, out, n) != 0) {
        return -1;
    }
    *expires_in = ctx->cfg->token_ttl_s;
    return 0;
}

int
journey_random_hex(char *out, size_t n, size_t nbytes)
{
    unsigned char raw[64];
    size_t        i;

    if (nbytes > sizeof(raw) || n < 2 * nbytes + 1
        || RAND_bytes(raw, (int) nbytes) != 1)
    {
        return -1;
    }
    for (i = 0; i < nbytes; i++) {
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    }
    out[2 * nbytes] = '\0';
    return 0;
}

json_t *
journey_student_json(const jst_t *st)
{
    return json_pack("{s:s,s:s,s:s,s:I}", "name", st->name, "student_no",
        st->student_no, "school", st->school_name, "school_id",
        (json_int_t) st->school_id);
}

json_t *
journey_draft_json(const tucai_req_t *req, uint64_t id, int64_t created_at)
{
    char    url[96];
    int64_t delay = journey_policy(req, TUCAI_POL_DRAFT_DELETE_DELAY_S);

    snprintf(url, sizeof(url), "/api/v1/drafts/%" PRIu64 "/photo", id);
    return json_pack("{s:I,s:o,s:o,s:s}", "id", (json_int_t) id, "created_at",
        journey_time(created_at), "deletable_at",
        journey_time(created_at + delay), "photo_url", url);
}

json_t *
journey_drafts_json(tucai_ctx_t *ctx, const tucai_req_t *req, const jst_t *st)
{
    MYSQL_RES *res;
    MYSQL_ROW  row;
    json_t    *a;

    a = json_array();
    if (!st->bound) {
        return a;
    }
    res = db_query(ctx,
        "SELECT id, created_at FROM drafts"
        " WHERE student_id = %lu AND status = 'draft'"
        " ORDER BY created_at, id LIMIT 100",
        st->student_id);
    if (res == NULL) {
        json_decref(a);
        return NULL;
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_array_append_new(
            a, journey_draft_json(req, jsql_u64(row[0]), jsql_i64(row[1])));
    }
    mysql_free_result(res);
    return a;
}

static int
mkdirs(char *path)
{
    char *p;

    for (p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                *p = '/';
                return -1;
            }
            *p = '/';
        }
    }
    return 0;
}

int
journey_write_file(
    const char *dir, const char *rel, const unsigned char *data, size_t len)
{
    char    path[PATH_MAX], tmp[PATH_MAX + 32], hex[17];
    int     fd, saved;
    size_t  off = 0;
    ssize_t w;

    if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path)
        || journey_random_hex(hex, sizeof(hex), 8) != 0)
    {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, hex);
    if (mkdirs(path) != 0) {
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    while (off < len) {
        w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            goto fail;
        }
        off += (size_t) w;
    }
    /* Durable before it becomes visible under its final name. */
    if (fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        goto fail;
    }
    return 0;

fail:
    saved = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    errno = saved;
    return -1;
}

void
journey_unlink(const char *dir, const char *rel)
{
    char path[PATH_MAX];

    if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, rel) < sizeof(path))
    {
        (void) unlink(path);
    }
}

int
journey_first_row(MYSQL_RES **res, MYSQL_ROW *row)
{
    if (*res == NULL) {
        return -1;
    }
    *row = mysql_fetch_row(*res);
    if (*row == NULL) {
        mysql_free_result(*res);
        *res = NULL;
        return 0;
    }
    return 1;
}

int
journey_txn(tucai_ctx_t *ctx)
{
    if (db_exec(ctx, "SET SESSION innodb_lock_wait_timeout = 5") < 0) {
        return -1;
    }
    return db_begin(ctx);
}

uint64_t
jsql_u64(const char *s)
{
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

int64_t
jsql_i64(const char *s)
{
    return s != NULL ? strtoll(s, NULL, 10) : 0;
}

void
jsql_copy(char *dst, size_t n, const char *s)
{
    if (n > 0) {
        snprintf(dst, n, "%s", s != NULL ? s : "");
    }
}

uint32_t
journey_policy(const tucai_req_t *req, int idx)
{
    static const uint32_t defaults[TUCAI_NPOLICY] = {
        [TUCAI_POL_COOLDOWN_S] = 60,
        [TUCAI_POL_LIVENESS_LOCK_AFTER] = 3,
        [TUCAI_POL_QUALITY_LOCK_AFTER] = 5,
        [TUCAI_POL_QUALITY_LOCK_S] = 1800,
        [TUCAI_POL_DRAFTS_CAPACITY] = 3,
        [TUCAI_POL_DRAFT_DELETE_DELAY_S] = 86400,
        [TUCAI_POL_MAX_UPLOAD] = 15u * 1024 * 1024,
        [TUCAI_POL_UPLOADS_IN_FLIGHT] = 1,
    };

    int i;

    if (idx < 0 || idx >= TUCAI_NPOLICY) {
        return 0;
    }
    /* nginx always sends every knob (0 is a real delete delay); a frame
     * with no knobs at all (a tool talking to the pool) gets the defaults. */
    for (i = 0; i < TUCAI_NPOLICY; i++) {
        if (req->hdr.policy[i] != 0) {
            return req->hdr.policy[idx];
        }
    }
    return defaults[idx];
}
