/* net_tiled.c: the forward pass in horizontal bands under a memory budget,
 * for images whose whole-image plan (net_run.c) would not fit.
 *
 * A band is a range of output rows of some op. Walking the ops backwards
 * from it gives the rows every earlier tensor must hold (a convolution's
 * kernel reaches k-1 rows further, a stride multiplies, a residual block's
 * input must cover both its inner path and its add), so a band is computed
 * exactly from a band of input rows, its neighbours recomputing the rows
 * they share: no seam. Every layer sees the band through a geometry whose
 * top padding is the image's only when the band touches the top, and whose
 * bottom reads past the band only when the band reaches the image's bottom.
 *
 * Instance norm needs its statistics over the whole image before any band
 * can go past it. So the image is swept once per norm layer: sweep n runs
 * the bands through the layers before norm n (whose statistics are known by
 * then) and sums that norm's input over the whole image; a last sweep makes
 * the output. Statistics are accumulated the way the untiled norm does
 * (norm_simd.c), so the output matches it to float rounding.
 *
 * Sweeping from the image every time recomputes the early layers (about
 * 10x the work of one whole-image pass for ml5). When the budget allows, a
 * checkpoint holds the whole tensor entering the first top-level residual
 * block (for ml5: 128 channels at a quarter of the size, 8 floats per
 * pixel); later sweeps start from it, and it is advanced through each block
 * in place once that block's statistics are known (a band's new rows wait
 * in a pending buffer while later bands still need the old ones). That
 * cuts the work to about 2.6x, and the input is not read after the
 * checkpoint is made, so the output may overwrite it.
 * Memory: the band buffers, the per-thread workspace, the Winograd weights
 * and the checkpoint; it does not grow with the image beyond the latter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine/conv_algo.h"
#include "engine/conv_direct.h"
#include "engine/net_impl.h"
#include "engine/net_par.h"
#include "engine/norm_simd.h"
#include "engine/winograd.h"

#define MAX_BUFS (NET_MAX_DEPTH + 3)

typedef struct TOp {
    const Op *op;
    int cout, hout, wout;  /* output tensor, whole image */
    int hin;               /* input rows, whole image */
    ConvGeom g;            /* conv / convt, whole image */
    ConvAlgo algo;
    size_t u_off;          /* winograd weights in NetTiled.wino */
    size_t norm_off;       /* instance norm: scale (c) then shift (c) in NetTiled.norm */
} TOp;

typedef struct Range {
    int lo, hi;
} Range;

/* One sweep over the image: bands of op `target`'s output computed from
 * op `start`'s input (the image when start is 0, else the checkpoint). */
typedef enum SweepKind { SW_STATS, SW_CREATE, SW_ADVANCE, SW_FINAL } SweepKind;
typedef struct Sweep {
    SweepKind kind;
    int start, target, band;
} Sweep;

typedef struct Band {             /* one tensor of a band */
    int buf;               /* index into NetTiled.buf */
    int c, w;
    Range r;               /* rows held */
} Band;

struct NetTiled {
    const Net *net;
    int h, w, nops;
    TOp *ops;
    Range *need;           /* need[i + 1]: rows of op i's output; need[0]: input rows */
    float *norm, *wino, *bufs, *work;
    size_t norm_floats, wino_floats, buf_floats, work_floats, work_stride;
    int nbuf, maxc, threads;
    ThreadPool *pool;
    double *S, *Q;         /* per channel, during a statistics sweep */
    float *K;
    Sweep *sweeps;
    int nsweeps;
    float *ck, *pend;      /* checkpoint (ck_c, ck_h, ck_w) and rows pending for it */
    size_t ck_floats, pend_floats;
    int ck_c, ck_h, ck_w;
};

