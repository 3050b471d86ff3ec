/* layers.h: the engine's layers, each a forward function over raw NCHW
 * float buffers (tensor.h states the layout).
 *
 * Argument order follows llm.c: forward (out, saved..., in, weights...,
 * dims...). Layers never allocate: scratch memory comes in as `work`, sized
 * by the *_work_floats() functions, which bound it whatever the image size
 * (convolutions are tiled over output rows to fit it).
 */
#ifndef ATELIER_LAYERS_H
#define ATELIER_LAYERS_H

#include <stddef.h>

/* Geometry of a convolution or transposed convolution on one image. */
typedef struct ConvGeom {
    int cin, cout;     /* channels in, out */
    int k, stride;     /* square kernel, equal strides */
    int pad_t, pad_l;  /* padding before (conv) or crop at the start (transposed) */
    int reflect;       /* conv only: 1 = reflect padding, 0 = zeros */
    int h, w;          /* input size */
    int oh, ow;        /* output size */
} ConvGeom;

/* Workspace cap for the im2col / col2im tiles, in floats, unless a single
 * output row needs more. */
#define CONV_WORK_TARGET_FLOATS ((size_t)4 << 20)

size_t conv2d_work_floats(const ConvGeom *g);
size_t conv_transpose2d_work_floats(const ConvGeom *g);

/* out (cout, oh, ow) = conv(in (cin, h, w), weight (cout, cin, k, k)) + bias
 * (cout, may be NULL). Padding: pad_t/pad_l before; rows and columns past the
 * input on the far side read as zero (or reflect). */
void conv2d_forward(float *out, const float *in, const float *weight,
                    const float *bias, const ConvGeom *g, float *work);

/* Output rows [oy0, oy0+n) of conv2d_forward (bias included), im2col in
 * bands of tile_rows rows: work needs cin*k*k*ow*tile_rows floats. Lets a
 * caller split one convolution across threads by rows. */
void conv2d_forward_rows(float *out, const float *in, const float *weight,
                         const float *bias, const ConvGeom *g, float *work,
                         int oy0, int n, int tile_rows);

/* The naive seven-loop convolution the tests compare against. */
void conv2d_forward_ref(float *out, const float *in, const float *weight,
                        const float *bias, const ConvGeom *g);

/* out (cout, oh, ow): the full transposed convolution of in (cin, h, w) with
 * weight (cin, cout, k, k), of size ((h-1)*stride + k, (w-1)*stride + k),
 * cropped to rows [pad_t, pad_t + oh) and columns [pad_l, pad_l + ow)
 * (positions past the full size are zero), plus bias (may be NULL). */
void conv_transpose2d_forward(float *out, const float *in, const float *weight,
                              const float *bias, const ConvGeom *g, float *work);
/* Output channels [co0, co1) of conv_transpose2d_forward (bias included),
 * in bands of tile_rows input rows: work needs (co1-co0)*k*k*w*tile_rows
 * floats. Lets a caller split one layer across threads by channels. */
void conv_transpose2d_forward_channels(float *out, const float *in, const float *weight,
                                       const float *bias, const ConvGeom *g, float *work,
                                       int co0, int co1, int tile_rows);
void conv_transpose2d_forward_ref(float *out, const float *in, const float *weight,
                                  const float *bias, const ConvGeom *g);

/* Instance norm in place over x (c, hw): per channel, biased variance.
 * gamma/beta (c) may be NULL (no affine). relu != 0 fuses a ReLU after. */
void instance_norm_forward(float *x, const float *gamma, const float *beta,
                           float eps, int c, size_t hw, int relu);

void relu_forward(float *x, size_t n);
void leaky_relu_forward(float *x, float slope, size_t n);
void tanh_forward(float *x, size_t n);
/* out (c, h*s, w*s) = nearest upsampling of in (c, h, w). */
void upsample_nearest_forward(float *out, const float *in, int c, int h, int w, int s);
/* x += y, n floats. */
void add_forward(float *x, const float *y, size_t n);

/* ---- backward (training) ---------------------------------------------------
 * Argument order: (din, dweights..., dout, in, weights..., saved..., dims...).
 * Every backward ADDS into its gradients (din, dweight, dbias, ...); the
 * caller zeroes them once per step. din may be NULL where the input needs no
 * gradient (a network's first layer). Each optimised backward keeps a naive
 * _ref twin. Workspace: the forward's *_work_floats(). */

/* in (cin, h, w), weight (cout, cin, k, k), dout (cout, oh, ow);
 * dweight like weight, dbias (cout) or NULL, din like in or NULL; dweight
 * NULL skips the weight gradient (a frozen network passing gradients). */
