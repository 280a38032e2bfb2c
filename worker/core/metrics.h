/* metrics.h -- the pool's own figures, shared by the master and its
 * children (one anonymous MAP_SHARED region made before the first fork),
 * answered as Prometheus text to TUCAI_OP_METRICS (docs/metrics.md).
 *
 * Writers never lock: counters are relaxed atomic adds, gauges plain
 * stores by their one writer (the master).  A scrape may see a histogram's
 * count and its buckets one observation apart; Prometheus tolerates that. */
#ifndef TUCAI_METRICS_H
#define TUCAI_METRICS_H

#include <stdint.h>

#include "handler.h"

/* upper bounds in seconds; +Inf is count */
#define METRICS_NBUCKETS 14

typedef struct {
    uint64_t bucket[METRICS_NBUCKETS]; /* non-cumulative; summed on output */
    uint64_t count;
    uint64_t sum_us;
} metrics_hist_t;

/* photo check stages (photo_result_t.stage_us, same order) */
#define METRICS_NSTAGES 5

typedef struct {
    /* the master's view, rewritten on each turn of its loop */
    uint32_t       children_configured;
    uint32_t       children_busy;
    uint32_t       children_idle;
    uint32_t       queue_length;
    uint32_t       connections;
    uint32_t       pad;
    uint64_t       child_exits_total;
    metrics_hist_t queue_wait; /* nginx wrote -> lent to a child */

    /* the children's, per operation and photo stage */
    uint64_t       responses[TUCAI_OP_MAX][5]; /* by status class 1xx..5xx */
    metrics_hist_t op[TUCAI_OP_MAX];
    metrics_hist_t stage[METRICS_NSTAGES];
} tucai_metrics_t;

/* NULL until metrics_init (tucai-check, unit tests): observing is then a
 * no-op. */
extern tucai_metrics_t *tucai_metrics;

int  metrics_init(void); /* 0 or -1 */
void metrics_observe(metrics_hist_t *h, int64_t us);
void metrics_response(unsigned op, int status, int64_t us);
void metrics_stages(
    const int64_t *stage_us); /* METRICS_NSTAGES, <0 = not run */

/* The figures as Prometheus text into out (pool part only).  0 or -1. */
int metrics_render(tbuf *out);
/* printf into out; 0 or -1 */
int metrics_printf(tbuf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
