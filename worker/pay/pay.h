/*
 * pay.h -- WeChat Pay v3 (JSAPI) for one submission's order, the payment
 * notification, reconciliation, final delivery and the student outbox.
 * The journey calls these; they never call back into the journey.  Always
 * linked into tucai-worker: plain declarations, callers call them directly.
 */
#ifndef TUCAI_PAY_H
#define TUCAI_PAY_H

#include "handler.h"

/*
 * Creates the student's order for draft_id, or switches the draft of the
 * live UNPAID order (same order, same out_trade_no).  amount 0 -> status
 * FREE and delivery starts at once.  Runs its own transaction.  On success
 * *order gets the API.md order object (with "pay" fields or null) and 0 is
 * returned; otherwise the error is already written to resp and -1 returned
 * (409 ALREADY_PAID, 503 WECHAT_UNAVAILABLE, ...).
 */
int pay_submit(tucai_ctx_t *ctx, uint64_t student_id, uint64_t draft_id,
    json_t **order, tucai_resp_t *resp);

/* The student's order as API.md's object, queried at WeChat when UNPAID;
 * NULL when none.  */
json_t *pay_order_json(tucai_ctx_t *ctx, uint64_t student_id, int refresh);

/* Periodic jobs (pay_reconcile.c), each stopping at deadline_ms
 * (tucai_now_ms()): asks WeChat about UNPAID orders whose notification may
 * never come and closes expired ones; delivers paid orders that have no
 * photo yet. */
void pay_reconcile(tucai_ctx_t *ctx, int64_t deadline_ms);
void deliver_pending(tucai_ctx_t *ctx, int64_t deadline_ms);


#endif
