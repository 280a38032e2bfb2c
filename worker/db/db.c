/* db.c -- one MariaDB connection per process, reconnecting transparently. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errmsg.h>
#include <mysql.h>

#include "db.h"
#include "log.h"

/* One connection per process, so its bookkeeping is per process too. */
static int      in_txn;
static unsigned last_errno;
static char     last_error[256];
static time_t   last_ok;
static int      multi_statements;
static int      conflict_seen;

/* A conflict with another transaction: InnoDB's deadlock or lock wait
 * timeout, and on Galera a certification failure (reported as a
 * deadlock, at COMMIT or at any statement of a transaction another node's
 * commit aborted).  Running the work again is the cure. */
static int
is_conflict(unsigned e)
{
    return e == 1213 /* ER_LOCK_DEADLOCK */ || e == 1205 /* ER_LOCK_WAIT_TIMEOUT */;
}

static void
set_err(unsigned e, const char *msg)
{
    last_errno = e;
    snprintf(last_error, sizeof(last_error), "%s", msg ? msg : "");
    if (is_conflict(e)) {
        conflict_seen = 1;
    }
}

void
db_conflict_reset(void)
{
    conflict_seen = 0;
}

int
db_conflict_seen(void)
{
    return conflict_seen;
}

/* Before running again after a conflict: a short pause that grows and
 * differs between processes, so the same two do not collide again. */
void
db_conflict_backoff(int attempt)
{
    struct timespec ts;
    long            ms = (5L << (attempt < 5 ? attempt : 5)) + (random() % 20);

    ts.tv_sec = 0;
    ts.tv_nsec = ms * 1000 * 1000;
    nanosleep(&ts, NULL);
}

static int
is_lost(unsigned e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST
        || e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR
        || e == CR_SERVER_LOST_EXTENDED || e == 1927 /* ER_CONNECTION_KILLED */
        || e == 1053                                 /* ER_SERVER_SHUTDOWN */
        /* a Galera node out of the primary component (or still joining):
         * reconnect, possibly to the next server of [db] socket/host */
        || e == 1047 /* ER_UNKNOWN_COM_ERROR: WSREP not ready */;
}

void
db_set_multi_statements(int on)
{
    multi_statements = on;
}

void
db_close(tucai_ctx_t *ctx)
{
    if (ctx->db) {
        mysql_close(ctx->db);
        ctx->db = NULL;
    }
    in_txn = 0;
}

/* The next item of a comma-separated list ("a,b,c") into out; *pos moves
 * past it.  0 when the list is exhausted. */
static int
next_item(const char *list, size_t *pos, char *out, size_t n)
{
    const char *p = list + *pos, *e;
    size_t      len;

    while (*p == ',' || *p == ' ')
        p++;
    if (*p == '\0')
        return 0;
    e = strchr(p, ',');
    len = e ? (size_t) (e - p) : strlen(p);
    while (len > 0 && p[len - 1] == ' ')
        len--;
    snprintf(out, n, "%.*s", (int) len, p);
    *pos = (size_t) ((e ? e : p + strlen(p)) - list);
    return 1;
}

static int connect_one(
    tucai_ctx_t *ctx, const char *host, const char *sock, int want_synced);

/*
 * [db] socket (or host) may list several servers, e.g. the local Galera
 * node first and others after it: the first Synced one is used until that
 * connection is lost.  A Galera node that is still catching up (Joined) or
 * serving a state transfer (Donor) answers, but with wsrep_sync_wait its
 * reads wait for it to catch up, up to repl.causal_read_timeout (30 s), and
 * an rsync donor blocks writes: a request would hang.  Only when no listed
 * node is Synced does a second pass take the first that answers.
 */
int
db_connect(tucai_ctx_t *ctx)
{
    const tucai_config_t *c = ctx->cfg;
    const char           *list = c->db_socket[0] ? c->db_socket : c->db_host;
    char                  item[TUCAI_PATH_MAX];
    int                   tried = 0;

    for (int want_synced = 1; want_synced >= 0; want_synced--) {
        size_t pos = 0;

        while (next_item(list, &pos, item, sizeof(item))) {
            tried++;
            if (connect_one(ctx, c->db_socket[0] ? NULL : item,
                    c->db_socket[0] ? item : NULL, want_synced)
                == 0)
            {
                return 0;
            }
        }
        if (!tried) {
            return connect_one(ctx, c->db_host, NULL, 0);
        }
    }
    return -1;
}

