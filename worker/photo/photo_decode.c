/*
 * photo_decode.c -- bytes to an upright RGB working copy with libvips:
 * format sniffed from magic bytes, limits on size/pixels checked on the
 * header before any pixel is decoded, shrink-on-load + EXIF autorotation in
 * one pass (vips_thumbnail_buffer), and a decode deadline.
 */
#include "photo_int.h"

#include <dlfcn.h>
#include <gmodule.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vips/vips.h>

double
photo_clock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int
photo_init(const char *argv0)
{
    static int done;
    if (done)
        return 0;
    /* decoder warnings become CORRUPT_IMAGE verdicts, not log noise */
    g_setenv("VIPS_WARNING", "0", FALSE);
    /* vips_init loads every module of the libdir (poppler, ImageMagick,
     * OpenSlide, JPEG XL, HEIF: ~60 ms of CPU per process, most of a
     * tucai-check start-up); none but HEIF is used here, and that one is
     * loaded on the first HEIF photo (heif_module).  A VIPSHOME without
     * modules, for the init only, skips them. */
    int own_home = !g_getenv("VIPSHOME");
    if (own_home)
        g_setenv("VIPSHOME", "/nonexistent/tucai-no-vips-modules", TRUE);
    int rc = VIPS_INIT(argv0 ? argv0 : "tucai");
    if (own_home)
        g_unsetenv("VIPSHOME");
    if (rc)
        return -1;
    /* A preforked pool: one core per child, no operation cache growing in
     * each long-lived process, and no exotic (untrusted) loaders. */
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_block_untrusted_set(TRUE);
    done = 1;
    return 0;
}

/* libvips' HEIF loader is a module beside libvips.so
 * (vips-modules-MAJOR.MINOR/vips-heif.so), loaded on first use; 0 when
 * heifload is there. */
