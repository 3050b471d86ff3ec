/* quality.c: the gate's numbers on held-out photos (quality.h), the same
 * definitions as tools/quality.py. */
#include "engine/train/quality.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net_impl.h"
#include "engine/stylize.h"
#include "engine/train/traindata.h"

#define S3 0.57735026918962573   /* 1/sqrt(3) */
#define S2 0.70710678118654752   /* 1/sqrt(2) */
#define S6 0.40824829046386302   /* 1/sqrt(6) */

const double quality_dirs[QUALITY_NDIRS][3] = {
    {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {S3, S3, S3},
    {S2, -S2, 0}, {S2, 0, -S2}, {S6, S6, -2 * S6},
};

/* The luminance of img, (h, w) doubles, new; NULL when out of memory. */
static double *lum(const Image *img)
{
    size_t n = (size_t)img->w * img->h;
    double *y = malloc(n * sizeof *y);
    if (!y)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + 3 * i;
        y[i] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    }
    return y;
}

/* 2x2 average of y (h, w) into out (h/2, w/2); an odd last row or column
 * is dropped. */
static void pool2(const double *y, int h, int w, double *out)
{
    int ph = h / 2, pw = w / 2;
    for (int i = 0; i < ph; i++)
        for (int j = 0; j < pw; j++) {
            const double *a = y + (size_t)(2 * i) * w + 2 * j, *b = a + w;
            out[(size_t)i * pw + j] = 0.25 * (a[0] + b[0] + a[1] + b[1]);
        }
}

/* numpy.gradient along one axis: (x[i+1] - x[i-1]) / 2 inside, one-sided
 * differences at the ends. n >= 2; stride steps between neighbours. */
static double diff_at(const double *x, int i, int n, size_t stride)
{
    if (i == 0)
        return x[stride] - x[0];
    if (i == n - 1)
        return x[(size_t)i * stride] - x[(size_t)(i - 1) * stride];
    return 0.5 * (x[(size_t)(i + 1) * stride] - x[(size_t)(i - 1) * stride]);
}

/* The gradient magnitude of x (h, w), h, w >= 2, into g. */
static void grad_mag(const double *x, int h, int w, double *g)
{
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            double gy = diff_at(x + j, i, h, (size_t)w);
            double gx = diff_at(x + (size_t)i * w, j, w, 1);
            g[(size_t)i * w + j] = hypot(gx, gy);
        }
}

/* Pearson correlation of a and b (n values); 0 when either is constant. */
static double correlation(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double da = a[i] - ma, db = b[i] - mb;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

/* The pooled gradient magnitude of img's luminance, (h/2, w/2), new. */
static double *pooled_grad(const Image *img)
{
    int ph = img->h / 2, pw = img->w / 2;
    double *y = lum(img), *p = malloc((size_t)ph * pw * sizeof *p);
    double *g = malloc((size_t)ph * pw * sizeof *g);
    if (y && p && g) {
        pool2(y, img->h, img->w, p);
        grad_mag(p, ph, pw, g);
    } else {
        free(g);
        g = NULL;
    }
    free(y);
    free(p);
    return g;
}

double quality_edges(const Image *photo, const Image *pic)
{
    if (photo->w != pic->w || photo->h != pic->h || pic->w < 4 || pic->h < 4)
        return 0;
    double *a = pooled_grad(photo), *b = pooled_grad(pic);
    double r = a && b ? correlation(a, b, (size_t)(pic->h / 2) * (pic->w / 2)) : 0;
    free(a);
    free(b);
    return r;
}

static double variance(const double *x, size_t n)
{
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m);
    return v / (double)n;
}

double quality_fine(const Image *pic)
{
    int h = pic->h / 2 * 2, w = pic->w / 2 * 2;
    if (h < 2 || w < 2)
        return 0;
    double *y = lum(pic), *p = malloc((size_t)(h / 2) * (w / 2) * sizeof *p);
    double *crop = malloc((size_t)h * w * sizeof *crop), *res = malloc((size_t)h * w * sizeof *res);
    double r = 0;
    if (y && p && crop && res) {
        pool2(y, pic->h, pic->w, p);
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                double v = y[(size_t)i * pic->w + j];
                crop[(size_t)i * w + j] = v;
                res[(size_t)i * w + j] = v - p[(size_t)(i / 2) * (w / 2) + j / 2];
            }
        double vy = variance(crop, (size_t)h * w);
        r = variance(res, (size_t)h * w) / (vy > 1e-9 ? vy : 1e-9);
    }
    free(y);
    free(p);
    free(crop);
    free(res);
    return r;
}

