/* dispatch.c -- TUCAI_OP_* to handlers; the pool's uniform failures. */
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "log.h"
#include "pool.h"

/* NULL for an operation this pool does not know. */
static tucai_handler_pt handler_at(uint16_t op)
{
    switch (op) {
    case TUCAI_OP_HEALTH:        return health_handle;
    case TUCAI_OP_SCHOOLS:       return schools_handle;
    case TUCAI_OP_LOGIN:         return journey_login;
    case TUCAI_OP_CODE:          return journey_code;
    case TUCAI_OP_PHONE:         return journey_phone;
    case TUCAI_OP_CONFIRM:       return journey_confirm;
    case TUCAI_OP_NOTICE:        return journey_notice;
    case TUCAI_OP_NOTICE_ACK:    return journey_notice_ack;
    case TUCAI_OP_SUBS_GET:      return journey_subs_get;
    case TUCAI_OP_SUBS_SET:      return journey_subs_set;
    case TUCAI_OP_VIDEO:         return journey_video;
    case TUCAI_OP_VIDEO_START:   return journey_video_start;
    case TUCAI_OP_VIDEO_FINISH:  return journey_video_finish;
    case TUCAI_OP_CAPTURE:       return journey_capture;
    case TUCAI_OP_DRAFTS:        return journey_drafts;
    case TUCAI_OP_DRAFT_PHOTO:   return journey_draft_photo;
    case TUCAI_OP_DRAFT_DELETE:  return journey_draft_delete;
    case TUCAI_OP_SUBMISSION:    return journey_submission;
    case TUCAI_OP_ORDER:         return pay_handle_order;
    case TUCAI_OP_PAY_NOTIFY:    return pay_handle_notify;
    case TUCAI_OP_ME:            return journey_me;
    case TUCAI_OP_PHOTO:         return pay_handle_photo;
    case TUCAI_OP_ADMIN_LOGIN:   return admin_login;
    case TUCAI_OP_ADMIN_ROSTER:  return admin_roster;
    case TUCAI_OP_ADMIN_CODES:   return admin_codes;
    case TUCAI_OP_ADMIN_REVOKE:  return admin_revoke;
    case TUCAI_OP_ADMIN_STUDENTS: return admin_students;
    case TUCAI_OP_ADMIN_UNLOCK:  return admin_unlock;
    case TUCAI_OP_ADMIN_SETTINGS_GET: return admin_settings_get;
    case TUCAI_OP_ADMIN_SETTINGS_SET: return admin_settings_set;
    case TUCAI_OP_ADMIN_PROGRESS: return admin_progress;
    case TUCAI_OP_ADMIN_EXPORT:  return admin_export;
    case TUCAI_OP_ADMIN_AUDIT:   return admin_audit;
    case TUCAI_OP_ADMIN_CODE_SHEET: return admin_code_sheet;
    case TUCAI_OP_ADMIN_STUDENT_PHOTO: return admin_student_photo;
    case TUCAI_OP_ADMIN_STUDENT: return admin_student;
    case TUCAI_OP_ADMIN_CAPTURE_PHOTO: return admin_capture_photo;
    default:
        return NULL;
    }
}

tucai_handler_pt tucai_handler_for(uint16_t op)
{
    return handler_at(op);
}

static void reset(tucai_resp_t *r)
{
    tbuf body = r->body;

    body.len = 0;
    memset(r, 0, sizeof(*r));
    r->body = body;
}

void dispatch(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    tucai_handler_pt h;
    int              rc;

    h = handler_at(req->hdr.code);
    if (h == NULL) {
        resp_error(resp, 404, "NOT_FOUND", "没有这个接口", "no such endpoint",
                   NULL);
        return;
    }
    /* Health reports the database itself; everyone else needs it up. */
    if (req->hdr.code != TUCAI_OP_HEALTH && db_ensure(ctx) != 0) {
        resp_db_unavailable(resp);
        return;
    }

    rc = h(ctx, req, resp);

    if (db_in_txn(ctx)) {
        /* a handler must not leave a transaction open: nothing half-written */
        tlog_error("handler for op %u left a transaction open; rolled back",
                   req->hdr.code);
        db_rollback(ctx);
        if (rc == 0 && resp->status < 400) {
            rc = -1;
        }
    }
    if (rc != 0) {
        int lost = db_lost(ctx);
        tlog_warn("handler for op %u failed%s: %s", req->hdr.code,
                  lost ? " (database lost)" : "", db_error(ctx));
        reset(resp);
        resp_db_unavailable(resp);
        return;
    }
    if (resp->status == 0) {
        reset(resp);
        resp_error(resp, 500, "INTERNAL", "内部错误", "handler gave no answer",
                   NULL);
    }
}
