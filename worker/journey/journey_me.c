/*
 * journey_me.c -- GET /api/v1/me: the one endpoint telling the client
 * where the student stands: {"student","step","cooldown_until","lock",
 * "lock_until","drafts","capacity","order","photo_ready","photo_url",
 * "last_capture"}.  "last_capture" ({"at","pass","verdict"} or null) is
 * the newest check result, so a reloaded page still shows why the last
 * photo failed.
 * "lock" is null, "liveness" (until a teacher unlocks) or "quality"
 * (self-ending at "lock_until").  Every step may call it; it also hands
 * nginx the current cooldown/lock for its cache.
 */
#include <stdlib.h>

#include "db.h"
#include "handlers.h"
#include "journey.h"
#include "pay.h"

/* The student's order as API.md's object (pay.c), JSON null when none. */
static json_t *
order_json(tucai_ctx_t *ctx, const jst_t *st)
{
    json_t *o = pay_order_json(ctx, st->student_id, 0);

    return o != NULL ? o : json_null();
}

/* The newest capture's verdict; JSON null when none (or unreadable), NULL
 * on a database error. */
static json_t *
last_capture(tucai_ctx_t *ctx, const jst_t *st)
{
    if (!st->has_student) {
        return json_null();
    }
    MYSQL_RES *res = db_query(ctx,
        "SELECT created_at, pass, verdict_json"
        " FROM captures WHERE student_id = %lu"
        " ORDER BY id DESC LIMIT 1",
        st->student_id);
    if (res == NULL) {
        return NULL;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    json_t   *v = row && row[2] ? json_loads(row[2], 0, NULL) : NULL;
    json_t   *o = v == NULL ? json_null()
                            : json_pack("{s:o,s:b,s:o}", "at",
                                journey_time(strtoll(row[0], NULL, 10)), "pass",
                                atoi(row[1]), "verdict", v);
    mysql_free_result(res);
    return o != NULL ? o : json_null();
}

int
journey_me(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t       st;
    json_t     *o, *student, *drafts, *order, *last;
    const char *lock = NULL;

    if (journey_begin(ctx, req, resp, &st) != 0) {
        return 0;
    }
    journey_step_sync(ctx, &st);
    if (st.has_student) {
        student = journey_student_json(&st);
        json_object_set_new(student, "bound", json_boolean(st.bound));
        /* whom to contact about a lock or a problem */
        json_object_set_new(student, "contact", json_string(st.contact));
    } else {
        student = json_null();
    }
    drafts = journey_drafts_json(ctx, req, &st);
    order = st.bound ? order_json(ctx, &st) : json_null();
    last = st.bound ? last_capture(ctx, &st) : json_null();
    if (drafts == NULL || order == NULL || last == NULL) {
        json_decref(student);
        json_decref(drafts);
        json_decref(order);
        json_decref(last);
        return resp_db_unavailable(resp);
    }
    if (st.lock_kind == TUCAI_LOCK_LIVENESS) {
        lock = "liveness";
    } else if (st.lock_kind == TUCAI_LOCK_QUALITY) {
        lock = "quality";
    }
    o = json_pack("{s:o,s:s,s:o,s:s?,s:o,s:o,s:I,s:o,s:b,s:s?}", "student",
        student, "step", journey_step_name(st.step), "cooldown_until",
        journey_time(st.cooldown_until), "lock", lock, "lock_until",
        journey_time(st.lock_until), "drafts", drafts, "capacity",
        (json_int_t) journey_policy(req, TUCAI_POL_DRAFTS_CAPACITY), "order",
        order, "photo_ready", st.photo_ready, "photo_url",
        st.photo_ready ? "/api/v1/photo" : NULL);
    json_object_set_new(o, "last_capture", last);
    journey_state(resp, req, &st);
    return resp_json(resp, 200, o);
}
