/*
 * photo_process.c -- the pipeline entry point: decode, detect, check,
 * liveness, produce, and the re-check of the produced photo.
 */
#include "photo_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Hair top in the produced photo: the first row from the top where most
 * of the band over the head differs from the spec colour. */
static int
out_hair_top(const photo_img_t *im, const photo_spec_t *s, double cx, double fw)
{
    int x0 = (int) (cx - 0.2 * fw), x1 = (int) (cx + 0.2 * fw);
    if (x0 < 0)
        x0 = 0;
    if (x1 > im->w)
        x1 = im->w;
    for (int y = 0; y < im->h && x1 > x0; y++) {
        int diff = 0;
        for (int x = x0; x < x1; x++) {
            const uint8_t *p = im->px + 3 * ((size_t) y * im->w + x);
            diff +=
                abs(p[0] - s->bg_r) + abs(p[1] - s->bg_g) + abs(p[2] - s->bg_b)
                > 60;
        }
        if (diff * 2 > x1 - x0)
            return y;
    }
    return -1;
}

/* Adds a failed output rule "what=value" with its limit. */
static void
fail(json_t *fails, const char *what, double v, const char *fmt_limit,
    double lo, double hi)
{
    char val[64], lim[64];
    snprintf(val, sizeof val, "%s=%g", what, round(v * 100) / 100);
    snprintf(lim, sizeof lim, fmt_limit, lo, hi);
    json_array_append_new(
        fails, json_pack("{ss ss}", "value", val, "limit", lim));
}

/* The produced photo decoded and measured again against the output rules
 * of the spec (issue 10, rule 4): geometry, background purity against the
 * spec colour, no black fill, the KB range.  Binding: any failure makes
 * the verdict PRODUCTION_FAILED.  Tolerances cover the detectors' own
 * scatter (a cascade box is not a ruler). */
