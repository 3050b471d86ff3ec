/* loss.c: adversarial, content, total-variation and random-feature style
 * losses, Gram and sliced Wasserstein (loss.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "engine/layers.h"
#include "engine/train/loss.h"
#include "engine/rng.h"
#include "engine/train/swd.h"
#include "engine/train/tnet.h"

static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

double loss_gan(float *dd, const float *d, size_t n, GanLoss kind, GanRole role, float weight)
{
    double sum = 0, inv = 1.0 / (double)n;
    for (size_t i = 0; i < n; i++) {
        double x = d[i], l, g;
        switch (kind) {
        case GAN_LSGAN: {
            double tgt = role == GAN_D_FAKE ? 0.0 : 1.0;
            l = (x - tgt) * (x - tgt);
            g = 2 * (x - tgt);
            break;
        }
        case GAN_HINGE:
            if (role == GAN_G) {
                l = -x;
                g = -1;
            } else if (role == GAN_D_REAL) {
                l = x < 1 ? 1 - x : 0;
                g = x < 1 ? -1 : 0;
            } else {
                l = x > -1 ? 1 + x : 0;
                g = x > -1 ? 1 : 0;
            }
            break;
        default:
            if (role == GAN_D_FAKE) {
                l = softplus(x);
                g = sigmoid(x);
            } else {
                l = softplus(-x);
                g = -sigmoid(-x);
            }
            break;
        }
        sum += l;
        dd[i] += (float)(weight * g * inv);
    }
    return weight * sum * inv;
}

/* Pooled luminance (0..1) of one image: lum (h/pool, w/pool). */
static void pooled_lum(float *lum, const float *img, int h, int w, int pool)
{
    int ph = h / pool, pw = w / pool;
    size_t hw = (size_t)h * w;
    float k = 1.0f / (255.0f * (float)(pool * pool));
    for (int y = 0; y < ph; y++)
        for (int x = 0; x < pw; x++) {
            float acc = 0;
            for (int dy = 0; dy < pool; dy++)
                for (int dx = 0; dx < pool; dx++) {
                    size_t i = (size_t)(y * pool + dy) * w + x * pool + dx;
                    acc += 0.299f * img[i] + 0.587f * img[hw + i] + 0.114f * img[2 * hw + i];
                }
            lum[(size_t)y * pw + x] = acc * k;
        }
}

#define GAUSS_MAX_RADIUS 96         /* 3 sigma at the largest pool, 64 */

/* A normalised Gaussian of sigma pool / 2 over -r..r into k; r. */
static int gauss_taps(float *k, int pool, int n)
{
    double sigma = 0.5 * pool, sum = 0;
    int r = (int)ceil(3 * sigma);
    r = r > GAUSS_MAX_RADIUS ? GAUSS_MAX_RADIUS : r;
    r = r > n - 1 ? n - 1 : r;
    for (int t = -r; t <= r; t++)
        sum += k[t + r] = (float)exp(-0.5 * t * t / (sigma * sigma));
    for (int t = 0; t <= 2 * r; t++)
        k[t] = (float)(k[t] / sum);
    return r;
}

/* One pass of the separable blur over an h x w plane, along rows (step 1)
 * or columns (step w), reflect borders: out = K in, or with adjoint != 0
 * out = K^T in (out is zeroed first either way). */
static void gauss_pass(float *out, const float *in, int h, int w, const float *k, int r,
                       int along_cols, int adjoint)
{
    int len = along_cols ? h : w;
    size_t step = along_cols ? (size_t)w : 1;
    memset(out, 0, (size_t)h * w * sizeof(float));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x, base = i - (size_t)(along_cols ? y : x) * step;
            int pos = along_cols ? y : x;
            for (int t = -r; t <= r; t++) {
                size_t j = base + (size_t)reflect_index(pos + t, len) * step;
                if (adjoint)
                    out[j] += k[t + r] * in[i];
                else
                    out[i] += k[t + r] * in[j];
            }
        }
}

size_t loss_content_work_floats(int h, int w, int pool, int gauss)
{
    if (pool < 1)
        return 0;
    return gauss ? 3 * (size_t)h * w : 2 * (size_t)(h / pool) * (size_t)(w / pool);
}

