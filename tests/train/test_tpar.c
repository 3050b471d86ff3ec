/* test_tpar.c: the training layers split across a pool (engine/train/tpar.c),
 * with the fast paths (Winograd forward and input gradient, direct
 * convolution forward and input gradient) and the split GEMM paths, against
 * the naive references of layers.h; and the Winograd weight gradient.
 *
 * Bounds: every value is compared against its own scale, the same
 * reference computed on |x| and |w| (sum |w||x| for the forward, sum
 * |w||dout| for the input gradient, sum |dout||x| for the weight gradient,
 * sum |dout| for the bias): error <= 1e-5 * scale, winograd.h's stated bound.
 * Whole networks: a step with the fast paths against one without (the
 * CycleGAN ResNet and fast-style generators and a PatchGAN, 16 channels),
 * every output, input gradient and parameter gradient within 5e-5 of that
 * tensor's largest magnitude.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/train/arch.h"
#include "engine/layers.h"
#include "engine/net.h"
#include "engine/net_impl.h"
#include "engine/threadpool.h"
#include "engine/train/tnet.h"
#include "engine/train/tpar.h"
#include "tests/engine/util.h"

#define CONV_BOUND 1e-5
#define NET_BOUND 5e-5

static float *fabs_copy(const float *x, size_t n)
{
    float *y = malloc(n * sizeof(float));
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = fabsf(x[i]);
    return y;
}

/* Largest |got - want| / scale over n values (scale floored at 1e-30);
 * prints the worst one. */
static double worst(const char *what, const float *got, const float *want,
                    const float *scale, size_t n)
{
    double w = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / fmax(scale[i], 1e-30);
        if (e > w) {
            w = e;
            at = i;
        }
    }
    printf("  %-8s worst err/scale %.2e at %zu (%g vs %g)\n", what, w, at,
           n ? got[at] : 0.0, n ? want[at] : 0.0);
    return w;
}

typedef struct Case {
    int cin, cout, k, stride, pad_t, pad_l, reflect, h, w;
    ConvAlgo fwd, data;      /* expected algorithms with fast on */
    int once;                /* big: two threads, fast path only */
} Case;

static ConvGeom geom(const Case *c)
{
    ConvGeom g = { .cin = c->cin, .cout = c->cout, .k = c->k, .stride = c->stride,
                   .pad_t = c->pad_t, .pad_l = c->pad_l, .reflect = c->reflect,
                   .h = c->h, .w = c->w };
    /* Symmetric padding on the far side. */
    g.oh = (c->h + 2 * c->pad_t - c->k) / c->stride + 1;
    g.ow = (c->w + 2 * c->pad_l - c->k) / c->stride + 1;
    return g;
}

