/* tnet.c: the training graph (tnet.h): a spec-built network run forward on
 * a batch keeping every value, and backward into parameter gradients.
 *
 * The op list comes from net.c's parser (net_from_spec). Planning walks it
 * once per (B, h, w) and gives each value (the input mapping, every op's
 * output, the output mapping) a slot in one activation arena and the same
 * slot in a gradient arena; ops that do not change their input (a fused
 * ReLU's NOP, a residual block's start) alias it. Backward walks the steps
 * in reverse, each adding into its input's gradient, so a residual input
 * collects the gradient of both its users.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/layers.h"
#include "engine/net_impl.h"
#include "engine/net_par.h"
#include "engine/rng.h"
#include "engine/train/tnet.h"
#include "engine/train/tpar.h"
#include "engine/util.h"

#define TNET_MAX_VALUES (2 * NET_MAX_OPS + 4)

typedef struct TStep {
    const Op *op;
    ConvGeom g;          /* conv / convt geometry; c, h, w in g.cin, g.h, g.w otherwise */
    int in, out, aux;    /* value ids; aux: a residual block's input */
    size_t stat_off;     /* instance norm: mean then rstd, (B, C) each, in stats */
} TStep;

typedef struct Value { int c, h, w; size_t off; } Value;   /* off into act / dact */

struct TNet {
    Net *net;
    int in_ch, out_ch, spectral;
    float *grads, *m, *v;      /* each net->nparams floats */
    float *wsn;                /* spectral: normalised weights, like params */
    float *gsn;                /* spectral: gradients w.r.t. the normalised weights */
    float *sn_u, *sn_v;        /* spectral: per conv, u (cout) and v (cin*k*k) */
    size_t *sn_uoff, *sn_voff; /* per op; SIZE_MAX when no spectral norm */
    size_t sn_ufloats, sn_vfloats;
    int fast;                  /* Winograd / direct convolutions where they apply */
    /* plan */
    int b, h, w, threads;
    TStep *steps;
    int nsteps;
    Value *vals;
    int nvals, in_val, out_val;
    float *act, *dact, *stats, *work, *scratch;
    size_t act_floats, stat_floats, work_floats, scratch_floats;
    size_t work_stride;        /* floats between the threads' workspace slices */
    ThreadPool *tp;            /* the plan's `threads` threads */
};

/* Set on a thread that only measures plans (tnet_dry). */
static _Thread_local int dry;

void tnet_dry(int on)
{
    dry = on;
}

static float *falloc(size_t n)
{
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (p && !dry)
        memset(p, 0, bytes);
    return p;
}

TNet *tnet_new(const char *spec_json, int in_ch, int out_ch, int spectral,
               char *err, size_t errlen)
{
    TNet *t = calloc(1, sizeof(*t));
    if (!t) {
        util_errf(err, errlen, "out of memory");
        return NULL;
    }
    t->net = net_from_spec(spec_json, in_ch, out_ch, err, errlen);
    if (!t->net)
        goto fail;
    t->in_ch = in_ch;
    t->out_ch = out_ch;
    t->spectral = spectral;
    t->fast = 1;
    size_t np = t->net->nparams;
    t->grads = falloc(np);
    t->m = falloc(np);
    t->v = falloc(np);
    if (!t->grads || !t->m || !t->v)
        goto oom;
    if (spectral) {
        int n = t->net->nops;
        t->sn_uoff = malloc((size_t)n * sizeof(size_t));
        t->sn_voff = malloc((size_t)n * sizeof(size_t));
        if (!t->sn_uoff || !t->sn_voff)
            goto oom;
        for (int i = 0; i < n; i++) {
            const Op *op = &t->net->ops[i];
            t->sn_uoff[i] = t->sn_voff[i] = SIZE_MAX;
            if (op->kind != OP_CONV && op->kind != OP_CONVT)
                continue;
            /* W as a matrix (rows, cols): conv (cout, cin*k*k); convt (cin, cout*k*k). */
            int rows = op->kind == OP_CONV ? op->cout : op->cin;
            size_t cols = (size_t)(op->kind == OP_CONV ? op->cin : op->cout) * op->k * op->k;
            t->sn_uoff[i] = t->sn_ufloats;
            t->sn_voff[i] = t->sn_vfloats;
            t->sn_ufloats += (size_t)rows;
            t->sn_vfloats += cols;
        }
        t->wsn = falloc(np);
        t->gsn = falloc(np);
        t->sn_u = falloc(t->sn_ufloats);
        t->sn_v = falloc(t->sn_vfloats);
        if (!t->wsn || !t->gsn || !t->sn_u || !t->sn_v)
            goto oom;
    }
    return t;
oom:
    util_errf(err, errlen, "out of memory");
fail:
    tnet_free(t);
    return NULL;
}

