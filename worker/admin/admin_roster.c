/*
 * admin_roster.c -- POST /admin/api/v1/roster: a CSV roster (libcsv),
 * header student_no,name[,phone] (Chinese headers 学号,姓名,手机号 too).
 * Every data row is validated on its own; bad rows are reported with their
 * line and reason, good rows are inserted or updated, all in one
 * transaction (a database failure midway leaves the roster untouched).
 *
 * -> {"imported","updated","unchanged","rejected":[{"line","reason"}],
 *     "rejected_total"}
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <csv.h>

#include "admin.h"
#include "handlers.h"

#define ROSTER_MAX_FIELD   256     /* bytes of any one field */
#define ROSTER_MAX_REPORT  1000    /* rejected rows listed (all are counted) */

typedef struct {
    char   f[3][ROSTER_MAX_FIELD + 1];
    int    nf;              /* fields seen in the row */
    int    too_long;        /* a field above ROSTER_MAX_FIELD */
    int    has_nl;          /* a quoted field spanning lines */
} row_t;

typedef struct {
    tucai_ctx_t *ctx;
    uint32_t     school;
    int          line;          /* physical line where the current row starts */
    int          next_line;     /* physical line after the bytes parsed so far */
    int          header_done;
    int          col[3];        /* column index of student_no, name, phone */
    int          ncols;
    int          fidx;          /* field index in the current row */
    row_t        row;
    uint64_t     imported, updated, unchanged, rejected_total, rows;
    json_t      *rejected;
    json_t      *seen;          /* student_no -> line, duplicate detection */
    int          fatal;         /* 1 bad header, 2 database, 3 too many rows */
    char         fatal_zh[128], fatal_en[128];
} roster_t;

static void
reject(roster_t *r, const char *reason_zh, const char *reason_en)
{
    char buf[320];
    r->rejected_total++;
    if (json_array_size(r->rejected) < ROSTER_MAX_REPORT) {
        snprintf(buf, sizeof(buf), "%s / %s", reason_zh, reason_en);
        json_array_append_new(r->rejected,
            json_pack("{s:i,s:s}", "line", r->line, "reason", buf));
    }
}

/* Valid UTF-8 without control characters; returns the character count or
 * -1. */
static int
utf8_text_len(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    int n = 0;
    while (*p) {
        int len;
        if (*p < 0x20 || *p == 0x7f) return -1;
        if (*p < 0x80) len = 1;
        else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2) len = 2;
        else if ((*p & 0xf0) == 0xe0) len = 3;
        else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4) len = 4;
        else return -1;
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) return -1;
        }
        p += len;
        n++;
    }
    return n;
}

static void
trim(char *s)
{
    size_t n = strlen(s), a = 0;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    while (s[a] == ' ' || s[a] == '\t') a++;
    if (a) memmove(s, s + a, n - a + 1);
}

static int
valid_phone(const char *p)
{
    /* Mainland mobile numbers: 11 digits, 1[3-9]xxxxxxxxx. */
    if (strlen(p) != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9') return 0;
    for (int i = 0; i < 11; i++) {
        if (!isdigit((unsigned char) p[i])) return 0;
    }
    return 1;
}

/* Spreadsheets write "138 0013 8000", "138-0013-8000" or "+8613800138000". */
static void
normalise_phone(char *p)
{
    size_t o = 0;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] != ' ' && p[i] != '-') p[o++] = p[i];
    }
    p[o] = '\0';
    if (strncmp(p, "+86", 3) == 0) {
        memmove(p, p + 3, strlen(p + 3) + 1);
    }
}

static int
header_col(const char *h)
{
    if (strcasecmp(h, "student_no") == 0 || strcmp(h, "学号") == 0) return 0;
    if (strcasecmp(h, "name") == 0 || strcmp(h, "姓名") == 0) return 1;
    if (strcasecmp(h, "phone") == 0 || strcmp(h, "手机号") == 0
        || strcmp(h, "手机") == 0 || strcmp(h, "电话") == 0) return 2;
    return -1;
}

