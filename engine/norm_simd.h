/* norm_simd.h: instance norm (+ ReLU) in two vectorised passes, the fast
 * twin of layers.h's instance_norm_forward (which stays the reference). */
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

#endif
