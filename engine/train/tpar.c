/* tpar.c: training layers split across a ThreadPool (tpar.h).
 *
 * Every parallel loop is a range of n items (output rows, channels, kernel
 * units, chunks of floats) cut into up to TASKS_PER_THREAD tasks per pool
 * thread (two for the GEMM forward by rows, whose tasks each pack the whole
 * weight matrix), so a thread that another process holds up does not hold
 * the layer up; tasks write disjoint memory and there are no barriers
 * inside a loop.
 */
#include <math.h>
#include <string.h>
#include <cblas.h>
#include "engine/conv_direct.h"
#include "engine/net_impl.h"
#include "engine/net_par.h"
#include "engine/norm_simd.h"
#include "engine/train/tpar.h"
#include "engine/winograd.h"

#define TASKS_PER_THREAD 3
#define WORK_TARGET_FLOATS ((size_t)1 << 19)
#define COL_TARGET_FLOATS ((size_t)4 << 20)
#define ELEM_CHUNK ((size_t)1 << 15)

/* ---- ranges ---------------------------------------------------------------- */

typedef void (*RangeFn)(const void *ctx, int lo, int hi, int thread);

typedef struct RangeJob {
    RangeFn fn;
    const void *ctx;
    int n, ntasks;
} RangeJob;

static void range_task(void *p, int t, int thread)
{
    const RangeJob *j = p;
    int lo = (int)((long long)t * j->n / j->ntasks);
    int hi = (int)((long long)(t + 1) * j->n / j->ntasks);
    if (hi > lo)
        j->fn(j->ctx, lo, hi, thread);
}

static void run_ranges_per(ThreadPool *tp, RangeFn fn, const void *ctx, int n, int per)
{
    int nt = threadpool_size(tp) * per;
    if (nt > n)
        nt = n;
    if (nt < 1)
        return;
    RangeJob j = { fn, ctx, n, nt };
    threadpool_run(tp, range_task, &j, nt);
}

static void run_ranges(ThreadPool *tp, RangeFn fn, const void *ctx, int n)
{
    run_ranges_per(tp, fn, ctx, n, TASKS_PER_THREAD);
}

/* ---- algorithm choice and sizes --------------------------------------------- */

/* The convolution whose output is the input gradient of g on the padded
 * input grid: dout zero-padded by k-1, kernel rotated, channels swapped. */
static ConvGeom data_geom(const ConvGeom *g)
{
    ConvGeom f = { .cin = g->cout, .cout = g->cin, .k = g->k, .stride = 1,
                   .pad_t = g->k - 1, .pad_l = g->k - 1, .reflect = 0,
                   .h = g->oh, .w = g->ow, .oh = g->oh + g->k - 1, .ow = g->ow + g->k - 1 };
    return f;
}

