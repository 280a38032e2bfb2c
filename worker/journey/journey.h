/*
 * journey.h -- private to journey_*.c: the student's state as loaded from
 * the database, the step machine, the SQL helpers and small JSON helpers
 * every journey endpoint shares.
 */
#ifndef TUCAI_JOURNEY_H
#define TUCAI_JOURNEY_H

#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "handler.h"
#include "db.h"

/* The steps, the student's state (jst_t) and the pure step rules. */
#include "steps.h"

/*
 * Prologue of every authenticated student endpoint: checks the role and
 * subject, that the database is there, loads *st and computes the step.
 * Returns 0, or -1 with the error already in resp.
 */
int journey_begin(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp, jst_t *st);
/* journey_begin, then journey_guard(st, allowed): the prologue of a
 * step-bound endpoint.  0, or -1 with the error already in resp. */
int journey_enter(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    jst_t *st, unsigned allowed);
/* Reloads st (after a change) without the request checks. 0 or -1. */
int journey_load(tucai_ctx_t *ctx, uint64_t account_id, jst_t *st);
/* 409 STEP_NOT_ALLOWED {"step"} unless st->step is in the allowed mask. */
int journey_guard(const jst_t *st, unsigned allowed, tucai_resp_t *resp);
/* Stores the computed step in students.step (for the back office). */
void journey_step_sync(tucai_ctx_t *ctx, const jst_t *st);
/* Reports the student's cooldown/lock to nginx (resp_state). */
void journey_state(tucai_resp_t *resp, const tucai_req_t *req, const jst_t *st);

/* Answers {"step": name} (plus extra keys, stolen) with 200. */
int journey_reply_step(tucai_ctx_t *ctx, const tucai_req_t *req,
    tucai_resp_t *resp, json_t *extra);

/* A policy knob from the request, or its default when nginx sent 0. */
uint32_t journey_policy(const tucai_req_t *req, int idx);

/* ---- SQL helpers over db.h (journey_util.c) ---- */

/* One row of a db_query(): 1 found (*res must be freed), 0 none, -1 error. */
int journey_first_row(MYSQL_RES **res, MYSQL_ROW *row);
#define jdb_row(ctx, res, row, ...) \
    ((*(res) = db_query((ctx), __VA_ARGS__)), journey_first_row((res), (row)))
/* db_begin with a bounded row-lock wait (a stuck peer must not hang us). */
int      journey_txn(tucai_ctx_t *ctx);
uint64_t jsql_u64(const char *s); /* NULL -> 0 */
int64_t  jsql_i64(const char *s);
void     jsql_copy(char *dst, size_t n, const char *s); /* NULL -> "" */

/* ---- small helpers (journey_util.c) ---- */

/* The JSON object body of a request, or NULL with 400 BAD_JSON in resp. */
json_t *journey_json_body(const tucai_req_t *req, tucai_resp_t *resp);
/* "2026-01-02T03:04:05Z" as a JSON string, or null for t == 0. */
json_t *journey_time(int64_t t);
/* 401 UNAUTHORIZED. */
int journey_unauthorized(tucai_resp_t *resp);
/* 404 NOT_FOUND. */
int journey_not_found(tucai_resp_t *resp);
/* A signed student token for subject/school into out; 0 or -1. */
int journey_token(tucai_ctx_t *ctx, uint64_t subject, uint32_t school,
    char *out, size_t n, int *expires_in);
/* Random lowercase hex of 2*nbytes chars into out (n > 2*nbytes). 0/-1. */
int journey_random_hex(char *out, size_t n, size_t nbytes);
/* {"student":{name,student_no,school}} object for the code/phone pages. */
json_t *journey_student_json(const jst_t *st);
/* The drafts list of API.md for the student (new reference) or NULL. */
json_t *journey_drafts_json(
    tucai_ctx_t *ctx, const tucai_req_t *req, const jst_t *st);
/* The draft object (id, created_at, deletable_at, photo_url). */
json_t *journey_draft_json(
    const tucai_req_t *req, uint64_t id, int64_t created_at);

/* Writes data to dir/rel atomically (temp + fsync + rename), making the
 * directories.  0 or -1 (errno). */
int journey_write_file(
    const char *dir, const char *rel, const unsigned char *data, size_t len);
void journey_unlink(const char *dir, const char *rel);

#endif
