/* loss.c: adversarial, content, total-variation and random-feature Gram
 * style losses (loss.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "engine/loss.h"
#include "engine/rng.h"
#include "engine/tnet.h"

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

size_t loss_content_work_floats(int h, int w, int pool)
{
    return pool < 1 ? 0 : 2 * (size_t)(h / pool) * (size_t)(w / pool);
}

double loss_content(float *dout, const float *out, const float *photo, int b, int h, int w,
                    int pool, float weight, float *work)
{
    if (pool < 1 || h % pool || w % pool)
        return 0;
    int ph = h / pool, pw = w / pool;
    size_t np = (size_t)ph * pw, hw = (size_t)h * w;
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

/* ---- random-feature Gram style loss ------------------------------------------ */

#define STYLE_STAGES 4

static const int stage_ch[STYLE_STAGES + 1] = { 3, 32, 64, 128, 256 };
static const int stage_stride[STYLE_STAGES] = { 1, 2, 2, 2 };

struct StyleNet {
    TNet *net[STYLE_STAGES];
    float *target;             /* per stage C x C, concatenated */
    size_t toff[STYLE_STAGES + 1];
    float *gram;               /* scratch, the largest C x C */
    int ntarget;
    int b;
};

StyleNet *style_new(uint64_t seed, char *err, size_t errlen)
{
    StyleNet *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    Rng r = rng_seed(seed ^ 0x5eed5717e0ull);
    for (int i = 0; i < STYLE_STAGES; i++) {
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
    s->target = calloc(s->toff[STYLE_STAGES], sizeof(float));
    s->gram = calloc((size_t)stage_ch[STYLE_STAGES] * stage_ch[STYLE_STAGES], sizeof(float));
    if (!s->target || !s->gram)
        goto fail;
    return s;
fail:
    style_free(s);
    return NULL;
}

void style_free(StyleNet *s)
{
    if (!s)
        return;
    for (int i = 0; i < STYLE_STAGES; i++)
        tnet_free(s->net[i]);
    free(s->target);
    free(s->gram);
    free(s);
}

int style_plan(StyleNet *s, int b, int h, int w, char *err, size_t errlen)
{
    for (int i = 0; i < STYLE_STAGES; i++) {
        if (tnet_plan(s->net[i], b, h, w, err, errlen))
            return -1;
        int c;
        tnet_out_shape(s->net[i], &c, &h, &w);
    }
    s->b = b;
    return 0;
}

/* Runs the stages; fills outs[i] with each stage's output. */
static void style_forward(StyleNet *s, const float *img, const float **outs)
{
    const float *x = img;
    for (int i = 0; i < STYLE_STAGES; i++)
        x = outs[i] = tnet_forward(s->net[i], x);
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

void style_target_add(StyleNet *s, const float *imgs)
{
    const float *outs[STYLE_STAGES];
    style_forward(s, imgs, outs);
    for (int i = 0; i < STYLE_STAGES; i++) {
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
    float k = 1.0f / (float)s->ntarget;
    for (size_t j = 0; j < s->toff[STYLE_STAGES]; j++)
        s->target[j] *= k;
    s->ntarget = 0;
}

float *style_target(StyleNet *s, size_t *floats)
{
    *floats = s->toff[STYLE_STAGES];
    return s->target;
}

double style_loss(StyleNet *s, float *dimg, const float *img, float weight)
{
    const float *outs[STYLE_STAGES];
    float *douts[STYLE_STAGES];
    style_forward(s, img, outs);
    for (int i = 0; i < STYLE_STAGES; i++)
        douts[i] = tnet_begin_backward(s->net[i]);
    double total = 0;
    for (int i = STYLE_STAGES - 1; i >= 0; i--) {
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
            total += weight * l / tn / s->b;
            /* dL/dF = 4 (G - T) F / n, scaled by weight / (|T|^2 B). */
            float k = (float)(4.0 * weight / (tn * s->b * (double)n));
            cblas_ssymm(CblasRowMajor, CblasLeft, CblasUpper, c, (int)n, k, s->gram, c, f,
                        (int)n, 1.0f, douts[i] + (size_t)b * c * n, (int)n);
        }
        tnet_backward(s->net[i], i ? douts[i - 1] : dimg, 0);
    }
    return total;
}