/* The Gaussian content loss of one image pair; adds its gradient into d. */
static double content_gauss(float *d, const float *o, const float *p, int h, int w,
                            int pool, float scale, float *work)
{
    size_t hw = (size_t)h * w;
    float *diff = work, *tmp = work + hw, *blur = work + 2 * hw;
    float kr[2 * GAUSS_MAX_RADIUS + 1], kc[2 * GAUSS_MAX_RADIUS + 1];
    int rr = gauss_taps(kr, pool, w), rc = gauss_taps(kc, pool, h);
    for (size_t i = 0; i < hw; i++)
        diff[i] = (0.299f * (o[i] - p[i]) + 0.587f * (o[hw + i] - p[hw + i]) +
                   0.114f * (o[2 * hw + i] - p[2 * hw + i])) / 255.0f;
    gauss_pass(tmp, diff, h, w, kr, rr, 0, 0);
    gauss_pass(blur, tmp, h, w, kc, rc, 1, 0);
    double sum = 0;
    for (size_t i = 0; i < hw; i++) {
        sum += (double)blur[i] * blur[i];
        blur[i] *= 2 * scale / 255.0f;
    }
    gauss_pass(tmp, blur, h, w, kc, rc, 1, 1);
    gauss_pass(diff, tmp, h, w, kr, rr, 0, 1);
    for (size_t i = 0; i < hw; i++) {
        d[i] += 0.299f * diff[i];
        d[hw + i] += 0.587f * diff[i];
        d[2 * hw + i] += 0.114f * diff[i];
    }
    return sum;
}

double loss_content(float *dout, const float *out, const float *photo, int b, int h, int w,
                    int pool, int gauss, float weight, float *work)
{
    size_t hw = (size_t)h * w;
    if (gauss) {
        if (pool < 1)
            return 0;
        double sum = 0, inv = 1.0 / ((double)hw * b);
        for (int n = 0; n < b; n++)
            sum += content_gauss(dout + (size_t)n * 3 * hw, out + (size_t)n * 3 * hw,
                                 photo + (size_t)n * 3 * hw, h, w, pool,
                                 (float)(weight * inv), work);
        return weight * sum * inv;
    }
    if (pool < 1 || h % pool || w % pool)
        return 0;
    int ph = h / pool, pw = w / pool;
    size_t np = (size_t)ph * pw;
    float *lo = work, *lp = work + np;
    double sum = 0, inv = 1.0 / ((double)np * b);
    for (int n = 0; n < b; n++) {
        const float *o = out + (size_t)n * 3 * hw;
        float *d = dout + (size_t)n * 3 * hw;
        pooled_lum(lo, o, h, w, pool);
        pooled_lum(lp, photo + (size_t)n * 3 * hw, h, w, pool);
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                double diff = lo[(size_t)y * pw + x] - lp[(size_t)y * pw + x];
                sum += diff * diff;
                float g = (float)(weight * 2 * diff * inv / (255.0 * pool * pool));
                for (int dy = 0; dy < pool; dy++)
                    for (int dx = 0; dx < pool; dx++) {
                        size_t i = (size_t)(y * pool + dy) * w + x * pool + dx;
                        d[i] += 0.299f * g;
                        d[hw + i] += 0.587f * g;
                        d[2 * hw + i] += 0.114f * g;
                    }
            }
    }
    return weight * sum * inv;
}

double loss_tv(float *dout, const float *out, int b, int h, int w, float weight)
{
    double sum = 0;
    size_t cnt = (size_t)b * 3 * ((size_t)(h - 1) * w + (size_t)h * (w - 1));
    if (!cnt)
        return 0;
    double k = 1.0 / (255.0 * 255.0), inv = 1.0 / (double)cnt;
    for (int c = 0; c < b * 3; c++) {
        const float *p = out + (size_t)c * h * w;
        float *d = dout + (size_t)c * h * w;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                if (x + 1 < w) {
                    double diff = p[i + 1] - p[i];
                    sum += diff * diff * k;
                    float g = (float)(weight * 2 * diff * k * inv);
                    d[i + 1] += g;
                    d[i] -= g;
                }
                if (y + 1 < h) {
                    double diff = p[i + w] - p[i];
                    sum += diff * diff * k;
                    float g = (float)(weight * 2 * diff * k * inv);
                    d[i + w] += g;
                    d[i] -= g;
                }
            }
    }
    return weight * sum * inv;
}

/* ---- random-feature style losses: Gram and sliced Wasserstein ---------------- */

#define STYLE_STAGES STYLE_MAX_DEPTH
#define SWD_LEVELS (STYLE_STAGES + 1)   /* the pixels, then each stage's features */
static const int stage_ch[STYLE_STAGES + 1] = { 3, 32, 64, 128, 256, 256, 256 };
static const int stage_stride[STYLE_STAGES] = { 1, 2, 2, 2, 2, 2 };

