/* log.c -- timestamped log lines carrying pid, level and request id. */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int  log_fd = 2;
static char cur_rid[40];
static int  my_pid;

/* getpid() is a system call per line (glibc no longer caches it); the
 * pool's children fork from the master, so a fork forgets it */
static void
forget_pid(void)
{
    my_pid = 0;
}

static int
log_pid(void)
{
    static int hooked;

    if (!hooked) {
        hooked = pthread_atfork(NULL, NULL, forget_pid) == 0;
    }
    if (my_pid == 0 || !hooked) {
        my_pid = (int) getpid();
    }
    return my_pid;
}

int
tlog_open(const char *path)
{
    int fd;

    if (path == NULL || path[0] == '\0') {
        if (log_fd > 2) {
            close(log_fd);
        }
        log_fd = 2;
        return 0;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        return -1;
    }
    if (log_fd > 2) {
        close(log_fd);
    }
    log_fd = fd;
    return 0;
}

void
tlog_set_rid(const char *rid)
{
    snprintf(cur_rid, sizeof(cur_rid), "%s", rid ? rid : "");
}

void
tlog(int level, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    char               line[2048];
    struct tm          tm;
    time_t             now = time(NULL);
    int                n, m;
    va_list            ap;

    gmtime_r(&now, &tm);
    n = (int) strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    m = snprintf(line + n, sizeof(line) - (size_t) n, " [%s] pid=%d rid=%s ",
        names[level < 0 || level > 3 ? 1 : level], log_pid(),
        cur_rid[0] ? cur_rid : "-");
    if (m > 0) {
        n += m;
    }
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
    va_end(ap);
    if (m > 0) {
        n += m;
    }
    if (n > (int) sizeof(line) - 2) {
        n = (int) sizeof(line) - 2;
    }
    /* one write per line so children's lines never interleave */
    line[n++] = '\n';
    if (write(log_fd, line, (size_t) n) < 0) {
        /* nowhere left to complain */
    }
}
