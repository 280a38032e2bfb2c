/*
 * journey_subs.c -- subscription messages (step 6): GET/POST
 * /api/v1/subscriptions.  Templates come from the school row; the answer
 * of wx.requestSubscribeMessage is recorded per kind.  Allowed from step
 * subscribe on (a student can change their mind later).
 */
#include <stdlib.h>

#include "handlers.h"
#include "journey.h"

int
journey_subs_get(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t      st;
    MYSQL_RES *res;
    MYSQL_ROW  r;
    json_int_t cps = 0, cpr = 0;

    if (journey_enter(ctx, req, resp, &st, J_FROM(J_SUBSCRIBE)) != 0) {
        return 0;
    }
    res = db_query(ctx,
        "SELECT consents_photo_status, consents_payment_result"
        " FROM students WHERE id = %lu",
        st.student_id);
    if (res == NULL) {
        return resp_db_unavailable(resp);
    }
    if ((r = mysql_fetch_row(res)) != NULL) {
        cps = r[0] ? strtoll(r[0], NULL, 10) : 0;
        cpr = r[1] ? strtoll(r[1], NULL, 10) : 0;
    }
    mysql_free_result(res);
    /* consents: messages the student may still receive per template (one
     * per accept, WeChat's one-time subscriptions) */
    return resp_json(resp, 200,
        json_pack("{s:{s:s,s:s},s:{s:b,s:b},s:b,s:{s:I,s:I}}", "templates",
            "photo_status", st.tpl_photo_status, "payment_result",
            st.tpl_payment_result, "accepted", "photo_status",
            st.sub_photo_status, "payment_result", st.sub_payment_result,
            "answered", st.subs_set, "consents", "photo_status", cps,
            "payment_result", cpr));
}

/* A boolean field: 1/0, or -1 when present with another type. */
static int
flag(json_t *body, const char *key)
{
    json_t *v = json_object_get(body, key);

    if (v == NULL) {
        return 0; /* not accepted unless said so */
    }
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

int
journey_subs_set(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t   st;
    json_t *body;
    int     ps, pr;

    if (journey_enter(ctx, req, resp, &st, J_FROM(J_SUBSCRIBE)) != 0) {
        return 0;
    }
    body = journey_json_body(req, resp);
    if (body == NULL) {
        return 0;
    }
    ps = flag(body, "photo_status");
    pr = flag(body, "payment_result");
    json_decref(body);
    if (ps < 0 || pr < 0) {
        return resp_error(resp, 400, "BAD_REQUEST", "订阅选项必须是布尔值",
            "subscription flags must be booleans",
            json_pack(
                "{s:s}", "field", ps < 0 ? "photo_status" : "payment_result"));
    }
    /* each accept is one more consent (one message) for that template */
    if (db_exec(ctx,
            "UPDATE students SET subs_set = 1, sub_photo_status = %d,"
            " sub_payment_result = %d,"
            " consents_photo_status = LEAST(consents_photo_status + %d, 100),"
            " consents_payment_result = LEAST(consents_payment_result + %d, 100),"
            " updated_at = %ld WHERE id = %lu",
            ps, pr, ps, pr, (int64_t) time(NULL), st.student_id)
        < 0)
    {
        return resp_db_unavailable(resp);
    }
    return journey_reply_step(ctx, req, resp, NULL);
}
