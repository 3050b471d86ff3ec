/* norm_simd.h: instance norm (+ ReLU) in two vectorised passes, the fast
 * twin of layers.h's instance_norm_forward (which stays the reference),
 * and of the training forward and backward. */
#ifndef ATELIER_NORM_SIMD_H
#define ATELIER_NORM_SIMD_H

#include <stddef.h>

/* Same contract as instance_norm_forward: in place over x (c, hw), biased
 * variance, gamma/beta (c) may be NULL, relu != 0 fuses a ReLU. Statistics
 * are taken about a shift (the mean of the first few values) in float
 * vector lanes and summed in double every block, so the result matches the
 * double-precision reference to float rounding. */
void instance_norm_forward_simd(float *x, const float *gamma, const float *beta,
                                float eps, int c, size_t hw, int relu);

/* The pieces, for statistics gathered over several bands of one channel
 * (net_tiled.c): the shift K (mean of the first up to 256 values), the sums
 * of x - K and (x - K)^2 added into *S and *Q, the per-channel affine map
 * from them, and x = x * scale + shift (then ReLU) in place. */
float norm_simd_shift(const float *x, size_t n);
void norm_simd_moments(const float *x, size_t n, float K, double *S, double *Q);
void norm_simd_affine(double S, double Q, size_t n, float K, float gamma, float beta,
                      float eps, float *scale, float *shift);
void norm_simd_apply(float *x, size_t n, float scale, float shift, int relu);

/* Same contracts as layers.h's instance_norm_train_forward and
 * instance_norm_backward (the references), vectorised: statistics as
 * above, the backward's two sums in float lanes added into doubles every
 * block. */
void instance_norm_train_forward_simd(float *out, float *mean, float *rstd, const float *in,
                                      const float *gamma, const float *beta, float eps,
                                      int c, size_t hw, int relu);
void instance_norm_backward_simd(float *din, float *dgamma, float *dbeta, const float *dout,
                                 const float *in, const float *out, const float *gamma,
                                 const float *mean, const float *rstd, int c, size_t hw,
                                 int relu);

#endif
