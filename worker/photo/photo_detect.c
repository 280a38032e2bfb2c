/*
 * photo_detect.c -- faces and eyes: dlib's HOG face detector
 * (photo_hog.cpp) and the frontal-face Haar cascade on a small grey copy,
 * their finds merged; then the eye cascade in the upper part of each face
 * at a fixed face scale, and the eye pair that gives the eye line (roll,
 * position).
 */
#include "photo_int.h"
#include "photo_cascade.h"
#include "photo_hog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bilinear-free box resample of a grey region into dst (dw x dh). */
static void
resample(const uint8_t *g, int gw, int gh, double x0, double y0, double rw,
    double rh, uint8_t *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        int sy0 = (int) (y0 + rh * y / dh),
            sy1 = (int) (y0 + rh * (y + 1) / dh);
        if (sy1 <= sy0)
            sy1 = sy0 + 1;
        for (int x = 0; x < dw; x++) {
            int sx0 = (int) (x0 + rw * x / dw),
                sx1 = (int) (x0 + rw * (x + 1) / dw);
            if (sx1 <= sx0)
                sx1 = sx0 + 1;
            unsigned s = 0, n = 0;
            for (int yy = sy0; yy < sy1; yy++) {
                if (yy < 0 || yy >= gh)
                    continue;
                for (int xx = sx0; xx < sx1; xx++) {
                    if (xx < 0 || xx >= gw)
                        continue;
                    s += g[yy * gw + xx];
                    n++;
                }
            }
            dst[y * dw + x] = n ? (uint8_t) (s / n) : 128;
        }
    }
}

/* Eyes in the upper 60% of the face, scanned at face width FW px. */
#define FW 128
/* neighbour count above which a face needs no eye confirmation */
#define STRONG_HITS 12
static int
find_eyes(
    const uint8_t *grey, int gw, int gh, const photo_box_t *f, photo_det_t *d)
{
    d->eyes_found = 0;
    int      ew = FW, eh = (int) (FW * 0.6);
    uint8_t *buf = malloc((size_t) ew * eh);
    if (!buf)
        return 0;
    double k = f->w / FW; /* working px per eye-image px */
    resample(grey, gw, gh, f->x, f->y, f->w, f->h * 0.6, buf, ew, eh);
    double     ky = f->h * 0.6 / eh;
    casc_hit_t e[16];
    int        n = casc_detect(&casc_eye, buf, ew, eh, 20, 56, 1.1, 1, e, 16);
    free(buf);
    /* Best pair: one each side of the face centre line, similar sizes, the
     * most neighbours, not too steep. */
    double best = -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j)
                continue;
            double cxi = e[i].x + e[i].w / 2.0, cxj = e[j].x + e[j].w / 2.0;
            double cyi = e[i].y + e[i].h / 2.0, cyj = e[j].y + e[j].h / 2.0;
            if (!(cxi < FW / 2.0 && cxj > FW / 2.0))
                continue;
            double dx = cxj - cxi, dy = cyj - cyi;
            if (dx < FW * 0.2 || dx > FW * 0.75)
                continue;
            if (fabs(dy) > dx * 0.6)
                continue; /* steeper than ~30 deg */
            double ratio = (double) e[i].w / e[j].w;
            if (ratio < 0.6 || ratio > 1.67)
                continue;
            double score = e[i].n + e[j].n - fabs(dy) * 0.05;
            if (score > best) {
                best = score;
                d->eyes_found = 1;
                d->lx = f->x + cxi * k;
                d->ly = f->y + cyi * ky;
                d->rx = f->x + cxj * k;
                d->ry = f->y + cyj * ky;
            }
        }
    if (d->eyes_found)
        d->roll_deg = atan2(d->ry - d->ly, d->rx - d->lx) * 180.0 / M_PI;
    return d->eyes_found;
}

static double iris(
    const uint8_t *g, int W, int H, double F, double *x, double *y);
#define MID_HITS 6

/* Two irises at the places of a frontal face's eyes: clear dark blobs,
 * a plausible distance apart, near level.  Fills d's eyes. */
static int
iris_pair(const uint8_t *g, int W, int H, const photo_box_t *f, photo_det_t *d)
{
    double F = f->w;
    double lx = f->x + 0.31 * F, rx = f->x + 0.69 * F, ly = f->y + 0.40 * f->h,
           ry = ly;
    double cl = iris(g, W, H, F, &lx, &ly), cr = iris(g, W, H, F, &rx, &ry);
    double dx = rx - lx, dy = ry - ly;
    if (!(cl > 18 && cr > 18 && dx > 0.25 * F && dx < 0.6 * F
            && fabs(dy) < 0.36 * dx))
        return 0;
    d->lx = lx;
    d->ly = ly;
    d->rx = rx;
    d->ry = ry;
    d->eyes_found = 1;
    d->eyes_refined = 2;
    d->roll_deg = atan2(dy, dx) * 180.0 / M_PI;
    return 1;
}