static json_t *
recheck(const unsigned char *jpeg, size_t len, const photo_spec_t *s,
    const photo_thresholds_t *th, const uint8_t *inside)
{
    photo_img_t im;
    const char *code;
    char        msg[160];
    json_t     *fails = json_array(), *m = json_object();
    double      kb = len / 1024.0;
    json_object_set_new(m, "kb", json_real(round(kb * 10) / 10));
    if (len < (size_t) s->min_kb * 1024 || len > (size_t) s->max_kb * 1024)
        fail(fails, "kb", kb, "%g..%g", s->min_kb, s->max_kb);
    int side = s->width > s->height ? s->width : s->height;
    if (photo_decode(jpeg, len, th, side, &im, &code, msg, sizeof msg)) {
        json_array_append_new(
            fails, json_pack("{ss ss}", "value", code, "limit", "decodable"));
        goto done;
    }
    if (im.w != s->width || im.h != s->height)
        fail(fails, "width", im.w, "%g x %g", s->width, s->height);
    uint8_t    *g = photo_grey(&im);
    photo_det_t d;
    if (!g || photo_detect(&im, g, 0.25, &d)) {
        free(g);
        photo_img_free(&im);
        goto done;
    }
    int people = 0;
    for (int i = 0; i < d.nfaces; i++)
        people += d.faces[i].w >= 0.5 * d.faces[0].w;
    json_object_set_new(m, "faces", json_integer(people));
    if (people != 1)
        fail(fails, "faces", people, "%g..%g", 1, 1);
    if (d.nfaces) {
        const photo_box_t *f = &d.faces[0];
        double             cx = f->x + f->w / 2;
        json_object_set_new(m, "face_w", json_integer(lround(f->w)));
        json_object_set_new(m, "face_cx", json_integer(lround(cx)));
        if (f->w < 0.8 * s->face_w_min || f->w > 1.2 * s->face_w_max)
            fail(fails, "face_w", f->w, "%g..%g", 0.8 * s->face_w_min,
                1.2 * s->face_w_max);
        if (fabs(cx - s->width / 2.0) > 0.06 * s->width)
            fail(fails, "face_cx", cx, "%g..%g", s->width * 0.44,
                s->width * 0.56);
        double ye = f->y + 0.4 * f->h;
        if (d.eyes_found) {
            ye = (d.ly + d.ry) / 2;
            json_object_set_new(
                m, "roll_deg", json_real(round(d.roll_deg * 10) / 10));
            if (fabs(d.roll_deg) > th->max_roll_deg / 2)
                fail(fails, "roll_deg", d.roll_deg, "%g..%g",
                    -th->max_roll_deg / 2, th->max_roll_deg / 2);
        }
        json_object_set_new(m, "eyes_found", json_boolean(d.eyes_found));
        json_object_set_new(m, "eye_line", json_integer(lround(ye)));
        if (ye < s->eye_line_min - 6 || ye > s->eye_line_max + 6)
            fail(fails, "eye_line", ye, "%g..%g", s->eye_line_min,
                s->eye_line_max);
        int ht = s->normalise_background ? out_hair_top(&im, s, cx, f->w) : -2;
        if (ht != -2) {
            json_object_set_new(m, "hair_top", json_integer(ht));
            if (ht < s->hair_top_min - 8 || ht > s->hair_top_max + 8)
                fail(fails, "hair_top", ht, "%g..%g", s->hair_top_min,
                    s->hair_top_max);
            /* background purity: above the hair, and beside the head
             * above the eye line */
            long nb = 0, wall = 0;
            for (int y = 0; y < ye && y < im.h; y++)
                for (int x = 0; x < im.w; x++) {
                    if (!(y < ht - 6 || fabs(x - cx) > 0.95 * f->w))
                        continue;
                    const uint8_t *p = im.px + 3 * ((size_t) y * im.w + x);
                    nb++;
                    wall += abs(p[0] - s->bg_r) + abs(p[1] - s->bg_g)
                            + abs(p[2] - s->bg_b)
                        > 45;
                }
            double wf = nb ? (double) wall / nb : 0;
            json_object_set_new(
                m, "wall_left", json_real(round(wf * 1000) / 1000));
            if (wf > 0.01)
                fail(fails, "wall_left", wf, "%g..%g", 0, 0.01);
        }
    }
    /* fill: every pixel from outside the source must be the spec colour
     * (never black); and no near-black run along the top or the sides
     * above the shoulders (a band or wedge from a crop past the source) */
    long nfill = 0, badfill = 0;
    for (size_t i = 0; inside && i < (size_t) im.w * im.h; i++) {
        if (inside[i])
            continue;
        const uint8_t *p = im.px + 3 * i;
        nfill++;
        badfill +=
            abs(p[0] - s->bg_r) + abs(p[1] - s->bg_g) + abs(p[2] - s->bg_b)
            > 40;
    }
    json_object_set_new(m, "fill_px", json_integer(nfill));
    if (nfill && badfill > nfill / 100)
        fail(fails, "fill_not_background", (double) badfill / nfill, "%g..%g",
            0, 0.01);
    int run = 0, maxrun = 0, yl = (int) (0.75 * im.h);
    for (int k = 0; k < im.w + 2 * yl; k++) {
        int x, y;
        if (k < im.w) {
            x = k;
            y = 0;
        } else if (k < im.w + yl) {
            x = 0;
            y = k - im.w;
        } else {
            x = im.w - 1;
            y = k - im.w - yl;
        }
        if (k == im.w || k == im.w + yl)
            run = 0;
        const uint8_t *p = im.px + 3 * ((size_t) y * im.w + x);
        run = (p[0] < 16 && p[1] < 16 && p[2] < 16) ? run + 1 : 0;
        if (run > maxrun)
            maxrun = run;
    }
    json_object_set_new(m, "black_run", json_integer(maxrun));
    if (maxrun > im.w / 10)
        fail(fails, "black_run", maxrun, "%g..%g", 0, im.w / 10);
    free(g);
    photo_img_free(&im);
done:
    return json_pack("{sb so so}", "pass", json_array_size(fails) == 0,
        "reasons", fails, "metrics", m);
}

