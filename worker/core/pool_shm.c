/* pool_shm.c -- the region pool_shm.h describes. */
#include <string.h>
#include <sys/mman.h>

#include "pool_shm.h"

pool_shm_t *pool_shm;

int
pool_shm_init(void)
{
    void *p = mmap(NULL, sizeof(pool_shm_t), PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        return -1;
    }
    memset(p, 0, sizeof(pool_shm_t));
    pool_shm = p;
    return 0;
}

void
pool_shm_children(uint32_t *busy, uint32_t *idle)
{
    int i;

    *busy = *idle = 0;
    for (i = 0; pool_shm && i < POOL_SHM_KIDS; i++) {
        if (__atomic_load_n(&pool_shm->kserving[i], __ATOMIC_RELAXED)) {
            if (__atomic_load_n(&pool_shm->kstate[i], __ATOMIC_RELAXED)
                == KID_IDLE) {
                (*idle)++;
            } else {
                (*busy)++;
            }
        }
    }
}
