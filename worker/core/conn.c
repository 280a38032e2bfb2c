/* conn.c -- a child's loop: one exchange per connection the master lends.
 *
 * The master owns the connections and hands one over only when nginx has
 * written on it, so a child never holds an idle connection that a request
 * could wait on while it is busy with another (see pool_broker.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "childmem.h"
#include "db.h"
#include "handler.h"
#include "log.h"
#include "pool.h"
#include "proto.h"

#define KEEP_BUF        (1u << 20)  /* larger scratch buffers are freed */
#define JOBS_EVERY_MS   1000
#define JOBS_BUDGET_MS  2000        /* nobody waits on the jobs process */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n bytes before deadline.  Returns n, 0 on EOF before the
 * first byte when allow_eof, or -1 (error, timeout, short read). */
static ssize_t read_full(int fd, unsigned char *p, size_t n, int64_t deadline,
    int allow_eof)
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
        if (poll(&pfd, 1, (int) (left > 1000 ? 1000 : left)) < 0 && errno != EINTR) {
            return -1;
        }
    }
    return (ssize_t) n;
}

static int write_full(int fd, struct iovec *iov, int cnt, int64_t deadline)
{
    while (cnt > 0) {
        struct msghdr m = { 0 };
        m.msg_iov = iov;
        m.msg_iovlen = (size_t) cnt;
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            int64_t left = deadline - now_ms();
            if (left <= 0) return -1;
            struct pollfd pfd = { fd, POLLOUT, 0 };
            if (poll(&pfd, 1, (int) (left > 1000 ? 1000 : left)) < 0 && errno != EINTR) {
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

static int grow(tbuf *b, size_t n)
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

/* One exchange.  Returns 0 (connection stays open) or -1 (close it). */
static int serve_one(tucai_ctx_t *ctx, int fd, tbuf *in, tbuf *head,
    tucai_resp_t *resp)
{
    unsigned char raw[TUCAI_HDR_SIZE];
    tucai_hdr_t   h;
    tucai_req_t   req;
    int64_t       t0 = now_ms();
    int64_t       deadline = t0 + (int64_t) ctx->cfg->request_timeout_s * 1000;
    ssize_t       r;
    size_t        rest;
    int           rc = 0;

    r = read_full(fd, raw, sizeof(raw), deadline, 1);
    if (r <= 0) {
        if (r < 0) {
            tlog_warn("conn: short or timed-out frame header, closing");
        }
        return -1;
    }
    if (tucai_hdr_decode(raw, &h, TUCAI_MAX_BODY) != 0) {
        tlog_warn("conn: bad frame header, closing");
        return -1;
    }
    rest = (size_t) h.meta_len + h.body_len;
    if (grow(in, rest ? rest : 1) != 0) {
        tlog_error("conn: out of memory for a %zu byte frame", rest);
        return -1;
    }
    if (rest && read_full(fd, in->p, rest, deadline, 0) != (ssize_t) rest) {
        tlog_warn("conn: short or timed-out frame (%zu bytes expected), closing",
                  rest);
        return -1;
    }
    if (proto_decode_req(&req, &h, in->p) != 0) {
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
        struct iovec iov[2] = {
            { head->p, head->len },
            { resp->body.p, resp->body.len }
        };
        if (write_full(fd, iov, resp->body.len ? 2 : 1, deadline) != 0) {
            tlog_warn("conn: write failed, closing");
            rc = -1;
        }
    }
    tlog_set_rid(NULL);

    /* an upload's buffer is not kept around for the next small request */
    if (in->cap > KEEP_BUF) tbuf_free(in);
    if (resp->body.cap > KEEP_BUF) tbuf_free(&resp->body);
    return rc;
}

/* Receives a connection from the master.  1 with *fd, 0 when the master
 * is gone (or, after shutdown, nothing is left), -1 on EAGAIN/EINTR. */
static int recv_conn(int sp, int *fd, uint64_t *accepts)
{
    unsigned char  buf[8];
    union {
        struct cmsghdr h;
        char           b[CMSG_SPACE(sizeof(int))];
    } u;
    struct iovec   iov = { buf, sizeof(buf) };
    struct msghdr  m = { 0 };
    struct cmsghdr *c;
    ssize_t        n;

    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.b;
    m.msg_controllen = sizeof(u.b);
    n = recvmsg(sp, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -1 : 0;
    }
    if (n == 0) {
        return 0;
    }
    *fd = -1;
    for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
            && c->cmsg_len == CMSG_LEN(sizeof(int)))
        {
            memcpy(fd, CMSG_DATA(c), sizeof(int));
        }
    }
    if (*fd < 0 || n != (ssize_t) sizeof(buf)) {
        /* not something the master sends: drop it, wait for the next */
        if (*fd >= 0) close(*fd);
        return -1;
    }
    *accepts = tucai_get64(buf);
    return 1;
}

/* Gives the connection back (or says it is closed).  A master that is gone
 * needs no answer. */
static void send_back(int sp, unsigned char status, int fd)
{
    union {
        struct cmsghdr h;
        char           b[CMSG_SPACE(sizeof(int))];
    } u;
    struct iovec   iov = { &status, 1 };
    struct msghdr  m = { 0 };

    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (status & POOL_KEEP) {
        memset(&u, 0, sizeof(u));
        m.msg_control = u.b;
        m.msg_controllen = sizeof(u.b);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    while (sendmsg(sp, &m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
        /* retry */
    }
}

void conn_child_loop(tucai_ctx_t *ctx, int sp, volatile sig_atomic_t *stop)
{
    tbuf          in = { 0 }, head = { 0 };
    tucai_resp_t  resp;
    uint64_t      served = 0, accepts = 0;
    int           draining = 0, fd, r;

    memset(&resp, 0, sizeof(resp));

    for (;;) {
        if (*stop && !draining) {
            /* the master's next send fails (EPIPE) and it keeps that
             * connection; what it already sent is still served below */
            shutdown(sp, SHUT_RD);
            draining = 1;
        }
        if (!draining) {
            struct pollfd p = { sp, POLLIN, 0 };
            int n = poll(&p, 1, 1000);
            if (n < 0 && errno != EINTR) {
                tlog_error("conn: poll: %s", strerror(errno));
                break;
            }
            if (n <= 0) {
                continue;
            }
        }

        r = recv_conn(sp, &fd, &accepts);
        if (r == 0) {
            break;              /* master gone, or drained */
        }
        if (r < 0) {
            if (draining) break;
            continue;
        }
        ctx->accepts = accepts;

        unsigned char st = serve_one(ctx, fd, &in, &head, &resp) == 0
                           ? POOL_KEEP : POOL_CLOSED;
        served++;
        /* max_requests, max_rss_mb; a photo's memory given back */
        int recycle = childmem_after_request(ctx->cfg, served);
        if (recycle || *stop) {
            st |= POOL_LAST;
        }
        send_back(sp, st, fd);
        close(fd);
        if (recycle) {
            break;
        }
    }

    tbuf_free(&in);
    tbuf_free(&head);
    tbuf_free(&resp.body);
    childmem_leak_check();
}

void conn_jobs_loop(tucai_ctx_t *ctx, int sp, volatile sig_atomic_t *stop)
{
    while (!*stop) {
        struct pollfd p = { sp, POLLIN, 0 };
        int n = poll(&p, 1, JOBS_EVERY_MS);
        if (n < 0 && errno != EINTR) {
            tlog_error("jobs: poll: %s", strerror(errno));
            break;
        }
        if (n > 0) {
            break;          /* the master never writes: it closed or died */
        }
        if (n == 0 && !*stop && db_ensure(ctx) == 0) {
            pool_app->tick(ctx, JOBS_BUDGET_MS);
        }
    }
    childmem_leak_check();
}
