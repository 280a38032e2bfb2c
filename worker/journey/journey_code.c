/*
 * journey_code.c -- POST /api/v1/code (step 3): the collection code, typed
 * or scanned as text (JSON {"code"}) or as a picture of its QR code
 * (multipart field "image", decoded here).  Codes are looked up by their
 * SHA-256 only.  Success remembers the student on the account (pending
 * until confirm); it binds nothing yet.
 *
 * Errors: 404 CODE_UNKNOWN, 410 CODE_REVOKED (also for an expired code,
 * with "reason":"expired", so clients need only the codes of API.md),
 * 403 COLLECTION_NOT_OPEN / COLLECTION_CLOSED (outside the school's
 * window, with window_start/window_end),
 * 409 CODE_BOUND_ELSEWHERE, 422 QR_NOT_FOUND; each with "contact" when
 * the school is known (from the code row, or the code's school prefix).
 * Allowed at steps code, phone, confirm (scanning again replaces it).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "handlers.h"
#include "journey.h"
#include "multipart.h"
#include "qr.h"

#define CODE_TEXT_MAX 64

/* The code inside scanned text: trimmed, or the value of a "code=" URL
 * parameter when the QR holds a link.  0 or -1 when empty/too long. */
static int
extract_code(const char *in, size_t n, char *out, size_t outn)
{
    const char *p = in, *end = in + n, *q;
    size_t      len;

    q = memmem(in, n, "code=", 5);
    if (q != NULL) {
        p = q + 5;
        for (q = p; q < end && *q != '&' && *q != '#'; q++) {
        }
        end = q;
    }
    while (p < end && isspace((unsigned char) *p))
        p++;
    while (end > p && isspace((unsigned char) end[-1]))
        end--;
    len = (size_t) (end - p);
    if (len == 0 || len > CODE_TEXT_MAX || len >= outn) {
        return -1;
    }
    memcpy(out, p, len);
    out[len] = '\0';
    return memchr(out, '\0', len) != NULL ? -1 : 0;
}

static json_t *
contact_extra(const char *contact)
{
    return json_pack("{s:s}", "contact", contact);
}

/* Unknown code: name the school's office if the prefix is a school id. */
static int
unknown(tucai_ctx_t *ctx, const char *code, tucai_resp_t *resp)
{
    char          contact[260] = "";
    char         *dash;
    json_t       *extra = NULL;
    unsigned long id;

    dash = strchr(code, '-');
    if (dash != NULL && dash > code && dash - code <= 9
        && strspn(code, "0123456789") == (size_t) (dash - code))
    {
        id = strtoul(code, NULL, 10);
        if (db_query_str(ctx, contact, sizeof(contact),
                "SELECT contact FROM schools WHERE id = %lu", (uint64_t) id)
            == 1)
        {
            extra = contact_extra(contact);
        }
    }
    return resp_error(resp, 404, "CODE_UNKNOWN",
        "采集码无效，请核对或联系学校图像采集工作部门",
        "unknown collection code; check it or contact your "
        "school's photo office",
        extra);
}

/* Looks the code up; 1 found (row in *res), 0 none, -1 error. */
static int
lookup(tucai_ctx_t *ctx, const char *code, MYSQL_RES **res, MYSQL_ROW *row)
{
    unsigned char h[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *) code, strlen(code), h);
    return jdb_row(ctx, res, row,
        "SELECT c.id, c.status, c.expires_at, s.id, s.account_id,"
        " sc.contact, sc.window_start, sc.window_end FROM codes c"
        " JOIN students s ON s.id = c.student_id"
        " JOIN schools sc ON sc.id = s.school_id"
        " WHERE c.code_hash = %*s",
        (int) sizeof(h), h);
}

/* The code text from the request, or -1 with the answer in resp. */
static int
code_from_request(
    const tucai_req_t *req, tucai_resp_t *resp, char *code, size_t n)
{
    mp_part_t        parts[MP_MAX_PARTS];
    const mp_part_t *img;
    const char      *b, *err, *s;
    size_t           blen;
    int              np, rc;
    char             text[QR_MAX_TEXT + 1];
    json_t          *body;

    if (mp_is_form(req->content_type.p, req->content_type.len)) {
        if (mp_boundary(req->content_type.p, req->content_type.len, &b, &blen)
            != 0) {
            return resp_error(resp, 400, "BAD_MULTIPART", "上传格式错误",
                       "bad multipart Content-Type", NULL),
                   -1;
        }
        np = mp_parse(
            req->body, req->body_len, b, blen, parts, MP_MAX_PARTS, &err);
        if (np < 0) {
            return resp_error(resp, 400, "BAD_MULTIPART", "上传格式错误",
                       "bad multipart body", json_pack("{s:s}", "detail", err)),
                   -1;
        }
        img = mp_find(parts, np, "image");
        if (img == NULL || img->len == 0) {
            return resp_error(resp, 400, "BAD_REQUEST", "请上传采集码图片",
                       "field image is missing",
                       json_pack("{s:s}", "field", "image")),
                   -1;
        }
        rc = qr_decode(img->data, img->len, text, sizeof(text));
        if (rc != 0 || extract_code(text, strlen(text), code, n) != 0) {
            return resp_error(resp, 422, "QR_NOT_FOUND",
                       "图片中没有识别到采集码二维码，请重新拍摄或手动输入",
                       "no readable QR code in the picture", NULL),
                   -1;
        }
        return 0;
    }

    body = journey_json_body(req, resp);
    if (body == NULL) {
        return -1;
    }
    s = json_string_value(json_object_get(body, "code"));
    if (s == NULL || s[0] == '\0') {
        json_decref(body);
        return resp_error(resp, 400, "BAD_REQUEST", "请输入采集码",
                   "field code is missing",
                   json_pack("{s:s}", "field", "code")),
               -1;
    }
    rc = extract_code(s, strlen(s), code, n);
    json_decref(body);
    if (rc != 0) {
        code[0] = '\0'; /* too long or empty: simply unknown */
    }
    return 0;
}

