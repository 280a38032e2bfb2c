/*
 * photo_checks.c -- the quality checks of PRODUCT.md on the working copy:
 * each adds its reason code with the measured value and the limit, and
 * every measured value also goes to the metrics, pass or fail.
 */
#include "photo_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double
round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

/* Clamp a face-relative rectangle to the image; 0 when empty. */
static int
clip(const photo_img_t *im, double fx0, double fy0, double fx1, double fy1,
    int *x0, int *y0, int *x1, int *y1)
{
    *x0 = fx0 < 0 ? 0 : (int) fx0;
    *y0 = fy0 < 0 ? 0 : (int) fy0;
    *x1 = fx1 > im->w ? im->w : (int) fx1;
    *y1 = fy1 > im->h ? im->h : (int) fy1;
    return *x1 > *x0 && *y1 > *y0;
}

/* Solves a 3x3 system (Cramer); 0 or -1 if singular. */
static int
solve3(const double a[3][3], const double b[3], double *x)
{
    double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
        - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
        + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    if (fabs(det) < 1e-9)
        return -1;
    for (int k = 0; k < 3; k++) {
        double m[3][3];
        memcpy(m, a, sizeof m);
        for (int r = 0; r < 3; r++)
            m[r][k] = b[r];
        x[k] = (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                   - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                   + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))
            / det;
    }
    return 0;
}

double
photo_bg_stddev(const photo_img_t *im, const photo_box_t *f, double *mean)
{
    /* Background = above the hair and beside the head, down to the chin:
     * the part a plain wall fills in a correct ID photo.  What counts is
     * the spread around a plane fitted per channel (issue 10: a light
     * gradient or vignetting is a plain wall the matte replaces; texture,
     * objects and furniture are not). */
    double top = f->y - 0.55 * f->h, bottom = f->y + 0.9 * f->h;
    double left = f->x - 0.3 * f->w, right = f->x + 1.3 * f->w;
    double A[3][3] = { { 0 } }, B[3][3] = { { 0 } }, s[3] = { 0 }, q[3] = { 0 };
    long   n = 0;
    for (int pass = 0; pass < 2; pass++) {
        double coef[3][3] = { { 0 } };
        if (pass) {
            for (int c = 0; c < 3; c++)
                if (solve3(A, B[c], coef[c])) {
                    coef[c][0] = s[c] / n;
                    coef[c][1] = coef[c][2] = 0;
                }
            memset(s, 0, sizeof s);
            memset(q, 0, sizeof q);
        }
        n = 0;
        for (int y = 0; y < im->h && y < bottom; y += 2)
            for (int x = 0; x < im->w; x += 2) {
                if (y >= top && x >= left && x < right)
                    continue;
                const uint8_t *p = im->px + 3 * ((size_t) y * im->w + x);
                double         xn = (double) x / im->w - 0.5,
                       yn = (double) y / im->h - 0.5;
                double fv[3] = { 1, xn, yn };
                for (int c = 0; c < 3; c++) {
                    if (!pass) {
                        s[c] += p[c];
                        for (int k = 0; k < 3; k++)
                            B[c][k] += fv[k] * p[c];
                    } else {
                        double r = p[c]
                            - (coef[c][0] + coef[c][1] * xn + coef[c][2] * yn);
                        s[c] += r;
                        q[c] += r * r;
                    }
                }
                if (!pass)
                    for (int a = 0; a < 3; a++)
                        for (int b = 0; b < 3; b++)
                            A[a][b] += fv[a] * fv[b];
                n++;
            }
        if (n < 50) {
            if (mean)
                mean[0] = mean[1] = mean[2] = 0;
            return -1;
        }
        if (!pass && mean)
            for (int c = 0; c < 3; c++)
                mean[c] = s[c] / n;
    }
    double sd = 0;
    for (int c = 0; c < 3; c++) {
        double m = s[c] / n, v = q[c] / n - m * m;
        sd += sqrt(v > 0 ? v : 0);
    }
    return sd / 3;
}

/* Laplacian variance on the face resampled to N x N: with N = the face's
 * width in the produced photo, blur is judged as it will be seen. */