static void
on_field(void *s, size_t len, void *data)
{
    roster_t *r = data;
    if (r->fatal) return;
    if (r->fidx < 3) {
        if (len > ROSTER_MAX_FIELD) {
            r->row.too_long = 1;
            len = ROSTER_MAX_FIELD;
        }
        if (len > 0) {
            if (memchr(s, '\n', len) || memchr(s, '\r', len)) {
                r->row.has_nl = 1;
            }
            if (memchr(s, '\0', len)) {
                r->row.too_long = 1;   /* NUL bytes: reported as unreadable */
            }
            memcpy(r->row.f[r->fidx], s, len);
        }
        r->row.f[r->fidx][len] = '\0';
    }
    r->fidx++;
    r->row.nf = r->fidx;
}

static void
do_header(roster_t *r)
{
    r->header_done = 1;
    r->col[0] = r->col[1] = r->col[2] = -1;
    r->ncols = r->row.nf;
    for (int i = 0; i < r->row.nf && i < 3; i++) {
        char *h = r->row.f[i];
        /* An Excel "CSV UTF-8" export starts with a byte order mark. */
        if (i == 0 && (unsigned char) h[0] == 0xef
            && (unsigned char) h[1] == 0xbb && (unsigned char) h[2] == 0xbf)
        {
            memmove(h, h + 3, strlen(h + 3) + 1);
        }
        trim(h);
        int c = header_col(h);
        if (c < 0 || r->col[c] >= 0) {
            r->fatal = 1;
            break;
        }
        r->col[c] = i;
    }
    if (r->row.nf > 3 || r->col[0] < 0 || r->col[1] < 0) {
        r->fatal = 1;
    }
    if (r->fatal) {
        snprintf(r->fatal_zh, sizeof(r->fatal_zh), "表头应为 student_no,name[,phone]");
        snprintf(r->fatal_en, sizeof(r->fatal_en), "header must be student_no,name[,phone]");
    }
}

static void
do_row(roster_t *r)
{
    char *no, *name, *phone;
    int nlen;

    if (r->row.nf == 1 && r->row.f[0][0] == '\0') {
        return;   /* blank line */
    }
    if (++r->rows > ADM_MAX_STUDENTS) {
        r->fatal = 3;
        snprintf(r->fatal_zh, sizeof(r->fatal_zh), "名单超过 %d 行", ADM_MAX_STUDENTS);
        snprintf(r->fatal_en, sizeof(r->fatal_en), "more than %d rows", ADM_MAX_STUDENTS);
        return;
    }
    if (r->row.nf != r->ncols) {
        reject(r, "列数不对", "wrong number of columns");
        return;
    }
    if (r->row.too_long || r->row.has_nl) {
        reject(r, "字段过长或含换行", "field too long or spans lines");
        return;
    }
    no = r->row.f[r->col[0]];
    name = r->row.f[r->col[1]];
    phone = r->col[2] >= 0 ? r->row.f[r->col[2]] : NULL;
    trim(no);
    trim(name);
    if (phone) trim(phone);

    if (!adm_valid_student_no(no, strlen(no))) {
        reject(r, "学号应为 1-32 位字母、数字、- 或 _",
               "student_no must be 1-32 letters, digits, - or _");
        return;
    }
    nlen = utf8_text_len(name);
    if (nlen < 0) {
        reject(r, "姓名不是有效的 UTF-8 文本（请另存为 CSV UTF-8）",
               "name is not valid UTF-8 text (save as CSV UTF-8)");
        return;
    }
    if (nlen < 1 || nlen > 64) {
        reject(r, "姓名长度应为 1-64 个字符", "name must be 1-64 characters");
        return;
    }
    if (phone) {
        normalise_phone(phone);
    }
    if (phone && phone[0] && !valid_phone(phone)) {
        reject(r, "手机号应为 11 位中国大陆手机号",
               "phone must be an 11-digit mainland mobile number");
        return;
    }
    json_t *prev = json_object_get(r->seen, no);
    if (prev) {
        char zh[64], en[64];
        snprintf(zh, sizeof(zh), "学号与第 %d 行重复", (int) json_integer_value(prev));
        snprintf(en, sizeof(en), "duplicate of line %d", (int) json_integer_value(prev));
        reject(r, zh, en);
        return;
    }
    json_object_set_new(r->seen, no, json_integer(r->line));

    /* An empty or absent phone keeps the one already known (a student may
     * have confirmed theirs). */
    uint64_t n = 0;
    int64_t now = (int64_t) time(NULL);
    if (adm_exec(r->ctx, &n,
            "INSERT INTO students (school_id, student_no, name, phone,"
            " created_at, updated_at) VALUES (%u, %s, %s, %s, %ld, %ld)"
            " ON DUPLICATE KEY UPDATE"
            " updated_at = IF(name <=> VALUES(name)"
            "   AND phone <=> COALESCE(VALUES(phone), phone),"
            "   updated_at, VALUES(updated_at)),"
            " name = VALUES(name), phone = COALESCE(VALUES(phone), phone)",
            r->school, no, name, phone && phone[0] ? phone : NULL, now, now) != 0)
    {
        r->fatal = 2;
        return;
    }
    if (n == 1) r->imported++;
    else if (n == 2) r->updated++;
    else r->unchanged++;
}

