/* pool_broker.c -- the master's connections.
 *
 * The master alone accepts.  A new connection (and one a child gives back)
 * is the master's: it polls it and, once nginx has written on it, lends it
 * to an idle child (reserved first, pool_shm.h) with SCM_RIGHTS, keeping
 * its own copy.  The child then keeps it: nginx's next requests on it go
 * straight to that child, the master does not wake for them.  So a child
 * never lets a request wait while it is busy with another, the master
 * takes back (pool_shm.h: by compare-and-swap) a connection nginx wrote on
 * whose child has been busy for STEAL_AFTER_MS, while a child is idle, and
 * lends it to the idle one.  Ready connections wait in one FIFO for the
 * first free child.
 *
 * The master's copy is in its epoll for the hangup only while a child
 * keeps it: nginx closing it, or a child ending it (shutdown), frees it.
 * A child that dies mid-exchange: the master closes its copy, so nginx
 * sees that connection end; the ones it only kept come back to the master.
 */
#include <errno.h>
#include <poll.h>
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
#include "pool_shm.h"

#define STEAL_AFTER_MS 2 /* a child busy this long is "slow" */
#define STEAL_TICK_MS  1

static conn_t conns[MAX_CONNS];
static int    nconns;
static int    queue[MAX_CONNS], q_head, q_len;
static int    rr;
static int    stopping;

void
broker_init(void)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;
}

int
broker_room(void)
{
    return nconns < MAX_CONNS;
}

/* connections a child keeps or that wait for one */
int
broker_outstanding(void)
{
    int i, n = 0;

    for (i = 0; i < MAX_CONNS; i++) {
        n += conns[i].state == C_OWNED || conns[i].state == C_QUEUED;
    }
    return n;
}

/* a serving child of this generation, alive and talking */
static int
eligible(const kid_t *x)
{
    return x->pid > 0 && x->sp >= 0 && x->slot >= 0 && !x->last && !x->jobs;
}

/* the master's gauges for TUCAI_OP_METRICS, once per turn of its loop */
void
broker_metrics(void)
{
    uint32_t busy, idle;

    if (tucai_metrics == NULL)
        return;
    pool_shm_children(&busy, &idle);
    tucai_metrics->children_busy = busy;
    tucai_metrics->children_idle = idle;
    tucai_metrics->children_configured = (uint32_t) nslots;
    tucai_metrics->queue_length = (uint32_t) q_len;
    tucai_metrics->connections = (uint32_t) nconns;
}

static uint32_t
owner(int c)
{
    return own_load(&pool_shm->owner[c]);
}

/* The master's again, under a new generation: a child's copy never
 * matches it again. */
static void
own_master(int c)
{
    __atomic_store_n(&pool_shm->owner[c], OWN_MAKE(OWN_GEN(owner(c)) + 1, 0, 0),
        __ATOMIC_SEQ_CST);
}

static void
ev_set(int c, uint32_t events)
{
    struct epoll_event e;

    memset(&e, 0, sizeof(e));
    e.events = events;
    e.data.u64 = ((uint64_t) EV_CONN << 32) | (uint32_t) c;
    if (epoll_ctl(pool_ep, EPOLL_CTL_MOD, conns[c].fd, &e) != 0) {
        tlog_error("pool: epoll_ctl mod: %s", strerror(errno));
    }
}

static int
conn_new(int fd)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i].state == C_FREE) {
            conns[i].fd = fd;
            conns[i].last = time(NULL);
            conns[i].state = C_IDLE;
            own_master(i);
            nconns++;
            return i;
        }
    }
    return -1;
}

static void
conn_free(int c)
{
    if (conns[c].fd >= 0) {
        ev_del(conns[c].fd);
        close(conns[c].fd);
    }
    own_master(c);
    conns[c].fd = -1;
    conns[c].state = C_FREE;
    nconns--;
}

static void
enqueue(int c)
{
    ev_set(c, 0);
    conns[c].state = C_QUEUED;
    conns[c].queued_us = mono_us();
    queue[(q_head + q_len) % MAX_CONNS] = c;
    q_len++;
    __atomic_store_n(&pool_shm->queued, 1, __ATOMIC_SEQ_CST);
}

/* The master's connection c: queued when nginx wrote on it, closed at EOF,
 * left alone when nothing is there.  The data is only peeked at: the
 * child reads the whole frame. */
static void
conn_check(int c, uint32_t events)
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
    enqueue(c);
}

/* A connection a child kept is the master's again (the child gave it
 * back, left, or was slow): polled, or served at once when nginx wrote. */
