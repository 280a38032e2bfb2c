/*
 * admin_batch.c -- what a code generation hands out, as files.
 *
 * Only hashes of codes are stored, so a generated code exists in clear only
 * in what its generation delivers.  POST /codes (admin_codes.c) therefore
 * writes the printable sheets (one class per page, paged) and a CSV into a
 * fresh directory under [storage] dir/codes/<school>/ and records the batch
 * *before* it commits; if anything fails the transaction is rolled back and
 * the files removed, so no code is revoked without its replacement
 * delivered.  The answer only lists the files, so its size does not grow
 * with the school.
 *
 *   GET /codes/batches/{id}       the batch: sheets, whether the CSV is left
 *   GET /codes/batches/{id}/csv   the CSV, once (read, marked, deleted)
 *   GET /codes/sheets/{id}-{page} a sheet, served by nginx (internal redirect)
 *
 * The batch directory's name is random and the directories above it are not
 * listable (0711): sheets are 0644 for nginx's workers, the CSV 0600 (the
 * pool sends it itself).  Batches expire after [codes] sheet_retention.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "admin.h"
#include "handlers.h"
#include "log.h"

#define BATCH_CSV "codes.csv"

static int
mkdir_0711(const char *path)
{
    if (mkdir(path, 0711) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

static int
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return -1;
    }
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w <= 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        data += w;
        len -= (size_t) w;
    }
    /* on disk before the codes are committed */
    if (fsync(fd) != 0 || fchmod(fd, mode) != 0) {
        close(fd);
        unlink(path);
        return -1;
    }
    return close(fd);
}

/* removes a batch directory (flat: only our files in it) */
static void
rm_batch_dir(const char *path)
{
    DIR           *d = opendir(path);
    struct dirent *e;
    char           f[TUCAI_PATH_MAX + 300];

    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
            unlink(f);
        }
        closedir(d);
    }
    rmdir(path);
}

void
adm_batch_discard(tucai_ctx_t *ctx, const char *dir)
{
    char path[TUCAI_PATH_MAX + 100];
    snprintf(path, sizeof(path), "%s/codes/%s", ctx->cfg->storage_dir, dir);
    rm_batch_dir(path);
}

/* a CSV field: quoted when needed; a leading = + - @ is defused, as a
 * spreadsheet would run it as a formula */
static void
csv_field(adm_sbuf *b, const char *s)
{
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    int guard = strchr("=+-@\t", s[0]) != NULL && s[0] != '\0';

    if (quote)
        adm_sb_add(b, "\"", 1);
    if (guard)
        adm_sb_add(b, "'", 1);
    for (; *s; s++) {
        if (*s == '"')
            adm_sb_add(b, "\"", 1);
        adm_sb_add(b, s, 1);
    }
    if (quote)
        adm_sb_add(b, "\"", 1);
}

static int
row_cmp(const void *a, const void *b)
{
    const adm_code_row_t *x = a, *y = b;
    int                   c = strcmp(x->cls, y->cls);
    return c ? c : strcmp(x->no, y->no);
}

