/* metrics.c -- the pool's figures in shared memory, as Prometheus text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"
#include "pool_shm.h"

tucai_metrics_t *tucai_metrics;

static const double bounds[METRICS_NBUCKETS] = { 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };

static const char *stage_names[METRICS_NSTAGES] = { "decode", "detect",
    "checks", "liveness", "produce" };

/* the names nginx gives operations ($tucai_op, the stat column of
 * tucai_ops.def), so the module's and the pool's series join on op */
static const char *
op_name(unsigned op)
{
    switch (op) {
#define TUCAI_OP(name, code, method, role, body, area, path, stat, handler) \
    case code:                                                              \
        return stat;
#include "tucai_ops.def"
#undef TUCAI_OP
    case TUCAI_OP_METRICS: return "metrics";
    case TUCAI_OP_STATUS: return "status";
    default: return NULL;
    }
}

int
metrics_init(void)
{
    void *p;

    if (tucai_metrics) {
        return 0;
    }
    p = mmap(NULL, sizeof(tucai_metrics_t), PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return -1;
    }
    tucai_metrics = p; /* zero-filled by the kernel */
    return 0;
}

#define ADD(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define GET(x)    __atomic_load_n(&(x), __ATOMIC_RELAXED)

void
metrics_observe(metrics_hist_t *h, int64_t us)
{
    int i;

    if (h == NULL) {
        return;
    }
    if (us < 0) {
        us = 0;
    }
    for (i = 0; i < METRICS_NBUCKETS; i++) {
        if ((double) us <= bounds[i] * 1e6) {
            ADD(h->bucket[i], 1);
            break;
        }
    }
    ADD(h->sum_us, (uint64_t) us);
    ADD(h->count, 1);
}

void
metrics_response(unsigned op, int status, int64_t us)
{
    if (tucai_metrics == NULL || op >= TUCAI_OP_MAX) {
        return;
    }
    metrics_observe(&tucai_metrics->op[op], us);
    if (status >= 100 && status <= 599) {
        ADD(tucai_metrics->responses[op][status / 100 - 1], 1);
    }
}

void
metrics_stages(const int64_t *stage_us)
{
    int i;

    if (tucai_metrics == NULL) {
        return;
    }
    for (i = 0; i < METRICS_NSTAGES; i++) {
        if (stage_us[i] >= 0) {
            metrics_observe(&tucai_metrics->stage[i], stage_us[i]);
        }
    }
}

int
metrics_printf(tbuf *out, const char *fmt, ...)
{
    char   *s;
    va_list ap;
    int     n, rc;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -1;
    }
    rc = tbuf_add(out, s, (size_t) n);
    free(s);
    return rc;
}

/* one histogram's lines; labels is "" or `op="x"` */
static int
hist(tbuf *out, const char *name, const char *labels, const metrics_hist_t *h)
{
    uint64_t    cum = 0, count = GET(h->count);
    int         i, rc = 0;
    const char *sep = labels[0] ? "," : "";

    for (i = 0; i < METRICS_NBUCKETS; i++) {
        cum += GET(h->bucket[i]);
        rc |= metrics_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name,
            labels, sep, bounds[i], (unsigned long long) cum);
    }
    /* a racing observation may be in a bucket but not yet in count */
    if (count < cum) {
        count = cum;
    }
    rc |= metrics_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
        sep, (unsigned long long) count);
    rc |= metrics_printf(out, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "",
        labels, labels[0] ? "}" : "", (double) GET(h->sum_us) / 1e6);
    rc |=
        metrics_printf(out, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "",
            labels, labels[0] ? "}" : "", (unsigned long long) count);
    return rc;
}

int
metrics_render(tbuf *out)
{
    tucai_metrics_t *m = tucai_metrics;
    char             lab[64];
    unsigned         op;
    int              i, rc = 0;

    if (m == NULL) {
        return -1;
    }
    /* the children's own states, as of now: the master's loop sleeps
     * while they serve the connections they keep */
    uint32_t busy = GET(m->children_busy), idle = GET(m->children_idle);
    if (pool_shm) {
        pool_shm_children(&busy, &idle);
    }

    rc |= metrics_printf(out,
        "# HELP tucai_pool_children Pool children by state.\n"
        "# TYPE tucai_pool_children gauge\n"
        "tucai_pool_children{state=\"busy\"} %u\n"
        "tucai_pool_children{state=\"idle\"} %u\n"
        "# HELP tucai_pool_children_configured Children the pool keeps (worker.ini [pool] children).\n"
        "# TYPE tucai_pool_children_configured gauge\n"
        "tucai_pool_children_configured %u\n"
        "# HELP tucai_pool_child_exits_total Children that exited (each is respawned).\n"
        "# TYPE tucai_pool_child_exits_total counter\n"
        "tucai_pool_child_exits_total %llu\n"
        "# HELP tucai_pool_connections nginx connections the master holds.\n"
        "# TYPE tucai_pool_connections gauge\n"
        "tucai_pool_connections %u\n"
        "# HELP tucai_pool_queue_length Requests waiting for a free child.\n"
        "# TYPE tucai_pool_queue_length gauge\n"
        "tucai_pool_queue_length %u\n"
        "# HELP tucai_pool_queue_wait_seconds Time a request waited for a free child.\n"
        "# TYPE tucai_pool_queue_wait_seconds histogram\n",
        busy, idle, GET(m->children_configured),
        (unsigned long long) GET(m->child_exits_total), GET(m->connections),
        GET(m->queue_length));
    rc |= hist(out, "tucai_pool_queue_wait_seconds", "", &m->queue_wait);

    rc |= metrics_printf(out,
        "# HELP tucai_pool_responses_total Answers of the pool by operation and status class.\n"
        "# TYPE tucai_pool_responses_total counter\n");
    for (op = 0; op < TUCAI_OP_MAX; op++) {
        if (op_name(op) == NULL)
            continue;
        for (i = 0; i < 5; i++) {
            uint64_t n = GET(m->responses[op][i]);
            if (n) {
                rc |= metrics_printf(out,
                    "tucai_pool_responses_total{op=\"%s\",code=\"%dxx\"} %llu\n",
                    op_name(op), i + 1, (unsigned long long) n);
            }
        }
    }

    rc |= metrics_printf(out,
        "# HELP tucai_pool_request_duration_seconds Time a child spent on a request, by operation.\n"
        "# TYPE tucai_pool_request_duration_seconds histogram\n");
    for (op = 0; op < TUCAI_OP_MAX; op++) {
        /* operations never asked for stay out: a scrape stays small */
        if (op_name(op) == NULL || GET(m->op[op].count) == 0)
            continue;
        snprintf(lab, sizeof(lab), "op=\"%s\"", op_name(op));
        rc |= hist(out, "tucai_pool_request_duration_seconds", lab, &m->op[op]);
    }

    rc |= metrics_printf(out,
        "# HELP tucai_photo_stage_duration_seconds Photo check time by pipeline stage.\n"
        "# TYPE tucai_photo_stage_duration_seconds histogram\n");
    for (i = 0; i < METRICS_NSTAGES; i++) {
        snprintf(lab, sizeof(lab), "stage=\"%s\"", stage_names[i]);
        rc |=
            hist(out, "tucai_photo_stage_duration_seconds", lab, &m->stage[i]);
    }
    return rc ? -1 : 0;
}
