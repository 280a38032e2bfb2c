/*
 * photo_spec_fuzz.c -- libFuzzer target for the spec and thresholds
 * loaders (a school's spec is data from the back office): any bytes as
 * JSON into photo_spec_from_json / photo_thresholds_from_json; an accepted
 * spec must be internally consistent.
 */
#include "photo.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)data, size, 0, &e);
    if (!j) return 0;
    photo_spec_t s; photo_thresholds_t t; char err[128];
    photo_spec_default(&s);
    photo_thresholds_default(&t);
    if (photo_spec_from_json(&s, j, err, sizeof err) == 0) {
        if (s.min_kb > s.max_kb || s.face_w_min > s.face_w_max ||
            s.eye_line_max >= s.height || s.width < 64) abort();
        json_t *back = photo_spec_to_json(&s);
        photo_spec_t s2; photo_spec_default(&s2);
        if (!back || photo_spec_from_json(&s2, back, err, sizeof err)) abort();
        json_decref(back);
    }
    if (photo_thresholds_from_json(&t, j, err, sizeof err) == 0) {
        if (t.min_luma > t.max_luma || t.face_min_frac > t.face_max_frac) abort();
    }
    json_decref(j);
    return 0;
}
