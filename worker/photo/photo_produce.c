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

static int
encode(VipsImage *img, const photo_spec_t *s, unsigned char **jpeg, size_t *len,
    json_t *m, char *msg, size_t msgn)
{
    size_t lo_b = (size_t) s->min_kb * 1024, hi_b = (size_t) s->max_kb * 1024;
    int    lo = 5, hi = 98, bestq = -1;
    int    encodes = 0;
    void  *best = NULL;
    size_t bestlen = 0;
    /* largest quality whose file fits under max_kb (or one within 1/12
     * of it).  Secant steps on log(size): each probe predicted from the
     * last size with the slope of the last two (first guess ~6 % a
     * quality step), kept inside the bracket; plain bisection after four.
     * A 480x640 photo lands at q 80-92: 2-4 encodes, where bisection from
     * 51 took 7. */
    int    q = 88, pq = 0;
    double slope = log(1.06), pn = 0, want = hi_b - hi_b / 24.0;
    while (lo <= hi) {
        void  *buf = NULL;
        size_t n = 0;
        encodes++;
        if (vips_jpegsave_buffer(
                img, &buf, &n, "Q", q, "optimize_coding", TRUE, NULL)) {
            snprintf(msg, msgn, "JPEG encoding failed");
            g_free(best);
            return -1;
        }
        if (n <= hi_b) {
            g_free(best);
            best = buf;
            bestlen = n;
            bestq = q;
            lo = q + 1;
            if (n >= hi_b - hi_b / 12)
                break; /* close enough to the top */
        } else {
            g_free(buf);
            hi = q - 1;
        }
        if (lo > hi)
            break;
        if (pn > 0 && q != pq && n != pn) {
            double sl = log((double) n / pn) / (q - pq);
            slope = sl < 0.01 ? 0.01 : sl > 0.3 ? 0.3 : sl;
        }
        pq = q;
        pn = (double) n;
        if (encodes < 4) {
            int step = (int) lround(log(want / (double) n) / slope);
            q += step ? step : n <= hi_b ? 1 : -1;
        } else
            q = (lo + hi) / 2;
        q = q < lo ? lo : q > hi ? hi : q;
    }
    if (!best) {
        snprintf(msg, msgn, "cannot fit the photo under %d KB", s->max_kb);
        return -1;
    }
    if (bestlen < lo_b) {
        /* a very plain picture: more chroma detail before giving up */
        void  *buf = NULL;
        size_t n = 0;
        if (!vips_jpegsave_buffer(
                img, &buf, &n, "Q", bestq, "no_subsample", TRUE, NULL)
            && n >= lo_b && n <= hi_b)
        {
            g_free(best);
            best = buf;
            bestlen = n;
        } else
            g_free(buf);
    }
    json_object_set_new(m, "jpeg_quality", json_integer(bestq));
    json_object_set_new(m, "jpeg_encodes", json_integer(encodes));
    json_object_set_new(m, "jpeg_kb", json_real(round(bestlen / 102.4) / 10));
    if (bestlen < lo_b) {
        g_free(best);
        snprintf(msg, msgn, "the photo is under %d KB even at the best quality",
            s->min_kb);
        return -1;
    }
    *jpeg = malloc(bestlen);
    if (!*jpeg) {
        g_free(best);
        snprintf(msg, msgn, "out of memory");
        return -1;
    }
    memcpy(*jpeg, best, bestlen);
    *len = bestlen;
    g_free(best);
    return 0;
}

