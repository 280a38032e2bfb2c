/*
 * admin_codes.c -- collection codes: generation (POST /codes), revocation
 * (POST /codes/{student_no}/revoke).  Codes are random (RAND_bytes), shown
 * once, and stored as SHA-256 only; a student has at most one active code
 * (issuing a new one revokes the old).  Format: see admin.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "admin.h"
#include "handlers.h"

/* Printable sheet (admin_sheet.c). */
char *adm_sheet_html(const char *school_name, json_t *codes);

int
adm_random_text(char *out, size_t nchars)
{
    static const char alpha[] = ADM_CODE_ALPHABET;   /* 32 symbols */
    unsigned char rnd[64];

    if (nchars > sizeof(rnd) || RAND_bytes(rnd, (int) nchars) != 1) {
        return -1;
    }
    /* 32 divides 256: taking 5 bits of each byte has no modulo bias. */
    for (size_t i = 0; i < nchars; i++) {
        out[i] = alpha[rnd[i] & 31];
    }
    out[nchars] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
    return 0;
}

void
adm_code_hash(const char *code, unsigned char out[32])
{
    SHA256((const unsigned char *) code, strlen(code), out);
}

int
adm_code_store(tucai_ctx_t *ctx, uint32_t school_id, uint64_t student_id,
    const char *code)
{
    unsigned char h[32];
    adm_code_hash(code, h);
    return adm_exec(ctx, NULL,
        "INSERT INTO codes (school_id, student_id, code_hash, status, created_at)"
        " VALUES (%u, %lu, %*s, 'active', %ld)",
        school_id, student_id, (int) sizeof(h), h, (int64_t) time(NULL));
}

int
adm_code_issue(tucai_ctx_t *ctx, uint32_t school_id, uint64_t student_id,
    char code[ADM_CODE_MAX])
{
    char rnd[ADM_CODE_RANDOM + 1];

    if (adm_exec(ctx, NULL,
            "UPDATE codes SET status = 'revoked', revoked_at = %ld"
            " WHERE student_id = %lu AND status = 'active'",
            (int64_t) time(NULL), student_id) != 0)
    {
        return -1;
    }
    if (adm_random_text(rnd, ADM_CODE_RANDOM) != 0) {
        return -1;
    }
    snprintf(code, ADM_CODE_MAX, "%u-%s", school_id, rnd);
    return adm_code_store(ctx, school_id, student_id, code);
}

/* POST /admin/api/v1/codes
 *   {"student_nos":[...]}            new codes for these (old ones revoked)
 *   {"all":true[,"reissue":true]}    every student without an active code
 *                                    (with reissue: every student)
 *   "sheet":true                     also "sheet_html", a printable page
 * -> {"codes":[{"student_no","name","code"}],"unknown":[...]} */