static void check_conv(const Case *c, int threads)
{
    ConvGeom g = geom(c);
    printf("conv %d->%d k%d s%d pad %d,%d %s %dx%d -> %dx%d, %d threads\n", g.cin, g.cout,
           g.k, g.stride, g.pad_t, g.pad_l, g.reflect ? "reflect" : "zeros", g.h, g.w, g.oh,
           g.ow, threads);
    assert_int_equal(tpar_conv_algo(&g, 0, 1), c->fwd);
    assert_int_equal(tpar_conv_algo(&g, 1, 1), c->data);
    size_t ni = (size_t)g.cin * g.h * g.w, no = (size_t)g.cout * g.oh * g.ow;
    size_t nw = (size_t)g.cout * g.cin * g.k * g.k;
    float *x = malloc(ni * 4), *w = malloc(nw * 4), *b = malloc((size_t)g.cout * 4);
    float *dy = malloc(no * 4);
    assert_true(x && w && b && dy);
    tu_fill(x, ni, 11, -1.0f, 1.0f);
    tu_fill(w, nw, 12, -0.3f, 0.3f);
    tu_fill(b, (size_t)g.cout, 13, -0.5f, 0.5f);
    tu_fill(dy, no, 14, -1.0f, 1.0f);
    ThreadPool *tp = threadpool_create(threads);
    assert_non_null(tp);
    size_t stride = (tpar_conv_work_floats(&g, 1) + 15) / 16 * 16;
    float *work = calloc(stride * (size_t)threads + 16, 4);
    float *scratch = calloc(tpar_conv_scratch_floats(&g, 1) + 1, 4);
    assert_true(work && scratch);

    for (int fast = 1; fast >= (c->once ? 1 : 0); fast--) {
        /* forward */
        float *out = calloc(no, 4), *ref = calloc(no, 4), *scl = calloc(no, 4);
        assert_true(out && ref && scl);
        tpar_conv_forward(tp, out, x, w, b, &g, fast, work, stride, scratch);
        conv2d_forward_ref(ref, x, w, b, &g);
        float *ax = fabs_copy(x, ni), *aw = fabs_copy(w, nw), *ab = fabs_copy(b, (size_t)g.cout);
        float *ady = fabs_copy(dy, no);
        conv2d_forward_ref(scl, ax, aw, ab, &g);
        assert_true(worst(fast ? "fwd" : "fwd/gemm", out, ref, scl, no) <= CONV_BOUND);

        /* backward: gradients start non-zero (they add) */
        float *din = malloc(ni * 4), *dw = malloc(nw * 4), *db = malloc((size_t)g.cout * 4);
        float *rin = malloc(ni * 4), *rw = malloc(nw * 4), *rb = malloc((size_t)g.cout * 4);
        float *sin = calloc(ni, 4), *sw = calloc(nw, 4), *sb = calloc((size_t)g.cout, 4);
        assert_true(din && dw && db && rin && rw && rb && sin && sw && sb);
        tu_fill(din, ni, 21, -0.1f, 0.1f);
        tu_fill(dw, nw, 22, -0.1f, 0.1f);
        tu_fill(db, (size_t)g.cout, 23, -0.1f, 0.1f);
        memcpy(rin, din, ni * 4);
        memcpy(rw, dw, nw * 4);
        memcpy(rb, db, (size_t)g.cout * 4);
        tpar_conv_backward(tp, din, dw, db, dy, x, w, &g, fast, work, stride, scratch);
        conv2d_backward_ref(rin, rw, rb, dy, x, w, &g);
        conv2d_backward_ref(sin, sw, sb, ady, ax, aw, &g);
        for (size_t i = 0; i < ni; i++)
            sin[i] += 0.1f;
        for (size_t i = 0; i < nw; i++)
            sw[i] += 0.1f;
        for (int i = 0; i < g.cout; i++)
            sb[i] += 0.1f;
        assert_true(worst("din", din, rin, sin, ni) <= CONV_BOUND);
        assert_true(worst("dweight", dw, rw, sw, nw) <= CONV_BOUND);
        assert_true(worst("dbias", db, rb, sb, (size_t)g.cout) <= CONV_BOUND);

        /* no input gradient, no bias: only dweight moves */
        memcpy(rw, dw, nw * 4);
        tpar_conv_backward(tp, NULL, dw, NULL, dy, x, w, &g, fast, work, stride, scratch);
        conv2d_backward_ref(NULL, rw, NULL, dy, x, w, &g);
        assert_true(worst("dweight2", dw, rw, sw, nw) <= 2 * CONV_BOUND);

        free(out), free(ref), free(scl), free(ax), free(aw), free(ab), free(ady);
        free(din), free(dw), free(db), free(rin), free(rw), free(rb);
        free(sin), free(sw), free(sb);
    }
    free(work);
    free(scratch);
    threadpool_free(tp);
    free(x), free(w), free(b), free(dy);
}