double quality_spread(const Image *const *pics, int n)
{
    double mean[3] = {0, 0, 0}, var[3] = {0, 0, 0};
    double *m = malloc((size_t)(n > 0 ? n : 1) * 3 * sizeof *m);
    if (!m || n < 1) {
        free(m);
        return 0;
    }
    for (int k = 0; k < n; k++) {
        size_t np = (size_t)pics[k]->w * pics[k]->h;
        double s[3] = {0, 0, 0};
        for (size_t i = 0; i < np; i++)
            for (int c = 0; c < 3; c++)
                s[c] += pics[k]->px[3 * i + c];
        for (int c = 0; c < 3; c++) {
            m[3 * k + c] = np ? s[c] / (double)np : 0;
            mean[c] += m[3 * k + c] / n;
        }
    }
    for (int k = 0; k < n; k++)
        for (int c = 0; c < 3; c++)
            var[c] += (m[3 * k + c] - mean[c]) * (m[3 * k + c] - mean[c]) / n;
    free(m);
    return (sqrt(var[0]) + sqrt(var[1]) + sqrt(var[2])) / 3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The QUALITY_NQUANT quantiles of img's pixels projected on dir. */
static int quantiles(const Image *img, const double *dir, double *q, double *scratch)
{
    size_t n = (size_t)img->w * img->h;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + 3 * i;
        scratch[i] = dir[0] * p[0] + dir[1] * p[1] + dir[2] * p[2];
    }
    qsort(scratch, n, sizeof *scratch, cmp_double);
    for (int k = 0; k < QUALITY_NQUANT; k++)
        q[k] = scratch[(size_t)((k + 0.5) * (double)n / QUALITY_NQUANT)];
    return 0;
}

double quality_style(const Image *pic, const Image *painting)
{
    size_t n1 = (size_t)pic->w * pic->h, n2 = (size_t)painting->w * painting->h;
    double *scratch = malloc((n1 > n2 ? n1 : n2) * sizeof *scratch), d = 0;
    double qa[QUALITY_NQUANT], qb[QUALITY_NQUANT];
    if (!scratch || !n1 || !n2) {
        free(scratch);
        return -1;
    }
    for (int k = 0; k < QUALITY_NDIRS; k++) {
        quantiles(pic, quality_dirs[k], qa, scratch);
        quantiles(painting, quality_dirs[k], qb, scratch);
        for (int i = 0; i < QUALITY_NQUANT; i++)
            d += fabs(qa[i] - qb[i]);
    }
    free(scratch);
    return d / (QUALITY_NDIRS * QUALITY_NQUANT);
}

/* ---- strokes and mid ---------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The quantiles of each orientation's energy at each level of g's last
 * image, h x w at level 0. e: scratch of h * w floats. */
static void energy_quantiles(const GaborNet *g, int h, int w, float *e, QualityStrokes *out)
{
    for (int l = 0; l < QUALITY_STROKE_LEVELS; l++) {
        size_t n = (size_t)(h >> l) * (size_t)(w >> l);
        const float *f = gabor_features_at(g, l);
        for (int k = 0; k < GABOR_ORIENT; k++) {
            memcpy(e, f + (size_t)(GABOR_ENERGY + k) * n, n * sizeof *e);
            qsort(e, n, sizeof *e, cmp_float);
            for (int i = 0; i < QUALITY_NQUANT; i++)
                out->q[l][k][i] = e[(size_t)((i + 0.5) * (double)n / QUALITY_NQUANT)];
        }
    }
}

int quality_stroke_stats(const Image *img, int threads, QualityStrokes *out, char *err,
                         size_t errlen)
{
    int h = img->h / 4 * 4, w = img->w / 4 * 4, rc = -1;
    if (h < QUALITY_STROKE_MIN || w < QUALITY_STROKE_MIN) {
        snprintf(err, errlen, "%dx%d is too small for the stroke statistics (%d a side at least)",
                 img->w, img->h, QUALITY_STROKE_MIN);
        return -1;
    }
    size_t n = (size_t)h * w;
    float *px = malloc(3 * n * sizeof *px), *e = malloc(n * sizeof *e);
    GaborNet *g = NULL;
    if (!px || !e) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (!(g = gabor_new(0, QUALITY_STROKE_LEVELS, NULL, err, errlen)) ||
        gabor_plan(g, 1, h, w, threads, err, errlen))
        goto done;
    /* The top-left h x w, planar. */
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                px[(size_t)c * n + (size_t)y * w + x] = img->px[((size_t)y * img->w + x) * 3 + c];
    gabor_features(g, px, 0);
    energy_quantiles(g, h, w, e, out);
    rc = 0;
done:
    gabor_free(g);
    free(px);
    free(e);
    return rc;
}

