/* norm_simd.c: vectorised instance norm (norm_simd.h).
 *
 * Pass 1 sums d = x - K and d*d, K being the mean of the first (up to) 256
 * values: with K near the mean the variance E[d^2] - E[d]^2 does not cancel.
 * Sums run in 4 vectors of 8 float lanes over blocks of 4096 values and are
 * added into doubles after each block, which bounds the float error by the
 * block. Pass 2 applies y = x * scale + shift (and the ReLU). Written with
 * GCC vector types; compiled for x86-64-v4 and the baseline (target_clones).
 */
#include <math.h>
#include <string.h>
#include "engine/norm_simd.h"

#pragma GCC optimize("fp-contract=fast")

#define VW 8
#define BLOCK 4096
#define SHIFT_SAMPLE 256

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define NS_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define NS_CLONES
#endif

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4), may_alias));
typedef int vi __attribute__((vector_size(VW * 4)));

static inline float hsum(vf v)
{
    float s = 0;
    for (int i = 0; i < VW; i++)
        s += v[i];
    return s;
}

float norm_simd_shift(const float *x, size_t n)
{
    size_t ns = n < SHIFT_SAMPLE ? n : SHIFT_SAMPLE;
    double k = 0;
    for (size_t i = 0; i < ns; i++)
        k += x[i];
    return ns ? (float)(k / (double)ns) : 0.0f;
}

NS_CLONES
void norm_simd_moments(const float *x, size_t n, float K, double *S, double *Q)
{
    size_t i = 0;
    while (i < n) {
        size_t end = n - i > BLOCK ? i + BLOCK : n;
        vf s[4] = { { 0 } }, q[4] = { { 0 } };
        for (; i + 4 * VW <= end; i += 4 * VW)
            for (int j = 0; j < 4; j++) {
                vf d = *(const vfu *)(x + i + j * VW) - K;
                s[j] += d;
                q[j] += d * d;
            }
        float ss = 0, qq = 0;
        for (; i < end; i++) {
            float d = x[i] - K;
            ss += d;
            qq += d * d;
        }
        *S += (double)hsum(s[0] + s[1] + s[2] + s[3]) + ss;
        *Q += (double)hsum(q[0] + q[1] + q[2] + q[3]) + qq;
    }
}

void norm_simd_affine(double S, double Q, size_t n, float K, float gamma, float beta,
                      float eps, float *scale, float *shift)
{
    double md = n ? S / (double)n : 0.0;
    double var = n ? Q / (double)n - md * md : 0.0;
    if (var < 0)
        var = 0;
    double rstd = 1.0 / sqrt(var + eps);
    *scale = (float)(rstd * gamma);
    *shift = (float)(beta - ((double)K + md) * rstd * gamma);
}

NS_CLONES
void norm_simd_apply(float *x, size_t n, float scale, float shift, int relu)
{
    size_t i = 0;
    if (relu) {
        for (; i + VW <= n; i += VW) {
            vf y = *(vfu *)(x + i) * scale + shift;
            vi keep = y > 0.0f;                  /* lanes of all ones or zero */
            *(vfu *)(x + i) = (vf)((vi)y & keep);
        }
        for (; i < n; i++) {
            float y = x[i] * scale + shift;
            x[i] = y > 0.0f ? y : 0.0f;
        }
    } else {
        for (; i + VW <= n; i += VW)
            *(vfu *)(x + i) = *(vfu *)(x + i) * scale + shift;
        for (; i < n; i++)
            x[i] = x[i] * scale + shift;
    }
}

static void channel(float *x, float gamma, float beta, float eps, size_t n, int relu)
{
    float K = norm_simd_shift(x, n), scale, shift;
    double S = 0, Q = 0;
    norm_simd_moments(x, n, K, &S, &Q);
    norm_simd_affine(S, Q, n, K, gamma, beta, eps, &scale, &shift);
    norm_simd_apply(x, n, scale, shift, relu);
}

void instance_norm_forward_simd(float *x, const float *gamma, const float *beta,
                                float eps, int c, size_t hw, int relu)
{
    if (hw == 0)
        return;
    for (int i = 0; i < c; i++)
        channel(x + (size_t)i * hw, gamma ? gamma[i] : 1.0f, beta ? beta[i] : 0.0f, eps,
                hw, relu);
}

/* ---- training: forward saving the statistics, and backward ----------------- */