struct StyleNet {
    StyleKind kind;
    int depth;                 /* stages in use, STYLE_MIN_DEPTH..STYLE_MAX_DEPTH */
    float level_w[SWD_LEVELS]; /* per level: the pixels, then each stage */
    TNet *net[STYLE_STAGES];
    float *target;             /* Gram: per stage C x C; SWD: per level C x n samples */
    size_t toff[SWD_LEVELS + 1];
    size_t n[SWD_LEVELS];      /* SWD: pixels per image at each level */
    float *gram;               /* Gram scratch, the largest C x C */
    Swd swd;                   /* SWD: scratch, directions and target sampling */
    size_t swd_bytes;          /* SWD: the target, as planned (its scratch: swd.bytes) */
    int ntarget;
    int b, h, w;               /* the planned shape */
};

StyleNet *style_new(uint64_t seed, StyleKind kind, int depth, const float *level_w,
                    char *err, size_t errlen)
{
    if (depth < STYLE_MIN_DEPTH || depth > STYLE_MAX_DEPTH) {
        snprintf(err, errlen, "style depth must be %d..%d", STYLE_MIN_DEPTH, STYLE_MAX_DEPTH);
        return NULL;
    }
    StyleNet *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->kind = kind;
    s->depth = depth;
    for (int l = 0; l <= depth; l++)
        s->level_w[l] = level_w ? level_w[l] : 1.0f;
    swd_init(&s->swd, seed ^ 0x5ed5a11ce5ull);
    Rng r = rng_seed(seed ^ 0x5eed5717e0ull);
    for (int i = 0; i < depth; i++) {
        char spec[512];
        int ci = stage_ch[i], co = stage_ch[i + 1];
        snprintf(spec, sizeof(spec),
                 "{\"version\":1,\"arch\":\"style-features\","
                 "\"input\":{\"scale\":%s,\"offset\":%s},\"output\":{\"scale\":1,\"offset\":0},"
                 "\"layers\":[{\"op\":\"conv2d\",\"name\":\"c\",\"in\":%d,\"out\":%d,\"k\":3,"
                 "\"stride\":%d,\"pad\":1,\"pad_mode\":\"reflect\",\"bias\":false},"
                 "{\"op\":\"relu\"}]}",
                 i ? "1" : "0.00784313725490196", i ? "0" : "-1", ci, co, stage_stride[i]);
        s->net[i] = tnet_new(spec, ci, co, 0, err, errlen);
        if (!s->net[i])
            goto fail;
        float *p = tnet_params(s->net[i]);
        size_t n = (size_t)ci * co * 9;
        double sd = sqrt(2.0 / (ci * 9.0));
        for (size_t j = 0; j < n; j++)
            p[j] = (float)(sd * rng_normal(&r));
        s->toff[i + 1] = s->toff[i] + (size_t)co * co;
    }
    if (kind == STYLE_GRAM) {
        s->target = calloc(s->toff[depth], sizeof(float));
        s->gram = calloc((size_t)stage_ch[depth] * stage_ch[depth], sizeof(float));
        if (!s->target || !s->gram)
            goto fail;
    }
    return s;
fail:
    style_free(s);
    return NULL;
}

void style_free(StyleNet *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->depth; i++)
        tnet_free(s->net[i]);
    free(s->target);
    free(s->gram);
    swd_release(&s->swd);
    free(s);
}

/* SWD: the target holds, per level, n samples of C channels (C x n). */
static int swd_plan(StyleNet *s, int h, int w)
{
    size_t most = 0;
    s->toff[0] = 0;
    for (int l = 0; l <= s->depth; l++) {
        int c = stage_ch[l];
        if (l > 0)
            tnet_out_shape(s->net[l - 1], &c, &h, &w);
        s->n[l] = (size_t)h * w;
        s->toff[l + 1] = s->toff[l] + (size_t)c * s->n[l];
        size_t kn = (size_t)swd_dirs(c) * s->n[l];
        most = kn > most ? kn : most;
    }
    free(s->target);
    s->target = calloc(s->toff[s->depth + 1], sizeof(float));
    int c = stage_ch[s->depth];
    s->swd_bytes = s->toff[s->depth + 1] * sizeof(float);
    return s->target && !swd_reserve(&s->swd, most, (size_t)swd_dirs(c) * c, s->n[0]) ? 0 : -1;
}

size_t style_bytes(const StyleNet *s)
{
    size_t n = s ? s->swd_bytes + s->swd.bytes : 0;
    for (int i = 0; s && i < s->depth; i++)
        n += tnet_plan_bytes(s->net[i]) + 4 * tnet_param_floats(s->net[i]) * sizeof(float);
    return n;
}

