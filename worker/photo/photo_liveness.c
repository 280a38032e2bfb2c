/*
 * photo_liveness.c -- is there a live person in front of the camera?
 *
 * Liveness: the burst frames are shrunk to FS px, each frame is aligned to
 * the first one (global translation, then a per-block local shift search
 * that absorbs small rotation/scale, i.e. rigid or planar motion), and what
 * is left is measured in the face: photometric change that no shift
 * explains (eyelids, mouth) relative to the error a rigid misalignment of
 * that texture would give, and local shifts that disagree with a fitted
 * similarity (a head turning is not a flat picture moving).  A replayed
 * still (identical frames) or a print/screen moved rigidly scores near 0.
 *
 * Recapture: cues of a photo of a screen or a print in the main photo:
 * periodic high-frequency energy (moiré) in the face patch spectrum,
 * clipped specular glare on an otherwise normally lit face, and long
 * straight edges framing the face on three or four sides.
 * See docs/liveness.md for what this catches and what it cannot.
 */
#include "photo_int.h"
#include "photo_cascade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- recapture ---- */

/* Peak-to-median ratio of the power spectrum in the high band of a 64x64
 * patch: screens and halftone prints leave isolated spectral peaks. */
static double
patch_periodicity(const uint8_t *g, int gw, int x0, int y0)
{
    enum {
        P = 64
    };
    static double cs[P], sn[P];
    static int    init;
    if (!init) {
        for (int k = 0; k < P; k++) {
            cs[k] = cos(2 * M_PI * k / P);
            sn[k] = sin(2 * M_PI * k / P);
        }
        init = 1;
    }
    double a[P][P], re[P][P], im[P][P], mean = 0;
    for (int y = 0; y < P; y++)
        for (int x = 0; x < P; x++) {
            a[y][x] = g[(size_t) (y0 + y) * gw + x0 + x];
            mean += a[y][x];
        }
    mean /= P * P;
    for (int y = 0; y < P; y++)
        for (int x = 0; x < P; x++) {
            /* Hann window against edge leakage */
            double wv = (0.5 - 0.5 * cos(2 * M_PI * x / (P - 1)))
                * (0.5 - 0.5 * cos(2 * M_PI * y / (P - 1)));
            a[y][x] = (a[y][x] - mean) * wv;
        }
    /* row DFT then column DFT (naive, 64^3: cheap enough for 4 patches) */
    for (int y = 0; y < P; y++)
        for (int k = 0; k < P; k++) {
            double r = 0, i = 0;
            for (int x = 0; x < P; x++) {
                int t = (k * x) % P;
                r += a[y][x] * cs[t];
                i -= a[y][x] * sn[t];
            }
            re[y][k] = r;
            im[y][k] = i;
        }
    double pw[P][P];
    for (int k = 0; k < P; k++)
        for (int l = 0; l < P; l++) {
            double r = 0, i = 0;
            for (int y = 0; y < P; y++) {
                int t = (l * y) % P;
                r += re[y][k] * cs[t] + im[y][k] * sn[t];
                i += im[y][k] * cs[t] - re[y][k] * sn[t];
            }
            pw[l][k] = r * r + i * i;
        }
    /* A screen or halftone grid is a narrow spectral peak; natural
     * texture spreads.  Score: a bin's power over the mean power of the
     * ring 2..3 bins around it (the Hann window leaks into +-1), for bins
     * that hold a real share of the band's energy.  JPEG's 8x8 grid
     * (multiples of P/8) is ignored. */
    double total = 0;
    for (int l = 0; l < P; l++)
        for (int k = 0; k < P; k++) {
            int    fy = l > P / 2 ? l - P : l, fx = k > P / 2 ? k - P : k;
            double rad = sqrt(fx * fx + fy * fy);
            if (rad >= 8 && rad <= 30)
                total += pw[l][k];
        }
    double best = 0;
    if (total <= 0)
        return 0;
    for (int l = 0; l < P; l++)
        for (int k = 0; k < P; k++) {
            int    fy = l > P / 2 ? l - P : l, fx = k > P / 2 ? k - P : k;
            double rad = sqrt(fx * fx + fy * fy);
            if (rad < 8 || rad > 30)
                continue;
            if (fx % (P / 8) == 0 && fy % (P / 8) == 0)
                continue;
            if (pw[l][k] < 0.01 * total)
                continue;
            double ring = 0;
            int    rn = 0;
            for (int dy = -3; dy <= 3; dy++)
                for (int dx = -3; dx <= 3; dx++) {
                    if (abs(dx) < 2 && abs(dy) < 2)
                        continue;
                    ring += pw[(l + dy + P) % P][(k + dx + P) % P];
                    rn++;
                }
            ring = ring / rn + 1e-9;
            if (pw[l][k] / ring > best)
                best = pw[l][k] / ring;
        }
    return best;
}