int
adm_batch_write(tucai_ctx_t *ctx, uint32_t school_id, uint32_t teacher_id,
    const char *school_name, adm_code_row_t *rows, size_t n, int per_page,
    uint64_t *batch_id, json_t **sheets_out, char *dir, size_t dirn,
    int *storage_err)
{
    const tucai_config_t *cfg = ctx->cfg;
    char     rnd[17], path[TUCAI_PATH_MAX + 100], file[TUCAI_PATH_MAX + 160];
    adm_sbuf csv = { 0 };
    json_t  *sheets = json_array();
    size_t   i, j;
    int      page = 0, failed = 0;
    int64_t  now = (int64_t) time(NULL);

    *storage_err = 1;
    *sheets_out = NULL;
    unsigned char rb[8];
    if (sheets == NULL || RAND_bytes(rb, sizeof(rb)) != 1) {
        json_decref(sheets);
        return -1;
    }
    for (i = 0; i < sizeof(rb); i++) {
        snprintf(rnd + 2 * i, 3, "%02x", rb[i]);
    }
    snprintf(dir, dirn, "%u/%s", school_id, rnd);
    snprintf(path, sizeof(path), "%s/codes", cfg->storage_dir);
    if (mkdir_0711(path) != 0)
        goto fail_nodir;
    snprintf(path, sizeof(path), "%s/codes/%u", cfg->storage_dir, school_id);
    if (mkdir_0711(path) != 0)
        goto fail_nodir;
    snprintf(path, sizeof(path), "%s/codes/%s", cfg->storage_dir, dir);
    if (mkdir(path, 0711) != 0)
        goto fail_nodir;

    qsort(rows, n, sizeof(*rows), row_cmp);

    /* sheets: one class per page, a large class over several */
    for (i = 0; i < n && !failed;) {
        size_t end = i;
        while (end < n && strcmp(rows[end].cls, rows[i].cls) == 0)
            end++;
        int pages =
            (int) ((end - i + (size_t) per_page - 1) / (size_t) per_page);
        for (int p = 1; p <= pages && !failed; p++) {
            size_t from = i + (size_t) (p - 1) * (size_t) per_page;
            size_t cnt =
                end - from < (size_t) per_page ? end - from : (size_t) per_page;
            char *html = adm_sheet_page(
                school_name, rows[i].cls, p, pages, rows + from, cnt);
            page++;
            snprintf(file, sizeof(file), "%s/sheet-%d.html", path, page);
            if (html == NULL || write_file(file, html, strlen(html), 0644) != 0
                || json_array_append_new(sheets,
                       json_pack("{s:i,s:s,s:i}", "page", page, "class",
                           rows[i].cls, "students", (int) cnt))
                    != 0)
            {
                failed = 1;
            }
            free(html);
        }
        i = end;
    }

    /* the CSV, taken once (UTF-8 BOM: spreadsheets guess the encoding) */
    static const char head[] = "\xEF\xBB\xBFstudent_no,name,class,code\r\n";
    adm_sb_add(&csv, head, sizeof(head) - 1);
    for (j = 0; j < n && !failed; j++) {
        csv_field(&csv, rows[j].no);
        adm_sb_add(&csv, ",", 1);
        csv_field(&csv, rows[j].name);
        adm_sb_add(&csv, ",", 1);
        csv_field(&csv, rows[j].cls);
        adm_sb_add(&csv, ",", 1);
        csv_field(&csv, rows[j].code);
        adm_sb_add(&csv, "\r\n", 2);
    }
    snprintf(file, sizeof(file), "%s/" BATCH_CSV, path);
    if (failed || csv.oom || write_file(file, csv.p, csv.len, 0600) != 0) {
        goto fail;
    }
    free(csv.p);
    csv.p = NULL;

    /* the record, in the caller's transaction */
    *storage_err = 0;
    char *sj = json_dumps(sheets, JSON_COMPACT);
    if (sj == NULL
        || adm_exec(ctx, NULL,
               "INSERT INTO code_batches (school_id, teacher_id, dir, count,"
               " sheets, created_at, expires_at) VALUES (%u, %u, %s, %u, %s,"
               " %ld, %ld)",
               school_id, teacher_id, dir, (unsigned) n, sj, now,
               now + cfg->codes_sheet_retention_s)
            != 0)
    {
        free(sj);
        goto fail;
    }
    free(sj);
    *batch_id = mysql_insert_id(ctx->db);
    *sheets_out = sheets;
    return 0;

fail:
    rm_batch_dir(path);
fail_nodir:
    tlog_error("codes: cannot write batch files under %s/codes: %s",
        cfg->storage_dir, strerror(errno));
    free(csv.p);
    json_decref(sheets);
    return -1;
}

/* Expired batches of a school: files and rows go (a few per call). */
void
adm_batch_expire(tucai_ctx_t *ctx, uint32_t school_id)
{
    MYSQL_RES *res = adm_query(ctx,
        "SELECT id, dir FROM code_batches WHERE school_id = %u"
        " AND expires_at <= %ld LIMIT 20",
        school_id, (int64_t) time(NULL));
    MYSQL_ROW  row;

    if (res == NULL)
        return;
    while ((row = mysql_fetch_row(res)) != NULL) {
        adm_batch_discard(ctx, row[1]);
        (void) adm_exec(
            ctx, NULL, "DELETE FROM code_batches WHERE id = %-s", row[0]);
    }
    mysql_free_result(res);
}

static int
gone(tucai_resp_t *resp)
{
    return resp_error(resp, 410, "CODES_NOT_RETRIEVABLE",
        "这些采集码已取走或已过期，只能重新生成",
        "these codes were already taken or have expired: generate new ones",
        NULL);
}

static int
param_u64(const tucai_req_t *req, uint64_t *id, int *page)
{
    char   buf[32], *end;
    size_t n = req->param.len;

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, req->param.p, n);
    buf[n] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return -1;
    errno = 0;
    *id = strtoull(buf, &end, 10);
    if (errno != 0)
        return -1;
    if (page == NULL)
        return *end == '\0' ? 0 : -1;
    if (*end != '-' || end[1] < '1' || end[1] > '9')
        return -1;
    long p = strtol(end + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 1000000)
        return -1;
    *page = (int) p;
    return 0;
}

