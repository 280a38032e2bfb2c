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
    static const char alpha[] = ADM_CODE_ALPHABET; /* 32 symbols */
    unsigned char     rnd[64];

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
adm_code_store(
    tucai_ctx_t *ctx, uint32_t school_id, uint64_t student_id, const char *code)
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
            (int64_t) time(NULL), student_id)
        != 0)
    {
        return -1;
    }
    if (adm_random_text(rnd, ADM_CODE_RANDOM) != 0) {
        return -1;
    }
    snprintf(code, ADM_CODE_MAX, "%u-%s", school_id, rnd);
    return adm_code_store(ctx, school_id, student_id, code);
}

/* Up to 20,000 students of the school, as rows to issue codes for. */
static int
add_row(adm_code_row_t **rows, size_t *n, MYSQL_ROW row)
{
    adm_code_row_t *r;
    if (*n == ADM_MAX_STUDENTS)
        return -1;
    if (*rows == NULL) {
        *rows = calloc(ADM_MAX_STUDENTS, sizeof(**rows));
        if (*rows == NULL)
            return -1;
    }
    r = &(*rows)[(*n)++];
    r->student_id = strtoull(row[0], NULL, 10);
    snprintf(r->no, sizeof(r->no), "%s", row[1]);
    snprintf(r->name, sizeof(r->name), "%s", row[2]);
    snprintf(r->cls, sizeof(r->cls), "%s", row[3] ? row[3] : "");
    return 0;
}

/* The old codes of these students revoked, the new ones stored: a few
 * statements of many rows each, so 20,000 students take seconds. */
static int
issue_all(tucai_ctx_t *ctx, uint32_t school_id, adm_code_row_t *rows, size_t n)
{
    int64_t       now = (int64_t) time(NULL);
    char          rnd[ADM_CODE_RANDOM + 1];
    unsigned char h[32];
    size_t        i, j;

    for (i = 0; i < n; i += 500) {
        adm_sbuf rev = { 0 }, ins = { 0 };
        char     num[32];
        size_t   end = i + 500 < n ? i + 500 : n;
        int      rc;

#define SB_LIT(b, lit) adm_sb_add(b, lit, sizeof(lit) - 1)
        SB_LIT(&rev, "UPDATE codes SET status = 'revoked', revoked_at = ");
        snprintf(num, sizeof(num), "%lld", (long long) now);
        adm_sb_add(&rev, num, strlen(num));
        SB_LIT(&rev, " WHERE status = 'active' AND student_id IN (");
        SB_LIT(&ins,
            "INSERT INTO codes (school_id, student_id, code_hash,"
            " status, created_at) VALUES ");
        for (j = i; j < end; j++) {
            if (adm_random_text(rnd, ADM_CODE_RANDOM) != 0) {
                free(rev.p);
                free(ins.p);
                return -1;
            }
            snprintf(
                rows[j].code, sizeof(rows[j].code), "%u-%s", school_id, rnd);
            adm_code_hash(rows[j].code, h);
            snprintf(num, sizeof(num), "%s%llu", j > i ? "," : "",
                (unsigned long long) rows[j].student_id);
            adm_sb_add(&rev, num, strlen(num));
            char *t = adm_sql(ctx->db, "%-s(%u, %lu, %*s, 'active', %ld)",
                j > i ? "," : "", school_id, rows[j].student_id,
                (int) sizeof(h), h, now);
            if (t == NULL) {
                free(rev.p);
                free(ins.p);
                return -1;
            }
            adm_sb_add(&ins, t, strlen(t));
            free(t);
        }
        adm_sb_add(&rev, ")", 1);
        rc = rev.oom || ins.oom || adm_exec(ctx, NULL, "%-s", rev.p) != 0
            || adm_exec(ctx, NULL, "%-s", ins.p) != 0;
        free(rev.p);
        free(ins.p);
        if (rc)
            return -1;
    }
    return 0;
}

/* POST /admin/api/v1/codes
 *   {"student_nos":[...]}            new codes for these (old ones revoked)
 *   {"all":true[,"reissue":true]}    every student without an active code
 *                                    (with reissue: every student)
 *   "per_page": 1..200               cards per sheet page (default 40)
 *   "sheet":true                     also "sheet_html" (small batches)
 * -> {"batch","count","unknown","csv","sheets":[...]} and, up to
 *    ADM_INLINE_CODES codes, "codes":[{"student_no","name","class","code"}].
 * Everything handed out is written to files before the commit (README
 * "Code batches"); any failure rolls back. */
