/* pool.c -- the master: binds the sockets, preforks and supervises children,
 * and brokers every nginx connection.
 *
 * The master alone accepts and owns the connections.  It polls the idle
 * ones (epoll) and, when nginx has written on one, lends it to an idle
 * child over that child's socketpair (SCM_RIGHTS), keeping no copy; the
 * child serves one exchange and gives it back (pool.h).  A request never
 * waits behind another child's long request while a child is free: ready
 * connections wait in one FIFO for the first free child.  A child that
 * dies mid-exchange held the connection's only copy, so nginx sees it end.
 *
 * Signals reach the master's loop through a self-pipe, so all the work
 * (reaping, respawning, reloading) happens outside signal handlers.
 *   HUP  reload the config, start a new generation of children, then TERM
 *        the old one (a busy one after its exchange); connections stay
 *   TERM/INT/QUIT  stop: no more accepts, idle connections closed, those
 *        nginx already wrote on still served; then the children go and
 *        the master unlinks its sockets and pid file.
 * A child that dies is respawned; one that dies soon after starting delays
 * the next spawn (doubling up to MAX_BACKOFF_MS) so a crash loop can't spin.
 * One more slot (index nslots) is the jobs process: the program's periodic
 * work, supervised the same way, never lent a connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "peer.h"

#define MAX_CHILDREN     256
#define MAX_BACKOFF_MS   5000
#define STOP_GRACE_S     35     /* > request_timeout default, then KILL */

#define MAX_CONNS        512    /* beyond: left in the listen backlog */
#define MAX_KIDS         (MAX_CHILDREN * 2 + 2) /* current + retiring */
#define IDLE_CLOSE_S     300    /* nginx's keepalive_timeout closes first */

/* epoll tags: kind in the high 32 bits, index in the low */
#define EV_SIG           1
#define EV_LISTEN        2
#define EV_KID           3
#define EV_CONN          4

pid_t tucai_master_pid;

typedef struct {
    int64_t started_ms;
    int64_t next_spawn_ms;
    int     backoff_ms;
    int     kid;                /* index in kids[], -1 = none */
} slot_t;

/* A child process.  slot -1: an old generation's child (HUP), retiring. */
typedef struct {
    pid_t   pid;
    int     sp;                 /* master's end of the socketpair, -1 closed */
    int     slot;
    int     conn;               /* connection lent to it, -1 = idle */
    int     last;               /* said POOL_LAST or cannot take more */
    int     termed;
    int     jobs;               /* the jobs process: never lent anything */
} kid_t;

/* A connection: idle (in epoll), queued (nginx wrote, waiting for a
 * child) or lent (its only copy is in a child). */
enum { C_FREE = 0, C_IDLE, C_QUEUED, C_LENT };

typedef struct {
    int     fd;
    int     state;
    time_t  last;
    int64_t queued_us;          /* when nginx wrote (queue wait metric) */
} conn_t;

static int                   sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t child_stop;
static slot_t                slots[MAX_CHILDREN + 1];  /* + jobs */
static int                   nslots;
static kid_t                 kids[MAX_KIDS];
static conn_t                conns[MAX_CONNS];
static int                   nconns;
static int                   queue[MAX_CONNS], q_head, q_len;
static int                   ep = -1;
static int                   lfds[TUCAI_MAX_LISTEN], nlfds;
static uint64_t              accepts;
static int                   rr;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* the master's gauges for TUCAI_OP_METRICS, once per turn of its loop */
static void metrics_master(void)
{
    uint32_t busy = 0, idle = 0;
    int      i;

    if (tucai_metrics == NULL) return;
    for (i = 0; i < MAX_KIDS; i++) {
        /* serving children only: the jobs process is never lent one */
        if (kids[i].pid > 0 && kids[i].slot >= 0 && kids[i].sp >= 0
            && !kids[i].jobs)
        {
            if (kids[i].conn >= 0) busy++; else idle++;
        }
    }
    tucai_metrics->children_busy = busy;
    tucai_metrics->children_idle = idle;
    tucai_metrics->children_configured = (uint32_t) nslots;
    tucai_metrics->queue_length = (uint32_t) q_len;
    tucai_metrics->connections = (uint32_t) nconns;
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
        || peer_socket_perms(path) != 0 || listen(fd, 511) != 0)
    {
        tlog_error("pool: bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static uint64_t tag(int kind, int idx)
{
    return ((uint64_t) kind << 32) | (uint32_t) idx;
}

static void ep_add(int fd, int kind, int idx)
{
    struct epoll_event e;

    memset(&e, 0, sizeof(e));
    e.events = kind == EV_CONN ? EPOLLIN | EPOLLRDHUP : EPOLLIN;
    e.data.u64 = tag(kind, idx);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        tlog_error("pool: epoll_ctl: %s", strerror(errno));
    }
}

/* Always before close: a lent connection's file lives on in the child, and
 * epoll would keep reporting it under the closed fd number. */
static void ep_del(int fd)
{
    (void) epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

static int conn_new(int fd)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i].state == C_FREE) {
            conns[i].fd = fd;
            conns[i].last = time(NULL);
            conns[i].state = C_IDLE;
            nconns++;
            return i;
        }
    }
    return -1;
}

