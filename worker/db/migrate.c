/* migrate.c -- applies sql/NNN_*.sql in order, each once, recorded in
 * schema_migrations, under a named lock so pools starting together don't
 * race. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "lease.h"
#include "log.h"

#define MAX_FILES    256
#define MAX_SQL_SIZE (1024 * 1024)

static int
is_migration(const char *n)
{
    size_t l = strlen(n);
    return l > 8 && l < 200 && isdigit((unsigned char) n[0])
        && isdigit((unsigned char) n[1]) && isdigit((unsigned char) n[2])
        && n[3] == '_' && strcmp(n + l - 4, ".sql") == 0;
}

static int
cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    if (f == NULL)
        return NULL;
    buf = malloc(MAX_SQL_SIZE + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, MAX_SQL_SIZE + 1, f);
    fclose(f);
    if (*len > MAX_SQL_SIZE) {
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

/* Runs a multi-statement script, draining every result. */
static int
run_script(tucai_ctx_t *ctx, const char *sql, size_t len)
{
    MYSQL *m = ctx->db;
    int    st;

    if (mysql_real_query(m, sql, (unsigned long) len) != 0) {
        return -1;
    }
    do {
        MYSQL_RES *r = mysql_store_result(m);
        if (r)
            mysql_free_result(r);
        else if (mysql_field_count(m) != 0)
            return -1;
        st = mysql_next_result(m);
        if (st > 0)
            return -1;
    } while (st == 0);
    return 0;
}

int
migrate_apply(tucai_ctx_t *ctx, const char *dir)
{
    DIR           *d;
    struct dirent *e;
    char          *names[MAX_FILES];
    int            n = 0, i, rc = -1;

    db_set_multi_statements(1);
    if (db_connect(ctx) != 0) {
        db_set_multi_statements(0);
        fprintf(stderr, "migrate: cannot connect: %s\n", db_error(ctx));
        return -1;
    }
    db_set_multi_statements(0);

    /* One migrator for the whole cluster: a lease (a row), not GET_LOCK,
     * which each Galera node would grant on its own. */
    if (db_lease_setup(ctx) != 0 || db_lease_reap(ctx) < 0
        || db_lease_wait(ctx, "tucai_migrate", 300, 60 * 1000) != 1)
    {
        fprintf(stderr, "migrate: cannot take the migration lease: %s\n",
            db_error(ctx));
        db_close(ctx);
        return -1;
    }
    if (db_exec(ctx,
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version VARCHAR(191) NOT NULL PRIMARY KEY,"
            " applied_at BIGINT NOT NULL"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
        < 0)
    {
        goto out;
    }

    d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "migrate: cannot open %s\n", dir);
        goto out;
    }
    while ((e = readdir(d)) != NULL && n < MAX_FILES) {
        if (is_migration(e->d_name)) {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t) n, sizeof(char *), cmp);

    rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        int64_t done = 0;
        char    path[1024];
        size_t  len;
        char   *sql;

        if (db_query_int(ctx, &done,
                "SELECT COUNT(*) FROM schema_migrations"
                " WHERE version = %s",
                names[i])
            != 1)
        {
            rc = -1;
            break;
        }
        if (done)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        sql = slurp(path, &len);
        if (sql == NULL) {
            fprintf(stderr, "migrate: cannot read %s (or larger than 1 MB)\n",
                path);
            rc = -1;
            break;
        }
        if (run_script(ctx, sql, len) != 0) {
            fprintf(stderr, "migrate: %s failed: %s\n", names[i],
                mysql_error(ctx->db));
            tlog_error(
                "migrate: %s failed: %s", names[i], mysql_error(ctx->db));
            rc = -1;
        } else if (db_exec(ctx,
                       "INSERT INTO schema_migrations (version, applied_at)"
                       " VALUES (%s, %ld)",
                       names[i], (int64_t) time(NULL))
            < 0)
        {
            rc = -1;
        } else {
            tlog_info("migrate: applied %s", names[i]);
        }
        free(sql);
    }
    for (i = 0; i < n; i++)
        free(names[i]);
out:
    if (ctx->db) {
        (void) db_lease_release(ctx, "tucai_migrate");
    }
    /* this connection allows several statements per query: never hand it
     * on (the admin commands reconnect without) */
    db_close(ctx);
    return rc;
}
