/* pool_rules.c -- the master's pure decisions: no system calls, no state
 * of their own (t/unit/pool_test.c). */
#include "pool_int.h"
#include "pool_shm.h"

int
pool_backoff_next(int backoff_ms, int crashed, int64_t lived_ms)
{
    /* quick deaths back off; a long-lived child resets it */
    if (!crashed || lived_ms >= QUICK_DEATH_MS) {
        return 0;
    }
    backoff_ms = backoff_ms ? backoff_ms * 2 : 100;
    return backoff_ms > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : backoff_ms;
}

int
pool_pick_idle(const kid_t *kids, int n, int from, const int32_t *kstate)
{
    int i;

    if (n <= 0) {
        return -1;
    }
    from = ((from % n) + n) % n;
    for (i = 0; i < n; i++) {
        const kid_t *x = &kids[(from + i) % n];
        if (x->pid > 0 && x->sp >= 0 && x->slot >= 0 && !x->last && !x->jobs
            && kstate[(from + i) % n] == KID_IDLE)
        {
            return (from + i) % n;
        }
    }
    return -1;
}
