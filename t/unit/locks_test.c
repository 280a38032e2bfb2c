/* locks_test.c -- worker/journey/locks.c: what a failed check does (counts,
 * cooldown, liveness and quality locks), when each ends, and which refusal
 * meets the next capture. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "locks.h"

#define NOW  1700000000

/* PRODUCT.md's defaults: 60 s cooldown, liveness lock after 3, quality
 * lock after 5, lasting 30 min. */
static const lock_policy_t defaults = { 60, 3, 5, 1800 };

static void
a_failure_cools_down(void **state)
{
    lock_outcome_t o;

    (void) state;
    lock_after_failure(&defaults, 0, 0, 0, NOW, &o);
    assert_int_equal(o.cooldown_until, NOW + 60);
    assert_int_equal(o.lock_kind, TUCAI_LOCK_NONE);
    assert_int_equal(o.lock_until, 0);
    assert_int_equal(o.quality_fails, 1);
    assert_int_equal(o.liveness_fails, 0);
    assert_int_equal(o.attempts_left, 3);     /* liveness: 3 - 0 < 5 - 1 */

    lock_after_failure(&defaults, 0, 0, 1, NOW, &o);
    assert_int_equal(o.liveness_fails, 1);
    assert_int_equal(o.quality_fails, 0);
    assert_int_equal(o.attempts_left, 2);     /* 3 - 1 */

    lock_after_failure(&defaults, 0, 3, 0, NOW, &o);
    assert_int_equal(o.attempts_left, 1);     /* quality: 5 - 4 */
}

static void
liveness_lock_waits_for_a_teacher(void **state)
{
    lock_outcome_t o;

    (void) state;
    lock_after_failure(&defaults, 2, 1, 1, NOW, &o);
    assert_int_equal(o.lock_kind, TUCAI_LOCK_LIVENESS);
    assert_int_equal(o.lock_until, 0);        /* no end of its own */
    assert_int_equal(o.liveness_fails, 3);
    assert_int_equal(o.quality_fails, 1);     /* the other count is kept */
    assert_int_equal(o.attempts_left, 0);
    assert_int_equal(o.cooldown_until, NOW + 60);
    /* other failures do not count towards it */
    lock_after_failure(&defaults, 2, 0, 0, NOW, &o);
    assert_int_equal(o.lock_kind, TUCAI_LOCK_NONE);
    assert_int_equal(o.liveness_fails, 2);
}

static void
quality_lock_ends_by_itself(void **state)
{
    lock_outcome_t o;

    (void) state;
    lock_after_failure(&defaults, 1, 4, 0, NOW, &o);
    assert_int_equal(o.lock_kind, TUCAI_LOCK_QUALITY);
    assert_int_equal(o.lock_until, NOW + 1800);
    assert_int_equal(o.quality_fails, 0);     /* the lock served the count */
    assert_int_equal(o.liveness_fails, 1);
    assert_int_equal(o.attempts_left, 0);
}

static void
liveness_wins_when_both_reach(void **state)
{
    lock_policy_t  p = { 2, 1, 1, 10 };
    lock_outcome_t o;

    (void) state;
    lock_after_failure(&p, 0, 5, 1, NOW, &o);
    assert_int_equal(o.lock_kind, TUCAI_LOCK_LIVENESS);
    assert_int_equal(o.quality_fails, 5);
    assert_int_equal(o.cooldown_until, NOW + 2);
}

static void
ended_states_read_as_none(void **state)
{
    int64_t cd, until;
    int     kind;

    (void) state;
    /* a cooldown ends at its second: "until" is the first allowed one */
    cd = NOW; kind = TUCAI_LOCK_NONE; until = 0;
    lock_current(NOW, &cd, &kind, &until);
    assert_int_equal(cd, 0);
    cd = NOW + 1;
    lock_current(NOW, &cd, &kind, &until);
    assert_int_equal(cd, NOW + 1);

    kind = TUCAI_LOCK_QUALITY; until = NOW;
    lock_current(NOW, &cd, &kind, &until);
    assert_int_equal(kind, TUCAI_LOCK_NONE);
    assert_int_equal(until, 0);
    kind = TUCAI_LOCK_QUALITY; until = NOW + 5;
    lock_current(NOW, &cd, &kind, &until);
    assert_int_equal(kind, TUCAI_LOCK_QUALITY);
    assert_int_equal(until, NOW + 5);

    /* a liveness lock never ends by time, whatever its stored until */
    kind = TUCAI_LOCK_LIVENESS; until = NOW - 100;
    lock_current(NOW + 100000, &cd, &kind, &until);
    assert_int_equal(kind, TUCAI_LOCK_LIVENESS);
    assert_int_equal(until, 0);
}

