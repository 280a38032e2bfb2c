/*
 * journey_submission.c -- POST /api/v1/submission {"draft_id"} (step 14):
 * picks the draft to submit; again before payment switches the draft of
 * the same order.  The order itself belongs to pay.c (pay_submit).  When
 * the pay part is not linked in, a FALLBACK here creates the order row as
 * UNPAID (fee > 0) or FREE with "pay": null, so the journey is testable on
 * its own; it never talks to WeChat.
 * Allowed at steps submit and pay; after payment 409 ALREADY_PAID.
 * A draft that is not this student's live draft is 404 NOT_FOUND.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "journey.h"
#include "pay.h"

static int
already_paid(tucai_resp_t *resp)
{
    return resp_error(resp, 409, "ALREADY_PAID", "已支付，不能再更换照片",
                      "already paid; the submitted photo cannot change",
                      NULL);
}

/* FALLBACK (no pay.c): one live order per student, switched until paid. */
static int
fallback_submit(tucai_ctx_t *ctx, const jst_t *st, uint64_t draft_id,
    json_t **order, tucai_resp_t *resp)
{
    MYSQL_RES *res;
    MYSQL_ROW  row;
    int64_t    now = (int64_t) time(NULL);
    uint64_t   oid;
    char       otn[33], hex[17], status[8];
    uint32_t   amount;
    int        rc;

    if (journey_txn(ctx) != 0) {
        return resp_db_unavailable(resp), -1;
    }
    /* The student row serialises concurrent submissions of one student. */
    if (db_exec(ctx, "SELECT id FROM students WHERE id = %U FOR UPDATE",
                st->student_id) < 0)
    {
        goto db_fail;
    }
    /* Re-checked under a row lock: a concurrent delete cannot slip in. */
    rc = jdb_row(ctx, &res, &row, "SELECT id FROM drafts WHERE id = %U AND"
                 " student_id = %U AND status = 'draft' FOR UPDATE",
                 draft_id, st->student_id);
    if (rc < 0) {
        goto db_fail;
    }
    if (rc == 0) {
        db_rollback(ctx);
        return journey_not_found(resp), -1;
    }
    mysql_free_result(res);
    rc = jdb_row(ctx, &res, &row, "SELECT id, status, out_trade_no, amount_fen"
                 " FROM orders WHERE student_id = %U AND live = 1 FOR UPDATE",
                 st->student_id);
    if (rc < 0) {
        goto db_fail;
    }
    if (rc == 1) {
        oid = jsql_u64(row[0]);
        jsql_copy(status, sizeof(status), row[1]);
        jsql_copy(otn, sizeof(otn), row[2]);
        amount = (uint32_t) jsql_u64(row[3]);
        mysql_free_result(res);
        if (strcmp(status, "UNPAID") != 0) {
            db_rollback(ctx);
            return already_paid(resp), -1;
        }
        if (db_exec(ctx, "UPDATE orders SET draft_id = %U, updated_at = %I"
                    " WHERE id = %U", draft_id, now, oid) < 0)
        {
            goto db_fail;
        }
    } else {
        if (journey_random_hex(hex, sizeof(hex), 8) != 0) {
            goto db_fail;
        }
        snprintf(otn, sizeof(otn), "T%lld%s", (long long) now, hex);
        amount = st->fee_fen;
        strcpy(status, amount > 0 ? "UNPAID" : "FREE");
        if (db_exec(ctx, "INSERT INTO orders (student_id, school_id, draft_id,"
                    " out_trade_no, amount_fen, status, expires_at, created_at,"
                    " updated_at) VALUES (%U, %u, %U, %s, %u, %s, %I, %I, %I)",
                    st->student_id, st->school_id, draft_id, otn, amount,
                    status, now + (ctx->cfg->pay_order_expire_s > 0
                                   ? ctx->cfg->pay_order_expire_s : 1800),
                    now, now, now) != 1)
        {
            goto db_fail;
        }
        oid = db_insert_id(ctx);
    }
    if (db_commit(ctx) != 0) {
        goto db_fail;
    }
    *order = json_pack("{s:I,s:s,s:s,s:I,s:n}", "id", (json_int_t) oid,
                       "out_trade_no", otn, "status", status,
                       "amount_fen", (json_int_t) amount, "pay");
    return 0;

db_fail:
    db_rollback(ctx);
    return resp_db_unavailable(resp), -1;
}

int
journey_submission(tucai_ctx_t *ctx, const tucai_req_t *req,
    tucai_resp_t *resp)
{
    jst_t    st;
    json_t  *body, *v, *order = NULL;
    uint64_t draft_id = 0;
    int      rc;
    int64_t  found;

    if (journey_begin(ctx, req, resp, &st) != 0) {
        return 0;
    }
    if (st.step == J_PRODUCING || st.step == J_DONE) {
        return already_paid(resp);
    }
    if (journey_guard(&st, J_BIT(J_SUBMIT) | J_BIT(J_PAY), resp) != 0) {
        return 0;
    }
    body = journey_json_body(req, resp);
    if (body == NULL) {
        return 0;
    }
    v = json_object_get(body, "draft_id");
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        draft_id = (uint64_t) json_integer_value(v);
    } else if (json_is_string(v) && strlen(json_string_value(v)) <= 19
               && json_string_length(v) > 0
               && strspn(json_string_value(v), "0123456789")
                  == json_string_length(v))
    {
        draft_id = strtoull(json_string_value(v), NULL, 10);
    }
    json_decref(body);
    if (draft_id == 0) {
        return resp_error(resp, 400, "BAD_REQUEST", "请选择要提交的草稿",
                          "field draft_id is required",
                          json_pack("{s:s}", "field", "draft_id"));
    }
    rc = db_query_int(ctx, &found, "SELECT COUNT(*) FROM drafts WHERE id = %U"
                      " AND student_id = %U AND status = 'draft'",
                      draft_id, st.student_id);
    if (rc < 0) {
        return resp_db_unavailable(resp);
    }
    if (found == 0) {
        return journey_not_found(resp);
    }

    if (pay_submit != NULL) {
        if (pay_submit(ctx, st.student_id, draft_id, &order, resp) != 0) {
            return 0;                 /* pay answered (ALREADY_PAID, ...) */
        }
    } else if (fallback_submit(ctx, &st, draft_id, &order, resp) != 0) {
        return 0;
    }
    return journey_reply_step(ctx, req, resp,
                              json_pack("{s:o}", "order", order));
}
