/* pool_broker.c -- the master's connections: it alone accepts and owns
 * them, polls the idle ones and, when nginx has written on one, lends it
 * to an idle child over that child's socketpair (SCM_RIGHTS), keeping no
 * copy; the child serves one exchange and gives it back (pool.h).  A
 * request never waits behind another child's long request while a child
 * is free: ready connections wait in one FIFO for the first free child.
 * A child that dies mid-exchange held the connection's only copy, so
 * nginx sees it end. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "peer.h"
#include "pool_int.h"

uint64_t          pool_accepts;

static conn_t     conns[MAX_CONNS];
static int        nconns;
static int        queue[MAX_CONNS], q_head, q_len;
static int        rr;

void broker_init(void)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++) conns[i].fd = -1;
}

int broker_room(void)
{
    return nconns < MAX_CONNS;
}

int broker_queued(void)
{
    return q_len;
}

/* the master's gauges for TUCAI_OP_METRICS, once per turn of its loop */
void broker_metrics(void)
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
        ev_del(conns[c].fd);
        close(conns[c].fd);
    }
    conns[c].fd = -1;
    conns[c].state = C_FREE;
    nconns--;
}

/* a lent connection whose child died: the child's copy was its last */
void broker_lost(int c)
{
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
    ev_del(conns[c].fd);
    conns[c].state = C_QUEUED;
    conns[c].queued_us = mono_us();
    queue[(q_head + q_len) % MAX_CONNS] = c;
    q_len++;
}

void broker_conn_event(int c, uint32_t events)
{
    if (conns[c].state == C_IDLE) conn_check(c, events);
}

/* Lends the connection at the queue's head to an idle child. */
void broker_dispatch(int stopping)
{
    while (q_len > 0) {
        int i, k = pool_pick_idle(kids, MAX_KIDS, rr);

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
        tucai_put64(buf, pool_accepts);
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
        broker_metrics();
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
void broker_kid_readable(int k, int stopping)
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

    if (x->sp < 0) {
        return;
    }
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
            broker_lost(x->conn);
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
            ev_add(fd, EV_CONN, c);
        }
    } else {
        if (fd >= 0) close(fd);
        conns[c].state = C_FREE;
        nconns--;
    }
    if (x->slot < 0 && !x->termed) {
        /* an old generation's child, done with its exchange */
        kid_term(x);
    }
}

void broker_accept(int l)
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
        pool_accepts++;
        tlog_info("accept: connection %llu", (unsigned long long) pool_accepts);
        ev_add(fd, EV_CONN, c);
    }
}

void broker_sweep(void)
{
    static time_t last_sweep;
    time_t        t = time(NULL);
    int           i;

    if (t == last_sweep) {
        return;
    }
    last_sweep = t;
    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i].state == C_IDLE && t - conns[i].last > IDLE_CLOSE_S) {
            conn_free(i);
        }
    }
}

/* a request nginx already wrote is still served; idle connections are
 * closed */
void broker_stop(void)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i].state != C_IDLE) continue;
        conn_check(i, 0);
        if (conns[i].state == C_IDLE) conn_free(i);
    }
}

void broker_close_all(void)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i].state == C_IDLE || conns[i].state == C_QUEUED) conn_free(i);
    }
}

void broker_close_fds(void)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++) if (conns[i].state != C_FREE && conns[i].fd >= 0) close(conns[i].fd);
}
