/*
 * jobs.h -- periodic work (the outbox, reconciliation, late delivery): the
 * runner.  The program composes the list of jobs (main.c); the pool calls
 * jobs_tick() where it cannot delay a request.
 */
#ifndef TUCAI_JOBS_H
#define TUCAI_JOBS_H

#include <stdint.h>

#include "ctx.h"

/* One job: does a bounded amount of work, stopping at deadline_ms
 * (tucai_now_ms()). */
typedef void (*tucai_job_pt)(tucai_ctx_t *ctx, int64_t deadline_ms);

/* Runs the NULL-terminated jobs in turn within budget_ms, at most once a
 * second per process and one process at a time across the cluster (a
 * lease, db/lease.h, not waited for).  Never inside a transaction. */
void jobs_tick(tucai_ctx_t *ctx, const tucai_job_pt *jobs, int budget_ms);

#endif
