/*
 * photo_produce.c -- production (制作) of the ID photo from the upright
 * working copy: scale so the face has the spec width, level the eye line,
 * place eye line and hair top inside the spec bands, crop to the spec
 * size, normalise a near-uniform background to the spec colour, and
 * encode a JPEG inside [min_kb, max_kb] by searching the quality.
 */
#include "photo_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Top of the hair in working coords: first row, scanning down the middle
 * of the head, where most pixels differ from the background colour.
 * Fallback for busy backgrounds: a typical head proportion. */
static double hair_top(const photo_img_t *im, const photo_box_t *f, int *measured)
{
    double bg[3];
    double sd = photo_bg_stddev(im, f, bg);
    double guess = f->y - 0.4 * f->h;
    *measured = 0;
    if (sd < 0 || sd > 30) return guess;
    double t = 40 + 2 * sd;
    int x0 = (int)clampd(f->x + 0.3 * f->w, 0, im->w - 1), x1 = (int)clampd(f->x + 0.7 * f->w, 1, im->w);
    int ystop = (int)clampd(f->y + 0.3 * f->h, 0, im->h);
    for (int y = 0; y < ystop; y++) {
        int diff = 0;
        for (int x = x0; x < x1; x++) {
            const uint8_t *p = im->px + 3 * ((size_t)y * im->w + x);
            double d = fabs(p[0] - bg[0]) + fabs(p[1] - bg[1]) + fabs(p[2] - bg[2]);
            diff += d > t;
        }
        if (diff * 2 > x1 - x0) { *measured = 1; return y; }
    }
    return guess;
}

/* Replace a near-uniform background by the spec colour: a person mask by
 * flood fill from the top and side borders through pixels close to the
 * border colour, feathered by a box blur.  Limits: hair or clothes of the
 * wall's colour leak into the mask; a busy wall is left as it is. */
static void normalise_bg(uint8_t *px, int w, int h, const photo_spec_t *s, json_t *m)
{
    double mean[3] = { 0 }, sq[3] = { 0 }; long n = 0;
    for (int y = 0; y < h / 4; y++)
        for (int x = 0; x < w; x += (x < w / 8 || x >= w - w / 8) ? 1 : w) {
            const uint8_t *p = px + 3 * ((size_t)y * w + x);
            for (int c = 0; c < 3; c++) { mean[c] += p[c]; sq[c] += (double)p[c] * p[c]; }
            n++;
        }
    if (n < 10) return;
    double sd = 0;
    for (int c = 0; c < 3; c++) {
        mean[c] /= n;
        double v = sq[c] / n - mean[c] * mean[c];
        sd += sqrt(v > 0 ? v : 0) / 3;
    }
    json_object_set_new(m, "produce_bg_stddev", json_real(round(sd * 10) / 10));
    if (sd > 20) { json_object_set_new(m, "background_normalised", json_false()); return; }
    double t = 30 + 2.5 * sd;
    uint8_t *mask = calloc((size_t)w * h, 1);
    int *stack = malloc(sizeof(int) * (size_t)w * h);
    float *alpha = malloc(sizeof(float) * (size_t)w * h);
    if (!mask || !stack || !alpha) { free(mask); free(stack); free(alpha); return; }
    int sp = 0;
#define CLOSE(i) (fabs(px[3*(i)] - mean[0]) + fabs(px[3*(i)+1] - mean[1]) + fabs(px[3*(i)+2] - mean[2]) < t)
#define PUSH(i) do { int _i = (i); if (!mask[_i] && CLOSE(_i)) { mask[_i] = 1; stack[sp++] = _i; } } while (0)
    for (int x = 0; x < w; x++) PUSH(x);
    for (int y = 0; y < h * 2 / 3; y++) { PUSH(y * w); PUSH(y * w + w - 1); }
    while (sp) {
        int i = stack[--sp], x = i % w, y = i / w;
        if (x > 0) PUSH(i - 1);
        if (x < w - 1) PUSH(i + 1);
        if (y > 0) PUSH(i - w);
        if (y < h - 1) PUSH(i + w);
    }
#undef PUSH
#undef CLOSE
    /* feather: 5x5 box blur of the mask, separable */
    float *tmp = (float *)stack;   /* same size, reused */
    const int R = 2;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int s = 0, c = 0;
            for (int k = -R; k <= R; k++) { int xx = x + k; if (xx >= 0 && xx < w) { s += mask[y * w + xx]; c++; } }
            tmp[y * w + x] = (float)s / c;
        }
    long nbg = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0; int c = 0;
            for (int k = -R; k <= R; k++) { int yy = y + k; if (yy >= 0 && yy < h) { s += tmp[yy * w + x]; c++; } }
            alpha[y * w + x] = s / c;
            nbg += mask[y * w + x];
        }
    int col[3] = { s->bg_r, s->bg_g, s->bg_b };
    for (size_t i = 0; i < (size_t)w * h; i++) {
        float a = alpha[i];
        if (a <= 0) continue;
        for (int c = 0; c < 3; c++)
            px[3 * i + c] = (uint8_t)lrintf(a * col[c] + (1 - a) * px[3 * i + c]);
    }
    json_object_set_new(m, "background_normalised", json_true());
    json_object_set_new(m, "background_frac", json_real(round(1000.0 * nbg / ((double)w * h)) / 1000));
    free(mask); free(stack); free(alpha);
}

