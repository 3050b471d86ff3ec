/* winograd.h: 3x3 stride-1 convolution by Winograd's minimal filtering
 * F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2015): each 4x4 output tile costs 36 multiplies per channel
 * pair instead of 144, done as 36 GEMMs (cout x cin) x (cin x tiles).
 *
 * Error: the transforms use the points 0, +-1, +-2; in float32 the result
 * differs from the direct convolution by a few units of 1e-6 relative to
 * sum |w| |x| over the receptive field (tests/engine/test_winograd.c checks
 * a bound of 1e-5 of that scale against conv2d_forward_ref in double).
 */
#ifndef ATELIER_WINOGRAD_H
#define ATELIER_WINOGRAD_H

#include <stddef.h>
#include "engine/layers.h"
#include "engine/threadpool.h"

/* 1 when g is a convolution this path computes: k 3, stride 1. Padding is
 * any (zeros or reflect), as in conv2d_forward. */
int winograd_applies(const ConvGeom *g);

/* Floats of the transformed weights: 36 * cout * cin. */
size_t winograd_weight_floats(const ConvGeom *g);
/* u (36, cout, cin) = G w G^T for w (cout, cin, 3, 3). */
void winograd_weights(float *u, const float *weight, const ConvGeom *g);
/* The same for output channels [co0, co1) only (reads those rows of
 * weight, writes their entries of u), so threads can share the work. */
void winograd_weights_rows(float *u, const float *weight, const ConvGeom *g, int co0, int co1);

/* Workspace floats one thread needs for g. */
size_t winograd_work_floats(const ConvGeom *g);

/* out (cout, oh, ow) = conv(in (cin, h, w)) + bias (may be NULL), with the
 * transformed weights u. work holds threadpool_size(tp) slices of
 * winograd_work_floats(g) floats each, work_stride floats apart (64-byte
 * aligned). Never allocates. */
void winograd_conv3x3_forward(float *out, const float *in, const float *u,
                              const float *bias, const ConvGeom *g,
                              float *work, size_t work_stride, ThreadPool *tp);

/* winograd_conv3x3_forward's result computed in bands of many tiles, the
 * 36 GEMMs of a band one per task: each packs its U[e] once per band rather
 * than once per small task (training, where u changes at every call).
 * shared: winograd_wide_shared_floats(g); work: as the weight gradient's. */
size_t winograd_wide_shared_floats(const ConvGeom *g);
void winograd_conv3x3_forward_wide(float *out, const float *in, const float *u,
                                   const float *bias, const ConvGeom *g, float *shared,
                                   float *work, size_t work_stride, ThreadPool *tp);

/* dweight (cout, cin, 3, 3) += the weight gradient of this convolution for
 * the output gradient dout (cout, oh, ow) and input in (cin, h, w), by the
 * adjoint of the forward's transforms (winograd.c). shared: one block of
 * winograd_wgrad_shared_floats(g); work: threadpool_size(tp) slices of
 * winograd_wgrad_work_floats(g), work_stride floats apart. Same error scale
 * as the forward, relative to sum |dout| |x| (tests/train/test_tpar.c). */
size_t winograd_wgrad_shared_floats(const ConvGeom *g);
size_t winograd_wgrad_work_floats(const ConvGeom *g);
void winograd_conv3x3_weight_grad(float *dweight, const float *dout, const float *in,
                                  const ConvGeom *g, float *shared, float *work,
                                  size_t work_stride, ThreadPool *tp);

#endif
