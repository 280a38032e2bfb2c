/*
 * photo_geom.c -- where the spec crop falls in the source (issue 10, rule 1).
 *
 * The spec fixes the output (480x640, face 180-300 px wide, eye line
 * 200-300 px, hair top 50-110 px, centred, level).  For a photo that
 * means one scale k (output px per full-resolution source px) and one eye
 * line row that put the face, the eyes and the hair top in their bands,
 * with the crop inside the source -- except above the hair and beside the
 * head above the shoulders, where the missing part is wall and the matte
 * extends it with the spec colour.  No upscaling beyond 1/0.9.
 * When no placement fits, the reason says which way to move.
 */
#include "photo_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double
clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Mean colour of row y over [x0, x1) clipped to the image, and the mean
 * per-channel deviation in *sd; 0 if empty. */
static int
row_mean(const photo_img_t *im, int y, int x0, int x1, double *m, double *sd)
{
    if (x0 < 0)
        x0 = 0;
    if (x1 > im->w)
        x1 = im->w;
    if (y < 0 || y >= im->h || x1 <= x0)
        return 0;
    double q[3] = { 0 };
    m[0] = m[1] = m[2] = 0;
    for (int x = x0; x < x1; x++) {
        const uint8_t *p = im->px + 3 * ((size_t) y * im->w + x);
        for (int c = 0; c < 3; c++) {
            m[c] += p[c];
            q[c] += (double) p[c] * p[c];
        }
    }
    int n = x1 - x0;
    *sd = 0;
    for (int c = 0; c < 3; c++) {
        m[c] /= n;
        double v = q[c] / n - m[c] * m[c];
        *sd += sqrt(v > 0 ? v : 0) / 3;
    }
    return n;
}

/* Top of the hair (working coords): scanning down from the top, the first
 * row where most of the band over the head differs from the wall of that
 * row, the wall being measured beside the head on both sides and
 * interpolated across (a gradient or a shadow on the wall does not move
 * it), with a tolerance that grows with the wall's own texture.
 * *measured = 0 when no wall is seen beside the head: then a
 * head-proportion guess. */
double
photo_hair_top(const photo_img_t *im, const photo_box_t *f, int *measured)
{
    double guess = f->y - 0.45 * f->h;
    *measured = 0;
    int bx0 = (int) clampd(f->x + 0.3 * f->w, 0, im->w - 1);
    int bx1 = (int) clampd(f->x + 0.7 * f->w, bx0 + 1, im->w);
    /* side strips: beside the head, clear of ears and hair */
    int sw = (int) (0.4 * f->w) + 1;
    int lx1 = (int) (f->x - 0.35 * f->w), lx0 = lx1 - sw;
    int rx0 = (int) (f->x + 1.35 * f->w), rx1 = rx0 + sw;
    if (lx1 < 4) {
        lx0 = 0;
        lx1 = 4;
    }
    if (rx0 > im->w - 4) {
        rx0 = im->w - 4;
        rx1 = im->w;
    }
    double lc = (fmax(lx0, 0) + fmin(lx1, im->w)) / 2,
           rc = (fmax(rx0, 0) + fmin(rx1, im->w)) / 2;
    int ystop = (int) clampd(f->y + 0.2 * f->h, 0, im->h);
    for (int y = 0; y < ystop; y++) {
        double l[3], r[3], sl = 0, sr = 0;
        int    nl = row_mean(im, y, lx0, lx1, l, &sl),
            nr = row_mean(im, y, rx0, rx1, r, &sr);
        if (!nl && !nr)
            return guess;
        if (!nl) {
            memcpy(l, r, sizeof l);
            sl = sr;
        }
        if (!nr) {
            memcpy(r, l, sizeof r);
            sr = sl;
        }
        double tol = 36 + 7.5 * fmax(sl, sr);
        int    diff = 0, between = 0;
        double step = 0;
        for (int x = bx0; x < bx1; x++) {
            double t = rc > lc ? clampd((x - lc) / (rc - lc), 0, 1) : 0.5;
            const uint8_t *p = im->px + 3 * ((size_t) y * im->w + x);
            double         d = 0;
            int            in = 1;
            for (int c = 0; c < 3; c++) {
                d += fabs(p[c] - (l[c] + t * (r[c] - l[c])));
                in &= p[c] >= fmin(l[c], r[c]) - tol / 6
                    && p[c] <= fmax(l[c], r[c]) + tol / 6;
                if (x > bx0)
                    step += abs(p[c] - p[c - 3]);
            }
            diff += d > tol;
            between += in;
        }
        /* Strong side light: the wall over the head is no straight blend
         * of its two sides but a steep ramp from the lit side to the
         * shaded one.  A row that is smooth (hair has texture) and lies,
         * channel by channel, between the two sides' colours is wall. */
        if (diff * 2 > bx1 - bx0 && step / (bx1 - bx0) < 6
            && between >= 0.95 * (bx1 - bx0))
            diff = 0;
        if (diff * 2 > bx1 - bx0) {
            *measured = 1;
            return y;
        }
    }
    return guess;
}