int
photo_frame(const photo_img_t *im, const unsigned char *buf, size_t len,
    const photo_geom_t *g, const photo_spec_t *s, uint8_t **pxo,
    uint8_t **inside, json_t *m, char *msg, size_t msgn)
{
    *pxo = NULL;
    *inside = NULL;
    /* Resample straight to the crop's scale: from the check's own JPEG
     * decode when that is fine enough, else from a decode of the bytes
     * (shrink-on-load + Lanczos in vips_thumbnail); above 1 the full
     * resolution, upscaled at most by the 1/0.9 of rule 1 in the affine
     * below. */
    double want = g->k < 1 ? g->k : 1;
    int    tw = (int) ceil(g->src_w * want), th = (int) ceil(g->src_h * want);
    VipsImage *t = NULL, *rgb = NULL, *out = NULL;
    int        ret = -1, reuse = im->dec && tw <= im->dec_w && th <= im->dec_h;
    if (reuse) {
        VipsImage *mem = vips_image_new_from_memory(im->dec,
            (size_t) im->dec_w * im->dec_h * 3, im->dec_w, im->dec_h, 3,
            VIPS_FORMAT_UCHAR);
        if (!mem)
            goto err;
        mem->Type = VIPS_INTERPRETATION_sRGB;
        int rc = vips_thumbnail_image(
            mem, &t, tw, "height", th, "size", VIPS_SIZE_DOWN, NULL);
        g_object_unref(mem);
        if (rc)
            goto err;
    } else if (vips_thumbnail_buffer((void *) buf, len, &t, tw, "height", th,
                   "size", VIPS_SIZE_DOWN, "option_string", "fail_on=warning",
                   NULL))
        goto err;
    json_object_set_new(m, "frame_from_check_decode", json_boolean(reuse));
    if (!(rgb = photo_vips_rgb8(t)))
        goto err;
    double sa = (double) rgb->Xsize / g->src_w; /* decoded px per source px */
    double kk = g->k / sa;
    double ex = g->ex * sa, ey = g->ey * sa;
    double r = g->roll_deg * M_PI / 180;
    double a = kk * cos(r), b = kk * sin(r), c = -kk * sin(r), dd = kk * cos(r);
    double odx = s->width / 2.0 - (a * ex + b * ey),
           ody = g->ye_out - (c * ex + dd * ey);
    VipsArrayInt    *oarea = vips_array_int_newv(4, 0, 0, s->width, s->height);
    double           bgc[3] = { s->bg_r, s->bg_g, s->bg_b };
    VipsArrayDouble *bg = vips_array_double_new(bgc, 3);
    VipsInterpolate *bic = vips_interpolate_new("bicubic");
    int rc = vips_affine(rgb, &out, a, b, c, dd, "oarea", oarea, "odx", odx,
        "ody", ody, "interpolate", bic, "extend", VIPS_EXTEND_BACKGROUND,
        "background", bg, NULL);
    vips_area_unref(VIPS_AREA(oarea));
    vips_area_unref(VIPS_AREA(bg));
    g_object_unref(bic);
    if (rc)
        goto err;
    size_t   n = 0;
    uint8_t *px = vips_image_write_to_memory(out, &n);
    if (!px || n != (size_t) s->width * s->height * 3) {
        g_free(px);
        goto err;
    }
    *pxo = malloc(n);
    *inside = malloc((size_t) s->width * s->height);
    if (!*pxo || !*inside) {
        g_free(px);
        free(*pxo);
        free(*inside);
        *pxo = *inside = NULL;
        snprintf(msg, msgn, "out of memory");
        goto out;
    }
    memcpy(*pxo, px, n);
    g_free(px);
    long fill = 0;
    for (int v = 0; v < s->height; v++)
        for (int u = 0; u < s->width; u++) {
            double sx, sy;
            photo_geom_map(g, s, u + 0.5, v + 0.5, &sx, &sy);
            int in = sx >= 0.5 && sy >= 0.5 && sx <= g->src_w - 0.5
                && sy <= g->src_h - 0.5;
            (*inside)[(size_t) v * s->width + u] = (uint8_t) in;
            fill += !in;
        }
    json_object_set_new(m, "decode_scale", json_real(round(sa * 1000) / 1000));
    json_object_set_new(m, "fill_px", json_integer(fill));
    ret = 0;
    goto out;
err:
    snprintf(msg, msgn, "vips: %s", vips_error_buffer());
    vips_error_clear();
out:
    if (out)
        g_object_unref(out);
    if (rgb)
        g_object_unref(rgb);
    if (t)
        g_object_unref(t);
    return ret;
}

int
photo_produce(uint8_t *px, const uint8_t *inside, const photo_geom_t *g,
    const photo_spec_t *s, unsigned char **jpeg, size_t *len, json_t *m,
    double *matte_ms, char *msg, size_t msgn)
{
    *jpeg = NULL;
    *len = 0;
    double t0 = photo_clock_ms();
    size_t n = (size_t) s->width * s->height * 3;
    if (s->normalise_background) {
        photo_frame_t fr = { s->width / 2.0, g->ye_out, g->out_face_w,
            g->out_hair_top };
        if (photo_matte(px, inside, s->width, s->height, &fr, s, m)) {
            snprintf(msg, msgn, "out of memory");
            return -1;
        }
    } else {
        /* no matte: outside the source is still the spec colour (the
         * affine's background), never black */
        json_object_set_new(m, "background_normalised", json_false());
    }
    *matte_ms = photo_clock_ms() - t0;
    VipsImage *mem = vips_image_new_from_memory_copy(
        px, n, s->width, s->height, 3, VIPS_FORMAT_UCHAR);
    if (!mem) {
        snprintf(msg, msgn, "vips: %s", vips_error_buffer());
        vips_error_clear();
        return -1;
    }
    mem->Type = VIPS_INTERPRETATION_sRGB;
    /* 300 dpi: vips keeps resolution in px/mm; "in" makes JFIF say dpi */
    mem->Xres = mem->Yres = s->dpi / 25.4;
    vips_image_set_string(mem, "resolution-unit", "in");
    int ret = encode(mem, s, jpeg, len, m, msg, msgn);
    g_object_unref(mem);
    return ret;
}
