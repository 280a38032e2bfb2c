/*
 * photo_int.h -- private types shared by the photo_*.c files (not part of
 * the photo.h contract).
 */
#ifndef TUCAI_PHOTO_INT_H
#define TUCAI_PHOTO_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "photo.h"

/* Longest side of the working copy: enough for a 480x640 crop with the
 * face at spec size, small enough to keep a 48 MP input cheap. */
#define PHOTO_WORK_SIDE 1280
/* Longest side of the grey copy the face cascade scans. */
#define PHOTO_DET_SIDE  480
#define PHOTO_MAX_FACES 16

/* An upright decoded image: packed RGB, 3 bytes a pixel. */
typedef struct {
    uint8_t *px;
    int      w, h;
    int      orig_w, orig_h;   /* upright input size */
    double   scale;            /* orig / working */
    const char *format;        /* "jpeg", "png", "webp", "heif" */
} photo_img_t;

typedef struct { double x, y, w, h; int n; } photo_box_t;

typedef struct {
    int          nfaces;
    photo_box_t  faces[PHOTO_MAX_FACES];   /* working coords, main first */
    int          eyes_found;
    double       lx, ly, rx, ry;           /* eye centres, working coords */
    double       roll_deg;                 /* eye line angle, + = clockwise */
} photo_det_t;

/* A list of reasons plus metrics being built for the verdict. */
typedef struct {
    json_t *reasons;    /* array */
    json_t *metrics;    /* object */
} photo_report_t;

/* photo_decode.c */
const char *photo_sniff(const unsigned char *b, size_t n);
/* 0 ok; else -1 and *code = CORRUPT_IMAGE / UNSUPPORTED_FORMAT and msg. */
int  photo_decode(const unsigned char *buf, size_t len,
         const photo_thresholds_t *th, int max_side, photo_img_t *out,
         const char **code, char *msg, size_t msgn);
/* The same, and *limit = the limit that was exceeded (bytes, pixels, ms), else 0. */
int  photo_decode_lim(const unsigned char *buf, size_t len,
         const photo_thresholds_t *th, int max_side, photo_img_t *out,
         const char **code, char *msg, size_t msgn, int64_t *limit);
void photo_img_free(photo_img_t *im);
/* Grey copy (BT.601 luma), w*h bytes, malloc. */
uint8_t *photo_grey(const photo_img_t *im);

/* photo_detect.c */
/* min_frac: smallest face searched, as a fraction of the short side. */
int  photo_detect(const photo_img_t *im, const uint8_t *grey, double min_frac,
         photo_det_t *d);

/* photo_verdict.c */
void photo_reason(photo_report_t *r, const char *code, json_t *value, json_t *limit);
const char *photo_reason_message(const char *code);
json_t *photo_verdict_build(photo_report_t *r, const photo_img_t *im,
         const photo_det_t *d);

/* photo_checks.c: every check of the main photo; returns the number of
 * failing reasons added. */
int  photo_checks_run(const photo_img_t *im, const uint8_t *grey,
         const photo_det_t *d, const photo_thresholds_t *th,
         const photo_meta_t *meta, photo_report_t *r);
/* Background stats on border strips outside the face box. */
double photo_bg_stddev(const photo_img_t *im, const photo_box_t *face,
         double *mean_rgb);

/* photo_liveness.c */
double photo_recapture_score(const photo_img_t *im, const uint8_t *grey,
         const photo_box_t *face, json_t *metrics);
/* Returns the non-rigid score (>= 0), or -1 when no evidence. */
double photo_liveness_score(const photo_img_t *photo, const photo_det_t *d,
         const unsigned char **frames, const size_t *lens, int n,
         const photo_thresholds_t *th, json_t *metrics);

/* photo_produce.c: 0 ok, -1 failure (msg). */
int  photo_produce(const photo_img_t *im, const photo_det_t *d,
         const photo_spec_t *spec, unsigned char **jpeg, size_t *len,
         json_t *metrics, char *msg, size_t msgn);

#endif