/* Source (full-res upright) point of output pixel (u, v). */
static void
to_src(const photo_geom_t *g, const photo_spec_t *s, double u, double v,
    double *sx, double *sy)
{
    double c = g->cos_r, sn = g->sin_r;
    double du = (u - s->width / 2.0) / g->k, dv = (v - g->ye_out) / g->k;
    *sx = g->ex + c * du - sn * dv;
    *sy = g->ey + sn * du + c * dv;
}

/* Output px of the crop's border that fall outside the source, by kind:
 * above the source (wall over the hair: allowed), below it (the body:
 * never), beside it above the shoulders (wall: allowed) or below them. */
typedef struct {
    double top, bottom, left_low, right_low, fill;
} over_t;

static void
overflow(const photo_geom_t *g, const photo_spec_t *s, over_t *o)
{
    memset(o, 0, sizeof *o);
    double    shoulder_v = g->ye_out + 0.8 * g->k * g->face_w;
    const int STEP = 16;
    double    W = g->src_w, H = g->src_h;
    for (int side = 0; side < 4; side++) {
        int n = side < 2 ? s->width : s->height;
        for (int i = 0; i <= n; i += STEP) {
            double u, v;
            switch (side) {
            case 0:
                u = i;
                v = 0;
                break;
            case 1:
                u = i;
                v = s->height;
                break;
            case 2:
                u = 0;
                v = i;
                break;
            default:
                u = s->width;
                v = i;
                break;
            }
            double sx, sy;
            to_src(g, s, u, v, &sx, &sy);
            /* how far outside, in output px */
            if (sy < 0)
                o->top = fmax(o->top, -sy * g->k);
            if (sy > H)
                o->bottom = fmax(o->bottom, (sy - H) * g->k);
            if (v > shoulder_v) {
                if (sx < 0)
                    o->left_low = fmax(o->left_low, -sx * g->k);
                if (sx > W)
                    o->right_low = fmax(o->right_low, (sx - W) * g->k);
            }
        }
    }
    /* fill: share of the output outside the source, on a coarse grid */
    int in = 0, all = 0;
    for (int v = 8; v < s->height; v += 32)
        for (int u = 8; u < s->width; u += 32) {
            double sx, sy;
            to_src(g, s, u, v, &sx, &sy);
            all++;
            in += sx >= 0 && sx < W && sy >= 0 && sy < H;
        }
    o->fill = all ? 1.0 - (double) in / all : 0;
}

/* The best (k, eye line) for g's eye centre and hair: overflow below or
 * beside the shoulders is all but forbidden; then the face, hair and eye
 * line as near their band middles as can be, little fill, no upscaling. */
static void
search(photo_geom_t *g, const photo_spec_t *s, double D, double kmin,
    double kmax, over_t *bo)
{
    double       fw_mid = (s->face_w_min + s->face_w_max) / 2.0;
    double       ht_mid = (s->hair_top_min + s->hair_top_max) / 2.0;
    double       ye_mid = (s->eye_line_min + s->eye_line_max) / 2.0;
    double       fw_half = (s->face_w_max - s->face_w_min) / 2.0 + 1;
    double       ht_half = (s->hair_top_max - s->hair_top_min) / 2.0 + 1;
    double       ye_half = (s->eye_line_max - s->eye_line_min) / 2.0 + 1;
    double       best = INFINITY;
    photo_geom_t t = *g, bestg = *g;
    memset(bo, 0, sizeof *bo);
    const int KS = 40;
    for (int i = 0; i <= KS; i++) {
        t.k = kmin + (kmax - kmin) * i / KS;
        for (int ye = s->eye_line_min + 3; ye <= s->eye_line_max - 3; ye += 2) {
            t.ye_out = ye;
            double ht = ye - t.k * D;
            over_t o;
            overflow(&t, s, &o);
            double hard = o.bottom + o.left_low + o.right_low;
            double hviol = fmax(0, (s->hair_top_min + 3) - ht)
                + fmax(0, ht - (s->hair_top_max - 3));
            double cost = 1000 * (hard > 1 ? hard : 0) + 50 * hviol
                + fabs(t.k * g->face_w - fw_mid) / fw_half
                + fabs(ht - ht_mid) / ht_half
                + 0.5 * fabs(ye - ye_mid) / ye_half + 4 * o.fill
                + (t.k > 1 ? 10 * (t.k - 1) : 0);
            if (cost < best) {
                best = cost;
                bestg = t;
                *bo = o;
            }
        }
    }
    *g = bestg;
    g->fill = bo->fill;
}