ConvAlgo tpar_conv_algo(const ConvGeom *g, int data, int fast)
{
    if (!fast || g->stride != 1 || g->pad_t < 0 || g->pad_l < 0 ||
        g->pad_t > g->k - 1 || g->pad_l > g->k - 1)
        return ALGO_IM2COL;
    ConvGeom f = data ? data_geom(g) : *g;
    return conv_algo_pick(&f);
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

static size_t algo_work(const ConvGeom *g, ConvAlgo a)
{
    switch (a) {
    case ALGO_WINOGRAD: return winograd_wgrad_work_floats(g);
    case ALGO_DIRECT: return conv_direct_work_floats(g);
    default: return 0;    /* the base size below covers im2col by rows */
    }
}

size_t tpar_conv_work_floats(const ConvGeom *g, int fast)
{
    /* One output row of the whole im2col matrix fits, so any range of
     * units or channels can run one row at a time. */
    size_t n = max_size(WORK_TARGET_FLOATS, (size_t)g->cin * g->k * g->k * g->ow);
    ConvAlgo a = tpar_conv_algo(g, 0, fast);
    n = max_size(n, algo_work(g, a));
    ConvGeom f = data_geom(g);
    ConvAlgo d = tpar_conv_algo(g, 1, fast);
    if (d != ALGO_IM2COL)
        n = max_size(n, algo_work(&f, d));
    return n;
}

size_t tpar_convt_work_floats(const ConvGeom *g)
{
    size_t n = max_size(WORK_TARGET_FLOATS, (size_t)g->cout * g->k * g->k * g->w);
    return max_size(n, par_convt_work_floats(g));
}

/* Forward by output channels (over one shared im2col) when there are more
 * of them than output pixels: splitting by rows would have every task pack
 * the whole weight matrix for a few columns. */
static int fwd_by_channels(const ConvGeom *g)
{
    return !(g->k == 1 && g->stride == 1) && (size_t)g->cout > (size_t)g->oh * g->ow;
}

/* Output rows per band of the shared im2col. */
static int col_band_rows(const ConvGeom *g)
{
    return conv_backward_tile_rows((size_t)g->cin * g->k * g->k * g->ow, g->oh,
                                   COL_TARGET_FLOATS);
}

size_t tpar_conv_scratch_floats(const ConvGeom *g, int fast)
{
    size_t n = 0;
    /* The GEMM forward's shared im2col, whatever fast says: it is what
     * fast == 0 runs. */
    if (fwd_by_channels(g))
        n = (size_t)g->cin * g->k * g->k * g->ow * (size_t)col_band_rows(g);
    size_t wfl = (size_t)g->cin * g->cout * g->k * g->k;
    if (tpar_conv_algo(g, 0, fast) == ALGO_WINOGRAD)
        n = max_size(n, max_size(winograd_weight_floats(g) + winograd_wide_shared_floats(g),
                                 winograd_wgrad_shared_floats(g)));
    ConvAlgo d = tpar_conv_algo(g, 1, fast);
    if (d != ALGO_IM2COL) {
        ConvGeom f = data_geom(g);
        size_t m = wfl + (size_t)f.cout * f.oh * f.ow;
        if (d == ALGO_WINOGRAD)
            m += winograd_weight_floats(&f) + winograd_wide_shared_floats(&f);
        n = max_size(n, m);
    }
    return n;
}

/* ---- convolution forward ------------------------------------------------------ */

typedef struct WJob {
    float *u, *wf;
    const float *w;
    const ConvGeom *g;     /* the geometry u is for */
} WJob;

/* Output channels [lo, hi) of u. With wf (the data convolution, g its
 * geometry), first those rows of wf: wf[c][o] is w[o][c] rotated by 180
 * degrees, w being (g->cin, g->cout, k, k). */
static void weights_range(const void *p, int lo, int hi, int thread)
{
    const WJob *j = p;
    (void)thread;
    const ConvGeom *g = j->g;
    const float *w = j->w;
    if (j->wf) {
        const int kk = g->k * g->k;
        for (int c = lo; c < hi; c++)
            for (int o = 0; o < g->cin; o++) {
                const float *src = j->w + ((size_t)o * g->cout + c) * kk;
                float *dst = j->wf + ((size_t)c * g->cin + o) * kk;
                for (int i = 0; i < kk; i++)
                    dst[i] = src[kk - 1 - i];
            }
        w = j->wf;
    }
    if (j->u)
        winograd_weights_rows(j->u, w, g, lo, hi);
}

typedef struct FJob {
    float *out, *col;
    const float *in, *w, *b;
    const ConvGeom *g;
    float *work;
    size_t stride;
    int oy0, rows;        /* the band of the shared im2col */
} FJob;

static void fwd_rows_range(const void *p, int lo, int hi, int thread)
{
    const FJob *j = p;
    const ConvGeom *g = j->g;
    int rows = conv_backward_tile_rows((size_t)g->cin * g->k * g->k * g->ow, hi - lo, j->stride);
    conv2d_forward_rows(j->out, j->in, j->w, j->b, g, j->work + (size_t)thread * j->stride, lo,
                        hi - lo, rows);
}

static void fwd_col_range(const void *p, int lo, int hi, int thread)
{
    const FJob *j = p;
    (void)thread;
    size_t ncol = (size_t)j->rows * j->g->ow;
    conv2d_im2col_units(j->col + (size_t)lo * j->g->k * ncol, j->in, j->g, j->oy0, j->rows,
                        lo, hi);
}

static void fwd_gemm_range(const void *p, int lo, int hi, int thread)
{
    const FJob *j = p;
    const ConvGeom *g = j->g;
    (void)thread;
    const int K = g->cin * g->k * g->k, ncol = j->rows * g->ow;
    const size_t ohw = (size_t)g->oh * g->ow;
    float *dst = j->out + (size_t)lo * ohw + (size_t)j->oy0 * g->ow;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, ncol, K, 1.0f,
                j->w + (size_t)lo * K, K, j->col, ncol, 0.0f, dst, (int)ohw);
    if (j->b)
        for (int c = lo; c < hi; c++)
            for (int i = 0; i < ncol; i++)
                dst[(size_t)(c - lo) * ohw + i] += j->b[c];
}