/* Output box of the main face (for sharpness at the output's scale). */
static photo_box_t
out_face(const photo_img_t *im, const photo_det_t *d, const photo_geom_t *g,
    const photo_spec_t *s)
{
    const photo_box_t *f = &d->faces[0];
    double             sx = (f->x + f->w / 2) * im->scale,
           sy = (f->y + f->h / 2) * im->scale;
    double      r = -g->roll_deg * M_PI / 180, dx = sx - g->ex, dy = sy - g->ey;
    double      u = s->width / 2.0 + g->k * (cos(r) * dx - sin(r) * dy);
    double      v = g->ye_out + g->k * (sin(r) * dx + cos(r) * dy);
    double      w = g->k * f->w * im->scale, h = g->k * f->h * im->scale;
    photo_box_t b = { u - w / 2, v - h / 2, w, h, 0 };
    return b;
}

int
photo_process(const photo_input_t *in, const photo_spec_t *spec,
    const photo_thresholds_t *th, int produce, photo_result_t *res)
{
    memset(res, 0, sizeof *res);
    photo_report_t r = { json_array(), json_object() };
    photo_img_t    im;
    const char    *code;
    char           msg[200];
    photo_det_t    d;
    memset(&d, 0, sizeof d);
    uint8_t *g = NULL;
    int      have_img = 0;
    double t0 = photo_clock_ms(), t1 = t0, t2 = t0, t3 = t0, t4 = t0, tliv = 0,
           tframe = 0, tmatte_enc = 0, tmatte = 0, trecheck = 0;
    if (!r.reasons || !r.metrics)
        goto oom;
    int64_t lim = 0;
    if (photo_decode_lim(in->photo, in->photo_len, th, PHOTO_WORK_SIDE, &im,
            &code, msg, sizeof msg, &lim))
    {
        photo_reason(
            &r, code, json_string(msg), lim ? json_integer(lim) : NULL);
        res->decode_failed = 1;
        res->decode_code = code; /* static string */
    } else {
        have_img = 1;
        t1 = photo_clock_ms();
        if (!(g = photo_grey(&im)) || photo_detect(&im, g, 0, &d))
            goto oom;
        t2 = photo_clock_ms();
        photo_geom_t geo;
        memset(&geo, 0, sizeof geo);
        photo_checks_run(&im, g, &d, th, spec, &geo, &in->meta, &r);
        t3 = t4 = photo_clock_ms();
        double tl = photo_clock_ms();
        if (in->judge_liveness) {
            double s = photo_liveness_score(&im, &d, in->frames, in->frame_lens,
                in->nframes, th, r.metrics);
            if (s < 0)
                photo_reason(&r, "LIVENESS_FAILED",
                    json_string("fewer than 2 usable frames"),
                    json_real(th->liveness_min_nonrigid));
            else if (s < th->liveness_min_nonrigid)
                photo_reason(&r, "LIVENESS_FAILED",
                    json_real(round(s * 1000) / 1000),
                    json_real(th->liveness_min_nonrigid));
        }
        t3 = t4 = photo_clock_ms();
        tliv = t3 - tl;
        if (geo.ok) {
            /* the spec crop from the full-resolution decode: blur is judged
             * on it, at the output's face scale, and it is what is produced */
            uint8_t *fpx = NULL, *inside = NULL;
            if (photo_frame(&im, in->photo, in->photo_len, &geo, spec, &fpx,
                    &inside, r.metrics, msg, sizeof msg))
            {
                photo_reason(&r, "PRODUCTION_FAILED", json_string(msg), NULL);
            } else {
                tframe = photo_clock_ms() - t3;
                photo_img_t o = {
                    .px = fpx, .w = spec->width, .h = spec->height, .scale = 1
                };
                uint8_t    *og = photo_grey(&o);
                photo_box_t ob = out_face(&im, &d, &geo, spec);
                double      sh = og
                         ? photo_sharpness(og, o.w, o.h, &ob, (int) lround(ob.w))
                         : 0;
                free(og);
                json_object_set_new(
                    r.metrics, "sharpness", json_real(round(sh * 1000) / 1000));
                if (sh < th->min_sharpness)
                    photo_reason(&r, "BLURRY",
                        json_real(round(sh * 1000) / 1000),
                        json_real(th->min_sharpness));
                if (produce && json_array_size(r.reasons) == 0) {
                    double tm = photo_clock_ms();
                    if (photo_produce(fpx, inside, &geo, spec, &res->jpeg,
                            &res->jpeg_len, r.metrics, &tmatte, msg,
                            sizeof msg))
                    {
                        photo_reason(
                            &r, "PRODUCTION_FAILED", json_string(msg), NULL);
                    } else {
                        tmatte_enc = photo_clock_ms() - tm;
                        json_t *rc =
                            recheck(res->jpeg, res->jpeg_len, spec, th, inside);
                        trecheck = photo_clock_ms() - tm - tmatte_enc;
                        json_t *fl = json_object_get(rc, "reasons");
                        if (json_array_size(fl)) {
                            /* binding: the first failed output rule, measured */
                            json_t *f0 = json_array_get(fl, 0);
                            photo_reason(&r, "PRODUCTION_FAILED",
                                json_incref(json_object_get(f0, "value")),
                                json_incref(json_object_get(f0, "limit")));
                        }
                        json_object_set_new(r.metrics, "recheck", rc);
                    }
                }
            }
            free(fpx);
            free(inside);
            t4 = photo_clock_ms();
        }
    }
    res->stage_ms[PHOTO_STAGE_DECODE] = (have_img ? t1 : photo_clock_ms()) - t0;
    res->stage_ms[PHOTO_STAGE_DETECT] = have_img ? t2 - t1 : -1;
    res->stage_ms[PHOTO_STAGE_CHECKS] = have_img ? t3 - t2 - tliv : -1;
    res->stage_ms[PHOTO_STAGE_LIVENESS] =
        have_img && in->judge_liveness ? tliv : -1;
    res->stage_ms[PHOTO_STAGE_PRODUCE] = t4 > t3 ? t4 - t3 : -1;
    for (size_t i = 0; i < json_array_size(r.reasons); i++) {
        const char *c = json_string_value(
            json_object_get(json_array_get(r.reasons, i), "code"));
        if (c && !strcmp(c, "LIVENESS_FAILED"))
            res->liveness_failed = 1;
    }
    if (have_img)
        json_object_set_new(r.metrics, "ms",
            json_pack("{sf sf sf sf sf sf sf sf sf sf sf}", "decode",
                round(t1 - t0), "detect", round(t2 - t1), "checks",
                round(t3 - t2 - tliv), "liveness", round(tliv), "frame",
                round(tframe), "matte", round(tmatte), "encode",
                round(tmatte_enc - tmatte), "matte_encode", round(tmatte_enc),
                "recheck", round(trecheck), "produce", round(t4 - t3), "total",
                round(photo_clock_ms() - t0)));
    res->pass = json_array_size(r.reasons) == 0;
    if (!res->pass && res->jpeg) {
        res->rejected_jpeg = res->jpeg;
        res->rejected_len = res->jpeg_len;
        res->jpeg = NULL;
        res->jpeg_len = 0;
    }
    res->verdict = photo_verdict_build(&r, have_img ? &im : NULL, &d);
    json_decref(r.reasons);
    json_decref(r.metrics);
    free(g);
    if (have_img)
        photo_img_free(&im);
    return res->verdict ? 0 : -1;
oom:
    json_decref(r.reasons);
    json_decref(r.metrics);
    free(g);
    if (have_img)
        photo_img_free(&im);
    free(res->jpeg);
    res->jpeg = NULL;
    return -1;
}

void
photo_result_free(photo_result_t *res)
{
    if (!res)
        return;
    json_decref(res->verdict);
    free(res->jpeg);
    free(res->rejected_jpeg);
    memset(res, 0, sizeof *res);
}