int
admin_codes(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    json_t   *body;

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    if (adm_json_body(req, resp, &body) != 0) {
        return 0;
    }

    json_t *nos = json_object_get(body, "student_nos");
    json_t *pp = json_object_get(body, "per_page");
    int     all = json_is_true(json_object_get(body, "all"));
    int     reissue = json_is_true(json_object_get(body, "reissue"));
    int     sheet = json_is_true(json_object_get(body, "sheet"));
    int     per_page = ADM_SHEET_PER_PAGE;

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
    if (pp != NULL) {
        if (!json_is_integer(pp) || json_integer_value(pp) < 1
            || json_integer_value(pp) > 200)
        {
            json_decref(body);
            return resp_error(resp, 400, "BAD_REQUEST",
                "per_page 应为 1 到 200", "per_page must be 1..200",
                json_pack("{s:s}", "field", "per_page"));
        }
        per_page = (int) json_integer_value(pp);
    }
    if (nos
        && (json_array_size(nos) == 0
            || json_array_size(nos) > ADM_MAX_STUDENTS))
    {
        json_decref(body);
        return resp_error(resp, 400, "BAD_REQUEST",
            "student_nos 数量应为 1 到 20000", "student_nos must hold 1..20000",
            json_pack("{s:s}", "field", "student_nos"));
    }
    if (nos) {
        size_t  i;
        json_t *v;
        json_array_foreach (nos, i, v) {
            if (!json_is_string(v)
                || !adm_valid_student_no(
                    json_string_value(v), json_string_length(v)))
            {
                json_decref(body);
                return resp_error(resp, 400, "BAD_REQUEST", "学号格式不正确",
                    "invalid student number",
                    json_pack(
                        "{s:s,s:i}", "field", "student_nos", "index", (int) i));
            }
        }
    }

    json_t         *unknown = json_array();
    adm_code_row_t *rows = NULL;
    size_t          n = 0;
    int             failed = 0, storage_err = 0;
    char            school_name[520] = "", dir[80] = "";
    uint64_t        batch = 0;
    json_t         *sheets = NULL;

    adm_batch_expire(ctx, who.school_id);
    if (adm_begin(ctx) != 0) {
        json_decref(body);
        json_decref(unknown);
        return resp_db_unavailable(resp);
    }

    MYSQL_RES *res =
        adm_query(ctx, "SELECT name FROM schools WHERE id = %u", who.school_id);
    if (res == NULL) {
        failed = 1;
    } else {
        MYSQL_ROW row = mysql_fetch_row(res);
        if (row)
            snprintf(school_name, sizeof(school_name), "%s", row[0]);
        mysql_free_result(res);
    }

    if (nos && !failed) {
        size_t  i;
        json_t *v;
        json_array_foreach (nos, i, v) {
            res = adm_query(ctx,
                "SELECT id, student_no, name, class FROM students WHERE"
                " school_id = %u AND student_no = %s FOR UPDATE",
                who.school_id, json_string_value(v));
            if (res == NULL) {
                failed = 1;
                break;
            }
            MYSQL_ROW row = mysql_fetch_row(res);
            if (row == NULL) {
                json_array_append(unknown, v);
            } else if (add_row(&rows, &n, row) != 0) {
                failed = 1;
            }
            mysql_free_result(res);
            if (failed)
                break;
        }
    } else if (!failed) {
        res = adm_query(ctx,
            "SELECT s.id, s.student_no, s.name, s.class FROM students s"
            " WHERE s.school_id = %u %-s ORDER BY s.student_no LIMIT %d"
            " FOR UPDATE",
            who.school_id,
            reissue ? ""
                    : "AND NOT EXISTS (SELECT 1 FROM codes c WHERE"
                      " c.student_id = s.id AND c.status = 'active')",
            ADM_MAX_STUDENTS);
        if (res == NULL) {
            failed = 1;
        } else {
            MYSQL_ROW row;
            while (!failed && (row = mysql_fetch_row(res)) != NULL) {
                failed = add_row(&rows, &n, row) != 0;
            }
            mysql_free_result(res);
        }
    }

    if (!failed && n > 0) {
        failed = issue_all(ctx, who.school_id, rows, n) != 0
            || adm_batch_write(ctx, who.school_id, who.teacher_id, school_name,
                   rows, n, per_page, &batch, &sheets, dir, sizeof(dir),
                   &storage_err)
                != 0;
    }

    if (!failed) {
        json_t *d = json_pack("{s:I,s:b,s:b,s:I,s:I}", "count", (json_int_t) n,
            "all", all, "reissue", reissue, "unknown",
            (json_int_t) json_array_size(unknown), "batch", (json_int_t) batch);
        failed = adm_audit(ctx, req, &who, "codes.generate", "", d) != 0;
        json_decref(d);
    }

    /* the answer, whole, before the commit: its size is bounded */
    json_t *out = NULL;
    if (!failed) {
        char    url[96];
        size_t  i;
        json_t *s;
        out =
            json_pack("{s:I,s:o}", "count", (json_int_t) n, "unknown", unknown);
        unknown = NULL;
        if (n > 0) {
            snprintf(url, sizeof(url), "/admin/api/v1/codes/batches/%llu/csv",
                (unsigned long long) batch);
            json_object_set_new(out, "batch", json_integer((json_int_t) batch));
            json_object_set_new(out, "csv", json_string(url));
            json_array_foreach (sheets, i, s) {
                snprintf(url, sizeof(url),
                    "/admin/api/v1/codes/sheets/%llu-%lld",
                    (unsigned long long) batch,
                    (long long) json_integer_value(json_object_get(s, "page")));
                json_object_set_new(s, "url", json_string(url));
            }
            json_object_set(out, "sheets", sheets);
        } else {
            json_object_set_new(out, "batch", json_null());
            json_object_set_new(out, "sheets", json_array());
        }
        if (n <= ADM_INLINE_CODES) {
            json_t *codes = json_array();
            for (i = 0; i < n; i++) {
                json_array_append_new(codes,
                    json_pack("{s:s,s:s,s:s,s:s}", "student_no", rows[i].no,
                        "name", rows[i].name, "class", rows[i].cls, "code",
                        rows[i].code));
            }
            if (sheet) {
                char *html = adm_sheet_html(school_name, codes);
                json_object_set_new(
                    out, "sheet_html", html ? json_string(html) : json_null());
                free(html);
            }
            json_object_set_new(out, "codes", codes);
        }
        char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
        /* far below the protocol's 16 MiB answers even at 20,000 pages */
        failed = text == NULL || strlen(text) > 8 * 1024 * 1024;
        free(text);
    }

    if (failed || adm_commit(ctx) != 0) {
        adm_rollback(ctx);
        if (dir[0])
            adm_batch_discard(ctx, dir);
        json_decref(out);
        json_decref(sheets);
        json_decref(unknown);
        json_decref(body);
        if (rows)
            OPENSSL_cleanse(rows, ADM_MAX_STUDENTS * sizeof(*rows));
        free(rows);
        if (storage_err) {
            return resp_error(resp, 503, "STORAGE_UNAVAILABLE",
                "无法写入采集码文件，未生成任何采集码，请稍后重试",
                "cannot write the code files: no code was issued, retry later",
                json_pack("{s:i}", "retry_after", 5));
        }
        return resp_db_unavailable(resp);
    }
    json_decref(sheets);
    json_decref(body);
    if (rows)
        OPENSSL_cleanse(rows, ADM_MAX_STUDENTS * sizeof(*rows));
    free(rows);
    return resp_json(resp, 200, out);
}