void conv2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                     const float *in, const float *weight, const ConvGeom *g, float *work);
void conv2d_backward_ref(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, const ConvGeom *g);
/* Pieces of conv2d_backward that touch disjoint memory, so a caller can
 * split one layer across threads. Each adds, over every output row in bands
 * of tile_rows rows:
 *  - weight_units: the columns of dweight (seen as (cout, cin*k*k)) of
 *    units [u0, u1), unit u = c*k + ky being columns u*k .. u*k + k-1; work
 *    needs (u1-u0)*k*ow*tile_rows floats;
 *  - data_channels: the input gradient of channels [c0, c1); work needs
 *    (c1-c0)*k*k*ow*tile_rows floats.
 * conv_backward_tile_rows() is the most rows (1 .. total_rows) whose
 * floats_per_row fit in work_floats. conv_bias_backward adds the sum of
 * each of the c planes of dout (c, hw) into dbias (c) (NULL: nothing). */
int conv_backward_tile_rows(size_t floats_per_row, int total_rows, size_t work_floats);
/* Rows of im2col's matrix (cin*k*k, rows*ow) for output rows [oy0,
 * oy0+rows) that belong to units [u0, u1) (as above), written to col from
 * its row 0: (u1-u0)*k rows of rows*ow floats. */
void conv2d_im2col_units(float *col, const float *in, const ConvGeom *g, int oy0, int rows,
                         int u0, int u1);
void conv2d_backward_weight_units(float *dweight, const float *dout, const float *in,
                                  const ConvGeom *g, float *work, int u0, int u1,
                                  int tile_rows);
void conv2d_backward_data_channels(float *din, const float *dout, const float *weight,
                                   const ConvGeom *g, float *work, int c0, int c1,
                                   int tile_rows);
void conv_bias_backward(float *dbias, const float *dout, int c, size_t hw);

/* in (cin, h, w), weight (cin, cout, k, k), dout (cout, oh, ow). */
void conv_transpose2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                               const float *in, const float *weight, const ConvGeom *g,
                               float *work);
/* The transposed convolution's pieces: weight_units adds the columns of
 * dweight (seen as (cin, cout*k*k)) of units [u0, u1), unit u = co*k + ky;
 * work needs (u1-u0)*k*w*tile_rows floats. data_rows adds the input
 * gradient of input rows [iy0, iy0+n); work needs cout*k*k*w*tile_rows. */
void conv_transpose2d_backward_weight_units(float *dweight, const float *dout,
                                            const float *in, const ConvGeom *g,
                                            float *work, int u0, int u1, int tile_rows);
void conv_transpose2d_backward_data_rows(float *din, const float *dout, const float *weight,
                                         const ConvGeom *g, float *work, int iy0, int n,
                                         int tile_rows);
void conv_transpose2d_backward_ref(float *din, float *dweight, float *dbias,
                                   const float *dout, const float *in, const float *weight,
                                   const ConvGeom *g);

/* Instance norm out of place, saving per-channel mean and 1/std (c) for the
 * backward. out, in (c, hw); gamma/beta (c) or NULL. */
void instance_norm_train_forward(float *out, float *mean, float *rstd, const float *in,
                                 const float *gamma, const float *beta, float eps,
                                 int c, size_t hw, int relu);
/* dgamma/dbeta (c) or NULL (no affine); out is the forward's output (its
 * sign masks the fused ReLU). */
void instance_norm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                            const float *in, const float *out, const float *gamma,
                            const float *mean, const float *rstd, int c, size_t hw, int relu);
void relu_backward(float *din, const float *dout, const float *out, size_t n);
void leaky_relu_backward(float *din, const float *dout, const float *in, float slope, size_t n);
void tanh_backward(float *din, const float *dout, const float *out, size_t n);
/* din (c, h, w), dout (c, h*s, w*s). */
void upsample_nearest_backward(float *din, const float *dout, int c, int h, int w, int s);
/* The residual add out = x + y: dx += dout, dy += dout. */
void add_backward(float *dx, float *dy, const float *dout, size_t n);
/* 2x2 average pooling, out (c, h/2, w/2) from in (c, h, w) (an odd last
 * row or column is dropped): the multi-scale discriminator's input. */
void avg_pool2_forward(float *out, const float *in, int c, int h, int w);
void avg_pool2_backward(float *din, const float *dout, int c, int h, int w);
/* The output mapping out = in * scale + offset, and its backward. */
void affine_forward(float *out, const float *in, float scale, float offset, size_t n);
void affine_backward(float *din, const float *dout, float scale, size_t n);

/* Reflect index into [0, n): -1 -> 1, n -> n-2 (PyTorch ReflectionPad). */
static inline int reflect_index(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

#endif
