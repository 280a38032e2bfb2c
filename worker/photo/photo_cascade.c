/*
 * photo_cascade.c -- boosted Haar cascade evaluator (Viola-Jones as in
 * OpenCV's data files): image pyramid, integral images, variance-normalised
 * features, stage rejection, then grouping of overlapping hits.
 */
#include "photo_cascade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int x, y, w, h;
} rect_t;

/* windows with a smaller grey-level standard deviation are rejected */
#define MIN_STD 3.0

/* Area-averaging downscale of grey img (sw x sh) into dst (dw x dh). */
static void
shrink(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        int y0 = (int) ((int64_t) y * sh / dh),
            y1 = (int) ((int64_t) (y + 1) * sh / dh);
        if (y1 <= y0)
            y1 = y0 + 1;
        for (int x = 0; x < dw; x++) {
            int x0 = (int) ((int64_t) x * sw / dw),
                x1 = (int) ((int64_t) (x + 1) * sw / dw);
            if (x1 <= x0)
                x1 = x0 + 1;
            unsigned s = 0;
            for (int yy = y0; yy < y1; yy++)
                for (int xx = x0; xx < x1; xx++)
                    s += src[yy * sw + xx];
            dst[y * dw + x] =
                (uint8_t) (s / (unsigned) ((y1 - y0) * (x1 - x0)));
        }
    }
}

/* A node with its feature's rectangles as offsets into the integral
 * image for the current stride: built once per scale, so a window costs
 * only loads, and no second indirection (node -> feature) per node. */
typedef struct {
    int   o[3][4];
    float wt[3];
    float thr;
    int   left, right;
} optnode_t;

static int
count_nodes(const casc_t *c)
{
    int n = 0;
    for (int si = 0; si < c->nstages; si++) {
        const casc_stage_t *sg = &c->stages[si];
        for (int wi = 0; wi < sg->nweak; wi++) {
            const casc_weak_t *wk = &c->weaks[sg->first_weak + wi];
            if (wk->first_node + wk->nnodes > n)
                n = wk->first_node + wk->nnodes;
        }
    }
    return n;
}

static void
prepare(const casc_t *c, int nnodes, int st, optnode_t *on)
{
    for (int i = 0; i < nnodes; i++) {
        const casc_node_t    *nd = &c->nodes[i];
        const casc_feature_t *f = &c->feats[nd->feat];
        on[i].thr = nd->thr;
        on[i].left = nd->left;
        on[i].right = nd->right;
        for (int r = 0; r < 3; r++) {
            const casc_rect_t *rc = &f->r[r];
            on[i].wt[r] = rc->wt;
            on[i].o[r][0] = rc->y * st + rc->x;
            on[i].o[r][1] = rc->y * st + rc->x + rc->w;
            on[i].o[r][2] = (rc->y + rc->h) * st + rc->x;
            on[i].o[r][3] = (rc->y + rc->h) * st + rc->x + rc->w;
        }
    }
}

static inline int32_t
rs(const uint32_t *p, const int *o)
{
    /* unsigned wrap-around gives the exact (small) rectangle sum */
    return (int32_t) (p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]]);
}

/* 1 when the window at (x,y) passes every stage. */
static int
eval_window(const casc_t *c, const optnode_t *on, const uint32_t *ii,
    const double *sq, int st, int x, int y)
{
    int             nw = c->w - 2, nh = c->h - 2;
    const uint32_t *p = ii + (size_t) y * st + x;
    size_t          a = (size_t) (y + 1) * st + x + 1, b = a + nw,
           cc = a + (size_t) nh * st, d = cc + nw;
    double s = (double) (int32_t) (ii[d] - ii[b] - ii[cc] + ii[a]);
    double s2 = sq[d] - sq[b] - sq[cc] + sq[a];
    double nf = (double) nw * nh * s2 - s * s;
    /* nf = area * stddev: a nearly flat window (a wall, a sky) cannot be
     * a face or an eye; skipping it saves most of a plain-background photo */
    if (nf < (double) MIN_STD * MIN_STD * nw * nh * nw * nh)
        return 0;
    float fnf = (float) sqrt(nf);
    for (int si = 0; si < c->nstages; si++) {
        const casc_stage_t *sg = &c->stages[si];
        float               sum = 0;
        for (int wi = 0; wi < sg->nweak; wi++) {
            const casc_weak_t *wk = &c->weaks[sg->first_weak + wi];
            const optnode_t   *base = on + wk->first_node;
            int                idx = 0;
            do {
                const optnode_t *nd = &base[idx];
                float            v =
                    nd->wt[0] * rs(p, nd->o[0]) + nd->wt[1] * rs(p, nd->o[1]);
                if (nd->wt[2] != 0)
                    v += nd->wt[2] * rs(p, nd->o[2]);
                idx = v < nd->thr * fnf ? nd->left : nd->right;
            } while (idx > 0 && idx < wk->nnodes);
            if (idx > 0)
                return 0; /* malformed table: reject */
            sum += c->leaves[wk->first_leaf - idx];
        }
        if (sum < sg->thr)
            return 0;
    }
    return 1;
}

static int
similar(const rect_t *a, const rect_t *b, double eps)
{
    double d = eps * (fmin(a->w, b->w) + fmin(a->h, b->h)) * 0.5;
    return abs(a->x - b->x) <= d && abs(a->y - b->y) <= d
        && abs(a->x + a->w - b->x - b->w) <= d
        && abs(a->y + a->h - b->y - b->h) <= d;
}

