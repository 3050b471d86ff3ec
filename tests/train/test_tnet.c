/* test_tnet.c: the training graph end to end: the gradients of whole
 * networks (generator archs, discriminator with instance or spectral norm)
 * against central finite differences of the float forward, the training
 * forward against the inference forward, and Adam on a known case.
 *
 * L = sum(out * R). Finite differences of a float network are noisy, so the
 * step is 1e-4 (1e-3 already crosses ReLU kinks) and the bound is 3% of the
 * largest gradient checked, over 48
 * sampled parameters and 24 sampled input pixels. The per-layer kernels are
 * checked exactly in test_grad.c; the whole step against PyTorch in
 * test_train_step.c.
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
#include "engine/net.h"
#include "engine/net_impl.h"
#include "engine/train/tnet.h"
#include "tests/engine/util.h"

static double loss(TNet *t, const float *in, const float *r, size_t nout)
{
    const float *out = tnet_forward(t, in);
    double l = 0;
    for (size_t i = 0; i < nout; i++)
        l += (double)out[i] * r[i];
    return l;
}

static void check_net(const char *name, char *spec, int out_ch, int spectral, int b, int s)
{
    char err[256];
    TNet *t = tnet_new(spec, 3, out_ch, spectral, err, sizeof(err));
    free(spec);
    assert_non_null(t);
    tnet_init(t, 5);
    /* Larger weights than the GAN init so every path carries signal. */
    float *p = tnet_params(t);
    size_t np = tnet_param_floats(t);
    for (size_t i = 0; i < np; i++)
        p[i] *= 5.0f;
    assert_int_equal(tnet_plan(t, b, s, s, 1, err, sizeof(err)), 0);
    int oc, oh, ow;
    tnet_out_shape(t, &oc, &oh, &ow);
    size_t nin = (size_t)b * 3 * s * s, nout = (size_t)b * oc * oh * ow;
    float *in = malloc(nin * 4), *r = malloc(nout * 4), *din = calloc(nin, 4);
    tu_fill(in, nin, 3, 0, 255);
    tu_fill(r, nout, 4, -1, 1);
    /* Spectral norm: converge the power iteration first, so the forwards of
     * the differences (each one more step) see the same sigma to first order. */
    for (int k = 0; k < (spectral ? 200 : 1); k++)
        tnet_forward(t, in);
    float *d = tnet_begin_backward(t);
    memcpy(d, r, nout * 4);
    tnet_zero_grad(t);
    tnet_backward(t, din, 1);
    float *g = malloc(np * 4);
    memcpy(g, tnet_grads(t), np * 4);
    double maxg = 0, maxerr = 0, maxgi = 0, maxerri = 0;
    uint32_t st = 12345;
    for (int k = 0; k < 48; k++) {
        st = st * 1664525u + 1013904223u;
        size_t i = st % np;
        float x = p[i];
        float h = 1e-4f;
        p[i] = x + h;
        double lp = loss(t, in, r, nout);
        p[i] = x - h;
        double lm = loss(t, in, r, nout);
        p[i] = x;
        double num = (lp - lm) / (2.0 * h);
        maxg = fmax(maxg, fabs(num));
        maxerr = fmax(maxerr, fabs(num - g[i]));
    }
    for (int k = 0; k < 24; k++) {
        st = st * 1664525u + 1013904223u;
        size_t i = st % nin;
        float x = in[i];
        in[i] = x + 0.5f;
        double lp = loss(t, in, r, nout);
        in[i] = x - 0.5f;
        double lm = loss(t, in, r, nout);
        in[i] = x;
        double num = (lp - lm) / 1.0;
        maxgi = fmax(maxgi, fabs(num));
        maxerri = fmax(maxerri, fabs(num - din[i]));
    }
    printf("  %-28s params: max |g| %.3g, rel err %.2e; input: max |g| %.3g, rel err %.2e\n",
           name, maxg, maxerr / maxg, maxgi, maxerri / fmax(maxgi, 1e-12));
    assert_true(maxerr <= 0.03 * maxg);
    assert_true(maxerri <= 0.03 * maxgi + 1e-6);
    free(in); free(r); free(din); free(g);
    tnet_free(t);
}

static void test_generator_grads(void **state)
{
    (void)state;
    check_net("fast resize-conv", arch_fast_spec(2, 1, 1), 3, 0, 2, 16);
    check_net("fast transposed", arch_fast_spec(2, 1, 0), 3, 0, 1, 16);
    check_net("resnet", arch_resnet_spec(2, 1), 3, 0, 1, 16);
}

