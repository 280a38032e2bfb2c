/* pool_ev.c -- the master's epoll (every descriptor it waits on, tagged
 * with its kind and index) and its clocks. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "log.h"
#include "pool_int.h"

int pool_ep = -1;

int
ev_open(void)
{
    pool_ep = epoll_create1(EPOLL_CLOEXEC);
    return pool_ep < 0 ? -1 : 0;
}

static uint64_t
tag(int kind, int idx)
{
    return ((uint64_t) kind << 32) | (uint32_t) idx;
}

void
ev_add(int fd, int kind, int idx)
{
    struct epoll_event e;

    memset(&e, 0, sizeof(e));
    e.events = kind == EV_CONN ? EPOLLIN | EPOLLRDHUP : EPOLLIN;
    e.data.u64 = tag(kind, idx);
    if (epoll_ctl(pool_ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        tlog_error("pool: epoll_ctl: %s", strerror(errno));
    }
}

/* Always before close: a lent connection's file lives on in the child, and
 * epoll would keep reporting it under the closed fd number. */
void
ev_del(int fd)
{
    (void) epoll_ctl(pool_ep, EPOLL_CTL_DEL, fd, NULL);
}

int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
