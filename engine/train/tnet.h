/* tnet.h: a network built from the same JSON spec as net.h, for training:
 * forward on a batch keeping what backward needs, backward into parameter
 * gradients, Adam, weight init, optional spectral norm, and reading and
 * writing its tensors.
 *
 * Memory (llm.c): one block of parameters, one of gradients, one each of
 * Adam's first and second moments, all the size of the parameters; and per
 * planned shape one activation arena (every value of the forward kept), one
 * arena of activation gradients, one convolution workspace per thread and
 * one shared scratch block. Nothing is allocated in forward or backward.
 *
 * Threads: tnet_plan() starts a pool of the `threads` it is given (the
 * caller plus workers) that forward, backward and Adam split every layer
 * across; OpenBLAS runs single-threaded inside its tasks (threadpool.h).
 *
 * Units: the forward takes pixels (0..255, any float) and applies the spec's
 * input mapping; its output is the spec's output mapping of the last layer,
 * without the clamp of inference (so gradients flow). Shapes are
 * (B, C, H, W), row-major NCHW (tensor.h).
 */
#ifndef ATELIER_TNET_H
#define ATELIER_TNET_H

#include <stddef.h>
#include <stdint.h>
#include "engine/net.h"
#include "engine/safetensors.h"

typedef struct TNet TNet;

/* Which block tnet_add_tensors / tnet_load_tensors move. */
typedef enum TnetBlock { TNET_PARAMS, TNET_ADAM_M, TNET_ADAM_V, TNET_SN_U } TnetBlock;

/* Builds from spec text mapping in_ch channels to out_ch (generator 3 -> 3,
 * discriminator 3 -> 1), parameters zero. spectral != 0 puts spectral norm
 * on every convolution (Miyato et al. 2018: W / sigma(W), sigma from one
 * power-iteration step per forward). Returns NULL with a message in err. */
TNet *tnet_new(const char *spec_json, int in_ch, int out_ch, int spectral,
               char *err, size_t errlen);
void tnet_free(TNet *t);                     /* accepts NULL */

/* The wrapped network (its params are the training parameters). Borrowed. */
const Net *tnet_net(const TNet *t);
size_t tnet_param_floats(const TNet *t);

/* fast != 0 (the default): convolutions use Winograd F(4x4, 3x3) or the
 * direct kernel where they apply (tpar.h); 0: im2col + GEMM everywhere, the
 * reference the tests compare against. Takes effect at the next forward. */
void tnet_set_fast(TNet *t, int fast);

/* Weight init: conv weights N(0, 0.02), instance-norm scales N(1, 0.02),
 * biases 0, spectral-norm vectors random unit. Deterministic in seed. */
void tnet_init(TNet *t, uint64_t seed);

/* Plans memory for batch b of h x w inputs and `threads` threads (clamped
 * to 1..64: a workspace slice each, and the pool); keeps the current plan
 * when shape and threads are unchanged. 0, or -1 with a message (bad size,
 * no memory, no thread). */
int tnet_plan(TNet *t, int b, int h, int w, int threads, char *err, size_t errlen);
/* Output shape of the planned network (per sample: c, h, w). */
void tnet_out_shape(const TNet *t, int *c, int *h, int *w);
size_t tnet_plan_bytes(const TNet *t);
/* On this thread, while on: a plan is sized but its blocks are not
 * allocated, and parameter-sized blocks are not zeroed, so a network built
 * only to be measured (tnet_plan_bytes) costs almost nothing. A network
 * built so must not run. */
void tnet_dry(int on);

/* Forward of in (B, in_ch, h, w) pixels; returns the output
 * (B, out_ch, oh, ow), borrowed from the arena until the next forward. */
const float *tnet_forward(TNet *t, const float *in);
/* Zeroes the activation gradients and returns the output's gradient buffer
 * (same shape as the output) for the loss to add into. */
float *tnet_begin_backward(TNet *t);
/* Back-propagates the output gradient through the last forward. Parameter
 * gradients are added into the gradient block when param_grads != 0; din
 * (B, in_ch, h, w, pixel units) is added into when not NULL. */
void tnet_backward(TNet *t, float *din, int param_grads);
void tnet_zero_grad(TNet *t);
float *tnet_grads(TNet *t);                  /* the gradient block, borrowed */
float *tnet_params(TNet *t);                 /* the parameter block, borrowed */

/* One Adam step (Kingma & Ba) over every parameter; step counts from 1. */
void tnet_adam(TNet *t, float lr, float beta1, float beta2, float eps, int64_t step);

/* Adds one tensor per parameter of block `which` to w, named
 * prefix + "<layer>.weight|bias" (TNET_SN_U: prefix + "<layer>.sn_u").
 * Borrows t's memory until the writer is written. 0 or -1. */
int tnet_add_tensors(const TNet *t, StWriter *w, const char *prefix, TnetBlock which);
/* Reads block `which` back from st (F32 tensors of the same names and
 * sizes). 0, or -1 with a message. */
int tnet_load_tensors(TNet *t, const SafeTensors *st, const char *prefix, TnetBlock which,
                      char *err, size_t errlen);

#endif