/* Appends face b to d, the widest face kept first; eyes (found for b)
 * become the main face's eyes when b is the widest. */
static void
add_face(photo_det_t *d, const photo_box_t *b, const photo_det_t *eyes,
    photo_det_t *main_eyes)
{
    int k = d->nfaces++;

    d->faces[k] = *b;
    if (k == 0 || b->w > d->faces[0].w) {
        if (k) {
            d->faces[k] = d->faces[0];
            d->faces[0] = *b;
        }
        *main_eyes = *eyes;
    }
}

/* Verifies cascade hits (det coords, scale s) and adds them to d, the
 * largest face first.  A candidate counts as a face when the eye cascade
 * confirms it or the face cascade is very sure (many overlapping hits):
 * this removes most false positives on textures (coins, wheels). */
static void
add_faces(const uint8_t *grey, int W, int H, const casc_hit_t *hits, int n,
    double s, photo_det_t *d, photo_det_t *main_eyes)
{
    for (int i = 0; i < n && d->nfaces < PHOTO_MAX_FACES; i++) {
        photo_box_t b = { hits[i].x * s, hits[i].y * s, hits[i].w * s,
            hits[i].h * s, hits[i].n };
        photo_det_t tmp;
        memset(&tmp, 0, sizeof tmp);
        int eyes = find_eyes(grey, W, H, &b, &tmp);
        /* no eye pair from the cascade (hooded eyes, a smile, glasses):
         * two clear irises where a frontal face has them confirm a
         * candidate the face cascade is fairly sure of */
        if (!eyes && hits[i].n >= MID_HITS && hits[i].n < STRONG_HITS
            && iris_pair(grey, W, H, &b, &tmp))
            eyes = 1;
        if (!eyes && hits[i].n < STRONG_HITS)
            continue;
        add_face(d, &b, &tmp, main_eyes);
    }
}

/* The HOG window is 80 px: at scan scale 1 faces from ~75 px (in the
 * <= 480 px copy) are found, at 2 from ~37 px. */
#define HOG_MIN 75.0
/* HOG boxes run from the brows to the chin and are a little narrower than
 * the cascade's, which the geometry, the eye search and the matte were
 * measured with: a HOG find is given the box the cascade would have drawn
 * (median over 66 faces found by both: width x1.08, centre 0.10 w higher). */
#define HOG_TO_HAAR_W  1.08
#define HOG_TO_HAAR_DY 0.10
/* HOG score a find needs (dlib's own threshold is 0), and the score above
 * which it needs no second opinion: below it, badges and prints on
 * clothes score 0.1-0.3 at twice the size, small real faces 0.4-0.6. */
#define HOG_THR  0.0
#define HOG_SURE 0.5

/* Two boxes (centre, width) on the same place and of a like size. */
static int
same_face(double ax, double ay, double aw, double bx, double by, double bw)
{
    double m = aw > bw ? aw : bw;
    return fabs(ax - bx) < 0.4 * m && fabs(ay - by) < 0.4 * m && aw < 1.8 * bw
        && bw < 1.8 * aw;
}

/* A face of d already covers the box (centre cx, cy; width w). */
static int
known_face(const photo_det_t *d, double cx, double cy, double w)
{
    for (int k = 0; k < d->nfaces; k++) {
        const photo_box_t *f = &d->faces[k];
        if (same_face(f->x + f->w / 2, f->y + f->h / 2, f->w, cx, cy, w))
            return 1;
    }
    return 0;
}

/* Adds the HOG finds (working coords) that no face of d already covers,
 * each with its eye search like a cascade find; a find scoring under
 * HOG_SURE counts only with a second opinion: an eye pair from the eye
 * cascade, or a face-cascade hit (any, even one the cascade's own test
 * refused) on the same place and size. */
