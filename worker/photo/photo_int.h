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
#define PHOTO_MAX_FACES 32

/* An upright decoded image: packed RGB, 3 bytes a pixel. */
typedef struct {
    uint8_t    *px;
    int         w, h;
    int         orig_w, orig_h; /* upright input size */
    double      scale;          /* orig / working */
    const char *format;         /* "jpeg", "png", "webp", "heif" */
    /* JPEG: the upright shrink-on-load decode the working copy was
     * resampled from (g_malloc, RGB, dec_w x dec_h), for photo_frame */
    uint8_t *dec;
    int      dec_w, dec_h;
} photo_img_t;

typedef struct {
    double x, y, w, h;
    int    n;
} photo_box_t;

typedef struct {
    int         nfaces;
    photo_box_t faces[PHOTO_MAX_FACES]; /* working coords, main first */
    int         eyes_found;
    double      lx, ly, rx, ry; /* eye centres, working coords */
    double      roll_deg;       /* eye line angle, + = clockwise */
    int         eyes_refined;   /* 1 iris-refined, 2 found on the iris alone */
    int         eyes_limbus;    /* moved to the centres of the iris outlines */
} photo_det_t;

/* Where the spec crop falls in the source (photo_geom.c).  Source
 * coordinates are the upright full-resolution input's. */
typedef struct {
    int         ok;           /* a placement fits the spec */
    const char *code;         /* else the reason (direction-giving) */
    double      value, limit; /* its measured value and limit */
    double      src_w, src_h;
    double      face_w; /* face width in the source */
    double      ex, ey; /* eye-line centre in the source */
    double      roll_deg, cos_r, sin_r;
    double      hair_y; /* hair top in the source */
    int         hair_measured;
    double      eye_to_hair; /* source px */
    double      k;           /* output px per source px */
    double      ye_out;      /* eye line row in the output */
    double      out_face_w, out_hair_top;
    double      fill; /* share of the output outside the source */
} photo_geom_t;

/* A list of reasons plus metrics being built for the verdict. */
typedef struct {
    json_t *reasons; /* array */
    json_t *metrics; /* object */
} photo_report_t;

/* photo_decode.c */
const char *photo_sniff(const unsigned char *b, size_t n);
/* 0 ok; else -1 and *code = CORRUPT_IMAGE / UNSUPPORTED_FORMAT and msg. */
int photo_decode(const unsigned char *buf, size_t len,
    const photo_thresholds_t *th, int max_side, photo_img_t *out,
    const char **code, char *msg, size_t msgn);
/* The same, and *limit = the limit that was exceeded (bytes, pixels, ms), else 0. */
int  photo_decode_lim(const unsigned char *buf, size_t len,
     const photo_thresholds_t *th, int max_side, photo_img_t *out,
     const char **code, char *msg, size_t msgn, int64_t *limit);
void photo_img_free(photo_img_t *im);
/* A vips image as 3-band sRGB uchar (alpha flattened on white); new ref
 * or NULL. */
struct _VipsImage *photo_vips_rgb8(struct _VipsImage *in);
/* Grey copy (BT.601 luma), w*h bytes, malloc. */
uint8_t *photo_grey(const photo_img_t *im);

/* photo_detect.c */
/* min_frac: smallest face searched, as a fraction of the short side. */
int photo_detect(const photo_img_t *im, const uint8_t *grey, double min_frac,
    photo_det_t *d);

/* photo_verdict.c */
void photo_reason(
    photo_report_t *r, const char *code, json_t *value, json_t *limit);
const char *photo_reason_message(const char *code);
json_t     *photo_verdict_build(
        photo_report_t *r, const photo_img_t *im, const photo_det_t *d);

/* photo_checks.c: every check of the main photo; returns the number of
 * failing reasons added.  With a spec, the geometry (photo_geom_solve) is
 * checked too and *g filled. */
int photo_checks_run(const photo_img_t *im, const uint8_t *grey,
    const photo_det_t *d, const photo_thresholds_t *th,
    const photo_spec_t *spec, photo_geom_t *g, const photo_meta_t *meta,
    photo_report_t *r);
/* Laplacian variance of a grey region resampled to n px wide. */
double photo_sharpness(
    const uint8_t *g, int gw, int gh, const photo_box_t *f, int n);

/* photo_geom.c */
/* Hair top row (working coords); *measured = 0 when it is a guess. */
double photo_hair_top(
    const photo_img_t *im, const photo_box_t *f, int *measured);
/* 0 (g->ok or g->code says why not), -1 with no face. */
int  photo_geom_solve(const photo_img_t *im, const photo_det_t *d,
     const photo_spec_t *s, photo_geom_t *g);
void photo_geom_map(const photo_geom_t *g, const photo_spec_t *s, double u,
    double v, double *sx, double *sy);

/* photo_matte.c: replaces the wall of a framed photo (w x h RGB, in place)
 * by the spec colour.  inside[i] = 1 where the pixel comes from the source.
 * Face geometry in output px.  Fills metrics; 0 or -1 (out of memory). */
typedef struct {
    double cx, ye;   /* eye-line centre */
    double face_w;   /* face width */
    double hair_top; /* hair top row */
} photo_frame_t;
int photo_matte(uint8_t *px, const uint8_t *inside, int w, int h,
    const photo_frame_t *fr, const photo_spec_t *s, json_t *m);
/* Background stats on border strips outside the face box. */
double photo_bg_stddev(
    const photo_img_t *im, const photo_box_t *face, double *mean_rgb);

/* photo_liveness.c */
double photo_recapture_score(const photo_img_t *im, const uint8_t *grey,
    const photo_box_t *face, json_t *metrics);
/* Returns the non-rigid score (>= 0), or -1 when no evidence. */
double photo_liveness_score(const photo_img_t *photo, const photo_det_t *d,
    const unsigned char **frames, const size_t *lens, int n,
    const photo_thresholds_t *th, json_t *metrics);

/* photo_produce.c */
/* Cuts the spec crop from a decode of buf at the crop's scale, never from
 * the working copy: im's kept JPEG decode when it is fine enough, else
 * shrink-on-load of buf: *px = w x h RGB (malloc), *inside = in-source
 * mask.  0 or -1 (msg). */
int photo_frame(const photo_img_t *im, const unsigned char *buf, size_t len,
    const photo_geom_t *g, const photo_spec_t *s, uint8_t **px,
    uint8_t **inside, json_t *m, char *msg, size_t msgn);
/* Matte + JPEG of a framed photo: 0 ok, -1 failure (msg); *matte_ms =
 * the matte's share of the time. */
int photo_produce(uint8_t *px, const uint8_t *inside, const photo_geom_t *g,
    const photo_spec_t *spec, unsigned char **jpeg, size_t *len,
    json_t *metrics, double *matte_ms, char *msg, size_t msgn);

#endif