static int floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Rows of op t's input needed for rows r of its output. */
static Range input_rows(const TOp *t, Range r)
{
    const ConvGeom *g = &t->g;
    Range in = r;
    switch (t->op->kind) {
    case OP_CONV:
        in.lo = r.lo * g->stride - g->pad_t;
        in.hi = (r.hi - 1) * g->stride - g->pad_t + g->k;
        break;
    case OP_CONVT:
        in.lo = -floor_div(-(r.lo + g->pad_t - g->k + 1), g->stride);
        in.hi = floor_div(r.hi - 1 + g->pad_t, g->stride) + 1;
        break;
    case OP_UP:
        in.lo = r.lo / t->op->stride;
        in.hi = (r.hi - 1) / t->op->stride + 1;
        break;
    default:
        break;
    }
    if (in.lo < 0)
        in.lo = 0;
    if (in.hi > t->hin)
        in.hi = t->hin;
    return in;
}

/* Fills need[] for rows r of op j's output, computed from op start's
 * input; returns the largest tensor in floats (the first one included). */
static size_t plan_ranges(NetTiled *t, int start, int j, Range r)
{
    Range stack[NET_MAX_DEPTH + 1];
    int depth = 0;
    size_t most = 0;
    for (int i = j; i >= start; i--) {
        const TOp *o = &t->ops[i];
        if (o->op->kind == OP_RES_BEGIN && depth > 0) {
            Range s = stack[--depth];
            r.lo = s.lo < r.lo ? s.lo : r.lo;
            r.hi = s.hi > r.hi ? s.hi : r.hi;
        }
        t->need[i + 1] = r;
        size_t n = (size_t)o->cout * (size_t)(r.hi - r.lo) * o->wout;
        if (n > most)
            most = n;
        if (o->op->kind == OP_RES_END && depth <= NET_MAX_DEPTH)
            stack[depth++] = r;
        r = input_rows(o, r);
    }
    t->need[start] = r;
    int c = start ? t->ops[start - 1].cout : 3, w = start ? t->ops[start - 1].wout : t->w;
    size_t n = (size_t)c * (size_t)(r.hi - r.lo) * w;
    return n > most ? n : most;
}

/* Rows a sweep covers: the input's rows for the output, else all. */
static int sweep_rows(const NetTiled *t, const Sweep *sw)
{
    return sw->kind == SW_FINAL ? t->h : t->ops[sw->target].hout;
}

/* The largest tensor over all bands of a sweep with `band` rows. */
static size_t sweep_peak(NetTiled *t, const Sweep *sw, int band)
{
    size_t most = 0;
    int H = sweep_rows(t, sw);
    for (int a = 0; a < H; a += band) {
        Range r = { a, a + band < H ? a + band : H };
        size_t n = plan_ranges(t, sw->start, sw->target, r);
        if (n > most)
            most = n;
    }
    return most;
}

/* ---- one band ---------------------------------------------------------- */

static float *tensor_data(const NetTiled *t, const Band *x)
{
    return t->bufs + (size_t)x->buf * t->buf_floats;
}

static int free_buf(const int *busy, int nbuf)
{
    for (int b = 0; b < nbuf; b++)
        if (!busy[b])
            return b;
    return -1;
}

/* Copies rows r (inside x's rows) of x into buffer b, channel by channel. */
static void copy_rows(NetTiled *t, Band *x, Range r, int b)
{
    const float *src = tensor_data(t, x);
    float *dst = t->bufs + (size_t)b * t->buf_floats;
    size_t rows = (size_t)(x->r.hi - x->r.lo), n = (size_t)(r.hi - r.lo) * x->w;
    for (int c = 0; c < x->c; c++)
        memmove(dst + c * n, src + ((size_t)c * rows + (size_t)(r.lo - x->r.lo)) * x->w,
                n * sizeof(float));
    x->buf = b;
    x->r = r;
}

/* Runs ops start..j on the band planned in need[], from the whole input
 * `in` (3, h, w) when start is 0, else from the checkpoint; leaves op j's
 * output in *x. Returns 0 or -1. */