static void
add_hog(const uint8_t *grey, int W, int H, const photo_hog_box_t *hb, int n,
    const casc_hit_t *raw, int nraw, double s, photo_det_t *d,
    photo_det_t *main_eyes)
{
    for (int i = 0; i < n && d->nfaces < PHOTO_MAX_FACES; i++) {
        double w = hb[i].w * HOG_TO_HAAR_W;
        double cx = hb[i].x + hb[i].w / 2,
               cy = hb[i].y + hb[i].h / 2 - HOG_TO_HAAR_DY * hb[i].w;
        if (known_face(d, cx, cy, w))
            continue;
        int haar = 0;
        for (int k = 0; k < nraw && !haar; k++)
            haar = same_face((raw[k].x + raw[k].w / 2.0) * s,
                (raw[k].y + raw[k].h / 2.0) * s, raw[k].w * s, cx, cy, w);
        photo_box_t b = { cx - w / 2, cy - w / 2, w, w, 0 };
        photo_det_t tmp;
        memset(&tmp, 0, sizeof tmp);
        if (!find_eyes(grey, W, H, &b, &tmp)) {
            if (hb[i].score < HOG_SURE && !haar)
                continue;
            iris_pair(grey, W, H, &b, &tmp);
        }
        add_face(d, &b, &tmp, main_eyes);
    }
}

static int hog_verify(const uint8_t *grey, int W, int H, const casc_hit_t *raw,
    int nraw, double s, double hog_scale, photo_det_t *d,
    photo_det_t *main_eyes);

/* HOG over the grey copy: at scale 1 on the <= 480 px copy; again at up
 * to twice that size (from the working copy, which has the detail) when
 * faces under ~75 px there are wanted -- that is, unless the search's own
 * minimum is above it or the subject is so large that any face of half
 * its width is found at scale 1.  -1 out of memory. */
static int
hog_pass(const uint8_t *grey, int W, int H, const uint8_t *small, int dw,
    int dh, double s, int mins, const casc_hit_t *raw, int nraw, photo_det_t *d,
    photo_det_t *main_eyes)
{
    photo_hog_box_t hb[PHOTO_MAX_FACES];
    int n = photo_hog_detect(small, dw, dh, 1.0, HOG_THR, hb, PHOTO_MAX_FACES);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        hb[i].x *= s;
        hb[i].y *= s;
        hb[i].w *= s;
        hb[i].h *= s;
    }
    add_hog(grey, W, H, hb, n, raw, nraw, s, d, main_eyes);
    /* the second scan only goes as small as needed: to ~37 px, or, beside
     * a subject, to half its width (MULTIPLE_FACES counts no smaller) --
     * an ID photo's subject of 110 px here costs a 1.4x scan, not 2x */
    double biggest = d->nfaces ? d->faces[0].w / s : 0;
    double k = biggest > 0 ? HOG_MIN / (0.5 * biggest) : 2.0;
    if (k > 2.0)
        k = 2.0;
    if (mins >= HOG_MIN || k <= 1.05)
        return 0;
    n = photo_hog_detect(grey, W, H, k * dw / W, HOG_THR, hb, PHOTO_MAX_FACES);
    if (n < 0)
        return -1;
    add_hog(grey, W, H, hb, n, raw, nraw, s, d, main_eyes);
    return hog_verify(grey, W, H, raw, nraw, s, k, d, main_eyes);
}

/* Face-cascade hits too small for the HOG scans (under HOG_MIN at the
 * largest scale scanned) and not yet faces: each looked at again by HOG
 * in a patch round it, resampled so the face is ~100 px (a few ms a
 * patch).  Kept when HOG finds a face there of about that size. */
static int
hog_verify(const uint8_t *grey, int W, int H, const casc_hit_t *raw, int nraw,
    double s, double hog_scale, photo_det_t *d, photo_det_t *main_eyes)
{
    for (int k = 0; k < nraw && d->nfaces < PHOTO_MAX_FACES; k++) {
        double w = raw[k].w * s, cx = (raw[k].x + raw[k].w / 2.0) * s,
               cy = (raw[k].y + raw[k].h / 2.0) * s;
        if (raw[k].w * hog_scale * 0.85 >= HOG_MIN)
            continue;
        if (known_face(d, cx, cy, w))
            continue;
        int side = (int) (2.2 * w) + 1, x0 = (int) (cx - side / 2.0),
            y0 = (int) (cy - side / 2.0);
        uint8_t *p = malloc((size_t) side * side);
        if (!p)
            return -1;
        for (int y = 0; y < side; y++) {
            int sy = y0 + y < 0 ? 0 : y0 + y >= H ? H - 1 : y0 + y;
            for (int x = 0; x < side; x++) {
                int sx = x0 + x < 0 ? 0 : x0 + x >= W ? W - 1 : x0 + x;
                p[(size_t) y * side + x] = grey[(size_t) sy * W + sx];
            }
        }
        photo_hog_box_t hb[4];
        int             n =
            photo_hog_detect(p, side, side, 100.0 / (0.85 * w), HOG_THR, hb, 4);
        free(p);
        if (n < 0)
            return -1;
        for (int i = 0; i < n; i++) {
            hb[i].x += x0;
            hb[i].y += y0;
            double hw = hb[i].w * HOG_TO_HAAR_W;
            if (!same_face(hb[i].x + hb[i].w / 2,
                    hb[i].y + hb[i].h / 2 - HOG_TO_HAAR_DY * hb[i].w, hw, cx,
                    cy, w))
                continue;
            hb[i].score = HOG_SURE; /* two detectors agree */
            add_hog(grey, W, H, &hb[i], 1, NULL, 0, s, d, main_eyes);
            break;
        }
    }
    return 0;
}

