/* conv_direct.h: direct stride-1 convolution for the thin layers im2col
 * serves badly: large kernels with few input or output channels (the ml5
 * 9x9 convolutions 3->32 and 32->3). im2col multiplies the data by k*k and
 * hands OpenBLAS a GEMM with 3 rows or a 243-deep inner product; here each
 * output row is accumulated in registers straight from a padded copy of
 * the input rows, 32 pixels by 3 output channels at a time.
 */
#ifndef ATELIER_CONV_DIRECT_H
#define ATELIER_CONV_DIRECT_H

#include <stddef.h>
#include "engine/layers.h"
#include "engine/threadpool.h"

/* 1 when g is a convolution this path computes: stride 1, k >= 5, and at
 * most 4 input or output channels. */
int conv_direct_applies(const ConvGeom *g);

/* Workspace floats one thread needs for g. */
size_t conv_direct_work_floats(const ConvGeom *g);

/* out (cout, oh, ow) = conv(in (cin, h, w), weight (cout, cin, k, k)) + bias
 * (may be NULL); same padding rules as conv2d_forward. work holds
 * threadpool_size(tp) slices of conv_direct_work_floats(g) floats,
 * work_stride apart. Never allocates. */
void conv_direct_forward(float *out, const float *in, const float *weight,
                         const float *bias, const ConvGeom *g,
                         float *work, size_t work_stride, ThreadPool *tp);

#endif
