/*
 * photo_spec.c -- the photo spec and check thresholds as data: defaults of
 * PRODUCT.md (学历照片 standard) and loading from JSON with range checks.
 */
#include "photo.h"

#include <stdio.h>
#include <string.h>

void
photo_spec_default(photo_spec_t *s)
{
    *s = (photo_spec_t){
        .width = 480,
        .height = 640,
        .dpi = 300,
        .min_kb = 20,
        .max_kb = 40,
        .bg_r = 100,
        .bg_g = 197,
        .bg_b = 255,
        .normalise_background = 1,
        .hair_top_min = 50,
        .hair_top_max = 110,
        .eye_line_min = 200,
        .eye_line_max = 300,
        .face_w_min = 180,
        .face_w_max = 300,
    };
}

void
photo_thresholds_default(photo_thresholds_t *t)
{
    *t = (photo_thresholds_t){
        .min_short_side = 600,
        .face_min_frac = 0.15,
        .face_max_frac = 0.5,
        .center_max_off = 0.12,
        .max_roll_deg = 8.0,
        .min_luma = 60,
        .max_luma = 210,
        .max_light_ratio = 1.5,
        .min_sharpness = 15.0,
        .max_bg_stddev = 28.0,
        .recapture_score = 1.0,
        .liveness_min_nonrigid = 1.0,
        .max_bytes = 15 * 1024 * 1024,
        .max_pixels = 100 * 1000 * 1000,
        .max_decode_cost = 25 * 1000 * 1000,
        .decode_timeout_ms = 5000,
    };
}

/* Reads an integer key within [lo, hi]; missing keeps *v. */
static int
get_int(json_t *o, const char *k, int *v, int lo, int hi, char *err, size_t n)
{
    json_t *j = json_object_get(o, k);
    if (!j)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < lo
        || json_integer_value(j) > hi)
    {
        snprintf(err, n, "%s must be an integer in %d..%d", k, lo, hi);
        return -1;
    }
    *v = (int) json_integer_value(j);
    return 0;
}

static int
get_i64(json_t *o, const char *k, int64_t *v, int64_t lo, int64_t hi, char *err,
    size_t n)
{
    json_t *j = json_object_get(o, k);
    if (!j)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < lo
        || json_integer_value(j) > hi)
    {
        snprintf(err, n, "%s must be an integer in %lld..%lld", k,
            (long long) lo, (long long) hi);
        return -1;
    }
    *v = json_integer_value(j);
    return 0;
}

static int
get_dbl(json_t *o, const char *k, double *v, double lo, double hi, char *err,
    size_t n)
{
    json_t *j = json_object_get(o, k);
    if (!j)
        return 0;
    if (!json_is_number(j) || json_number_value(j) < lo
        || json_number_value(j) > hi)
    {
        snprintf(err, n, "%s must be a number in %g..%g", k, lo, hi);
        return -1;
    }
    *v = json_number_value(j);
    return 0;
}