static int
detect_pass(const uint8_t *grey, int W, int H, double min_frac, int use_hog,
    photo_det_t *d)
{
    memset(d, 0, sizeof *d);
    double s = 1.0;
    int    dw = W, dh = H;
    int    side = W > H ? W : H;
    if (side > PHOTO_DET_SIDE) {
        s = (double) side / PHOTO_DET_SIDE;
        dw = (int) (W / s);
        dh = (int) (H / s);
        if (dw < 1)
            dw = 1;
        if (dh < 1)
            dh = 1;
    }
    uint8_t *small = malloc((size_t) dw * dh);
    if (!small)
        return -1;
    resample(grey, W, H, 0, 0, W, H, small, dw, dh);
    casc_hit_t hits[PHOTO_MAX_FACES];
    int        maxs = dw < dh ? dw : dh;
    /* faces narrower than min_frac of the short side are not looked for */
    int mins = (int) (min_frac * maxs);
    if (mins < 20)
        mins = 20;
    /* Fast path for the ID-photo case: look for large faces first; when
     * the subject found there is so large that any face of half its width
     * is large too, the small scales (the costly ones: most windows) need
     * no search.  Otherwise one search over the whole range, so that
     * overlapping hits of all sizes are grouped together. */
    int big = (int) (0.12 * maxs);
    if (big < mins)
        big = mins;
    photo_det_t main_eyes;
    memset(&main_eyes, 0, sizeof main_eyes);
    int n = casc_detect(
        &casc_face, small, dw, dh, big, maxs, 1.1, 3, hits, PHOTO_MAX_FACES);
    if (n < 0) {
        free(small);
        return -1;
    }
    add_faces(grey, W, H, hits, n, s, d, &main_eyes);
    if (big > mins && !(d->nfaces && d->faces[0].w / s * 0.5 >= big)) {
        memset(d, 0, sizeof *d);
        memset(&main_eyes, 0, sizeof main_eyes);
        n = casc_detect(&casc_face, small, dw, dh, mins, maxs, 1.1, 3, hits,
            PHOTO_MAX_FACES);
        if (n < 0) {
            free(small);
            return -1;
        }
        add_faces(grey, W, H, hits, n, s, d, &main_eyes);
    }
    if (use_hog
        && hog_pass(grey, W, H, small, dw, dh, s, mins, hits, n, d, &main_eyes))
    {
        free(small);
        return -1;
    }
    free(small);
    d->eyes_found = main_eyes.eyes_found;
    d->lx = main_eyes.lx;
    d->ly = main_eyes.ly;
    d->rx = main_eyes.rx;
    d->ry = main_eyes.ry;
    d->roll_deg = main_eyes.roll_deg;
    return 0;
}

/* Grey image rotated by deg about its centre (same size, grey fill). */
static void
rotate_grey(const uint8_t *src, int w, int h, double deg, uint8_t *dst)
{
    double c = cos(deg * M_PI / 180), sn = sin(deg * M_PI / 180);
    double cx = w / 2.0, cy = h / 2.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x - cx, dy = y - cy;
            int    sx = (int) lround(cx + c * dx - sn * dy),
                sy = (int) lround(cy + sn * dx + c * dy);
            dst[(size_t) y * w + x] = (sx >= 0 && sx < w && sy >= 0 && sy < h)
                ? src[(size_t) sy * w + sx]
                : 128;
        }
}

static void
unrotate(double deg, int w, int h, double *x, double *y)
{
    double c = cos(deg * M_PI / 180), sn = sin(deg * M_PI / 180);
    double cx = w / 2.0, cy = h / 2.0, dx = *x - cx, dy = *y - cy;
    *x = cx + c * dx - sn * dy;
    *y = cy + sn * dx + c * dy;
}

/* The iris near (*x, *y): in a window of 0.18 F x 0.12 F, the centroid of
 * the darkest pixels (below the window's 12th percentile, weighted by how
 * much darker) of a lightly smoothed copy.  The iris and pupil are the
 * largest dark blob of an eye whether the lid hides half of it (hooded
 * eyes, a smile) or not; the cascade's box centre is only within a few
 * px.  Returns the blob's contrast (window median - percentile), 0 if
 * the window is off the picture. */
