/* net_run.c: memory planning for one input shape, and the forward pass.
 *
 * net_plan() walks the op list once: it computes every layer's geometry and
 * gives every activation an offset in one arena, from a first-fit allocator
 * that frees a value after its last use (a residual block's input lives
 * until the block's add). The forward pass only reads that plan.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine/conv_algo.h"
#include "engine/conv_direct.h"
#include "engine/net_impl.h"
#include "engine/net_par.h"
#include "engine/winograd.h"
#include "engine/util.h"

/* A plan's inside: this file's alone (net.h's NetPlan is opaque to the
 * rest of the engine and to the trainer). */
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
    int threads;           /* its pool's, fixed at net_plan() (clamped) */
    double *prof_ms;       /* per step, summed over forwards; NULL when off */
    int prof_runs;
    atomic_int busy;       /* in net_forward (checked: one thread at a time) */
};

/* ---- first-fit arena allocator (planning time only) -------------------- */

#define MAX_LIVE 64

typedef struct Alloc {
    size_t off[MAX_LIVE], size[MAX_LIVE];  /* live blocks, sorted by offset */
    int n;
    size_t high;                            /* high-water mark, floats */
    int failed;
} Alloc;

static size_t alloc_take(Alloc *a, size_t size)
{
    size = (size + NET_ALIGN_FLOATS - 1) / NET_ALIGN_FLOATS * NET_ALIGN_FLOATS;
    if (a->n == MAX_LIVE) {
        a->failed = 1;
        return 0;
    }
    size_t at = 0;
    int i = 0;
    for (; i < a->n; i++) {
        if (a->off[i] - at >= size)
            break;
        at = a->off[i] + a->size[i];
    }
    memmove(&a->off[i + 1], &a->off[i], (size_t)(a->n - i) * sizeof(size_t));
    memmove(&a->size[i + 1], &a->size[i], (size_t)(a->n - i) * sizeof(size_t));
    a->off[i] = at;
    a->size[i] = size;
    a->n++;
    if (at + size > a->high)
        a->high = at + size;
    return at;
}

static void alloc_give(Alloc *a, size_t off)
{
    for (int i = 0; i < a->n; i++)
        if (a->off[i] == off) {
            memmove(&a->off[i], &a->off[i + 1], (size_t)(a->n - i - 1) * sizeof(size_t));
            memmove(&a->size[i], &a->size[i + 1], (size_t)(a->n - i - 1) * sizeof(size_t));
            a->n--;
            return;
        }
}

/* ---- geometry ---------------------------------------------------------- */

int net_conv_geom(const Op *op, int h, int w, ConvGeom *g)
{
    memset(g, 0, sizeof(*g));
    g->cin = op->cin;
    g->cout = op->cout;
    g->k = op->k;
    g->stride = op->stride;
    g->h = h;
    g->w = w;
    int s = op->stride, k = op->k;
    if (op->kind == OP_CONV) {
        g->reflect = op->reflect;
        if (op->pad_same) {
            g->oh = (h + s - 1) / s;
            g->ow = (w + s - 1) / s;
            int ph = (g->oh - 1) * s + k - h, pw = (g->ow - 1) * s + k - w;
            g->pad_t = ph > 0 ? ph / 2 : 0;
            g->pad_l = pw > 0 ? pw / 2 : 0;
            if (g->reflect && (ph - g->pad_t >= h || pw - g->pad_l >= w))
                return -1;
        } else {
            const int *p = op->pad;
            if (h + p[0] + p[1] < k || w + p[2] + p[3] < k)
                return -1;
            if (op->reflect && (p[0] >= h || p[1] >= h || p[2] >= w || p[3] >= w))
                return -1;
            g->pad_t = p[0];
            g->pad_l = p[2];
            g->oh = (h + p[0] + p[1] - k) / s + 1;
            g->ow = (w + p[2] + p[3] - k) / s + 1;
        }
    } else {
        if (op->pad_same) {
            g->oh = h * s;
            g->ow = w * s;
            g->pad_t = g->pad_l = k > s ? (k - s) / 2 : 0;
        } else {
            g->pad_t = g->pad_l = op->pad[0];
            g->oh = (h - 1) * s - 2 * op->pad[0] + k + op->out_pad;
            g->ow = (w - 1) * s - 2 * op->pad[0] + k + op->out_pad;
        }
    }
    return g->oh >= 1 && g->ow >= 1 ? 0 : -1;
}

