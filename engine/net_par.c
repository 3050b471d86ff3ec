/* net_par.c: the forward pass's layers split across a ThreadPool.
 *
 * Each layer is cut into independent tasks that write disjoint outputs:
 * convolutions by bands of output rows (each task im2cols its own band into
 * its thread's workspace slice), transposed convolutions by groups of output
 * channels (col2im of different channels never overlaps), instance norm by
 * channel, element-wise layers by chunks. The kernels are the serial ones of
 * conv.c / layers.c / winograd.c; OpenBLAS runs single-threaded inside each
 * task, so one plan's threads are exactly its pool's.
 */
#include <math.h>
#include "engine/net_par.h"
#include "engine/norm_simd.h"

#define ELEM_CHUNK ((size_t)1 << 16)

/* ---- convolution by row bands ------------------------------------------ */

typedef struct ConvJob {
    float *out;
    const float *in, *w, *b;
    const ConvGeom *g;
    float *work;
    size_t stride;
    int rows, tile_rows;
} ConvJob;

static void conv_task(void *ctx, int t, int thread)
{
    const ConvJob *j = ctx;
    int oy0 = t * j->rows;
    int n = j->g->oh - oy0 < j->rows ? j->g->oh - oy0 : j->rows;
    conv2d_forward_rows(j->out, j->in, j->w, j->b, j->g, j->work + (size_t)thread * j->stride,
                        oy0, n, j->tile_rows);
}

int par_conv_tile_rows(const ConvGeom *g)
{
    size_t per_row = (size_t)g->cin * g->k * g->k * g->ow;
    size_t rows = PAR_WORK_TARGET_FLOATS / (per_row ? per_row : 1);
    int cap = (g->oh + PAR_MIN_TASKS - 1) / PAR_MIN_TASKS;
    if (rows > (size_t)cap)
        rows = (size_t)cap;
    return rows < 1 ? 1 : (int)rows;
}

size_t par_conv_work_floats(const ConvGeom *g)
{
    return (size_t)g->cin * g->k * g->k * g->ow * (size_t)par_conv_tile_rows(g);
}

void par_conv2d(ThreadPool *tp, float *out, const float *in, const float *w,
                const float *b, const ConvGeom *g, float *work, size_t stride)
{
    int tile_rows = par_conv_tile_rows(g);
    ConvJob j = { out, in, w, b, g, work, stride, tile_rows, tile_rows };
    threadpool_run(tp, conv_task, &j, (g->oh + tile_rows - 1) / tile_rows);
}

/* ---- transposed convolution by channel groups --------------------------- */

typedef struct ConvtJob {
    float *out;
    const float *in, *w, *b;
    const ConvGeom *g;
    float *work;
    size_t stride;
    int per_task, tile_rows;
} ConvtJob;

static void convt_task(void *ctx, int t, int thread)
{
    const ConvtJob *j = ctx;
    int co0 = t * j->per_task;
    int co1 = co0 + j->per_task < j->g->cout ? co0 + j->per_task : j->g->cout;
    conv_transpose2d_forward_channels(j->out, j->in, j->w, j->b, j->g,
                                      j->work + (size_t)thread * j->stride,
                                      co0, co1, j->tile_rows);
}

int par_convt_tile_rows(const ConvGeom *g)
{
    size_t per_row = (size_t)g->cout * g->k * g->k * g->w;
    size_t rows = PAR_WORK_TARGET_FLOATS / (per_row ? per_row : 1);
    if (rows > (size_t)g->h)
        rows = (size_t)g->h;
    return rows < 1 ? 1 : (int)rows;
}

size_t par_convt_work_floats(const ConvGeom *g)
{
    return (size_t)g->cout * g->k * g->k * g->w * (size_t)par_convt_tile_rows(g);
}

void par_conv_transpose2d(ThreadPool *tp, float *out, const float *in, const float *w,
                          const float *b, const ConvGeom *g, float *work, size_t stride)
{
    int n = 2 * threadpool_size(tp);    /* two groups per thread, for balance */
    int per = (g->cout + n - 1) / n;
    ConvtJob j = { out, in, w, b, g, work, stride, per, par_convt_tile_rows(g) };
    threadpool_run(tp, convt_task, &j, (g->cout + per - 1) / per);
}

/* ---- instance norm by channel ------------------------------------------ */

typedef struct NormJob {
    float *x;
    const float *gamma, *beta;
    float eps;
    size_t hw;
    int relu;
} NormJob;

static void norm_task(void *ctx, int c, int thread)
{
    const NormJob *j = ctx;
    (void)thread;
    instance_norm_forward_simd(j->x + (size_t)c * j->hw, j->gamma ? j->gamma + c : NULL,
                               j->beta ? j->beta + c : NULL, j->eps, 1, j->hw, j->relu);
}

void par_instance_norm(ThreadPool *tp, float *x, const float *gamma, const float *beta,
                       float eps, int c, size_t hw, int relu)
{
    NormJob j = { x, gamma, beta, eps, hw, relu };
    threadpool_run(tp, norm_task, &j, c);
}

typedef struct ApplyJob {
    float *x;
    const float *scale, *shift;
    size_t hw;
    int relu;
} ApplyJob;

static void apply_task(void *ctx, int c, int thread)
{
    const ApplyJob *j = ctx;
    (void)thread;
    norm_simd_apply(j->x + (size_t)c * j->hw, j->hw, j->scale[c], j->shift[c], j->relu);
}

void par_norm_apply(ThreadPool *tp, float *x, const float *scale, const float *shift, int c,
                    size_t hw, int relu)
{
    ApplyJob j = { x, scale, shift, hw, relu };
    threadpool_run(tp, apply_task, &j, c);
}

/* ---- element-wise ------------------------------------------------------- */

typedef struct ElemJob {
    OpKind kind;
    float *x;
    const float *y;
    float slope;
    size_t n;
} ElemJob;

static void elem_task(void *ctx, int t, int thread)
{
    const ElemJob *j = ctx;
    (void)thread;
    size_t i0 = (size_t)t * ELEM_CHUNK;
    size_t n = j->n - i0 < ELEM_CHUNK ? j->n - i0 : ELEM_CHUNK;
    switch (j->kind) {
    case OP_RELU: relu_forward(j->x + i0, n); break;
    case OP_LRELU: leaky_relu_forward(j->x + i0, j->slope, n); break;
    case OP_TANH: tanh_forward(j->x + i0, n); break;
    case OP_RES_END: add_forward(j->x + i0, j->y + i0, n); break;
    default: break;
    }
}

void par_elementwise(ThreadPool *tp, OpKind kind, float *x, const float *y, float slope,
                     size_t n)
{
    ElemJob j = { kind, x, y, slope, n };
    threadpool_run(tp, elem_task, &j, (int)((n + ELEM_CHUNK - 1) / ELEM_CHUNK));
}

/* ---- nearest upsampling by channel -------------------------------------- */

typedef struct UpJob {
    float *out;
    const float *in;
    int h, w, s;
} UpJob;

static void up_task(void *ctx, int c, int thread)
{
    const UpJob *j = ctx;
    (void)thread;
    size_t hw = (size_t)j->h * j->w;
    upsample_nearest_forward(j->out + (size_t)c * hw * j->s * j->s, j->in + (size_t)c * hw,
                             1, j->h, j->w, j->s);
}

void par_upsample(ThreadPool *tp, float *out, const float *in, int c, int h, int w, int s)
{
    UpJob j = { out, in, h, w, s };
    threadpool_run(tp, up_task, &j, c);
}
