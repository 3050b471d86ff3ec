/* style_gabor.c: the Gabor filter-bank style loss (style_gabor.h).
 *
 * Forward, per level l: the image pyramid P_l (2x2 averages of the pixels),
 * its luminance Y_l, the bank's responses (e_k, o_k) = conv(Y_l) through a
 * TNet (one per level, the same filters: it brings the direct 11x11 kernel,
 * threads and the input gradient), then the 27 features. Backward, per
 * level: the features' gradients to (e, o), through the convolution to Y_l,
 * and with the colour channels' to P_l; then from the coarsest level down,
 * each level's gradient through its 2x2 average into the next finer one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/layers.h"
#include "engine/train/style_gabor.h"
#include "engine/train/swd.h"
#include "engine/train/tnet.h"

#define GABOR_K 11                 /* filter side */
#define GABOR_SIGMA 2.5
#define GABOR_LAMBDA 6.0
#define GABOR_EPS 1e-6f            /* keeps the energy's derivative finite at 0 */

struct GaborNet {
    int levels;
    float level_w[GABOR_MAX_LEVELS];
    TNet *conv[GABOR_MAX_LEVELS];        /* the bank, planned for each level's size */
    const float *resp[GABOR_MAX_LEVELS]; /* (B, 16, h_l, w_l): its last responses, borrowed */
    int b, h[GABOR_MAX_LEVELS], w[GABOR_MAX_LEVELS];
    size_t n[GABOR_MAX_LEVELS];          /* positions per image at each level */
    float *pyr[GABOR_MAX_LEVELS];        /* (B, 3, h_l, w_l) pixels, levels >= 1 */
    float *dpyr[GABOR_MAX_LEVELS];       /* their gradients, levels >= 1 */
    float *feat[GABOR_MAX_LEVELS];       /* (B, 27, h_l, w_l) */
    float *dfeat[GABOR_MAX_LEVELS];      /* their gradients */
    float *lum, *dlum;                   /* (B, 1, h_0, w_0): one level's luminance */
    float *opp, *dopp;                   /* (B, 3, h_0, w_0): its opponent colours */
    float *target;                       /* per level 27 x n_l samples */
    size_t toff[GABOR_MAX_LEVELS + 1];
    Swd swd;
    int ntarget;
};

/* The bank, (16, 1, 11, 11): even filters of the 8 orientations, then the
 * odd ones. u runs across the stripes: x cos(theta) + y sin(theta). */
static void gabor_bank(float *wt)
{
    const int r = GABOR_K / 2, kk = GABOR_K * GABOR_K;
    for (int k = 0; k < GABOR_ORIENT; k++) {
        double th = k * M_PI / GABOR_ORIENT, c = cos(th), s = sin(th);
        float *ev = wt + (size_t)k * kk, *od = wt + (size_t)(GABOR_ORIENT + k) * kk;
        double mean = 0, ne = 0, no = 0;
        for (int y = -r; y <= r; y++)
            for (int x = -r; x <= r; x++) {
                double u = x * c + y * s;
                double env = exp(-(x * x + y * y) / (2 * GABOR_SIGMA * GABOR_SIGMA));
                int i = (y + r) * GABOR_K + x + r;
                ev[i] = (float)(env * cos(2 * M_PI * u / GABOR_LAMBDA));
                od[i] = (float)(env * sin(2 * M_PI * u / GABOR_LAMBDA));
                mean += ev[i];
            }
        mean /= kk;
        for (int i = 0; i < kk; i++) {
            ev[i] -= (float)mean;
            ne += (double)ev[i] * ev[i];
            no += (double)od[i] * od[i];
        }
        for (int i = 0; i < kk; i++) {
            ev[i] /= (float)sqrt(ne);
            od[i] /= (float)sqrt(no);
        }
    }
}

