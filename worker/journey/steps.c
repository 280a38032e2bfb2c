/*
 * steps.c -- the step machine (pure; steps.h).  The step is never stored as the
 * truth: it is computed from the rows (account, student, school, drafts,
 * order, photo) on every request, so no endpoint can skip one, and
 * students.step is only a copy for the back office's lists.
 *
 *   code       no student scanned yet
 *   phone      code scanned (accounts.pending_student_id), no phone yet
 *   confirm    phone given, account not bound yet
 *   notice     bound, the school's current notice version not acknowledged
 *   subscribe  subscriptions never answered
 *   video      guide video not watched to the end
 *   shoot      no draft in the box
 *   submit     drafts, no live order
 *   pay        a live UNPAID order
 *   producing  order PAID or FREE, final photo not there yet
 *   done       final photo ready
 *
 * Once an order exists the earlier pages (notice, subscribe, video) stay
 * readable but do not pull the student back.
 *
 * Which endpoint is allowed at which step (journey_guard masks; anything
 * else is 409 STEP_NOT_ALLOWED {"step": current}):
 *   login, GET /me                  any step
 *   POST /code                      code, phone, confirm (rescanning replaces)
 *   POST /phone                     phone, confirm
 *   POST /confirm                   confirm
 *   GET /notice, POST /notice/ack   notice and later
 *   GET/POST /subscriptions         subscribe and later
 *   GET /video, POST /video/start|finish  video and later
 *   POST /captures                  shoot, submit, pay (retakes until paid)
 *   GET /drafts, /drafts/{id}/photo, DELETE /drafts/{id}
 *                                   shoot and later
 *   POST /submission                submit, pay; producing/done: 409 ALREADY_PAID
 */
#include <string.h>

#include "steps.h"

static const char *step_names[J_NSTEPS] = { "code", "phone", "confirm",
    "notice", "subscribe", "video", "shoot", "submit", "pay", "producing",
    "done" };

const char *
journey_step_name(int step)
{
    return step >= 0 && step < J_NSTEPS ? step_names[step] : "code";
}

int
journey_step_of(const jst_t *st)
{
    if (!st->has_student) {
        return J_CODE;
    }
    if (!st->bound) {
        return st->pending_phone[0] == '\0' ? J_PHONE : J_CONFIRM;
    }
    if (st->has_order) {
        if (strcmp(st->order_status, "UNPAID") == 0) {
            return J_PAY;
        }
        return st->photo_ready ? J_DONE : J_PRODUCING;
    }
    if (st->photo_ready) {
        return J_DONE;
    }
    if (st->notice_ack_version != st->notice_version) {
        return J_NOTICE;
    }
    if (!st->subs_set) {
        return J_SUBSCRIBE;
    }
    if (st->video_finished_at == 0) {
        return J_VIDEO;
    }
    return st->ndrafts == 0 ? J_SHOOT : J_SUBMIT;
}

int
journey_step_allowed(unsigned mask, int step)
{
    return step >= 0 && step < J_NSTEPS && (mask & J_BIT(step)) != 0;
}