static int run_band(NetTiled *t, int start, int j, const float *in, Band *x)
{
    const Net *net = t->net;
    int busy[MAX_BUFS] = { 0 };
    Band saved[NET_MAX_DEPTH + 1];
    int depth = 0;
    Range r0 = t->need[start];
    x->buf = 0;
    x->c = start ? t->ck_c : 3;
    x->w = start ? t->ck_w : t->w;
    x->r = r0;
    busy[0] = 1;
    float *dst0 = t->bufs;
    size_t n0 = (size_t)(r0.hi - r0.lo) * x->w;
    if (start) {
        for (int c = 0; c < x->c; c++)
            memcpy(dst0 + c * n0, t->ck + ((size_t)c * t->ck_h + r0.lo) * t->ck_w,
                   n0 * sizeof(float));
    } else {
        for (int c = 0; c < 3; c++) {
            const float *src = in + ((size_t)c * t->h + r0.lo) * t->w;
            for (size_t i = 0; i < n0; i++)
                dst0[c * n0 + i] = src[i] * net->in_scale + net->in_offset;
        }
    }
    for (int i = start; i <= j; i++) {
        const TOp *o = &t->ops[i];
        const Op *op = o->op;
        Range out = t->need[i + 1];
        const float *wt = op->w_off == SIZE_MAX ? NULL : net->params + op->w_off;
        const float *bs = op->b_off == SIZE_MAX ? NULL : net->params + op->b_off;
        int pinned = depth > 0 && saved[depth - 1].buf == x->buf;
        if (op->kind == OP_CONV || op->kind == OP_CONVT || op->kind == OP_UP) {
            Range want = input_rows(o, out);
            if (want.lo < x->r.lo || want.hi > x->r.hi || want.lo >= want.hi)
                return -1;
            if (want.lo != x->r.lo || want.hi != x->r.hi) {
                int b = free_buf(busy, t->nbuf);
                if (b < 0)
                    return -1;
                if (!pinned)
                    busy[x->buf] = 0;
                copy_rows(t, x, want, b);
                busy[b] = 1;
                pinned = 0;
            }
            int b = free_buf(busy, t->nbuf);
            if (b < 0)
                return -1;
            const float *src = tensor_data(t, x);
            float *dst = t->bufs + (size_t)b * t->buf_floats;
            ConvGeom g = o->g;
            if (op->kind == OP_CONV) {
                g.h = want.hi - want.lo;
                g.oh = out.hi - out.lo;
                g.pad_t = want.lo - (out.lo * g.stride - o->g.pad_t);
                if (o->algo == ALGO_WINOGRAD)
                    winograd_conv3x3_forward(dst, src, t->wino + o->u_off, bs, &g, t->work,
                                             t->work_stride, t->pool);
                else if (o->algo == ALGO_DIRECT)
                    conv_direct_forward(dst, src, wt, bs, &g, t->work, t->work_stride, t->pool);
                else
                    par_conv2d(t->pool, dst, src, wt, bs, &g, t->work, t->work_stride);
            } else if (op->kind == OP_CONVT) {
                g.h = want.hi - want.lo;
                g.oh = out.hi - out.lo;
                g.pad_t = out.lo + o->g.pad_t - want.lo * g.stride;
                par_conv_transpose2d(t->pool, dst, src, wt, bs, &g, t->work, t->work_stride);
            } else {
                int s = op->stride, rows = want.hi - want.lo, ow = o->wout;
                for (int c = 0; c < x->c; c++)
                    for (int oy = out.lo; oy < out.hi; oy++) {
                        const float *srow = src + ((size_t)c * rows + (oy / s - want.lo)) * x->w;
                        float *drow = dst + ((size_t)c * (out.hi - out.lo) + (oy - out.lo)) * ow;
                        for (int ox = 0; ox < ow; ox++)
                            drow[ox] = srow[ox / s];
                    }
            }
            if (!pinned)
                busy[x->buf] = 0;
            busy[b] = 1;
            x->buf = b;
            x->c = o->cout;
            x->w = o->wout;
            x->r = out;
            continue;
        }
        if (op->kind == OP_RES_BEGIN) {
            if (depth > NET_MAX_DEPTH)
                return -1;
            saved[depth++] = *x;
            continue;
        }
        if (op->kind == OP_NOP)
            continue;
        if (op->kind == OP_RES_END) {
            if (depth == 0)
                return -1;
            Band s = saved[--depth];
            if (out.lo < s.r.lo || out.hi > s.r.hi || x->r.lo != out.lo || x->r.hi != out.hi)
                return -1;
            float *d = tensor_data(t, x);
            const float *a = tensor_data(t, &s);
            size_t n = (size_t)(out.hi - out.lo) * x->w, srows = (size_t)(s.r.hi - s.r.lo);
            for (int c = 0; c < x->c; c++)
                add_forward(d + c * n, a + ((size_t)c * srows + (size_t)(out.lo - s.r.lo)) * x->w,
                            n);
            int still = s.buf == x->buf;
            for (int k = 0; k < depth; k++)
                still |= saved[k].buf == s.buf;
            if (!still)
                busy[s.buf] = 0;
            continue;
        }
        /* In-place ops; a copy first when the value must survive. */
        if (pinned) {
            int b = free_buf(busy, t->nbuf);
            if (b < 0)
                return -1;
            copy_rows(t, x, x->r, b);
            busy[b] = 1;
        }
        float *d = tensor_data(t, x);
        size_t plane = (size_t)(x->r.hi - x->r.lo) * x->w;
        if (op->kind == OP_IN) {
            const float *sc = t->norm + o->norm_off;
            par_norm_apply(t->pool, d, sc, sc + x->c, x->c, plane, op->fuse_relu);
        } else {
            par_elementwise(t->pool, op->kind, d, NULL, op->slope, plane * x->c);
        }
    }
    return 0;
}

