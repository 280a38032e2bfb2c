/*
 * photo_matte.c -- the wall replaced by the spec colour (issue 10, rule 3).
 *
 * On the framed output (spec size, face at spec scale), classical matting:
 *  1. a trimap from the face geometry: wall for sure above the hair top
 *     and far beside the head; person for sure on a face ellipse, the neck
 *     and the torso core under it; outside the source is wall;
 *  2. a wall colour model fitted to the sure-wall pixels (per channel
 *     1, x, y, x^2 by robust least squares), so gradients, vignetting and
 *     a soft shadow are part of "the wall";
 *  3. the wall grown from its seeds through pixels near the wall model AND
 *     without an edge (so a white shirt on a white wall stops at its
 *     outline), never into the sure person; person pieces not joined to
 *     the sure person are wall;
 *  4. per-pixel alpha: the binary mask refined by a guided filter with the
 *     picture as guide (soft hair and shoulder edges);
 *  5. composite with colour decontamination: out = I + (1 - a)(S - B),
 *     i.e. the wall's share B of a mixed edge pixel is swapped for the
 *     spec colour S -- no pale halo of the old wall.
 */
#include "photo_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    UNK = 0,
    SEED = 1,
    FG = 2,
    BGF = 3
};

/* Solves the n x n system a x = b in place (partial pivoting). */
static int
solve(double *a, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
                p = r;
        if (fabs(a[p * n + c]) < 1e-12)
            return -1;
        if (p != c) {
            for (int k = 0; k < n; k++) {
                double t = a[c * n + k];
                a[c * n + k] = a[p * n + k];
                a[p * n + k] = t;
            }
            double t = b[c];
            b[c] = b[p];
            b[p] = t;
        }
        for (int r = 0; r < n; r++) {
            if (r == c)
                continue;
            double f = a[r * n + c] / a[c * n + c];
            for (int k = c; k < n; k++)
                a[r * n + k] -= f * a[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = 0; c < n; c++)
        b[c] /= a[c * n + c];
    return 0;
}

enum {
    NB = 4
};
typedef struct {
    double c[3][NB];
    double ymax;
    int    w, h;
} wall_t;

static void
basis(const wall_t *wm, double x, double y, double *f)
{
    double xn = x / wm->w - 0.5,
           yn = (y < wm->ymax ? y : wm->ymax) / wm->h - 0.5;
    f[0] = 1;
    f[1] = xn;
    f[2] = yn;
    f[3] = xn * xn;
}

static void
wall_at(const wall_t *wm, int x, int y, double *b)
{
    double f[NB];
    basis(wm, x, y, f);
    for (int c = 0; c < 3; c++) {
        double v = 0;
        for (int k = 0; k < NB; k++)
            v += wm->c[c][k] * f[k];
        b[c] = v;
    }
}

/* L1 distance of pixel p from colour b. */
static double
l1(const uint8_t *p, const double *b)
{
    return fabs(p[0] - b[0]) + fabs(p[1] - b[1]) + fabs(p[2] - b[2]);
}

/* L1 distance of p's chroma (each channel's share of the sum) from b's:
 * the same surface in more or less light is near 0. */
static double
chroma_l1(const uint8_t *p, const double *b)
{
    double sp = p[0] + p[1] + p[2] + 1, sb = b[0] + b[1] + b[2] + 1, d = 0;
    for (int c = 0; c < 3; c++)
        d += fabs(p[c] / sp - b[c] / sb);
    return d;
}

/* Robust fit of the wall model on the SEED pixels; returns the mean L1
 * residual of the kept samples, or -1 with too few samples. */
static double
wall_fit(const uint8_t *px, const uint8_t *lab, int w, int h, wall_t *wm)
{
    memset(wm, 0, sizeof *wm);
    wm->w = w;
    wm->h = h;
    int  ymax = 0;
    long n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (lab[(size_t) y * w + x] == SEED) {
                n++;
                if (y > ymax)
                    ymax = y;
            }
    if (n < 60)
        return -1;
    wm->ymax = ymax + 0.05 * h;
    double sigma = 1e9;
    for (int pass = 0; pass < 3; pass++) {
        double A[3][NB * NB], B[3][NB];
        memset(A, 0, sizeof A);
        memset(B, 0, sizeof B);
        long   used = 0;
        double res = 0;
        for (int y = 0; y < h; y += 2)
            for (int x = 0; x < w; x += 2) {
                size_t i = (size_t) y * w + x;
                if (lab[i] != SEED)
                    continue;
                const uint8_t *p = px + 3 * i;
                if (pass) {
                    double b[3];
                    wall_at(wm, x, y, b);
                    if (l1(p, b) > fmax(3 * sigma, 12))
                        continue;
                }
                double f[NB];
                basis(wm, x, y, f);
                for (int c = 0; c < 3; c++) {
                    for (int a = 0; a < NB; a++) {
                        for (int b = 0; b < NB; b++)
                            A[c][a * NB + b] += f[a] * f[b];
                        B[c][a] += f[a] * p[c];
                    }
                }
                used++;
            }
        if (used < 30)
            return pass ? sigma : -1;
        for (int c = 0; c < 3; c++) {
            for (int a = 0; a < NB; a++)
                A[c][a * NB + a] += 1e-6 * used; /* ridge */
            if (solve(A[c], B[c], NB))
                return -1;
            memcpy(wm->c[c], B[c], sizeof B[c]);
        }
        long k = 0;
        for (int y = 0; y < h; y += 2)
            for (int x = 0; x < w; x += 2) {
                size_t i = (size_t) y * w + x;
                if (lab[i] != SEED)
                    continue;
                const uint8_t *p = px + 3 * i;
                double         b[3];
                wall_at(wm, x, y, b);
                double r = l1(p, b);
                if (pass && r > fmax(3 * sigma, 12))
                    continue;
                res += r;
                k++;
            }
        sigma = k ? res / k : 0;
    }
    return sigma;
}

/* Box mean of radius r (separable running sums), in -> out (may alias
 * in).  The vertical pass runs row by row with one running sum per column
 * (w <= 4000, the spec's range): the same additions in the same order as
 * a column walk, without a cache miss per pixel. */
static void
box(const float *in, float *out, float *tmp, int w, int h, int r)
{
    double cols[w];
    memset(cols, 0, sizeof cols);
    for (int y = 0; y < h; y++) {
        const float *row = in + (size_t) y * w;
        float       *t = tmp + (size_t) y * w;
        double       s = 0;
        int          n = 0;
        for (int x = 0; x < r && x < w; x++) {
            s += row[x];
            n++;
        }
        for (int x = 0; x < w; x++) {
            if (x + r < w) {
                s += row[x + r];
                n++;
            }
            if (x - r - 1 >= 0) {
                s -= row[x - r - 1];
                n--;
            }
            t[x] = (float) (s / n);
        }
    }
    int n = 0;
    for (int y = 0; y < r && y < h; y++) {
        const float *t = tmp + (size_t) y * w;
        for (int x = 0; x < w; x++)
            cols[x] += t[x];
        n++;
    }
    for (int y = 0; y < h; y++) {
        const float *add = y + r < h ? tmp + (size_t) (y + r) * w : NULL;
        const float *sub =
            y - r - 1 >= 0 ? tmp + (size_t) (y - r - 1) * w : NULL;
        float *o = out + (size_t) y * w;
        n += (add != NULL) - (sub != NULL);
        for (int x = 0; x < w; x++) {
            if (add)
                cols[x] += add[x];
            if (sub)
                cols[x] -= sub[x];
            o[x] = (float) (cols[x] / n);
        }
    }
}

/* Guided filter (He et al.): p filtered with the grey guide I, in place. */
static int
guided(const float *I, float *p, int w, int h, int r, float eps)
{
    size_t n = (size_t) w * h;
    float *buf = malloc(sizeof(float) * n * 6);
    if (!buf)
        return -1;
    float *mI = buf, *mp = buf + n, *mII = buf + 2 * n, *mIp = buf + 3 * n,
          *tmp = buf + 4 * n, *t2 = buf + 5 * n;
    box(I, mI, tmp, w, h, r);
    box(p, mp, tmp, w, h, r);
    for (size_t i = 0; i < n; i++)
        t2[i] = I[i] * I[i];
    box(t2, mII, tmp, w, h, r);
    for (size_t i = 0; i < n; i++)
        t2[i] = I[i] * p[i];
    box(t2, mIp, tmp, w, h, r);
    /* a -> mII, b -> mIp */
    for (size_t i = 0; i < n; i++) {
        float var = mII[i] - mI[i] * mI[i], cov = mIp[i] - mI[i] * mp[i];
        float a = cov / (var + eps);
        mII[i] = a;
        mIp[i] = mp[i] - a * mI[i];
    }
    box(mII, mI, tmp, w, h, r);
    box(mIp, mp, tmp, w, h, r);
    for (size_t i = 0; i < n; i++)
        p[i] = mI[i] * I[i] + mp[i];
    free(buf);
    return 0;
}

/*
 * The skin guard.  A wall of the face's own colour (beige, cream) gives the
 * growth no colour step at a jaw or a cheek with no shadow under it: it
 * ran through the gap between the hair and the collar into the jaw (a
 * hole in the face).  Beside the face, from the eye line to 0.75 F below
 * it and within +-0.58 F of its centre, a pixel whose chroma is nearer the
 * face's than the wall's is not wall.  The face colour is the median of
 * the cheeks under the eyes.
 */
typedef struct {
    double c[3], F, cx, ye;
    int    ok;
} skin_t;

static int
cmp_u8(const void *a, const void *b)
{
    return *(const uint8_t *) a - *(const uint8_t *) b;
}

static void
skin_fit(
    const uint8_t *px, int w, int h, double F, double cx, double ye, skin_t *sk)
{
    enum {
        MAXS = 4096
    };
    uint8_t v[3][MAXS];
    int     n = 0;
    memset(sk, 0, sizeof *sk);
    sk->F = F;
    sk->cx = cx;
    sk->ye = ye;
    /* the cheeks: under the eyes, beside the nose, above the mouth */
    for (int y = (int) (ye + 0.12 * F); y < ye + 0.30 * F && y < h; y += 2)
        for (int side = -1; side <= 1; side += 2)
            for (int x = (int) (cx + side * 0.28 * F);
                 side < 0 ? x < cx - 0.12 * F : x > cx + 0.12 * F;
                 x -= side * 2)
            {
                if (x < 0 || x >= w || y < 0 || n >= MAXS)
                    continue;
                for (int c = 0; c < 3; c++)
                    v[c][n] = px[3 * ((size_t) y * w + x) + c];
                n++;
            }
    if (n < 50)
        return;
    for (int c = 0; c < 3; c++) {
        qsort(v[c], (size_t) n, 1, cmp_u8);
        sk->c[c] = v[c][n / 2];
    }
    sk->ok = 1;
}

static int
head_skin(const skin_t *sk, const uint8_t *p, const double *b, int x, int y)
{
    if (!sk->ok || y < sk->ye || y > sk->ye + 0.75 * sk->F
        || fabs(x - sk->cx) > 0.58 * sk->F)
        return 0;
    /* by chroma: a jaw in its own shade is darker than the cheeks */
    return chroma_l1(p, sk->c) < chroma_l1(p, b);
}

int
photo_matte(uint8_t *px, const uint8_t *inside, int w, int h,
    const photo_frame_t *fr, const photo_spec_t *s, json_t *m)
{
    size_t   n = (size_t) w * h;
    uint8_t *lab = calloc(n, 1);
    float *grey = malloc(sizeof(float) * n), *alpha = malloc(sizeof(float) * n);
    uint8_t *grad = malloc(n);
    int     *stack = malloc(sizeof(int) * n);
    int      ret = -1;
    if (!lab || !grey || !alpha || !grad || !stack)
        goto out;
    const double F = fr->face_w, cx = fr->cx, ye = fr->ye;
    /* 1. trimap */
    const double ay = fmax(0.55 * F, ye + 0.12 * F - (fr->hair_top + 0.08 * F));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t) y * w + x;
            if (!inside[i])
                continue;
            double dx = x - cx;
            /* the face ellipse, its top stretched up to just under the
             * measured hair top: a bald scalp or fair hair as bright as
             * the wall stays person */
            double ex = dx / (0.40 * F),
                   ey = (y - (ye + 0.12 * F))
                / (y < ye + 0.12 * F ? ay : 0.55 * F);
            double hw = 0;
            if (y > ye + 0.45 * F)
                hw = 0.22 * F;
            if (y > ye + 1.0 * F)
                hw = fmin(0.22 * F + (y - ye - 1.0 * F) * 1.2, 0.55 * F);
            /* the shoulders: an adult's are about +-1.1 F wide a face below
             * the chin, a child's +-0.9 F; +-0.75 F is person for sure, so a
             * jacket or shirt of the wall's colour is not taken as wall */
            if (y > ye + 1.5 * F)
                hw = fmin(0.55 * F + (y - ye - 1.5 * F) * 0.6, 0.75 * F);
            /* above its centre a head is broader than an ellipse */
            double r = y < ye + 0.12 * F ? pow(fabs(ex), 3) + pow(fabs(ey), 3)
                                         : ex * ex + ey * ey;
            if (r <= 1 || fabs(dx) < hw)
                lab[i] = FG;
            else if (y < fr->hair_top - 8
                || (y < ye && fabs(dx) > 0.9 * F && (x < 10 || x >= w - 10)))
                lab[i] = SEED;
        }
    /* 2. wall model */
    wall_t wm;
    double sigma = wall_fit(px, lab, w, h, &wm);
    json_object_set_new(
        m, "matte_wall_residual", json_real(round(sigma * 10) / 10));
    if (sigma < 0) {
        /* no wall visible over the head: the mean of the in-source top rows */
        double sum[3] = { 0 };
        long   k = 0;
        for (int y = 0; y < h / 10; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t) y * w + x;
                if (!inside[i])
                    continue;
                for (int c = 0; c < 3; c++)
                    sum[c] += px[3 * i + c];
                k++;
            }
        memset(&wm, 0, sizeof wm);
        wm.w = w;
        wm.h = h;
        wm.ymax = h;
        for (int c = 0; c < 3; c++)
            wm.c[c][0] = k ? sum[c] / k : 0;
        sigma = 8;
    }
    /* grey (smoothed 3x3) and its gradient */
    for (size_t i = 0; i < n; i++)
        grey[i] = (0.299f * px[3 * i] + 0.587f * px[3 * i + 1]
                      + 0.114f * px[3 * i + 2])
            / 255.0f;
    box(grey, alpha, (float *) stack, w, h, 1); /* alpha: scratch */
    int  hist[256] = { 0 };
    long nseed = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t) y * w + x;
            if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
                grad[i] = 0;
                continue;
            }
            const float *a = alpha;
            float gx = a[i + 1 - w] + 2 * a[i + 1] + a[i + 1 + w] - a[i - 1 - w]
                - 2 * a[i - 1] - a[i - 1 + w];
            float gy = a[i - 1 + w] + 2 * a[i + w] + a[i + 1 + w] - a[i - 1 - w]
                - 2 * a[i - w] - a[i + 1 - w];
            float g = (fabsf(gx) + fabsf(gy)) * 255.0f / 8.0f * 4.0f;
            grad[i] = (uint8_t) (g > 255 ? 255 : g);
            if (lab[i] == SEED) {
                hist[grad[i]]++;
                nseed++;
            }
        }
    int gt = 255;
    if (nseed) {
        long c = 0;
        for (int k = 0; k < 256; k++) {
            c += hist[k];
            if (c >= nseed * 0.98) {
                gt = k;
                break;
            }
        }
    }
    gt = (int) fmax(14, fmin(60, gt * 1.5 + 4));
    double thr = fmax(22, 4 * sigma);
    json_object_set_new(m, "matte_colour_thr", json_real(round(thr)));
    json_object_set_new(m, "matte_edge_thr", json_integer(gt));
    /* The body goes on below the frame: in the bottom rows, below the
     * shoulders, what is unlike the wall is person (a suit's sleeve or
     * collar at the frame's corner, which a wall pocket between it and
     * the torso could otherwise cut off from the sure person). */
    for (int y = h - 2; y < h && y > ye + 1.2 * F; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t) y * w + x;
            double b[3];
            if (!inside[i] || lab[i] != UNK)
                continue;
            wall_at(&wm, x, y, b);
            const uint8_t *p = px + 3 * i;
            /* not a shadow on the wall either (the wall's chroma) */
            if (l1(p, b) >= 2 * thr && chroma_l1(p, b) >= 0.04)
                lab[i] = FG;
        }
    /* the face's own colour, for the skin guard (head_skin) */
    skin_t sk;
    skin_fit(px, w, h, F, cx, ye, &sk);
    /* 3. grow the wall from its seeds */
    int sp = 0;
    /* a wall pixel: no edge, and either near the wall model, or -- for a
     * shadow or uneven light on the wall -- the wall's chroma at a lower
     * brightness, continuing smoothly from the wall pixel it is reached
     * from */
    for (size_t i = 0; i < n; i++)
        if (lab[i] == SEED)
            stack[sp++] = (int) i;
    while (sp) {
        int i = stack[--sp], x = i % w, y = i / w;
        int nb[4] = { x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1,
            y > 0 ? i - w : -1, y < h - 1 ? i + w : -1 };
        for (int k = 0; k < 4; k++) {
            int j = nb[k];
            if (j < 0 || !inside[j] || lab[j] != UNK || grad[j] >= gt)
                continue;
            double b[3];
            wall_at(&wm, j % w, j / w, b);
            if (head_skin(&sk, px + 3 * (size_t) j, b, j % w, j / w))
                continue;
            const uint8_t *p = px + 3 * (size_t) j, *q = px + 3 * (size_t) i;
            int            ok = l1(p, b) < thr;
            if (!ok) {
                double sp_ = p[0] + p[1] + p[2] + 1,
                       sb = b[0] + b[1] + b[2] + 1, ch = chroma_l1(p, b);
                double step =
                    abs(p[0] - q[0]) + abs(p[1] - q[1]) + abs(p[2] - q[2]);
                ok =
                    ch < 0.04 && sp_ > 0.35 * sb && sp_ < 1.1 * sb && step < 10;
            }
            if (ok) {
                lab[j] = BGF;
                stack[sp++] = j;
            }
        }
    }
    /* Pockets: wall enclosed by the person (between an arm or a collar and
     * the frame's edge, between the jaw and the hair) is not reached from
     * the seeds.  A piece of edge-free pixels near the wall model, away
     * from the body's middle or above the chin, is wall too.  (Not near
     * the middle below the chin: a white shirt front between lapels must
     * stay.) */
    {
        uint8_t *seen = calloc(n, 1);
        int     *comp = malloc(sizeof(int) * n);
        if (!seen || !comp) {
            free(seen);
            free(comp);
            goto out;
        }
        for (size_t s0 = 0; s0 < n; s0++) {
            if (seen[s0] || lab[s0] != UNK || !inside[s0] || grad[s0] >= gt)
                continue;
            int    nc = 0, q = 0;
            double sdx = 0, sd = 0, sy = 0;
            comp[nc++] = (int) s0;
            seen[s0] = 1;
            while (q < nc) {
                int    i = comp[q++], x = i % w, y = i / w;
                double b[3];
                wall_at(&wm, x, y, b);
                const uint8_t *p = px + 3 * (size_t) i;
                sd += l1(p, b);
                sdx += fabs(x - cx);
                sy += y;
                int nb[4] = { x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1,
                    y > 0 ? i - w : -1, y < h - 1 ? i + w : -1 };
                for (int k = 0; k < 4; k++) {
                    int j = nb[k];
                    if (j < 0 || seen[j] || lab[j] != UNK || !inside[j]
                        || grad[j] >= gt)
                        continue;
                    double bj[3];
                    wall_at(&wm, j % w, j / w, bj);
                    const uint8_t *pj = px + 3 * (size_t) j;
                    if (head_skin(&sk, pj, bj, j % w, j / w))
                        continue;
                    if (l1(pj, bj) >= thr)
                        continue;
                    seen[j] = 1;
                    comp[nc++] = j;
                }
            }
            /* beside the face above the chin (wall between the jaw and
             * the hair, dark on a dark wall) or beside the body */
            if (nc >= 150 && sd / nc < 0.6 * thr
                && (sdx / nc > 0.6 * F || sy / nc < ye + 0.7 * F))
                for (int k = 0; k < nc; k++)
                    lab[comp[k]] = BGF;
        }
        free(seen);
        free(comp);
    }
    /* person = in source, not wall; keep only what joins the sure person */
    uint8_t *keep = (uint8_t *) grad; /* reuse: 1 = person reached */
    memset(keep, 0, n);
    sp = 0;
    for (size_t i = 0; i < n; i++)
        if (lab[i] == FG) {
            keep[i] = 1;
            stack[sp++] = (int) i;
        }
    while (sp) {
        int i = stack[--sp], x = i % w, y = i / w;
        int nb[4] = { x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1,
            y > 0 ? i - w : -1, y < h - 1 ? i + w : -1 };
        for (int k = 0; k < 4; k++) {
            int j = nb[k];
            if (j >= 0 && !keep[j] && inside[j] && lab[j] != SEED
                && lab[j] != BGF) {
                keep[j] = 1;
                stack[sp++] = j;
            }
        }
    }
    /* Peel the rim: the growth stops a few px short of a strong edge (the
     * smoothed Sobel is wide), leaving a rim of wall round the person --
     * a dark line on a dark wall.  Up to 3 px of person pixels that touch
     * the grown wall and have the wall model's colour are wall. */
    for (int pass = 0; pass < 3; pass++) {
        sp = 0;
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++) {
                int i = y * w + x;
                if (!keep[i] || lab[i] == FG)
                    continue;
                int j4[4] = { i - 1, i + 1, i - w, i + w }, touch = 0;
                for (int k = 0; k < 4; k++)
                    if (!keep[j4[k]] && inside[j4[k]]
                        && (lab[j4[k]] == BGF || lab[j4[k]] == SEED))
                        touch = 1;
                if (!touch)
                    continue;
                double b[3];
                wall_at(&wm, x, y, b);
                const uint8_t *p = px + 3 * (size_t) i;
                if (l1(p, b) < thr && !head_skin(&sk, p, b, x, y))
                    stack[sp++] = i;
            }
        if (!sp)
            break;
        while (sp) {
            int i = stack[--sp];
            keep[i] = 0;
            lab[i] = BGF;
        }
    }
    long nfg = 0;
    for (size_t i = 0; i < n; i++) {
        alpha[i] = keep[i];
        nfg += keep[i];
    }
    /* 4. soft alpha: in a band round the outline, from the colours --
     * alpha = (I - B).(F - B) / |F - B|^2 with F the person's colour and B
     * the wall's colour nearby (means over the inner person / the grown
     * wall within 8 px; the wall model where no wall is near); where F and
     * B are too alike to tell (white on white), the guided filter of the
     * mask with the picture as guide.
     * 5. composite: out = I + (1 - a)(S - B) -- the wall's share of a mixed
     * edge pixel swapped for the spec colour, so no pale halo; pure wall
     * and fill are S. */
    {
        float *ga = malloc(sizeof(float) * n), *tmp = malloc(sizeof(float) * n),
              *in4 = malloc(sizeof(float) * n),
              *fc = malloc(sizeof(float) * n * 8);
        if (!ga || !tmp || !in4 || !fc) {
            free(ga);
            free(tmp);
            free(in4);
            free(fc);
            goto out;
        }
        memcpy(ga, alpha, sizeof(float) * n);
        if (guided(grey, ga, w, h, 3, 1e-3f)) {
            free(ga);
            free(tmp);
            free(in4);
            free(fc);
            goto out;
        }
        box(alpha, in4, tmp, w, h, 4); /* 1 = inner person, 0 = wall */
        float *deep = fc + 3 * n, *bc = fc + 4 * n, *bw = fc + 7 * n;
        for (size_t i = 0; i < n; i++) {
            deep[i] = in4[i] > 0.999f;
            bw[i] = (lab[i] == BGF || lab[i] == SEED) && in4[i] < 0.001f;
        }
        for (int c = 0; c < 3; c++) {
            float *ch = fc + c * n, *cb = bc + c * n;
            for (size_t i = 0; i < n; i++) {
                ch[i] = deep[i] ? px[3 * i + c] : 0;
                cb[i] = bw[i] ? px[3 * i + c] : 0;
            }
            box(ch, ch, tmp, w, h, 8);
            box(cb, cb, tmp, w, h, 8);
        }
        box(deep, deep, tmp, w, h, 8);
        box(bw, bw, tmp, w, h, 8);
        int  S[3] = { s->bg_r, s->bg_g, s->bg_b };
        long nband = 0, nfill = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t) y * w + x;
                float  a = ga[i];
                int    coloured = 0;
                double b[3];
                if (bw[i] > 0.01f)
                    for (int c = 0; c < 3; c++)
                        b[c] = bc[c * n + i] / bw[i];
                else
                    wall_at(&wm, x, y, b);
                if (in4[i] > 0.001f && in4[i] < 0.999f && deep[i] > 0.01f) {
                    double num = 0, den = 0;
                    for (int c = 0; c < 3; c++) {
                        double F = fc[c * n + i] / deep[i];
                        num += (px[3 * i + c] - b[c]) * (F - b[c]);
                        den += (F - b[c]) * (F - b[c]);
                    }
                    if (den > 40 * 40) {
                        double ac = num / den;
                        a = (float) (ac < 0 ? 0 : ac > 1 ? 1 : ac);
                        nband++;
                        coloured = 1;
                    }
                }
                /* the sure person is 1, except at its own outline where
                 * the colours tell (the face ellipse may overshoot a jaw) */
                if (!inside[i] || lab[i] == SEED
                    || (lab[i] == BGF && in4[i] < 0.001f))
                    a = 0;
                else if (lab[i] == FG && !coloured)
                    a = 1;
                /* where the colours cannot tell (brown hair on a dark
                 * wall), the guided filter only softens the person's
                 * outline inwards: spread outwards it left 1-2 px of a
                 * dark wall round the head, a halo once the wall's share
                 * is swapped for a bright spec colour */
                else if (!coloured && !keep[i])
                    a = 0;
                a = a < 0.02f ? 0 : a > 0.98f ? 1 : a;
                if (a >= 1)
                    continue;
                if (!inside[i])
                    nfill++;
                for (int c = 0; c < 3; c++) {
                    double v =
                        a > 0 ? px[3 * i + c] + (1 - a) * (S[c] - b[c]) : S[c];
                    px[3 * i + c] = (uint8_t) (v < 0 ? 0
                            : v > 255                ? 255
                                                     : lrint(v));
                }
            }
        json_object_set_new(m, "matte_colour_alpha_px", json_integer(nband));
        json_object_set_new(
            m, "matte_fill_frac", json_real(round(1000.0 * nfill / n) / 1000));
        free(ga);
        free(tmp);
        free(in4);
        free(fc);
    }
    json_object_set_new(m, "background_normalised", json_true());
    json_object_set_new(
        m, "matte_person_frac", json_real(round(1000.0 * nfg / n) / 1000));
    ret = 0;
out:
    free(lab);
    free(grey);
    free(alpha);
    free(grad);
    free(stack);
    return ret;
}