/* GET /admin/api/v1/codes/batches/{id} */
int
admin_code_batch(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    uint64_t  id;

    if (adm_auth(ctx, req, resp, &who) != 0)
        return 0;
    if (param_u64(req, &id, NULL) != 0)
        return adm_not_found(resp);
    adm_batch_expire(ctx, who.school_id);
    MYSQL_RES *res = adm_query(ctx,
        "SELECT created_at, count, sheets, csv_taken_at IS NULL FROM"
        " code_batches WHERE id = %lu AND school_id = %u",
        id, who.school_id);
    if (res == NULL)
        return resp_db_unavailable(resp);
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return adm_not_found(resp);
    }
    json_t *sheets = json_loads(row[2], 0, NULL);
    size_t  i;
    json_t *s;
    char    url[96];
    json_array_foreach (sheets, i, s) {
        snprintf(url, sizeof(url), "/admin/api/v1/codes/sheets/%llu-%lld",
            (unsigned long long) id,
            (long long) json_integer_value(json_object_get(s, "page")));
        json_object_set_new(s, "url", json_string(url));
    }
    json_t *out = json_pack("{s:I,s:I,s:I,s:b,s:o}", "batch", (json_int_t) id,
        "created_at", (json_int_t) strtoll(row[0], NULL, 10), "count",
        (json_int_t) strtoll(row[1], NULL, 10), "csv_available",
        row[3][0] == '1', "sheets", sheets ? sheets : json_array());
    mysql_free_result(res);
    return resp_json(resp, 200, out);
}

/* GET /admin/api/v1/codes/batches/{id}/csv -- once */
int
admin_code_csv(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    uint64_t  id, n = 0;
    char      dir[80], path[TUCAI_PATH_MAX + 160];

    if (adm_auth(ctx, req, resp, &who) != 0)
        return 0;
    if (param_u64(req, &id, NULL) != 0)
        return adm_not_found(resp);
    if (adm_begin(ctx) != 0)
        return resp_db_unavailable(resp);
    MYSQL_RES *res = adm_query(ctx,
        "SELECT dir, csv_taken_at IS NULL AND expires_at > %ld FROM code_batches"
        " WHERE id = %lu AND school_id = %u FOR UPDATE",
        (int64_t) time(NULL), id, who.school_id);
    if (res == NULL) {
        adm_rollback(ctx);
        return resp_db_unavailable(resp);
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL || row[1][0] != '1') {
        int found = row != NULL;
        mysql_free_result(res);
        adm_rollback(ctx);
        return found ? gone(resp) : adm_not_found(resp);
    }
    snprintf(dir, sizeof(dir), "%s", row[0]);
    mysql_free_result(res);

    snprintf(path, sizeof(path), "%s/codes/%s/" BATCH_CSV,
        ctx->cfg->storage_dir, dir);
    int         fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > 16 * 1024 * 1024) {
        if (fd >= 0)
            close(fd);
        adm_rollback(ctx);
        return gone(resp);
    }
    resp->body.len = 0;
    char    buf[65536];
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0) {
        if (tbuf_add(&resp->body, buf, (size_t) r) != 0) {
            r = -1;
            break;
        }
    }
    close(fd);
    json_t *d = json_pack("{s:I}", "batch", (json_int_t) id);
    if (r < 0
        || adm_exec(ctx, &n,
               "UPDATE code_batches SET csv_taken_at = %ld"
               " WHERE id = %lu AND csv_taken_at IS NULL",
               (int64_t) time(NULL), id)
            != 0
        || n != 1 || adm_audit(ctx, req, &who, "codes.csv", "", d) != 0
        || adm_commit(ctx) != 0)
    {
        json_decref(d);
        adm_rollback(ctx);
        resp->body.len = 0;
        return resp_db_unavailable(resp);
    }
    json_decref(d);
    unlink(path); /* taken: the clear codes leave the server */
    resp->status = 200;
    snprintf(resp->content_type, sizeof(resp->content_type),
        "text/csv; charset=utf-8");
    (void) resp_header(
        resp, "Content-Disposition", "attachment; filename=\"codes.csv\"");
    (void) resp_header(resp, "Cache-Control", "no-store");
    return 0;
}

/* GET /admin/api/v1/codes/sheets/{id}-{page} */
int
admin_code_sheet_page(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    uint64_t  id;
    int       page;
    char      uri[400];

    if (adm_auth(ctx, req, resp, &who) != 0)
        return 0;
    if (param_u64(req, &id, &page) != 0)
        return adm_not_found(resp);
    MYSQL_RES *res = adm_query(ctx,
        "SELECT dir, expires_at > %ld, JSON_LENGTH(sheets) FROM code_batches"
        " WHERE id = %lu AND school_id = %u",
        (int64_t) time(NULL), id, who.school_id);
    if (res == NULL)
        return resp_db_unavailable(resp);
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL || row[2] == NULL || page > atoi(row[2])) {
        mysql_free_result(res);
        return adm_not_found(resp);
    }
    if (row[1][0] != '1') {
        mysql_free_result(res);
        return gone(resp);
    }
    snprintf(uri, sizeof(uri), "%s/codes/%s/sheet-%d.html",
        ctx->cfg->storage_uri, row[0], page);
    mysql_free_result(res);
    return resp_redirect(resp, uri, "text/html; charset=utf-8");
}
