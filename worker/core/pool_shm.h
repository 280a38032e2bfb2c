/* pool_shm.h -- what the master and its children share without a message
 * (one anonymous MAP_SHARED region made before the first fork): who owns
 * each connection and whether each child is busy.
 *
 * A connection's owner word is the only place ownership changes hands,
 * always by compare-and-swap, so a child and the master never both serve
 * one: the child takes (KEPT -> SERVING) before it reads a request, the
 * master takes back (KEPT -> master) a connection a busy child holds.
 * Its generation changes whenever the master gets it back, so a child's
 * stale copy never matches again. */
#ifndef TUCAI_POOL_SHM_H
#define TUCAI_POOL_SHM_H

#include <stdint.h>

#define POOL_SHM_CONNS 512 /* = MAX_CONNS */
#define POOL_SHM_KIDS  514 /* = MAX_KIDS */

/* owner word: generation << 12 | SERVING | who (0 = master, kid + 1) */
#define OWN_WHO_MASK  0x7ffu
#define OWN_SERVING   0x800u
#define OWN_GEN_SHIFT 12
#define OWN_MAKE(gen, who, serving)                                      \
    (((uint32_t) (gen) << OWN_GEN_SHIFT) | ((serving) ? OWN_SERVING : 0) \
        | ((uint32_t) (who) &OWN_WHO_MASK))
#define OWN_GEN(w) ((w) >> OWN_GEN_SHIFT)
#define OWN_WHO(w) ((w) &OWN_WHO_MASK)

/* a child's state: the master lends to IDLE ones only, after reserving */
enum {
    KID_IDLE = 0,
    KID_BUSY,
    KID_RESERVED
};

typedef struct {
    uint32_t owner[POOL_SHM_CONNS];
    int32_t  kstate[POOL_SHM_KIDS];
    int64_t  kbusy_ms[POOL_SHM_KIDS]; /* when it became busy */
    uint8_t  kserving[POOL_SHM_KIDS]; /* a serving child of this generation */
    int32_t  queued;                  /* the master's FIFO is not empty */
    int32_t  stopping;                /* keep no connection: give back */
    uint64_t accepts;                 /* the master's count (health) */
} pool_shm_t;

extern pool_shm_t *pool_shm;

int pool_shm_init(void); /* 0 or -1 */
/* Serving children busy and idle right now (the metrics scrape). */
void pool_shm_children(uint32_t *busy, uint32_t *idle);

static inline int
own_cas(uint32_t *w, uint32_t from, uint32_t to)
{
    return __atomic_compare_exchange_n(
        w, &from, to, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static inline uint32_t
own_load(const uint32_t *w)
{
    return __atomic_load_n(w, __ATOMIC_SEQ_CST);
}

#endif