/* 1 when the server is not a Galera node or is a Synced one (state 4). */
static int
galera_synced(MYSQL *m)
{
    MYSQL_RES *r;
    MYSQL_ROW  row;
    int        synced = 1;

    if (mysql_query(m, "SHOW STATUS LIKE 'wsrep_local_state'") != 0
        || (r = mysql_store_result(m)) == NULL)
    {
        return 1; /* no such status: not Galera */
    }
    row = mysql_fetch_row(r);
    if (row && row[1] && strcmp(row[1], "4") != 0) {
        synced = 0;
    }
    mysql_free_result(r);
    return synced;
}

static int
connect_one(
    tucai_ctx_t *ctx, const char *host, const char *sock, int want_synced)
{
    const tucai_config_t *c = ctx->cfg;
    unsigned int          to = (unsigned) c->db_connect_timeout_s;
    unsigned int          rw =
        (unsigned) (c->request_timeout_s > 0 ? c->request_timeout_s : 30);
    my_bool off = 0;
    MYSQL  *m;

    db_close(ctx);
    m = mysql_init(NULL);
    if (m == NULL) {
        set_err(CR_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &to);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(m, MYSQL_OPT_RECONNECT, &off); /* we reconnect ourselves */
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(m, host, c->db_user, c->db_password, c->db_name,
            (unsigned) c->db_port, sock,
            multi_statements ? CLIENT_MULTI_STATEMENTS : 0)
        == NULL)
    {
        set_err(mysql_errno(m), mysql_error(m));
        tlog_warn("db: connect failed: %s", mysql_error(m));
        mysql_close(m);
        return -1;
    }
    ctx->db = m;
    last_ok = time(NULL);
    /* Times are unix seconds everywhere; keep the session neutral anyway. */
    if (mysql_query(m,
            "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"))
    {
        set_err(mysql_errno(m), mysql_error(m));
        db_close(ctx);
        return -1;
    }
    /* a Galera node that is not ready accepts connections but refuses
     * queries: try the next server instead */
    if (mysql_query(m, "SELECT 1") != 0) {
        set_err(mysql_errno(m), mysql_error(m));
        tlog_warn("db: %s not ready: %s", sock ? sock : host, mysql_error(m));
        db_close(ctx);
        return -1;
    }
    {
        MYSQL_RES *r = mysql_store_result(m);

        if (r)
            mysql_free_result(r);
    }
    if (want_synced && !galera_synced(m)) {
        tlog_warn("db: %s is a Galera node not Synced yet: trying the next",
            sock ? sock : host);
        set_err(CR_CONNECTION_ERROR, "galera node not synced");
        db_close(ctx);
        return -1;
    }
    return 0;
}

int
db_ensure(tucai_ctx_t *ctx)
{
    if (ctx->db == NULL) {
        return db_connect(ctx);
    }
    /* A ping per request would double the round trips; a query on a dead
     * connection outside a transaction is retried anyway, so only ping a
     * connection that sat idle. */
    if (!in_txn && time(NULL) - last_ok >= 5) {
        if (mysql_ping(ctx->db) != 0) {
            tlog_info(
                "db: connection lost (%s), reconnecting", mysql_error(ctx->db));
            return db_connect(ctx);
        }
        last_ok = time(NULL);
    }
    return 0;
}

/* The server answers: a ping (no statement to parse, no result set: the
 * cheapest round trip); a lost connection is reconnected once. */
int
db_ping(tucai_ctx_t *ctx)
{
    if (ctx->db == NULL) {
        return db_connect(ctx);
    }
    if (mysql_ping(ctx->db) == 0) {
        last_ok = time(NULL);
        return 0;
    }
    set_err(mysql_errno(ctx->db), mysql_error(ctx->db));
    if (in_txn) {
        return -1;
    }
    tlog_info("db: connection lost (%s), reconnecting", mysql_error(ctx->db));
    return db_connect(ctx);
}