static void free_plan(TNet *t)
{
    free(t->steps);
    free(t->vals);
    free(t->act);
    free(t->dact);
    free(t->stats);
    free(t->work);
    free(t->scratch);
    threadpool_free(t->tp);
    t->tp = NULL;
    t->steps = NULL;
    t->vals = NULL;
    t->act = t->dact = t->stats = t->work = t->scratch = NULL;
    t->b = t->h = t->w = t->threads = 0;
}

void tnet_free(TNet *t)
{
    if (!t)
        return;
    free_plan(t);
    net_free(t->net);
    free(t->grads);
    free(t->m);
    free(t->v);
    free(t->wsn);
    free(t->gsn);
    free(t->sn_u);
    free(t->sn_v);
    free(t->sn_uoff);
    free(t->sn_voff);
    free(t);
}

const Net *tnet_net(const TNet *t) { return t->net; }
void tnet_set_fast(TNet *t, int fast) { t->fast = fast != 0; }
size_t tnet_param_floats(const TNet *t) { return t->net->nparams; }
float *tnet_grads(TNet *t) { return t->grads; }
float *tnet_params(TNet *t) { return t->net->params; }

static void normalize(float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    float r = (float)(1.0 / (sqrt(s) + 1e-12));
    for (size_t i = 0; i < n; i++)
        x[i] *= r;
}

void tnet_init(TNet *t, uint64_t seed)
{
    Rng r = rng_seed(seed);
    float *p = t->net->params;
    memset(p, 0, t->net->nparams * sizeof(float));
    for (int i = 0; i < t->net->nops; i++) {
        const Op *op = &t->net->ops[i];
        if (op->kind == OP_CONV || op->kind == OP_CONVT) {
            size_t n = (size_t)op->cin * op->cout * op->k * op->k;
            for (size_t j = 0; j < n; j++)
                p[op->w_off + j] = (float)(0.02 * rng_normal(&r));
        } else if (op->kind == OP_IN && op->affine) {
            for (int j = 0; j < op->cin; j++)
                p[op->w_off + j] = (float)(1.0 + 0.02 * rng_normal(&r));
        }
    }
    if (t->spectral) {
        for (size_t j = 0; j < t->sn_ufloats; j++)
            t->sn_u[j] = (float)rng_normal(&r);
        for (int i = 0; i < t->net->nops; i++) {
            const Op *op = &t->net->ops[i];
            if (t->sn_uoff[i] != SIZE_MAX)
                normalize(t->sn_u + t->sn_uoff[i],
                          (size_t)(op->kind == OP_CONV ? op->cout : op->cin));
        }
    }
    memset(t->m, 0, t->net->nparams * sizeof(float));
    memset(t->v, 0, t->net->nparams * sizeof(float));
}

/* ---- planning ------------------------------------------------------------ */

static int new_value(TNet *t, int c, int h, int w, size_t *floats)
{
    Value *v = &t->vals[t->nvals];
    v->c = c;
    v->h = h;
    v->w = w;
    v->off = *floats;
    size_t n = (size_t)t->b * c * h * w;
    *floats += (n + NET_ALIGN_FLOATS - 1) / NET_ALIGN_FLOATS * NET_ALIGN_FLOATS;
    return t->nvals++;
}