GaborNet *gabor_new(uint64_t seed, int levels, const float *level_w, char *err, size_t errlen)
{
    if (levels < 1 || levels > GABOR_MAX_LEVELS) {
        snprintf(err, errlen, "gabor levels must be 1..%d", GABOR_MAX_LEVELS);
        return NULL;
    }
    GaborNet *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->levels = levels;
    for (int l = 0; l < levels; l++)
        g->level_w[l] = level_w ? level_w[l] : 1.0f;
    swd_init(&g->swd, seed ^ 0x6ab0b5a11ce5ull);
    char spec[512];
    snprintf(spec, sizeof(spec),
             "{\"version\":1,\"arch\":\"gabor-bank\","
             "\"input\":{\"scale\":0.00784313725490196,\"offset\":-1},"
             "\"output\":{\"scale\":1,\"offset\":0},"
             "\"layers\":[{\"op\":\"conv2d\",\"name\":\"c\",\"in\":1,\"out\":%d,\"k\":%d,"
             "\"stride\":1,\"pad\":%d,\"pad_mode\":\"reflect\",\"bias\":false}]}",
             2 * GABOR_ORIENT, GABOR_K, GABOR_K / 2);
    for (int l = 0; l < levels; l++) {
        if (!(g->conv[l] = tnet_new(spec, 1, 2 * GABOR_ORIENT, 0, err, errlen))) {
            gabor_free(g);
            return NULL;
        }
        gabor_bank(tnet_params(g->conv[l]));
    }
    return g;
}

static void free_buffers(GaborNet *g)
{
    for (int l = 0; l < GABOR_MAX_LEVELS; l++) {
        free(g->pyr[l]);
        free(g->dpyr[l]);
        free(g->feat[l]);
        free(g->dfeat[l]);
        g->pyr[l] = g->dpyr[l] = g->feat[l] = g->dfeat[l] = NULL;
    }
    free(g->lum);
    free(g->dlum);
    free(g->opp);
    free(g->dopp);
    free(g->target);
    g->lum = g->dlum = g->opp = g->dopp = g->target = NULL;
}

void gabor_free(GaborNet *g)
{
    if (!g)
        return;
    for (int l = 0; l < g->levels; l++)
        tnet_free(g->conv[l]);
    free_buffers(g);
    swd_release(&g->swd);
    free(g);
}

int gabor_plan(GaborNet *g, int b, int h, int w, int threads, char *err, size_t errlen)
{
    int sh = h, sw = w;
    for (int l = 0; l < g->levels; l++, sh /= 2, sw /= 2) {
        if (sh < GABOR_MIN_SIDE || sw < GABOR_MIN_SIDE ||
            (l + 1 < g->levels && (sh % 2 || sw % 2))) {
            snprintf(err, errlen, "gabor: %dx%d does not halve %d times to at least %d pixels",
                     h, w, g->levels - 1, GABOR_MIN_SIDE);
            return -1;
        }
        g->h[l] = sh;
        g->w[l] = sw;
        g->n[l] = (size_t)sh * sw;
        if (tnet_plan(g->conv[l], b, sh, sw, threads, err, errlen))
            return -1;
    }
    free_buffers(g);
    g->b = b;
    g->ntarget = 0;
    size_t px = (size_t)b * g->n[0];
    int ok = 1;
    g->toff[0] = 0;
    for (int l = 0; l < g->levels; l++) {
        size_t nf = (size_t)b * GABOR_CHANNELS * g->n[l];
        g->toff[l + 1] = g->toff[l] + (size_t)GABOR_CHANNELS * g->n[l];
        ok &= !!(g->feat[l] = malloc(nf * sizeof(float)));
        ok &= !!(g->dfeat[l] = malloc(nf * sizeof(float)));
        if (l) {
            ok &= !!(g->pyr[l] = malloc((size_t)b * 3 * g->n[l] * sizeof(float)));
            ok &= !!(g->dpyr[l] = malloc((size_t)b * 3 * g->n[l] * sizeof(float)));
        }
    }
    ok &= !!(g->lum = malloc(px * sizeof(float)));
    ok &= !!(g->dlum = malloc(px * sizeof(float)));
    ok &= !!(g->opp = malloc(3 * px * sizeof(float)));
    ok &= !!(g->dopp = malloc(3 * px * sizeof(float)));
    ok &= !!(g->target = calloc(g->toff[g->levels], sizeof(float)));
    ok &= !swd_reserve(&g->swd, (size_t)GABOR_CHANNELS * g->n[0],
                       (size_t)GABOR_CHANNELS * GABOR_CHANNELS, g->n[0]);
    if (!ok) {
        snprintf(err, errlen, "out of memory for the gabor style loss");
        return -1;
    }
    return 0;
}

