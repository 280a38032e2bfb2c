/*
 * ngx_http_tucai_bucket.h -- the arithmetic of the edge's rate buckets
 * (limit_req's leaky bucket), apart from the zone that stores them.
 *
 * Pure and in plain C types, not nginx's: t/unit/bucket_test.c tests it
 * without nginx.  ngx_http_tucai_shm_rate() (shm.c) finds the bucket in the
 * zone under its lock, computes the time since the bucket last counted
 * (in ngx_msec_t, so a wrapping clock stays right) and calls this.
 *
 * A bucket holds "excess" milli-requests, drained at "rate" milli-requests
 * per second.  A request adds 1000; burst + 1 requests pass at once.
 */
#ifndef NGX_HTTP_TUCAI_BUCKET_H
#define NGX_HTTP_TUCAI_BUCKET_H

#include <stdint.h>

#define NGX_HTTP_TUCAI_RATE_TAKE    0   /* count this request */
#define NGX_HTTP_TUCAI_RATE_PEEK    1   /* refuse when full, count nothing */
#define NGX_HTTP_TUCAI_RATE_CHARGE  2   /* count one failure, never refuse */

/* a longer idle time drains as much as this */
#define NGX_HTTP_TUCAI_BUCKET_MAX_IDLE_MS  86400000

/* ngx_http_tucai_bucket()'s answers */
#define NGX_HTTP_TUCAI_BUCKET_REFUSED  -1
#define NGX_HTTP_TUCAI_BUCKET_PASSED    0   /* nothing counted */
#define NGX_HTTP_TUCAI_BUCKET_COUNTED   1   /* *excess is new: stamp the time */

/*
 * One request elapsed_ms after the bucket last counted, against rate (> 0)
 * and burst.  REFUSED: full, *retry_after is the seconds until a request
 * would pass (>= 1), nothing changes.  TAKE counts a request that passes;
 * PEEK counts nothing; CHARGE counts one failure and never refuses, capped
 * at burst + 2 requests so that a long flood cannot keep the bucket shut
 * for days.
 */
static inline int
ngx_http_tucai_bucket(uint64_t *excess, int64_t elapsed_ms, uint64_t rate,
    uint64_t burst, unsigned mode, int64_t *retry_after)
{
    int64_t  ms, e;

    ms = elapsed_ms;
    if (ms < 0) {
        ms = 0;
    }
    if (ms > NGX_HTTP_TUCAI_BUCKET_MAX_IDLE_MS) {
        ms = NGX_HTTP_TUCAI_BUCKET_MAX_IDLE_MS;
    }
    e = (int64_t) *excess - (int64_t) (rate * (uint64_t) ms / 1000) + 1000;
    if (e < 0) {
        e = 0;
    }

    if (mode == NGX_HTTP_TUCAI_RATE_CHARGE) {
        if ((uint64_t) e > (burst + 2) * 1000) {
            e = (int64_t) (burst + 2) * 1000;
        }
        *excess = (uint64_t) e;
        return NGX_HTTP_TUCAI_BUCKET_COUNTED;
    }

    if ((uint64_t) e > (burst + 1) * 1000) {
        *retry_after = (int64_t) ((((uint64_t) e - (burst + 1) * 1000)
                                   + rate - 1) / rate);
        if (*retry_after < 1) {
            *retry_after = 1;
        }
        return NGX_HTTP_TUCAI_BUCKET_REFUSED;
    }

    if (mode == NGX_HTTP_TUCAI_RATE_TAKE) {
        *excess = (uint64_t) e;
        return NGX_HTTP_TUCAI_BUCKET_COUNTED;
    }
    return NGX_HTTP_TUCAI_BUCKET_PASSED;
}

#endif
