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

/* Queue a subscribe message for the student if they accepted that
 * template; dedupe_key ("<kind>:<id>", the kind names the outbox row)
 * makes it once-only.  Uses the caller's transaction (no commit).  0 or -1.
 * It takes one of the student's consents for that template (one message
 * per consent); with none left it is kept 'skipped', never sent.
 * One renderer per template, keys declared once (outbox.c):
 *   photo_status    thing1 what happened, phrase2 state (<= 5 characters),
 *                   time3 now (China time)
 *   payment_result  character_string1 the order, amount2 the fee, phrase3
 *                   state, time4 now */
int outbox_photo_status(tucai_ctx_t *ctx, uint64_t student_id,
    const char *dedupe_key, const char *what, const char *state);
int outbox_payment_result(tucai_ctx_t *ctx, uint64_t student_id,
    const char *dedupe_key, const char *out_trade_no, uint32_t amount_fen,
    const char *state);

/* Sends due messages until deadline_ms (tucai_now_ms()): a job. */
void outbox_run(tucai_ctx_t *ctx, int64_t deadline_ms);

#endif