static void test_discriminator_grads(void **state)
{
    (void)state;
    check_net("patchgan instance norm", arch_patchgan_spec(4, 2, 1), 1, 0, 2, 32);
    check_net("patchgan spectral norm", arch_patchgan_spec(4, 2, 0), 1, 1, 1, 32);
}

/* The training forward and the inference forward agree. */
static void test_train_forward_matches_inference(void **state)
{
    (void)state;
    char err[256];
    char *spec = arch_fast_spec(4, 2, 1);
    TNet *t = tnet_new(spec, 3, 3, 0, err, sizeof(err));
    free(spec);
    assert_non_null(t);
    tnet_init(t, 9);
    assert_int_equal(tnet_plan(t, 1, 32, 32, 1, err, sizeof(err)), 0);
    size_t n = 3 * 32 * 32;
    float *in = malloc(n * 4), *out = malloc(n * 4);
    tu_fill(in, n, 7, 0, 255);
    const float *y = tnet_forward(t, in);
    NetPlan *plan = net_plan(tnet_net(t), 32, 32, 1);
    assert_non_null(plan);
    assert_int_equal(net_forward(tnet_net(t), plan, in, out), 0);
    float *yc = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        yc[i] = fminf(fmaxf(y[i], 0.0f), 255.0f);
    assert_true(tu_report("train vs inference forward", yc, out, n) < 1e-3);
    net_plan_free(plan);
    free(in); free(out); free(yc);
    tnet_free(t);
}

/* Adam's first step moves every parameter by lr against its gradient's sign. */
static void test_adam_first_step(void **state)
{
    (void)state;
    char err[256];
    char *spec = arch_patchgan_spec(2, 1, 0);
    TNet *t = tnet_new(spec, 3, 1, 0, err, sizeof(err));
    free(spec);
    assert_non_null(t);
    tnet_init(t, 1);
    size_t np = tnet_param_floats(t);
    float *p = tnet_params(t), *g = tnet_grads(t), *p0 = malloc(np * 4);
    memcpy(p0, p, np * 4);
    for (size_t i = 0; i < np; i++)
        g[i] = (i % 3 == 0 ? -1.0f : 1.0f) * (0.1f + (float)(i % 7));
    tnet_adam(t, 1e-3f, 0.5f, 0.999f, 1e-8f, 1);
    for (size_t i = 0; i < np; i++)
        assert_true(fabsf((p0[i] - p[i]) - (g[i] > 0 ? 1e-3f : -1e-3f)) < 1e-6f);
    free(p0);
    tnet_free(t);
}

/* arch_resnet_spec builds the same layer list, names and shapes as the
 * PyTorch CycleGAN generator converted by tools/torch2safetensors.py, so
 * its checkpoints load into our trainer and ours into PyTorch. */
static void test_resnet_arch_matches_torch(void **state)
{
    (void)state;
    char err[256];
    Net *ref = net_load("tests/fixtures/torch/resnet9.safetensors", err, sizeof(err));
    if (!ref)
        fail_msg("%s", err);
    char *spec = arch_resnet_spec(4, 9);
    Net *ours = net_from_spec(spec, 3, 3, err, sizeof(err));
    free(spec);
    assert_non_null(ours);
    assert_int_equal(ours->nops, ref->nops);
    assert_int_equal(ours->nparams, ref->nparams);
    for (int i = 0; i < ref->nops; i++) {
        const Op *a = &ours->ops[i], *b = &ref->ops[i];
        assert_int_equal(a->kind, b->kind);
        if (a->kind == OP_CONV || a->kind == OP_CONVT || a->kind == OP_IN)
            assert_string_equal(a->name, b->name);
        assert_int_equal(a->cin, b->cin);
        assert_int_equal(a->cout, b->cout);
        assert_int_equal(a->k, b->k);
        assert_int_equal(a->stride, b->stride);
        assert_memory_equal(a->pad, b->pad, sizeof(a->pad));
        assert_int_equal(a->out_pad, b->out_pad);
        assert_int_equal(a->reflect, b->reflect);
        assert_int_equal(a->has_bias, b->has_bias);
        assert_int_equal(a->affine, b->affine);
        assert_int_equal(a->w_off, b->w_off);
    }
    printf("  resnet9 ngf 4: %d ops, %zu parameters, same as the PyTorch conversion\n",
           ours->nops, ours->nparams);
    net_free(ref);
    net_free(ours);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_grads),
        cmocka_unit_test(test_discriminator_grads),
        cmocka_unit_test(test_train_forward_matches_inference),
        cmocka_unit_test(test_adam_first_step),
        cmocka_unit_test(test_resnet_arch_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
