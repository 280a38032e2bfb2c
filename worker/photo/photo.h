/*
 * photo.h -- the photo pipeline: bytes and a spec in, a verdict and a JPEG
 * out.  Pure: no database, no network, no globals beyond libvips' own, so
 * tucai-check, the pool and the fuzzers share it unchanged.
 *
 * Files: photo_decode.c (formats, limits, EXIF, shrink-on-load),
 * photo_detect.c (cascade evaluator; tables generated at build time from
 * opencv-data), photo_checks.c (one function per reason code),
 * photo_produce.c (crop/level/resize/background/JPEG quality search),
 * photo_liveness.c (burst analysis, recapture cues), photo_spec.c (spec and
 * thresholds from JSON), photo_verdict.c (verdict to JSON).
 */
#ifndef TUCAI_PHOTO_H
#define TUCAI_PHOTO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* A photo spec: per school, data (JSON, see photo_spec_from_json). */
typedef struct {
    int width, height;              /* 480 x 640 */
    int dpi;                        /* 300 */
    int min_kb, max_kb;             /* 20 .. 40 */
    int bg_r, bg_g, bg_b;           /* 100,197,255 light blue */
    int normalise_background;       /* 1 */
    int hair_top_min, hair_top_max; /* 50 .. 110 px from top */
    int eye_line_min, eye_line_max; /* 200 .. 300 px from top */
    int face_w_min, face_w_max;     /* 180 .. 300 px */
} photo_spec_t;

/* Check thresholds: data too, with defaults (photo_thresholds_default). */
typedef struct {
    int     min_short_side;        /* LOW_RESOLUTION: 600 px */
    double  face_min_frac;         /* FACE_TOO_SMALL: face w / image w */
    double  face_max_frac;         /* FACE_TOO_LARGE */
    double  center_max_off;        /* FACE_OFF_CENTER: |dx| / image w */
    double  max_roll_deg;          /* HEAD_TILTED */
    double  min_luma, max_luma;    /* TOO_DARK / TOO_BRIGHT, face mean 0..255 */
    double  max_light_ratio;       /* UNEVEN_LIGHTING: left/right face halves */
    double  min_sharpness;         /* BLURRY: Laplacian variance on face */
    double  max_bg_stddev;         /* BACKGROUND_NOT_UNIFORM */
    double  recapture_score;       /* RECAPTURE_SUSPECTED above this */
    double  liveness_min_nonrigid; /* LIVENESS_FAILED below this */
    int64_t max_bytes;             /* 15 MB */
    int64_t max_pixels;            /* decompression bomb: 100 MP */
    int64_t max_decode_cost;       /* pixels really decoded: 25 MP */
    int     decode_timeout_ms;     /* 5000 */
} photo_thresholds_t;

/* Capture metadata sent by the client (meta field of the upload). */
typedef struct {
    char camera[16]; /* "back" / "front" / "" */
    char source[16]; /* "camera" / "album" / "" */
} photo_meta_t;

typedef struct {
    const unsigned char  *photo;
    size_t                photo_len;
    const unsigned char **frames; /* liveness burst, may be 0 frames */
    const size_t         *frame_lens;
    int                   nframes;
    int                   judge_liveness; /* 0: liveness not judged */
    photo_meta_t          meta;
} photo_input_t;

enum {
    PHOTO_STAGE_DECODE,
    PHOTO_STAGE_DETECT,
    PHOTO_STAGE_CHECKS,
    PHOTO_STAGE_LIVENESS,
    PHOTO_STAGE_PRODUCE,
    PHOTO_NSTAGES
};

typedef struct {
    json_t        *verdict; /* API.md verdict object (owned) */
    int            pass;
    int            liveness_failed; /* LIVENESS_FAILED among reasons */
    int            decode_failed;   /* CORRUPT_IMAGE or UNSUPPORTED_FORMAT */
    const char    *decode_code;     /* which of the two, or NULL */
    unsigned char *jpeg;            /* produced photo (malloc), or NULL */
    size_t         jpeg_len;
    /* a produced photo that failed its re-check (PRODUCTION_FAILED), kept
     * for operators and the eval contact sheet; never a deliverable */
    unsigned char *rejected_jpeg;
    size_t         rejected_len;
    /* time per stage in ms (PHOTO_STAGE_*), -1 for a stage not run; the
     * pool's metrics histogram them */
    double stage_ms[PHOTO_NSTAGES];
} photo_result_t;

/* Call once per process (VIPS_INIT, cascade tables). 0 or -1. */
int photo_init(const char *argv0);

/* Monotonic clock in ms: the stage timings, and tucai-check's --repeat. */
double photo_clock_ms(void);

/* What decoding an image really costs, in pixels decoded, from its header:
 * a JPEG shrinks on load (DCT scaling down to 1/8 per side) towards
 * max_side, every other format decodes each pixel whatever its file size
 * (a 97 KB PNG may declare 100 MP).  Checked against a budget before any
 * pixel is spent. */
int64_t photo_decode_cost(const char *fmt, int64_t w, int64_t h, int max_side);

void photo_spec_default(photo_spec_t *s);
void photo_thresholds_default(photo_thresholds_t *t);
/* Fill from JSON objects (missing keys keep their value). 0 or -1 + err. */
int photo_spec_from_json(photo_spec_t *s, json_t *obj, char *err, size_t n);
int photo_thresholds_from_json(
    photo_thresholds_t *t, json_t *obj, char *err, size_t n);
json_t *photo_spec_to_json(const photo_spec_t *s);

/*
 * Checks the capture and, when produce != 0 and the check passes, produces
 * the ID photo to spec.  Always fills res->verdict (even for corrupt input).
 * Returns 0, or -1 only on internal failure (out of memory).
 */
int photo_process(const photo_input_t *in, const photo_spec_t *spec,
    const photo_thresholds_t *th, int produce, photo_result_t *res);

void photo_result_free(photo_result_t *res);

#endif