int tnet_plan(TNet *t, int b, int h, int w, int threads, char *err, size_t errlen)
{
    threads = threadpool_clamp(threads);
    if (t->b == b && t->h == h && t->w == w && t->threads == threads && t->act)
        return 0;
    free_plan(t);
    if (b < 1 || h < 1 || w < 1 || b > 1024 || h > 16384 || w > 16384) {
        util_errf(err, errlen, "bad training shape");
        return -1;
    }
    const Net *net = t->net;
    t->steps = calloc((size_t)net->nops, sizeof(TStep));
    t->vals = calloc(TNET_MAX_VALUES, sizeof(Value));
    if (!t->steps || !t->vals)
        goto oom;
    t->b = b;
    t->h = h;
    t->w = w;
    t->nvals = 0;
    t->nsteps = 0;
    size_t floats = 0, stats = 0, work = 0, scratch = 0;
    int stack[NET_MAX_DEPTH + 1], depth = 0;
    t->in_val = new_value(t, t->in_ch, h, w, &floats);
    int cur = t->in_val;
    for (int i = 0; i < net->nops; i++) {
        const Op *op = &net->ops[i];
        TStep *s = &t->steps[t->nsteps++];
        const Value *v = &t->vals[cur];
        s->op = op;
        s->in = cur;
        s->aux = -1;
        s->g.cin = v->c;
        s->g.h = v->h;
        s->g.w = v->w;
        switch (op->kind) {
        case OP_CONV:
        case OP_CONVT: {
            if (net_conv_geom(op, v->h, v->w, &s->g)) {
                util_errf(err, errlen, "input too small for layer: %s", op->name);
                goto fail;
            }
            size_t wf = tpar_convt_work_floats(&s->g), sf = 0;
            if (op->kind == OP_CONV) {
                /* Either algorithm choice fits (tnet_set_fast may change it). */
                wf = tpar_conv_work_floats(&s->g, 1);
                if (tpar_conv_work_floats(&s->g, 0) > wf)
                    wf = tpar_conv_work_floats(&s->g, 0);
                sf = tpar_conv_scratch_floats(&s->g, 1);
            }
            if (wf > work)
                work = wf;
            if (sf > scratch)
                scratch = sf;
            s->out = new_value(t, op->cout, s->g.oh, s->g.ow, &floats);
            break;
        }
        case OP_IN:
            s->stat_off = stats;
            stats += 2 * (size_t)b * op->cin;
            s->out = new_value(t, v->c, v->h, v->w, &floats);
            break;
        case OP_RELU:
        case OP_LRELU:
        case OP_TANH:
            s->out = new_value(t, v->c, v->h, v->w, &floats);
            break;
        case OP_UP:
            s->out = new_value(t, v->c, v->h * op->stride, v->w * op->stride, &floats);
            break;
        case OP_RES_BEGIN:
            if (depth > NET_MAX_DEPTH) {
                util_errf(err, errlen, "residual blocks nested too deep");
                goto fail;
            }
            stack[depth++] = cur;
            s->out = cur;
            break;
        case OP_RES_END: {
            s->aux = stack[--depth];
            const Value *a = &t->vals[s->aux];
            if (a->c != v->c || a->h != v->h || a->w != v->w) {
                util_errf(err, errlen, "residual block changes the size: %s", op->name);
                goto fail;
            }
            s->out = new_value(t, v->c, v->h, v->w, &floats);
            break;
        }
        default:
            s->out = cur;
            break;
        }
        cur = s->out;
    }
    t->out_val = new_value(t, t->vals[cur].c, t->vals[cur].h, t->vals[cur].w, &floats);
    if (work > (SIZE_MAX / sizeof(float) - 64) / (size_t)threads) {
        util_errf(err, errlen, "training workspace too large");
        goto fail;
    }
    t->threads = threads;
    t->work_stride = (work + 15) / 16 * 16;    /* slices stay 64-byte aligned */
    t->act_floats = floats;
    t->stat_floats = stats;
    t->work_floats = t->work_stride * (size_t)threads;
    t->scratch_floats = scratch;
    if (dry)
        return 0;             /* measured only (tnet_dry): nothing allocated, no thread */
    t->tp = threadpool_create(threads);
    if (!t->tp) {
        util_errf(err, errlen, "cannot start training threads");
        goto fail;
    }
    t->act = falloc(floats);
    t->dact = falloc(floats);
    t->stats = falloc(stats);
    t->work = falloc(t->work_floats);
    t->scratch = falloc(scratch);
    if (!t->act || !t->dact || !t->stats || !t->work || !t->scratch)
        goto oom;
    return 0;
oom:
    util_errf(err, errlen, "out of memory planning training memory");
fail:
    free_plan(t);
    return -1;
}