void tpar_conv_forward(ThreadPool *tp, float *out, const float *in, const float *weight,
                       const float *bias, const ConvGeom *g, int fast,
                       float *work, size_t stride, float *scratch)
{
    switch (tpar_conv_algo(g, 0, fast)) {
    case ALGO_WINOGRAD: {
        WJob j = { scratch, NULL, weight, g };
        run_ranges(tp, weights_range, &j, g->cout);
        winograd_conv3x3_forward_wide(out, in, scratch, bias, g,
                                      scratch + winograd_weight_floats(g), work, stride, tp);
        break;
    }
    case ALGO_DIRECT:
        conv_direct_forward(out, in, weight, bias, g, work, stride, tp);
        break;
    default: {
        FJob j = { out, scratch, in, weight, bias, g, work, stride, 0, 0 };
        if (!fwd_by_channels(g)) {
            /* two bands per thread: the fewer, the fewer packings of W */
            run_ranges_per(tp, fwd_rows_range, &j, g->oh, 2);
            break;
        }
        int band = col_band_rows(g);
        for (j.oy0 = 0; j.oy0 < g->oh; j.oy0 += band) {
            j.rows = g->oh - j.oy0 < band ? g->oh - j.oy0 : band;
            run_ranges(tp, fwd_col_range, &j, g->cin * g->k);
            run_ranges(tp, fwd_gemm_range, &j, g->cout);
        }
        break;
    }
    }
}

/* ---- convolution backward ------------------------------------------------------ */

typedef struct BJob {
    float *din, *dweight, *dbias, *work;
    const float *dout, *in, *weight, *dxp;
    const ConvGeom *g;
    size_t stride;
} BJob;

static void bias_range(const void *p, int lo, int hi, int thread)
{
    const BJob *j = p;
    (void)thread;
    size_t ohw = (size_t)j->g->oh * j->g->ow;
    conv_bias_backward(j->dbias + lo, j->dout + (size_t)lo * ohw, hi - lo, ohw);
}

static void weight_range(const void *p, int lo, int hi, int thread)
{
    const BJob *j = p;
    const ConvGeom *g = j->g;
    int rows = conv_backward_tile_rows((size_t)(hi - lo) * g->k * g->ow, g->oh, j->stride);
    conv2d_backward_weight_units(j->dweight, j->dout, j->in, g,
                                 j->work + (size_t)thread * j->stride, lo, hi, rows);
}

static void data_range(const void *p, int lo, int hi, int thread)
{
    const BJob *j = p;
    const ConvGeom *g = j->g;
    int rows = conv_backward_tile_rows((size_t)(hi - lo) * g->k * g->k * g->ow, g->oh,
                                       j->stride);
    conv2d_backward_data_channels(j->din, j->dout, j->weight, g,
                                  j->work + (size_t)thread * j->stride, lo, hi, rows);
}

/* din[c] += the padded-grid gradient dxp[c] folded by the padding's adjoint. */
static void fold_range(const void *p, int lo, int hi, int thread)
{
    const BJob *j = p;
    const ConvGeom *g = j->g;
    (void)thread;
    const int eh = g->oh + g->k - 1, ew = g->ow + g->k - 1;
    int x0 = g->pad_l, x1 = g->pad_l + g->w < ew ? g->pad_l + g->w : ew;
    for (int c = lo; c < hi; c++)
        for (int py = 0; py < eh; py++) {
            int iy = py - g->pad_t;
            if (iy < 0 || iy >= g->h) {
                if (!g->reflect)
                    continue;
                iy = reflect_index(iy, g->h);
            }
            const float *src = j->dxp + ((size_t)c * eh + py) * ew;
            float *dst = j->din + ((size_t)c * g->h + iy) * g->w;
            float *d = dst - x0;
            for (int px = x0; px < x1; px++)
                d[px] += src[px];
            if (!g->reflect)
                continue;
            for (int px = 0; px < x0; px++)
                dst[reflect_index(px - g->pad_l, g->w)] += src[px];
            for (int px = x1; px < ew; px++)
                dst[reflect_index(px - g->pad_l, g->w)] += src[px];
        }
}

