/*
 * photo_hog.h -- dlib's HOG frontal face detector (photo_hog.cpp) behind a
 * C interface.  Its model is generated at build time (tools/hog2c.cpp) from
 * libdlib-dev; nothing is read at run time.
 */
#ifndef TUCAI_PHOTO_HOG_H
#define TUCAI_PHOTO_HOG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A detection in the input's pixels; score = the SVM margin (0 = dlib's
 * default threshold, higher = surer). */
typedef struct {
    double x, y, w, h, score;
} photo_hog_box_t;

/*
 * Faces in a grey image (w x h, stride w), scanned at `scale` times its
 * size (bilinear; 2 finds faces of ~40 px, 1 of ~80 px), kept when their
 * score is at least `thr`.  Up to max boxes, surest first.  Returns the
 * count, or -1 (out of memory, model unusable).
 */
int photo_hog_detect(const uint8_t *grey, int w, int h, double scale,
    double thr, photo_hog_box_t *out, int max);

#ifdef __cplusplus
}
#endif
#endif