/* ---- sweeps ------------------------------------------------------------ */

/* Copies rows [lo, hi) of band tensor x into the checkpoint. */
static void to_checkpoint(NetTiled *t, const float *src, int src_lo, int src_rows, int lo, int hi)
{
    size_t n = (size_t)(hi - lo) * t->ck_w;
    for (int c = 0; c < t->ck_c; c++)
        memcpy(t->ck + ((size_t)c * t->ck_h + lo) * t->ck_w,
               src + ((size_t)c * src_rows + (size_t)(lo - src_lo)) * t->ck_w, n * sizeof(float));
}

static int run_sweep(NetTiled *t, const Sweep *sw, const float *in, float *out)
{
    const Net *net = t->net;
    const int H = sweep_rows(t, sw), j = sw->target;
    const TOp *o = &t->ops[j];
    Range pend = { 0, 0 };                      /* rows of new values not yet written */
    if (sw->kind == SW_STATS)
        for (int ch = 0; ch < o->cout; ch++)
            t->S[ch] = t->Q[ch] = 0;
    for (int a = 0; a < H; a += sw->band) {
        Range r = { a, a + sw->band < H ? a + sw->band : H };
        plan_ranges(t, sw->start, j, r);
        Band x;
        if (run_band(t, sw->start, j, in, &x) || x.r.lo != r.lo || x.r.hi != r.hi ||
            x.c != o->cout)
            return -1;
        const float *d = tensor_data(t, &x);
        size_t rows = (size_t)(r.hi - r.lo), plane = rows * x.w;
        if (sw->kind == SW_STATS) {
            for (int ch = 0; ch < x.c; ch++) {
                if (a == 0)
                    t->K[ch] = norm_simd_shift(d + ch * plane, plane);
                norm_simd_moments(d + ch * plane, plane, t->K[ch], &t->S[ch], &t->Q[ch]);
            }
        } else if (sw->kind == SW_CREATE) {
            to_checkpoint(t, d, r.lo, (int)rows, r.lo, r.hi);
        } else if (sw->kind == SW_ADVANCE) {
            /* In place: the checkpoint's old rows from `keep` on are still
             * input to later bands, so new rows there wait in pend, whose
             * channel planes are pcap rows apart, rows [pend.lo, pend.hi). */
            const int pcap = (int)(t->pend_floats / ((size_t)x.c * x.w));
            if (pend.hi == pend.lo)
                pend.lo = pend.hi = r.lo;
            if (pend.hi != r.lo || r.hi - pend.lo > pcap)
                return -1;
            for (int c = 0; c < x.c; c++)
                memcpy(t->pend + ((size_t)c * pcap + (size_t)(pend.hi - pend.lo)) * x.w,
                       d + c * plane, plane * sizeof(float));
            pend.hi = r.hi;
            int keep = H;
            if (r.hi < H) {
                Range next = { r.hi, r.hi + sw->band < H ? r.hi + sw->band : H };
                plan_ranges(t, sw->start, j, next);
                keep = t->need[sw->start].lo;
            }
            int flush = keep < pend.hi ? keep : pend.hi;
            if (flush > pend.lo) {
                to_checkpoint(t, t->pend, pend.lo, pcap, pend.lo, flush);
                int left = pend.hi - flush;
                for (int c = 0; c < x.c; c++)
                    memmove(t->pend + (size_t)c * pcap * x.w,
                            t->pend + ((size_t)c * pcap + (size_t)(flush - pend.lo)) * x.w,
                            (size_t)left * x.w * sizeof(float));
                pend.lo = flush;
            }
        } else {
            for (int c = 0; c < 3; c++)
                for (int q = r.lo; q < r.hi; q++) {
                    const float *src = d + ((size_t)c * rows + (size_t)(q - r.lo)) * x.w;
                    float *dst = out + ((size_t)c * t->h + q) * t->w;
                    for (int p = 0; p < t->w; p++) {
                        float v = src[p] * net->out_scale + net->out_offset;
                        dst[p] = v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f;
                    }
                }
        }
    }
    if (sw->kind == SW_STATS) {
        const TOp *n = &t->ops[j + 1];
        const Op *op = n->op;
        const float *gamma = op->w_off == SIZE_MAX ? NULL : net->params + op->w_off;
        const float *beta = op->b_off == SIZE_MAX ? NULL : net->params + op->b_off;
        float *sc = t->norm + n->norm_off;
        size_t cnt = (size_t)H * o->wout;
        for (int ch = 0; ch < o->cout; ch++)
            norm_simd_affine(t->S[ch], t->Q[ch], cnt, t->K[ch], gamma ? gamma[ch] : 1.0f,
                             beta ? beta[ch] : 0.0f, op->eps, &sc[ch], &sc[o->cout + ch]);
    }
    return 0;
}

