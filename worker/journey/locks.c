/*
 * locks.c -- the rules of a failed check (locks.h): cooldown, liveness and
 * quality locks.  Pure; the database side is capture_failed.c.
 */
#include "locks.h"

void
lock_after_failure(const lock_policy_t *p, uint32_t lf, uint32_t qf,
    int liveness_failed, int64_t now, lock_outcome_t *out)
{
    uint32_t ll, lq;

    /* Consecutive per kind; only a pass resets them. */
    if (liveness_failed) {
        lf++;
    } else {
        qf++;
    }
    out->cooldown_until = now + p->cooldown_s;
    out->lock_kind = TUCAI_LOCK_NONE;
    out->lock_until = 0;
    if (lf >= p->liveness_lock_after) {
        out->lock_kind = TUCAI_LOCK_LIVENESS; /* until a teacher unlocks */
    } else if (qf >= p->quality_lock_after) {
        out->lock_kind = TUCAI_LOCK_QUALITY;
        out->lock_until = now + p->quality_lock_s;
        qf = 0; /* the lock served the count: start afresh after it */
    }
    out->liveness_fails = lf;
    out->quality_fails = qf;

    /* the nearer of the two locks; 0 once one is set */
    ll = lf < p->liveness_lock_after ? p->liveness_lock_after - lf : 0;
    lq = qf < p->quality_lock_after ? p->quality_lock_after - qf : 0;
    out->attempts_left = out->lock_kind != TUCAI_LOCK_NONE ? 0
        : ll < lq                                          ? ll
                                                           : lq;
}

void
lock_current(
    int64_t now, int64_t *cooldown_until, int *lock_kind, int64_t *lock_until)
{
    if (*cooldown_until <= now) {
        *cooldown_until = 0;
    }
    if (*lock_kind == TUCAI_LOCK_QUALITY && *lock_until <= now) {
        *lock_kind = TUCAI_LOCK_NONE;
        *lock_until = 0;
    }
    if (*lock_kind == TUCAI_LOCK_LIVENESS) {
        *lock_until = 0;
    }
}

int
lock_capture_gate(int64_t now, int64_t cooldown_until, int lock_kind,
    int64_t lock_until, uint32_t ndrafts, uint32_t capacity)
{
    lock_current(now, &cooldown_until, &lock_kind, &lock_until);
    if (lock_kind == TUCAI_LOCK_LIVENESS) {
        return CAPTURE_LOCKED_LIVENESS;
    }
    if (lock_kind == TUCAI_LOCK_QUALITY) {
        return CAPTURE_LOCKED_QUALITY;
    }
    if (cooldown_until > now) {
        return CAPTURE_COOLING_DOWN;
    }
    if (ndrafts >= capacity) {
        return CAPTURE_DRAFTS_FULL;
    }
    return CAPTURE_GO;
}
