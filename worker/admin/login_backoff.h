/*
 * login_backoff.h -- the per-username backoff of teacher logins, pure: a
 * few wrong passwords are free, then each further one must wait twice as
 * long after the previous failure (capped); failures a day old are
 * forgotten.  The counts live in login_throttle (admin_login.c);
 * t/unit/login_backoff_test.c tests the rule alone.
 */
#ifndef TUCAI_LOGIN_BACKOFF_H
#define TUCAI_LOGIN_BACKOFF_H

#include <stdint.h>

#define ADM_LOGIN_FREE     5     /* wrong passwords without a wait */
#define ADM_LOGIN_MAX_WAIT 900   /* s */
#define ADM_LOGIN_FORGET   86400 /* s after the last failure */

/* Seconds a login of a username with `failures` counted, the last at
 * last_failure_at, must still wait at now; 0 = may try. */
int64_t adm_login_backoff(
    uint64_t failures, int64_t last_failure_at, int64_t now);

#endif
