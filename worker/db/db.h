/*
 * db.h -- the child's MariaDB connection (ctx->db).
 *
 * One connection per process.  db_ensure() is called by the pool before
 * every request: it pings and reconnects after a MariaDB restart.  Queries
 * outside a transaction are retried once when the server went away
 * (CR_SERVER_GONE_ERROR / CR_SERVER_LOST); inside a transaction a lost
 * connection is an error (the caller answers 503 DB_UNAVAILABLE).
 *
 * This is the one SQL layer of the worker (admin's adm_* are thin wrappers
 * over it): one formatter, the transaction flag, reconnects, error
 * tracking, and the one place conflicts are retried: a statement outside a
 * transaction that hits a deadlock / lock wait timeout (1213, 1205; a
 * Galera certification failure reads as 1213) is run again here, up to 3
 * times with a growing jittered pause; inside a transaction the conflict
 * is recorded (db_conflict_seen) and dispatch() runs the whole request
 * again (up to 4 times), so handlers never retry on their own.
 *
 * Building SQL: db_fmt()/db_query()/db_exec() take printf's syntax, so the
 * compiler checks each call's arguments (format attribute, -Werror), but
 * every value is escaped for the connection's charset (utf8mb4):
 *   %s    const char *               -> 'escaped'   (NULL -> NULL)
 *   %.*s  int n, const char *        -> 'escaped' of n bytes (a tstr:
 *                                       (int) t.len, t.p; NULL -> NULL)
 *   %*s   int n, const void *        -> X'hex' of n bytes (binary, e.g.
 *                                       code_hash)
 *   %-s   const char *               -> raw, unescaped (trusted SQL
 *                                       fragment only, e.g. from db_fmt)
 *   %d %u int, unsigned   %ld %lu int64_t, uint64_t (long on amd64; or
 *                                       %lld %llu with long long)
 *   %%    '%'
 * Anything else is a programming error: the call fails with -1/NULL.
 */
#ifndef TUCAI_DB_H
#define TUCAI_DB_H

#include <stdint.h>
#include <mysql.h>
#include "buf.h"
#include "ctx.h"

/* Connects ctx->db using ctx->cfg.  0 or -1 (logged). */
int db_connect(tucai_ctx_t *ctx);
/* Allow several statements per query on later connects (migrations). */
void db_set_multi_statements(int on);
/* Makes sure ctx->db is usable (ping, reconnect).  0 or -1. */
int db_ensure(tucai_ctx_t *ctx);
/* One round trip to the server (health): 0, or -1 when it cannot be
 * reached even after a reconnect. */
int  db_ping(tucai_ctx_t *ctx);
void db_close(tucai_ctx_t *ctx);

#include <stdarg.h>

#define DB_FMT(i) __attribute__((format(printf, i, (i) + 1)))

/* Builds SQL into a malloc'ed string (caller frees).  NULL on error. */
char *db_fmt(tucai_ctx_t *ctx, const char *fmt, ...) DB_FMT(2);
char *db_vfmt(tucai_ctx_t *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Runs a statement that returns no rows.  Returns affected rows (>= 0) or
 * -1 on error. */
int64_t db_exec(tucai_ctx_t *ctx, const char *fmt, ...) DB_FMT(2);
int64_t db_vexec(tucai_ctx_t *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Runs a query and returns its stored result (mysql_free_result it), or
 * NULL on error.  A statement without a result set is an error here. */
MYSQL_RES *db_query(tucai_ctx_t *ctx, const char *fmt, ...) DB_FMT(2);
MYSQL_RES *db_vquery(tucai_ctx_t *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* First column of the first row as an integer.  Returns 1 (found, *out
 * set; SQL NULL -> 0), 0 (no row) or -1 (error). */
int db_query_int(tucai_ctx_t *ctx, int64_t *out, const char *fmt, ...)
    DB_FMT(3);

/* First column of the first row copied as a NUL-terminated string
 * (truncated to n-1).  Returns 1, 0 (no row or NULL) or -1. */
int db_query_str(tucai_ctx_t *ctx, char *out, size_t n, const char *fmt, ...)
    DB_FMT(4);

/* Transactions.  0 or -1.  db_rollback is safe to call when none is open. */
int db_begin(tucai_ctx_t *ctx);
int db_commit(tucai_ctx_t *ctx);
int db_rollback(tucai_ctx_t *ctx);
int db_in_txn(const tucai_ctx_t *ctx);

uint64_t db_insert_id(tucai_ctx_t *ctx);
/* mysql_errno of the last failure (0 = none); ER_DUP_ENTRY is 1062. */
unsigned    db_errno(tucai_ctx_t *ctx);
const char *db_error(tucai_ctx_t *ctx);
/* 1 when the last failure was a lost/unavailable connection. */
int db_lost(tucai_ctx_t *ctx);
/* Conflicts (deadlock, lock wait timeout, Galera certification failure):
 * the flag is set by any failing statement and cleared by reset, so the
 * dispatcher knows a request's 503 came from one and may run it again. */
void db_conflict_reset(void);
int  db_conflict_seen(void);
void db_conflict_backoff(int attempt);
/* Server version string or "" when disconnected. */
const char *db_server_version(tucai_ctx_t *ctx);

/* migrate.c: applies dir's NNN_*.sql once each.  0 or -1. */
int migrate_apply(tucai_ctx_t *ctx, const char *dir);

#endif