static double
iris(const uint8_t *g, int W, int H, double F, double *x, double *y)
{
    int hw = (int) (0.09 * F) + 1, hh = (int) (0.06 * F) + 1,
        r = (int) (F / 90);
    int x0 = (int) *x - hw, y0 = (int) *y - hh, ww = 2 * hw + 1,
        wh = 2 * hh + 1;
    if (x0 - r < 0 || y0 - r < 0 || x0 + ww + r > W || y0 + wh + r > H)
        return 0;
    float *v = malloc(sizeof(float) * (size_t) ww * wh);
    if (!v)
        return 0;
    int hist[256] = { 0 };
    for (int j = 0; j < wh; j++)
        for (int i = 0; i < ww; i++) {
            int s = 0, n = 0;
            for (int b = -r; b <= r; b++)
                for (int a = -r; a <= r; a++) {
                    s += g[(size_t) (y0 + j + b) * W + x0 + i + a];
                    n++;
                }
            v[j * ww + i] = (float) s / n;
            hist[(int) (s / n)]++;
        }
    int tot = ww * wh, c = 0, p12 = 0, p50 = 0;
    for (int k = 0; k < 256; k++) {
        c += hist[k];
        if (!p12 && c >= tot * 0.12)
            p12 = k + 1;
        if (!p50 && c >= tot * 0.5) {
            p50 = k;
            break;
        }
    }
    double sw = 0, sx = 0, sy = 0;
    for (int j = 0; j < wh; j++)
        for (int i = 0; i < ww; i++) {
            double wgt = p12 - v[j * ww + i];
            if (wgt <= 0)
                continue;
            sw += wgt;
            sx += wgt * i;
            sy += wgt * j;
        }
    free(v);
    if (sw <= 0)
        return 0;
    *x = x0 + sx / sw;
    *y = y0 + sy / sw;
    return p50 - p12;
}

/* Limbus fit (issue 10, rule 5).  The dark-pixel centroid of iris() is
 * pulled by the upper lashes and the lid's shadow (4-6 px of a 240 px
 * face above the pupil on a smile).  The iris's own outline is not:
 * left and right of the pupil, where the lids leave it visible, it is a
 * dark-to-bright step onto the sclera.  Each eye's patch is resampled so
 * the face is LB_FACE px wide, catchlights are removed (a grey opening),
 * and circles of the iris's plausible radii are scored by the outward
 * gradient on their two side arcs (the top and bottom are under the lids
 * on hooded eyes and smiles; a glasses frame or a lash line, being
 * horizontal, gives side arcs almost nothing): the weaker arc's mean, so
 * one strong edge (a wrinkle, the end of a frame) is not a circle.  Both
 * eyes share one radius. */
#define LB_FACE  240.0
#define LB_HALF  30 /* patch half-size, patch px */
#define LB_N     (2 * LB_HALF + 1)
#define LB_SRCH  10    /* centre search, +- patch px round the centroid */
#define LB_R0    5.0   /* iris radii searched, patch px: 0.021-0.05 F */
#define LB_NR    8     /* LB_R0 .. LB_R0 + 7 in 1 px steps */
#define LB_ARC   5     /* side arcs: +-40 degrees in 8-degree steps */
#define LB_MIN_F 110.0 /* working px of face the fit needs */

typedef struct {
    float  gx[LB_N * LB_N], gy[LB_N * LB_N];
    double cx, cy; /* working coords of the patch centre */
    double q;      /* working px per patch px */
} lb_patch_t;

static double
lb_bilin(const float *p, double x, double y)
{
    int    i = (int) x, j = (int) y;
    double fx = x - i, fy = y - j;
    if (i < 0 || j < 0 || i >= LB_N - 1 || j >= LB_N - 1)
        return 0;
    const float *a = p + (size_t) j * LB_N + i;
    return (1 - fy) * ((1 - fx) * a[0] + fx * a[1])
        + fy * ((1 - fx) * a[LB_N] + fx * a[LB_N + 1]);
}

/* The picture a patch is sampled from: the working copy's grey, or the
 * JPEG decode it was resampled from (RGB, s source px per working px),
 * which has up to twice its detail on a 12 MP photo. */
typedef struct {
    const uint8_t *px;
    int            W, H, bpp;
    double         s;
} lb_src_t;

static double
lb_grey(const lb_src_t *src, int x, int y)
{
    const uint8_t *p = src->px + ((size_t) y * src->W + x) * src->bpp;
    return src->bpp == 1 ? p[0]
                         : (299 * p[0] + 587 * p[1] + 114 * p[2]) / 1000.0;
}

