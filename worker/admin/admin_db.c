/*
 * admin_db.c -- the back office's SQL access: thin wrappers over db/'s one
 * SQL layer (printf-checked statements whose every value is escaped), and
 * a growable string for the code sheet's HTML.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "db.h"
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

/* The back office's SQL goes through db/ (db.h): one formatter, the
 * transaction flag, reconnects, error tracking, conflict retries.  These
 * wrappers only keep admin's call shapes. */

char *
adm_sql(MYSQL *db, const char *fmt, ...)
{
    tucai_ctx_t c = { .db = db };
    va_list     ap;
    va_start(ap, fmt);
    char *s = db_vfmt(&c, fmt, ap);
    va_end(ap);
    return s;
}

int
adm_exec(tucai_ctx_t *ctx, uint64_t *affected, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int64_t n = db_vexec(ctx, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -1;
    }
    if (affected) {
        *affected = (uint64_t) n;
    }
    return 0;
}

MYSQL_RES *
adm_query(tucai_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    MYSQL_RES *res = db_vquery(ctx, fmt, ap);
    va_end(ap);
    return res;
}

int
adm_query_u64(tucai_ctx_t *ctx, uint64_t *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    MYSQL_RES *res = db_vquery(ctx, fmt, ap);
    va_end(ap);
    if (res == NULL) {
        return -1;
    }
    MYSQL_ROW row = mysql_num_fields(res) > 0 ? mysql_fetch_row(res) : NULL;
    int       found = 0;
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
    return db_begin(ctx);
}

int
adm_commit(tucai_ctx_t *ctx)
{
    return db_commit(ctx);
}

void
adm_rollback(tucai_ctx_t *ctx)
{
    (void) db_rollback(ctx);
}

uint64_t
adm_last_id(tucai_ctx_t *ctx)
{
    return db_insert_id(ctx);
}