int style_plan(StyleNet *s, int b, int h, int w, int threads, char *err, size_t errlen)
{
    int h0 = h, w0 = w;
    for (int i = 0; i < s->depth; i++) {
        if (tnet_plan(s->net[i], b, h, w, threads, err, errlen))
            return -1;
        int c;
        tnet_out_shape(s->net[i], &c, &h, &w);
    }
    s->b = b;
    s->h = h0;
    s->w = w0;
    if (s->kind == STYLE_SWD && swd_plan(s, h0, w0)) {
        snprintf(err, errlen, "out of memory for the style target");
        return -1;
    }
    return 0;
}

/* Runs the stages; fills outs[i] with each stage's output. */
static void style_forward(StyleNet *s, const float *img, const float **outs)
{
    const float *x = img;
    for (int i = 0; i < s->depth; i++)
        x = outs[i] = tnet_forward(s->net[i], x);
}

/* style_forward, then each stage's output gradient buffer, zeroed, in
 * douts[i] for the loss to fill. */
static void style_forward_grad(StyleNet *s, const float *img, const float **outs,
                               float **douts)
{
    style_forward(s, img, outs);
    for (int i = 0; i < s->depth; i++)
        douts[i] = tnet_begin_backward(s->net[i]);
}

/* Back-propagates douts through every stage, adding into dimg. */
static void style_backward(StyleNet *s, float **douts, float *dimg)
{
    for (int i = s->depth - 1; i >= 0; i--)
        tnet_backward(s->net[i], i ? douts[i - 1] : dimg, 0);
}

/* gram (c, c) = F F^T / n for F (c, n). */
static void gram_of(float *gram, const float *f, int c, size_t n)
{
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, c, (int)n, 1.0f / (float)n, f,
                (int)n, 0.0f, gram, c);
    for (int i = 0; i < c; i++)
        for (int j = 0; j < i; j++)
            gram[(size_t)i * c + j] = gram[(size_t)j * c + i];
}

/* One level's features of batch image b: the pixels or a stage's output. */
static const float *level_of(const StyleNet *s, const float *img, const float **outs, int l,
                             int b)
{
    size_t per = (size_t)stage_ch[l] * s->n[l];
    return (l ? outs[l - 1] : img) + (size_t)b * per;
}

/* SWD target: each of a level's n slots keeps the features at its pixel of
 * one patch drawn uniformly from those added (reservoir sampling per
 * slot), so the target is a sample of the painting's feature distribution
 * at the training scale. */
static void swd_target_add(StyleNet *s, const float *imgs, const float **outs)
{
    for (int b = 0; b < s->b; b++) {
        s->ntarget++;
        for (int l = 0; l <= s->depth; l++) {
            swd_sample(&s->swd, s->ntarget, s->target + s->toff[l],
                       level_of(s, imgs, outs, l, b), stage_ch[l], s->n[l]);
        }
    }
}

void style_target_add(StyleNet *s, const float *imgs)
{
    const float *outs[STYLE_STAGES];
    style_forward(s, imgs, outs);
    if (s->kind == STYLE_SWD) {
        swd_target_add(s, imgs, outs);
        return;
    }
    for (int i = 0; i < s->depth; i++) {
        int c, h, w;
        tnet_out_shape(s->net[i], &c, &h, &w);
        size_t n = (size_t)h * w;
        for (int b = 0; b < s->b; b++) {
            gram_of(s->gram, outs[i] + (size_t)b * c * n, c, n);
            float *t = s->target + s->toff[i];
            for (size_t j = 0; j < (size_t)c * c; j++)
                t[j] += s->gram[j];
        }
    }
    s->ntarget += s->b;
}

void style_target_done(StyleNet *s)
{
    if (!s->ntarget)
        return;
    if (s->kind == STYLE_GRAM) {
        float k = 1.0f / (float)s->ntarget;
        for (size_t j = 0; j < s->toff[s->depth]; j++)
            s->target[j] *= k;
    }
    s->ntarget = 0;
}

float *style_target(StyleNet *s, size_t *floats)
{
    *floats = s->toff[s->kind == STYLE_SWD ? s->depth + 1 : s->depth];
    return s->target;
}

uint64_t *style_rng(StyleNet *s)
{
    return &s->swd.rng.s;
}

static double swd_loss(StyleNet *s, float *dimg, const float *img, float weight)
{
    const float *outs[STYLE_STAGES];
    float *douts[STYLE_STAGES];
    style_forward_grad(s, img, outs, douts);
    double total = 0;
    for (int b = 0; b < s->b; b++)
        for (int l = 0; l <= s->depth; l++) {
            int c = stage_ch[l];
            float scale = weight * s->level_w[l] / (float)s->b;
            size_t per = (size_t)c * s->n[l];
            float *df = l ? douts[l - 1] + (size_t)b * per : dimg + (size_t)b * per;
            total += swd_match(&s->swd, df, level_of(s, img, outs, l, b),
                               s->target + s->toff[l], c, s->n[l], scale);
        }
    style_backward(s, douts, dimg);
    return total;
}

