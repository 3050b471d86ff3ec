/* net_impl.h: the inside of Net (the parsed model: Op, OpKind, the
 * parameters) and of NetPlan (Step, the par_* kernels split across a pool).
 * Not part of the engine's API. Its users: the engine's network files
 * (net.c parses specs, net_run.c plans and runs, net_par.c and net_tiled.c
 * the split and banded kernels) and, one layer up, the trainer (tnet.c,
 * tpar.c and quality.c read the model's ops and reuse par_* kernels; the
 * ggml pattern of backends sharing an internal header). Nothing else. */
#ifndef ATELIER_NET_IMPL_H
#define ATELIER_NET_IMPL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "engine/conv_algo.h"
#include "engine/layers.h"
#include "engine/net.h"
#include "engine/threadpool.h"

#define NET_MAX_OPS 4096
#define NET_MAX_DEPTH 8
#define NET_MAX_CHANNELS 4096
#define NET_MAX_KERNEL 15
#define NET_MAX_STRIDE 8
#define NET_ALIGN_FLOATS 16

typedef enum OpKind {
    OP_CONV, OP_CONVT, OP_IN, OP_RELU, OP_LRELU, OP_TANH, OP_UP,
    OP_RES_BEGIN, OP_RES_END, OP_NOP
} OpKind;

typedef struct Op {
    OpKind kind;
    char name[96];
    int cin, cout, k, stride;
    int pad_same;          /* conv / convt: TF 'same' */
    int pad[4];            /* conv: top, bottom, left, right; convt: P in pad[0] */
    int out_pad;           /* convt: PyTorch output_padding */
    int reflect, has_bias, affine, fuse_relu;
    float eps, slope;
    size_t w_off, b_off;   /* offsets into Net.params; SIZE_MAX when absent */
} Op;

struct Net {
    Op *ops;
    int nops;
    float *params;         /* one 64-byte aligned block */
    size_t nparams;
    float in_scale, in_offset, out_scale, out_offset;
    char *spec_json, *card_json;
};

/* n floats rounded up to whole 64-byte lines: aligned_alloc() wants a size
 * that is a multiple of the alignment. */
static inline size_t net_round_floats(size_t n)
{
    return (n + NET_ALIGN_FLOATS - 1) / NET_ALIGN_FLOATS * NET_ALIGN_FLOATS;
}

typedef struct Step {
    const Op *op;
    ConvAlgo algo;
    size_t u_off;          /* winograd: offset of its weights in NetPlan.wino */
    ConvGeom g;            /* conv / convt geometry; c, h, w otherwise in g.cin, g.h, g.w */
    size_t in_off, out_off, aux_off;  /* aux: saved residual input */
    int copy_first;        /* in-place op on a value that must survive */
} Step;

struct NetPlan {
    const Net *net;
    int h, w;              /* input size */
    int oh, ow;            /* raw network output size, >= h, w */
    int nsteps;
    Step *steps;
    size_t in_off, out_off;
    float *arena;
    size_t arena_floats;
    float *work;           /* threads slices of work_floats, work_stride apart */
    size_t work_floats, work_stride;
    float *wino;           /* Winograd-transformed weights of the steps using it */
    size_t wino_floats;
    ThreadPool *pool;
    int threads;
    double *prof_ms;       /* per step, summed over forwards; NULL when off */
    int prof_runs;
    atomic_int busy;       /* in net_forward (checked: one thread at a time) */
};

/* Full-image geometry of a conv or transposed conv op on an h x w input;
 * -1 when the size does not fit the op (net_run.c). */
int net_conv_geom(const Op *op, int h, int w, ConvGeom *g);

/* net_par.c: layers split across a pool. Workspace slices are `stride`
 * floats apart, one per pool thread; each needs the *_work_floats(). */
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

/* n floats, 64-byte aligned, freed with free(); NULL when out of memory or
 * when n is absurd. aligned_alloc wants a size that is a multiple of the
 * alignment (C11 7.22.3.1; ASan enforces it), so the size is rounded up. */
static inline float *net_alloc_floats(size_t n)
{
    if (n > (SIZE_MAX - 63) / sizeof(float))
        return NULL;
    return aligned_alloc(64, net_round_floats(n) * sizeof(float));
}

#endif