double
photo_sharpness(const uint8_t *g, int gw, int gh, const photo_box_t *f, int N)
{
    static const int lap[3][3] = { { 0, 1, 0 }, { 1, -4, 1 }, { 0, 1, 0 } };
    if (N < 16)
        N = 16;
    uint8_t *b = malloc((size_t) N * N);
    if (!b)
        return 0;
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) {
            /* bilinear sampling keeps the face's own sharpness; a box
             * average would smooth small faces more than large ones */
            double sx = f->x + f->w * (x + 0.5) / N,
                   sy = f->y + f->h * (y + 0.5) / N;
            int ix = (int) sx, iy = (int) sy;
            if (ix < 0)
                ix = 0;
            if (iy < 0)
                iy = 0;
            if (ix > gw - 2)
                ix = gw - 2;
            if (iy > gh - 2)
                iy = gh - 2;
            if (ix < 0 || iy < 0) {
                b[y * N + x] = 0;
                continue;
            }
            double ax = sx - ix, ay = sy - iy;
            if (ax < 0)
                ax = 0;
            if (ax > 1)
                ax = 1;
            if (ay < 0)
                ay = 0;
            if (ay > 1)
                ay = 1;
            const uint8_t *p = g + (size_t) iy * gw + ix;
            double         v = p[0] * (1 - ax) * (1 - ay) + p[1] * ax * (1 - ay)
                + p[gw] * (1 - ax) * ay + p[gw + 1] * ax * ay;
            b[y * N + x] = (uint8_t) (v + 0.5);
        }
    double s = 0, q = 0;
    int    n = 0;
    for (int y = 1; y < N - 1; y++)
        for (int x = 1; x < N - 1; x++) {
            int v = 0;
            for (int j = -1; j <= 1; j++)
                for (int i = -1; i <= 1; i++)
                    v += lap[j + 1][i + 1] * b[(y + j) * N + x + i];
            s += v;
            q += (double) v * v;
            n++;
        }
    /* contrast-normalised: a dark face has weaker edges, not a blurrier
     * picture (gain capped so noise is not blown up) */
    double mean = 0;
    for (int i = 0; i < N * N; i++)
        mean += b[i];
    mean /= (double) N * N;
    free(b);
    double m = s / n, gain = 128.0 / (mean > 32 ? mean : 32);
    return (q / n - m * m) * (gain < 1 ? 1 : gain * gain);
}