static void conn_free(int c)
{
    if (conns[c].fd >= 0) {
        ep_del(conns[c].fd);
        close(conns[c].fd);
    }
    conns[c].fd = -1;
    conns[c].state = C_FREE;
    nconns--;
}

/* Idle connection c: queued when nginx wrote on it, closed at EOF, left
 * alone when nothing is there.  The data is only peeked at: the child
 * reads the whole frame. */
static void conn_check(int c, uint32_t events)
{
    unsigned char b;
    ssize_t       n = 1;

    /* readable without a hangup is data: no need to look (a syscall per
     * exchange saved); with one it may be a bare EOF */
    if (events == 0 || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        n = recv(conns[c].fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        conn_free(c);
        return;
    }
    ep_del(conns[c].fd);
    conns[c].state = C_QUEUED;
    conns[c].queued_us = mono_us();
    queue[(q_head + q_len) % MAX_CONNS] = c;
    q_len++;
}

static void kid_close_sp(kid_t *k)
{
    if (k->sp >= 0) {
        ep_del(k->sp);
        close(k->sp);
        k->sp = -1;
    }
}

/* Lends the connection at the queue's head to an idle child. */
static void dispatch_queue(int stopping)
{
    while (q_len > 0) {
        int i, k = -1;

        for (i = 0; i < MAX_KIDS; i++) {
            kid_t *x = &kids[(rr + i) % MAX_KIDS];
            if (x->pid > 0 && x->sp >= 0 && x->slot >= 0 && x->conn < 0
                && !x->last && !x->jobs)
            {
                k = (rr + i) % MAX_KIDS;
                break;
            }
        }
        if (k < 0) {
            if (stopping) {
                /* no child left to serve them: nothing can be done */
                for (i = 0; i < MAX_KIDS && kids[i].pid <= 0; i++) { }
                if (i == MAX_KIDS) {
                    while (q_len > 0) {
                        conn_free(queue[q_head]);
                        q_head = (q_head + 1) % MAX_CONNS;
                        q_len--;
                    }
                }
            }
            return;
        }
        rr = k + 1;

        int            c = queue[q_head];
        unsigned char  buf[8];
        union {
            struct cmsghdr h;
            char           b[CMSG_SPACE(sizeof(int))];
        } u;
        struct iovec   iov = { buf, sizeof(buf) };
        struct msghdr  m;
        struct cmsghdr *cm;

        memset(&m, 0, sizeof(m));
        memset(&u, 0, sizeof(u));
        tucai_put64(buf, accepts);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = u.b;
        m.msg_controllen = sizeof(u.b);
        cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &conns[c].fd, sizeof(int));
        /* busy before it can answer: a metrics scrape it serves sees
         * itself busy */
        kids[k].conn = c;
        metrics_master();
        if (tucai_metrics) tucai_metrics->queue_length = (uint32_t) (q_len - 1);
        if (sendmsg(kids[k].sp, &m, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) sizeof(buf)) {
            /* the child is leaving (TERM) or gone: the connection stays
             * queued for another one */
            kids[k].conn = -1;
            kids[k].last = 1;
            continue;
        }
        q_head = (q_head + 1) % MAX_CONNS;
        q_len--;
        if (tucai_metrics) {
            metrics_observe(&tucai_metrics->queue_wait,
                            mono_us() - conns[c].queued_us);
        }
        close(conns[c].fd);     /* already out of epoll (queued) */
        conns[c].fd = -1;
        conns[c].state = C_LENT;
        kids[k].conn = c;
    }
}

