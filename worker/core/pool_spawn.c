/* pool_spawn.c -- forks a serving child (slot < nslots) or the jobs
 * process (slot nslots), and the child's side until it exits. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "lease.h"
#include "log.h"
#include "pool_int.h"

static void child_main(tucai_config_t *cfg, int no, int sp, int k);

pid_t
pool_spawn(tucai_config_t *cfg, int no)
{
    sigset_t all, old;
    pid_t    pid;
    int      sv[2], k;

    k = kids_free_index();
    if (k < 0) {
        tlog_error("pool: too many children still retiring");
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        tlog_error("pool: socketpair: %s", strerror(errno));
        return -1;
    }

    /* signals stay blocked until the child has its own handlers */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid != 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(sv[1]);
        if (pid < 0) {
            tlog_error("pool: fork: %s", strerror(errno));
            close(sv[0]);
            return pid;
        }
        (void) fcntl(sv[0], F_SETFL, O_NONBLOCK);
        kid_add(k, pid, sv[0], no);
        return pid;
    }

    /* child: none of the master's descriptors, so that a connection the
     * master closes is closed, and one lent to a child dies with it */
    close(sv[0]);
    sig_close();
    close(pool_ep);
    listen_close_fds();
    broker_close_fds();
    kids_close_sps();
    sig_child_handlers();
    /* a master killed with -9 must not leave children serving forever */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != tucai_master_pid) {
        _exit(0);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    child_main(cfg, no, sv[1], k);
    _exit(0);
}

static void
child_main(tucai_config_t *cfg, int no, int sp, int k)
{
    tucai_ctx_t ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg = cfg;
    ctx.child_no = no;
    /* children fork from one master: without this they would all draw
     * the same jitter (db_conflict_backoff) */
    srandom((unsigned) getpid() ^ (unsigned) time(NULL));
    /* failure is fine: retried per request */
    if (db_connect(&ctx) == 0) {
        /* the slots and leases of a child that died (mine or another
         * pool's on this host) are free again */
        (void) db_lease_reap(&ctx);
    }
    if (no == nslots) {
        /* periodic work (WeChat calls of seconds) where no request can
         * wait on it; its own name tells it apart in ps and the tests */
        prctl(PR_SET_NAME, "tucai-jobs");
        tlog_info("jobs process started");
        conn_jobs_loop(&ctx, sp, &pool_child_stop);
        db_close(&ctx);
        tlog_info("jobs process exiting");
        return;
    }
    tlog_info("child %d started", no);
    conn_child_loop(&ctx, sp, k, &pool_child_stop);
    db_close(&ctx);
    tlog_info("child %d exiting", no);
}