/* The grey round (cx, cy) (working coords) at LB_FACE scale (2x2 taps
 * when shrinking), opened by a 5 px disc (removes catchlights), and its
 * Sobel gradient.  0 if the patch leaves the picture. */
static int
lb_patch(const lb_src_t *src, double F, double cx, double cy, lb_patch_t *p)
{
    /* the 5 px disc: the half-width of each of its rows */
    static const int disc[5] = { 0, 2, 2, 2, 0 };
    float            v[LB_N * LB_N], t[LB_N * LB_N];
    double q = F * src->s / LB_FACE, o = q > 1 ? q / 4 : 0, sx0 = cx * src->s,
           sy0 = cy * src->s;
    if (sx0 - (LB_HALF + 1) * q - o < 0 || sy0 - (LB_HALF + 1) * q - o < 0
        || sx0 + (LB_HALF + 1) * q + o >= src->W - 1
        || sy0 + (LB_HALF + 1) * q + o >= src->H - 1)
        return 0;
    p->cx = cx;
    p->cy = cy;
    p->q = F / LB_FACE;
    for (int j = 0; j < LB_N; j++)
        for (int i = 0; i < LB_N; i++) {
            double x = sx0 + (i - LB_HALF) * q, y = sy0 + (j - LB_HALF) * q,
                   s = 0;
            for (int k = 0; k < 4; k++) {
                double sx = x + (k & 1 ? o : -o), sy = y + (k & 2 ? o : -o);
                int    a = (int) sx, b = (int) sy;
                double fx = sx - a, fy = sy - b;
                s += (1 - fy)
                        * ((1 - fx) * lb_grey(src, a, b)
                            + fx * lb_grey(src, a + 1, b))
                    + fy
                        * ((1 - fx) * lb_grey(src, a, b + 1)
                            + fx * lb_grey(src, a + 1, b + 1));
            }
            v[j * LB_N + i] = (float) (s / 4);
        }
    /* opening: the min over the disc, then the max over it */
    for (int pass = 0; pass < 2; pass++) {
        const float *src = pass ? t : v;
        float       *dst = pass ? v : t;
        for (int j = 0; j < LB_N; j++)
            for (int i = 0; i < LB_N; i++) {
                float m = src[j * LB_N + i];
                for (int b = -2; b <= 2; b++) {
                    int y = j + b, hw = disc[b + 2];
                    if (y < 0 || y >= LB_N)
                        continue;
                    for (int a = -hw; a <= hw; a++) {
                        int x = i + a;
                        if (x < 0 || x >= LB_N)
                            continue;
                        float s = src[y * LB_N + x];
                        if (pass ? s > m : s < m)
                            m = s;
                    }
                }
                dst[j * LB_N + i] = m;
            }
    }
    for (int j = 0; j < LB_N; j++)
        for (int i = 0; i < LB_N; i++) {
            int k = j * LB_N + i;
            if (!i || !j || i == LB_N - 1 || j == LB_N - 1) {
                p->gx[k] = p->gy[k] = 0;
                continue;
            }
            const float *a = v + k;
            p->gx[k] = (a[-LB_N + 1] + 2 * a[1] + a[LB_N + 1] - a[-LB_N - 1]
                           - 2 * a[-1] - a[LB_N - 1])
                / 8;
            p->gy[k] = (a[LB_N - 1] + 2 * a[LB_N] + a[LB_N + 1] - a[-LB_N - 1]
                           - 2 * a[-LB_N] - a[-LB_N + 1])
                / 8;
        }
    return 1;
}

/* The weaker side arc's mean outward gradient of circle (x, y, r). */
static double
lb_score(const lb_patch_t *p, double x, double y, double r)
{
    static double cs[2 * LB_ARC + 1], sn[2 * LB_ARC + 1];
    if (!cs[0])
        for (int a = -LB_ARC; a <= LB_ARC; a++) {
            cs[a + LB_ARC] = cos(a * 8 * M_PI / 180);
            sn[a + LB_ARC] = sin(a * 8 * M_PI / 180);
        }
    double s[2] = { 0, 0 };
    for (int a = 0; a <= 2 * LB_ARC; a++) {
        double c = cs[a], n = sn[a], dx = r * c, y1 = y + r * n;
        /* right arc (outward (c, n)), left arc (outward (-c, n)) */
        s[0] +=
            c * lb_bilin(p->gx, x + dx, y1) + n * lb_bilin(p->gy, x + dx, y1);
        s[1] +=
            n * lb_bilin(p->gy, x - dx, y1) - c * lb_bilin(p->gx, x - dx, y1);
    }
    return (s[0] < s[1] ? s[0] : s[1]) / (2 * LB_ARC + 1);
}

