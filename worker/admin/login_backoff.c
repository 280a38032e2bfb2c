/* login_backoff.c -- the teacher login backoff rule (login_backoff.h). */
#include "login_backoff.h"

int64_t
adm_login_backoff(uint64_t failures, int64_t last_failure_at, int64_t now)
{
    uint64_t wait;

    if (last_failure_at <= now - ADM_LOGIN_FORGET || failures < ADM_LOGIN_FREE)
    {
        return 0;
    }
    /* 2^(failures - FREE) s; the shift is bounded before it can overflow */
    wait = failures - ADM_LOGIN_FREE >= 10
        ? ADM_LOGIN_MAX_WAIT
        : (uint64_t) 1 << (failures - ADM_LOGIN_FREE);
    if (wait > ADM_LOGIN_MAX_WAIT) {
        wait = ADM_LOGIN_MAX_WAIT;
    }
    return last_failure_at + (int64_t) wait > now
        ? last_failure_at + (int64_t) wait - now
        : 0;
}