/* Runs sql; outside a transaction retries once on a lost connection and
 * up to three times on a conflict (a statement of its own: running it again
 * is safe).  A transaction's conflict is retried by dispatch, which runs
 * the whole request again. */
static int
run(tucai_ctx_t *ctx, const char *sql, size_t len)
{
    int attempt, conflicts = 0, seen = conflict_seen;

    for (attempt = 0; attempt < 2; attempt++) {
        if (ctx->db == NULL) {
            if (in_txn || db_connect(ctx) != 0) {
                if (in_txn)
                    set_err(
                        CR_SERVER_GONE_ERROR, "connection lost in transaction");
                return -1;
            }
        }
        if (mysql_real_query(ctx->db, sql, (unsigned long) len) == 0) {
            last_ok = time(NULL);
            last_errno = 0;
            conflict_seen = seen; /* a conflict retried here is over */
            return 0;
        }
        set_err(mysql_errno(ctx->db), mysql_error(ctx->db));
        if (!in_txn && is_conflict(last_errno) && conflicts < 3) {
            db_conflict_backoff(conflicts++);
            attempt--;
            continue;
        }
        if (!is_lost(last_errno)) {
            return -1;
        }
        int was_txn = in_txn;
        tlog_info("db: lost connection (%s)%s", last_error,
            was_txn ? " inside a transaction" : ", retrying");
        db_close(ctx);
        if (was_txn) {
            set_err(CR_SERVER_LOST, "connection lost in transaction");
            in_txn = 1; /* the caller still has to roll back */
            return -1;
        }
    }
    return -1;
}

static int
put(tbuf *b, const void *p, size_t n)
{
    return tbuf_add(b, p, n);
}

static int
put_quoted(tucai_ctx_t *ctx, tbuf *b, const char *s, size_t n)
{
    char         *tmp;
    unsigned long el;
    int           rc;

    if (n > 64 * 1024 * 1024) {
        return -1;
    }
    tmp = malloc(2 * n + 1);
    if (tmp == NULL) {
        return -1;
    }
    el = ctx->db ? mysql_real_escape_string(ctx->db, tmp, s, (unsigned long) n)
                 : mysql_escape_string(tmp, s, (unsigned long) n);
    rc = put(b, "'", 1) || put(b, tmp, el) || put(b, "'", 1);
    free(tmp);
    return rc ? -1 : 0;
}