int
admin_codes(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    json_t *body;

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    if (adm_json_body(req, resp, &body) != 0) {
        return 0;
    }

    json_t *nos = json_object_get(body, "student_nos");
    int all = json_is_true(json_object_get(body, "all"));
    int reissue = json_is_true(json_object_get(body, "reissue"));
    int sheet = json_is_true(json_object_get(body, "sheet"));

    /* exactly one of the two forms */
    if ((nos != NULL && all) || (nos == NULL && !all)
        || (nos != NULL && !json_is_array(nos)))
    {
        json_decref(body);
        return resp_error(resp, 400, "BAD_REQUEST",
            "请提供 student_nos 数组或 all:true",
            "give either a student_nos array or all:true",
            json_pack("{s:s}", "field", "student_nos"));
    }
    if (nos && (json_array_size(nos) == 0
                || json_array_size(nos) > ADM_MAX_STUDENTS))
    {
        json_decref(body);
        return resp_error(resp, 400, "BAD_REQUEST",
            "student_nos 数量应为 1 到 20000", "student_nos must hold 1..20000",
            json_pack("{s:s}", "field", "student_nos"));
    }
    if (nos) {
        size_t i;
        json_t *v;
        json_array_foreach(nos, i, v) {
            if (!json_is_string(v)
                || !adm_valid_student_no(json_string_value(v),
                                         json_string_length(v)))
            {
                json_decref(body);
                return resp_error(resp, 400, "BAD_REQUEST", "学号格式不正确",
                    "invalid student number",
                    json_pack("{s:s,s:i}", "field", "student_nos",
                              "index", (int) i));
            }
        }
    }

    json_t *codes = json_array(), *unknown = json_array();
    char code[ADM_CODE_MAX];
    int failed = 0;

    if (adm_begin(ctx) != 0) {
        json_decref(body); json_decref(codes); json_decref(unknown);
        return resp_db_unavailable(resp);
    }

    if (nos) {
        size_t i;
        json_t *v;
        json_array_foreach(nos, i, v) {
            MYSQL_RES *res = adm_query(ctx,
                "SELECT id, name FROM students WHERE school_id = %u"
                " AND student_no = %s FOR UPDATE",
                who.school_id, json_string_value(v));
            if (res == NULL) { failed = 1; break; }
            MYSQL_ROW row = mysql_fetch_row(res);
            if (row == NULL) {
                json_array_append(unknown, v);
            } else if (adm_code_issue(ctx, who.school_id,
                                      strtoull(row[0], NULL, 10), code) != 0)
            {
                failed = 1;
            } else {
                json_array_append_new(codes, json_pack("{s:O,s:s,s:s}",
                    "student_no", v, "name", row[1], "code", code));
            }
            mysql_free_result(res);
            if (failed) break;
        }
    } else {
        MYSQL_RES *res = adm_query(ctx,
            "SELECT s.id, s.student_no, s.name FROM students s"
            " WHERE s.school_id = %u %-s ORDER BY s.student_no LIMIT %d"
            " FOR UPDATE", who.school_id,
            reissue ? "" : "AND NOT EXISTS (SELECT 1 FROM codes c WHERE"
                           " c.student_id = s.id AND c.status = 'active')",
            ADM_MAX_STUDENTS);
        if (res == NULL) {
            failed = 1;
        } else {
            MYSQL_ROW row;
            while ((row = mysql_fetch_row(res)) != NULL) {
                if (adm_code_issue(ctx, who.school_id,
                                   strtoull(row[0], NULL, 10), code) != 0)
                {
                    failed = 1;
                    break;
                }
                json_array_append_new(codes, json_pack("{s:s,s:s,s:s}",
                    "student_no", row[1], "name", row[2], "code", code));
            }
            mysql_free_result(res);
        }
    }

    if (!failed) {
        json_t *d = json_pack("{s:I,s:b,s:b,s:I}",
            "count", (json_int_t) json_array_size(codes), "all", all,
            "reissue", reissue, "unknown", (json_int_t) json_array_size(unknown));
        failed = adm_audit(ctx, req, &who, "codes.generate", "", d) != 0;
        json_decref(d);
    }
    if (failed || adm_commit(ctx) != 0) {
        adm_rollback(ctx);
        json_decref(body); json_decref(codes); json_decref(unknown);
        return resp_db_unavailable(resp);
    }
    json_decref(body);

    json_t *out = json_pack("{s:o,s:o}", "codes", codes, "unknown", unknown);
    if (sheet) {
        char school_name[160] = "";
        MYSQL_RES *res = adm_query(ctx, "SELECT name FROM schools WHERE id = %u",
                                   who.school_id);
        if (res) {
            MYSQL_ROW row = mysql_fetch_row(res);
            if (row) snprintf(school_name, sizeof(school_name), "%s", row[0]);
            mysql_free_result(res);
        }
        char *html = adm_sheet_html(school_name, codes);
        json_object_set_new(out, "sheet_html", html ? json_string(html)
                                                    : json_null());
        free(html);
    }
    return resp_json(resp, 200, out);
}

/* POST /admin/api/v1/codes/{student_no}/revoke -> 204 */
int
admin_revoke(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char no[40];
    uint64_t sid, n = 0;

    if (adm_auth(ctx, req, resp, &who) != 0
        || adm_param_student_no(req, resp, no, sizeof(no)) != 0)
    {
        return 0;
    }
    if (adm_begin(ctx) != 0) {
        return resp_db_unavailable(resp);
    }
    int rc = adm_query_u64(ctx, &sid,
        "SELECT id FROM students WHERE school_id = %u AND student_no = %s"
        " FOR UPDATE", who.school_id, no);
    if (rc == 0) {
        adm_rollback(ctx);
        return adm_not_found(resp);
    }
    json_t *d = NULL;
    if (rc < 0
        || adm_exec(ctx, &n,
               "UPDATE codes SET status = 'revoked', revoked_at = %ld"
               " WHERE student_id = %lu AND status = 'active'",
               (int64_t) time(NULL), sid) != 0
        || (d = json_pack("{s:I}", "revoked", (json_int_t) n)) == NULL
        || adm_audit(ctx, req, &who, "code.revoke", no, d) != 0
        || adm_commit(ctx) != 0)
    {
        json_decref(d);
        adm_rollback(ctx);
        return resp_db_unavailable(resp);
    }
    json_decref(d);
    return resp_empty(resp, 204);
}
