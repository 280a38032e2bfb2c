/*
 * admin_auth.c -- who is asking (teacher claims checked against the
 * database, so a deleted teacher's live token stops working) and the small
 * request parsers every back-office handler shares.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

int
adm_not_found(tucai_resp_t *resp)
{
    return resp_error(resp, 404, "NOT_FOUND", "未找到", "not found", NULL);
}

int
adm_auth(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    adm_who_t *who)
{
    if (req->hdr.role != TUCAI_ROLE_TEACHER || req->hdr.subject == 0
        || req->hdr.subject > UINT32_MAX || req->hdr.school == 0)
    {
        resp_refuse(resp, TUCAI_ERR_UNAUTHORIZED, NULL);
        return -1;
    }
    if (ctx->db == NULL) {
        resp_db_unavailable(resp);
        return -1;
    }
    uint64_t school;
    int      rc = adm_query_u64(ctx, &school,
             "SELECT school_id FROM teachers WHERE id = %lu", req->hdr.subject);
    if (rc < 0) {
        resp_db_unavailable(resp);
        return -1;
    }
    if (rc == 0 || school != req->hdr.school) {
        resp_refuse(resp, TUCAI_ERR_SESSION_ENDED, NULL);
        return -1;
    }
    who->teacher_id = (uint32_t) req->hdr.subject;
    who->school_id = req->hdr.school;
    return 0;
}

int
adm_json_body(const tucai_req_t *req, tucai_resp_t *resp, json_t **out)
{
    json_error_t err;
    json_t      *j = NULL;

    if (req->body_len > 0) {
        j = json_loadb((const char *) req->body, req->body_len,
            JSON_REJECT_DUPLICATES, &err);
    }
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        resp_refuse(resp, TUCAI_ERR_BAD_JSON, NULL);
        return -1;
    }
    *out = j;
    return 0;
}

int
adm_reason(const tucai_req_t *req, tucai_resp_t *resp, char *buf, size_t n)
{
    json_t *j, *r;

    buf[0] = '\0';
    if (req->body_len == 0) {
        return 0; /* the reason is optional for API clients */
    }
    if (adm_json_body(req, resp, &j) != 0) {
        return -1;
    }
    r = json_object_get(j, "reason");
    if (r != NULL && !json_is_null(r)
        && (!json_is_string(r) || json_string_length(r) >= n))
    {
        json_decref(j);
        resp_error(resp, 400, "BAD_REQUEST", "原因应为不超过 200 字节的文字",
            "reason must be text of at most 200 bytes",
            json_pack("{s:s}", "field", "reason"));
        return -1;
    }
    if (json_is_string(r)) {
        snprintf(buf, n, "%s", json_string_value(r));
    }
    json_decref(j);
    return 0;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
adm_query_param(tstr q, const char *key, char *buf, size_t n)
{
    size_t klen = strlen(key), i = 0;

    while (i < q.len) {
        size_t end = i;
        while (end < q.len && q.p[end] != '&')
            end++;
        if (end - i > klen && memcmp(q.p + i, key, klen) == 0
            && q.p[i + klen] == '=') {
            size_t o = 0;
            for (size_t j = i + klen + 1; j < end; j++) {
                int c = (unsigned char) q.p[j];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && j + 2 < end && hexval(q.p[j + 1]) >= 0
                    && hexval(q.p[j + 2]) >= 0)
                {
                    c = hexval(q.p[j + 1]) * 16 + hexval(q.p[j + 2]);
                    j += 2;
                }
                if (o + 1 >= n) {
                    break; /* truncated: callers bound lengths anyway */
                }
                buf[o++] = (char) c;
            }
            buf[o] = '\0';
            return 1;
        }
        if (end - i == klen && memcmp(q.p + i, key, klen) == 0) {
            buf[0] = '\0';
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

int
adm_valid_student_no(const char *s, size_t len)
{
    if (len == 0 || len > 32) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (!(isalnum(c) || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

int
adm_param_student_no(
    const tucai_req_t *req, tucai_resp_t *resp, char *buf, size_t n)
{
    if (!adm_valid_student_no(req->param.p, req->param.len)
        || req->param.len >= n) {
        adm_not_found(resp);
        return -1;
    }
    memcpy(buf, req->param.p, req->param.len);
    buf[req->param.len] = '\0';
    return 0;
}