void tpar_conv_backward(ThreadPool *tp, float *din, float *dweight, float *dbias,
                        const float *dout, const float *in, const float *weight,
                        const ConvGeom *g, int fast, float *work, size_t stride,
                        float *scratch)
{
    BJob j = { din, dweight, dbias, work, dout, in, weight, NULL, g, stride };
    if (dbias)
        run_ranges(tp, bias_range, &j, g->cout);
    if (dweight && tpar_conv_algo(g, 0, fast) == ALGO_WINOGRAD)
        winograd_conv3x3_weight_grad(dweight, dout, in, g, scratch, work, stride, tp);
    else if (dweight)
        run_ranges(tp, weight_range, &j, g->cin * g->k);
    if (!din)
        return;
    ConvAlgo a = tpar_conv_algo(g, 1, fast);
    if (a == ALGO_IM2COL) {
        run_ranges(tp, data_range, &j, g->cin);
        return;
    }
    ConvGeom f = data_geom(g);
    float *wf = scratch, *dxp = wf + (size_t)g->cin * g->cout * g->k * g->k;
    float *u = dxp + (size_t)f.cout * f.oh * f.ow;
    WJob wj = { a == ALGO_WINOGRAD ? u : NULL, wf, weight, &f };
    run_ranges(tp, weights_range, &wj, f.cout);
    if (a == ALGO_WINOGRAD)
        winograd_conv3x3_forward_wide(dxp, dout, u, NULL, &f, u + winograd_weight_floats(&f),
                                      work, stride, tp);
    else
        conv_direct_forward(dxp, dout, wf, NULL, &f, work, stride, tp);
    j.dxp = dxp;
    run_ranges(tp, fold_range, &j, g->cin);
}

/* ---- transposed convolution backward ------------------------------------------- */

static void convt_weight_range(const void *p, int lo, int hi, int thread)
{
    const BJob *j = p;
    const ConvGeom *g = j->g;
    int rows = conv_backward_tile_rows((size_t)(hi - lo) * g->k * g->w, g->h, j->stride);
    conv_transpose2d_backward_weight_units(j->dweight, j->dout, j->in, g,
                                           j->work + (size_t)thread * j->stride, lo, hi, rows);
}

static void convt_data_range(const void *p, int lo, int hi, int thread)
{
    const BJob *j = p;
    const ConvGeom *g = j->g;
    int rows = conv_backward_tile_rows((size_t)g->cout * g->k * g->k * g->w, hi - lo,
                                       j->stride);
    conv_transpose2d_backward_data_rows(j->din, j->dout, j->weight, g,
                                        j->work + (size_t)thread * j->stride, lo, hi - lo,
                                        rows);
}

void tpar_convt_backward(ThreadPool *tp, float *din, float *dweight, float *dbias,
                         const float *dout, const float *in, const float *weight,
                         const ConvGeom *g, float *work, size_t stride)
{
    BJob j = { din, dweight, dbias, work, dout, in, weight, NULL, g, stride };
    if (dbias)
        run_ranges(tp, bias_range, &j, g->cout);
    if (dweight)
        run_ranges(tp, convt_weight_range, &j, g->cout * g->k);
    if (din)
        run_ranges(tp, convt_data_range, &j, g->h);
}

/* ---- instance norm ---------------------------------------------------------------- */

typedef struct NJob {
    float *out, *mean, *rstd, *din, *dgamma, *dbeta;
    const float *in, *gamma, *beta, *dout, *fout, *cmean, *crstd;
    float eps;
    size_t hw;
    int relu;
} NJob;

static const float *at(const float *p, int c)
{
    return p ? p + c : NULL;
}

static void norm_fwd_range(const void *p, int lo, int hi, int thread)
{
    const NJob *j = p;
    (void)thread;
    instance_norm_train_forward_simd(j->out + (size_t)lo * j->hw, j->mean + lo, j->rstd + lo,
                                     j->in + (size_t)lo * j->hw, at(j->gamma, lo),
                                     at(j->beta, lo), j->eps, hi - lo, j->hw, j->relu);
}

static void norm_bwd_range(const void *p, int lo, int hi, int thread)
{
    const NJob *j = p;
    (void)thread;
    instance_norm_backward_simd(j->din + (size_t)lo * j->hw,
                                j->dgamma ? j->dgamma + lo : NULL,
                                j->dbeta ? j->dbeta + lo : NULL, j->dout + (size_t)lo * j->hw,
                                j->in + (size_t)lo * j->hw, j->fout + (size_t)lo * j->hw,
                                at(j->gamma, lo), j->cmean + lo, j->crstd + lo, hi - lo,
                                j->hw, j->relu);
}

void tpar_norm_forward(ThreadPool *tp, float *out, float *mean, float *rstd, const float *in,
                       const float *gamma, const float *beta, float eps, int c, size_t hw,
                       int relu)
{
    NJob j = { .out = out, .mean = mean, .rstd = rstd, .in = in, .gamma = gamma,
               .beta = beta, .eps = eps, .hw = hw, .relu = relu };
    run_ranges(tp, norm_fwd_range, &j, c);
}