double net_flops(const Net *net, int h, int w)
{
    double flops = 0;
    for (int i = 0; i < net->nops; i++) {
        const Op *op = &net->ops[i];
        ConvGeom g;
        if (op->kind == OP_CONV || op->kind == OP_CONVT) {
            if (net_conv_geom(op, h, w, &g))
                return 0;
            double px = op->kind == OP_CONV ? (double)g.oh * g.ow : (double)h * w;
            flops += 2.0 * op->cin * op->cout * op->k * op->k * px;
            h = g.oh;
            w = g.ow;
        } else if (op->kind == OP_UP) {
            h *= op->stride;
            w *= op->stride;
        }
    }
    return flops;
}

/* ---- planning ---------------------------------------------------------- */

#define MAX_SIDE 65536

/* Floats between two threads' workspace slices (each stays 64-byte aligned). */
static size_t work_stride(size_t work_floats)
{
    return net_round_floats(work_floats) + NET_ALIGN_FLOATS;
}

/* The plan's workspace, one slice per thread, and its pool. 0 or -1. */
static int plan_start_threads(NetPlan *p)
{
    p->work = aligned_alloc(64, p->work_stride * (size_t)p->threads * sizeof(float));
    p->pool = p->work ? threadpool_create(p->threads) : NULL;
    return p->pool ? 0 : -1;
}

/* The layout of a plan for `threads` threads; with allocate 0 only its
 * sizes (steps, geometry, arena, workspace and Winograd floats), for
 * net_plan_estimate_bytes(). */
