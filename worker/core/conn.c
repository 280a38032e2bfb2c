/* conn.c -- a child's loop: it serves the connections the master lent it
 * and keeps them, so nginx's next requests on them come straight here.
 *
 * Ownership changes only by compare-and-swap on pool_shm.h's owner word:
 * before reading a request the child takes the connection (kept ->
 * serving); a connection the master took back meanwhile (this child was
 * busy with a slow request, another was idle: pool_broker.c) no longer
 * matches and its copy is closed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "childmem.h"
#include "db.h"
#include "handler.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "pool_shm.h"
#include "proto.h"

#define KEEP_BUF       (1u << 20) /* larger scratch buffers are freed */
#define FIRST_READ     4096       /* a light request's whole frame */
#define JOBS_EVERY_MS  1000
#define JOBS_BUDGET_MS 2000 /* nobody waits on the jobs process */

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n bytes before deadline.  Returns n, 0 on EOF before the
 * first byte when allow_eof, or -1 (error, timeout, short read). */
static ssize_t
read_full(int fd, unsigned char *p, size_t n, int64_t deadline, int allow_eof)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r > 0) {
            got += (size_t) r;
            continue;
        }
        if (r == 0) {
            return (got == 0 && allow_eof) ? 0 : -1;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, (int) (left > 1000 ? 1000 : left)) < 0
            && errno != EINTR) {
            return -1;
        }
    }
    return (ssize_t) n;
}

static int
write_full(int fd, struct iovec *iov, int cnt, int64_t deadline)
{
    while (cnt > 0) {
        struct msghdr m = { 0 };
        m.msg_iov = iov;
        m.msg_iovlen = (size_t) cnt;
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return -1;
            struct pollfd pfd = { fd, POLLOUT, 0 };
            if (poll(&pfd, 1, (int) (left > 1000 ? 1000 : left)) < 0
                && errno != EINTR) {
                return -1;
            }
            continue;
        }
        while (cnt > 0 && (size_t) w >= iov->iov_len) {
            w -= (ssize_t) iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *) iov->iov_base + w;
            iov->iov_len -= (size_t) w;
        }
    }
    return 0;
}

static int
grow(tbuf *b, size_t n)
{
    if (b->cap >= n) {
        return 0;
    }
    unsigned char *p = realloc(b->p, n);
    if (p == NULL) {
        return -1;
    }
    b->p = p;
    b->cap = n;
    return 0;
}