double style_loss(StyleNet *s, float *dimg, const float *img, float weight)
{
    if (s->kind == STYLE_SWD)
        return swd_loss(s, dimg, img, weight);
    const float *outs[STYLE_STAGES];
    float *douts[STYLE_STAGES];
    style_forward_grad(s, img, outs, douts);
    double total = 0;
    for (int i = s->depth - 1; i >= 0; i--) {
        float lw = weight * s->level_w[i + 1];
        int c, h, w;
        tnet_out_shape(s->net[i], &c, &h, &w);
        size_t n = (size_t)h * w;
        const float *t = s->target + s->toff[i];
        double tn = 0;
        for (size_t j = 0; j < (size_t)c * c; j++)
            tn += (double)t[j] * t[j];
        tn = tn > 1e-12 ? tn : 1e-12;
        for (int b = 0; b < s->b; b++) {
            const float *f = outs[i] + (size_t)b * c * n;
            gram_of(s->gram, f, c, n);
            double l = 0;
            for (size_t j = 0; j < (size_t)c * c; j++) {
                double d = s->gram[j] - t[j];
                l += d * d;
                s->gram[j] = (float)d;
            }
            total += lw * l / tn / s->b;
            /* dL/dF = 4 (G - T) F / n, scaled by weight / (|T|^2 B). */
            float k = (float)(4.0 * lw / (tn * s->b * (double)n));
            cblas_ssymm(CblasRowMajor, CblasLeft, CblasUpper, c, (int)n, k, s->gram, c, f,
                        (int)n, 1.0f, douts[i] + (size_t)b * c * n, (int)n);
        }
        tnet_backward(s->net[i], i ? douts[i - 1] : dimg, 0);
    }
    return total;
}

size_t style_structure_work_floats(const StyleNet *s)
{
    int c, h, w;
    tnet_out_shape(s->net[s->depth - 1], &c, &h, &w);
    return (size_t)s->b * (3 * (size_t)s->h * s->w + (size_t)c * h * w);
}

/* grey (b, 3, h, w): img's luminance in all three channels. */
static void grey_of(float *grey, const float *img, int b, size_t hw)
{
    for (int n = 0; n < b; n++) {
        const float *p = img + (size_t)n * 3 * hw;
        float *g = grey + (size_t)n * 3 * hw;
        for (size_t i = 0; i < hw; i++)
            g[i] = g[hw + i] = g[2 * hw + i] =
                0.299f * p[i] + 0.587f * p[hw + i] + 0.114f * p[2 * hw + i];
    }
}

double style_structure_loss(StyleNet *s, float *dout, const float *out, const float *photo,
                            float weight, float *work)
{
    int last = s->depth - 1, c, h, w;
    tnet_out_shape(s->net[last], &c, &h, &w);
    size_t hw = (size_t)s->h * s->w, px = (size_t)s->b * 3 * hw;
    size_t nf = (size_t)s->b * c * h * w;
    float *grey = work, *pf = work + px;
    const float *outs[STYLE_STAGES];
    float *douts[STYLE_STAGES];
    grey_of(grey, photo, s->b, hw);
    style_forward(s, grey, outs);
    memcpy(pf, outs[last], nf * sizeof(float));
    grey_of(grey, out, s->b, hw);
    style_forward_grad(s, grey, outs, douts);
    double ref = 0, sq = 0;
    for (size_t j = 0; j < nf; j++) {
        double d = (double)outs[last][j] - pf[j];
        ref += (double)pf[j] * pf[j];
        sq += d * d;
    }
    ref = ref > 1e-12 ? ref : 1e-12;   /* sum over nf: the mean square times nf */
    float k = (float)(2.0 * weight / ref);
    for (size_t j = 0; j < nf; j++)
        douts[last][j] = k * (outs[last][j] - pf[j]);
    memset(grey, 0, px * sizeof(float));
    style_backward(s, douts, grey);
    for (int n = 0; n < s->b; n++) {
        const float *g = grey + (size_t)n * 3 * hw;
        float *d = dout + (size_t)n * 3 * hw;
        for (size_t i = 0; i < hw; i++) {
            float gl = g[i] + g[hw + i] + g[2 * hw + i];
            d[i] += 0.299f * gl;
            d[hw + i] += 0.587f * gl;
            d[2 * hw + i] += 0.114f * gl;
        }
    }
    return weight * sq / ref;
}
