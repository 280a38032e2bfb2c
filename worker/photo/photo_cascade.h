/*
 * photo_cascade.h -- compact boosted Haar cascade tables (generated at build
 * time by tools/cascade2c.py from Debian's opencv-data) and their
 * evaluator over an integral image.
 */
#ifndef TUCAI_PHOTO_CASCADE_H
#define TUCAI_PHOTO_CASCADE_H

#include <stdint.h>

typedef struct {
    int   first_weak, nweak;
    float thr;
} casc_stage_t;
typedef struct {
    int first_node, nnodes, first_leaf;
} casc_weak_t;
/* left/right > 0: next node; <= 0: leaf -value (OpenCV's convention). */
typedef struct {
    int   left, right, feat;
    float thr;
} casc_node_t;
typedef struct {
    int   x, y, w, h;
    float wt;
} casc_rect_t;
typedef struct {
    casc_rect_t r[3];
} casc_feature_t;

typedef struct {
    const char           *name;
    int                   w, h; /* window size */
    int                   nstages;
    const casc_stage_t   *stages;
    const casc_weak_t    *weaks;
    const casc_node_t    *nodes;
    const float          *leaves;
    const casc_feature_t *feats;
    int                   nfeats;
} casc_t;

extern const casc_t casc_face, casc_eye;

typedef struct {
    int x, y, w, h;
    int n;
} casc_hit_t;

/*
 * Runs the cascade over a grey image (w x h, stride w) at all scales from
 * min_size to max_size (window width in image px), step factor `scale`,
 * groups overlapping hits (min_neighbors) and returns up to max_hits boxes
 * sorted by neighbour count.  Returns the count, or -1 out of memory.
 */
int casc_detect(const casc_t *c, const uint8_t *img, int w, int h, int min_size,
    int max_size, double scale, int min_neighbors, casc_hit_t *hits,
    int max_hits);

#endif
