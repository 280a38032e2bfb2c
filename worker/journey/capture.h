/*
 * capture.h -- private to journey_capture.c and capture_*.c: the parts of
 * POST /api/v1/captures (PRODUCT.md steps 8-13), one file per rule:
 *
 *   journey_capture.c    the endpoint: the order in which the rules apply
 *   capture_upload.c     steps 8-9: the upload (photo, liveness frames,
 *                        meta), its size and format
 *   capture_in_flight.c  "uploads per student in flight": the slot leases
 *   capture_refusals.c   steps 10-13 before a capture: locked, cooling down,
 *                        drafts box full (the decision is locks.c, pure)
 *   capture_check.c      step 10: the automatic check (photo_process) with
 *                        the school's spec
 *   capture_failed.c     steps 10-12 after a failed check: counters,
 *                        cooldown, locks (locks.c) in one transaction
 *   capture_passed.c     steps 10 and 13 after a pass: the draft
 *   capture_record.c     the captures row and the photo-status message
 *                        (step 6) both outcomes write
 */
#ifndef TUCAI_CAPTURE_H
#define TUCAI_CAPTURE_H

#include "journey.h"
#include "photo.h"

#define CAP_MAX_FRAMES 8
#define CAP_META_MAX   1024

typedef struct {
    photo_input_t        in;
    const unsigned char *frames[CAP_MAX_FRAMES];
    size_t               frame_lens[CAP_MAX_FRAMES];
    const char          *ext; /* the original's file extension */
} capture_input_t;

/* capture_upload.c: parses the multipart upload into ci (pointing into the
 * request), or answers the error: 0 / -1. */
int capture_parse_upload(
    const tucai_req_t *req, tucai_resp_t *resp, capture_input_t *ci);

/* capture_in_flight.c: takes the first free of the student's upload slots.
 * *got is 1 with lockname set, 0 when every slot is busy; -1 on DB error. */
int  capture_slot_take(tucai_ctx_t *ctx, const tucai_req_t *req, uint64_t sid,
     char *lockname, size_t n, int *got);
void capture_slot_release(tucai_ctx_t *ctx, const char *lockname);

/* capture_refusals.c: the lock/cooldown/box answers before a capture
 * (also reports the state to nginx), or 0 when capturing may go on. */
int capture_refused(
    const tucai_req_t *req, const jst_t *st, tucai_resp_t *resp);

/* capture_check.c: the school's spec and the thresholds for this request,
 * or answers 503 PHOTO_UNAVAILABLE: 0 / -1. */
int capture_check_prepare(tucai_ctx_t *ctx, const tucai_req_t *req,
    tucai_resp_t *resp, const jst_t *st, photo_spec_t *spec,
    photo_thresholds_t *th);
/* Runs the check.  0: *res holds a verdict (the caller frees it); -1: the
 * answer is in resp (processing failed, or bytes that do not decode, which
 * are no attempt) and nothing is left to free. */
int capture_check_run(const capture_input_t *ci, const photo_spec_t *spec,
    const photo_thresholds_t *th, photo_result_t *res, tucai_resp_t *resp);

/* capture_failed.c / capture_passed.c: store the outcome and answer.
 * 0 answered; -1 database or -2 storage, nothing committed, for the caller
 * to answer. */
int capture_store_fail(tucai_ctx_t *ctx, const tucai_req_t *req,
    tucai_resp_t *resp, jst_t *st, photo_result_t *res, const char *orig,
    const char *verdict_text, const photo_meta_t *meta);
int capture_store_pass(tucai_ctx_t *ctx, const tucai_req_t *req,
    tucai_resp_t *resp, jst_t *st, photo_result_t *res, const char *orig,
    const char *verdict_text, const photo_meta_t *meta);

/* capture_record.c: inside the caller's transaction. */
int  capture_insert(tucai_ctx_t *ctx, const jst_t *st, int64_t now, int pass,
     const char *reasons, const char *verdict_text, const char *orig,
     const photo_meta_t *meta, uint64_t *capture_id);
void capture_reason_codes(json_t *verdict, char *out, size_t n);
void capture_notify(
    tucai_ctx_t *ctx, uint64_t sid, uint64_t capture_id, int pass);

#endif
