/* main.c -- tucai-worker's command line.
 *
 *   tucai-worker -c worker.ini [--foreground]     run the pool
 *   tucai-worker -c worker.ini migrate            apply sql/ migrations
 *   tucai-worker -c worker.ini admin ARGS...      offline admin commands
 *   tucai-worker -c worker.ini token s|t SUBJECT SCHOOL [TTL]
 *                                                 print a signed token (tests)
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "childmem.h"
#include "db.h"
#include "handlers.h"
#include "jobs.h"
#include "log.h"
#include "ops.h"
#include "outbox.h"
#include "pay.h"
#include "pool.h"
#include "retention.h"
#include "token.h"

static tucai_config_t cfg;

/* The periodic jobs, in the order they run each tick. */
static const tucai_job_pt jobs[] = { outbox_run, pay_reconcile, deliver_pending,
    retention_run, NULL };

static void
tick(tucai_ctx_t *ctx, int budget_ms)
{
    jobs_tick(ctx, jobs, budget_ms);
}

static const tucai_app_t app = { tucai_ops_handler, tick };

static int
usage(void)
{
    fprintf(stderr,
        "usage: tucai-worker -c worker.ini [--foreground]\n"
        "       tucai-worker -c worker.ini migrate\n"
        "       tucai-worker -c worker.ini admin ARGS...\n"
        "       tucai-worker -c worker.ini token s|t SUBJECT SCHOOL [TTL]\n");
    return 2;
}

static int
daemonize(void)
{
    pid_t pid = fork();
    int   fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    setsid();
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        if (cfg.log_file[0])
            dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *path = NULL;
    int         foreground = 0, i;
    tucai_ctx_t ctx;

    /* before any thread: the pool's processes live for days (childmem.c) */
    childmem_init();
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--foreground") == 0) {
            foreground = 1;
        } else if (argv[i][0] == '-') {
            return usage();
        } else {
            break;
        }
    }
    if (path == NULL) {
        return usage();
    }
    if (tucai_config_load(&cfg, path) != 0) {
        return 1;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg = &cfg;

    if (i < argc && strcmp(argv[i], "token") == 0) {
        char    tok[TUCAI_TOKEN_MAX + 1];
        int64_t ttl;

        if (argc - i < 4 || strlen(argv[i + 1]) != 1)
            return usage();
        /* a negative TTL gives an already expired token (tests) */
        ttl = argc - i > 4 ? strtoll(argv[i + 4], NULL, 10)
                           : (int64_t) cfg.token_ttl_s;
        if (token_issue_exp(&cfg, argv[i + 1][0],
                strtoull(argv[i + 2], NULL, 10),
                (uint32_t) strtoul(argv[i + 3], NULL, 10),
                (uint64_t) ((int64_t) time(NULL) + ttl), tok, sizeof(tok))
            != 0)
        {
            fprintf(stderr, "token: cannot issue (role s|t, key file %s)\n",
                cfg.token_key_file);
            return 1;
        }
        printf("%s\n", tok);
        return 0;
    }

    if (i < argc && strcmp(argv[i], "migrate") == 0) {
        int rc = migrate_apply(&ctx, cfg.migrations_dir);
        db_close(&ctx);
        return rc == 0 ? 0 : 1;
    }

    if (i < argc && strcmp(argv[i], "admin") == 0) {
        int rc;
        if (migrate_apply(&ctx, cfg.migrations_dir) != 0) {
            db_close(&ctx);
            return 1;
        }
        rc = admin_cli(&ctx, argc - i - 1, argv + i + 1);
        db_close(&ctx);
        return rc;
    }

    if (i < argc) {
        return usage();
    }

    if (tlog_open(cfg.log_file) != 0) {
        fprintf(stderr, "cannot open log %s\n", cfg.log_file);
        return 1;
    }
    /* schema first, by the master, before any child can serve; before
     * going to the background so a failure reaches the caller's exit code */
    if (migrate_apply(&ctx, cfg.migrations_dir) != 0) {
        tlog_error("migrations failed; not starting");
        db_close(&ctx);
        return 1;
    }
    db_close(&ctx);
    if (!foreground && daemonize() != 0) {
        return 1;
    }
    return pool_run(path, &cfg, foreground, &app);
}
