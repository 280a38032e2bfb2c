/*
 * admin_roster.c -- POST /admin/api/v1/roster[?dry_run=1]: a CSV roster
 * (libcsv), header student_no,name[,phone][,class] in any order (Chinese
 * headers 学号,姓名,手机号,班级 too; other columns are ignored and named in
 * the answer).  The body may be UTF-8 (with or without a BOM) or, as
 * Excel/WPS on Chinese Windows save "CSV", GBK/GB18030: text that is not
 * valid UTF-8 is converted from GB18030 (a superset of GBK) with iconv.
 * Every data row is validated on its own; bad rows are reported with their
 * line, reason and content, good rows are inserted or updated, all in one
 * transaction (a database failure midway leaves the roster untouched).
 * dry_run=1 does all of it and rolls back: the preview shows exactly what
 * the import would do.
 *
 * -> {"imported","updated","unchanged","rejected":[{"line","reason","code",
 *     "row":[fields]}],"rejected_total","encoding","columns",
 *     "ignored_columns","dry_run"}
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <csv.h>
#include <errno.h>
#include <iconv.h>

#include "admin.h"
#include "handlers.h"

#define ROSTER_MAX_FIELD  256  /* bytes of any one field */
#define ROSTER_MAX_REPORT 1000 /* rejected rows listed (all are counted) */
#define ROSTER_MAX_COLS   16   /* columns kept (and shown) per row */
#define ROSTER_MAX_CLASS  32   /* characters of a class name */

enum {
    COL_NO,
    COL_NAME,
    COL_PHONE,
    COL_CLASS,
    COL_N
};

typedef struct {
    char f[ROSTER_MAX_COLS][ROSTER_MAX_FIELD + 1];
    int  nf;       /* fields seen in the row */
    int  too_long; /* a field above ROSTER_MAX_FIELD */
    int  has_nl;   /* a quoted field spanning lines */
} row_t;

typedef struct {
    tucai_ctx_t *ctx;
    uint32_t     school;
    int          line;      /* physical line where the current row starts */
    int          next_line; /* physical line after the bytes parsed so far */
    int          header_done;
    int      col[COL_N]; /* column index of student_no, name, phone, class */
    int      ncols;
    int      fidx; /* field index in the current row */
    row_t    row;
    uint64_t imported, updated, unchanged, rejected_total, rows;
    json_t  *rejected;
    json_t  *seen;    /* student_no -> line, duplicate detection */
    json_t  *ignored; /* header names of ignored columns */
    int      fatal;   /* 1 bad header, 2 database, 3 too many rows */
    char     fatal_zh[128], fatal_en[128];
} roster_t;

static int utf8_text_len(const char *s);

/* code: a stable name of the problem, for the console's own wording */
static void
reject(
    roster_t *r, const char *code, const char *reason_zh, const char *reason_en)
{
    char buf[320];
    r->rejected_total++;
    if (json_array_size(r->rejected) < ROSTER_MAX_REPORT) {
        json_t *fields = json_array();
        for (int i = 0; i < r->row.nf && i < ROSTER_MAX_COLS; i++) {
            /* shown to the teacher as they wrote it; unreadable bytes are
             * not passed on */
            json_array_append_new(fields,
                json_string(utf8_text_len(r->row.f[i]) >= 0 ? r->row.f[i]
                                                            : "\xef\xbf\xbd"));
        }
        snprintf(buf, sizeof(buf), "%s / %s", reason_zh, reason_en);
        json_array_append_new(r->rejected,
            json_pack("{s:i,s:s,s:s,s:s,s:o}", "line", r->line, "reason", buf,
                "reason_zh", reason_zh, "code", code, "row", fields));
    }
}

/* Valid UTF-8 without control characters; returns the character count or
 * -1. */
static int
utf8_text_len(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    int                  n = 0;
    while (*p) {
        int len;
        if (*p < 0x20 || *p == 0x7f)
            return -1;
        if (*p < 0x80)
            len = 1;
        else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
            len = 2;
        else if ((*p & 0xf0) == 0xe0)
            len = 3;
        else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
            len = 4;
        else
            return -1;
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
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
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (s[a] == ' ' || s[a] == '\t')
        a++;
    if (a)
        memmove(s, s + a, n - a + 1);
}

static int
valid_phone(const char *p)
{
    /* Mainland mobile numbers: 11 digits, 1[3-9]xxxxxxxxx. */
    if (strlen(p) != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9')
        return 0;
    for (int i = 0; i < 11; i++) {
        if (!isdigit((unsigned char) p[i]))
            return 0;
    }
    return 1;
}

/* Spreadsheets write "138 0013 8000", "138-0013-8000" or "+8613800138000". */
static void
normalise_phone(char *p)
{
    size_t o = 0;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] != ' ' && p[i] != '-')
            p[o++] = p[i];
    }
    p[o] = '\0';
    if (strncmp(p, "+86", 3) == 0) {
        memmove(p, p + 3, strlen(p + 3) + 1);
    }
}