/* Waits until fd is readable or deadline: 0, or -1 (timed out, error). */
static int
wait_in(int fd, int64_t deadline)
{
    int64_t left = deadline - now_ms();

    if (left <= 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    struct pollfd pfd = { fd, POLLIN, 0 };
    if (poll(&pfd, 1, (int) (left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
        return -1;
    return 0;
}

/* Reads one request frame into in (header, meta, body) before deadline,
 * the header and what follows it in one read when nginx wrote them
 * together (a light request: one read instead of two).  Returns 1 with *h
 * decoded, 0 at EOF before a frame, 2 when nothing was there (the
 * readiness seen was stale: the connection stays), -1 to close it
 * (logged). */
static int
read_frame(int fd, tbuf *in, tucai_hdr_t *h, int64_t deadline)
{
    size_t  got = 0, total;
    ssize_t r;

    if (grow(in, FIRST_READ) != 0) {
        tlog_error("conn: out of memory for a frame");
        return -1;
    }
    while (got < TUCAI_HDR_SIZE) {
        r = read(fd, in->p + got, in->cap - got);
        if (r > 0) {
            got += (size_t) r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (got == 0)
                return 2;
            if (wait_in(fd, deadline) != 0)
                break;
        } else if (r == 0 && got == 0) {
            return 0;
        } else {
            break;
        }
    }
    if (got < TUCAI_HDR_SIZE) {
        tlog_warn("conn: short or timed-out frame header, closing");
        return -1;
    }
    if (tucai_hdr_decode(in->p, h, TUCAI_MAX_BODY) != 0) {
        tlog_warn("conn: bad frame header, closing");
        return -1;
    }
    total = TUCAI_HDR_SIZE + (size_t) h->meta_len + h->body_len;
    if (got > total) {
        /* the protocol has no pipelining: nginx writes its next frame
         * only after our answer */
        tlog_warn("conn: %zu bytes after the frame, closing", got - total);
        return -1;
    }
    if (grow(in, total) != 0) {
        tlog_error("conn: out of memory for a %zu byte frame", total);
        return -1;
    }
    if (got < total
        && read_full(fd, in->p + got, total - got, deadline, 0)
            != (ssize_t) (total - got))
    {
        tlog_warn(
            "conn: short or timed-out frame (%zu bytes expected), closing",
            total - TUCAI_HDR_SIZE);
        return -1;
    }
    return 1;
}

/* One exchange.  Returns 0 (connection stays open), 1 (nothing was there
 * to read: it stays, nothing served) or -1 (close it). */
static int
serve_one(tucai_ctx_t *ctx, int fd, tbuf *in, tbuf *head, tucai_resp_t *resp)
{
    tucai_hdr_t h;
    tucai_req_t req;
    int64_t     t0 = now_ms();
    int64_t     deadline = t0 + (int64_t) ctx->cfg->request_timeout_s * 1000;
    size_t      rest;
    int         rc = 0;

    rc = read_frame(fd, in, &h, deadline);
    if (rc != 1) {
        return rc == 2 ? 1 : -1;
    }
    rc = 0;
    rest = (size_t) h.meta_len + h.body_len;
    if (proto_decode_req(&req, &h, in->p + TUCAI_HDR_SIZE) != 0) {
        tlog_warn("conn: bad meta items, closing");
        return -1;
    }

    tlog_set_rid(req.rid);
    {
        tbuf body = resp->body;
        body.len = 0;
        memset(resp, 0, sizeof(*resp));
        resp->body = body;
    }
    dispatch(ctx, &req, resp);

    /* logged before the answer leaves, so whoever got the answer can
     * already read the line */
    tlog_info("op=%u status=%d in=%zu out=%zu ms=%lld", h.code, resp->status,
        rest, resp->body.len, (long long) (now_ms() - t0));
    if (proto_encode_resp(head, resp, &req) != 0) {
        tlog_error("conn: cannot encode the answer, closing");
        rc = -1;
    } else {
        struct iovec iov[2] = { { head->p, head->len },
            { resp->body.p, resp->body.len } };
        if (write_full(fd, iov, resp->body.len ? 2 : 1, deadline) != 0) {
            tlog_warn("conn: write failed, closing");
            rc = -1;
        }
    }
    tlog_set_rid(NULL);

    /* an upload's buffer is not kept around for the next small request */
    if (in->cap > KEEP_BUF)
        tbuf_free(in);
    if (resp->body.cap > KEEP_BUF)
        tbuf_free(&resp->body);
    return rc;
}

/* What this child keeps: connection number -> its copy and generation
 * (pool_shm.h), fd -1 when none. */
typedef struct {
    int      fd;
    uint32_t gen;
} kept_t;

static kept_t kept[POOL_SHM_CONNS];
static int    kid_idx;
/* the child's epoll: sp and the kept connections (a poll() over all of
 * them cost a look at each per request) */
static int cep = -1;
#define EV_SP 0xffffffffu

static uint32_t
own_word(int c, int serving)
{
    return OWN_MAKE(kept[c].gen, kid_idx + 1, serving);
}

/* Always out of the epoll first: the master's copy keeps the file open,
 * and epoll would go on reporting it under a closed number. */
static void
drop(int c)
{
    (void) epoll_ctl(cep, EPOLL_CTL_DEL, kept[c].fd, NULL);
    close(kept[c].fd);
    kept[c].fd = -1;
}

static void
watch(int fd, uint32_t data)
{
    struct epoll_event e;

    memset(&e, 0, sizeof(e));
    e.events = EPOLLIN;
    e.data.u32 = data;
    if (epoll_ctl(cep, EPOLL_CTL_ADD, fd, &e) != 0) {
        tlog_error("conn: epoll_ctl: %s", strerror(errno));
    }
}

static void
set_busy(void)
{
    __atomic_store_n(&pool_shm->kbusy_ms[kid_idx], now_ms(), __ATOMIC_SEQ_CST);
    __atomic_store_n(&pool_shm->kstate[kid_idx], KID_BUSY, __ATOMIC_SEQ_CST);
}

/* Idle again; the master hears of it only when connections wait for a
 * child (it reserves idle children itself otherwise, pool_shm.h). */
static void
set_idle(int sp)
{
    unsigned char m = POOL_MSG_IDLE;

    __atomic_store_n(&pool_shm->kstate[kid_idx], KID_IDLE, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pool_shm->queued, __ATOMIC_SEQ_CST)) {
        (void) send(sp, &m, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
}

/* Gives connection `only` back to the master (all kept ones when -1); one
 * being served is given back from `serving`. */
static void
give_back(int sp, int only, int serving)
{
    unsigned char buf[2 + 2 * POOL_RELEASE_MAX];
    int           c, n = 0;

    buf[0] = POOL_MSG_RELEASE;
    buf[1] = 0;
    for (c = 0; c < POOL_SHM_CONNS; c++) {
        if (kept[c].fd < 0 || (only >= 0 && c != only))
            continue;
        if (own_cas(&pool_shm->owner[c], own_word(c, serving),
                OWN_MAKE(kept[c].gen + 1, 0, 0)))
        {
            buf[2 + 2 * n] = (unsigned char) (c >> 8);
            buf[3 + 2 * n] = (unsigned char) c;
            n++;
        }
        drop(c);
        if (n == POOL_RELEASE_MAX) {
            (void) send(sp, buf, (size_t) (2 + 2 * n), MSG_NOSIGNAL);
            n = 0;
        }
    }
    if (n > 0) {
        (void) send(sp, buf, (size_t) (2 + 2 * n), MSG_NOSIGNAL);
    }
}

/* Reads the master's messages.  Returns the connection just lent (the
 * master reserved this child for it), -1 when none; *gone when the master
 * is. */
static int
recv_msgs(int sp, int *gone)
{
    int lent = -1;

    for (;;) {
        unsigned char buf[8];
        union {
            struct cmsghdr h;
            char           b[CMSG_SPACE(sizeof(int))];
        } u;
        struct iovec    iov = { buf, sizeof(buf) };
        struct msghdr   m = { 0 };
        struct cmsghdr *cm;
        ssize_t         n;
        int             fd = -1;

        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = u.b;
        m.msg_controllen = sizeof(u.b);
        n = recvmsg(sp, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0
            && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            break;
        }
        if (n <= 0) {
            *gone = 1;
            break;
        }
        for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS
                && cm->cmsg_len == CMSG_LEN(sizeof(int)))
            {
                memcpy(&fd, CMSG_DATA(cm), sizeof(int));
            }
        }
        if (buf[0] != POOL_MSG_LEND || n != (ssize_t) sizeof(buf) || fd < 0) {
            /* POOL_MSG_STOP (the loop reads pool_shm), or not something
             * the master sends */
            if (fd >= 0)
                close(fd);
            continue;
        }
        int c = (buf[2] << 8) | buf[3];
        if (c >= POOL_SHM_CONNS) {
            close(fd);
            continue;
        }
        if (kept[c].fd >= 0)
            drop(c);
        kept[c].fd = fd;
        kept[c].gen = ((uint32_t) buf[4] << 24) | ((uint32_t) buf[5] << 16)
            | ((uint32_t) buf[6] << 8) | buf[7];
        watch(fd, (uint32_t) c);
        lent = c;
    }
    return lent;
}

void
conn_child_loop(tucai_ctx_t *ctx, int sp, int kid, volatile sig_atomic_t *stop)
{
    struct epoll_event ev[64];
    tbuf               in = { 0 }, head = { 0 };
    tucai_resp_t       resp;
    uint64_t           served = 0;
    int                c, gave_all = 0;
    /* kept connections epoll reported readable, served in turn before the
     * next epoll_wait (one wait per busy turn, not one per request); a
     * readiness gone stale meanwhile reads nothing (serve_one) */
    int ready[64], nready = 0, next = 0;
    int unlooked = 0; /* served since childmem last looked */

    memset(&resp, 0, sizeof(resp));
    kid_idx = kid;
    for (c = 0; c < POOL_SHM_CONNS; c++)
        kept[c].fd = -1;
    cep = epoll_create1(EPOLL_CLOEXEC);
    if (cep < 0) {
        tlog_error("conn: epoll: %s", strerror(errno));
        return;
    }
    watch(sp, EV_SP);
    set_idle(sp);

    while (!*stop) {
        int stopping = __atomic_load_n(&pool_shm->stopping, __ATOMIC_SEQ_CST);
        int n, j, gone = 0, lent = -1;

        if (stopping && !gave_all) {
            /* the pool stops: what nginx wrote on is served by whoever
             * the master lends it to; nothing is kept any more */
            give_back(sp, -1, 0);
            gave_all = 1;
            nready = next = 0;
        }
        if (next >= nready) {
            /* max_rss_mb; a photo's memory given back */
            if (unlooked) {
                unlooked = 0;
                if (childmem_look(ctx->cfg, served))
                    break;
            }
            nready = next = 0;
            n = epoll_wait(cep, ev, 64, 1000);
            if (n < 0 && errno != EINTR) {
                tlog_error("conn: epoll_wait: %s", strerror(errno));
                break;
            }
            for (j = 0; j < n; j++) {
                if (ev[j].data.u32 == EV_SP) {
                    lent = recv_msgs(sp, &gone);
                } else {
                    ready[nready++] = (int) ev[j].data.u32;
                }
            }
            if (gone)
                break;
        }

        /* what the master lent first (it waited in its queue), else the
         * next kept connection nginx wrote on */
        c = lent;
        while (c < 0 && next < nready) {
            int x = ready[next++];
            if (x < POOL_SHM_CONNS && kept[x].fd >= 0) {
                c = x;
            }
        }
        if (c < 0) {
            continue;
        }
        if (lent < 0) {
            int32_t idle = KID_IDLE;
            __atomic_store_n(
                &pool_shm->kbusy_ms[kid_idx], now_ms(), __ATOMIC_SEQ_CST);
            if (!__atomic_compare_exchange_n(&pool_shm->kstate[kid_idx], &idle,
                    KID_BUSY, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            {
                /* reserved: the master is lending one that waited longer;
                 * take that first */
                struct pollfd p = { sp, POLLIN, 0 };
                (void) poll(&p, 1, 50);
                nready = next = 0; /* epoll reports them again */
                continue;
            }
        } else {
            set_busy();
        }
        if (!own_cas(&pool_shm->owner[c], own_word(c, 0), own_word(c, 1))) {
            drop(c); /* the master took it back, or it closed */
            set_idle(sp);
            continue;
        }
        if (lent < 0 && tucai_metrics) {
            /* served where it waited: no queue */
            metrics_observe(&tucai_metrics->queue_wait, 0);
        }
        ctx->accepts = __atomic_load_n(&pool_shm->accepts, __ATOMIC_RELAXED);

        int rc = serve_one(ctx, kept[c].fd, &in, &head, &resp);
        int ok = rc >= 0;
        served += rc != 1;
        /* max_requests; the memory is looked at before the next wait */
        int recycle = childmem_served(ctx->cfg, served);
        unlooked = 1;
        if (!ok) {
            /* nginx and the master's copy see it end */
            shutdown(kept[c].fd, SHUT_RDWR);
            drop(c);
        } else if (*stop || recycle
            || __atomic_load_n(&pool_shm->stopping, __ATOMIC_SEQ_CST))
        {
            give_back(sp, c, 1);
        } else if (!own_cas(
                       &pool_shm->owner[c], own_word(c, 1), own_word(c, 0))) {
            drop(c); /* closed meanwhile */
        }
        if (recycle) {
            break;
        }
        if (!*stop) {
            set_idle(sp);
        }
    }

    /* leaving: lend me nothing more; what I keep goes back (one lent
     * meanwhile comes back when the master reaps me) */
    set_busy();
    (void) recv_msgs(sp, &c);
    give_back(sp, -1, 0);
    close(cep);
    tbuf_free(&in);
    tbuf_free(&head);
    tbuf_free(&resp.body);
    childmem_leak_check();
}

void
conn_jobs_loop(tucai_ctx_t *ctx, int sp, volatile sig_atomic_t *stop)
{
    while (!*stop) {
        struct pollfd p = { sp, POLLIN, 0 };
        int           n = poll(&p, 1, JOBS_EVERY_MS);
        if (n < 0 && errno != EINTR) {
            tlog_error("jobs: poll: %s", strerror(errno));
            break;
        }
        if (n > 0) {
            break; /* the master never writes: it closed or died */
        }
        if (n == 0 && !*stop && db_ensure(ctx) == 0) {
            pool_app->tick(ctx, JOBS_BUDGET_MS);
        }
    }
}