/* Long straight edges framing the face (a screen bezel, the edge of a
 * print): rows above/below and columns left/right of the head where a
 * strong intensity step runs along most of the image.  Returns how many of
 * the four sides have one. */
static int
frame_sides(const photo_img_t *im, const uint8_t *g, const photo_box_t *f)
{
    const int T = 40;
    int       w = im->w, h = im->h, sides = 0;
    int       top = 0, bottom = 0, left = 0, right = 0;
    for (int y = 2; y < h - 2; y++) {
        int above = y<f->y - 0.3 * f->h, below = y> f->y + 2.0 * f->h;
        if (!above && !below)
            continue;
        int n = 0;
        for (int x = 0; x < w; x++)
            n += abs(g[(size_t) (y + 2) * w + x] - g[(size_t) (y - 2) * w + x])
                > T;
        if (n >= 0.6 * w) {
            if (above)
                top = 1;
            else
                bottom = 1;
        }
    }
    for (int x = 2; x < w - 2; x++) {
        int l = x<f->x - 0.3 * f->w, r = x> f->x + 1.3 * f->w;
        if (!l && !r)
            continue;
        int n = 0;
        for (int y = 0; y < h; y++)
            n += abs(g[(size_t) y * w + x + 2] - g[(size_t) y * w + x - 2]) > T;
        if (n >= 0.6 * h) {
            if (l)
                left = 1;
            else
                right = 1;
        }
    }
    sides = top + bottom + left + right;
    return sides;
}

double
photo_recapture_score(const photo_img_t *im, const uint8_t *g,
    const photo_box_t *f, json_t *metrics)
{
    double moire = 0, glare = 0;
    int    sides = 0;
    if (f && im->w >= 64 && im->h >= 64) {
        /* cheeks and forehead: skin, no hair, no eyes */
        double pts[3][2] = { { 0.3, 0.65 }, { 0.7, 0.65 }, { 0.5, 0.2 } };
        for (int i = 0; i < 3; i++) {
            int x0 = (int) (f->x + f->w * pts[i][0]) - 32,
                y0 = (int) (f->y + f->h * pts[i][1]) - 32;
            if (x0 < 0)
                x0 = 0;
            if (y0 < 0)
                y0 = 0;
            if (x0 + 64 > im->w)
                x0 = im->w - 64;
            if (y0 + 64 > im->h)
                y0 = im->h - 64;
            double p = patch_periodicity(g, im->w, x0, y0);
            if (p > moire)
                moire = p;
        }
        /* glare counts on skin only: the inner face ellipse (cheeks,
         * forehead, nose), never the wall in the box's corners -- a bright
         * white wall is not a screen */
        long   clipped = 0, n = 0;
        double sum = 0;
        double ecx = f->x + f->w / 2, ecy = f->y + 0.5 * f->h, ax = 0.34 * f->w,
               ay = 0.46 * f->h;
        for (int y = (int) (ecy - ay); y < ecy + ay && y < im->h; y++)
            for (int x = (int) (ecx - ax); x < ecx + ax && x < im->w; x++) {
                if (x < 0 || y < 0)
                    continue;
                double dx = (x - ecx) / ax, dy = (y - ecy) / ay;
                if (dx * dx + dy * dy > 1)
                    continue;
                uint8_t v = g[(size_t) y * im->w + x];
                clipped += v >= 250;
                sum += v;
                n++;
            }
        if (n && sum / n < 200)
            glare = (double) clipped / n;
        sides = frame_sides(im, g, f);
    }
    json_object_set_new(metrics, "frame_sides", json_integer(sides));
    json_object_set_new(
        metrics, "moire_peak", json_real(round(moire * 10) / 10));
    json_object_set_new(
        metrics, "glare_frac", json_real(round(glare * 1000) / 1000));
    /* Each cue scaled so that 1.0 is its "suspect" level. */
    double s_moire = moire / 60.0, s_glare = glare / 0.04;
    double s_frame = sides >= 3 ? 1.0 + 0.25 * (sides - 2) : 0.25 * sides;
    double s = s_moire > s_glare ? s_moire : s_glare;
    return s > s_frame ? s : s_frame;
}

