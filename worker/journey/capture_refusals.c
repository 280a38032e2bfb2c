/*
 * capture_refusals.c -- PRODUCT.md steps 10-13 before a capture: 423 LOCKED
 * liveness (a teacher unlocks) / quality (ends by itself, "until"), 429
 * COOLING_DOWN {"retry_after","until"}, 409 DRAFTS_FULL.  Which one applies
 * is locks.c's rule (lock_capture_gate); this file words the answer and
 * tells nginx the state so that it answers the next ones itself.
 */
#include "capture.h"
#include "locks.h"

/* The student's lock/cooldown/box answers, or 0 when capturing may go on. */
int
capture_refused(const tucai_req_t *req, const jst_t *st, tucai_resp_t *resp)
{
    int64_t  now = (int64_t) time(NULL);
    uint32_t cap = journey_policy(req, TUCAI_POL_DRAFTS_CAPACITY);

    journey_state(resp, req, st);
    switch (lock_capture_gate(now, st->cooldown_until, st->lock_kind,
        st->lock_until, (uint32_t) st->ndrafts, cap))
    {
    case CAPTURE_LOCKED_LIVENESS:
        resp_refuse(resp, TUCAI_ERR_LOCKED_LIVENESS,
            json_pack("{s:s,s:s}", "lock", "liveness", "contact", st->contact));
        return -1;
    case CAPTURE_LOCKED_QUALITY:
        resp->retry_after = (uint32_t) (st->lock_until - now);
        resp_refuse(resp, TUCAI_ERR_LOCKED_QUALITY,
            json_pack("{s:s,s:o,s:I}", "lock", "quality", "until",
                journey_time(st->lock_until), "retry_after",
                (json_int_t) (st->lock_until - now)));
        return -1;
    case CAPTURE_COOLING_DOWN:
        resp->retry_after = (uint32_t) (st->cooldown_until - now);
        resp_refuse(resp, TUCAI_ERR_COOLING_DOWN,
            json_pack("{s:I,s:o}", "retry_after",
                (json_int_t) (st->cooldown_until - now), "until",
                journey_time(st->cooldown_until)));
        return -1;
    case CAPTURE_DRAFTS_FULL:
        resp_error(resp, 409, "DRAFTS_FULL", "草稿箱已满，请先删除一张草稿",
            "the drafts box is full; delete a draft first",
            json_pack("{s:I}", "capacity", (json_int_t) cap));
        return -1;
    }
    return 0;
}