static void
reclaim(int c)
{
    own_master(c);
    conns[c].state = C_IDLE;
    conns[c].last = time(NULL);
    ev_set(c, EPOLLIN | EPOLLRDHUP);
    conn_check(c, 0);
    if (stopping && conns[c].state == C_IDLE)
        conn_free(c);
}

void
broker_conn_event(int c, uint32_t events)
{
    if (conns[c].state == C_IDLE) {
        conn_check(c, events);
    } else if ((conns[c].state == C_OWNED || conns[c].state == C_QUEUED)
        && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
    {
        /* nginx closed it, or its child ended it: the child's copy, if
         * any, no longer matches (a queued one leaves the FIFO when its
         * turn comes) */
        conn_free(c);
    }
}

/* Lends c to kid k (reserved): its number, generation and the master's
 * accept count, the connection attached.  0 or -1. */
static int
lend(int k, int c)
{
    unsigned char buf[8];
    union {
        struct cmsghdr h;
        char           b[CMSG_SPACE(sizeof(int))];
    } u;
    struct iovec    iov = { buf, sizeof(buf) };
    struct msghdr   m;
    struct cmsghdr *cm;
    uint32_t        gen = OWN_GEN(owner(c));

    memset(&m, 0, sizeof(m));
    memset(&u, 0, sizeof(u));
    buf[0] = POOL_MSG_LEND;
    buf[1] = 0;
    buf[2] = (unsigned char) (c >> 8);
    buf[3] = (unsigned char) c;
    buf[4] = (unsigned char) (gen >> 24);
    buf[5] = (unsigned char) (gen >> 16);
    buf[6] = (unsigned char) (gen >> 8);
    buf[7] = (unsigned char) gen;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.b;
    m.msg_controllen = sizeof(u.b);
    cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &conns[c].fd, sizeof(int));
    __atomic_store_n(
        &pool_shm->owner[c], OWN_MAKE(gen, k + 1, 0), __ATOMIC_SEQ_CST);
    if (sendmsg(kids[k].sp, &m, MSG_NOSIGNAL | MSG_DONTWAIT)
        != (ssize_t) sizeof(buf))
    {
        own_master(c);
        return -1;
    }
    return 0;
}