/* ---- liveness ---- */

#define FS 192 /* frame side for the burst analysis */
#define BS 8   /* block size */

typedef struct {
    uint8_t *g;
    int      w, h;
} frame_t;

/* Zero-mean SAD between a's rect and b's rect shifted by (dx,dy): the
 * mean difference is removed so a change of exposure does not pull the
 * match; pixels shifted outside b are skipped. */
static double
sad(const frame_t *a, const frame_t *b, int x0, int y0, int x1, int y1, int dx,
    int dy)
{
    double ma = 0, mb = 0;
    long   n = 0;
    for (int y = y0; y < y1; y++) {
        int yy = y + dy;
        if (yy < 0 || yy >= b->h)
            continue;
        for (int x = x0; x < x1; x++) {
            int xx = x + dx;
            if (xx < 0 || xx >= b->w)
                continue;
            ma += a->g[y * a->w + x];
            mb += b->g[yy * b->w + xx];
            n++;
        }
    }
    if (!n)
        return 1e9;
    double off = (mb - ma) / n, s = 0;
    for (int y = y0; y < y1; y++) {
        int yy = y + dy;
        if (yy < 0 || yy >= b->h)
            continue;
        for (int x = x0; x < x1; x++) {
            int xx = x + dx;
            if (xx < 0 || xx >= b->w)
                continue;
            s += fabs((double) b->g[yy * b->w + xx] - a->g[y * a->w + x] - off);
        }
    }
    return s / n;
}

/* Sub-pixel offset of a minimum from three samples (parabola). */
static double
parab(double l, double c, double r)
{
    double d = l - 2 * c + r;
    if (d <= 1e-9)
        return 0;
    double o = 0.5 * (l - r) / d;
    return o < -0.5 ? -0.5 : o > 0.5 ? 0.5 : o;
}

static inline double
bil(const frame_t *f, double x, double y)
{
    if (x < 0)
        x = 0;
    if (y < 0)
        y = 0;
    if (x > f->w - 1.001)
        x = f->w - 1.001;
    if (y > f->h - 1.001)
        y = f->h - 1.001;
    int            ix = (int) x, iy = (int) y;
    double         ax = x - ix, ay = y - iy;
    const uint8_t *p = f->g + (size_t) iy * f->w + ix;
    return p[0] * (1 - ax) * (1 - ay) + p[1] * ax * (1 - ay)
        + p[f->w] * (1 - ax) * ay + p[f->w + 1] * ax * ay;
}

typedef struct {
    double a, b, tx, ty;
} simil_t; /* u = a x - b y + tx ... */

/* Least-squares similarity through block displacements (x,y)->(x+u,y+v),
 * only the blocks with use[i] set. */