static char *
vfmt(tucai_ctx_t *ctx, const char *fmt, va_list ap, size_t *outlen)
{
    tbuf        b = { 0 };
    char        num[32];
    const char *p;

    for (p = fmt; *p; p++) {
        if (*p != '%') {
            const char *q = strchr(p, '%');
            size_t      n = q ? (size_t) (q - p) : strlen(p);
            if (put(&b, p, n))
                goto fail;
            p += n - 1;
            continue;
        }
        p++;
        /* printf's syntax, so the compiler checks every call (db.h):
         * "-" raw, "*" binary, ".*" counted, "l"/"ll" 64-bit */
        int raw = 0, star = 0, prec = 0, lng = 0;
        if (*p == '-') {
            raw = 1;
            p++;
        }
        if (*p == '*') {
            star = 1;
            p++;
        } else if (p[0] == '.' && p[1] == '*') {
            prec = 1;
            p += 2;
        }
        while (*p == 'l' && lng < 2) {
            lng++;
            p++;
        }
        if ((raw || star || prec)
            && (*p != 's' || lng || raw + star + prec > 1)) {
            goto bad;
        }
        switch (*p) {
        case '%':
            if (put(&b, "%", 1))
                goto fail;
            break;
        case 's': {
            int         n = star || prec ? va_arg(ap, int) : 0;
            const char *s = va_arg(ap, const char *);
            if (raw) {
                if (s == NULL || put(&b, s, strlen(s)))
                    goto fail;
            } else if (star) {
                const unsigned char *d = (const unsigned char *) s;
                if (n < 0 || (n > 0 && d == NULL) || put(&b, "X'", 2))
                    goto fail;
                for (int i = 0; i < n; i++) {
                    snprintf(num, sizeof(num), "%02x", d[i]);
                    if (put(&b, num, 2))
                        goto fail;
                }
                if (put(&b, "'", 1))
                    goto fail;
            } else if (s == NULL) {
                if (put(&b, "NULL", 4))
                    goto fail;
            } else if (put_quoted(ctx, &b, s,
                           prec ? (n < 0 ? 0 : (size_t) n) : strlen(s))) {
                goto fail;
            }
            break;
        }
        case 'd':
            if (lng == 2)
                snprintf(num, sizeof(num), "%lld", va_arg(ap, long long));
            else if (lng)
                snprintf(num, sizeof(num), "%ld", va_arg(ap, long));
            else
                snprintf(num, sizeof(num), "%d", va_arg(ap, int));
            goto num;
        case 'u':
            if (lng == 2)
                snprintf(
                    num, sizeof(num), "%llu", va_arg(ap, unsigned long long));
            else if (lng)
                snprintf(num, sizeof(num), "%lu", va_arg(ap, unsigned long));
            else
                snprintf(num, sizeof(num), "%u", va_arg(ap, unsigned));
        num:
            if (put(&b, num, strlen(num)))
                goto fail;
            break;
        default:
        bad:
            tlog_error("db: bad format directive in \"%s\"", fmt);
            goto fail;
        }
    }
    if (put(&b, "", 1))
        goto fail;
    *outlen = b.len - 1;
    return (char *) b.p;
fail:
    tbuf_free(&b);
    set_err(CR_UNKNOWN_ERROR, "cannot build query");
    return NULL;
}

char *
db_vfmt(tucai_ctx_t *ctx, const char *fmt, va_list ap)
{
    size_t n;

    return vfmt(ctx, fmt, ap, &n);
}

char *
db_fmt(tucai_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    size_t  n;
    char   *s;

    va_start(ap, fmt);
    s = vfmt(ctx, fmt, ap, &n);
    va_end(ap);
    return s;
}

static int
vrun(tucai_ctx_t *ctx, const char *fmt, va_list ap)
{
    size_t n;
    char  *sql;
    int    rc;

    /* Escaping wants the live connection's charset: connect first. */
    if (ctx->db == NULL && !in_txn) {
        (void) db_connect(ctx);
    }
    sql = vfmt(ctx, fmt, ap, &n);
    if (sql == NULL) {
        return -1;
    }
    rc = run(ctx, sql, n);
    if (rc != 0 && !db_lost(ctx)) {
        tlog_warn("db: %s [%.300s]", last_error, sql);
    }
    free(sql);
    return rc;
}

int64_t
db_exec(tucai_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    int64_t n;

    va_start(ap, fmt);
    n = db_vexec(ctx, fmt, ap);
    va_end(ap);
    return n;
}

int64_t
db_vexec(tucai_ctx_t *ctx, const char *fmt, va_list ap)
{
    if (vrun(ctx, fmt, ap) != 0) {
        return -1;
    }
    /* drain a stray result so the connection stays usable */
    MYSQL_RES *r = mysql_store_result(ctx->db);
    if (r)
        mysql_free_result(r);
    return (int64_t) mysql_affected_rows(ctx->db) < 0
        ? 0
        : (int64_t) mysql_affected_rows(ctx->db);
}

static MYSQL_RES *
vquery(tucai_ctx_t *ctx, const char *fmt, va_list ap)
{
    MYSQL_RES *r;

    if (vrun(ctx, fmt, ap) != 0) {
        return NULL;
    }
    r = mysql_store_result(ctx->db);
    if (r == NULL) {
        set_err(mysql_errno(ctx->db) ? mysql_errno(ctx->db) : CR_UNKNOWN_ERROR,
            mysql_errno(ctx->db) ? mysql_error(ctx->db) : "no result set");
        if (is_lost(last_errno)) {
            db_close(ctx);
        }
    }
    return r;
}