static int
header_col(const char *h)
{
    if (strcasecmp(h, "student_no") == 0 || strcmp(h, "学号") == 0)
        return COL_NO;
    if (strcasecmp(h, "name") == 0 || strcmp(h, "姓名") == 0)
        return COL_NAME;
    if (strcasecmp(h, "phone") == 0 || strcmp(h, "手机号") == 0
        || strcmp(h, "手机") == 0 || strcmp(h, "电话") == 0
        || strcmp(h, "手机号码") == 0 || strcmp(h, "联系电话") == 0)
        return COL_PHONE;
    if (strcasecmp(h, "class") == 0 || strcmp(h, "班级") == 0
        || strcmp(h, "班") == 0)
        return COL_CLASS;
    return -1;
}

static void
on_field(void *s, size_t len, void *data)
{
    roster_t *r = data;
    if (r->fatal)
        return;
    if (r->fidx < ROSTER_MAX_COLS) {
        if (len > ROSTER_MAX_FIELD) {
            r->row.too_long = 1;
            len = ROSTER_MAX_FIELD;
        }
        if (len > 0) {
            if (memchr(s, '\n', len) || memchr(s, '\r', len)) {
                r->row.has_nl = 1;
            }
            if (memchr(s, '\0', len)) {
                r->row.too_long = 1; /* NUL bytes: reported as unreadable */
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
    for (int c = 0; c < COL_N; c++)
        r->col[c] = -1;
    r->ncols = r->row.nf;
    for (int i = 0; i < r->row.nf && i < ROSTER_MAX_COLS; i++) {
        char *h = r->row.f[i];
        /* An Excel "CSV UTF-8" export starts with a byte order mark. */
        if (i == 0 && (unsigned char) h[0] == 0xef
            && (unsigned char) h[1] == 0xbb && (unsigned char) h[2] == 0xbf)
        {
            memmove(h, h + 3, strlen(h + 3) + 1);
        }
        trim(h);
        int c = header_col(h);
        if (c < 0) {
            /* 性别, 备注...: kept out of the roster, named in the answer */
            if (h[0])
                json_array_append_new(r->ignored, json_string(h));
            continue;
        }
        if (r->col[c] >= 0) {
            r->fatal = 1;
            snprintf(
                r->fatal_zh, sizeof(r->fatal_zh), "表头中“%s”出现了两次", h);
            snprintf(
                r->fatal_en, sizeof(r->fatal_en), "column %s appears twice", h);
            return;
        }
        r->col[c] = i;
    }
    if (r->row.nf > ROSTER_MAX_COLS || r->col[COL_NO] < 0
        || r->col[COL_NAME] < 0) {
        r->fatal = 1;
        snprintf(r->fatal_zh, sizeof(r->fatal_zh),
            "第一行应为表头，至少包含“学号”和“姓名”两列（可选“手机号”“班级”）");
        snprintf(r->fatal_en, sizeof(r->fatal_en),
            "the first row must be a header with student_no and name");
    }
}

static void
do_row(roster_t *r)
{
    char *no, *name, *phone, *cls;
    int   nlen;

    if (r->row.nf == 1 && r->row.f[0][0] == '\0') {
        return; /* blank line */
    }
    if (++r->rows > ADM_MAX_STUDENTS) {
        r->fatal = 3;
        snprintf(r->fatal_zh, sizeof(r->fatal_zh), "名单超过 %d 行",
            ADM_MAX_STUDENTS);
        snprintf(r->fatal_en, sizeof(r->fatal_en), "more than %d rows",
            ADM_MAX_STUDENTS);
        return;
    }
    if (r->row.nf != r->ncols) {
        char zh[96], en[64];
        snprintf(zh, sizeof(zh), "这一行有 %d 列，表头有 %d 列", r->row.nf,
            r->ncols);
        snprintf(en, sizeof(en), "%d columns, the header has %d", r->row.nf,
            r->ncols);
        reject(r, "COLUMNS", zh, en);
        return;
    }
    if (r->row.too_long || r->row.has_nl) {
        reject(r, "FIELD", "有字段过长（超过 256 字节）或含换行",
            "field too long or spans lines");
        return;
    }
    no = r->row.f[r->col[COL_NO]];
    name = r->row.f[r->col[COL_NAME]];
    phone = r->col[COL_PHONE] >= 0 ? r->row.f[r->col[COL_PHONE]] : NULL;
    cls = r->col[COL_CLASS] >= 0 ? r->row.f[r->col[COL_CLASS]] : NULL;
    trim(no);
    trim(name);
    if (phone)
        trim(phone);
    if (cls)
        trim(cls);

    if (no[0] == '\0') {
        reject(r, "NO_EMPTY", "学号为空", "student_no is empty");
        return;
    }
    if (!adm_valid_student_no(no, strlen(no))) {
        reject(r, "NO_INVALID",
            "学号只能由 1-32 位字母、数字、- 或 _ 组成（不能有空格）",
            "student_no must be 1-32 letters, digits, - or _");
        return;
    }
    nlen = utf8_text_len(name);
    if (nlen < 0) {
        reject(r, "NAME_INVALID", "姓名含有无法识别的字符",
            "name is not readable text");
        return;
    }
    if (nlen < 1 || nlen > 64) {
        reject(r, "NAME_LENGTH", nlen < 1 ? "姓名为空" : "姓名超过 64 个字",
            "name must be 1-64 characters");
        return;
    }
    if (phone) {
        normalise_phone(phone);
    }
    if (phone && phone[0] && !valid_phone(phone)) {
        reject(r, "PHONE_INVALID",
            "手机号应为 11 位中国大陆手机号（如 13800138000）",
            "phone must be an 11-digit mainland mobile number");
        return;
    }
    if (cls
        && (utf8_text_len(cls) < 0 || utf8_text_len(cls) > ROSTER_MAX_CLASS)) {
        reject(r, "CLASS_INVALID", "班级名称超过 32 个字或含有无法识别的字符",
            "class must be at most 32 characters");
        return;
    }
    json_t *prev = json_object_get(r->seen, no);
    if (prev) {
        char zh[64], en[64];
        snprintf(zh, sizeof(zh), "学号与第 %d 行重复",
            (int) json_integer_value(prev));
        snprintf(en, sizeof(en), "duplicate of line %d",
            (int) json_integer_value(prev));
        reject(r, "DUPLICATE", zh, en);
        return;
    }
    json_object_set_new(r->seen, no, json_integer(r->line));

    /* An empty or absent phone keeps the one already known (a student may
     * have confirmed theirs). */
    uint64_t n = 0;
    int64_t  now = (int64_t) time(NULL);
    /* Without a class column the class already known stays; with one, an
     * empty cell clears it. */
    if (adm_exec(r->ctx, &n,
            "INSERT INTO students (school_id, student_no, name, phone, class,"
            " created_at, updated_at) VALUES (%u, %s, %s, %s, %s, %ld, %ld)"
            " ON DUPLICATE KEY UPDATE"
            " updated_at = IF(name <=> VALUES(name)"
            "   AND phone <=> COALESCE(VALUES(phone), phone)"
            "   AND (%d = 0 OR class <=> VALUES(class)),"
            "   updated_at, VALUES(updated_at)),"
            " name = VALUES(name), phone = COALESCE(VALUES(phone), phone),"
            " class = IF(%d = 0, class, VALUES(class))",
            r->school, no, name, phone && phone[0] ? phone : NULL,
            cls && cls[0] ? cls : NULL, now, now, cls != NULL, cls != NULL)
        != 0)
    {
        r->fatal = 2;
        return;
    }
    if (n == 1)
        r->imported++;
    else if (n == 2)
        r->updated++;
    else
        r->unchanged++;
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

/* Whole-buffer UTF-8 validity (control characters allowed: CSV has line
 * ends and tabs). */
static int
valid_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t   len;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0 && c >= 0xc2)
            len = 2;
        else if ((c & 0xf0) == 0xe0)
            len = 3;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
            len = 4;
        else
            return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
        }
        i += len;
    }
    return 1;
}

