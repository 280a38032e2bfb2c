/*
 * tucai_check.c -- `tucai-check`: the photo pipeline from the command line,
 * so operators can tune thresholds on real photos (API.md).
 *
 *   tucai-check [options] IMAGE...            one verdict per image, no liveness
 *   tucai-check [options] --burst PHOTO FRAME...   one capture with its frames
 * options: --spec FILE, --thresholds FILE (JSON objects, missing keys keep
 * the defaults), --out DIR (write produced photos), --meta JSON, --repeat N
 * (process each image N times in the one process, print the last verdict
 * and, on stderr, the warm per-photo time: what a pool child spends).
 * Exit status 0 when it ran, whatever the verdicts; 2 on bad usage.
 */
#include "photo.h"

#include <errno.h>
#include <libgen.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void
usage(void)
{
    fprintf(stderr,
        "usage: tucai-check [--spec FILE] [--thresholds FILE] [--out DIR] [--meta JSON] [--repeat N] IMAGE...\n"
        "       tucai-check [options] --burst PHOTO FRAME...\n");
    exit(2);
}

/* Whole file, at most max bytes (+1 so the pipeline sees "too large"). */
static unsigned char *
slurp(const char *path, size_t max, size_t *len, char *err, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t         cap = 1 << 16, used = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        if (used == cap) {
            if (cap > max)
                break;
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + used, 1, cap - used, f);
        used += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (!b) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    *len = used > max + 1 ? max + 1 : used;
    return b;
}

/* One short-lived process per photo: every buffer from one heap that is
 * never handed back (libvips' thread included), so what a stage frees the
 * next reuses, and that heap in transparent huge pages, so the ~50 MB a
 * 12 MP photo touches is not ~13k page faults (a third of its CPU time on
 * a VM).  Reserved untouched: only the pages used count in RSS. */
static void
heap_setup(void)
{
#ifdef __SANITIZE_ADDRESS__
    return; /* ASan has its own allocator: a 160 MB reserve is shadow work */
#endif
    enum {
        RESERVE = 160 << 20,
        HUGE = 2 << 20
    };
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 512 << 20);
    mallopt(M_TRIM_THRESHOLD, 1024 << 20);
    char *p = malloc(RESERVE);
    if (!p)
        return;
    uintptr_t a = ((uintptr_t) p + HUGE - 1) & ~(uintptr_t) (HUGE - 1),
              e = ((uintptr_t) p + RESERVE) & ~(uintptr_t) (HUGE - 1);
    if (e > a)
        madvise((void *) a, e - a, MADV_HUGEPAGE); /* advice: may fail */
    free(p);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static json_t *
load_json(const char *path)
{
    json_error_t e;
    json_t      *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        fprintf(stderr, "tucai-check: %s:%d: %s\n", path, e.line, e.text);
        exit(2);
    }
    return j;
}

static void
emit(const char *file, photo_result_t *res, const char *outdir)
{
    json_object_set_new(res->verdict, "file", json_string(file));
    char *s = json_dumps(res->verdict, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (s) {
        puts(s);
        free(s);
    }
    if (outdir && (res->jpeg || res->rejected_jpeg)) {
        /* a photo that failed its re-check is written as NAME.rejected.jpg */
        const unsigned char *data = res->jpeg ? res->jpeg : res->rejected_jpeg;
        size_t len = res->jpeg ? res->jpeg_len : res->rejected_len;
        char  *dup = strdup(file), path[4096];
        char  *base = basename(dup), *dot = strrchr(base, '.');
        if (dot)
            *dot = 0;
        snprintf(path, sizeof path, "%s/%s%s.jpg", outdir, base,
            res->jpeg ? "" : ".rejected");
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, len, f) != len)
            fprintf(stderr, "tucai-check: cannot write %s\n", path);
        if (f)
            fclose(f);
        free(dup);
    }
}

