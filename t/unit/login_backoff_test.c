/* login_backoff_test.c -- worker/admin/login_backoff.c: the per-username
 * backoff of teacher logins. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "login_backoff.h"

#define NOW  1700000000

static void
the_first_failures_are_free(void **state)
{
    uint64_t n;

    (void) state;
    for (n = 0; n < ADM_LOGIN_FREE; n++) {
        assert_int_equal(adm_login_backoff(n, NOW, NOW), 0);
    }
}

static void
then_the_wait_doubles(void **state)
{
    (void) state;
    /* counted from the last failure */
    assert_int_equal(adm_login_backoff(5, NOW, NOW), 1);
    assert_int_equal(adm_login_backoff(6, NOW, NOW), 2);
    assert_int_equal(adm_login_backoff(7, NOW, NOW), 4);
    assert_int_equal(adm_login_backoff(9, NOW - 10, NOW), 6);     /* 16 - 10 */
    assert_int_equal(adm_login_backoff(9, NOW - 16, NOW), 0);     /* served */
    assert_int_equal(adm_login_backoff(14, NOW, NOW), 512);
}

static void
capped_and_no_overflow(void **state)
{
    (void) state;
    assert_int_equal(adm_login_backoff(15, NOW, NOW), ADM_LOGIN_MAX_WAIT);
    assert_int_equal(adm_login_backoff(70, NOW, NOW), ADM_LOGIN_MAX_WAIT);
    assert_int_equal(adm_login_backoff(UINT64_MAX, NOW, NOW), ADM_LOGIN_MAX_WAIT);
}

static void
a_day_later_forgotten(void **state)
{
    (void) state;
    assert_int_equal(adm_login_backoff(1000, NOW - ADM_LOGIN_FORGET, NOW), 0);
    assert_int_equal(adm_login_backoff(1000, NOW - ADM_LOGIN_FORGET + 1, NOW), 0);
    /* a failure stamped in the future (clock stepped back) still waits */
    assert_int_equal(adm_login_backoff(5, NOW + 3, NOW), 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_first_failures_are_free),
        cmocka_unit_test(then_the_wait_doubles),
        cmocka_unit_test(capped_and_no_overflow),
        cmocka_unit_test(a_day_later_forgotten),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