void tnet_out_shape(const TNet *t, int *c, int *h, int *w)
{
    const Value *v = &t->vals[t->out_val];
    *c = v->c;
    *h = v->h;
    *w = v->w;
}

size_t tnet_plan_bytes(const TNet *t)
{
    return (2 * t->act_floats + t->stat_floats + t->work_floats + t->scratch_floats) *
           sizeof(float);
}

/* ---- spectral norm ---------------------------------------------------------
 * W seen as a matrix (rows, cols); one power-iteration step
 * v = W^T u / |.|, u = W v / |.|, sigma = u^T W v, and W_sn = W / sigma. */

static void sn_dims(const Op *op, int *rows, size_t *cols)
{
    *rows = op->kind == OP_CONV ? op->cout : op->cin;
    *cols = (size_t)(op->kind == OP_CONV ? op->cin : op->cout) * op->k * op->k;
}

static float sn_sigma(const Op *op, const float *W, const float *u, const float *v)
{
    int rows;
    size_t cols;
    sn_dims(op, &rows, &cols);
    double s = 0;
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (size_t c = 0; c < cols; c++)
            acc += (double)W[(size_t)r * cols + c] * v[c];
        s += acc * u[r];
    }
    return (float)s;
}

static void sn_forward(TNet *t)
{
    for (int i = 0; i < t->net->nops; i++) {
        const Op *op = &t->net->ops[i];
        if (t->sn_uoff[i] == SIZE_MAX)
            continue;
        int rows;
        size_t cols;
        sn_dims(op, &rows, &cols);
        const float *W = t->net->params + op->w_off;
        float *u = t->sn_u + t->sn_uoff[i], *v = t->sn_v + t->sn_voff[i];
        memset(v, 0, cols * sizeof(float));
        for (int r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++)
                v[c] += W[(size_t)r * cols + c] * u[r];
        normalize(v, cols);
        for (int r = 0; r < rows; r++) {
            double acc = 0;
            for (size_t c = 0; c < cols; c++)
                acc += (double)W[(size_t)r * cols + c] * v[c];
            u[r] = (float)acc;
        }
        normalize(u, (size_t)rows);
        float sigma = sn_sigma(op, W, u, v);
        float inv = 1.0f / (fabsf(sigma) > 1e-12f ? sigma : 1e-12f);
        size_t n = (size_t)rows * cols;
        for (size_t j = 0; j < n; j++)
            t->wsn[op->w_off + j] = W[j] * inv;
    }
}

/* dW += (G - (G . W_sn) u v^T) / sigma, G the gradient w.r.t. W_sn (u, v
 * held constant, as PyTorch's spectral_norm does). */