static void test_conv_paths(void **state)
{
    (void)state;
    static const Case cases[] = {
        /* the ResNet trunk: Winograd both ways, reflect */
        { 16, 24, 3, 1, 1, 1, 1, 13, 17, ALGO_WINOGRAD, ALGO_WINOGRAD, 0 },
        /* zeros, and a width that is not a multiple of the tile */
        { 32, 16, 3, 1, 1, 1, 0, 9, 10, ALGO_WINOGRAD, ALGO_WINOGRAD, 0 },
        /* padding 2 and none */
        { 16, 16, 3, 1, 2, 2, 0, 6, 7, ALGO_WINOGRAD, ALGO_WINOGRAD, 0 },
        { 16, 16, 3, 1, 0, 0, 0, 11, 9, ALGO_WINOGRAD, ALGO_WINOGRAD, 0 },
        /* more output channels than pixels (fast == 0 splits by channels) */
        { 16, 32, 3, 1, 1, 1, 0, 4, 5, ALGO_WINOGRAD, ALGO_WINOGRAD, 0 },
        /* c7s1 layers: direct both ways */
        { 3, 16, 7, 1, 3, 3, 1, 20, 21, ALGO_DIRECT, ALGO_DIRECT, 0 },
        { 16, 3, 7, 1, 3, 3, 1, 19, 18, ALGO_DIRECT, ALGO_DIRECT, 0 },
        /* 9x9 of the fast-style generator */
        { 3, 8, 9, 1, 4, 4, 1, 16, 15, ALGO_DIRECT, ALGO_DIRECT, 0 },
        /* too few channels for Winograd; stride 2; PatchGAN's 4x4 */
        { 8, 16, 3, 1, 1, 1, 1, 10, 12, ALGO_IM2COL, ALGO_IM2COL, 0 },
        { 16, 32, 3, 2, 1, 1, 0, 17, 16, ALGO_IM2COL, ALGO_IM2COL, 0 },
        { 5, 7, 4, 2, 1, 1, 0, 16, 18, ALGO_IM2COL, ALGO_IM2COL, 0 },
        { 24, 20, 4, 1, 1, 1, 0, 9, 8, ALGO_IM2COL, ALGO_IM2COL, 0 },
        /* more output channels than pixels: the forward splits by channels */
        { 16, 96, 4, 1, 1, 1, 0, 6, 7, ALGO_IM2COL, ALGO_IM2COL, 0 },
        /* 1x1 */
        { 6, 5, 1, 1, 0, 0, 0, 7, 9, ALGO_IM2COL, ALGO_IM2COL, 0 },
        /* narrow and tall: tiles of many rows share one vector pass */
        { 16, 16, 3, 1, 1, 1, 1, 70, 5, ALGO_WINOGRAD, ALGO_WINOGRAD, 0 },
        { 16, 24, 3, 1, 1, 1, 0, 41, 1, ALGO_WINOGRAD, ALGO_WINOGRAD, 0 },
        /* big enough for the Winograd weight gradient to take several bands */
        { 16, 16, 3, 1, 1, 1, 1, 250, 241, ALGO_WINOGRAD, ALGO_WINOGRAD, 1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_conv(&cases[i], 2);
        if (!cases[i].once)
            check_conv(&cases[i], 1);
    }
}

static void test_convt(void **state)
{
    (void)state;
    /* CycleGAN's up-sampling: k3 s2 pad 1, output_padding 1. */
    ConvGeom g = { .cin = 6, .cout = 5, .k = 3, .stride = 2, .pad_t = 1, .pad_l = 1,
                   .h = 7, .w = 8, .oh = 14, .ow = 16 };
    size_t ni = (size_t)g.cin * g.h * g.w, no = (size_t)g.cout * g.oh * g.ow;
    size_t nw = (size_t)g.cin * g.cout * 9;
    float *x = malloc(ni * 4), *w = malloc(nw * 4), *dy = malloc(no * 4);
    float *din = calloc(ni, 4), *dw = calloc(nw, 4), *db = calloc((size_t)g.cout, 4);
    float *rin = calloc(ni, 4), *rw = calloc(nw, 4), *rb = calloc((size_t)g.cout, 4);
    assert_true(x && w && dy && din && dw && db && rin && rw && rb);
    tu_fill(x, ni, 31, -1, 1);
    tu_fill(w, nw, 32, -0.3f, 0.3f);
    tu_fill(dy, no, 33, -1, 1);
    ThreadPool *tp = threadpool_create(2);
    size_t stride = (tpar_convt_work_floats(&g) + 15) / 16 * 16;
    float *work = calloc(stride * 2, 4);
    assert_true(tp && work);
    tpar_convt_backward(tp, din, dw, db, dy, x, w, &g, work, stride);
    conv_transpose2d_backward_ref(rin, rw, rb, dy, x, w, &g);
    assert_true(tu_report("convt din", din, rin, ni) < 1e-4);
    assert_true(tu_report("convt dweight", dw, rw, nw) < 1e-4);
    assert_true(tu_report("convt dbias", db, rb, (size_t)g.cout) < 1e-4);
    threadpool_free(tp);
    free(work), free(x), free(w), free(dy), free(din), free(dw), free(db);
    free(rin), free(rw), free(rb);
}

/* Largest |a - b| over n against the largest |b|. */
static double rel_diff(const char *what, const float *a, const float *b, size_t n)
{
    double m = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs(b[i]));
        d = fmax(d, fabs((double)a[i] - b[i]));
    }
    double r = d / fmax(m, 1e-30);
    printf("  %-10s max |fast - gemm| %.3g of max %.3g: %.2e\n", what, d, m, r);
    return r;
}