/* GB18030 (and so GBK and GB2312) to UTF-8 with iconv; a malloc'ed
 * buffer, or NULL when the bytes are not GB18030 either. */
static char *
gb_to_utf8(const char *in, size_t n, size_t *out_len)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t) -1)
        return NULL;
    size_t cap = n * 2 + 16, left_out = cap, left_in = n;
    char  *out = malloc(cap), *o = out, *i = (char *) in;
    if (out == NULL || iconv(cd, &i, &left_in, &o, &left_out) == (size_t) -1
        || iconv(cd, NULL, NULL, &o, &left_out) == (size_t) -1)
    {
        free(out);
        iconv_close(cd);
        return NULL;
    }
    iconv_close(cd);
    *out_len = cap - left_out;
    return out;
}

int
admin_roster(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t         who;
    struct csv_parser p;
    roster_t          r;
    char              dry[8] = "";
    char             *converted = NULL;
    const char       *encoding = "utf-8";

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    if (req->body_len == 0) {
        return resp_error(
            resp, 400, "BAD_CSV", "名单为空", "empty roster", NULL);
    }
    adm_query_param(req->query, "dry_run", dry, sizeof(dry));
    int dry_run = strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0;

    const char *b = (const char *) req->body, *end = b + req->body_len;
    if (req->body_len >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0) {
        encoding = "utf-8-bom";
    } else if (!valid_utf8((const unsigned char *) b, req->body_len)) {
        size_t clen = 0;
        converted = gb_to_utf8(b, req->body_len, &clen);
        if (converted == NULL) {
            return resp_error(resp, 400, "BAD_CSV",
                "文件编码无法识别：请另存为“CSV UTF-8”或 GBK 编码的 CSV",
                "unknown text encoding: save as CSV UTF-8 or GBK", NULL);
        }
        encoding = "gb18030";
        b = converted;
        end = b + clen;
    }

    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.school = who.school_id;
    r.line = r.next_line = 1;
    r.rejected = json_array();
    r.seen = json_object();
    r.ignored = json_array();

    if (csv_init(&p, 0) != 0 || adm_begin(ctx) != 0) {
        json_decref(r.rejected);
        json_decref(r.seen);
        json_decref(r.ignored);
        free(converted);
        return resp_db_unavailable(resp);
    }
    csv_set_opts(&p, CSV_STRICT | CSV_STRICT_FINI);

    /* Feed line by line so rows know their physical line numbers. */
    int bad = 0;
    while (b < end && !r.fatal) {
        const char *nl = memchr(b, '\n', (size_t) (end - b));
        size_t      n = nl ? (size_t) (nl - b) + 1 : (size_t) (end - b);
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
    free(converted);

    if (!bad && !r.fatal && !r.header_done) {
        r.fatal = 1;
        snprintf(r.fatal_zh, sizeof(r.fatal_zh), "名单为空");
        snprintf(r.fatal_en, sizeof(r.fatal_en), "empty roster");
    }
    if (bad || r.fatal) {
        adm_rollback(ctx);
        json_decref(r.rejected);
        json_decref(r.seen);
        json_decref(r.ignored);
        if (r.fatal == 2) {
            return resp_db_unavailable(resp);
        }
        if (bad) {
            return resp_error(resp, 400, "BAD_CSV",
                "CSV 格式错误（引号不匹配）",
                "malformed CSV (unbalanced quotes)",
                json_pack("{s:i}", "line", r.line));
        }
        return resp_error(resp, 400, "BAD_CSV", r.fatal_zh, r.fatal_en,
            json_pack("{s:i}", "line", r.fatal == 3 ? r.line : 1));
    }

    json_t                  *columns = json_array();
    static const char *const colnames[COL_N] = { "student_no", "name", "phone",
        "class" };
    for (int c = 0; c < COL_N; c++) {
        if (r.col[c] >= 0)
            json_array_append_new(columns, json_string(colnames[c]));
    }
    int rc = 0;
    if (dry_run) {
        adm_rollback(ctx); /* the preview changes nothing */
    } else {
        json_t *d = json_pack("{s:I,s:I,s:I,s:I,s:s}", "imported",
            (json_int_t) r.imported, "updated", (json_int_t) r.updated,
            "unchanged", (json_int_t) r.unchanged, "rejected",
            (json_int_t) r.rejected_total, "encoding", encoding);
        rc = adm_audit(ctx, req, &who, "roster.import", "", d);
        json_decref(d);
        if (rc == 0)
            rc = adm_commit(ctx);
    }
    if (rc != 0) {
        adm_rollback(ctx);
        json_decref(r.rejected);
        json_decref(r.seen);
        json_decref(r.ignored);
        json_decref(columns);
        return resp_db_unavailable(resp);
    }
    json_decref(r.seen);
    return resp_json(resp, 200,
        json_pack("{s:I,s:I,s:I,s:o,s:I,s:s,s:o,s:o,s:b}", "imported",
            (json_int_t) r.imported, "updated", (json_int_t) r.updated,
            "unchanged", (json_int_t) r.unchanged, "rejected", r.rejected,
            "rejected_total", (json_int_t) r.rejected_total, "encoding",
            encoding, "columns", columns, "ignored_columns", r.ignored,
            "dry_run", dry_run));
}