static void sn_backward(TNet *t)
{
    for (int i = 0; i < t->net->nops; i++) {
        const Op *op = &t->net->ops[i];
        if (t->sn_uoff[i] == SIZE_MAX)
            continue;
        int rows;
        size_t cols;
        sn_dims(op, &rows, &cols);
        const float *W = t->net->params + op->w_off, *Ws = t->wsn + op->w_off;
        const float *G = t->gsn + op->w_off;
        const float *u = t->sn_u + t->sn_uoff[i], *v = t->sn_v + t->sn_voff[i];
        float sigma = sn_sigma(op, W, u, v);
        float inv = 1.0f / (fabsf(sigma) > 1e-12f ? sigma : 1e-12f);
        size_t n = (size_t)rows * cols;
        double gw = 0;
        for (size_t j = 0; j < n; j++)
            gw += (double)G[j] * Ws[j];
        float *dW = t->grads + op->w_off;
        for (int r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) {
                size_t j = (size_t)r * cols + c;
                dW[j] += (G[j] - (float)gw * u[r] * v[c]) * inv;
            }
    }
}

/* ---- forward / backward ------------------------------------------------- */

static float *val(TNet *t, int id) { return t->act + t->vals[id].off; }
static float *dval(TNet *t, int id) { return t->dact + t->vals[id].off; }
static size_t per_sample(const TNet *t, int id)
{
    const Value *v = &t->vals[id];
    return (size_t)v->c * v->h * v->w;
}

static const float *weight_of(const TNet *t, const Op *op)
{
    return (t->spectral && (op->kind == OP_CONV || op->kind == OP_CONVT) ? t->wsn
                                                                          : t->net->params) + op->w_off;
}

const float *tnet_forward(TNet *t, const float *in)
{
    const Net *net = t->net;
    size_t nin = (size_t)t->b * per_sample(t, t->in_val);
    affine_forward(val(t, t->in_val), in, net->in_scale, net->in_offset, nin);
    if (t->spectral)
        sn_forward(t);
    const float *P = net->params;
    ThreadPool *tp = t->tp;
    for (int i = 0; i < t->nsteps; i++) {
        const TStep *s = &t->steps[i];
        const Op *op = s->op;
        if (s->out == s->in)
            continue;
        size_t ni = per_sample(t, s->in), no = per_sample(t, s->out);
        float *x = val(t, s->in), *y = val(t, s->out);
        size_t hw = (size_t)s->g.h * s->g.w;
        for (int b = 0; b < t->b; b++) {
            const float *xb = x + b * ni;
            float *yb = y + b * no;
            const float *bias = op->b_off != SIZE_MAX ? P + op->b_off : NULL;
            switch (op->kind) {
            case OP_CONV:
                tpar_conv_forward(tp, yb, xb, weight_of(t, op), bias, &s->g, t->fast,
                                  t->work, t->work_stride, t->scratch);
                break;
            case OP_CONVT:
                par_conv_transpose2d(tp, yb, xb, weight_of(t, op), bias, &s->g, t->work,
                                     t->work_stride);
                break;
            case OP_IN: {
                float *st = t->stats + s->stat_off + (size_t)b * op->cin;
                tpar_norm_forward(tp, yb, st, st + (size_t)t->b * op->cin, xb,
                                  op->affine ? P + op->w_off : NULL, bias,
                                  op->eps, op->cin, hw, op->fuse_relu);
                break;
            }
            case OP_RELU:
                tpar_elem_forward(tp, TPAR_RELU, yb, xb, NULL, 0.0f, ni);
                break;
            case OP_LRELU:
                tpar_elem_forward(tp, TPAR_LRELU, yb, xb, NULL, op->slope, ni);
                break;
            case OP_TANH:
                tpar_elem_forward(tp, TPAR_TANH, yb, xb, NULL, 0.0f, ni);
                break;
            case OP_UP:
                par_upsample(tp, yb, xb, s->g.cin, s->g.h, s->g.w, op->stride);
                break;
            case OP_RES_END:
                tpar_elem_forward(tp, TPAR_ADD, yb, xb, val(t, s->aux) + b * ni, 0.0f, ni);
                break;
            default:
                break;
            }
        }
    }
    int last = t->nsteps ? t->steps[t->nsteps - 1].out : t->in_val;
    size_t nout = (size_t)t->b * per_sample(t, t->out_val);
    affine_forward(val(t, t->out_val), val(t, last), net->out_scale, net->out_offset, nout);
    return val(t, t->out_val);
}