MYSQL_RES *
db_vquery(tucai_ctx_t *ctx, const char *fmt, va_list ap)
{
    return vquery(ctx, fmt, ap);
}

MYSQL_RES *
db_query(tucai_ctx_t *ctx, const char *fmt, ...)
{
    va_list    ap;
    MYSQL_RES *r;

    va_start(ap, fmt);
    r = vquery(ctx, fmt, ap);
    va_end(ap);
    return r;
}

/* The first row of a one-value query (NULL row when none); the caller
 * frees the result.  NULL result: the query failed. */
static MYSQL_RES *
vfirst(tucai_ctx_t *ctx, MYSQL_ROW *row, const char *fmt, va_list ap)
{
    MYSQL_RES *r = vquery(ctx, fmt, ap);

    *row = NULL;
    if (r != NULL && mysql_num_fields(r) > 0) {
        *row = mysql_fetch_row(r);
    }
    return r;
}

int
db_query_int(tucai_ctx_t *ctx, int64_t *out, const char *fmt, ...)
{
    va_list    ap;
    MYSQL_RES *r;
    MYSQL_ROW  row;
    int        rc = 0;

    va_start(ap, fmt);
    r = vfirst(ctx, &row, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        return -1;
    }
    if (row != NULL) {
        *out = row[0] ? strtoll(row[0], NULL, 10) : 0;
        rc = 1;
    }
    mysql_free_result(r);
    return rc;
}

int
db_query_str(tucai_ctx_t *ctx, char *out, size_t n, const char *fmt, ...)
{
    va_list    ap;
    MYSQL_RES *r;
    MYSQL_ROW  row;
    int        rc = 0;

    va_start(ap, fmt);
    r = vfirst(ctx, &row, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        return -1;
    }
    if (row != NULL && row[0] != NULL && n > 0) {
        snprintf(out, n, "%s", row[0]);
        rc = 1;
    }
    mysql_free_result(r);
    return rc;
}

int
db_begin(tucai_ctx_t *ctx)
{
    /* Before the transaction opens a lost connection is still retried. */
    in_txn = 0;
    if (run(ctx, "START TRANSACTION", 17) != 0) {
        return -1;
    }
    in_txn = 1;
    return 0;
}

int
db_commit(tucai_ctx_t *ctx)
{
    int rc;

    if (!in_txn || ctx->db == NULL) {
        in_txn = 0;
        set_err(CR_SERVER_LOST, "no transaction to commit");
        return -1;
    }
    rc = mysql_real_query(ctx->db, "COMMIT", 6);
    if (rc != 0) {
        set_err(mysql_errno(ctx->db), mysql_error(ctx->db));
        if (is_lost(last_errno)) {
            db_close(ctx);
        } else {
            mysql_real_query(ctx->db, "ROLLBACK", 8);
        }
    }
    in_txn = 0;
    return rc ? -1 : 0;
}

int
db_rollback(tucai_ctx_t *ctx)
{
    int rc = 0;

    if (in_txn && ctx->db) {
        rc = mysql_real_query(ctx->db, "ROLLBACK", 8);
        if (rc && is_lost(mysql_errno(ctx->db))) {
            db_close(ctx);
        }
    }
    in_txn = 0;
    return rc ? -1 : 0;
}

int
db_in_txn(const tucai_ctx_t *ctx)
{
    (void) ctx;
    return in_txn;
}

uint64_t
db_insert_id(tucai_ctx_t *ctx)
{
    return ctx->db ? (uint64_t) mysql_insert_id(ctx->db) : 0;
}

unsigned
db_errno(tucai_ctx_t *ctx)
{
    (void) ctx;
    return last_errno;
}

const char *
db_error(tucai_ctx_t *ctx)
{
    (void) ctx;
    return last_error;
}

int
db_lost(tucai_ctx_t *ctx)
{
    (void) ctx;
    return last_errno != 0 && (is_lost(last_errno) || ctx->db == NULL);
}

const char *
db_server_version(tucai_ctx_t *ctx)
{
    return ctx->db ? mysql_get_server_info(ctx->db) : "";
}
