/*
 * pay_int.h -- private to pay*.c and deliver.c: the order row,
 * marking an order paid exactly once, refreshing it from WeChat, delivery
 * and the outbox worker.
 */
#ifndef TUCAI_PAY_INT_H
#define TUCAI_PAY_INT_H

#include <stdint.h>
#include "handler.h"
#include "db.h"

typedef struct {
    uint64_t id, student_id, draft_id;
    uint32_t school_id, amount_fen;
    char     out_trade_no[40];
    char     status[12]; /* UNPAID PAID CLOSED FREE */
    char     prepay_id[72];
    int64_t  prepay_at, expires_at, created_at, paid_at;
    int      live;
} pay_order_t;

/* Columns for pay_order_row(), in order. */
#define PAY_ORDER_COLS                                                       \
    "id, student_id, draft_id, school_id, amount_fen, out_trade_no, status," \
    " IFNULL(prepay_id, ''), IFNULL(prepay_at, 0), expires_at, created_at,"  \
    " IFNULL(paid_at, 0), IFNULL(live, 0)"

void pay_order_row(MYSQL_ROW r, pay_order_t *o);
/* Loads one order by a WHERE clause already built with db_fmt (NULL ->
 * -1).  1 found, 0 none, -1 error. */
int pay_order_find(tucai_ctx_t *ctx, pay_order_t *o, const char *where);
/* The API.md order object (no "pay" fields). */
json_t *pay_order_obj(const pay_order_t *o);

/* Records a payment event (own statement; outside or inside a txn). */
void pay_event(tucai_ctx_t *ctx, const char *out_trade_no, const char *source,
    int accepted, const char *detail);

/*
 * Marks the order PAID (once: UPDATE ... WHERE status='UNPAID'), delivers
 * and queues the payment message, all in one transaction.  tx is WeChat's
 * decrypted/queried transaction object; it is checked against the order
 * (appid, mchid, amount).  Returns 0 (paid now or already), 1 refused
 * (mismatch; why says which), -1 database failure.
 */
int pay_mark_paid(tucai_ctx_t *ctx, json_t *tx, const char *source, char *why,
    size_t why_len);

/* Queries WeChat for an UNPAID order and applies the answer; close_expired
 * closes it at WeChat and here when past expiry.  0 or -1 (unreachable). */
int pay_refresh_order(
    tucai_ctx_t *ctx, const pay_order_t *o, int close_expired);

/* Closes an order at WeChat (best effort).  0 closed/absent, -1 failed,
 * 1 it was paid meanwhile. */
int pay_close_remote(tucai_ctx_t *ctx, const char *out_trade_no);

/* deliver.c: final production inside the caller's transaction: the draft's
 * photo copied atomically to final/<student>.jpg, photos row, step done,
 * "photo ready" message.  0; -1 database failure (roll back); -2 the file
 * could not be made, nothing written (commit the payment anyway:
 * deliver_pending retries). */
int deliver_order(tucai_ctx_t *ctx, const pay_order_t *o);
/* Student id of the account (role student subject); 0 when none. */
uint64_t pay_student_of(tucai_ctx_t *ctx, const tucai_req_t *req);

#endif