static void
unreadable(const char *file, const char *err)
{
    json_t *v = json_pack("{sb s[{ss ss ss sn}] s{} s[] ss}", "pass", 0,
        "reasons", "code", "CORRUPT_IMAGE", "message",
        "无法读取文件 / The file cannot be read", "value", err, "limit",
        "metrics", "faces", "file", file);
    char   *s = json_dumps(v, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(v);
}

int
main(int argc, char **argv)
{
    heap_setup();
    photo_spec_t       spec;
    photo_thresholds_t th;
    photo_meta_t       meta;
    photo_spec_default(&spec);
    photo_thresholds_default(&th);
    memset(&meta, 0, sizeof meta);
    const char *outdir = NULL;
    int         burst = 0, i = 1, repeat = 1;
    char        err[256];
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--")) {
            i++;
            break;
        }
        if (!strcmp(o, "--burst")) {
            burst = 1;
            continue;
        }
        if (!strcmp(o, "--help"))
            usage();
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(o, "--spec") || !strcmp(o, "--thresholds")) {
            json_t *j = load_json(v);
            int     rc = !strcmp(o, "--spec")
                    ? photo_spec_from_json(&spec, j, err, sizeof err)
                    : photo_thresholds_from_json(&th, j, err, sizeof err);
            json_decref(j);
            if (rc) {
                fprintf(stderr, "tucai-check: %s: %s\n", v, err);
                return 2;
            }
        } else if (!strcmp(o, "--out")) {
            outdir = v;
        } else if (!strcmp(o, "--repeat")) {
            char *end;
            long  n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000) {
                fprintf(stderr, "tucai-check: --repeat takes 1..1000\n");
                return 2;
            }
            repeat = (int) n;
        } else if (!strcmp(o, "--meta")) {
            json_error_t e;
            json_t      *j = json_loads(v, 0, &e);
            const char  *cam = json_string_value(json_object_get(j, "camera"));
            const char  *src = json_string_value(json_object_get(j, "source"));
            if (!json_is_object(j)) {
                fprintf(stderr, "tucai-check: bad --meta\n");
                return 2;
            }
            snprintf(meta.camera, sizeof meta.camera, "%s", cam ? cam : "");
            snprintf(meta.source, sizeof meta.source, "%s", src ? src : "");
            json_decref(j);
        } else
            usage();
    }
    if (i >= argc)
        usage();
    if (outdir && mkdir(outdir, 0755) && errno != EEXIST) {
        fprintf(stderr, "tucai-check: %s: %s\n", outdir, strerror(errno));
        return 2;
    }
    if (photo_init(argv[0])) {
        fprintf(stderr, "tucai-check: libvips init failed\n");
        return 1;
    }

    if (burst) {
        enum {
            MAXF = 16
        };
        int nf = argc - i - 1;
        if (nf > MAXF) {
            fprintf(stderr, "tucai-check: at most %d frames\n", MAXF);
            return 2;
        }
        size_t         len;
        unsigned char *photo =
            slurp(argv[i], (size_t) th.max_bytes, &len, err, sizeof err);
        if (!photo) {
            unreadable(argv[i], err);
            return 0;
        }
        const unsigned char *frames[MAXF];
        size_t               lens[MAXF];
        int                  n = 0;
        for (int k = 0; k < nf; k++) {
            unsigned char *b = slurp(argv[i + 1 + k], (size_t) th.max_bytes,
                &lens[n], err, sizeof err);
            if (b)
                frames[n++] = b;
            else
                fprintf(stderr, "tucai-check: %s\n", err);
        }
        photo_input_t  in = { .photo = photo,
             .photo_len = len,
             .frames = frames,
             .frame_lens = lens,
             .nframes = n,
             .judge_liveness = 1,
             .meta = meta };
        photo_result_t res;
        if (photo_process(&in, &spec, &th, 1, &res)) {
            fprintf(stderr, "tucai-check: out of memory\n");
            return 1;
        }
        emit(argv[i], &res, outdir);
        photo_result_free(&res);
        for (int k = 0; k < n; k++)
            free((void *) frames[k]);
        free(photo);
        return 0;
    }
    for (; i < argc; i++) {
        size_t         len;
        unsigned char *photo =
            slurp(argv[i], (size_t) th.max_bytes, &len, err, sizeof err);
        if (!photo) {
            unreadable(argv[i], err);
            continue;
        }
        photo_input_t  in = { .photo = photo, .photo_len = len, .meta = meta };
        photo_result_t res;
        double         ms[1000];
        for (int k = 0; k < repeat; k++) {
            if (k)
                photo_result_free(&res);
            double t = photo_clock_ms();
            if (photo_process(&in, &spec, &th, 1, &res)) {
                fprintf(stderr, "tucai-check: out of memory\n");
                free(photo);
                return 1;
            }
            ms[k] = photo_clock_ms() - t;
        }
        if (repeat > 1) {
            double first = ms[0];
            qsort(ms, (size_t) repeat, sizeof *ms, cmp_double);
            fprintf(stderr,
                "tucai-check: %s: %d runs in one process, per photo"
                " median %.1f ms, min %.1f ms (the first %.1f ms)\n",
                argv[i], repeat, ms[repeat / 2], ms[0], first);
        }
        emit(argv[i], &res, outdir);
        photo_result_free(&res);
        free(photo);
        fflush(stdout);
    }
#ifndef __SANITIZE_ADDRESS__
    /* Every output is written and closed: skip libvips' and glib's
     * teardown (thread joins, caches, type tables; 10-30 ms a run).  The
     * sanitizer build exits normally, for its leak check. */
    if (fflush(stdout) == 0)
        _exit(0);
#endif
    return 0;
}