static simil_t
fit_simil(const double *bx, const double *by, const double *u, const double *v,
    const int *use, int n)
{
    double cx = 0, cy = 0, mx = 0, my = 0;
    int    k = 0;
    for (int i = 0; i < n; i++)
        if (use[i]) {
            cx += bx[i];
            cy += by[i];
            mx += bx[i] + u[i];
            my += by[i] + v[i];
            k++;
        }
    simil_t s = { 1, 0, 0, 0 };
    if (!k)
        return s;
    cx /= k;
    cy /= k;
    mx /= k;
    my /= k;
    double sxx = 0, sa = 0, sb = 0;
    for (int i = 0; i < n; i++)
        if (use[i]) {
            double X = bx[i] - cx, Y = by[i] - cy, U = bx[i] + u[i] - mx,
                   V = by[i] + v[i] - my;
            sxx += X * X + Y * Y;
            sa += X * U + Y * V;
            sb += X * V - Y * U;
        }
    if (sxx > 0) {
        s.a = sa / sxx;
        s.b = sb / sxx;
    }
    s.tx = mx - (s.a * cx - s.b * cy);
    s.ty = my - (s.b * cx + s.a * cy);
    return s;
}

/* Non-rigid change between two frames in the face rect (frame coords):
 * block shifts (integer search + parabolic refinement), a robust
 * similarity fit through them (what a rigidly moved picture does), the
 * second frame warped by it, then per block: photometric residual over
 * what noise and texture allow, and shift disagreement with the fit. */