static NetPlan *plan_make(const Net *net, int h, int w, int threads, int allocate)
{
    if (!net || h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        return NULL;
    NetPlan *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->net = net;
    p->h = h;
    p->w = w;
    p->steps = calloc((size_t)net->nops, sizeof(Step));
    if (!p->steps)
        goto fail;
    Alloc a = { .n = 0 };
    size_t saved[NET_MAX_DEPTH + 1];
    int depth = 0;
    int c = 3;
    size_t cur = alloc_take(&a, (size_t)3 * h * w);
    p->in_off = cur;
    for (int i = 0; i < net->nops; i++) {
        const Op *op = &net->ops[i];
        Step *s = &p->steps[p->nsteps++];
        s->op = op;
        s->in_off = cur;
        int pinned = depth > 0 && saved[depth - 1] == cur;
        size_t n = (size_t)c * h * w;
        switch (op->kind) {
        case OP_CONV:
        case OP_CONVT: {
            if (net_conv_geom(op, h, w, &s->g))
                goto fail;
            size_t wf;
            if (op->kind == OP_CONVT) {
                wf = par_convt_work_floats(&s->g);
            } else if ((s->algo = conv_algo_pick(&s->g)) == ALGO_WINOGRAD) {
                s->u_off = p->wino_floats;
                p->wino_floats += winograd_weight_floats(&s->g);
                wf = winograd_work_floats(&s->g);
            } else if (s->algo == ALGO_DIRECT) {
                wf = conv_direct_work_floats(&s->g);
            } else {
                wf = par_conv_work_floats(&s->g);
            }
            if (wf > p->work_floats)
                p->work_floats = wf;
            c = op->cout;
            h = s->g.oh;
            w = s->g.ow;
            s->out_off = alloc_take(&a, (size_t)c * h * w);
            if (!pinned)
                alloc_give(&a, cur);
            break;
        }
        case OP_UP:
            s->g.cin = c;
            s->g.h = h;
            s->g.w = w;
            h *= op->stride;
            w *= op->stride;
            s->out_off = alloc_take(&a, (size_t)c * h * w);
            if (!pinned)
                alloc_give(&a, cur);
            break;
        case OP_RES_BEGIN:
            if (depth > NET_MAX_DEPTH)
                goto fail;
            saved[depth++] = cur;
            s->out_off = cur;
            break;
        case OP_RES_END:
            s->aux_off = saved[--depth];
            s->out_off = cur;
            s->g.cin = c;
            s->g.h = h;
            s->g.w = w;
            if (s->aux_off != cur)
                alloc_give(&a, s->aux_off);
            break;
        default:   /* in-place ops: a copy first if the value must survive */
            s->g.cin = c;
            s->g.h = h;
            s->g.w = w;
            s->out_off = cur;
            if (pinned && op->kind != OP_NOP) {
                s->copy_first = 1;
                s->out_off = alloc_take(&a, n);
            }
            break;
        }
        cur = s->out_off;
    }
    if (a.failed || c != 3 || h < p->h || w < p->w)
        goto fail;
    p->oh = h;
    p->ow = w;
    p->out_off = cur;
    p->arena_floats = a.high;
    p->threads = threadpool_clamp(threads);
    p->work_stride = work_stride(p->work_floats);
    if (p->work_stride > SIZE_MAX / sizeof(float) / (size_t)p->threads)
        goto fail;
    if (!allocate)
        return p;
    p->arena = aligned_alloc(64, p->arena_floats * sizeof(float));
    p->wino = aligned_alloc(64, net_round_floats(p->wino_floats + 1) * sizeof(float));
    if (!p->arena || !p->wino)
        goto fail;
    for (int i = 0; i < p->nsteps; i++) {
        const Step *s = &p->steps[i];
        if (s->algo == ALGO_WINOGRAD)
            winograd_weights(p->wino + s->u_off, net->params + s->op->w_off, &s->g);
    }
    if (plan_start_threads(p))
        goto fail;
    return p;
fail:
    net_plan_free(p);
    return NULL;
}

NetPlan *net_plan(const Net *net, int h, int w, int threads)
{
    return plan_make(net, h, w, threads, 1);
}

size_t net_plan_estimate_bytes(const Net *net, int h, int w, int threads)
{
    NetPlan *p = plan_make(net, h, w, threads, 0);
    size_t bytes = p ? net_plan_bytes(p) : SIZE_MAX;
    net_plan_free(p);
    return bytes;
}

void net_plan_free(NetPlan *plan)
{
    if (!plan)
        return;
    free(plan->steps);
    free(plan->arena);
    free(plan->work);
    free(plan->wino);
    free(plan->prof_ms);
    threadpool_free(plan->pool);
    free(plan);
}

size_t net_plan_bytes(const NetPlan *plan)
{
    return (plan->arena_floats + plan->work_stride * (size_t)plan->threads +
            plan->wino_floats) * sizeof(float);
}

int net_plan_threads(const NetPlan *plan)
{
    return plan ? plan->threads : 0;
}

int net_plan_set_profile(NetPlan *plan, int on)
{
    if (!plan)
        return -1;
    free(plan->prof_ms);
    plan->prof_ms = NULL;
    plan->prof_runs = 0;
    if (on && !(plan->prof_ms = calloc((size_t)plan->nsteps, sizeof(double))))
        return -1;
    return 0;
}

int net_plan_profile_step(const NetPlan *plan, int i, const char **name, double *ms)
{
    if (!plan || !plan->prof_ms || i < 0 || i >= plan->nsteps)
        return -1;
    const Op *op = plan->steps[i].op;
    static const char *const kinds[] = { "conv2d", "conv_transpose2d", "instance_norm",
        "relu", "leaky_relu", "tanh", "upsample", "res_begin", "res_add", "nop" };
    *name = op->name[0] ? op->name : kinds[op->kind];
    *ms = plan->prof_runs ? plan->prof_ms[i] / plan->prof_runs : 0.0;
    return 0;
}

/* ---- forward ----------------------------------------------------------- */

static int forward(const Net *net, NetPlan *plan, const float *in, float *out);

int net_forward(const Net *net, NetPlan *plan, const float *in, float *out)
{
    int rc;
    if (!net || !plan || plan->net != net || !in || !out)
        return -1;
    UTIL_ASSERT(atomic_exchange(&plan->busy, 1) == 0);
    rc = forward(net, plan, in, out);
    atomic_store(&plan->busy, 0);
    return rc;
}

static int forward(const Net *net, NetPlan *plan, const float *in, float *out)
{
    float *A = plan->arena;
    const size_t hw = (size_t)plan->h * plan->w;
    float *x = A + plan->in_off;
    for (size_t i = 0; i < 3 * hw; i++)
        x[i] = in[i] * net->in_scale + net->in_offset;
    for (int i = 0; i < plan->nsteps; i++) {
        const Step *s = &plan->steps[i];
        const Op *op = s->op;
        float *src = A + s->in_off, *dst = A + s->out_off;
        const float *wt = op->w_off == SIZE_MAX ? NULL : net->params + op->w_off;
        const float *bs = op->b_off == SIZE_MAX ? NULL : net->params + op->b_off;
        size_t n = (size_t)s->g.cin * s->g.h * s->g.w;
        if (s->copy_first)
            memcpy(dst, src, n * sizeof(float));
        double t0 = plan->prof_ms ? (util_now_s() * 1e3) : 0.0;
        ThreadPool *tp = plan->pool;
        switch (op->kind) {
        case OP_CONV:
            if (s->algo == ALGO_WINOGRAD)
                winograd_conv3x3_forward(dst, src, plan->wino + s->u_off, bs, &s->g,
                                         plan->work, plan->work_stride, tp);
            else if (s->algo == ALGO_DIRECT)
                conv_direct_forward(dst, src, wt, bs, &s->g, plan->work, plan->work_stride, tp);
            else
                par_conv2d(tp, dst, src, wt, bs, &s->g, plan->work, plan->work_stride);
            break;
        case OP_CONVT:
            par_conv_transpose2d(tp, dst, src, wt, bs, &s->g, plan->work, plan->work_stride);
            break;
        case OP_IN:
            par_instance_norm(tp, dst, wt, bs, op->eps, s->g.cin,
                              (size_t)s->g.h * s->g.w, op->fuse_relu);
            break;
        case OP_RELU:
        case OP_LRELU:
        case OP_TANH:
            par_elementwise(tp, op->kind, dst, NULL, op->slope, n);
            break;
        case OP_UP:
            par_upsample(tp, dst, src, s->g.cin, s->g.h, s->g.w, op->stride);
            break;
        case OP_RES_END:
            par_elementwise(tp, OP_RES_END, dst, A + s->aux_off, 0.0f, n);
            break;
        case OP_RES_BEGIN:
        case OP_NOP:
            break;
        }
        if (plan->prof_ms)
            plan->prof_ms[i] += (util_now_s() * 1e3) - t0;
    }
    if (plan->prof_ms)
        plan->prof_runs++;
    /* Output mapping, clamp, and the crop back to the input size. */
    const float *y = A + plan->out_off;
    for (int c = 0; c < 3; c++)
        for (int r = 0; r < plan->h; r++) {
            const float *src = y + ((size_t)c * plan->oh + r) * plan->ow;
            float *dst = out + ((size_t)c * plan->h + r) * plan->w;
            for (int q = 0; q < plan->w; q++) {
                float v = src[q] * net->out_scale + net->out_offset;
                dst[q] = v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f;
            }
        }
    return 0;
}
