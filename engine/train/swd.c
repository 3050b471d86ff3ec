/* swd.c: the sliced Wasserstein distance (swd.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "engine/train/swd.h"

#define SWD_MIN_DIRS 16                 /* projections for levels narrower than this */

int swd_dirs(int c)
{
    return c < SWD_MIN_DIRS ? SWD_MIN_DIRS : c;
}

void swd_init(Swd *w, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    w->rng = rng_seed(seed);
}

void swd_release(Swd *w)
{
    free(w->pf);
    free(w->pt);
    free(w->dpf);
    free(w->dirs);
    free(w->pairs);
    free(w->ptmp);
    free(w->sorted);
    w->pf = w->pt = w->dpf = w->dirs = w->sorted = NULL;
    w->pairs = w->ptmp = NULL;
}

int swd_reserve(Swd *w, size_t kn, size_t kc, size_t n)
{
    swd_release(w);
    w->pf = malloc(kn * sizeof(float));
    w->pt = malloc(kn * sizeof(float));
    w->dpf = malloc(kn * sizeof(float));
    w->dirs = malloc(kc * sizeof(float));
    w->pairs = malloc(n * sizeof(SwdPair));
    w->ptmp = malloc(n * sizeof(SwdPair));
    w->sorted = malloc(n * sizeof(float));
    w->bytes = (3 * kn + kc + n) * sizeof(float) + 2 * n * sizeof(SwdPair);
    return w->pf && w->pt && w->dpf && w->dirs && w->pairs && w->ptmp && w->sorted ? 0 : -1;
}

/* The float's bits as an unsigned key in the same order (negatives
 * flipped whole, positives with the sign bit set). */
static uint32_t float_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* Sorts v[0..n) into w->pairs by key (index in .i): an LSD radix sort,
 * three passes of 11 bits, stable. A projection row is 16k floats at a
 * 128-pixel crop, sorted 2 x K times a step, where qsort took a third of
 * the step. */
static void sort_row(Swd *w, const float *v, size_t n)
{
    static const int shift[3] = { 0, 11, 22 };
    size_t count[3][2048];
    memset(count, 0, sizeof(count));
    SwdPair *a = w->pairs, *b = w->ptmp;
    for (size_t j = 0; j < n; j++) {
        uint32_t k = float_key(v[j]);
        a[j].k = k;
        a[j].i = (uint32_t)j;
        count[0][k & 2047]++;
        count[1][(k >> 11) & 2047]++;
        count[2][k >> 22]++;
    }
    for (int p = 0; p < 3; p++) {
        size_t sum = 0;
        for (int d = 0; d < 2048; d++) {
            size_t c = count[p][d];
            count[p][d] = sum;
            sum += c;
        }
        for (size_t j = 0; j < n; j++)
            b[count[p][(a[j].k >> shift[p]) & 2047]++] = a[j];
        SwdPair *t = a;
        a = b;
        b = t;
    }
    /* Three passes: the result is in ptmp; swap the buffers' roles. */
    w->ptmp = w->pairs;
    w->pairs = a;
}

double swd_match(Swd *w, float *df, const float *f, const float *t, int c, size_t n,
                 float scale)
{
    int K = swd_dirs(c);
    for (int k = 0; k < K; k++) {
        double norm = 0;
        float *d = w->dirs + (size_t)k * c;
        for (int ch = 0; ch < c; ch++) {
            d[ch] = (float)rng_normal(&w->rng);
            norm += (double)d[ch] * d[ch];
        }
        float inv = (float)(1.0 / sqrt(norm > 1e-30 ? norm : 1e-30));
        for (int ch = 0; ch < c; ch++)
            d[ch] *= inv;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)n, c, 1.0f, w->dirs, c, f,
                (int)n, 0.0f, w->pf, (int)n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)n, c, 1.0f, w->dirs, c, t,
                (int)n, 0.0f, w->pt, (int)n);
    double sq = 0, var = 0;
    for (int k = 0; k < K; k++) {
        float *pt = w->pt + (size_t)k * n, *pf = w->pf + (size_t)k * n;
        float *dp = w->dpf + (size_t)k * n;
        sort_row(w, pt, n);
        double mean = 0;
        for (size_t j = 0; j < n; j++) {
            w->sorted[j] = pt[w->pairs[j].i];
            mean += w->sorted[j];
        }
        mean /= (double)n;
        sort_row(w, pf, n);
        for (size_t j = 0; j < n; j++) {
            uint32_t i = w->pairs[j].i;
            double diff = (double)pf[i] - w->sorted[j], dev = w->sorted[j] - mean;
            sq += diff * diff;
            var += dev * dev;
            dp[i] = (float)diff;
        }
    }
    double kn = (double)K * (double)n, z = var / kn;
    z = z > 1e-12 ? z : 1e-12;
    float g = (float)(2.0 * scale / (kn * z));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, (int)n, K, g, w->dirs, c, w->dpf,
                (int)n, 1.0f, df, (int)n);
    return scale * sq / (kn * z);
}

void swd_sample(Swd *w, int ntarget, float *t, const float *f, int c, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        if (ntarget > 1 && rng_int(&w->rng, ntarget) != 0)
            continue;
        for (int ch = 0; ch < c; ch++)
            t[(size_t)ch * n + j] = f[(size_t)ch * n + j];
    }
}