size_t gabor_bytes(const GaborNet *g)
{
    if (!g)
        return 0;
    size_t px = (size_t)g->b * g->n[0];
    size_t n = g->swd.bytes + (g->toff[g->levels] + 8 * px) * sizeof(float);   /* + lum, opp */
    for (int l = 0; l < g->levels; l++) {
        n += tnet_plan_bytes(g->conv[l]) + 4 * tnet_param_floats(g->conv[l]) * sizeof(float);
        n += (size_t)g->b * g->n[l] * (2 * GABOR_CHANNELS + (l ? 6 : 0)) * sizeof(float);
    }
    return n;
}

/* out (h, w) = the 3x3 mean of in (h, w), reflect-padded. */
static void box3_forward(float *out, const float *in, int h, int w)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float acc = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    acc += in[(size_t)reflect_index(y + dy, h) * w + reflect_index(x + dx, w)];
            out[(size_t)y * w + x] = acc * (1.0f / 9.0f);
        }
}

/* din (h, w) += box3's adjoint of dout (h, w). */
static void box3_backward(float *din, const float *dout, int h, int w)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float g = dout[(size_t)y * w + x] * (1.0f / 9.0f);
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    din[(size_t)reflect_index(y + dy, h) * w + reflect_index(x + dx, w)] += g;
        }
}

/* Level l's features from its pyramid image p (B, 3, h_l, w_l). */
static void level_forward(GaborNet *g, int l, const float *p)
{
    const size_t n = g->n[l];
    const int O = GABOR_ORIENT;
    for (int b = 0; b < g->b; b++) {
        const float *r = p + (size_t)b * 3 * n, *gr = r + n, *bl = r + 2 * n;
        float *y = g->lum + (size_t)b * n, *o = g->opp + (size_t)b * 3 * n;
        for (size_t i = 0; i < n; i++) {
            y[i] = 0.299f * r[i] + 0.587f * gr[i] + 0.114f * bl[i];
            /* Opponent colours in -1..1 units. */
            float rr = r[i] / 127.5f - 1, gg = gr[i] / 127.5f - 1, bb = bl[i] / 127.5f - 1;
            o[i] = 0.299f * rr + 0.587f * gg + 0.114f * bb;
            o[n + i] = rr - gg;
            o[2 * n + i] = 0.5f * (rr + gg) - bb;
        }
    }
    const float *resp = g->resp[l] = tnet_forward(g->conv[l], g->lum);
    for (int b = 0; b < g->b; b++) {
        const float *c = resp + (size_t)b * 2 * O * n;
        float *f = g->feat[l] + (size_t)b * GABOR_CHANNELS * n;
        for (int k = 0; k < O; k++)
            for (size_t i = 0; i < n; i++) {
                float e = c[(size_t)k * n + i], od = c[(size_t)(O + k) * n + i];
                f[(size_t)k * n + i] = e > 0 ? e : 0;
                f[(size_t)(O + k) * n + i] = e < 0 ? -e : 0;
                f[(size_t)(GABOR_ENERGY + k) * n + i] = sqrtf(e * e + od * od + GABOR_EPS);
            }
        for (int ch = 0; ch < 3; ch++)
            box3_forward(f + (size_t)(3 * O + ch) * n, g->opp + ((size_t)b * 3 + ch) * n,
                         g->h[l], g->w[l]);
    }
}