int
photo_spec_from_json(photo_spec_t *s, json_t *o, char *err, size_t n)
{
    if (!json_is_object(o)) {
        snprintf(err, n, "spec must be a JSON object");
        return -1;
    }
    photo_spec_t t = *s;
    if (get_int(o, "width", &t.width, 64, 4000, err, n)
        || get_int(o, "height", &t.height, 64, 4000, err, n)
        || get_int(o, "dpi", &t.dpi, 72, 1200, err, n)
        || get_int(o, "min_kb", &t.min_kb, 1, 10000, err, n)
        || get_int(o, "max_kb", &t.max_kb, 1, 10000, err, n)
        || get_int(o, "bg_r", &t.bg_r, 0, 255, err, n)
        || get_int(o, "bg_g", &t.bg_g, 0, 255, err, n)
        || get_int(o, "bg_b", &t.bg_b, 0, 255, err, n)
        || get_int(
            o, "normalise_background", &t.normalise_background, 0, 1, err, n)
        || get_int(o, "hair_top_min", &t.hair_top_min, 0, 4000, err, n)
        || get_int(o, "hair_top_max", &t.hair_top_max, 0, 4000, err, n)
        || get_int(o, "eye_line_min", &t.eye_line_min, 0, 4000, err, n)
        || get_int(o, "eye_line_max", &t.eye_line_max, 0, 4000, err, n)
        || get_int(o, "face_w_min", &t.face_w_min, 8, 4000, err, n)
        || get_int(o, "face_w_max", &t.face_w_max, 8, 4000, err, n))
        return -1;
    if (t.min_kb > t.max_kb || t.hair_top_min > t.hair_top_max
        || t.eye_line_min > t.eye_line_max || t.face_w_min > t.face_w_max)
    {
        snprintf(err, n, "spec has a min above its max");
        return -1;
    }
    if (t.eye_line_max >= t.height || t.face_w_max > t.width
        || t.hair_top_max >= t.eye_line_min)
    {
        snprintf(err, n, "spec geometry does not fit its size");
        return -1;
    }
    *s = t;
    return 0;
}

int
photo_thresholds_from_json(
    photo_thresholds_t *t, json_t *o, char *err, size_t n)
{
    if (!json_is_object(o)) {
        snprintf(err, n, "thresholds must be a JSON object");
        return -1;
    }
    photo_thresholds_t x = *t;
    if (get_int(o, "min_short_side", &x.min_short_side, 1, 100000, err, n)
        || get_dbl(o, "face_min_frac", &x.face_min_frac, 0, 1, err, n)
        || get_dbl(o, "face_max_frac", &x.face_max_frac, 0, 1, err, n)
        || get_dbl(o, "center_max_off", &x.center_max_off, 0, 1, err, n)
        || get_dbl(o, "max_roll_deg", &x.max_roll_deg, 0, 90, err, n)
        || get_dbl(o, "min_luma", &x.min_luma, 0, 255, err, n)
        || get_dbl(o, "max_luma", &x.max_luma, 0, 255, err, n)
        || get_dbl(o, "max_light_ratio", &x.max_light_ratio, 1, 100, err, n)
        || get_dbl(o, "min_sharpness", &x.min_sharpness, 0, 1e6, err, n)
        || get_dbl(o, "max_bg_stddev", &x.max_bg_stddev, 0, 255, err, n)
        || get_dbl(o, "recapture_score", &x.recapture_score, 0, 1e6, err, n)
        || get_dbl(o, "liveness_min_nonrigid", &x.liveness_min_nonrigid, 0, 1e6,
            err, n)
        || get_i64(o, "max_bytes", &x.max_bytes, 1, (int64_t) 1 << 31, err, n)
        || get_i64(o, "max_pixels", &x.max_pixels, 1, (int64_t) 1 << 32, err, n)
        || get_i64(o, "max_decode_cost", &x.max_decode_cost, 1,
            (int64_t) 1 << 32, err, n)
        || get_int(
            o, "decode_timeout_ms", &x.decode_timeout_ms, 1, 600000, err, n))
        return -1;
    if (x.face_min_frac > x.face_max_frac || x.min_luma > x.max_luma) {
        snprintf(err, n, "thresholds have a min above its max");
        return -1;
    }
    *t = x;
    return 0;
}

json_t *
photo_spec_to_json(const photo_spec_t *s)
{
    return json_pack("{si si si si si si si si si si si si si si si}", "width",
        s->width, "height", s->height, "dpi", s->dpi, "min_kb", s->min_kb,
        "max_kb", s->max_kb, "bg_r", s->bg_r, "bg_g", s->bg_g, "bg_b", s->bg_b,
        "normalise_background", s->normalise_background, "hair_top_min",
        s->hair_top_min, "hair_top_max", s->hair_top_max, "eye_line_min",
        s->eye_line_min, "eye_line_max", s->eye_line_max, "face_w_min",
        s->face_w_min, "face_w_max", s->face_w_max);
}
