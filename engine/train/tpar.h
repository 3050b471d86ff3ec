/* tpar.h: a training network's layers split across a ThreadPool, for
 * tnet.c. As in inference (net_par.c), OpenBLAS stays single-threaded and
 * is called from inside the pool's tasks, which write disjoint memory.
 *
 * Convolutions pick an algorithm per layer and direction (tpar_conv_algo):
 *  - 3x3, stride 1, at least 16 channels each way: Winograd F(4x4, 3x3)
 *    (winograd.h) for the forward, with the weights transformed at every
 *    call (they change every step); and for the input gradient, which is
 *    the stride-1 convolution of dout, zero-padded by k-1, with the kernel
 *    rotated by 180 degrees and its two channel axes swapped: its output is
 *    the gradient of the padded input, which the padding's adjoint (reflect
 *    or zeros) folds into din;
 *  - stride 1, k >= 5, at most 4 channels on one side: the direct kernel
 *    (conv_direct.h), forward, and input gradient the same way;
 *  - otherwise im2col + GEMM: the forward by bands of output rows, or by
 *    groups of output channels over one shared im2col when there are more
 *    of them than output pixels; the input gradient by groups of input
 *    channels.
 * The weight gradient is Winograd where the forward is (the adjoint of its
 * transforms, winograd.h), otherwise im2col + GEMM split by units of (input
 * channel, kernel row), so tasks write disjoint columns of it.
 *
 * Workspace: `work` holds one slice per pool thread, `stride` floats apart,
 * each at least tpar_*_work_floats() of every layer it serves; `scratch` is
 * one shared block of tpar_conv_scratch_floats(). Nothing allocates.
 * Backwards ADD into their gradients, as layers.h's do; pointers that
 * layers.h allows to be NULL may be NULL here too.
 */
#ifndef ATELIER_TPAR_H
#define ATELIER_TPAR_H

#include <stddef.h>
#include "engine/conv_algo.h"
#include "engine/layers.h"
#include "engine/threadpool.h"

/* The algorithm for g's forward (data == 0) or input gradient (data != 0):
 * conv_algo_pick's choice where the training kernels have that path;
 * fast == 0 forces ALGO_IM2COL (the reference path the tests compare). */
ConvAlgo tpar_conv_algo(const ConvGeom *g, int data, int fast);

/* Per-thread workspace floats of a convolution / transposed convolution,
 * forward and backward. */
size_t tpar_conv_work_floats(const ConvGeom *g, int fast);
size_t tpar_convt_work_floats(const ConvGeom *g);
/* Shared scratch floats of a convolution (transformed and flipped weights,
 * the padded input gradient, a shared im2col); the fast value's need
 * covers fast == 0's. */
size_t tpar_conv_scratch_floats(const ConvGeom *g, int fast);

/* out (cout, oh, ow) = conv(in) + bias, as conv2d_forward. */
void tpar_conv_forward(ThreadPool *tp, float *out, const float *in, const float *weight,
                       const float *bias, const ConvGeom *g, int fast,
                       float *work, size_t stride, float *scratch);
/* conv2d_backward's gradients: din, dweight, dbias each NULL or added into. */
void tpar_conv_backward(ThreadPool *tp, float *din, float *dweight, float *dbias,
                        const float *dout, const float *in, const float *weight,
                        const ConvGeom *g, int fast, float *work, size_t stride,
                        float *scratch);
/* conv_transpose2d_backward's gradients, likewise. */
void tpar_convt_backward(ThreadPool *tp, float *din, float *dweight, float *dbias,
                         const float *dout, const float *in, const float *weight,
                         const ConvGeom *g, float *work, size_t stride);

/* instance_norm_train_forward / instance_norm_backward by channel. */
void tpar_norm_forward(ThreadPool *tp, float *out, float *mean, float *rstd, const float *in,
                       const float *gamma, const float *beta, float eps, int c, size_t hw,
                       int relu);
void tpar_norm_backward(ThreadPool *tp, float *din, float *dgamma, float *dbeta,
                        const float *dout, const float *in, const float *out,
                        const float *gamma, const float *mean, const float *rstd, int c,
                        size_t hw, int relu);

/* Element-wise layers over n floats, forward out of place. */
typedef enum TparElem { TPAR_RELU, TPAR_LRELU, TPAR_TANH, TPAR_ADD } TparElem;
/* out = f(x) (TPAR_ADD: x + y). */
void tpar_elem_forward(ThreadPool *tp, TparElem kind, float *out, const float *x,
                       const float *y, float slope, size_t n);
/* dx += f'(.) dout, from the forward's output `out` (RELU, TANH) or input x
 * (LRELU); TPAR_ADD adds dout into dx and dy. */
void tpar_elem_backward(ThreadPool *tp, TparElem kind, float *dx, float *dy,
                        const float *dout, const float *x, const float *out, float slope,
                        size_t n);

/* One Adam step over n parameters: m, v updated; p -= a m / (sqrt(v) rb2 + eps). */
void tpar_adam(ThreadPool *tp, float *p, const float *g, float *m, float *v, size_t n,
               float a, float rb2, float beta1, float beta2, float eps);

/* x[0..n) = 0. */
void tpar_zero(ThreadPool *tp, float *x, size_t n);

#endif