static int
heif_module(void)
{
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    if (state || vips_type_find("VipsOperation", "heifload_buffer")) {
        if (!state)
            state = 1;
        return state > 0 ? 0 : -1;
    }
    state = -1;
    Dl_info info;
    if (!dladdr((void *) vips_init, &info) || !info.dli_fname)
        return -1;
    char    *dir = g_path_get_dirname(info.dli_fname);
    char    *path = g_strdup_printf("%s/vips-modules-%d.%d/vips-heif.%s", dir,
           vips_version(0), vips_version(1), G_MODULE_SUFFIX);
    GModule *m = g_module_open(path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
    g_free(path);
    g_free(dir);
    if (m && vips_type_find("VipsOperation", "heifload_buffer")) {
        g_module_make_resident(m);
        state = 1;
    }
    return state > 0 ? 0 : -1;
}

const char *
photo_sniff(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return "jpeg";
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
        return "png";
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
        return "webp";
    if (n >= 12 && !memcmp(b + 4, "ftyp", 4)) {
        static const char *brands[] = { "heic", "heix", "hevc", "hevx", "heim",
            "heis", "mif1", "msf1", "avif" };
        for (size_t i = 0; i < sizeof brands / sizeof *brands; i++)
            if (!memcmp(b + 8, brands[i], 4))
                return "heif";
    }
    return NULL;
}

int64_t
photo_decode_cost(const char *fmt, int64_t w, int64_t h, int max_side)
{
    int64_t shrink = 1, small = w < h ? w : h;
    if (fmt && !strcmp(fmt, "jpeg")) {
        while (shrink < 8 && small / (shrink * 2) >= max_side)
            shrink *= 2;
    }
    return (w / shrink) * (h / shrink);
}

typedef struct {
    struct timespec start;
    int             limit_ms;
    int             killed;
} deadline_t;

static long
elapsed_ms(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

/* vips "eval" progress signal: stop the pipeline past the deadline. */
static void
on_eval(VipsImage *image, VipsProgress *progress, void *data)
{
    (void) progress;
    deadline_t *d = data;
    if (elapsed_ms(&d->start) > d->limit_ms) {
        d->killed = 1;
        vips_image_set_kill(image, TRUE);
    }
}

/* Writes a pipeline to memory (g_malloc) under the decode deadline. */
static void *
to_memory(VipsImage *img, deadline_t *dl, size_t *sz)
{
    vips_image_set_progress(img, TRUE);
    g_signal_connect(img, "eval", G_CALLBACK(on_eval), dl);
    void *px = vips_image_write_to_memory(img, sz);
    g_signal_handlers_disconnect_by_data(img, dl);
    if (dl->killed) {
        g_free(px);
        return NULL;
    }
    return px;
}

/* JPEG shrink-on-load factor (1, 2, 4, 8): the largest whose decode still
 * covers a max_side working copy. */
static int
jpeg_shrink(int64_t w, int64_t h, int max_side)
{
    int64_t l = w > h ? w : h;
    int     f = 1;
    while (f < 8 && l / (f * 2) >= max_side)
        f *= 2;
    return f;
}

static int
header(const char *fmt, const unsigned char *buf, size_t len, VipsImage **out)
{
    if (!strcmp(fmt, "jpeg"))
        return vips_jpegload_buffer((void *) buf, len, out, NULL);
    if (!strcmp(fmt, "png"))
        return vips_pngload_buffer((void *) buf, len, out, NULL);
    if (!strcmp(fmt, "webp"))
        return vips_webpload_buffer((void *) buf, len, out, NULL);
    if (heif_module())
        return -1;
    return vips_heifload_buffer((void *) buf, len, out, NULL);
}

VipsImage *
photo_vips_rgb8(VipsImage *in)
{
    VipsImage *cur = in, *t1 = NULL, *t2 = NULL;
    g_object_ref(in);
    if (vips_image_hasalpha(cur)) {
        double           white[3] = { 255, 255, 255 };
        VipsArrayDouble *bg = vips_array_double_new(white, 3);
        int              rc = vips_flatten(cur, &t1, "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        if (rc)
            goto err;
        g_object_unref(cur);
        cur = t1;
    }
    if (cur->Bands < 3 || cur->Type != VIPS_INTERPRETATION_sRGB
        || cur->BandFmt != VIPS_FORMAT_UCHAR)
    {
        VipsImage *c;
        if (vips_colourspace(cur, &c, VIPS_INTERPRETATION_sRGB, NULL))
            goto err;
        int rc = vips_cast_uchar(c, &t2, NULL);
        g_object_unref(c);
        if (rc)
            goto err;
        g_object_unref(cur);
        cur = t2;
    }
    if (cur->Bands > 3) {
        VipsImage *e;
        if (vips_extract_band(cur, &e, 0, "n", 3, NULL))
            goto err;
        g_object_unref(cur);
        cur = e;
    }
    return cur;
err:
    g_object_unref(cur);
    return NULL;
}

int
photo_decode(const unsigned char *buf, size_t len, const photo_thresholds_t *th,
    int max_side, photo_img_t *out, const char **code, char *msg, size_t msgn)
{
    return photo_decode_lim(buf, len, th, max_side, out, code, msg, msgn, NULL);
}

int
photo_decode_lim(const unsigned char *buf, size_t len,
    const photo_thresholds_t *th, int max_side, photo_img_t *out,
    const char **code, char *msg, size_t msgn, int64_t *limit)
{
    int64_t dummy;
    if (!limit)
        limit = &dummy;
    *limit = 0;
    memset(out, 0, sizeof *out);
    *code = "CORRUPT_IMAGE";
    if (!buf || len == 0) {
        snprintf(msg, msgn, "empty file");
        return -1;
    }
    if ((int64_t) len > th->max_bytes) {
        snprintf(msg, msgn, "file of %zu bytes is over the %lld byte limit",
            len, (long long) th->max_bytes);
        *limit = th->max_bytes;
        return -1;
    }
    const char *fmt = photo_sniff(buf, len);
    if (!fmt) {
        *code = "UNSUPPORTED_FORMAT";
        snprintf(msg, msgn, "not a JPEG, PNG, HEIC/HEIF or WebP file");
        return -1;
    }
    VipsImage *hdr = NULL, *thumb = NULL, *t1 = NULL, *t2 = NULL,
              *hdr_up = NULL, *mem = NULL, *cur = NULL;
    int ret = -1;
    /* Header only: the loaders are lazy, no pixel is decoded here. */
    if (header(fmt, buf, len, &hdr)) {
        snprintf(msg, msgn, "unreadable %s header", fmt);
        goto out;
    }
    int64_t w = vips_image_get_width(hdr), h = vips_image_get_height(hdr);
    if (w <= 0 || h <= 0 || w * h > th->max_pixels) {
        snprintf(msg, msgn, "%lldx%lld pixels is over the %lld pixel limit",
            (long long) w, (long long) h, (long long) th->max_pixels);
        *limit = th->max_pixels;
        goto out;
    }
    /* the deadline below stops a slow decode, but only after it has cost
     * seconds: refuse what is too expensive before spending anything */
    int64_t cost = photo_decode_cost(fmt, w, h, max_side);
    if (th->max_decode_cost > 0 && cost > th->max_decode_cost) {
        snprintf(msg, msgn,
            "decoding this %lldx%lld %s costs %lld pixels,"
            " over the %lld pixel budget",
            (long long) w, (long long) h, fmt, (long long) cost,
            (long long) th->max_decode_cost);
        *limit = th->max_decode_cost;
        goto out;
    }
    int orient = vips_image_get_orientation(hdr);
    if (orient >= 5 && orient <= 8) {
        int64_t t = w;
        w = h;
        h = t;
    }
    out->orig_w = (int) w;
    out->orig_h = (int) h;

    deadline_t dl = { .limit_ms = th->decode_timeout_ms };
    clock_gettime(CLOCK_MONOTONIC, &dl.start);
    if (!strcmp(fmt, "jpeg")) {
        /* One decode, kept: shrink-on-load by the largest factor that
         * still covers the working copy, autorotated.  The working copy is
         * resampled from it, and so is the spec crop when its scale allows
         * (photo_frame): no second decode of the file.  (vips_thumbnail
         * would decode a 12 MP photo whole, to keep a factor 2 for its
         * Lanczos step: libjpeg's scaled IDCT is a proper filter.) */
        int f = jpeg_shrink(w, h, max_side);
        /* streamed when upright; a turned photo is decoded whole first */
        if (vips_jpegload_buffer((void *) buf, len, &t1, "shrink", f, "fail_on",
                VIPS_FAIL_ON_WARNING, "access",
                orient > 1 ? VIPS_ACCESS_RANDOM : VIPS_ACCESS_SEQUENTIAL, NULL)
            || vips_autorot(t1, &hdr_up, NULL)
            || !(t2 = photo_vips_rgb8(hdr_up)))
            goto decode_err;
        size_t dsz = 0;
        void  *dec = to_memory(t2, &dl, &dsz);
        if (!dec || dsz != (size_t) t2->Xsize * t2->Ysize * 3) {
            g_free(dec);
            goto decode_fail;
        }
        out->dec = dec;
        out->dec_w = t2->Xsize;
        out->dec_h = t2->Ysize;
        mem = vips_image_new_from_memory(
            dec, dsz, out->dec_w, out->dec_h, 3, VIPS_FORMAT_UCHAR);
        if (!mem)
            goto decode_err;
        mem->Type = VIPS_INTERPRETATION_sRGB;
        if (vips_thumbnail_image(mem, &thumb, max_side, "height", max_side,
                "size", VIPS_SIZE_DOWN, NULL))
            goto decode_err;
        cur = thumb;
        g_object_ref(cur);
    } else {
        /* Shrink-on-load and autorotate in one decode of the pixels. */
        if (vips_thumbnail_buffer((void *) buf, len, &thumb, max_side, "height",
                max_side, "size", VIPS_SIZE_DOWN, "option_string",
                "fail_on=warning", NULL))
        {
            snprintf(msg, msgn, "the %s data cannot be decoded", fmt);
            goto out;
        }
        cur = photo_vips_rgb8(thumb);
        if (!cur)
            goto decode_err;
    }
    size_t sz = 0;
    void  *px = to_memory(cur, &dl, &sz);
    int    cw = cur->Xsize, ch = cur->Ysize;
    g_object_unref(cur);
    if (!px || sz != (size_t) cw * ch * 3) {
        g_free(px);
        goto decode_fail;
    }
    /* Own the pixels with malloc so callers free() them. */
    out->px = malloc(sz);
    if (!out->px) {
        g_free(px);
        snprintf(msg, msgn, "out of memory");
        goto out;
    }
    memcpy(out->px, px, sz);
    g_free(px);
    out->w = cw;
    out->h = ch;
    out->scale = (double) out->orig_w / out->w;
    out->format = fmt;
    *code = NULL;
    ret = 0;
    goto out;
decode_fail:
    if (dl.killed) {
        snprintf(msg, msgn, "decoding took longer than %d ms",
            th->decode_timeout_ms);
        *limit = th->decode_timeout_ms;
        goto out;
    }
decode_err:
    snprintf(msg, msgn, "the %s data cannot be decoded", fmt);
out:
    if (mem)
        g_object_unref(mem);
    if (ret) {
        vips_error_clear();
        photo_img_free(out);
    }
    if (hdr_up)
        g_object_unref(hdr_up);
    if (t2)
        g_object_unref(t2);
    if (t1)
        g_object_unref(t1);
    if (thumb)
        g_object_unref(thumb);
    if (hdr)
        g_object_unref(hdr);
    return ret;
}

void
photo_img_free(photo_img_t *im)
{
    free(im->px);
    im->px = NULL;
    g_free(im->dec);
    im->dec = NULL;
}

uint8_t *
photo_grey(const photo_img_t *im)
{
    size_t   n = (size_t) im->w * im->h;
    uint8_t *g = malloc(n ? n : 1);
    if (!g)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = im->px + 3 * i;
        g[i] = (uint8_t) ((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
    }
    return g;
}