double quality_strokes(const QualityStrokes *a, const QualityStrokes *b)
{
    const double *x = &a->q[0][0][0], *y = &b->q[0][0][0];
    const size_t n = sizeof a->q / sizeof a->q[0][0][0];
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += fabs(x[i] - y[i]);
    return d / (double)n;
}

Image *quality_training_scaled(const Image *painting, int size, float lo, float hi)
{
    int s = painting->w < painting->h ? painting->w : painting->h;
    if (!(lo > 0) || !(hi >= lo) || size < 1 || s < 1)
        return NULL;
    double f = size / (0.5 * ((double)lo + hi) * s);
    double w = floor(painting->w * f + 0.5), h = floor(painting->h * f + 0.5);
    if (w > 1e6 || h > 1e6)   /* image_resize refuses what it cannot; this keeps the cast defined */
        return NULL;
    return image_resize(painting, w < 1 ? 1 : (int)w, h < 1 ? 1 : (int)h);
}

double quality_mid(const Image *pic)
{
    int h = pic->h / 16 * 16, w = pic->w / 16 * 16, bw = w / 4, cw = w / 16;
    if (h < 16 || w < 16)
        return 0;
    double *y = lum(pic), *m4 = calloc((size_t)(h / 4) * bw, sizeof *m4);
    double *m16 = calloc((size_t)(h / 16) * cw, sizeof *m16), *crop = malloc((size_t)h * w * sizeof *crop);
    double r = -1;
    if (y && m4 && m16 && crop) {
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                double v = y[(size_t)i * pic->w + j];
                crop[(size_t)i * w + j] = v;
                m4[(size_t)(i / 4) * bw + j / 4] += v / 16;
                m16[(size_t)(i / 16) * cw + j / 16] += v / 256;
            }
        /* Each 4x4 block stands for its 16 pixels alike: the variance over
         * the blocks is the variance over the pixels. */
        for (int i = 0; i < h / 4; i++)
            for (int j = 0; j < bw; j++)
                m4[(size_t)i * bw + j] -= m16[(size_t)(i / 4) * cw + j / 4];
        double vy = variance(crop, (size_t)h * w);
        r = variance(m4, (size_t)(h / 4) * bw) / (vy > 1e-9 ? vy : 1e-9);
    }
    free(y);
    free(m4);
    free(m16);
    free(crop);
    return r;
}

int quality_painting_init(QualityPainting *p, const Image *img, int size, float lo, float hi,
                          int threads, char *err, size_t errlen)
{
    Image *scaled = quality_training_scaled(img, size, lo, hi);
    int rc;
    p->img = img;
    if (!scaled) {
        snprintf(err, errlen, "cannot scale the %dx%d painting for a crop of %d at %g..%g",
                 img->w, img->h, size, lo, hi);
        return -1;
    }
    rc = quality_stroke_stats(scaled, threads, &p->strokes, err, errlen);
    image_free(scaled);
    return rc;
}

/* ---- a whole model ------------------------------------------------------- */

json_t *quality_json(const QualityScores *q)
{
    return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "photos",
                     q->photos, "finite", q->finite, "edges", q->edges, "fine", q->fine,
                     "spread", q->spread, "photo_spread", q->photo_spread, "style", q->style,
                     "strokes", q->strokes, "photo_strokes", q->photo_strokes, "mid", q->mid,
                     "photo_mid", q->photo_mid);
}

static size_t finite_in(const float *x, size_t n)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += isfinite(x[i]) != 0;
    return ok;
}

/* Each layer's weights and biases as net_param_count counts them: the
 * padding between tensors in the parameter block is never looked at. */
double quality_finite(const Net *net)
{
    size_t ok = 0, n = 0;
    for (int i = 0; i < net->nops; i++) {
        const Op *op = &net->ops[i];
        size_t w = 0, b = 0;
        if (op->kind == OP_CONV || op->kind == OP_CONVT) {
            w = (size_t)op->cin * op->cout * op->k * op->k;
            b = op->has_bias ? (size_t)op->cout : 0;
        } else if (op->kind == OP_IN && op->affine) {
            w = b = (size_t)op->cin;
        }
        if (w && op->w_off != SIZE_MAX)
            ok += finite_in(net->params + op->w_off, w), n += w;
        if (b && op->b_off != SIZE_MAX)
            ok += finite_in(net->params + op->b_off, b), n += b;
    }
    return n ? (double)ok / (double)n : 1;
}

/* One photo through net at most max_size on the long side: the photo as
 * run (*in, new) and the picture (*out, new). 0 or -1 with a message. */