/* Best centre of each radius over the search window (1 px steps). */
static void
lb_scan(const lb_patch_t *p, double *best, int *bx, int *by)
{
    for (int k = 0; k < LB_NR; k++) {
        double r = LB_R0 + k;
        best[k] = -1e9;
        for (int j = -LB_SRCH; j <= LB_SRCH; j++)
            for (int i = -LB_SRCH; i <= LB_SRCH; i++) {
                double s = lb_score(p, LB_HALF + i, LB_HALF + j, r);
                if (s > best[k]) {
                    best[k] = s;
                    bx[k] = LB_HALF + i;
                    by[k] = LB_HALF + j;
                }
            }
    }
}

/* Sub-pixel: the best of a 0.25 px grid round (*x, *y). */
static double
lb_polish(const lb_patch_t *p, double *x, double *y, double r)
{
    double bs = -1e9, bx = *x, by = *y;
    for (int j = -3; j <= 3; j++)
        for (int i = -3; i <= 3; i++) {
            double s = lb_score(p, *x + 0.25 * i, *y + 0.25 * j, r);
            if (s > bs) {
                bs = s;
                bx = *x + 0.25 * i;
                by = *y + 0.25 * j;
            }
        }
    *x = bx;
    *y = by;
    return bs;
}

/* Both eyes of d (working coords, face width F) moved to the centres of
 * their iris outlines, when the outline is a circle of a definite size:
 * the pair's score peaks at a radius inside the range and falls off
 * towards its largest circles (an iris ends at the sclera; a dark socket,
 * wrinkles or a frame round a deep-set eye only keep scoring as the circle
 * grows, and there the centroid is kept), and neither eye moved more than
 * 0.05 F.  Returns 1 when moved. */
static int
limbus_pair(const photo_img_t *im, const uint8_t *g, double F, photo_det_t *d)
{
    lb_src_t src = { g, im->w, im->h, 1, 1.0 };
    if (im->dec && im->dec_w > im->w)
        src = (lb_src_t){ im->dec, im->dec_w, im->dec_h, 3,
            (double) im->dec_w / im->w };
    /* below ~140 px of face (a small face in a large photo) the iris's
     * radius is under ~4 px: its outline is not resolved, the centroid
     * is kept */
    if (F * src.s < LB_MIN_F)
        return 0;
    lb_patch_t *pl = malloc(2 * sizeof *pl), *pr = pl + 1;
    if (!pl)
        return 0;
    int ok = lb_patch(&src, F, d->lx, d->ly, pl)
        && lb_patch(&src, F, d->rx, d->ry, pr);
    if (ok) {
        double bl[LB_NR], br[LB_NR];
        int    xl[LB_NR], yl[LB_NR], xr[LB_NR], yr[LB_NR], kb = 0;
        lb_scan(pl, bl, xl, yl);
        lb_scan(pr, br, xr, yr);
        for (int k = 1; k < LB_NR; k++)
            if (bl[k] + br[k] > bl[kb] + br[kb])
                kb = k;
        double s = bl[kb] + br[kb], send = bl[LB_NR - 1] + br[LB_NR - 1];
        /* sub-pixel centres at the radius and half a px either side */
        double lx = 0, ly = 0, rx = 0, ry = 0, sl = 0, sr = 0;
        for (int h = -1; h <= 1; h++) {
            double r1 = LB_R0 + kb + 0.5 * h, x1 = xl[kb], y1 = yl[kb],
                   x2 = xr[kb], y2 = yr[kb];
            double s1 = lb_polish(pl, &x1, &y1, r1),
                   s2 = lb_polish(pr, &x2, &y2, r1);
            if (h == -1 || s1 + s2 > sl + sr) {
                lx = x1;
                ly = y1;
                rx = x2;
                ry = y2;
                sl = s1;
                sr = s2;
            }
        }
        ok = kb < LB_NR - 1 && s > 1.15 * send && sl > 2 && sr > 2
            && hypot(lx - LB_HALF, ly - LB_HALF) < 0.05 * LB_FACE
            && hypot(rx - LB_HALF, ry - LB_HALF) < 0.05 * LB_FACE;
        if (ok) {
            d->lx = pl->cx + (lx - LB_HALF) * pl->q;
            d->ly = pl->cy + (ly - LB_HALF) * pl->q;
            d->rx = pr->cx + (rx - LB_HALF) * pr->q;
            d->ry = pr->cy + (ry - LB_HALF) * pr->q;
        }
    }
    free(pl);
    return ok;
}

