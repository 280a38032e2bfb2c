/*
 * outbox.h -- subscribe messages to students, sent later: queued in the
 * caller's transaction (so a message exists exactly when the state change
 * it reports does), sent by a periodic job.
 */
#ifndef TUCAI_OUTBOX_H
#define TUCAI_OUTBOX_H

#include <stdint.h>
#include <jansson.h>

#include "ctx.h"

/* Queue a subscribe message for the student if they accepted that kind
 * ("photo_status" or "payment_result").  dedupe_key makes it once-only.
 * Uses the caller's transaction (no commit). 0 or -1. */
int  outbox_enqueue(tucai_ctx_t *ctx, uint64_t student_id, const char *sub_kind,
    const char *dedupe_key, json_t *data);

/* Sends due messages until deadline_ms (tucai_now_ms()): a job. */
void outbox_run(tucai_ctx_t *ctx, int64_t deadline_ms);

#endif