static int run_one(const Net *net, const Image *photo, int max_size, int threads, Image **in,
                   Image **out, char *err, size_t errlen)
{
    int w, h, rc = -1;
    NetPlan *plan = NULL;
    float *buf = NULL;
    *in = *out = NULL;
    stylize_fit(photo->w, photo->h, max_size, &w, &h);
    *in = image_resize(photo, w, h);
    *out = image_new(w, h);
    plan = net_plan(net, h, w, threads);
    buf = malloc((size_t)6 * w * h * sizeof *buf);   /* in, out */
    if (!*in || !*out || !plan || !buf) {
        snprintf(err, errlen, "cannot run the model at %dx%d (out of memory)", w, h);
        goto done;
    }
    size_t n = (size_t)3 * w * h;
    image_to_planar(*in, buf);
    if (net_forward(net, plan, buf, buf + n)) {
        snprintf(err, errlen, "the forward pass failed at %dx%d", w, h);
        goto done;
    }
    image_from_planar(*out, buf + n);
    rc = 0;
done:
    free(buf);
    net_plan_free(plan);
    if (rc) {
        image_free(*in);
        image_free(*out);
        *in = *out = NULL;
    }
    return rc;
}

/* Adds a photo's mid (of its picture, and of the photo as run) into out,
 * divided by n, and with a painting its strokes into out->strokes and
 * photo_strokes, counting them in *stroked; a picture too small for the
 * stroke statistics adds none. 0, or -1 with a message. */
static int add_structure(const Image *in, const Image *pic, const QualityPainting *painting,
                         int n, int threads, QualityScores *out, int *stroked, char *err,
                         size_t errlen)
{
    QualityStrokes a, b;
    double m = quality_mid(pic), pm = quality_mid(in);
    if (m < 0 || pm < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->mid += m / n;
    out->photo_mid += pm / n;
    if (!painting || pic->w / 4 * 4 < QUALITY_STROKE_MIN || pic->h / 4 * 4 < QUALITY_STROKE_MIN)
        return 0;
    if (quality_stroke_stats(pic, threads, &a, err, errlen) ||
        quality_stroke_stats(in, threads, &b, err, errlen))
        return -1;
    out->strokes += quality_strokes(&a, &painting->strokes);
    out->photo_strokes += quality_strokes(&b, &painting->strokes);
    ++*stroked;
    return 0;
}

int quality_evaluate(const Net *net, const Image *const *photos, int nphotos,
                     const QualityPainting *painting, int max_size, int threads,
                     QualityScores *out, char *err, size_t errlen)
{
    Image **ins = calloc((size_t)(nphotos > 0 ? nphotos : 1), sizeof *ins);
    Image **pics = calloc((size_t)(nphotos > 0 ? nphotos : 1), sizeof *pics);
    int rc = -1, stroked = 0;
    memset(out, 0, sizeof *out);
    out->finite = quality_finite(net);
    out->style = painting ? 0 : -1;
    if (!ins || !pics) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (nphotos < 1) {
        snprintf(err, errlen, "no photos to judge the model on");
        goto done;
    }
    for (int k = 0; k < nphotos; k++) {
        if (run_one(net, photos[k], max_size, threads, &ins[k], &pics[k], err, errlen))
            goto done;
        out->edges += quality_edges(ins[k], pics[k]) / nphotos;
        out->fine += quality_fine(pics[k]) / nphotos;
        if (painting) {
            double s = quality_style(pics[k], painting->img);
            if (s < 0) {
                snprintf(err, errlen, "out of memory");
                goto done;
            }
            out->style += s / nphotos;
        }
        if (add_structure(ins[k], pics[k], painting, nphotos, threads, out, &stroked, err,
                          errlen))
            goto done;
    }
    out->strokes = stroked ? out->strokes / stroked : -1;
    out->photo_strokes = stroked ? out->photo_strokes / stroked : -1;
    out->photos = nphotos;
    out->spread = quality_spread((const Image *const *)pics, nphotos);
    out->photo_spread = quality_spread((const Image *const *)ins, nphotos);
    rc = 0;
done:
    for (int k = 0; ins && pics && k < nphotos; k++) {
        image_free(ins[k]);
        image_free(pics[k]);
    }
    free(ins);
    free(pics);
    return rc;
}

/* ---- the photos to judge on ------------------------------------------------ */

void quality_free_images(Image **imgs, int n)
{
    for (int i = 0; imgs && i < n; i++)
        image_free(imgs[i]);
    free(imgs);
}

static void fill_rect(Image *img, int x0, int y0, int x1, int y1, const uint8_t *c)
{
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < img->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < img->w; x++)
            memcpy(img->px + ((size_t)y * img->w + x) * 3, c, 3);
}