/* A child's message: its status byte, the connection when kept. */
static void kid_readable(int k, int stopping)
{
    kid_t          *x = &kids[k];
    unsigned char  st;
    union {
        struct cmsghdr h;
        char           b[CMSG_SPACE(sizeof(int))];
    } u;
    struct iovec   iov = { &st, 1 };
    struct msghdr  m;
    struct cmsghdr *cm;
    ssize_t        n;
    int            fd = -1;

    memset(&m, 0, sizeof(m));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.b;
    m.msg_controllen = sizeof(u.b);
    n = recvmsg(x->sp, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    for (cm = CMSG_FIRSTHDR(&m); n > 0 && cm; cm = CMSG_NXTHDR(&m, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS
            && cm->cmsg_len == CMSG_LEN(sizeof(int)))
        {
            memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        }
    }
    if (n != 1 || x->conn < 0) {
        /* the child is gone (its copy of a lent connection went with it:
         * nginx sees the connection end) or talks nonsense */
        if (fd >= 0) close(fd);
        if (x->conn >= 0) {
            conns[x->conn].state = C_FREE;
            nconns--;
            x->conn = -1;
        }
        x->last = 1;
        kid_close_sp(x);
        return;
    }

    int c = x->conn;
    x->conn = -1;
    if (st & POOL_LAST) {
        x->last = 1;
    }
    if ((st & POOL_KEEP) && fd >= 0) {
        conns[c].fd = fd;
        conns[c].state = C_IDLE;
        conns[c].last = time(NULL);
        if (stopping) {
            /* kept only when nginx already wrote its next request */
            conn_check(c, 0);
            if (conns[c].state == C_IDLE) conn_free(c);
        } else {
            ep_add(fd, EV_CONN, c);
        }
    } else {
        if (fd >= 0) close(fd);
        conns[c].state = C_FREE;
        nconns--;
    }
    if (x->slot < 0 && !x->termed) {
        /* an old generation's child, done with its exchange */
        kill(x->pid, SIGTERM);
        x->termed = 1;
        kid_close_sp(x);
    }
}

static void do_accept(int l)
{
    while (nconns < MAX_CONNS) {
        int fd = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                tlog_warn("pool: accept: %s", strerror(errno));
            }
            return;
        }
        if (!peer_allowed(fd)) {
            close(fd);
            continue;
        }
        int c = conn_new(fd);
        accepts++;
        tlog_info("accept: connection %llu", (unsigned long long) accepts);
        ep_add(fd, EV_CONN, c);
    }
}

static pid_t spawn(tucai_config_t *cfg, int no)
{
    sigset_t all, old;
    pid_t    pid;
    int      sv[2], k, i;

    for (k = 0; k < MAX_KIDS && kids[k].pid != 0; k++) { }
    if (k == MAX_KIDS) {
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
        kids[k].pid = pid;
        kids[k].sp = sv[0];
        kids[k].slot = no;
        kids[k].conn = -1;
        kids[k].last = 0;
        kids[k].termed = 0;
        kids[k].jobs = no == nslots;
        slots[no].kid = k;
        ep_add(sv[0], EV_KID, k);
        return pid;
    }

    /* child: none of the master's descriptors, so that a connection the
     * master closes is closed, and one lent to a child dies with it */
    tucai_ctx_t ctx;
    close(sv[0]);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    close(ep);
    for (i = 0; i < nlfds; i++) close(lfds[i]);
    for (i = 0; i < MAX_CONNS; i++) if (conns[i].state != C_FREE && conns[i].fd >= 0) close(conns[i].fd);
    for (i = 0; i < MAX_KIDS; i++) if (kids[i].pid > 0 && kids[i].sp >= 0) close(kids[i].sp);
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
        conn_jobs_loop(&ctx, sv[1], &child_stop);
        db_close(&ctx);
        tlog_info("jobs process exiting");
        _exit(0);
    }
    tlog_info("child %d started", no);
    conn_child_loop(&ctx, sv[1], &child_stop);
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

