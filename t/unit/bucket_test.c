/* bucket_test.c -- ngx_module/ngx_http_tucai_bucket.h: the edge's rate
 * buckets (collection codes per account, failures per address and per
 * student, logins), without nginx.  Rates are in milli-requests per
 * second, as the module stores them: 5 r/m = 83. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_http_tucai_bucket.h"

#define TAKE    NGX_HTTP_TUCAI_RATE_TAKE
#define PEEK    NGX_HTTP_TUCAI_RATE_PEEK
#define CHARGE  NGX_HTTP_TUCAI_RATE_CHARGE
#define REFUSED NGX_HTTP_TUCAI_BUCKET_REFUSED
#define PASSED  NGX_HTTP_TUCAI_BUCKET_PASSED
#define COUNTED NGX_HTTP_TUCAI_BUCKET_COUNTED

static void
burst_plus_one_pass_at_once(void **state)
{
    uint64_t excess = 0;
    int64_t  retry = -7;
    int      i;

    (void) state;
    /* 1 r/s, burst 3: four requests in the same millisecond pass */
    for (i = 0; i < 4; i++) {
        assert_int_equal(ngx_http_tucai_bucket(&excess, 0, 1000, 3, TAKE, &retry),
                         COUNTED);
    }
    assert_int_equal(excess, 4000);
    assert_int_equal(retry, -7);              /* untouched while passing */
    /* the fifth is refused, counts nothing, and may retry in 1 s */
    assert_int_equal(ngx_http_tucai_bucket(&excess, 0, 1000, 3, TAKE, &retry),
                     REFUSED);
    assert_int_equal(excess, 4000);
    assert_int_equal(retry, 1);
    /* one second later one more passes */
    assert_int_equal(ngx_http_tucai_bucket(&excess, 1000, 1000, 3, TAKE, &retry),
                     COUNTED);
    assert_int_equal(excess, 4000);
}

static void
drains_at_the_rate(void **state)
{
    uint64_t excess = 10000;
    int64_t  retry = 0;

    (void) state;
    /* 2 r/s: 2.5 s drain 5 requests, the new one adds 1 */
    assert_int_equal(ngx_http_tucai_bucket(&excess, 2500, 2000, 20, TAKE, &retry),
                     COUNTED);
    assert_int_equal(excess, 6000);
    /* never below empty; as with limit_req the drain is taken before the
     * floor, so the first request after a long idle leaves it empty */
    assert_int_equal(ngx_http_tucai_bucket(&excess, 3600000, 2000, 20, TAKE, &retry),
                     COUNTED);
    assert_int_equal(excess, 0);
    /* a clock that went back drains nothing */
    assert_int_equal(ngx_http_tucai_bucket(&excess, -5000, 2000, 20, TAKE, &retry),
                     COUNTED);
    assert_int_equal(excess, 1000);
}

static void
retry_after_rounds_up(void **state)
{
    uint64_t excess;
    int64_t  retry = 0;

    (void) state;
    /* 5 r/m (83 milli-r/s), burst 10: full at 11 requests; the 12th must
     * wait for one request to drain: 1000 / 83 -> 13 s (rounded up) */
    excess = 11000;
    assert_int_equal(ngx_http_tucai_bucket(&excess, 0, 83, 10, TAKE, &retry),
                     REFUSED);
    assert_int_equal(retry, 13);
    /* fast rates still answer at least 1 s */
    excess = 3000;
    assert_int_equal(ngx_http_tucai_bucket(&excess, 0, 100000, 1, TAKE, &retry),
                     REFUSED);
    assert_int_equal(retry, 1);
}

static void
peek_counts_nothing(void **state)
{
    uint64_t excess = 0;
    int64_t  retry = 0;
    int      i;

    (void) state;
    /* failure-only buckets: any number of peeks at an empty one pass */
    for (i = 0; i < 100; i++) {
        assert_int_equal(ngx_http_tucai_bucket(&excess, 0, 1000, 2, PEEK, &retry),
                         PASSED);
    }
    assert_int_equal(excess, 0);
    /* a full one refuses the peek */
    excess = 3000;
    assert_int_equal(ngx_http_tucai_bucket(&excess, 0, 1000, 2, PEEK, &retry),
                     REFUSED);
    assert_int_equal(excess, 3000);
    assert_int_equal(retry, 1);
}

static void
charge_never_refuses_and_is_capped(void **state)
{
    uint64_t excess = 0;
    int64_t  retry = 0;
    int      i;

    (void) state;
    /* failures are counted after the answer, even past full, but only up
     * to burst + 2 so a long flood cannot shut the bucket for days */
    for (i = 0; i < 1000; i++) {
        assert_int_equal(ngx_http_tucai_bucket(&excess, 0, 1000, 4, CHARGE, &retry),
                         COUNTED);
    }
    assert_int_equal(excess, 6000);
    assert_int_equal(ngx_http_tucai_bucket(&excess, 0, 1000, 4, PEEK, &retry),
                     REFUSED);
    assert_int_equal(retry, 2);               /* 7000 - 5000 over 1 r/s */
    /* two seconds later the next request passes again */
    assert_int_equal(ngx_http_tucai_bucket(&excess, 2000, 1000, 4, PEEK, &retry),
                     PASSED);
}

static void
long_idle_is_bounded(void **state)
{
    uint64_t excess = UINT64_C(1) << 40;
    int64_t  retry = 0;

    (void) state;
    /* idle time beyond a day drains a day's worth, no overflow */
    assert_int_equal(ngx_http_tucai_bucket(&excess, INT64_MAX, 1000, 5, CHARGE, &retry),
                     COUNTED);
    assert_int_equal(excess, 7000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_plus_one_pass_at_once),
        cmocka_unit_test(drains_at_the_rate),
        cmocka_unit_test(retry_after_rounds_up),
        cmocka_unit_test(peek_counts_nothing),
        cmocka_unit_test(charge_never_refuses_and_is_capped),
        cmocka_unit_test(long_idle_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
