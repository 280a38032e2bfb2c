/* lease.c -- leases in the table tucai_leases (lease.h says why). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "lease.h"
#include "log.h"

static char host[65];

static const char *
host_name(void)
{
    if (host[0] == '\0') {
        if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
            snprintf(host, sizeof(host), "localhost");
        }
    }
    return host;
}

int
db_lease_setup(tucai_ctx_t *ctx)
{
    return db_exec(ctx,
               "CREATE TABLE IF NOT EXISTS tucai_leases ("
               " name VARCHAR(96) NOT NULL PRIMARY KEY,"
               " host VARCHAR(64) NOT NULL,"
               " pid INT UNSIGNED NOT NULL,"
               " expires_at BIGINT NOT NULL,"
               " KEY host_pid (host, pid)"
               ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
            < 0
        ? -1
        : 0;
}

int
db_lease_take(tucai_ctx_t *ctx, const char *name, int ttl_s)
{
    int64_t now = (int64_t) time(NULL), n;

    /* a lapsed lease is anybody's */
    if (db_exec(ctx,
            "DELETE FROM tucai_leases WHERE name = %s AND expires_at < %ld",
            name, now)
        < 0)
    {
        return -1;
    }
    n = db_exec(ctx,
        "INSERT IGNORE INTO tucai_leases (name, host, pid, expires_at)"
        " VALUES (%s, %s, %u, %ld)",
        name, host_name(), (unsigned) getpid(), now + ttl_s);
    return n < 0 ? -1 : n > 0 ? 1 : 0;
}

int
db_lease_wait(tucai_ctx_t *ctx, const char *name, int ttl_s, int wait_ms)
{
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    int             rc, waited = 0;

    for (;;) {
        rc = db_lease_take(ctx, name, ttl_s);
        if (rc != 0 || waited >= wait_ms) {
            return rc;
        }
        nanosleep(&ts, NULL);
        waited += 50;
    }
}

/* Releases that failed (the connection or the node was lost after the
 * lease was taken): given back as soon as the database answers again,
 * rather than holding a student's upload slot until it lapses. */
#define PENDING_MAX 16
static char pending[PENDING_MAX][96];
static int  npending;

static int
release(tucai_ctx_t *ctx, const char *name)
{
    return db_exec(ctx,
               "DELETE FROM tucai_leases WHERE name = %s AND host = %s"
               " AND pid = %u",
               name, host_name(), (unsigned) getpid())
            < 0
        ? -1
        : 0;
}

int
db_lease_release(tucai_ctx_t *ctx, const char *name)
{
    if (release(ctx, name) == 0) {
        return 0;
    }
    if (npending < PENDING_MAX) {
        snprintf(pending[npending++], sizeof(pending[0]), "%s", name);
    }
    return -1;
}

int
db_lease_flush(tucai_ctx_t *ctx)
{
    int i, left = 0;

    for (i = 0; i < npending; i++) {
        if (release(ctx, pending[i]) != 0) {
            memmove(pending[left++], pending[i], sizeof(pending[0]));
        }
    }
    npending = left;
    return left ? -1 : 0;
}

int
db_lease_pending(void)
{
    return npending;
}

int
db_lease_reap(tucai_ctx_t *ctx)
{
    MYSQL_RES *r;
    MYSQL_ROW  row;
    int        n = 0;
    unsigned   pids[256], k = 0, i;

    r = db_query(ctx,
        "SELECT DISTINCT pid FROM tucai_leases WHERE host = %s LIMIT 256",
        host_name());
    if (r == NULL) {
        return -1;
    }
    while ((row = mysql_fetch_row(r)) != NULL && k < 256) {
        unsigned long p = row[0] ? strtoul(row[0], NULL, 10) : 0;

        /* EPERM: alive under another user; only ESRCH means gone */
        if (p > 0 && kill((pid_t) p, 0) != 0 && errno == ESRCH) {
            pids[k++] = (unsigned) p;
        }
    }
    mysql_free_result(r);
    for (i = 0; i < k; i++) {
        int64_t d = db_exec(ctx,
            "DELETE FROM tucai_leases WHERE host = %s AND pid = %u",
            host_name(), pids[i]);
        if (d > 0) {
            tlog_info("lease: released %lld lease(s) of gone process %u",
                (long long) d, pids[i]);
            n += (int) d;
        }
    }
    return n;
}