int pool_run(const char *cfg_path, tucai_config_t *cfg_in, int foreground,
    const tucai_app_t *app)
{
    static tucai_config_t cfgs[2];
    tucai_config_t       *cfg;
    int                   cur = 0, i, listening = 0;
    int                   stopping = 0, draining_done = 0;
    int64_t               stop_deadline = 0;
    time_t                last_sweep = 0;

    cfgs[0] = *cfg_in;
    cfg = &cfgs[0];
    (void) foreground;

    pool_app = app;
    tucai_master_pid = getpid();
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        return 1;
    }
    if (peer_setup(cfg) != 0) {
        return 1;
    }
    for (i = 0; i < cfg->nlisten; i++) {
        if ((lfds[i] = bind_unix(cfg->listen[i])) < 0) {
            while (--i >= 0) { close(lfds[i]); unlink(cfg->listen[i]); }
            return 1;
        }
    }
    nlfds = cfg->nlisten;
    write_pid(cfg->pid_file);

    set_handler(SIGTERM, on_signal);
    set_handler(SIGINT, on_signal);
    set_handler(SIGQUIT, on_signal);
    set_handler(SIGHUP, on_signal);
    set_handler(SIGCHLD, on_signal);
    set_handler(SIGPIPE, SIG_IGN);

    for (i = 0; i < MAX_CONNS; i++) conns[i].fd = -1;
    for (i = 0; i < MAX_KIDS; i++) { kids[i].sp = -1; kids[i].conn = -1; }
    nslots = cfg->children > MAX_CHILDREN ? MAX_CHILDREN : cfg->children;
    memset(slots, 0, sizeof(slots));
    for (i = 0; i <= MAX_CHILDREN; i++) slots[i].kid = -1;
    ep_add(sig_pipe[0], EV_SIG, 0);
    /* before the first fork: every child shares it */
    if (metrics_init() != 0) {
        tlog_warn("pool: no shared memory for metrics: %s", strerror(errno));
    }
    tlog_info("pool %s: master %d, %d children on %d socket(s)",
              TUCAI_POOL_VERSION, (int) getpid(), nslots, nlfds);

    for (;;) {
        int64_t now = mono_ms();
        pid_t   pid;
        int     status;

        /* spawn what is missing (not while stopping); slot nslots is the
         * jobs process */
        for (i = 0; i < nslots + (app->tick != NULL) && !stopping; i++) {
            if (slots[i].kid < 0 && now >= slots[i].next_spawn_ms) {
                pid = spawn(cfg, i);
                if (pid > 0) {
                    slots[i].started_ms = now;
                } else {
                    slots[i].next_spawn_ms = now + 1000;
                }
            }
        }

        /* reap */
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            int k;
            for (k = 0; k < MAX_KIDS && kids[k].pid != pid; k++) { }
            if (k == MAX_KIDS) continue;
            kid_t *x = &kids[k];
            if (tucai_metrics) tucai_metrics->child_exits_total++;
            kid_close_sp(x);
            if (x->conn >= 0) {
                /* died mid-exchange: its copy was the connection's last */
                conns[x->conn].state = C_FREE;
                nconns--;
                x->conn = -1;
            }
            x->pid = 0;
            i = x->slot;
            if (i < 0 || slots[i].kid != k) continue;
            slots[i].kid = -1;
            if (stopping) continue;
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
        }
        /* a child respawned (or freed) may take what waited */
        dispatch_queue(stopping);

        if (stopping) {
            int alive = 0, busy = 0;
            for (i = 0; i < MAX_KIDS; i++) {
                alive += kids[i].pid > 0;
                busy += kids[i].pid > 0 && kids[i].conn >= 0;
            }
            if (!draining_done && busy == 0 && q_len == 0) {
                /* every exchange done: the children may go */
                for (i = 0; i < MAX_KIDS; i++) {
                    if (kids[i].pid > 0 && !kids[i].termed) {
                        kill(kids[i].pid, SIGTERM);
                        kids[i].termed = 1;
                    }
                    kid_close_sp(&kids[i]);
                }
                draining_done = 1;
            }
            if (alive == 0) break;
            if (now > stop_deadline) {
                tlog_warn("pool: children still busy after %ds, killing",
                          STOP_GRACE_S);
                for (i = 0; i < MAX_KIDS; i++) if (kids[i].pid > 0) kill(kids[i].pid, SIGKILL);
                stop_deadline = now + 100000;
            }
        }

        /* accept only while there is room: the rest waits in the backlog */
        int want = !stopping && nconns < MAX_CONNS;
        if (want != listening) {
            for (i = 0; i < nlfds; i++) {
                if (want) ep_add(lfds[i], EV_LISTEN, i); else ep_del(lfds[i]);
            }
            listening = want;
        }

        struct epoll_event ev[64];
        int n = epoll_wait(ep, ev, 64, stopping ? 100 : 200);
        int got_sig = 0;
        for (int e = 0; e < n; e++) {
            int kind = (int) (ev[e].data.u64 >> 32);
            int idx = (int) (uint32_t) ev[e].data.u64;
            if (kind == EV_SIG) {
                got_sig = 1;
            } else if (kind == EV_LISTEN) {
                if (!stopping) do_accept(lfds[idx]);
            } else if (kind == EV_KID) {
                if (kids[idx].sp >= 0) kid_readable(idx, stopping);
            } else if (kind == EV_CONN) {
                if (conns[idx].state == C_IDLE) conn_check(idx, ev[e].events);
            }
        }
        dispatch_queue(stopping);
        metrics_master();

        time_t t = time(NULL);
        if (t != last_sweep) {
            last_sweep = t;
            for (i = 0; i < MAX_CONNS; i++) {
                if (conns[i].state == C_IDLE && t - conns[i].last > IDLE_CLOSE_S) {
                    conn_free(i);
                }
            }
        }

        if (!got_sig) continue;
        unsigned char sigs[64];
        ssize_t       ns = read(sig_pipe[0], sigs, sizeof(sigs));
        for (ssize_t k = 0; k < ns; k++) {
            int s = sigs[k];
            if ((s == SIGTERM || s == SIGINT || s == SIGQUIT) && !stopping) {
                tlog_info("pool: stopping");
                stopping = 1;
                stop_deadline = mono_ms() + STOP_GRACE_S * 1000;
                /* nothing new is accepted once the sockets are gone */
                for (i = 0; i < nlfds; i++) { ep_del(lfds[i]); close(lfds[i]); }
                nlfds = 0;
                listening = 0;
                /* a request nginx already wrote is still served; idle
                 * connections are closed */
                for (i = 0; i < MAX_CONNS; i++) {
                    if (conns[i].state != C_IDLE) continue;
                    conn_check(i, 0);
                    if (conns[i].state == C_IDLE) conn_free(i);
                }
                /* retiring children that are idle go now */
                for (i = 0; i < MAX_KIDS; i++) {
                    if (kids[i].pid > 0 && kids[i].slot < 0 && kids[i].conn < 0
                        && !kids[i].termed)
                    {
                        kill(kids[i].pid, SIGTERM);
                        kids[i].termed = 1;
                        kid_close_sp(&kids[i]);
                    }
                }
            } else if (s == SIGHUP && !stopping) {
                int nxt = 1 - cur;
                if (tucai_config_load(&cfgs[nxt], cfg_path) != 0) {
                    tlog_error("pool: reload failed, keeping the old config");
                    continue;
                }
                if (peer_setup(&cfgs[nxt]) != 0) {
                    tlog_error("pool: reload failed (socket users/groups),"
                               " keeping the old config");
                    (void) peer_setup(cfg);
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
                 * forked with (their own copy); the master switches over.
                 * An idle one goes now, a busy one after its exchange; the
                 * jobs process after its tick. */
                for (i = 0; i <= nslots; i++) {
                    int k = slots[i].kid;
                    if (k >= 0) {
                        kids[k].slot = -1;
                        if (kids[k].conn < 0) {
                            kill(kids[k].pid, SIGTERM);
                            kids[k].termed = 1;
                            kid_close_sp(&kids[k]);
                        }
                    }
                    slots[i].kid = -1;
                    slots[i].next_spawn_ms = 0;
                    slots[i].backoff_ms = 0;
                }
                cur = nxt;
                cfg = &cfgs[cur];
                nslots = cfg->children > MAX_CHILDREN ? MAX_CHILDREN : cfg->children;
                for (i = 0; i <= MAX_CHILDREN; i++) slots[i].kid = -1;
                tlog_info("pool: reloaded, %d children", nslots);
            }
        }
    }

    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i].state == C_IDLE || conns[i].state == C_QUEUED) conn_free(i);
    }
    close(ep);
    for (i = 0; i < cfg->nlisten; i++) {
        unlink(cfg->listen[i]);
    }
    if (cfg->pid_file[0]) {
        unlink(cfg->pid_file);
    }
    tlog_info("pool: stopped");
    return 0;
}