int
journey_code(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t      st;
    char       code[CODE_TEXT_MAX + 1], upper[CODE_TEXT_MAX + 1];
    MYSQL_RES *res = NULL;
    MYSQL_ROW  row;
    int        rc, i;
    uint64_t   code_id, student_id;
    int64_t    expires_at, now = (int64_t) time(NULL);
    char       contact[260];

    if (journey_begin(ctx, req, resp, &st) != 0) {
        return 0;
    }
    if (journey_guard(
            &st, J_BIT(J_CODE) | J_BIT(J_PHONE) | J_BIT(J_CONFIRM), resp)
        != 0)
    {
        return 0;
    }
    if (code_from_request(req, resp, code, sizeof(code)) != 0) {
        return 0;
    }
    if (code[0] == '\0') {
        return unknown(ctx, "", resp);
    }
    rc = lookup(ctx, code, &res, &row);
    if (rc == 0) {
        /* Typed codes are forgiven their case (the alphabet is upper). */
        for (i = 0; code[i]; i++) {
            upper[i] = (char) toupper((unsigned char) code[i]);
        }
        upper[i] = '\0';
        if (strcmp(upper, code) != 0) {
            rc = lookup(ctx, upper, &res, &row);
        }
    }
    if (rc < 0) {
        return resp_db_unavailable(resp);
    }
    if (rc == 0) {
        return unknown(ctx, code, resp);
    }

    code_id = jsql_u64(row[0]);
    expires_at = jsql_i64(row[2]);
    student_id = jsql_u64(row[3]);
    jsql_copy(contact, sizeof(contact), row[5]);
    if (strcmp(row[1], "active") != 0) {
        mysql_free_result(res);
        return resp_error(resp, 410, "CODE_REVOKED",
            "采集码已作废，请联系学校图像采集工作部门",
            "this collection code was revoked; contact your "
            "school's photo office",
            json_pack("{s:s,s:s}", "contact", contact, "reason", "revoked"));
    }
    if (expires_at != 0 && expires_at <= now) {
        mysql_free_result(res);
        return resp_error(resp, 410, "CODE_REVOKED",
            "采集码已过期，请联系学校图像采集工作部门",
            "this collection code has expired; contact your "
            "school's photo office",
            json_pack("{s:s,s:s}", "contact", contact, "reason", "expired"));
    }
    /* the school's collection window (back office settings) */
    if ((row[6] != NULL && now < jsql_i64(row[6]))
        || (row[7] != NULL && now >= jsql_i64(row[7])))
    {
        int     early = row[6] != NULL && now < jsql_i64(row[6]);
        json_t *x = json_pack("{s:s,s:o,s:o}", "contact", contact,
            "window_start",
            row[6] ? journey_time(jsql_i64(row[6])) : json_null(), "window_end",
            row[7] ? journey_time(jsql_i64(row[7])) : json_null());
        mysql_free_result(res);
        return early
            ? resp_error(resp, 403, "COLLECTION_NOT_OPEN",
                "本校照片采集尚未开始，请在采集时间内再来",
                "photo collection has not started yet", x)
            : resp_error(resp, 403, "COLLECTION_CLOSED",
                "本校照片采集已结束，如有疑问请联系学校图像采集工作部门",
                "photo collection has ended", x);
    }
    if (row[4] != NULL && jsql_u64(row[4]) != st.account_id) {
        mysql_free_result(res);
        return resp_error(resp, 409, "CODE_BOUND_ELSEWHERE",
            "该采集码已绑定其他微信账号，如有疑问请联系学校图像采集工作部门",
            "this code is bound to another WeChat account; "
            "contact your school's photo office",
            contact_extra(contact));
    }
    mysql_free_result(res);

    /* pending_phone first: SET evaluates left to right.  A new student
     * forgets the phone typed for the previous one. */
    if (db_exec(ctx,
            "UPDATE accounts SET pending_phone ="
            " IF(pending_student_id <=> %lu, pending_phone, NULL),"
            " pending_student_id = %lu, pending_code_id = %lu WHERE id = %lu",
            student_id, student_id, code_id, st.account_id)
            < 0
        || journey_load(ctx, st.account_id, &st) != 0)
    {
        return resp_db_unavailable(resp);
    }
    return resp_json(resp, 200,
        json_pack("{s:o,s:s}", "student", journey_student_json(&st), "step",
            journey_step_name(st.step)));
}