/* Eyes of the main face to a couple of px: the cascade pair refined on the
 * iris; with no pair (hooded eyes, glasses, a broad smile can defeat the
 * eye cascade) the irises looked for where a frontal face has them, kept
 * when both are clear dark blobs on a near-level line. */
static void
refine_eyes(const photo_img_t *im, const uint8_t *g, photo_det_t *d)
{
    int W = im->w, H = im->h;
    if (!d->nfaces)
        return;
    const photo_box_t *f = &d->faces[0];
    double             F = f->w;
    double             lx = d->lx, ly = d->ly, rx = d->rx, ry = d->ry;
    if (!d->eyes_found) {
        lx = f->x + 0.31 * F;
        rx = f->x + 0.69 * F;
        ly = ry = f->y + 0.40 * f->h;
    }
    double cl = iris(g, W, H, F, &lx, &ly), cr = iris(g, W, H, F, &rx, &ry);
    double dx = rx - lx, dy = ry - ly;
    int    sane = dx > 0.25 * F && dx < 0.6 * F && fabs(dy) < 0.36 * dx;
    if (d->eyes_found) {
        /* keep the refinement only if it stayed near the cascade's eyes */
        if (cl > 8 && cr > 8 && sane && hypot(lx - d->lx, ly - d->ly) < 0.07 * F
            && hypot(rx - d->rx, ry - d->ry) < 0.07 * F)
        {
            d->lx = lx;
            d->ly = ly;
            d->rx = rx;
            d->ry = ry;
            d->eyes_refined = 1;
        }
    } else {
        iris_pair(g, W, H, f, d);
    }
    if (d->eyes_found && d->eyes_refined)
        d->eyes_limbus = limbus_pair(im, g, F, d);
    if (d->eyes_found)
        d->roll_deg = atan2(d->ry - d->ly, d->rx - d->lx) * 180.0 / M_PI;
}

int
photo_detect(
    const photo_img_t *im, const uint8_t *grey, double min_frac, photo_det_t *d)
{
    if (detect_pass(grey, im->w, im->h, min_frac, 1, d))
        return -1;
    if (d->nfaces)
        refine_eyes(im, grey, d);
    if (d->nfaces && d->eyes_found)
        return 0;
    /* The frontal cascade stops near 20 degrees of roll, the eye cascade
     * too (HOG's rolled filters find faces to ~40 degrees, without eyes):
     * with no face, or a main face without eyes, look again with the
     * cascades in copies turned both ways, so a strongly tilted head is
     * reported as HEAD_TILTED with its angle. */
    static const double turns[] = { 25, -25 };
    uint8_t            *rg = malloc((size_t) im->w * im->h);
    if (!rg)
        return -1;
    for (size_t t = 0; t < sizeof turns / sizeof *turns; t++) {
        photo_det_t r;
        rotate_grey(grey, im->w, im->h, turns[t], rg);
        if (detect_pass(rg, im->w, im->h, min_frac, 0, &r)) {
            free(rg);
            return -1;
        }
        if (!r.nfaces)
            continue;
        /* back to upright-input coordinates: box centres and eyes */
        for (int i = 0; i < r.nfaces; i++) {
            photo_box_t *b = &r.faces[i];
            double       x = b->x + b->w / 2, y = b->y + b->h / 2;
            unrotate(turns[t], im->w, im->h, &x, &y);
            b->x = x - b->w / 2;
            b->y = y - b->h / 2;
        }
        if (r.eyes_found) {
            unrotate(turns[t], im->w, im->h, &r.lx, &r.ly);
            unrotate(turns[t], im->w, im->h, &r.rx, &r.ry);
            r.roll_deg = atan2(r.ry - r.ly, r.rx - r.lx) * 180.0 / M_PI;
        }
        if (d->nfaces) {
            /* the main face seen turned: only its eyes (and the turned
             * cascade's box) are taken, the other faces stay */
            const photo_box_t *f = &d->faces[0], *g = &r.faces[0];
            if (!r.eyes_found
                || fabs(f->x + f->w / 2 - g->x - g->w / 2) > 0.4 * f->w
                || fabs(f->y + f->h / 2 - g->y - g->h / 2) > 0.4 * f->w)
                continue;
            d->faces[0] = *g;
            d->eyes_found = 1;
            d->lx = r.lx;
            d->ly = r.ly;
            d->rx = r.rx;
            d->ry = r.ry;
            d->roll_deg = r.roll_deg;
            d->eyes_refined = 0;
        } else {
            *d = r;
        }
        refine_eyes(im, grey, d);
        break;
    }
    free(rg);
    return 0;
}