NS_CLONES
static void apply_to(float *out, const float *x, size_t n, float scale, float shift, int relu)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        vf y = *(const vfu *)(x + i) * scale + shift;
        if (relu)
            y = (vf)((vi)y & (y > 0.0f));
        *(vfu *)(out + i) = y;
    }
    for (; i < n; i++) {
        float y = x[i] * scale + shift;
        out[i] = relu && y < 0.0f ? 0.0f : y;
    }
}

void instance_norm_train_forward_simd(float *out, float *mean, float *rstd, const float *in,
                                      const float *gamma, const float *beta, float eps,
                                      int c, size_t hw, int relu)
{
    if (hw == 0)
        return;
    for (int i = 0; i < c; i++) {
        const float *x = in + (size_t)i * hw;
        float K = norm_simd_shift(x, hw);
        double S = 0, Q = 0;
        norm_simd_moments(x, hw, K, &S, &Q);
        double md = S / (double)hw, var = Q / (double)hw - md * md;
        if (var < 0)
            var = 0;
        double m = (double)K + md, r = 1.0 / sqrt(var + eps);
        mean[i] = (float)m;
        rstd[i] = (float)r;
        float scale = (float)(r * (gamma ? gamma[i] : 1.0f));
        float shift = (float)((beta ? beta[i] : 0.0f) - m * scale);
        apply_to(out + (size_t)i * hw, x, hw, scale, shift, relu);
    }
}

/* d: the output gradient, zeroed where a fused ReLU cut (y <= 0); xh the
 * normalised input (x - m) r. */
NS_CLONES
static void bwd_sums(const float *x, const float *y, const float *dy, size_t n, float m,
                     float r, int relu, double *sd, double *sdx)
{
    size_t i = 0;
    while (i < n) {
        size_t end = n - i > BLOCK ? i + BLOCK : n;
        vf s[2] = { { 0 } }, q[2] = { { 0 } };
        for (; i + 2 * VW <= end; i += 2 * VW)
            for (int j = 0; j < 2; j++) {
                vf d = *(const vfu *)(dy + i + j * VW);
                if (relu)
                    d = (vf)((vi)d & (*(const vfu *)(y + i + j * VW) > 0.0f));
                vf xh = (*(const vfu *)(x + i + j * VW) - m) * r;
                s[j] += d;
                q[j] += d * xh;
            }
        float ss = 0, qq = 0;
        for (; i < end; i++) {
            float d = relu && y[i] <= 0.0f ? 0.0f : dy[i];
            ss += d;
            qq += d * ((x[i] - m) * r);
        }
        *sd += (double)hsum(s[0] + s[1]) + ss;
        *sdx += (double)hsum(q[0] + q[1]) + qq;
    }
}

NS_CLONES
static void bwd_apply(float *dx, const float *x, const float *y, const float *dy, size_t n,
                      float m, float r, float a, float mdy, float mdyx, int relu)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        vf d = *(const vfu *)(dy + i);
        if (relu)
            d = (vf)((vi)d & (*(const vfu *)(y + i) > 0.0f));
        vf xh = (*(const vfu *)(x + i) - m) * r;
        *(vfu *)(dx + i) += a * (d - mdy - xh * mdyx);
    }
    for (; i < n; i++) {
        float d = relu && y[i] <= 0.0f ? 0.0f : dy[i];
        dx[i] += a * (d - mdy - (x[i] - m) * r * mdyx);
    }
}

void instance_norm_backward_simd(float *din, float *dgamma, float *dbeta, const float *dout,
                                 const float *in, const float *out, const float *gamma,
                                 const float *mean, const float *rstd, int c, size_t hw,
                                 int relu)
{
    if (hw == 0)
        return;
    for (int i = 0; i < c; i++) {
        size_t o = (size_t)i * hw;
        const float m = mean[i], r = rstd[i], gm = gamma ? gamma[i] : 1.0f;
        double sd = 0, sdx = 0;
        bwd_sums(in + o, out + o, dout + o, hw, m, r, relu, &sd, &sdx);
        if (dbeta)
            dbeta[i] += (float)sd;
        if (dgamma)
            dgamma[i] += (float)sdx;
        bwd_apply(din + o, in + o, out + o, dout + o, hw, m, r, gm * r,
                  (float)(sd / (double)hw), (float)(sdx / (double)hw), relu);
    }
}
