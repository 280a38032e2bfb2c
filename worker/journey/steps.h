/*
 * steps.h -- the student journey's step machine (PRODUCT.md "The student
 * journey", steps 1-16), pure: the steps, the state the rules read (jst_t,
 * loaded by journey_step.c), which step the rows put the student at and
 * which steps an endpoint accepts.  No database, no network, no clock:
 * t/unit/steps_test.c tests it alone.
 */
#ifndef TUCAI_STEPS_H
#define TUCAI_STEPS_H

#include <stdint.h>

enum {
    J_CODE = 0,
    J_PHONE,
    J_CONFIRM,
    J_NOTICE,
    J_SUBSCRIBE,
    J_VIDEO,
    J_SHOOT,
    J_SUBMIT,
    J_PAY,
    J_PRODUCING,
    J_DONE,
    J_NSTEPS
};

#define J_BIT(s) (1u << (s))
/* Steps at or after s (re-reading earlier pages stays allowed). */
#define J_FROM(s) ((~0u << (s)) & ((1u << J_NSTEPS) - 1))

/* Everything the rules need about one account and its student. */
typedef struct {
    uint64_t account_id;
    uint64_t pending_student_id; /* 0 = none */
    uint64_t pending_code_id;    /* the code scanned, 0 = none */
    char     pending_phone[24];  /* "" = none */

    int      has_student; /* bound or pending */
    int      bound;       /* students.account_id = account */
    uint64_t student_id;
    uint32_t school_id;
    char     student_no[40];
    char     name[80];
    char     phone[24];
    uint32_t notice_ack_version;
    int      subs_set, sub_photo_status, sub_payment_result;
    int64_t  video_started_at;  /* 0 = never */
    int64_t  video_finished_at; /* 0 = not yet */
    int64_t  cooldown_until;
    int      lock_kind; /* TUCAI_LOCK_* */
    int64_t  lock_until;
    uint32_t liveness_fails, quality_fails, attempts;

    /* the student's school */
    char     school_name[136];
    char     contact[260];
    uint32_t fee_fen;
    uint32_t notice_version;
    char     video_url[520];
    uint32_t video_duration_s;
    char     tpl_photo_status[136];
    char     tpl_payment_result[136];

    /* derived */
    int  ndrafts;   /* live drafts */
    int  has_order; /* a live order (UNPAID/PAID/FREE) */
    char order_status[8];
    int  photo_ready; /* photos row exists */
    int  step;        /* J_* */
} jst_t;

/* The step's API name ("code" .. "done"); "code" for an unknown one. */
const char *journey_step_name(int step);
/* The step the loaded rows put the student at (steps.c explains the order). */
int journey_step_of(const jst_t *st);
/* 1 when an endpoint that accepts the steps in mask may run at step. */
int journey_step_allowed(unsigned mask, int step);

/* Steps at which a capture may be taken: retakes are allowed until payment
 * (PRODUCT.md step 14). */
#define J_CAPTURE_STEPS (J_BIT(J_SHOOT) | J_BIT(J_SUBMIT) | J_BIT(J_PAY))

#endif
