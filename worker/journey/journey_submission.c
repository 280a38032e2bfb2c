/*
 * journey_submission.c -- POST /api/v1/submission {"draft_id"} (step 14):
 * picks the draft to submit; again before payment switches the draft of
 * the same order.  The order itself belongs to pay.c (pay_submit).
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
        "already paid; the submitted photo cannot change", NULL);
}

int
journey_submission(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
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
        && strspn(json_string_value(v), "0123456789") == json_string_length(v))
    {
        draft_id = strtoull(json_string_value(v), NULL, 10);
    }
    json_decref(body);
    if (draft_id == 0) {
        return resp_error(resp, 400, "BAD_REQUEST", "请选择要提交的草稿",
            "field draft_id is required",
            json_pack("{s:s}", "field", "draft_id"));
    }
    rc = db_query_int(ctx, &found,
        "SELECT COUNT(*) FROM drafts WHERE id = %lu"
        " AND student_id = %lu AND status = 'draft'",
        draft_id, st.student_id);
    if (rc < 0) {
        return resp_db_unavailable(resp);
    }
    if (found == 0) {
        return journey_not_found(resp);
    }

    if (pay_submit(ctx, st.student_id, draft_id, &order, resp) != 0) {
        return 0; /* pay answered (ALREADY_PAID, ...) */
    }
    return journey_reply_step(
        ctx, req, resp, json_pack("{s:o}", "order", order));
}
