/* net_impl.h: the inside of Net, the parsed model net.c owns (Op, OpKind,
 * the parameters, the spec's limits), with the geometry of a conv op and
 * the engine's aligned float blocks. Not part of the engine's API. Its
 * users: the engine's network files (net.c parses specs, net_run.c plans
 * and runs, net_par.c and net_tiled.c the split and banded kernels) and,
 * one layer up, the trainer (tnet.c, tpar.c and quality.c read the model's
 * ops; the ggml pattern of backends sharing an internal header). A plan's
 * inside (Step, NetPlan) is net_run.c's alone; the kernels split across a
 * pool are net_par.h's. */
#ifndef ATELIER_NET_IMPL_H
#define ATELIER_NET_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "engine/layers.h"
#include "engine/net.h"

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

/* Full-image geometry of a conv or transposed conv op on an h x w input;
 * -1 when the size does not fit the op (net_run.c). */
int net_conv_geom(const Op *op, int h, int w, ConvGeom *g);

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
