/* clock.c -- monotonic milliseconds and RFC 3339 times (clock.h). */
#include <time.h>

#include "clock.h"

int64_t
tucai_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
tucai_rfc3339(char *buf, size_t n, int64_t t)
{
    struct tm tm;
    time_t    tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        if (n > 0) {
            buf[0] = '\0';
        }
    }
    return buf;
}
