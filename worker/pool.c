/* pool.c -- the master: binds the sockets, preforks and supervises children.
 *
 * Signals reach the master's loop through a self-pipe, so all the work
 * (reaping, respawning, reloading) happens outside signal handlers.
 *   HUP  reload the config, start a new generation of children, then TERM
 *        the old one (they finish in-flight work first)
 *   TERM/INT/QUIT  stop: children finish in-flight work, then the master
 *        unlinks its sockets and pid file.
 * A child that dies is respawned; one that dies soon after starting delays
 * the next spawn (doubling up to MAX_BACKOFF_MS) so a crash loop can't spin.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "pool.h"

#define MAX_CHILDREN     256
#define MAX_BACKOFF_MS   5000
#define STOP_GRACE_S     35     /* > request_timeout default, then KILL */

pid_t tucai_master_pid;

typedef struct {
    pid_t   pid;
    int     gen;
    int64_t started_ms;
    int64_t next_spawn_ms;
    int     backoff_ms;
} slot_t;

static int                   sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t child_stop;
static slot_t                slots[MAX_CHILDREN];
static int                   nslots;
static pid_t                 old_pids[MAX_CHILDREN * 4];
static int                   nold;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    int           saved = errno;
    unsigned char c = (unsigned char) sig;

    if (write(sig_pipe[1], &c, 1) < 0) {
        /* pipe full: a wakeup is already pending */
    }
    errno = saved;
}

static void on_child_term(int sig)
{
    (void) sig;
    child_stop = 1;
}

static void set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, NULL);
}

/* Binds a Unix socket; a stale file from a dead pool is replaced, a live
 * pool's socket is not stolen. */