static void
on_row(int c, void *data)
{
    roster_t *r = data;
    (void) c;
    if (!r->fatal) {
        if (!r->header_done) {
            do_header(r);
        } else {
            do_row(r);
        }
    }
    memset(&r->row, 0, sizeof(r->row));
    r->fidx = 0;
    r->line = r->next_line;
}

int
admin_roster(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    struct csv_parser p;
    roster_t r;

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    if (req->body_len == 0) {
        return resp_error(resp, 400, "BAD_CSV", "名单为空", "empty roster", NULL);
    }
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.school = who.school_id;
    r.line = r.next_line = 1;
    r.rejected = json_array();
    r.seen = json_object();

    if (csv_init(&p, 0) != 0 || adm_begin(ctx) != 0) {
        json_decref(r.rejected);
        json_decref(r.seen);
        return resp_db_unavailable(resp);
    }
    csv_set_opts(&p, CSV_STRICT | CSV_STRICT_FINI);

    /* Feed line by line so rows know their physical line numbers. */
    const char *b = (const char *) req->body, *end = b + req->body_len;
    int bad = 0;
    while (b < end && !r.fatal) {
        const char *nl = memchr(b, '\n', (size_t) (end - b));
        size_t n = nl ? (size_t) (nl - b) + 1 : (size_t) (end - b);
        r.next_line++;
        if (csv_parse(&p, b, n, on_field, on_row, &r) != n) {
            bad = 1;
            break;
        }
        b += n;
    }
    if (!bad && !r.fatal && csv_fini(&p, on_field, on_row, &r) != 0) {
        bad = 1;
    }
    csv_free(&p);

    if (!bad && !r.fatal && !r.header_done) {
        r.fatal = 1;
        snprintf(r.fatal_zh, sizeof(r.fatal_zh), "名单为空");
        snprintf(r.fatal_en, sizeof(r.fatal_en), "empty roster");
    }
    if (bad || r.fatal) {
        adm_rollback(ctx);
        json_decref(r.rejected);
        json_decref(r.seen);
        if (r.fatal == 2) {
            return resp_db_unavailable(resp);
        }
        if (bad) {
            return resp_error(resp, 400, "BAD_CSV", "CSV 格式错误（引号不匹配）",
                "malformed CSV (unbalanced quotes)",
                json_pack("{s:i}", "line", r.line));
        }
        return resp_error(resp, 400, "BAD_CSV", r.fatal_zh, r.fatal_en,
                          json_pack("{s:i}", "line", r.fatal == 3 ? r.line : 1));
    }

    json_t *d = json_pack("{s:I,s:I,s:I,s:I}",
        "imported", (json_int_t) r.imported, "updated", (json_int_t) r.updated,
        "unchanged", (json_int_t) r.unchanged,
        "rejected", (json_int_t) r.rejected_total);
    int rc = adm_audit(ctx, req, &who, "roster.import", "", d);
    json_decref(d);
    if (rc != 0 || adm_commit(ctx) != 0) {
        adm_rollback(ctx);
        json_decref(r.rejected);
        json_decref(r.seen);
        return resp_db_unavailable(resp);
    }
    json_decref(r.seen);
    return resp_json(resp, 200, json_pack("{s:I,s:I,s:I,s:o,s:I}",
        "imported", (json_int_t) r.imported, "updated", (json_int_t) r.updated,
        "unchanged", (json_int_t) r.unchanged, "rejected", r.rejected,
        "rejected_total", (json_int_t) r.rejected_total));
}
