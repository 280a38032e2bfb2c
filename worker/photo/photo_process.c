/*
 * photo_process.c -- the pipeline entry point: decode, detect, check,
 * liveness, produce, and the re-check of the produced photo.
 */
#include "photo_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Thresholds for the produced photo: its size and face band come from the
 * spec, not from what a phone photo should look like. */
static void recheck_thresholds(const photo_spec_t *s, const photo_thresholds_t *th,
        photo_thresholds_t *o)
{
    *o = *th;
    o->min_short_side = s->width < s->height ? s->width : s->height;
    /* the cascade's box is a little narrower/wider than the face band */
    o->face_min_frac = 0.75 * s->face_w_min / s->width;
    o->face_max_frac = 1.25 * s->face_w_max / s->width;
    if (o->face_max_frac > 1) o->face_max_frac = 1;
    o->center_max_off = 0.08;
}

static json_t *recheck(const unsigned char *jpeg, size_t len, const photo_spec_t *s,
        const photo_thresholds_t *th)
{
    photo_thresholds_t t;
    recheck_thresholds(s, th, &t);
    photo_img_t im; const char *code; char msg[160];
    json_t *codes = json_array();
    photo_report_t r = { json_array(), json_object() };
    if (photo_decode(jpeg, len, &t, PHOTO_WORK_SIDE, &im, &code, msg, sizeof msg)) {
        json_array_append_new(codes, json_string(code));
    } else {
        uint8_t *g = photo_grey(&im);
        photo_det_t d;
        if (g && !photo_detect(&im, g, 0.25, &d)) {
            photo_checks_run(&im, g, &d, &t, NULL, &r);
            if (d.eyes_found) {
                double ye = (d.ly + d.ry) / 2;
                json_object_set_new(r.metrics, "eye_line", json_integer(lround(ye)));
                if (ye < s->eye_line_min || ye > s->eye_line_max)
                    json_array_append_new(codes, json_string("EYE_LINE_OUT_OF_BAND"));
            }
        }
        free(g);
        photo_img_free(&im);
    }
    for (size_t i = 0; i < json_array_size(r.reasons); i++)
        json_array_append(codes, json_object_get(json_array_get(r.reasons, i), "code"));
    json_t *o = json_pack("{sb so so}", "pass", json_array_size(codes) == 0,
        "reasons", codes, "metrics", r.metrics);
    json_decref(r.reasons);
    return o;
}

int photo_process(const photo_input_t *in, const photo_spec_t *spec,
        const photo_thresholds_t *th, int produce, photo_result_t *res)
{
    memset(res, 0, sizeof *res);
    photo_report_t r = { json_array(), json_object() };
    photo_img_t im; const char *code; char msg[200];
    photo_det_t d; memset(&d, 0, sizeof d);
    uint8_t *g = NULL;
    int have_img = 0;
    double t0 = now_ms(), t1 = t0, t2 = t0, t3 = t0, t4 = t0, tliv = 0;
    if (!r.reasons || !r.metrics) goto oom;
    int64_t lim = 0;
    if (photo_decode_lim(in->photo, in->photo_len, th, PHOTO_WORK_SIDE, &im, &code, msg,
            sizeof msg, &lim)) {
        photo_reason(&r, code, json_string(msg), lim ? json_integer(lim) : NULL);
        res->decode_failed = 1;
        res->decode_code = code;   /* static string */
    } else {
        have_img = 1;
        t1 = now_ms();
        if (!(g = photo_grey(&im)) || photo_detect(&im, g, 0, &d)) goto oom;
        t2 = now_ms();
        photo_checks_run(&im, g, &d, th, &in->meta, &r);
        t3 = t4 = now_ms();
        double tl = now_ms();
        if (in->judge_liveness) {
            double s = photo_liveness_score(&im, &d, in->frames, in->frame_lens,
                    in->nframes, th, r.metrics);
            if (s < 0)
                photo_reason(&r, "LIVENESS_FAILED", json_string("fewer than 2 usable frames"),
                        json_real(th->liveness_min_nonrigid));
            else if (s < th->liveness_min_nonrigid)
                photo_reason(&r, "LIVENESS_FAILED", json_real(round(s * 1000) / 1000),
                        json_real(th->liveness_min_nonrigid));
        }
        t3 = t4 = now_ms();
        tliv = t3 - tl;
        if (produce && json_array_size(r.reasons) == 0) {
            if (photo_produce(&im, &d, spec, &res->jpeg, &res->jpeg_len, r.metrics, msg, sizeof msg)) {
                photo_reason(&r, "PRODUCTION_FAILED", json_string(msg), NULL);
            } else {
                t4 = now_ms();
                json_object_set_new(r.metrics, "recheck", recheck(res->jpeg, res->jpeg_len, spec, th));
            }
        }
    }
    res->stage_ms[PHOTO_STAGE_DECODE] = (have_img ? t1 : now_ms()) - t0;
    res->stage_ms[PHOTO_STAGE_DETECT] = have_img ? t2 - t1 : -1;
    res->stage_ms[PHOTO_STAGE_CHECKS] = have_img ? t3 - t2 - tliv : -1;
    res->stage_ms[PHOTO_STAGE_LIVENESS] = have_img && in->judge_liveness ? tliv : -1;
    res->stage_ms[PHOTO_STAGE_PRODUCE] = t4 > t3 ? t4 - t3 : -1;
    for (size_t i = 0; i < json_array_size(r.reasons); i++) {
        const char *c = json_string_value(json_object_get(json_array_get(r.reasons, i), "code"));
        if (c && !strcmp(c, "LIVENESS_FAILED")) res->liveness_failed = 1;
    }
    if (have_img)
        json_object_set_new(r.metrics, "ms", json_pack("{sf sf sf sf sf sf}",
            "decode", round(t1 - t0), "detect", round(t2 - t1),
            "checks", round(t3 - t2 - tliv), "liveness", round(tliv),
            "produce", round(t4 - t3), "total", round(now_ms() - t0)));
    res->pass = json_array_size(r.reasons) == 0;
    if (!res->pass) { free(res->jpeg); res->jpeg = NULL; res->jpeg_len = 0; }
    res->verdict = photo_verdict_build(&r, have_img ? &im : NULL, &d);
    json_decref(r.reasons); json_decref(r.metrics);
    free(g);
    if (have_img) photo_img_free(&im);
    return res->verdict ? 0 : -1;
oom:
    json_decref(r.reasons); json_decref(r.metrics);
    free(g);
    if (have_img) photo_img_free(&im);
    free(res->jpeg); res->jpeg = NULL;
    return -1;
}

void photo_result_free(photo_result_t *res)
{
    if (!res) return;
    json_decref(res->verdict);
    free(res->jpeg);
    memset(res, 0, sizeof *res);
}