static int encode(VipsImage *img, const photo_spec_t *s, unsigned char **jpeg, size_t *len,
        json_t *m, char *msg, size_t msgn)
{
    size_t lo_b = (size_t)s->min_kb * 1024, hi_b = (size_t)s->max_kb * 1024;
    int lo = 5, hi = 98, bestq = -1;
    int encodes = 0;
    void *best = NULL; size_t bestlen = 0;
    /* largest quality whose file fits under max_kb */
    while (lo <= hi) {
        int q = (lo + hi) / 2;
        void *buf = NULL; size_t n = 0;
        encodes++;
        if (vips_jpegsave_buffer(img, &buf, &n, "Q", q, "optimize_coding", TRUE, NULL)) {
            snprintf(msg, msgn, "JPEG encoding failed");
            g_free(best);
            return -1;
        }
        if (n <= hi_b) {
            g_free(best); best = buf; bestlen = n; bestq = q; lo = q + 1;
            if (n >= hi_b - hi_b / 12) break;   /* close enough to the top */
        } else { g_free(buf); hi = q - 1; }
    }
    if (!best) { snprintf(msg, msgn, "cannot fit the photo under %d KB", s->max_kb); return -1; }
    if (bestlen < lo_b) {
        /* a very plain picture: more chroma detail before giving up */
        void *buf = NULL; size_t n = 0;
        if (!vips_jpegsave_buffer(img, &buf, &n, "Q", bestq, "no_subsample", TRUE, NULL) && n >= lo_b && n <= hi_b) {
            g_free(best); best = buf; bestlen = n;
        } else g_free(buf);
    }
    json_object_set_new(m, "jpeg_quality", json_integer(bestq));
    json_object_set_new(m, "jpeg_encodes", json_integer(encodes));
    json_object_set_new(m, "jpeg_kb", json_real(round(bestlen / 102.4) / 10));
    if (bestlen < lo_b) {
        g_free(best);
        snprintf(msg, msgn, "the photo is under %d KB even at the best quality", s->min_kb);
        return -1;
    }
    *jpeg = malloc(bestlen);
    if (!*jpeg) { g_free(best); snprintf(msg, msgn, "out of memory"); return -1; }
    memcpy(*jpeg, best, bestlen);
    *len = bestlen;
    g_free(best);
    return 0;
}

