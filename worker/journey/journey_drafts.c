/*
 * journey_drafts.c -- the drafts box (step 13): GET /api/v1/drafts,
 * GET /drafts/{id}/photo (authorised here, served by nginx itself through
 * an internal redirect to [storage] uri: the bytes never pass the pool),
 * DELETE /drafts/{id}: 409 DRAFT_TOO_NEW {"deletable_at"} before the
 * policy delay, 409 DRAFT_SUBMITTED when it is the draft of a live
 * (UNPAID) or paid/free order (switch first), 204 otherwise.  Another
 * student's draft id is 404 NOT_FOUND, exactly like a missing one.
 * Allowed from step shoot on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "journey.h"

/* The {id} path parameter: 1..19 digits, else 0 (answered as 404). */
static uint64_t
param_id(const tucai_req_t *req)
{
    size_t i;

    if (req->param.len == 0 || req->param.len > 19) {
        return 0;
    }
    for (i = 0; i < req->param.len; i++) {
        if (req->param.p[i] < '0' || req->param.p[i] > '9') {
            return 0;
        }
    }
    return strtoull(req->param.p, NULL, 10);
}

int
journey_drafts(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t   st;
    json_t *list;

    if (journey_enter(ctx, req, resp, &st, J_FROM(J_SHOOT)) != 0) {
        return 0;
    }
    list = journey_drafts_json(ctx, req, &st);
    if (list == NULL) {
        return resp_db_unavailable(resp);
    }
    journey_state(resp, req, &st);
    return resp_json(resp, 200,
        json_pack("{s:I,s:o}", "capacity",
            (json_int_t) journey_policy(req, TUCAI_POL_DRAFTS_CAPACITY),
            "drafts", list));
}

/* Prologue of the per-draft endpoints: the student (step shoot or later)
 * and the draft id of the path.  0, or -1 with the answer written. */
static int
draft_begin(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    jst_t *st, uint64_t *id)
{
    if (journey_enter(ctx, req, resp, st, J_FROM(J_SHOOT)) != 0) {
        return -1;
    }
    *id = param_id(req);
    if (*id == 0) {
        return journey_not_found(resp), -1;
    }
    return 0;
}

int
journey_draft_photo(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t    st;
    uint64_t id;
    char     path[256], uri[512];
    int      rc;

    if (draft_begin(ctx, req, resp, &st, &id) != 0) {
        return 0;
    }
    rc = db_query_str(ctx, path, sizeof(path),
        "SELECT photo_path FROM drafts"
        " WHERE id = %lu AND student_id = %lu AND status = 'draft'",
        id, st.student_id);
    if (rc < 0) {
        return resp_db_unavailable(resp);
    }
    if (rc == 0 || path[0] == '\0' || strstr(path, "..") != NULL
        || (size_t) snprintf(
               uri, sizeof(uri), "%s/%s", ctx->cfg->storage_uri, path)
            >= sizeof(uri))
    {
        return journey_not_found(resp);
    }
    return resp_redirect(resp, uri, "image/jpeg");
}

int
journey_draft_delete(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t      st;
    uint64_t   id;
    MYSQL_RES *res;
    MYSQL_ROW  row;
    int64_t    created, deletable, now = (int64_t) time(NULL), n;
    int        rc;

    if (draft_begin(ctx, req, resp, &st, &id) != 0) {
        return 0;
    }
    if (journey_txn(ctx) != 0) {
        return resp_db_unavailable(resp);
    }
    rc = jdb_row(ctx, &res, &row,
        "SELECT created_at FROM drafts"
        " WHERE id = %lu AND student_id = %lu AND status = 'draft'"
        " FOR UPDATE",
        id, st.student_id);
    if (rc < 0) {
        goto db_fail;
    }
    if (rc == 0) {
        db_rollback(ctx);
        return journey_not_found(resp);
    }
    created = jsql_i64(row[0]);
    mysql_free_result(res);

    rc = db_query_int(ctx, &n,
        "SELECT COUNT(*) FROM orders WHERE draft_id = %lu"
        " AND student_id = %lu AND (live = 1 OR status IN"
        " ('PAID', 'FREE'))",
        id, st.student_id);
    if (rc < 0) {
        goto db_fail;
    }
    if (n > 0) {
        db_rollback(ctx);
        return resp_error(resp, 409, "DRAFT_SUBMITTED",
            "该草稿已提交，不能删除",
            "this draft is submitted and cannot be deleted", NULL);
    }
    deletable = created + journey_policy(req, TUCAI_POL_DRAFT_DELETE_DELAY_S);
    if (now < deletable) {
        db_rollback(ctx);
        return resp_error(resp, 409, "DRAFT_TOO_NEW",
            "草稿保存时间不足，暂不能删除",
            "a draft can be deleted only after the delay",
            json_pack("{s:o,s:I}", "deletable_at", journey_time(deletable),
                "retry_after", (json_int_t) (deletable - now)));
    }
    if (db_exec(ctx,
            "UPDATE drafts SET status = 'deleted', deleted_at = %ld"
            " WHERE id = %lu",
            now, id)
            != 1
        || db_commit(ctx) != 0)
    {
        goto db_fail;
    }
    if (journey_load(ctx, st.account_id, &st) == 0) {
        journey_step_sync(ctx, &st);
    }
    return resp_empty(resp, 204);

db_fail:
    db_rollback(ctx);
    return resp_db_unavailable(resp);
}