int
photo_geom_solve(const photo_img_t *im, const photo_det_t *d,
    const photo_spec_t *s, photo_geom_t *g)
{
    memset(g, 0, sizeof *g);
    if (!d->nfaces)
        return -1;
    const photo_box_t *f = &d->faces[0];
    double             sc = im->scale;
    g->src_w = im->orig_w;
    g->src_h = im->orig_h;
    g->face_w = f->w * sc;
    if (d->eyes_found) {
        g->ex = (d->lx + d->rx) / 2 * sc;
        g->ey = (d->ly + d->ry) / 2 * sc;
        g->roll_deg = d->roll_deg;
    } else {
        g->ex = (f->x + f->w / 2) * sc;
        g->ey = (f->y + 0.4 * f->h) * sc;
    }
    g->cos_r = cos(g->roll_deg * M_PI / 180);
    g->sin_r = sin(g->roll_deg * M_PI / 180);
    int    meas;
    double hy = photo_hair_top(im, f, &meas);
    g->hair_measured = meas;
    g->hair_y = hy * sc;
    /* the head touches the top edge: where it ends cannot be known */
    double margin = 0.004 * im->h;
    if ((meas && hy <= margin) || (!meas && hy < 0)) {
        g->code = "NO_ROOM_ABOVE_HEAD";
        g->value = g->hair_y;
        g->limit = margin * sc + 1;
        return 0;
    }
    double D = g->ey - g->hair_y; /* hair top to eye line */
    if (D < 0.25 * g->face_w)
        D = 0.25 * g->face_w;
    g->eye_to_hair = D;
    const double UP = 1 / 0.9; /* most upscaling allowed */
    double       kmin = (s->face_w_min + 3.0) / g->face_w;
    double       kmax = fmin((s->face_w_max - 3.0) / g->face_w, UP);
    if (kmin > kmax) {
        g->code = "FACE_TOO_SMALL";
        g->value = g->face_w;
        g->limit = ceil(0.9 * (s->face_w_min + 3.0));
        return 0;
    }
    over_t bo;
    search(g, s, D, kmin, kmax, &bo);
    g->out_face_w = g->k * g->face_w;
    g->out_hair_top = g->ye_out - g->k * D;
    if (bo.bottom > 1 || bo.left_low > 1 || bo.right_low > 1) {
        /* Would it fit with the head centred just under the top edge? Then
         * the photo is framed wrong (the reason says which way); if not,
         * the face is too large for the frame: step back. */
        photo_geom_t h = *g;
        h.ex = g->src_w / 2;
        h.hair_y = 0.02 * g->src_h;
        h.ey = h.hair_y + D;
        over_t ho;
        search(&h, s, D, kmin, kmax, &ho);
        int    fits = ho.bottom <= 1 && ho.left_low <= 1 && ho.right_low <= 1;
        double half = s->width / 2.0 / kmax;
        if (!fits) {
            g->code = "FACE_TOO_LARGE";
            g->value = g->face_w;
            g->limit = floor(g->face_w
                * fmin(1.0,
                    fmin(g->src_w / (2 * half),
                        g->src_h / (g->src_h + (ho.bottom / kmax)))));
        } else if (bo.bottom > 1) {
            g->code = "NO_ROOM_BELOW_CHIN";
            g->value = round(bo.bottom);
            g->limit = 0;
        } else {
            g->code = "FACE_OFF_CENTER";
            g->value = (g->ex - g->src_w / 2) / g->src_w;
            g->limit = fmax(0, (g->src_w / 2 - half) / g->src_w);
        }
        return 0;
    }
    g->ok = 1;
    return 0;
}

/* Full-res source coordinates of output pixel (u, v), for the matte's
 * in-source mask. */
void
photo_geom_map(const photo_geom_t *g, const photo_spec_t *s, double u, double v,
    double *sx, double *sy)
{
    to_src(g, s, u, v, sx, sy);
}