/* Lends the connections at the queue's head to idle children. */
void
broker_dispatch(int stop)
{
    stopping = stop;
    while (q_len > 0) {
        int c = queue[q_head], i, k = -1, from;

        if (conns[c].state != C_QUEUED) {
            /* closed while it waited */
            q_head = (q_head + 1) % MAX_CONNS;
            q_len--;
            continue;
        }
        for (i = 0, from = rr; i < MAX_KIDS; i++) {
            int x = pool_pick_idle(kids, MAX_KIDS, from, pool_shm->kstate);
            if (x < 0)
                break;
            int32_t idle = KID_IDLE;
            if (__atomic_compare_exchange_n(&pool_shm->kstate[x], &idle,
                    KID_RESERVED, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            {
                k = x;
                break;
            }
            from = x + 1; /* it just became busy */
        }
        if (k < 0) {
            if (stopping) {
                /* no child left to serve them: nothing can be done */
                for (i = 0; i < MAX_KIDS && kids[i].pid <= 0; i++) {
                }
                if (i == MAX_KIDS) {
                    while (q_len > 0) {
                        if (conns[queue[q_head]].state == C_QUEUED)
                            conn_free(queue[q_head]);
                        q_head = (q_head + 1) % MAX_CONNS;
                        q_len--;
                    }
                }
            }
            break;
        }
        rr = k + 1;
        if (lend(k, c) != 0) {
            /* the child is leaving (TERM) or gone: the connection stays
             * queued for another one */
            kids[k].last = 1;
            __atomic_store_n(&pool_shm->kstate[k], KID_BUSY, __ATOMIC_SEQ_CST);
            continue;
        }
        q_head = (q_head + 1) % MAX_CONNS;
        q_len--;
        conns[c].state = C_OWNED;
        ev_set(c, EPOLLRDHUP);
        if (tucai_metrics) {
            metrics_observe(
                &tucai_metrics->queue_wait, mono_us() - conns[c].queued_us);
        }
    }
    if (q_len == 0) {
        __atomic_store_n(&pool_shm->queued, 0, __ATOMIC_SEQ_CST);
    }
}

/* A child's messages: "idle" (it may take what waits: dispatch runs after
 * every turn) or connections it gives back. */
void
broker_kid_readable(int k, int stop)
{
    kid_t        *x = &kids[k];
    unsigned char buf[2 + 2 * POOL_RELEASE_MAX];
    ssize_t       n;
    int           i;

    stopping = stop;
    for (;;) {
        if (x->sp < 0) {
            return;
        }
        n = recv(x->sp, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0
            && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            /* the child is gone: reaping takes back what it kept */
            x->last = 1;
            kid_close_sp(x);
            return;
        }
        if (buf[0] != POOL_MSG_RELEASE) {
            continue;
        }
        for (i = 2; i + 1 < n; i += 2) {
            int c = (buf[i] << 8) | buf[i + 1];
            if (c < MAX_CONNS && conns[c].state == C_OWNED
                && OWN_WHO(owner(c)) == 0) {
                reclaim(c);
            }
        }
    }
}

/* Kid k is gone: what it was serving ends (the master's copy was the last
 * one but for the child's), what it kept comes back. */
void
broker_kid_gone(int k)
{
    int c;

    for (c = 0; c < MAX_CONNS; c++) {
        uint32_t w;
        if (conns[c].state != C_OWNED)
            continue;
        w = owner(c);
        if (OWN_WHO(w) == 0) {
            reclaim(c); /* given back, the message lost */
        } else if (OWN_WHO(w) == (uint32_t) k + 1) {
            if (w & OWN_SERVING)
                conn_free(c);
            else
                reclaim(c);
        }
    }
}

/* Connections nginx wrote on whose child has been busy for STEAL_AFTER_MS
 * are taken back and queued for an idle child.  Returns the epoll timeout
 * to use (ms, -1: the default): short while a busy child keeps
 * connections, since a child may turn idle without telling the master. */
int
broker_steal(int64_t now_ms)
{
    struct pollfd pfd[MAX_CONNS];
    int           idx[MAX_CONNS];
    int           i, n = 0, idle = 0, busy = 0;

    for (i = 0; i < MAX_KIDS; i++) {
        if (!eligible(&kids[i]))
            continue;
        int st = __atomic_load_n(&pool_shm->kstate[i], __ATOMIC_SEQ_CST);
        idle += st == KID_IDLE;
        busy += st == KID_BUSY;
    }
    if (busy == 0) {
        return -1;
    }
    for (i = 0; i < MAX_CONNS; i++) {
        uint32_t w;
        int      k;
        if (conns[i].state != C_OWNED)
            continue;
        w = owner(i);
        if (OWN_WHO(w) == 0 || (w & OWN_SERVING))
            continue;
        k = (int) OWN_WHO(w) - 1;
        if (__atomic_load_n(&pool_shm->kstate[k], __ATOMIC_SEQ_CST) != KID_BUSY
            || now_ms
                    - __atomic_load_n(&pool_shm->kbusy_ms[k], __ATOMIC_SEQ_CST)
                < STEAL_AFTER_MS)
        {
            continue;
        }
        pfd[n].fd = conns[i].fd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        idx[n++] = i;
    }
    if (n == 0) {
        /* nothing to take yet: look again when it may be */
        return STEAL_AFTER_MS;
    }
    if (idle > 0 && poll(pfd, (nfds_t) n, 0) > 0) {
        for (i = 0; i < n; i++) {
            int      c = idx[i];
            uint32_t w = owner(c);
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (OWN_WHO(w) == 0 || (w & OWN_SERVING))
                continue;
            if (own_cas(&pool_shm->owner[c], w, OWN_MAKE(OWN_GEN(w) + 1, 0, 0)))
            {
                tlog_info("pool: connection %d taken from busy child %d", c,
                    (int) OWN_WHO(w) - 1);
                enqueue(c);
            }
        }
    }
    return STEAL_TICK_MS;
}

void
broker_accept(int l)
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
        __atomic_add_fetch(&pool_shm->accepts, 1, __ATOMIC_RELAXED);
        tlog_info(
            "accept: connection %llu", (unsigned long long) pool_shm->accepts);
        ev_add(fd, EV_CONN, c);
    }
}

void
broker_sweep(void)
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

/* A request nginx already wrote is still served; idle connections are
 * closed; the children give back what they keep (and keep nothing from
 * now on). */
void
broker_stop(void)
{
    unsigned char s = POOL_MSG_STOP;
    int           i;

    stopping = 1;
    __atomic_store_n(&pool_shm->stopping, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i].state != C_IDLE)
            continue;
        conn_check(i, 0);
        if (conns[i].state == C_IDLE)
            conn_free(i);
    }
    for (i = 0; i < MAX_KIDS; i++) {
        if (kids[i].pid > 0 && kids[i].sp >= 0 && !kids[i].jobs) {
            (void) send(kids[i].sp, &s, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
}

void
broker_close_all(void)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i].state != C_FREE)
            conn_free(i);
    }
}

void
broker_close_fds(void)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i].state != C_FREE && conns[i].fd >= 0)
            close(conns[i].fd);
}