static double
pair_score(
    const frame_t *a, const frame_t *b, int fx0, int fy0, int fx1, int fy1)
{
    int    gx = 0, gy = 0;
    double best = 1e18;
    for (int dy = -12; dy <= 12; dy++)
        for (int dx = -12; dx <= 12; dx++) {
            double s = sad(a, b, fx0, fy0, fx1, fy1, dx, dy);
            if (s < best) {
                best = s;
                gx = dx;
                gy = dy;
            }
        }
    enum {
        MAXB = 1024
    };
    double bx[MAXB], by[MAXB], du[MAXB], dv[MAXB], grad[MAXB], sc[MAXB];
    int    use[MAXB];
    int    nb = 0;
    for (int y = fy0; y + BS <= fy1 && nb < MAXB; y += BS)
        for (int x = fx0; x + BS <= fx1 && nb < MAXB; x += BS) {
            double gsum = 0;
            for (int j = 0; j < BS; j++)
                for (int i = 0; i < BS - 1; i++) {
                    int p = (y + j) * a->w + x + i;
                    gsum += abs(a->g[p + 1] - a->g[p])
                        + (y + j + 1 < a->h ? abs(a->g[p + a->w] - a->g[p])
                                            : 0);
                }
            grad[nb] = gsum / (BS * (BS - 1));
            double sd[7][7], bs = 1e18;
            int    lx = 0, ly = 0;
            for (int dy = -3; dy <= 3; dy++)
                for (int dx = -3; dx <= 3; dx++) {
                    sd[dy + 3][dx + 3] =
                        sad(a, b, x, y, x + BS, y + BS, gx + dx, gy + dy);
                    if (sd[dy + 3][dx + 3] < bs) {
                        bs = sd[dy + 3][dx + 3];
                        lx = dx;
                        ly = dy;
                    }
                }
            double ox = 0, oy = 0;
            if (lx > -3 && lx < 3)
                ox = parab(sd[ly + 3][lx + 2], bs, sd[ly + 3][lx + 4]);
            if (ly > -3 && ly < 3)
                oy = parab(sd[ly + 2][lx + 3], bs, sd[ly + 4][lx + 3]);
            bx[nb] = x + BS / 2.0;
            by[nb] = y + BS / 2.0;
            du[nb] = gx + lx + ox;
            dv[nb] = gy + ly + oy;
            /* flat blocks give no reliable shift */
            use[nb] = grad[nb] > 3;
            nb++;
        }
    if (nb < 4)
        return 0;
    /* robust fit: refit without the blocks far from the first fit */
    simil_t S = fit_simil(bx, by, du, dv, use, nb);
    for (int i = 0; i < nb; i++)
        if (use[i]) {
            double pu = S.a * bx[i] - S.b * by[i] + S.tx - bx[i];
            double pv = S.b * bx[i] + S.a * by[i] + S.ty - by[i];
            if (hypot(du[i] - pu, dv[i] - pv) > 1.0)
                use[i] = 0;
        }
    simil_t S2 = fit_simil(bx, by, du, dv, use, nb);
    int     kept = 0;
    for (int i = 0; i < nb; i++)
        kept += use[i];
    if (kept >= 4)
        S = S2;
    /* Exposure: phones re-meter between frames, and a print under a
     * changing light brightens as a whole; fit gain and offset of the
     * warped frame to the first one over the blocks, before residuals. */
    int    rw = fx1 - fx0, rh = fy1 - fy0;
    float *wb =
        malloc(sizeof *wb * (size_t) (rw > 0 ? rw : 1) * (rh > 0 ? rh : 1));
    if (!wb)
        return 0;
    double sx = 0, sy = 0, sxx2 = 0, sxy = 0;
    long   np = 0;
    for (int i = 0; i < nb; i++) {
        int x0 = (int) (bx[i] - BS / 2.0), y0 = (int) (by[i] - BS / 2.0);
        for (int j = 0; j < BS; j++)
            for (int k = 0; k < BS; k++) {
                double X = x0 + k, Y = y0 + j;
                double v =
                    bil(b, S.a * X - S.b * Y + S.tx, S.b * X + S.a * Y + S.ty);
                double u = a->g[(y0 + j) * a->w + x0 + k];
                wb[(size_t) (y0 + j - fy0) * rw + x0 + k - fx0] = (float) v;
                sx += v;
                sy += u;
                sxx2 += v * v;
                sxy += v * u;
                np++;
            }
    }
    double gain = 1, off = 0;
    if (np > 1) {
        double vx = sxx2 - sx * sx / np, cxy = sxy - sx * sy / np;
        if (vx > 1e-6)
            gain = cxy / vx;
        if (gain < 0.5)
            gain = 0.5;
        if (gain > 2.0)
            gain = 2.0;
        off = (sy - gain * sx) / np;
    }
    for (int i = 0; i < nb; i++) {
        int    x0 = (int) (bx[i] - BS / 2.0), y0 = (int) (by[i] - BS / 2.0);
        double e = 0;
        for (int j = 0; j < BS; j++)
            for (int k = 0; k < BS; k++) {
                double v =
                    gain * wb[(size_t) (y0 + j - fy0) * rw + x0 + k - fx0]
                    + off;
                e += fabs(v - a->g[(y0 + j) * a->w + x0 + k]);
            }
        e /= BS * BS;
        /* what noise, JPEG and residual sub-pixel error leave on a rigid
         * copy of this texture */
        double photo = e / (2.5 + 0.3 * grad[i]);
        double pu = S.a * bx[i] - S.b * by[i] + S.tx - bx[i];
        double pv = S.b * bx[i] + S.a * by[i] + S.ty - by[i];
        double dm = grad[i] > 3 ? hypot(du[i] - pu, dv[i] - pv) : 0;
        double motion = dm > 1.0 ? (dm - 1.0) / 1.0 : 0;
        sc[i] = photo > motion ? photo : motion;
    }
    free(wb);
    /* mean of the 3 strongest blocks: a blink is local */
    double top = 0;
    for (int k = 0; k < 3 && k < nb; k++) {
        int mi = k;
        for (int j = k + 1; j < nb; j++)
            if (sc[j] > sc[mi])
                mi = j;
        double t = sc[k];
        sc[k] = sc[mi];
        sc[mi] = t;
        top += sc[k];
    }
    return top / (nb < 3 ? nb : 3);
}

