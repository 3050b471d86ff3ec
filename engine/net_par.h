/* net_par.h: the forward pass's layers split across a ThreadPool
 * (net_par.c), for the inference plans (net_run.c, net_tiled.c) and lent to
 * the trainer (tnet.c, tpar.c). Not part of the engine's API.
 *
 * Each call runs one layer on the pool and returns when it is done.
 * Workspace slices are `stride` floats apart, one per pool thread; each
 * needs the *_work_floats() of its layer.
 */
#ifndef ATELIER_NET_PAR_H
#define ATELIER_NET_PAR_H

#include <stddef.h>
#include "engine/layers.h"
#include "engine/net_impl.h"
#include "engine/threadpool.h"

#define PAR_WORK_TARGET_FLOATS ((size_t)1 << 19)
#define PAR_MIN_TASKS 8
int par_conv_tile_rows(const ConvGeom *g);
size_t par_conv_work_floats(const ConvGeom *g);
void par_conv2d(ThreadPool *tp, float *out, const float *in, const float *w,
                const float *b, const ConvGeom *g, float *work, size_t stride);
int par_convt_tile_rows(const ConvGeom *g);
size_t par_convt_work_floats(const ConvGeom *g);
void par_conv_transpose2d(ThreadPool *tp, float *out, const float *in, const float *w,
                          const float *b, const ConvGeom *g, float *work, size_t stride);
void par_instance_norm(ThreadPool *tp, float *x, const float *gamma, const float *beta,
                       float eps, int c, size_t hw, int relu);
/* x (c, hw) = x * scale[c] + shift[c], then ReLU when relu != 0. */
void par_norm_apply(ThreadPool *tp, float *x, const float *scale, const float *shift, int c,
                    size_t hw, int relu);
void par_elementwise(ThreadPool *tp, OpKind kind, float *x, const float *y, float slope,
                     size_t n);
void par_upsample(ThreadPool *tp, float *out, const float *in, int c, int h, int w, int s);

#endif