int net_tiled_forward(const Net *net, NetTiled *t, const float *in, float *out)
{
    if (!net || !t || t->net != net || !in || !out)
        return -1;
    for (int i = 0; i < t->nsweeps; i++)
        if (run_sweep(t, &t->sweeps[i], in, out))
            return -1;
    return 0;
}

int net_tiled_in_place(const NetTiled *t)
{
    return t->ck_floats > 0;
}

/* ---- planning ---------------------------------------------------------- */

/* The largest band of a sweep whose tensors fit in cap floats (0: none). */
static int choose_band(NetTiled *t, const Sweep *sw, size_t cap)
{
    int lo = 0, hi = sweep_rows(t, sw);
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (sweep_peak(t, sw, mid) <= cap)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Checkpoint points: the op before the first top-level residual block, and
 * the ends of the top-level blocks after it while the tensor keeps that
 * shape; point[i] is 1 for those. Returns how many there are. */
static int find_points(const NetTiled *t, int *point)
{
    int depth = 0, first = -1, n = 0;
    for (int i = 0; i < t->nops; i++) {
        const TOp *o = &t->ops[i];
        point[i] = 0;
        if (o->op->kind == OP_RES_BEGIN && depth++ == 0 && first < 0 && i > 0) {
            first = i - 1;
            point[first] = 1;
            n++;
        } else if (o->op->kind == OP_RES_END) {
            depth--;
        }
        if (first >= 0 && i > first && depth == 0) {
            const TOp *f = &t->ops[first];
            if (o->cout != f->cout || o->hout != f->hout || o->wout != f->wout)
                break;
            if (o->op->kind == OP_RES_END) {
                point[i] = 1;
                n++;
            }
        }
    }
    return n;
}

/* The sweeps in order; with point NULL, every sweep starts at the image. */
static int build_sweeps(NetTiled *t, const int *point)
{
    int ck = -1, n = 0;
    for (int i = 0; i <= t->nops; i++) {
        int last = i == t->nops;
        if (!last && t->ops[i].op->kind != OP_IN)
            continue;
        int p = -1;
        for (int q = ck + 1; point && q < (last ? t->nops : i); q++)
            if (point[q])
                p = q;
        if (p >= 0) {
            t->sweeps[n++] = (Sweep){ ck < 0 ? SW_CREATE : SW_ADVANCE, ck + 1, p, 0 };
            ck = p;
        }
        t->sweeps[n++] = (Sweep){ last ? SW_FINAL : SW_STATS, ck + 1, i - 1, 0 };
    }
    return n;
}

/* Bands for every sweep within cap floats per buffer; the largest tensor,
 * or 0 when some sweep cannot fit one row. */
static size_t choose_bands(NetTiled *t, size_t cap)
{
    size_t most = 0;
    for (int i = 0; i < t->nsweeps; i++) {
        Sweep *sw = &t->sweeps[i];
        sw->band = choose_band(t, sw, cap);
        if (sw->band < 1)
            return 0;
        size_t peak = sweep_peak(t, sw, sw->band);
        if (peak > most)
            most = peak;
    }
    return most;
}

NetTiled *net_tiled_plan(const Net *net, int h, int w, size_t budget, int threads)
{
    if (!net || h < 1 || w < 1 || h > 65536 || w > 65536)
        return NULL;
    NetTiled *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->net = net;
    t->h = h;
    t->w = w;
    t->nops = net->nops;
    t->ops = calloc((size_t)net->nops, sizeof(TOp));
    t->need = calloc((size_t)net->nops + 1, sizeof(Range));
    if (!t->ops || !t->need)
        goto fail;
    int c = 3, depth = 0, maxdepth = 0;
    t->maxc = 3;
    for (int i = 0; i < net->nops; i++) {
        TOp *o = &t->ops[i];
        const Op *op = &net->ops[i];
        o->op = op;
        o->hin = h;
        if (op->kind == OP_CONV || op->kind == OP_CONVT) {
            if (net_conv_geom(op, h, w, &o->g))
                goto fail;
            if (op->kind == OP_CONVT && op->k < op->stride)
                goto fail;      /* rows with no input: not banded */
            size_t wf;
            if (op->kind == OP_CONVT) {
                wf = par_convt_work_floats(&o->g);
            } else if ((o->algo = conv_algo_pick(&o->g)) == ALGO_WINOGRAD) {
                o->u_off = t->wino_floats;
                t->wino_floats += winograd_weight_floats(&o->g);
                wf = winograd_work_floats(&o->g);
            } else if (o->algo == ALGO_DIRECT) {
                wf = conv_direct_work_floats(&o->g);
            } else {
                wf = par_conv_work_floats(&o->g);
            }
            if (wf > t->work_floats)
                t->work_floats = wf;
            c = op->cout;
            h = o->g.oh;
            w = o->g.ow;
        } else if (op->kind == OP_UP) {
            h *= op->stride;
            w *= op->stride;
        } else if (op->kind == OP_IN) {
            if (i == 0)
                goto fail;
            o->norm_off = t->norm_floats;
            t->norm_floats += (size_t)2 * c;
        } else if (op->kind == OP_RES_BEGIN) {
            if (++depth > maxdepth)
                maxdepth = depth;
            if (depth > NET_MAX_DEPTH)
                goto fail;
        } else if (op->kind == OP_RES_END) {
            depth--;
        }
        o->cout = c;
        o->hout = h;
        o->wout = w;
        if (c > t->maxc)
            t->maxc = c;
    }
    if (c != 3 || h < t->h || w < t->w)
        goto fail;
    t->nbuf = maxdepth + 3;
    threads = threadpool_clamp(threads);
    t->threads = threads;
    t->work_stride = (t->work_floats + 2 * NET_ALIGN_FLOATS) / NET_ALIGN_FLOATS * NET_ALIGN_FLOATS;
    size_t fixed = (net_round_floats(t->wino_floats + 1) + t->norm_floats + t->work_stride * (size_t)threads +
                    3 * (size_t)t->maxc) * sizeof(float) + (size_t)t->maxc * 2 * sizeof(double);
    if (budget <= fixed)
        goto fail;
    t->sweeps = calloc((size_t)2 * (t->nops + 1), sizeof(Sweep));
    int *point = calloc((size_t)t->nops, sizeof(int));
    if (!t->sweeps || !point) {
        free(point);
        goto fail;
    }
    /* With a checkpoint when it and nbuf + 1 buffers (one for the rows
     * pending in place) fit; else every sweep from the image. */
    size_t most = 0, avail = (budget - fixed) / sizeof(float);
    if (find_points(t, point)) {
        int f = 0;
        while (!point[f])
            f++;
        t->ck_c = t->ops[f].cout;
        t->ck_h = t->ops[f].hout;
        t->ck_w = t->ops[f].wout;
        t->ck_floats = net_round_floats((size_t)t->ck_c * t->ck_h * t->ck_w);
        if (t->ck_floats < avail) {
            size_t cap = (avail - t->ck_floats) / (size_t)(t->nbuf + 1);
            cap = cap / NET_ALIGN_FLOATS * NET_ALIGN_FLOATS;
            t->nsweeps = build_sweeps(t, point);
            most = choose_bands(t, cap);
        }
    }
    free(point);
    if (!most) {
        t->ck_floats = 0;
        size_t cap = avail / (size_t)t->nbuf / NET_ALIGN_FLOATS * NET_ALIGN_FLOATS;
        t->nsweeps = build_sweeps(t, NULL);
        most = choose_bands(t, cap);
        if (!most)
            goto fail;
    }
    t->buf_floats = (most + NET_ALIGN_FLOATS - 1) / NET_ALIGN_FLOATS * NET_ALIGN_FLOATS;
    t->bufs = aligned_alloc(64, t->buf_floats * (size_t)t->nbuf * sizeof(float));
    if (t->ck_floats) {
        t->pend_floats = t->buf_floats;
        t->ck = aligned_alloc(64, net_round_floats(t->ck_floats) * sizeof(float));
        t->pend = aligned_alloc(64, t->pend_floats * sizeof(float));
        if (!t->ck || !t->pend)
            goto fail;
    }
    t->wino = aligned_alloc(64, net_round_floats(t->wino_floats + 1) * sizeof(float));
    t->norm = malloc((t->norm_floats + 1) * sizeof(float));
    t->work = aligned_alloc(64, t->work_stride * (size_t)threads * sizeof(float));
    t->S = malloc((size_t)t->maxc * sizeof(double));
    t->Q = malloc((size_t)t->maxc * sizeof(double));
    t->K = malloc((size_t)t->maxc * sizeof(float));
    t->pool = threadpool_create(threads);
    if (!t->bufs || !t->wino || !t->norm || !t->work || !t->S || !t->Q || !t->K || !t->pool)
        goto fail;
    for (int i = 0; i < t->nops; i++)
        if (t->ops[i].algo == ALGO_WINOGRAD)
            winograd_weights(t->wino + t->ops[i].u_off, net->params + t->ops[i].op->w_off,
                             &t->ops[i].g);
    return t;
fail:
    net_tiled_free(t);
    return NULL;
}

void net_tiled_free(NetTiled *t)
{
    if (!t)
        return;
    threadpool_free(t->pool);
    free(t->ops);
    free(t->need);
    free(t->norm);
    free(t->wino);
    free(t->bufs);
    free(t->work);
    free(t->S);
    free(t->Q);
    free(t->K);
    free(t->sweeps);
    free(t->ck);
    free(t->pend);
    free(t);
}

size_t net_tiled_bytes(const NetTiled *t)
{
    return (t->buf_floats * (size_t)t->nbuf + net_round_floats(t->wino_floats + 1) + t->norm_floats +
            t->work_stride * (size_t)t->threads + t->ck_floats + t->pend_floats) *
           sizeof(float);
}

int net_tiled_bands(const NetTiled *t)
{
    int band = t->sweeps[t->nsweeps - 1].band;
    return (t->h + band - 1) / band;
}

int net_tiled_sweeps(const NetTiled *t)
{
    return t->nsweeps;
}
