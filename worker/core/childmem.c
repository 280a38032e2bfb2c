/*
 * childmem.c -- keeping a pool child's memory flat.
 *
 * A capture decodes megapixel images: buffers of 1-40 MB, some allocated
 * by libvips's worker thread.  With glibc's defaults a child's RSS crept up
 * for minutes (the soak: ~55 MB at start, 90-110 MB and still rising):
 *   - each thread that mallocs gets its own arena (up to 8 per core), and
 *     an arena keeps what was freed in it (~10 MB each seen in smaps);
 *   - the mmap threshold rises to the largest buffer freed so far, after
 *     which image buffers come from the heap and stay there.
 * So: one arena (a child runs one request at a time, libvips one worker
 * thread: nothing to contend for), a fixed mmap threshold (every image
 * buffer is its own mapping, unmapped on free), and malloc_trim() after a
 * request that grew the heap.  None of this is a leak; the ASan build's
 * LeakSanitizer checks for those (t/09_asan.t, soak notes in README).
 */
#include "childmem.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#define MMAP_THRESHOLD   (256 * 1024)
#define TRIM_GROWTH_KB   1024             /* trim when the heap grew this much */

static long heap_trimmed = -1;              /* heap bytes after the last trim */

void childmem_init(void)
{
    /* mallopt fails only on a bad parameter; the defaults then stand */
    (void) mallopt(M_ARENA_MAX, 1);
    (void) mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    (void) mallopt(M_TRIM_THRESHOLD, MMAP_THRESHOLD);
}

long childmem_rss_kb(void)
{
    char  b[128];
    long  size, res;
    int   fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (n <= 0) return -1;
    b[n] = '\0';
    if (sscanf(b, "%ld %ld", &size, &res) != 2) return -1;
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

int childmem_after_request(const tucai_config_t *cfg, uint64_t served)
{
    /* mallinfo2 is a walk of the arena's bins, no system call: reading
     * /proc/self/statm after every request cost three (open, read, close)
     * on the pool's hottest path.  The RSS is read when the heap grew (to
     * trim) or when max_rss_mb asks for it. */
    struct mallinfo2 mi = mallinfo2();
    long             rss = -1;

    if (heap_trimmed < 0 || mi.arena > (size_t) heap_trimmed + TRIM_GROWTH_KB * 1024) {
        malloc_trim(0);
        heap_trimmed = (long) mallinfo2().arena;
    }

    if (cfg->max_requests > 0 && served >= (uint64_t) cfg->max_requests) {
        tlog_info("conn: served %llu requests, recycling",
                  (unsigned long long) served);
        return 1;
    }
    if (cfg->max_rss_mb > 0) {
        rss = childmem_rss_kb();
    }
    if (cfg->max_rss_mb > 0 && rss > (long) cfg->max_rss_mb * 1024) {
        tlog_info("conn: RSS %ld MB above max_rss_mb %d after %llu requests, recycling",
                  rss / 1024, cfg->max_rss_mb, (unsigned long long) served);
        return 1;
    }
    return 0;
}

void childmem_leak_check(void)
{
#if defined(__SANITIZE_ADDRESS__)
    if (__lsan_do_recoverable_leak_check() != 0) {
        tlog_error("conn: LeakSanitizer found leaks (see the ASan log)");
    }
#endif
}