static void
the_gate_answers_in_order(void **state)
{
    (void) state;
    /* liveness lock first, then the quality lock, cooldown, full box */
    assert_int_equal(lock_capture_gate(NOW, NOW + 10, TUCAI_LOCK_LIVENESS, 0, 9, 3),
                     CAPTURE_LOCKED_LIVENESS);
    assert_int_equal(lock_capture_gate(NOW, NOW + 10, TUCAI_LOCK_QUALITY, NOW + 5, 9, 3),
                     CAPTURE_LOCKED_QUALITY);
    assert_int_equal(lock_capture_gate(NOW, NOW + 10, TUCAI_LOCK_NONE, 0, 9, 3),
                     CAPTURE_COOLING_DOWN);
    assert_int_equal(lock_capture_gate(NOW, 0, TUCAI_LOCK_NONE, 0, 3, 3),
                     CAPTURE_DRAFTS_FULL);
    assert_int_equal(lock_capture_gate(NOW, 0, TUCAI_LOCK_NONE, 0, 2, 3),
                     CAPTURE_GO);
    /* an ended quality lock or cooldown no longer refuses */
    assert_int_equal(lock_capture_gate(NOW, NOW, TUCAI_LOCK_QUALITY, NOW, 0, 3),
                     CAPTURE_GO);
    assert_int_equal(lock_capture_gate(NOW, NOW - 1, TUCAI_LOCK_QUALITY, NOW + 1, 0, 3),
                     CAPTURE_LOCKED_QUALITY);
    /* an unknown kind is no lock */
    assert_int_equal(lock_capture_gate(NOW, 0, 7, NOW + 100, 0, 3), CAPTURE_GO);
}

static void
a_whole_story(void **state)
{
    /* t/23's knobs: cooldown 2 s, both locks after 2, quality lock 2 s */
    lock_policy_t  p = { 2, 2, 2, 2 };
    lock_outcome_t o;
    int64_t        t = NOW;

    (void) state;
    lock_after_failure(&p, 0, 0, 0, t, &o);
    assert_int_equal(o.attempts_left, 1);
    assert_int_equal(lock_capture_gate(t + 1, o.cooldown_until, o.lock_kind,
                                       o.lock_until, 0, 2), CAPTURE_COOLING_DOWN);
    t = o.cooldown_until;
    assert_int_equal(lock_capture_gate(t, o.cooldown_until, o.lock_kind,
                                       o.lock_until, 0, 2), CAPTURE_GO);
    lock_after_failure(&p, o.liveness_fails, o.quality_fails, 0, t, &o);
    assert_int_equal(o.lock_kind, TUCAI_LOCK_QUALITY);
    assert_int_equal(lock_capture_gate(t + 1, o.cooldown_until, o.lock_kind,
                                       o.lock_until, 0, 2), CAPTURE_LOCKED_QUALITY);
    assert_int_equal(lock_capture_gate(t + 2, o.cooldown_until, o.lock_kind,
                                       o.lock_until, 0, 2), CAPTURE_GO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_failure_cools_down),
        cmocka_unit_test(liveness_lock_waits_for_a_teacher),
        cmocka_unit_test(quality_lock_ends_by_itself),
        cmocka_unit_test(liveness_wins_when_both_reach),
        cmocka_unit_test(ended_states_read_as_none),
        cmocka_unit_test(the_gate_answers_in_order),
        cmocka_unit_test(a_whole_story),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