static int bind_unix(const char *path)
{
    struct sockaddr_un sa;
    int                fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        tlog_error("pool: socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
        tlog_error("pool: %s is served by a running pool", path);
        close(fd);
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || chmod(path, 0666) != 0 || listen(fd, 511) != 0)
    {
        tlog_error("pool: bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static pid_t spawn(tucai_config_t *cfg, const int *fds, int nfds, int no)
{
    sigset_t all, old;
    pid_t    pid;

    /* signals stay blocked until the child has its own handlers */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid != 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (pid < 0) {
            tlog_error("pool: fork: %s", strerror(errno));
        }
        return pid;
    }

    /* child */
    tucai_ctx_t ctx;
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    set_handler(SIGTERM, on_child_term);
    set_handler(SIGINT, on_child_term);
    set_handler(SIGQUIT, on_child_term);
    set_handler(SIGHUP, SIG_IGN);
    set_handler(SIGCHLD, SIG_DFL);
    set_handler(SIGPIPE, SIG_IGN);
    /* a master killed with -9 must not leave children serving forever */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != tucai_master_pid) {
        _exit(0);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg = cfg;
    ctx.child_no = no;
    (void) db_connect(&ctx);    /* failure is fine: retried per request */
    tlog_info("child %d started", no);
    conn_child_loop(&ctx, fds, nfds, &child_stop);
    db_close(&ctx);
    tlog_info("child %d exiting", no);
    _exit(0);
}

static void write_pid(const char *path)
{
    FILE *f;

    if (path[0] == '\0') return;
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", (int) getpid());
        fclose(f);
    }
}

static int same_listen(const tucai_config_t *a, const tucai_config_t *b)
{
    int i;
    if (a->nlisten != b->nlisten) return 0;
    for (i = 0; i < a->nlisten; i++) {
        if (strcmp(a->listen[i], b->listen[i]) != 0) return 0;
    }
    return 1;
}

int pool_run(const char *cfg_path, tucai_config_t *cfg_in, int foreground)
{
    static tucai_config_t cfgs[2];
    tucai_config_t       *cfg;
    int                   cur = 0, fds[TUCAI_MAX_LISTEN], nfds = 0, i;
    int                   gen = 0, stopping = 0;
    int64_t               stop_deadline = 0;

    cfgs[0] = *cfg_in;
    cfg = &cfgs[0];
    (void) foreground;

    tucai_master_pid = getpid();
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return 1;
    }
    for (i = 0; i < cfg->nlisten; i++) {
        if ((fds[i] = bind_unix(cfg->listen[i])) < 0) {
            while (--i >= 0) { close(fds[i]); unlink(cfg->listen[i]); }
            return 1;
        }
    }
    nfds = cfg->nlisten;
    write_pid(cfg->pid_file);

    set_handler(SIGTERM, on_signal);
    set_handler(SIGINT, on_signal);
    set_handler(SIGQUIT, on_signal);
    set_handler(SIGHUP, on_signal);
    set_handler(SIGCHLD, on_signal);
    set_handler(SIGPIPE, SIG_IGN);

    nslots = cfg->children > MAX_CHILDREN ? MAX_CHILDREN : cfg->children;
    memset(slots, 0, sizeof(slots));
    tlog_info("pool %s: master %d, %d children on %d socket(s)",
              TUCAI_POOL_VERSION, (int) getpid(), nslots, nfds);

    for (;;) {
        int64_t now = mono_ms();
        pid_t   pid;
        int     status;

        /* spawn what is missing (not while stopping) */
        for (i = 0; i < nslots && !stopping; i++) {
            if (slots[i].pid == 0 && now >= slots[i].next_spawn_ms) {
                pid = spawn(cfg, fds, nfds, i);
                if (pid > 0) {
                    slots[i].pid = pid;
                    slots[i].gen = gen;
                    slots[i].started_ms = now;
                } else {
                    slots[i].next_spawn_ms = now + 1000;
                }
            }
        }

        /* reap */
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            int found = 0;
            for (i = 0; i < nslots; i++) {
                if (slots[i].pid != pid) continue;
                found = 1;
                slots[i].pid = 0;
                if (stopping) break;
                int crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                if (crashed) {
                    tlog_warn("child %d (pid %d) died: %s %d", i, (int) pid,
                              WIFSIGNALED(status) ? "signal" : "status",
                              WIFSIGNALED(status) ? WTERMSIG(status)
                                                  : WEXITSTATUS(status));
                }
                /* quick deaths back off; a long-lived child resets it */
                if (crashed && now - slots[i].started_ms < 2000) {
                    slots[i].backoff_ms = slots[i].backoff_ms
                        ? slots[i].backoff_ms * 2 : 100;
                    if (slots[i].backoff_ms > MAX_BACKOFF_MS)
                        slots[i].backoff_ms = MAX_BACKOFF_MS;
                } else {
                    slots[i].backoff_ms = 0;
                }
                slots[i].next_spawn_ms = now + slots[i].backoff_ms;
                break;
            }
            if (!found) {
                for (i = 0; i < nold; i++) {
                    if (old_pids[i] == pid) { old_pids[i] = old_pids[--nold]; break; }
                }
            }
        }

        if (stopping) {
            int alive = nold;
            for (i = 0; i < nslots; i++) alive += slots[i].pid != 0;
            if (alive == 0) break;
            if (now > stop_deadline) {
                tlog_warn("pool: children still busy after %ds, killing",
                          STOP_GRACE_S);
                for (i = 0; i < nslots; i++) if (slots[i].pid) kill(slots[i].pid, SIGKILL);
                for (i = 0; i < nold; i++) kill(old_pids[i], SIGKILL);
                stop_deadline = now + 100000;
            }
        }

        struct pollfd p = { sig_pipe[0], POLLIN, 0 };
        (void) poll(&p, 1, stopping ? 100 : 200);

        unsigned char sigs[64];
        ssize_t       ns = read(sig_pipe[0], sigs, sizeof(sigs));
        for (ssize_t k = 0; k < ns; k++) {
            int s = sigs[k];
            if ((s == SIGTERM || s == SIGINT || s == SIGQUIT) && !stopping) {
                tlog_info("pool: stopping");
                stopping = 1;
                stop_deadline = mono_ms() + STOP_GRACE_S * 1000;
                for (i = 0; i < nslots; i++) if (slots[i].pid) kill(slots[i].pid, SIGTERM);
                for (i = 0; i < nold; i++) kill(old_pids[i], SIGTERM);
                /* nothing new is accepted once the sockets are gone */
                for (i = 0; i < nfds; i++) close(fds[i]);
                nfds = 0;
            } else if (s == SIGHUP && !stopping) {
                int nxt = 1 - cur;
                if (tucai_config_load(&cfgs[nxt], cfg_path) != 0) {
                    tlog_error("pool: reload failed, keeping the old config");
                    continue;
                }
                if (!same_listen(&cfgs[nxt], cfg)) {
                    /* the sockets stay: nginx points at them */
                    tlog_warn("pool: listen changed; restart to apply");
                    memcpy(cfgs[nxt].listen, cfg->listen, sizeof(cfg->listen));
                    cfgs[nxt].nlisten = cfg->nlisten;
                }
                tlog_open(cfgs[nxt].log_file);
                /* old children keep pointers into the config they were
                 * forked with (their own copy); the master switches over */
                for (i = 0; i < nslots; i++) {
                    if (slots[i].pid && nold < (int) (sizeof(old_pids) / sizeof(old_pids[0]))) {
                        old_pids[nold++] = slots[i].pid;
                        kill(slots[i].pid, SIGTERM);
                    }
                    slots[i].pid = 0;
                    slots[i].next_spawn_ms = 0;
                    slots[i].backoff_ms = 0;
                }
                cur = nxt;
                cfg = &cfgs[cur];
                nslots = cfg->children > MAX_CHILDREN ? MAX_CHILDREN : cfg->children;
                gen++;
                tlog_info("pool: reloaded, generation %d with %d children", gen, nslots);
            }
        }
    }

    for (i = 0; i < cfg->nlisten; i++) {
        unlink(cfg->listen[i]);
    }
    if (cfg->pid_file[0]) {
        unlink(cfg->pid_file);
    }
    tlog_info("pool: stopped");
    return 0;
}
