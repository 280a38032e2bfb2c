/* steps_test.c -- worker/journey/steps.c: the step machine.  The step is
 * computed from the rows, so each test sets the facts a student has and
 * checks where they put him and which endpoints accept him there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "steps.h"

/* A bound student who did everything before shooting: notice acknowledged,
 * subscriptions answered, video watched. */
static jst_t
ready_to_shoot(void)
{
    jst_t st;

    memset(&st, 0, sizeof(st));
    st.has_student = 1;
    st.bound = 1;
    st.notice_version = 2;
    st.notice_ack_version = 2;
    st.subs_set = 1;
    st.video_started_at = 1000;
    st.video_finished_at = 1100;
    return st;
}

static void
before_binding(void **state)
{
    jst_t st;

    (void) state;
    memset(&st, 0, sizeof(st));
    assert_int_equal(journey_step_of(&st), J_CODE);       /* nothing scanned */
    st.has_student = 1;                                    /* code scanned */
    assert_int_equal(journey_step_of(&st), J_PHONE);
    strcpy(st.pending_phone, "13800000000");               /* phone given */
    assert_int_equal(journey_step_of(&st), J_CONFIRM);
    st.bound = 1;                                          /* confirmed */
    st.notice_version = 1;
    assert_int_equal(journey_step_of(&st), J_NOTICE);      /* notice v1 unread */
}

static void
notice_subscribe_video_in_order(void **state)
{
    jst_t st = ready_to_shoot();

    (void) state;
    assert_int_equal(journey_step_of(&st), J_SHOOT);
    /* the video must be watched to the end, not only started */
    st.video_finished_at = 0;
    assert_int_equal(journey_step_of(&st), J_VIDEO);
    /* subscriptions come before the video */
    st.subs_set = 0;
    assert_int_equal(journey_step_of(&st), J_SUBSCRIBE);
    /* a new notice version pulls the student back to it, before anything */
    st.notice_version = 3;
    assert_int_equal(journey_step_of(&st), J_NOTICE);
}

static void
drafts_order_and_photo(void **state)
{
    jst_t st = ready_to_shoot();

    (void) state;
    st.ndrafts = 1;
    assert_int_equal(journey_step_of(&st), J_SUBMIT);
    st.has_order = 1;
    strcpy(st.order_status, "UNPAID");
    assert_int_equal(journey_step_of(&st), J_PAY);
    strcpy(st.order_status, "PAID");
    assert_int_equal(journey_step_of(&st), J_PRODUCING);
    strcpy(st.order_status, "FREE");                       /* free school */
    assert_int_equal(journey_step_of(&st), J_PRODUCING);
    st.photo_ready = 1;
    assert_int_equal(journey_step_of(&st), J_DONE);
}

static void
an_order_is_not_pulled_back(void **state)
{
    jst_t st = ready_to_shoot();

    (void) state;
    /* once an order exists, a new notice, unanswered subscriptions or an
     * unwatched video no longer move the student back */
    st.ndrafts = 1;
    st.has_order = 1;
    strcpy(st.order_status, "UNPAID");
    st.notice_version = 9;
    st.subs_set = 0;
    st.video_finished_at = 0;
    assert_int_equal(journey_step_of(&st), J_PAY);
    strcpy(st.order_status, "PAID");
    assert_int_equal(journey_step_of(&st), J_PRODUCING);
    /* nor does deleting every draft after payment */
    st.ndrafts = 0;
    assert_int_equal(journey_step_of(&st), J_PRODUCING);
}

static void
names(void **state)
{
    (void) state;
    assert_string_equal(journey_step_name(J_CODE), "code");
    assert_string_equal(journey_step_name(J_SHOOT), "shoot");
    assert_string_equal(journey_step_name(J_DONE), "done");
    assert_string_equal(journey_step_name(-1), "code");
    assert_string_equal(journey_step_name(J_NSTEPS), "code");
}

static void
which_step_may_do_what(void **state)
{
    int s;

    (void) state;
    /* captures: shoot, submit, pay (retakes until paid), nothing else */
    for (s = 0; s < J_NSTEPS; s++) {
        assert_int_equal(journey_step_allowed(J_CAPTURE_STEPS, s),
                         s == J_SHOOT || s == J_SUBMIT || s == J_PAY);
    }
    /* J_FROM: the page of a step stays readable at every later step */
    for (s = 0; s < J_NSTEPS; s++) {
        assert_int_equal(journey_step_allowed(J_FROM(J_VIDEO), s), s >= J_VIDEO);
    }
    assert_int_equal(J_FROM(J_CODE), (1u << J_NSTEPS) - 1);
    /* out of range steps are never allowed */
    assert_false(journey_step_allowed(~0u, -1));
    assert_false(journey_step_allowed(~0u, J_NSTEPS));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(before_binding),
        cmocka_unit_test(notice_subscribe_video_in_order),
        cmocka_unit_test(drafts_order_and_photo),
        cmocka_unit_test(an_order_is_not_pulled_back),
        cmocka_unit_test(names),
        cmocka_unit_test(which_step_may_do_what),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