/* One forward and backward of spec at batch 2 on `threads` threads with the
 * fast paths and without; outputs, input gradients and parameter gradients
 * compared. */
static void check_net(const char *name, char *spec, int out_ch, int size, int threads)
{
    assert_non_null(spec);
    printf("%s, %dx%d batch 2, %d threads\n", name, size, size, threads);
    char err[256];
    TNet *t = tnet_new(spec, 3, out_ch, 0, err, sizeof(err));
    assert_non_null(t);
    tnet_init(t, 3);
    assert_int_equal(tnet_plan(t, 2, size, size, threads, err, sizeof(err)), 0);
    int oc, oh, ow;
    tnet_out_shape(t, &oc, &oh, &ow);
    size_t nin = (size_t)2 * 3 * size * size, nout = (size_t)2 * oc * oh * ow;
    size_t np = tnet_param_floats(t);
    float *in = malloc(nin * 4), *dout = malloc(nout * 4);
    float *y[2], *din[2], *g[2];
    assert_true(in && dout);
    tu_fill(in, nin, 41, 0, 255);
    tu_fill(dout, nout, 42, -1, 1);
    for (int fast = 0; fast < 2; fast++) {
        tnet_set_fast(t, fast);
        y[fast] = malloc(nout * 4);
        din[fast] = calloc(nin, 4);
        g[fast] = malloc(np * 4);
        assert_true(y[fast] && din[fast] && g[fast]);
        memcpy(y[fast], tnet_forward(t, in), nout * 4);
        memcpy(tnet_begin_backward(t), dout, nout * 4);
        tnet_zero_grad(t);
        tnet_backward(t, din[fast], 1);
        memcpy(g[fast], tnet_grads(t), np * 4);
    }
    assert_true(rel_diff("output", y[1], y[0], nout) <= NET_BOUND);
    assert_true(rel_diff("din", din[1], din[0], nin) <= NET_BOUND);
    /* Per parameter tensor: each conv's weight and bias. */
    const Net *net = tnet_net(t);
    int bad = 0;
    for (int i = 0; i < net->nops; i++) {
        const Op *op = &net->ops[i];
        if (op->kind != OP_CONV && op->kind != OP_CONVT)
            continue;
        size_t n = (size_t)op->cin * op->cout * op->k * op->k;
        bad |= rel_diff(op->name, g[1] + op->w_off, g[0] + op->w_off, n) > NET_BOUND;
    }
    assert_int_equal(bad, 0);
    for (int f = 0; f < 2; f++)
        free(y[f]), free(din[f]), free(g[f]);
    free(in), free(dout), free(spec);
    tnet_free(t);
}

static void test_nets(void **state)
{
    (void)state;
    check_net("resnet ngf 16, 1 block", arch_resnet_spec(16, 1), 3, 36, 2);
    check_net("fast width 16, 1 block, resize-conv", arch_fast_spec(16, 1, 1), 3, 32, 2);
    check_net("patchgan ndf 16", arch_patchgan_spec(16, 2, 1), 1, 40, 2);
    check_net("resnet ngf 16, one thread", arch_resnet_spec(16, 1), 3, 20, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_paths),
        cmocka_unit_test(test_convt),
        cmocka_unit_test(test_nets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
