/* pool_test.c -- the master's pure decisions (worker/core/pool_rules.c):
 * the respawn backoff after crashes and which child gets the next
 * connection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pool_int.h"
#include "pool_shm.h"

static void
backoff_doubles_on_quick_crashes(void **state)
{
    int b = 0, i;

    (void) state;
    b = pool_backoff_next(b, 1, 10);
    assert_int_equal(b, 100);
    b = pool_backoff_next(b, 1, 10);
    assert_int_equal(b, 200);
    for (i = 0; i < 20; i++) {
        b = pool_backoff_next(b, 1, 10);
    }
    assert_int_equal(b, MAX_BACKOFF_MS);
}

static void
backoff_resets(void **state)
{
    (void) state;
    /* a clean exit (max_requests, TERM) or a child that lived long */
    assert_int_equal(pool_backoff_next(1600, 0, 10), 0);
    assert_int_equal(pool_backoff_next(1600, 1, QUICK_DEATH_MS), 0);
    assert_int_equal(pool_backoff_next(1600, 1, QUICK_DEATH_MS - 1), 3200);
}

static int32_t st[8];

static void
idle_kids(kid_t *k, int n)
{
    int i;

    memset(k, 0, sizeof(*k) * (size_t) n);
    for (i = 0; i < n; i++) {
        k[i].pid = 100 + i;
        k[i].sp = 10 + i;
        k[i].slot = i;
        st[i] = KID_IDLE;
    }
}

static void
pick_round_robin(void **state)
{
    kid_t k[4];

    (void) state;
    idle_kids(k, 4);
    assert_int_equal(pool_pick_idle(k, 4, 0, st), 0);
    assert_int_equal(pool_pick_idle(k, 4, 1, st), 1);
    assert_int_equal(pool_pick_idle(k, 4, 3, st), 3);
    assert_int_equal(pool_pick_idle(k, 4, 4, st), 0);   /* wraps */
}

static void
pick_skips_the_unfit(void **state)
{
    kid_t k[6];

    (void) state;
    idle_kids(k, 6);
    st[0] = KID_BUSY;       /* serving */
    k[1].pid = 0;           /* empty entry */
    k[2].last = 1;          /* leaving */
    k[3].slot = -1;         /* old generation, retiring */
    k[4].jobs = 1;          /* the jobs process */
    assert_int_equal(pool_pick_idle(k, 6, 0, st), 5);
    st[5] = KID_RESERVED;   /* a connection is on its way to it */
    assert_int_equal(pool_pick_idle(k, 6, 0, st), -1);
    st[5] = KID_IDLE;
    k[5].sp = -1;           /* stopped talking */
    assert_int_equal(pool_pick_idle(k, 6, 0, st), -1);
    assert_int_equal(pool_pick_idle(k, 0, 0, st), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_doubles_on_quick_crashes),
        cmocka_unit_test(backoff_resets),
        cmocka_unit_test(pick_round_robin),
        cmocka_unit_test(pick_skips_the_unfit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