void tpar_norm_backward(ThreadPool *tp, float *din, float *dgamma, float *dbeta,
                        const float *dout, const float *in, const float *out,
                        const float *gamma, const float *mean, const float *rstd, int c,
                        size_t hw, int relu)
{
    NJob j = { .din = din, .dgamma = dgamma, .dbeta = dbeta, .dout = dout, .in = in,
               .fout = out, .gamma = gamma, .cmean = mean, .crstd = rstd, .hw = hw,
               .relu = relu };
    run_ranges(tp, norm_bwd_range, &j, c);
}

/* ---- element-wise ------------------------------------------------------------------- */

typedef struct EJob {
    TparElem kind;
    int backward;
    float *out, *dx, *dy, *p, *m, *v;
    const float *x, *y, *dout, *fout, *g;
    float slope, a, rb2, beta1, beta2, eps;
    size_t n;
} EJob;

static void elem_range(const void *p, int lo, int hi, int thread)
{
    const EJob *j = p;
    (void)thread;
    size_t i0 = (size_t)lo * ELEM_CHUNK, i1 = (size_t)hi * ELEM_CHUNK;
    if (i1 > j->n)
        i1 = j->n;
    size_t n = i1 - i0;
    if (!j->backward) {
        float *o = j->out + i0;
        if (j->kind == TPAR_ADD) {
            for (size_t i = 0; i < n; i++)
                o[i] = j->x[i0 + i] + j->y[i0 + i];
            return;
        }
        memcpy(o, j->x + i0, n * sizeof(float));
        if (j->kind == TPAR_RELU)
            relu_forward(o, n);
        else if (j->kind == TPAR_LRELU)
            leaky_relu_forward(o, j->slope, n);
        else
            tanh_forward(o, n);
        return;
    }
    switch (j->kind) {
    case TPAR_RELU: relu_backward(j->dx + i0, j->dout + i0, j->fout + i0, n); break;
    case TPAR_LRELU: leaky_relu_backward(j->dx + i0, j->dout + i0, j->x + i0, j->slope, n); break;
    case TPAR_TANH: tanh_backward(j->dx + i0, j->dout + i0, j->fout + i0, n); break;
    case TPAR_ADD: add_backward(j->dx + i0, j->dy + i0, j->dout + i0, n); break;
    }
}

static int chunks(size_t n)
{
    return (int)((n + ELEM_CHUNK - 1) / ELEM_CHUNK);
}

void tpar_elem_forward(ThreadPool *tp, TparElem kind, float *out, const float *x,
                       const float *y, float slope, size_t n)
{
    EJob j = { .kind = kind, .out = out, .x = x, .y = y, .slope = slope, .n = n };
    run_ranges(tp, elem_range, &j, chunks(n));
}

void tpar_elem_backward(ThreadPool *tp, TparElem kind, float *dx, float *dy,
                        const float *dout, const float *x, const float *out, float slope,
                        size_t n)
{
    if (!dx)
        return;
    EJob j = { .kind = kind, .backward = 1, .dx = dx, .dy = dy, .dout = dout, .x = x,
               .fout = out, .slope = slope, .n = n };
    run_ranges(tp, elem_range, &j, chunks(n));
}

static void adam_range(const void *p, int lo, int hi, int thread)
{
    const EJob *j = p;
    (void)thread;
    size_t i0 = (size_t)lo * ELEM_CHUNK, i1 = (size_t)hi * ELEM_CHUNK;
    if (i1 > j->n)
        i1 = j->n;
    float *pp = j->p, *m = j->m, *v = j->v;
    const float *g = j->g;
    const float b1 = j->beta1, b2 = j->beta2;
    for (size_t i = i0; i < i1; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        pp[i] -= j->a * m[i] / (sqrtf(v[i]) * j->rb2 + j->eps);
    }
}

void tpar_adam(ThreadPool *tp, float *p, const float *g, float *m, float *v, size_t n,
               float a, float rb2, float beta1, float beta2, float eps)
{
    EJob j = { .p = p, .g = g, .m = m, .v = v, .a = a, .rb2 = rb2, .beta1 = beta1,
               .beta2 = beta2, .eps = eps, .n = n };
    run_ranges(tp, adam_range, &j, chunks(n));
}

static void zero_range(const void *p, int lo, int hi, int thread)
{
    const EJob *j = p;
    (void)thread;
    size_t i0 = (size_t)lo * ELEM_CHUNK, i1 = (size_t)hi * ELEM_CHUNK;
    if (i1 > j->n)
        i1 = j->n;
    memset(j->out + i0, 0, (i1 - i0) * sizeof(float));
}

void tpar_zero(ThreadPool *tp, float *x, size_t n)
{
    EJob j = { .out = x, .n = n };
    run_ranges(tp, zero_range, &j, chunks(n));
}