double
photo_liveness_score(const photo_img_t *photo, const photo_det_t *d,
    const unsigned char **frames, const size_t *lens, int n,
    const photo_thresholds_t *th, json_t *metrics)
{
    enum {
        MAXF = 8
    };
    frame_t fr[MAXF];
    int     nf = 0, bad = 0;
    /* frames share the capture's time budget: a quarter of the photo's
     * decode deadline each, and at most MAXF of them */
    photo_thresholds_t ft = *th;
    ft.decode_timeout_ms =
        th->decode_timeout_ms / 4 > 100 ? th->decode_timeout_ms / 4 : 100;
    for (int i = 0; i < n && nf < MAXF; i++) {
        photo_img_t im;
        const char *code;
        char        msg[128];
        if (!frames || !lens
            || photo_decode(
                frames[i], lens[i], &ft, FS, &im, &code, msg, sizeof msg))
        {
            bad++;
            continue;
        }
        uint8_t *g = photo_grey(&im);
        if (!g) {
            photo_img_free(&im);
            continue;
        }
        fr[nf++] = (frame_t){ g, im.w, im.h };
        photo_img_free(&im);
    }
    json_object_set_new(metrics, "frames", json_integer(nf));
    if (bad)
        json_object_set_new(metrics, "frames_unreadable", json_integer(bad));
    double best = -1;
    if (nf >= 2) {
        best = 0;
        /* The face in the first frame: found there by the cascade when it
         * is large enough at this size, else the photo's face box mapped
         * by relative position (the burst and the photo share framing). */
        double     rx0 = 0.25, ry0 = 0.2, rx1 = 0.75, ry1 = 0.7;
        casc_hit_t h[4];
        int        fmin = fr[0].w < fr[0].h ? fr[0].w : fr[0].h;
        int        nh = casc_detect(
                   &casc_face, fr[0].g, fr[0].w, fr[0].h, 24, fmin, 1.1, 3, h, 4);
        if (nh > 0) {
            int bi = 0;
            for (int k = 1; k < nh; k++)
                if (h[k].w > h[bi].w)
                    bi = k;
            rx0 = (double) h[bi].x / fr[0].w;
            rx1 = (double) (h[bi].x + h[bi].w) / fr[0].w;
            ry0 = (double) h[bi].y / fr[0].h;
            ry1 = (double) (h[bi].y + h[bi].h) / fr[0].h;
        } else if (d->nfaces) {
            const photo_box_t *f = &d->faces[0];
            rx0 = f->x / photo->w;
            rx1 = (f->x + f->w) / photo->w;
            ry0 = f->y / photo->h;
            ry1 = (f->y + f->h) / photo->h;
        }
        json_object_set_new(metrics, "frame_face", json_boolean(nh > 0));
        int x0 = (int) (rx0 * fr[0].w), x1 = (int) (rx1 * fr[0].w);
        int y0 = (int) (ry0 * fr[0].h), y1 = (int) (ry1 * fr[0].h);
        if (x0 < 0)
            x0 = 0;
        if (y0 < 0)
            y0 = 0;
        if (x1 > fr[0].w)
            x1 = fr[0].w;
        if (y1 > fr[0].h)
            y1 = fr[0].h;
        for (int i = 1; i < nf; i++) {
            if (fr[i].w != fr[0].w || fr[i].h != fr[0].h)
                continue;
            double s = pair_score(&fr[0], &fr[i], x0, y0, x1, y1);
            if (s > best)
                best = s;
        }
    }
    for (int i = 0; i < nf; i++)
        free(fr[i].g);
    if (best >= 0)
        json_object_set_new(
            metrics, "nonrigid", json_real(round(best * 1000) / 1000));
    return best;
}