static int
find(int *p, int i)
{
    while (p[i] != i)
        i = p[i] = p[p[i]];
    return i;
}

static int
cmp_hit(const void *a, const void *b)
{
    const casc_hit_t *x = a, *y = b;
    return y->n - x->n;
}

/* OpenCV-style grouping: cluster similar rects, average, keep clusters with
 * more than min_neighbors members, drop small clusters inside strong ones. */
static int
group(rect_t *r, int n, int min_neighbors, casc_hit_t *out, int max_out)
{
    int        *p = malloc(sizeof(int) * (size_t) (n ? n : 1));
    casc_hit_t *acc = calloc((size_t) (n ? n : 1), sizeof *acc);
    if (!p || !acc) {
        free(p);
        free(acc);
        return -1;
    }
    for (int i = 0; i < n; i++)
        p[i] = i;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (similar(&r[i], &r[j], 0.2)) {
                int a = find(p, i), b = find(p, j);
                if (a != b)
                    p[a] = b;
            }
    for (int i = 0; i < n; i++) {
        int k = find(p, i);
        acc[k].x += r[i].x;
        acc[k].y += r[i].y;
        acc[k].w += r[i].w;
        acc[k].h += r[i].h;
        acc[k].n++;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (acc[i].n <= min_neighbors)
            continue;
        int        c = acc[i].n;
        casc_hit_t h = { (acc[i].x * 2 + c) / (2 * c),
            (acc[i].y * 2 + c) / (2 * c), (acc[i].w * 2 + c) / (2 * c),
            (acc[i].h * 2 + c) / (2 * c), c };
        acc[m++] = h;
    }
    int k = 0;
    for (int i = 0; i < m; i++) {
        int drop = 0;
        for (int j = 0; j < m && !drop; j++) {
            if (i == j)
                continue;
            int dx = (int) (acc[j].w * 0.2), dy = (int) (acc[j].h * 0.2);
            if (acc[i].x >= acc[j].x - dx && acc[i].y >= acc[j].y - dy
                && acc[i].x + acc[i].w <= acc[j].x + acc[j].w + dx
                && acc[i].y + acc[i].h <= acc[j].y + acc[j].h + dy
                && acc[j].w > acc[i].w && (acc[j].n > 3 && acc[j].n > acc[i].n))
                drop = 1;
        }
        if (!drop)
            acc[k++] = acc[i];
    }
    qsort(acc, (size_t) k, sizeof *acc, cmp_hit);
    if (k > max_out)
        k = max_out;
    memcpy(out, acc, sizeof *acc * (size_t) k);
    free(p);
    free(acc);
    return k;
}

int
casc_detect(const casc_t *c, const uint8_t *img, int w, int h, int min_size,
    int max_size, double scale, int min_neighbors, casc_hit_t *hits,
    int max_hits)
{
    if (w < c->w || h < c->h || scale <= 1.01)
        return 0;
    if (min_size < c->w)
        min_size = c->w;
    size_t     cap = 256, n = 0;
    rect_t    *r = malloc(cap * sizeof *r);
    uint8_t   *buf = malloc((size_t) w * h);
    uint32_t  *ii = malloc(sizeof *ii * (size_t) (w + 1) * (h + 1));
    int        nnodes = count_nodes(c);
    optnode_t *of = malloc(sizeof *of * (size_t) (nnodes ? nnodes : 1));
    double    *sq = malloc(sizeof *sq * (size_t) (w + 1) * (h + 1));
    int        ret = -1;
    if (!r || !buf || !ii || !sq || !of)
        goto out;
    for (double f = (double) min_size / c->w;; f *= scale) {
        int sw = (int) (w / f), sh = (int) (h / f);
        int win = (int) lround(c->w * f);
        if (sw < c->w || sh < c->h || win > max_size)
            break;
        shrink(img, w, h, buf, sw, sh);
        int st = sw + 1;
        memset(ii, 0, sizeof *ii * (size_t) st);
        memset(sq, 0, sizeof *sq * (size_t) st);
        for (int y = 0; y < sh; y++) {
            uint32_t rs = 0;
            double   rq = 0;
            ii[(y + 1) * st] = 0;
            sq[(y + 1) * st] = 0;
            for (int x = 0; x < sw; x++) {
                unsigned v = buf[y * sw + x];
                rs += v;
                rq += (double) v * v;
                ii[(y + 1) * st + x + 1] = ii[y * st + x + 1] + rs;
                sq[(y + 1) * st + x + 1] = sq[y * st + x + 1] + rq;
            }
        }
        prepare(c, nnodes, st, of);
        /* a coarse step on large layers, as OpenCV does */
        int step = f > 2.0 ? 1 : 2;
        for (int y = 0; y + c->h <= sh; y += step)
            for (int x = 0; x + c->w <= sw; x += step) {
                if (!eval_window(c, of, ii, sq, st, x, y))
                    continue;
                if (n == cap) {
                    if (cap >= 1 << 16)
                        continue; /* hard limit on hits */
                    rect_t *nr = realloc(r, cap * 2 * sizeof *r);
                    if (!nr)
                        goto out;
                    r = nr;
                    cap *= 2;
                }
                r[n++] = (rect_t){ (int) lround(x * f), (int) lround(y * f),
                    (int) lround(c->w * f), (int) lround(c->h * f) };
            }
    }
    ret = group(r, (int) n, min_neighbors, hits, max_hits);
out:
    free(r);
    free(buf);
    free(ii);
    free(sq);
    free(of);
    return ret;
}
