/* childmem.h -- the memory of a long-lived pool process: glibc's heap set
 * so that a photo's buffers go back to the kernel, and when a child has
 * served enough (max_requests) or grown too big (max_rss_mb) to go on. */
#ifndef TUCAI_CHILDMEM_H
#define TUCAI_CHILDMEM_H

#include <stdint.h>

#include "config.h"

/* Once per process, before any thread: malloc parameters (childmem.c). */
void childmem_init(void);

/* Resident set size of this process in kB (/proc/self/statm), -1 unknown. */
long childmem_rss_kb(void);

/* After each request a child served (served counts it): 1 when it has
 * served max_requests and should give back what it keeps and exit
 * (logged), else 0. */
int childmem_served(const tucai_config_t *cfg, uint64_t served);

/* Before a child waits for more work: freed heap given back to the kernel
 * when the requests since the last look grew it (not between the requests
 * a child found ready at once); 1 when its RSS is above max_rss_mb and it
 * should exit (logged), else 0. */
int childmem_look(const tucai_config_t *cfg, uint64_t served);

/* A child about to exit: under the ASan build, LeakSanitizer looks for
 * memory no longer reachable (children end with _exit, which skips its
 * check at exit); a report lands in ASAN_OPTIONS' log.  No-op otherwise. */
void childmem_leak_check(void);

#endif
