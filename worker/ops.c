/* ops.c -- the program's operation table: TUCAI_OP_* to the handlers of
 * every layer.  It sits above the layers (like main.c) so core/ depends on
 * none of them. */
#include "handlers.h"
#include "ops.h"

/* NULL for an operation this pool does not know. */
tucai_handler_pt tucai_ops_handler(uint16_t op)
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
