/*
 * log.h -- the pool's log: one line per event,
 *   2026-11-25T15:00:00Z [info] pid=123 rid=<32 hex|-> message
 * The request id is the one nginx generated ($request_id), set by the
 * connection loop for the duration of a request.
 */
#ifndef TUCAI_LOG_H
#define TUCAI_LOG_H

enum {
    TLOG_DEBUG,
    TLOG_INFO,
    TLOG_WARN,
    TLOG_ERROR
};

/* path "" or NULL = stderr.  Reopening (after HUP / logrotate) is safe. */
int  tlog_open(const char *path);
void tlog_set_rid(const char *rid); /* NULL = none */
void tlog(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define tlog_info(...)  tlog(TLOG_INFO, __VA_ARGS__)
#define tlog_warn(...)  tlog(TLOG_WARN, __VA_ARGS__)
#define tlog_error(...) tlog(TLOG_ERROR, __VA_ARGS__)

#endif