float *tnet_begin_backward(TNet *t)
{
    tpar_zero(t->tp, t->dact, t->act_floats);
    return dval(t, t->out_val);
}

void tnet_zero_grad(TNet *t)
{
    tpar_zero(t->tp, t->grads, t->net->nparams);
    if (t->spectral)
        tpar_zero(t->tp, t->gsn, t->net->nparams);
}

void tnet_backward(TNet *t, float *din, int param_grads)
{
    const Net *net = t->net;
    int last = t->nsteps ? t->steps[t->nsteps - 1].out : t->in_val;
    size_t nout = (size_t)t->b * per_sample(t, t->out_val);
    affine_backward(dval(t, last), dval(t, t->out_val), net->out_scale, nout);
    const float *P = net->params;
    ThreadPool *tp = t->tp;
    for (int i = t->nsteps - 1; i >= 0; i--) {
        const TStep *s = &t->steps[i];
        const Op *op = s->op;
        if (s->out == s->in)
            continue;
        /* The first layer's input gradient is only needed when asked for. */
        int need_din = s->in != t->in_val || din;
        size_t ni = per_sample(t, s->in), no = per_sample(t, s->out);
        float *x = val(t, s->in), *y = val(t, s->out);
        float *dx = dval(t, s->in), *dy = dval(t, s->out);
        size_t hw = (size_t)s->g.h * s->g.w;
        float *G = t->spectral ? t->gsn : t->grads;
        for (int b = 0; b < t->b; b++) {
            const float *xb = x + b * ni, *yb = y + b * no, *dyb = dy + b * no;
            float *dxb = need_din ? dx + b * ni : NULL;
            float *dw = param_grads && op->w_off != SIZE_MAX ? G + op->w_off : NULL;
            float *db = param_grads && op->b_off != SIZE_MAX ? t->grads + op->b_off : NULL;
            switch (op->kind) {
            case OP_CONV:
                tpar_conv_backward(tp, dxb, dw, db, dyb, xb, weight_of(t, op), &s->g, t->fast,
                                   t->work, t->work_stride, t->scratch);
                break;
            case OP_CONVT:
                tpar_convt_backward(tp, dxb, dw, db, dyb, xb, weight_of(t, op), &s->g,
                                    t->work, t->work_stride);
                break;
            case OP_IN: {
                const float *st = t->stats + s->stat_off + (size_t)b * op->cin;
                float *dg = param_grads && op->affine ? t->grads + op->w_off : NULL;
                tpar_norm_backward(tp, dx + b * ni, dg, db, dyb, xb, yb,
                                   op->affine ? P + op->w_off : NULL, st,
                                   st + (size_t)t->b * op->cin, op->cin, hw, op->fuse_relu);
                break;
            }
            case OP_RELU:
                tpar_elem_backward(tp, TPAR_RELU, dxb, NULL, dyb, xb, yb, 0.0f, ni);
                break;
            case OP_LRELU:
                tpar_elem_backward(tp, TPAR_LRELU, dxb, NULL, dyb, xb, yb, op->slope, ni);
                break;
            case OP_TANH:
                tpar_elem_backward(tp, TPAR_TANH, dxb, NULL, dyb, xb, yb, 0.0f, ni);
                break;
            case OP_UP:
                if (dxb)
                    upsample_nearest_backward(dxb, dyb, s->g.cin, s->g.h, s->g.w, op->stride);
                break;
            case OP_RES_END:
                tpar_elem_backward(tp, TPAR_ADD, dval(t, s->in) + b * ni,
                                   dval(t, s->aux) + b * ni, dyb, NULL, NULL, 0.0f, ni);
                break;
            default:
                break;
            }
        }
    }
    if (din)
        affine_backward(din, dval(t, t->in_val), net->in_scale,
                        (size_t)t->b * per_sample(t, t->in_val));
    if (t->spectral && param_grads)
        sn_backward(t);
}