int
photo_checks_run(const photo_img_t *im, const uint8_t *g, const photo_det_t *d,
    const photo_thresholds_t *th, const photo_spec_t *spec, photo_geom_t *geo,
    const photo_meta_t *meta, photo_report_t *r)
{
    size_t  before = json_array_size(r->reasons);
    json_t *m = r->metrics;
    int     shortside = im->orig_w < im->orig_h ? im->orig_w : im->orig_h;
    json_object_set_new(m, "width", json_integer(im->orig_w));
    json_object_set_new(m, "height", json_integer(im->orig_h));
    json_object_set_new(m, "format", json_string(im->format));
    if (shortside < th->min_short_side)
        photo_reason(r, "LOW_RESOLUTION", json_integer(shortside),
            json_integer(th->min_short_side));

    /* Faces of at least half the subject's width count as other people. */
    int people = 0;
    for (int i = 0; i < d->nfaces; i++)
        if (d->faces[i].w >= 0.5 * d->faces[0].w)
            people++;
    json_object_set_new(m, "faces", json_integer(people));
    if (d->nfaces == 0) {
        photo_reason(r, "NO_FACE", json_integer(0), json_integer(1));
        /* with no face, exposure of the whole picture is the likely cause */
        double sum = 0;
        size_t n = (size_t) im->w * im->h;
        for (size_t i = 0; i < n; i++)
            sum += g[i];
        double luma = n ? sum / n : 0;
        json_object_set_new(m, "image_luma", json_real(round3(luma)));
        if (luma < th->min_luma)
            photo_reason(r, "TOO_DARK", json_real(round3(luma)),
                json_real(th->min_luma));
        if (luma > th->max_luma)
            photo_reason(r, "TOO_BRIGHT", json_real(round3(luma)),
                json_real(th->max_luma));
    } else {
        const photo_box_t *f = &d->faces[0];
        if (people > 1)
            photo_reason(
                r, "MULTIPLE_FACES", json_integer(people), json_integer(1));
        double frac = f->w / im->w;
        json_object_set_new(m, "face_frac", json_real(round3(frac)));
        double off = (f->x + f->w / 2 - im->w / 2.0) / im->w;
        json_object_set_new(m, "center_off", json_real(round3(off)));
        if (spec && geo && !photo_geom_solve(im, d, spec, geo)) {
            /* issue 10: the spec crop decides, not fixed fractions */
            json_object_set_new(
                m, "face_w_px", json_integer(lround(geo->face_w)));
            json_object_set_new(
                m, "hair_top_measured", json_boolean(geo->hair_measured));
            json_object_set_new(
                m, "hair_top_y", json_integer(lround(geo->hair_y)));
            if (geo->ok) {
                json_object_set_new(
                    m, "out_scale", json_real(round(geo->k * 1e5) / 1e5));
                json_object_set_new(
                    m, "out_face_w", json_integer(lround(geo->out_face_w)));
                json_object_set_new(
                    m, "out_eye_line", json_integer(lround(geo->ye_out)));
                json_object_set_new(
                    m, "out_hair_top", json_integer(lround(geo->out_hair_top)));
                json_object_set_new(
                    m, "out_fill", json_real(round3(geo->fill)));
                /* the crop as an affine: output = k R(-roll) (src - eye) + (w/2, eye line) */
                json_object_set_new(m, "src_eye_centre",
                    json_pack("[ff]", round(geo->ex * 10) / 10,
                        round(geo->ey * 10) / 10));
                json_object_set_new(
                    m, "out_roll_deg", json_real(round3(geo->roll_deg)));
            } else if (!strcmp(geo->code, "FACE_OFF_CENTER")) {
                photo_reason(r, geo->code, json_real(round3(geo->value)),
                    json_real(round3(geo->limit)));
            } else {
                photo_reason(r, geo->code, json_integer(lround(geo->value)),
                    json_integer(lround(geo->limit)));
            }
        }
        if (d->eyes_found) {
            json_object_set_new(m, "roll_deg", json_real(round3(d->roll_deg)));
            json_object_set_new(m, "eyes_method",
                json_string(d->eyes_refined == 2
                        ? (d->eyes_limbus ? "iris+limbus" : "iris")
                        : d->eyes_refined
                        ? (d->eyes_limbus ? "cascade+iris+limbus"
                                          : "cascade+iris")
                        : "cascade"));
            json_object_set_new(m, "eye_line_y",
                json_integer(lround((d->ly + d->ry) / 2 * im->scale)));
            /* each eye in source px: `make eval` measures them against labels */
            json_object_set_new(m, "src_eyes",
                json_pack("[[ff][ff]]", round(d->lx * im->scale * 10) / 10,
                    round(d->ly * im->scale * 10) / 10,
                    round(d->rx * im->scale * 10) / 10,
                    round(d->ry * im->scale * 10) / 10));
            if (fabs(d->roll_deg) > th->max_roll_deg)
                photo_reason(r, "HEAD_TILTED", json_real(round3(d->roll_deg)),
                    json_real(th->max_roll_deg));
        } else {
            photo_reason(r, "EYES_NOT_FOUND", json_integer(0), json_integer(2));
        }
        /* Light on the inner face (no hair, no background). */
        int    x0, y0, x1, y1;
        double ls = 0, rs = 0;
        long   ln = 0, rn = 0;
        if (clip(im, f->x + 0.2 * f->w, f->y + 0.2 * f->h, f->x + 0.8 * f->w,
                f->y + 0.9 * f->h, &x0, &y0, &x1, &y1))
        {
            int mid = (x0 + x1) / 2;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                    if (x < mid) {
                        ls += g[(size_t) y * im->w + x];
                        ln++;
                    } else {
                        rs += g[(size_t) y * im->w + x];
                        rn++;
                    }
                }
        }
        if (ln && rn) {
            double luma = (ls + rs) / (ln + rn);
            double a = ls / ln + 1, b = rs / rn + 1;
            double ratio = a > b ? a / b : b / a;
            json_object_set_new(m, "face_luma", json_real(round3(luma)));
            json_object_set_new(m, "light_ratio", json_real(round3(ratio)));
            if (luma < th->min_luma)
                photo_reason(r, "TOO_DARK", json_real(round3(luma)),
                    json_real(th->min_luma));
            if (luma > th->max_luma)
                photo_reason(r, "TOO_BRIGHT", json_real(round3(luma)),
                    json_real(th->max_luma));
            if (ratio > th->max_light_ratio)
                photo_reason(r, "UNEVEN_LIGHTING", json_real(round3(ratio)),
                    json_real(th->max_light_ratio));
        }
        /* Blur is judged at the output's face scale on the produced crop
         * (photo_process); here only when there will be no crop. */
        if (!geo || !geo->ok) {
            double sh = photo_sharpness(g, im->w, im->h, f, 128);
            json_object_set_new(m, "sharpness", json_real(round3(sh)));
            if (sh < th->min_sharpness)
                photo_reason(r, "BLURRY", json_real(round3(sh)),
                    json_real(th->min_sharpness));
        }
        double bg = photo_bg_stddev(im, f, NULL);
        if (bg >= 0) {
            json_object_set_new(m, "bg_stddev", json_real(round3(bg)));
            if (bg > th->max_bg_stddev)
                photo_reason(r, "BACKGROUND_NOT_UNIFORM", json_real(round3(bg)),
                    json_real(th->max_bg_stddev));
        }
    }
    /* Recapture: image cues, plus what the capture metadata tells. */
    double rc =
        photo_recapture_score(im, g, d->nfaces ? &d->faces[0] : NULL, m);
    json_object_set_new(m, "recapture", json_real(round3(rc)));
    int aspect_screen =
        (double) (im->orig_w > im->orig_h ? im->orig_w : im->orig_h)
            / (shortside ? shortside : 1)
        >= 1.95;
    if (meta && !strcmp(meta->source, "album"))
        photo_reason(r, "RECAPTURE_SUSPECTED", json_string("source=album"),
            json_string("source=camera"));
    else if (!strcmp(im->format, "png") && aspect_screen)
        photo_reason(r, "RECAPTURE_SUSPECTED",
            json_string("screenshot-like PNG"), json_string("camera photo"));
    else if (rc > th->recapture_score)
        photo_reason(r, "RECAPTURE_SUSPECTED", json_real(round3(rc)),
            json_real(th->recapture_score));
    return (int) (json_array_size(r->reasons) - before);
}