/* One scene: the light (sky colour, ground colour, sun) depends on i. */
static void draw_scene(Image *img, int i)
{
    static const uint8_t sky[QUALITY_SCENES][3] = {
        {90, 150, 230}, {240, 150, 80}, {40, 50, 110}, {180, 200, 210}, {250, 210, 150},
        {120, 200, 240}};
    static const uint8_t ground[QUALITY_SCENES][3] = {
        {70, 140, 60}, {150, 110, 60}, {30, 60, 40}, {200, 200, 190}, {180, 150, 90},
        {60, 120, 110}};
    static const uint8_t walls[4][3] = {{200, 60, 50}, {230, 220, 200}, {80, 80, 90},
                                        {220, 180, 40}};
    int w = img->w, h = img->h, horizon = h * (45 + 5 * (i % 3)) / 100;
    uint32_t seed = 2463534242u + (uint32_t)i * 7919u;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->px + ((size_t)y * w + x) * 3;
            /* The sky darkens upwards; the ground carries a hash texture
             * (grass, a field), so the picture has fine detail to keep. */
            int hill = horizon - (int)(0.08 * h * sin(6.2831853 * (x + 37 * i) / (0.7 * w)));
            if (y < hill) {
                double t = 0.6 + 0.4 * y / (double)(hill > 0 ? hill : 1);
                for (int c = 0; c < 3; c++)
                    p[c] = (uint8_t)(sky[i][c] * t);
            } else {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                int n = (int)(seed % 41) - 20;
                for (int c = 0; c < 3; c++) {
                    int v = ground[i][c] + n;
                    p[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
        }
    /* The sun (or moon), a disc. */
    int cx = w * (20 + 12 * i) / 100, cy = h / 6 + h * (i % 2) / 12, r = h / 10 + 1;
    const uint8_t sun[3] = {255, 240, 190};
    for (int y = cy - r; y <= cy + r; y++)
        for (int x = cx - r; x <= cx + r; x++)
            if (x >= 0 && y >= 0 && x < w && y < h && (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
                memcpy(img->px + ((size_t)y * w + x) * 3, sun, 3);
    /* Houses: a wall, a dark roof band, a window. */
    for (int k = 0; k < 3; k++) {
        int x0 = w * (10 + 30 * k + 3 * i) / 100, x1 = x0 + w / 6;
        int y1 = horizon + h / 5 + (k * h) / 20, y0 = y1 - h / 5 - (k % 2) * h / 10;
        const uint8_t roof[3] = {60, 30, 30}, window[3] = {250, 230, 120};
        fill_rect(img, x0, y0, x1, y1, walls[(i + k) % 4]);
        fill_rect(img, x0 - w / 40, y0 - h / 20, x1 + w / 40, y0, roof);
        fill_rect(img, x0 + w / 24, y0 + h / 20, x0 + w / 12, y0 + h / 10, window);
    }
}

int quality_scenes(int n, int w, int h, Image **out)
{
    for (int i = 0; i < n; i++) {
        if (i >= QUALITY_SCENES || !(out[i] = image_new(w, h))) {
            for (int k = 0; k < i; k++)
                image_free(out[k]);
            return -1;
        }
        draw_scene(out[i], i);
    }
    return 0;
}

int quality_holdout_photos(const char *dir, int holdout, int max, int max_side, Image ***out,
                           char *err, size_t errlen)
{
    char **names = NULL;
    int n = tdata_list_photos(dir, &names, err, errlen), got = 0;
    Image **imgs = calloc((size_t)(max > 0 ? max : 1), sizeof *imgs);
    *out = NULL;
    if (n < 0 || !imgs) {
        if (n >= 0)
            snprintf(err, errlen, "out of memory");
        tdata_free_names(names, n < 0 ? 0 : n);
        free(imgs);
        return -1;
    }
    for (int i = 0; i < n && got < max; i++) {
        char path[4096];
        int code, w, h;
        if (!tdata_held_out(i, holdout))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        Image *img = image_load_file(path, (int64_t)1 << 26, &code, err, errlen);
        if (img && stylize_fit(img->w, img->h, max_side, &w, &h) == 1) {
            Image *small = image_resize(img, w, h);
            image_free(img);
            img = small;
        }
        if (!img) {
            quality_free_images(imgs, got);
            tdata_free_names(names, n);
            return -1;
        }
        imgs[got++] = img;
    }
    tdata_free_names(names, n);
    *out = imgs;
    return got;
}