/* ---- optimiser ------------------------------------------------------------- */

void tnet_adam(TNet *t, float lr, float beta1, float beta2, float eps, int64_t step)
{
    double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    float a = (float)(lr / bc1), rb2 = (float)(1.0 / sqrt(bc2));
    tpar_adam(t->tp, t->net->params, t->grads, t->m, t->v, t->net->nparams, a, rb2, beta1,
              beta2, eps);
}

/* ---- tensors in and out ------------------------------------------------------ */

static float *block_of(const TNet *t, TnetBlock which)
{
    switch (which) {
    case TNET_PARAMS: return t->net->params;
    case TNET_ADAM_M: return t->m;
    case TNET_ADAM_V: return t->v;
    default: return t->sn_u;
    }
}

/* Calls fn for each tensor of block `which`: name, data, shape. */
typedef int (*TensorFn)(void *ctx, const char *name, float *data, int ndim,
                        const int64_t *shape);

static int each_tensor(const TNet *t, const char *prefix, TnetBlock which,
                       TensorFn fn, void *ctx)
{
    float *base = block_of(t, which);
    for (int i = 0; i < t->net->nops; i++) {
        const Op *op = &t->net->ops[i];
        char name[160];
        if (which == TNET_SN_U) {
            if (!t->spectral || t->sn_uoff[i] == SIZE_MAX)
                continue;
            int64_t s[1] = { op->kind == OP_CONV ? op->cout : op->cin };
            snprintf(name, sizeof(name), "%s%s.sn_u", prefix, op->name);
            if (fn(ctx, name, base + t->sn_uoff[i], 1, s))
                return -1;
            continue;
        }
        if (op->w_off != SIZE_MAX) {
            int64_t s4[4] = { op->kind == OP_CONVT ? op->cin : op->cout,
                              op->kind == OP_CONVT ? op->cout : op->cin, op->k, op->k };
            int64_t s1[1] = { op->cin };
            snprintf(name, sizeof(name), "%s%s.weight", prefix, op->name);
            int conv = op->kind == OP_CONV || op->kind == OP_CONVT;
            if (fn(ctx, name, base + op->w_off, conv ? 4 : 1, conv ? s4 : s1))
                return -1;
        }
        if (op->b_off != SIZE_MAX) {
            int64_t s1[1] = { op->kind == OP_IN ? op->cin : op->cout };
            snprintf(name, sizeof(name), "%s%s.bias", prefix, op->name);
            if (fn(ctx, name, base + op->b_off, 1, s1))
                return -1;
        }
    }
    return 0;
}

static int add_fn(void *ctx, const char *name, float *data, int ndim, const int64_t *shape)
{
    return stw_add(ctx, name, ST_F32, ndim, shape, data);
}

int tnet_add_tensors(const TNet *t, StWriter *w, const char *prefix, TnetBlock which)
{
    return each_tensor(t, prefix, which, add_fn, w);
}

typedef struct LoadCtx { const SafeTensors *st; char *err; size_t errlen; } LoadCtx;

static int load_fn(void *ctx, const char *name, float *data, int ndim, const int64_t *shape)
{
    LoadCtx *c = ctx;
    const StTensor *s = st_find(c->st, name);
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    if (!s || s->dtype != ST_F32 || s->nbytes != n * sizeof(float)) {
        util_errf(c->err, c->errlen, "missing or mis-sized tensor: %s", name);
        return -1;
    }
    memcpy(data, s->data, n * sizeof(float));
    return 0;
}

int tnet_load_tensors(TNet *t, const SafeTensors *st, const char *prefix, TnetBlock which,
                      char *err, size_t errlen)
{
    LoadCtx c = { st, err, errlen };
    return each_tensor(t, prefix, which, load_fn, &c);
}