int photo_produce(const photo_img_t *im, const photo_det_t *d,
        const photo_spec_t *s, unsigned char **jpeg, size_t *len,
        json_t *m, char *msg, size_t msgn)
{
    *jpeg = NULL; *len = 0;
    if (!d->nfaces || !d->eyes_found) { snprintf(msg, msgn, "no face/eyes to frame"); return -1; }
    const photo_box_t *f = &d->faces[0];
    double ex = (d->lx + d->rx) / 2, ey = (d->ly + d->ry) / 2;
    int measured;
    double hy = hair_top(im, f, &measured);
    double dsrc = ey - hy;                      /* hair top to eye line */
    if (dsrc < 0.3 * f->h) dsrc = 0.3 * f->h;
    /* Scale: face width mid-band; then eye line so that the hair top lands
     * mid-band; if the bands conflict, trade scale within the face band. */
    double fw_mid = (s->face_w_min + s->face_w_max) / 2.0;
    double ht_mid = (s->hair_top_min + s->hair_top_max) / 2.0;
    double k = fw_mid / f->w;
    double ye = ht_mid + k * dsrc;
    double ye_lo = s->eye_line_min + 5, ye_hi = s->eye_line_max - 5;
    if (ye < ye_lo || ye > ye_hi) {
        ye = clampd(ye, ye_lo, ye_hi);
        k = clampd((ye - ht_mid) / dsrc, (s->face_w_min + 5.0) / f->w, (s->face_w_max - 5.0) / f->w);
    }
    json_object_set_new(m, "out_eye_line", json_integer(lround(ye)));
    json_object_set_new(m, "out_hair_top", json_integer(lround(ye - k * dsrc)));
    json_object_set_new(m, "out_face_w", json_integer(lround(k * f->w)));
    json_object_set_new(m, "hair_top_measured", json_boolean(measured));

    VipsImage *src = vips_image_new_from_memory(im->px, (size_t)im->w * im->h * 3,
            im->w, im->h, 3, VIPS_FORMAT_UCHAR);
    if (!src) { snprintf(msg, msgn, "vips: %s", vips_error_buffer()); vips_error_clear(); return -1; }
    VipsImage *sc = NULL, *out = NULL, *mem = NULL;
    int ret = -1;
    /* Scale with a proper filter first; the affine then only rotates. */
    double kk = k;
    if (k < 0.95) {
        if (vips_resize(src, &sc, k, NULL)) goto err;
        ex *= (double)sc->Xsize / im->w; ey *= (double)sc->Ysize / im->h;
        kk = 1.0;
    } else {
        sc = src; g_object_ref(sc);
    }
    double r = d->roll_deg * M_PI / 180;
    double a = kk * cos(r), b = kk * sin(r), c = -kk * sin(r), dd = kk * cos(r);
    double odx = s->width / 2.0 - (a * ex + b * ey), ody = ye - (c * ex + dd * ey);
    VipsArrayInt *oarea = vips_array_int_newv(4, 0, 0, s->width, s->height);
    int rc = vips_affine(sc, &out, a, b, c, dd,
            "oarea", oarea,
            "odx", odx, "ody", ody,
            "interpolate", vips_interpolate_bilinear_static(),
            "extend", VIPS_EXTEND_COPY, NULL);
    vips_area_unref(VIPS_AREA(oarea));   /* the operation holds its own ref */
    if (rc) goto err;
    size_t n = 0;
    uint8_t *px = vips_image_write_to_memory(out, &n);
    if (!px || n != (size_t)s->width * s->height * 3) { g_free(px); goto err; }
    if (s->normalise_background) normalise_bg(px, s->width, s->height, s, m);
    else json_object_set_new(m, "background_normalised", json_false());
    mem = vips_image_new_from_memory_copy(px, n, s->width, s->height, 3, VIPS_FORMAT_UCHAR);
    g_free(px);
    if (!mem) goto err;
    mem->Type = VIPS_INTERPRETATION_sRGB;
    /* 300 dpi: vips keeps resolution in px/mm; "in" makes JFIF say dpi */
    mem->Xres = mem->Yres = s->dpi / 25.4;
    vips_image_set_string(mem, "resolution-unit", "in");
    ret = encode(mem, s, jpeg, len, m, msg, msgn);
    goto out;
err:
    snprintf(msg, msgn, "vips: %s", vips_error_buffer());
    vips_error_clear();
out:
    if (mem) g_object_unref(mem);
    if (out) g_object_unref(out);
    if (sc) g_object_unref(sc);
    g_object_unref(src);
    return ret;
}