/* POST /admin/api/v1/codes/{student_no}/revoke -> 204 */
int
admin_revoke(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char      no[40], reason[ADM_REASON_MAX];
    uint64_t  sid, n = 0;

    if (adm_auth(ctx, req, resp, &who) != 0
        || adm_param_student_no(req, resp, no, sizeof(no)) != 0
        || adm_reason(req, resp, reason, sizeof(reason)) != 0)
    {
        return 0;
    }
    if (adm_begin(ctx) != 0) {
        return resp_db_unavailable(resp);
    }
    int rc = adm_query_u64(ctx, &sid,
        "SELECT id FROM students WHERE school_id = %u AND student_no = %s"
        " FOR UPDATE",
        who.school_id, no);
    if (rc == 0) {
        adm_rollback(ctx);
        return adm_not_found(resp);
    }
    json_t *d = NULL;
    if (rc < 0
        || adm_exec(ctx, &n,
               "UPDATE codes SET status = 'revoked', revoked_at = %ld"
               " WHERE student_id = %lu AND status = 'active'",
               (int64_t) time(NULL), sid)
            != 0
        || (n > 0
            && (adm_tell_student(ctx, sid, "revoke",
                    "采集码已作废，请联系学校老师", "已作废"),
                0))
        || (d = json_pack(
                "{s:I,s:s}", "revoked", (json_int_t) n, "reason", reason))
            == NULL
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
