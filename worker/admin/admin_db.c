/*
 * admin_db.c -- the back office's SQL access: printf-like statements whose
 * every value is escaped by the formatter (no hand-built quoting in
 * handlers), and thin transaction helpers on the child's connection.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "log.h"

typedef adm_sbuf sbuf;

void
adm_sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_quoted(sbuf *b, MYSQL *db, const char *s, size_t n)
{
    /* mysql_real_escape_string needs 2n+1 bytes. */
    char *tmp = malloc(2 * n + 1);
    if (tmp == NULL) {
        b->oom = 1;
        return;
    }
    unsigned long m = db ? mysql_real_escape_string(db, tmp, s, n)
                         : mysql_escape_string(tmp, s, n);
    adm_sb_add(b, "'", 1);
    adm_sb_add(b, tmp, m);
    adm_sb_add(b, "'", 1);
    free(tmp);
}

char *
adm_vsql(MYSQL *db, const char *fmt, va_list ap)
{
    sbuf b = {0};
    char num[32];
    const char *f;

    for (f = fmt; *f; f++) {
        if (*f != '%') {
            const char *e = strchr(f, '%');
            size_t n = e ? (size_t) (e - f) : strlen(f);
            adm_sb_add(&b, f, n);
            f += n - 1;
            continue;
        }
        f++;
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL) {
                adm_sb_add(&b, "NULL", 4);
            } else {
                sb_quoted(&b, db, s, strlen(s));
            }
            break;
        }
        case 'q': {
            const tstr *t = va_arg(ap, const tstr *);
            sb_quoted(&b, db, t->p ? t->p : "", t->len);
            break;
        }
        case 'x': {
            const unsigned char *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            adm_sb_add(&b, "X'", 2);
            for (size_t i = 0; i < n; i++) {
                snprintf(num, sizeof(num), "%02x", p[i]);
                adm_sb_add(&b, num, 2);
            }
            adm_sb_add(&b, "'", 1);
            break;
        }
        case 'd':
            adm_sb_add(&b, num, (size_t) snprintf(num, sizeof(num), "%d",
                                               va_arg(ap, int)));
            break;
        case 'u':
            adm_sb_add(&b, num, (size_t) snprintf(num, sizeof(num), "%u",
                                               va_arg(ap, unsigned)));
            break;
        case 'D':
            adm_sb_add(&b, num, (size_t) snprintf(num, sizeof(num), "%" PRId64,
                                               va_arg(ap, int64_t)));
            break;
        case 'U':
            adm_sb_add(&b, num, (size_t) snprintf(num, sizeof(num), "%" PRIu64,
                                               va_arg(ap, uint64_t)));
            break;
        case 'r': {
            const char *s = va_arg(ap, const char *);
            adm_sb_add(&b, s, strlen(s));
            break;
        }
        case '%':
            adm_sb_add(&b, "%", 1);
            break;
        default:
            /* A programming error: refuse rather than send odd SQL. */
            free(b.p);
            return NULL;
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (b.p == NULL) {
        adm_sb_add(&b, "", 0);
    }
    return b.p;
}

char *
adm_sql(MYSQL *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = adm_vsql(db, fmt, ap);
    va_end(ap);
    return s;
}

static int
run(tucai_ctx_t *ctx, const char *fmt, va_list ap)
{
    if (ctx->db == NULL) {
        return -1;
    }
    char *sql = adm_vsql(ctx->db, fmt, ap);
    if (sql == NULL) {
        return -1;
    }
    int rc = mysql_real_query(ctx->db, sql, strlen(sql));
    if (rc != 0) {
        tlog_error("admin: sql error %u: %s", mysql_errno(ctx->db),
                   mysql_error(ctx->db));
    }
    free(sql);
    return rc == 0 ? 0 : -1;
}

int
adm_exec(tucai_ctx_t *ctx, uint64_t *affected, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = run(ctx, fmt, ap);
    va_end(ap);
    if (rc == 0 && affected) {
        *affected = mysql_affected_rows(ctx->db);
    }
    return rc;
}

/* run() and the stored result; NULL (logged) on any failure. */
static MYSQL_RES *
vquery(tucai_ctx_t *ctx, const char *fmt, va_list ap)
{
    if (run(ctx, fmt, ap) != 0) {
        return NULL;
    }
    MYSQL_RES *res = mysql_store_result(ctx->db);
    if (res == NULL) {
        tlog_error("admin: no result: %s", mysql_error(ctx->db));
    }
    return res;
}

MYSQL_RES *
adm_query(tucai_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    MYSQL_RES *res = vquery(ctx, fmt, ap);
    va_end(ap);
    return res;
}

int
adm_query_u64(tucai_ctx_t *ctx, uint64_t *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    MYSQL_RES *res = vquery(ctx, fmt, ap);
    va_end(ap);
    if (res == NULL) {
        return -1;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    int found = 0;
    if (row != NULL) {
        *out = row[0] ? strtoull(row[0], NULL, 10) : 0;
        found = 1;
    }
    mysql_free_result(res);
    return found;
}

int
adm_begin(tucai_ctx_t *ctx)
{
    return adm_exec(ctx, NULL, "START TRANSACTION");
}

int
adm_commit(tucai_ctx_t *ctx)
{
    return adm_exec(ctx, NULL, "COMMIT");
}

void
adm_rollback(tucai_ctx_t *ctx)
{
    if (ctx->db) {
        (void) mysql_real_query(ctx->db, "ROLLBACK", 8);
    }
}

uint64_t
adm_last_id(tucai_ctx_t *ctx)
{
    return mysql_insert_id(ctx->db);
}
