/*
 * locks.h -- the rules of a failed check (PRODUCT.md steps 10-13), pure:
 * the cooldown after a failure (冷静期), the liveness lock a teacher must
 * lift, the self-ending quality lock, when each ends, and which of them (or
 * a full drafts box) refuses the next capture.  No database, no clock (the
 * caller passes now): t/unit/locks_test.c tests them alone.
 */
#ifndef TUCAI_LOCKS_H
#define TUCAI_LOCKS_H

#include <stdint.h>

#include "tucai_proto.h" /* TUCAI_LOCK_* */

/* The knobs of these rules (nginx.conf, TUCAI_POL_*). */
typedef struct {
    uint32_t cooldown_s;          /* after a failed check */
    uint32_t liveness_lock_after; /* consecutive liveness failures */
    uint32_t quality_lock_after;  /* consecutive other failures */
    uint32_t quality_lock_s;      /* length of the self-ending lock */
} lock_policy_t;

/* What one failed check does to the student. */
typedef struct {
    uint32_t liveness_fails; /* consecutive counts to store */
    uint32_t quality_fails;
    int64_t  cooldown_until;
    int      lock_kind;     /* TUCAI_LOCK_* this failure set, or NONE */
    int64_t  lock_until;    /* quality lock: its end; else 0 */
    uint32_t attempts_left; /* failures before a lock (no lock) */
} lock_outcome_t;

/*
 * A failed check at now, the student having lf/qf consecutive failures
 * before it: counts it by kind (only a pass resets the counts), starts the
 * cooldown, and locks when a count reaches its knob -- liveness first.
 */
void lock_after_failure(const lock_policy_t *p, uint32_t lf, uint32_t qf,
    int liveness_failed, int64_t now, lock_outcome_t *out);

/*
 * The state as it stands at now: a cooldown or a quality lock whose end has
 * come reads as none (0 / TUCAI_LOCK_NONE); a liveness lock has no end and
 * stays until a teacher lifts it.  Updates the three values in place.
 */
void lock_current(
    int64_t now, int64_t *cooldown_until, int *lock_kind, int64_t *lock_until);

/* What refuses a capture, in the order they are answered. */
enum {
    CAPTURE_GO = 0,
    CAPTURE_LOCKED_LIVENESS, /* 423, until a teacher unlocks */
    CAPTURE_LOCKED_QUALITY,  /* 423, ends by itself */
    CAPTURE_COOLING_DOWN,    /* 429 */
    CAPTURE_DRAFTS_FULL      /* 409 */
};

/* Which refusal (CAPTURE_*) a capture at now meets; CAPTURE_GO for none. */
int lock_capture_gate(int64_t now, int64_t cooldown_until, int lock_kind,
    int64_t lock_until, uint32_t ndrafts, uint32_t capacity);

#endif
