/*
 * capture_in_flight.c -- PRODUCT.md "uploads per student in flight"
 * (tucai_uploads_in_flight, default 1): at most N captures of a student at
 * a time across all hosts.  nginx counts its own; this holds across hosts
 * and database nodes: one of the MariaDB leases 'tucai:cap:<student>'
 * (slot 0, the historical name) or 'tucai:cap:<student>:<k>' (k = 1..N-1)
 * must be free (lease.h).
 */
#include <stdio.h>

#include "capture.h"
#include "lease.h"

/* An upload slot outlives any capture (request_timeout is 30 s): it lapses
 * by itself only when its host died. */
#define CAP_SLOT_TTL 120

/*
 * Takes the first free of the student's N upload slots: leases (lease.h),
 * so the limit holds across hosts and database nodes; a crashed child's
 * slot is freed by its replacement, a crashed host's after CAP_SLOT_TTL.
 * *got is 1 with lockname set, 0 when every slot is busy; -1 on DB error.
 */
int
capture_slot_take(tucai_ctx_t *ctx, const tucai_req_t *req, uint64_t sid,
    char *lockname, size_t n, int *got)
{
    uint32_t slots = journey_policy(req, TUCAI_POL_UPLOADS_IN_FLIGHT), k;

    /* nginx bounds the knob to 1..16; a raw frame must not ask for more. */
    slots = slots < 1 ? 1 : slots > 16 ? 16 : slots;
    *got = 0;
    for (k = 0; k < slots; k++) {
        if (k == 0) {
            snprintf(lockname, n, "tucai:cap:%llu", (unsigned long long) sid);
        } else {
            snprintf(
                lockname, n, "tucai:cap:%llu:%u", (unsigned long long) sid, k);
        }
        switch (db_lease_take(ctx, lockname, CAP_SLOT_TTL)) {
        case -1: return -1;
        case 1: *got = 1; return 0;
        }
    }
    return 0;
}

void
capture_slot_release(tucai_ctx_t *ctx, const char *lockname)
{
    (void) db_lease_release(ctx, lockname);
}
