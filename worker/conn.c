/* conn.c -- a child's accept loop and one connection's frame exchanges.
 *
 * A child keeps several idle (keepalive) connections open at once and
 * serves whichever one nginx writes to; serving one connection at a time
 * would let idle keepalive connections starve new ones queued on the
 * listen socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "handlers.h"
#include "log.h"
#include "pool.h"
#include "proto.h"

#define MAX_CONNS       64
#define IDLE_CLOSE_S    300     /* nginx's keepalive_timeout closes first */
#define KEEP_BUF        (1u << 20)  /* larger scratch buffers are freed */
#define TICK_BUDGET_MS  200

typedef struct {
    int    fd;
    time_t last;
} cn_t;

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

void conn_child_loop(tucai_ctx_t *ctx, const int *fds, int nfds,
    volatile sig_atomic_t *stop)
{
    cn_t          conns[MAX_CONNS];
    struct pollfd pfd[TUCAI_MAX_LISTEN + MAX_CONNS];
    tbuf          in = { 0 }, head = { 0 };
    tucai_resp_t  resp;
    int           nc = 0, i, done = 0;
    uint64_t      served = 0;
    int64_t       last_tick = 0;

    memset(&resp, 0, sizeof(resp));

    while (!*stop && !done) {
        int np = 0, nl = 0;

        if (nc < MAX_CONNS) {
            for (i = 0; i < nfds; i++) {
                pfd[np].fd = fds[i]; pfd[np].events = POLLIN; pfd[np].revents = 0;
                np++;
            }
            nl = np;
        }
        for (i = 0; i < nc; i++) {
            pfd[np].fd = conns[i].fd; pfd[np].events = POLLIN; pfd[np].revents = 0;
            np++;
        }

        int n = poll(pfd, (nfds_t) np, 1000);
        if (n < 0 && errno != EINTR) {
            tlog_error("conn: poll: %s", strerror(errno));
            break;
        }

        if (pay_tick && now_ms() - last_tick >= 1000 && !*stop) {
            pay_tick(ctx, TICK_BUDGET_MS);
            last_tick = now_ms();
        }
        if (n <= 0) {
            goto idle;
        }

        /* existing connections first: they carry nginx's requests */
        for (i = nl; i < np && !done; i++) {
            if (!pfd[i].revents) continue;
            int k = i - nl;
            if (serve_one(ctx, conns[k].fd, &in, &head, &resp) != 0) {
                close(conns[k].fd);
                conns[k].fd = -1;
            } else {
                conns[k].last = time(NULL);
                served++;
                if (ctx->cfg->max_requests > 0
                    && served >= (uint64_t) ctx->cfg->max_requests)
                {
                    tlog_info("conn: served %llu requests, recycling",
                              (unsigned long long) served);
                    done = 1;
                }
            }
        }
        for (i = 0; i < nl && !done && !*stop; i++) {
            if (!(pfd[i].revents & POLLIN)) continue;
            while (nc < MAX_CONNS) {
                int fd = accept4(pfd[i].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        tlog_warn("conn: accept: %s", strerror(errno));
                    }
                    break;      /* another child got it */
                }
                ctx->accepts++;
                tlog_info("accept: connection %llu of child %d",
                          (unsigned long long) ctx->accepts, ctx->child_no);
                conns[nc].fd = fd;
                conns[nc].last = time(NULL);
                nc++;
                /* one per wakeup: spread connections over the children */
                break;
            }
        }
idle:
        {
            time_t t = time(NULL);
            int    j = 0;
            for (i = 0; i < nc; i++) {
                if (conns[i].fd >= 0 && t - conns[i].last > IDLE_CLOSE_S) {
                    close(conns[i].fd);
                    conns[i].fd = -1;
                }
                if (conns[i].fd >= 0) conns[j++] = conns[i];
            }
            nc = j;
        }
    }

    /* A request nginx already wrote on an idle connection is still served
     * (in-flight work), then every connection is closed. */
    for (i = 0; i < nc; i++) {
        struct pollfd p = { conns[i].fd, POLLIN, 0 };
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
            (void) serve_one(ctx, conns[i].fd, &in, &head, &resp);
        }
        close(conns[i].fd);
    }
    tbuf_free(&in);
    tbuf_free(&head);
    tbuf_free(&resp.body);
}