/* Adds level l's feature gradient (dfeat[l]) into dp (B, 3, h_l, w_l). */
static void level_backward(GaborNet *g, int l, float *dp)
{
    const size_t n = g->n[l];
    const int O = GABOR_ORIENT;
    float *dc = tnet_begin_backward(g->conv[l]);
    memset(g->dopp, 0, (size_t)g->b * 3 * n * sizeof(float));
    for (int b = 0; b < g->b; b++) {
        const float *c = g->resp[l] + (size_t)b * 2 * O * n;
        const float *f = g->feat[l] + (size_t)b * GABOR_CHANNELS * n;
        const float *df = g->dfeat[l] + (size_t)b * GABOR_CHANNELS * n;
        float *d = dc + (size_t)b * 2 * O * n;
        for (int k = 0; k < O; k++)
            for (size_t i = 0; i < n; i++) {
                float e = c[(size_t)k * n + i], od = c[(size_t)(O + k) * n + i];
                float de = df[(size_t)2 * O * n + (size_t)k * n + i] /
                           f[(size_t)(2 * O + k) * n + i];   /* dE / E */
                d[(size_t)k * n + i] += (e > 0 ? df[(size_t)k * n + i] : 0) -
                                        (e < 0 ? df[(size_t)(O + k) * n + i] : 0) + de * e;
                d[(size_t)(O + k) * n + i] += de * od;
            }
        for (int ch = 0; ch < 3; ch++)
            box3_backward(g->dopp + ((size_t)b * 3 + ch) * n, df + (size_t)(3 * O + ch) * n,
                          g->h[l], g->w[l]);
    }
    memset(g->dlum, 0, (size_t)g->b * n * sizeof(float));
    tnet_backward(g->conv[l], g->dlum, 0);
    const float k = 1.0f / 127.5f;
    for (int b = 0; b < g->b; b++) {
        float *r = dp + (size_t)b * 3 * n, *gr = r + n, *bl = r + 2 * n;
        const float *y = g->dlum + (size_t)b * n, *o = g->dopp + (size_t)b * 3 * n;
        for (size_t i = 0; i < n; i++) {
            float dy = o[i], drg = o[n + i], dby = o[2 * n + i];
            r[i] += 0.299f * y[i] + k * (0.299f * dy + drg + 0.5f * dby);
            gr[i] += 0.587f * y[i] + k * (0.587f * dy - drg + 0.5f * dby);
            bl[i] += 0.114f * y[i] + k * (0.114f * dy - dby);
        }
    }
}

/* Every level's features of img (B, 3, h, w). */
static void gabor_forward(GaborNet *g, const float *img)
{
    const float *p = img;
    for (int l = 0; l < g->levels; l++) {
        if (l) {
            avg_pool2_forward(g->pyr[l], p, g->b * 3, g->h[l - 1], g->w[l - 1]);
            p = g->pyr[l];
        }
        level_forward(g, l, p);
    }
}

const float *gabor_features(GaborNet *g, const float *img, int level)
{
    gabor_forward(g, img);
    return g->feat[level];
}

const float *gabor_features_at(const GaborNet *g, int level)
{
    return g->feat[level];
}

void gabor_target_add(GaborNet *g, const float *imgs)
{
    gabor_forward(g, imgs);
    for (int b = 0; b < g->b; b++) {
        g->ntarget++;
        for (int l = 0; l < g->levels; l++)
            swd_sample(&g->swd, g->ntarget, g->target + g->toff[l],
                       g->feat[l] + (size_t)b * GABOR_CHANNELS * g->n[l], GABOR_CHANNELS,
                       g->n[l]);
    }
}

void gabor_target_done(GaborNet *g)
{
    g->ntarget = 0;
}

float *gabor_target(GaborNet *g, size_t *floats)
{
    *floats = g->toff[g->levels];
    return g->target;
}

uint64_t *gabor_rng(GaborNet *g)
{
    return &g->swd.rng.s;
}

double gabor_loss(GaborNet *g, float *dimg, const float *img, float weight)
{
    gabor_forward(g, img);
    double total = 0;
    for (int l = 0; l < g->levels; l++)
        memset(g->dfeat[l], 0, (size_t)g->b * GABOR_CHANNELS * g->n[l] * sizeof(float));
    for (int b = 0; b < g->b; b++)
        for (int l = 0; l < g->levels; l++) {
            size_t per = (size_t)GABOR_CHANNELS * g->n[l];
            total += swd_match(&g->swd, g->dfeat[l] + (size_t)b * per, g->feat[l] + (size_t)b * per,
                               g->target + g->toff[l], GABOR_CHANNELS, g->n[l],
                               weight * g->level_w[l] / (float)g->b);
        }
    /* Coarsest first: each level's gradient, then down through its pooling. */
    for (int l = g->levels - 1; l >= 0; l--) {
        float *dp = l ? g->dpyr[l] : dimg;
        if (l)
            memset(dp, 0, (size_t)g->b * 3 * g->n[l] * sizeof(float));
        level_backward(g, l, dp);
        if (l + 1 < g->levels)
            avg_pool2_backward(dp, g->dpyr[l + 1], g->b * 3, g->h[l], g->w[l]);
    }
    return total;
}
