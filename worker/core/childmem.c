/*
 * childmem.c -- keeping a pool child's memory flat.
 *
 * A capture decodes megapixel images: buffers of 1-40 MB, some allocated
 * by libvips's worker thread.  With glibc's defaults a child's RSS crept up
 * for minutes (~55 MB after its first capture, 90-110 MB at rest after two
 * minutes and still rising): each thread that mallocs gets an arena of its
 * own (up to 8 per core; libvips's threads come and go), and every arena
 * keeps what was freed in it (five arenas of ~10 MB each in smaps).
 * So: one arena (a child runs one request at a time and libvips one worker
 * thread: nothing to contend for), and malloc_trim() after a request that
 * grew the process, which gives the freed pages of the photo's buffers
 * back.  A fixed mmap threshold (every image buffer its own mapping) also
 * kept the RSS flat but cost ~20 % more CPU per photo in page faults, so
 * glibc's sliding threshold stays.  None of this was a leak: the ASan
 * build's LeakSanitizer checks each child as it exits (childmem_leak_check).
 */
#include "childmem.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#define TRIM_GROWTH_KB 1024 /* trim when RSS grew this much */

static long rss_trimmed_kb = -1; /* RSS after the last trim */
static long rss_last_kb = -1;    /* RSS at the last look */
static long faults_seen = -1;    /* page faults at the last look */

void
childmem_init(void)
{
    /* fails only on a bad parameter; glibc's default then stands */
    (void) mallopt(M_ARENA_MAX, 1);
}

long
childmem_rss_kb(void)
{
    char b[128];
    long size, res;
    int  fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    b[n] = '\0';
    if (sscanf(b, "%ld %ld", &size, &res) != 2)
        return -1;
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Page faults of the whole process (all its threads) so far, -1 unknown. */
static long
faults(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_minflt + ru.ru_majflt;
}

int
childmem_served(const tucai_config_t *cfg, uint64_t served)
{
    if (cfg->max_requests > 0 && served >= (uint64_t) cfg->max_requests) {
        tlog_info("conn: served %llu requests, recycling",
            (unsigned long long) served);
        return 1;
    }
    return 0;
}

int
childmem_look(const tucai_config_t *cfg, uint64_t served)
{
    long rss, f;

    /* The RSS, not mallinfo2's heap size: with glibc's sliding mmap
     * threshold a capture reuses the heap's freed (trimmed) pages without
     * growing it, so the heap size never asked for another trim and a
     * child rested at ~50 MB instead of ~29 (75 s run, 2 children).
     * Reading it (open, read, close of /proc/self/statm, a path walk in
     * procfs) was a tenth of a health request's CPU in the child, so it is
     * read only when the process took a page fault since the last look:
     * the RSS grows only by faulting pages in, and without one it can only
     * have stayed or shrunk.  A light request faults nothing. */
    f = faults();
    if (f >= 0 && f == faults_seen && rss_last_kb >= 0) {
        rss = rss_last_kb;
    } else {
        rss = childmem_rss_kb();
        if (rss >= 0
            && (rss_trimmed_kb < 0 || rss > rss_trimmed_kb + TRIM_GROWTH_KB)) {
            malloc_trim(0);
            rss = childmem_rss_kb();
            rss_trimmed_kb = rss;
        }
        rss_last_kb = rss;
        faults_seen = faults(); /* what looking faulted counts as seen */
    }

    if (cfg->max_rss_mb > 0 && rss > (long) cfg->max_rss_mb * 1024) {
        tlog_info(
            "conn: RSS %ld MB above max_rss_mb %d after %llu requests, recycling",
            rss / 1024, cfg->max_rss_mb, (unsigned long long) served);
        return 1;
    }
    return 0;
}

void
childmem_leak_check(void)
{
#if defined(__SANITIZE_ADDRESS__)
    if (__lsan_do_recoverable_leak_check() != 0) {
        tlog_error("conn: LeakSanitizer found leaks (see the ASan log)");
    }
#endif
}
