/* test_layers.c: each optimised layer against its naive reference loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/layers.h"
#include "tests/engine/util.h"

/* Geometry as the network planner computes it. */
static ConvGeom geom(int cin, int cout, int k, int s, int h, int w, int pt, int pb,
                     int pl, int pr, int reflect)
{
    ConvGeom g = { .cin = cin, .cout = cout, .k = k, .stride = s, .pad_t = pt,
                   .pad_l = pl, .reflect = reflect, .h = h, .w = w };
    g.oh = (h + pt + pb - k) / s + 1;
    g.ow = (w + pl + pr - k) / s + 1;
    return g;
}

static void check_conv(const char *name, ConvGeom g)
{
    size_t nin = (size_t)g.cin * g.h * g.w, nout = (size_t)g.cout * g.oh * g.ow;
    size_t nw = (size_t)g.cout * g.cin * g.k * g.k;
    float *in = malloc(nin * 4), *wt = malloc(nw * 4), *b = malloc((size_t)g.cout * 4);
    float *out = malloc(nout * 4), *ref = malloc(nout * 4);
    float *work = malloc((conv2d_work_floats(&g) + 1) * 4);
    tu_fill(in, nin, 1, -1, 1);
    tu_fill(wt, nw, 2, -0.5f, 0.5f);
    tu_fill(b, (size_t)g.cout, 3, -1, 1);
    conv2d_forward(out, in, wt, b, &g, work);
    conv2d_forward_ref(ref, in, wt, b, &g);
    assert_true(tu_report(name, out, ref, nout) < 1e-4 * sqrt((double)g.cin * g.k * g.k));
    free(in); free(wt); free(b); free(out); free(ref); free(work);
}

static void test_conv2d(void **state)
{
    (void)state;
    check_conv("3x3 s1 same", geom(4, 5, 3, 1, 9, 11, 1, 1, 1, 1, 0));
    check_conv("3x3 s2 TF same even", geom(4, 6, 3, 2, 10, 12, 0, 1, 0, 1, 0));
    check_conv("3x3 s2 TF same odd", geom(4, 6, 3, 2, 9, 13, 1, 1, 1, 1, 0));
    check_conv("9x9 s1", geom(3, 4, 9, 1, 13, 10, 4, 4, 4, 4, 0));
    check_conv("1x1", geom(7, 3, 1, 1, 5, 6, 0, 0, 0, 0, 0));
    check_conv("1x1 s2", geom(7, 3, 1, 2, 5, 6, 0, 0, 0, 0, 0));
    check_conv("7x7 reflect", geom(3, 4, 7, 1, 8, 9, 3, 3, 3, 3, 1));
    check_conv("3x3 s2 reflect", geom(3, 4, 3, 2, 8, 9, 1, 1, 1, 1, 1));
    check_conv("4x4 s2 asym", geom(2, 3, 4, 2, 9, 8, 1, 2, 2, 1, 0));
    check_conv("no pad", geom(2, 3, 3, 1, 6, 7, 0, 0, 0, 0, 0));
    /* Large enough that the im2col workspace is tiled into several bands. */
    ConvGeom big = geom(32, 3, 9, 1, 30, 200, 4, 4, 4, 4, 0);
    assert_true(conv2d_work_floats(&big) < (size_t)32 * 81 * 30 * 200);
    check_conv("9x9 tiled", big);
}

static void check_convt(const char *name, int cin, int cout, int k, int s, int h, int w,
                        int pad, int oh, int ow)
{
    ConvGeom g = { .cin = cin, .cout = cout, .k = k, .stride = s, .pad_t = pad,
                   .pad_l = pad, .h = h, .w = w, .oh = oh, .ow = ow };
    size_t nin = (size_t)cin * h * w, nout = (size_t)cout * oh * ow, nw = (size_t)cin * cout * k * k;
    float *in = malloc(nin * 4), *wt = malloc(nw * 4), *b = malloc((size_t)cout * 4);
    float *out = malloc(nout * 4), *ref = malloc(nout * 4);
    float *work = malloc((conv_transpose2d_work_floats(&g) + 1) * 4);
    tu_fill(in, nin, 4, -1, 1);
    tu_fill(wt, nw, 5, -0.5f, 0.5f);
    tu_fill(b, (size_t)cout, 6, -1, 1);
    conv_transpose2d_forward(out, in, wt, b, &g, work);
    conv_transpose2d_forward_ref(ref, in, wt, b, &g);
    assert_true(tu_report(name, out, ref, nout) < 1e-4 * sqrt((double)cin * k * k));
    free(in); free(wt); free(b); free(out); free(ref); free(work);
}

static void test_conv_transpose2d(void **state)
{
    (void)state;
    /* TF 'same': output in*s, crop (k-s)/2 = 0 at the start. */
    check_convt("TF same 3x3 s2", 5, 4, 3, 2, 6, 7, 0, 12, 14);
    /* PyTorch padding 1, output_padding 1: (in-1)*2 - 2 + 3 + 1 = 2*in. */
    check_convt("torch p1 op1", 5, 4, 3, 2, 6, 7, 1, 12, 14);
    check_convt("torch p0", 3, 2, 3, 1, 5, 5, 0, 7, 7);
    check_convt("4x4 s2 p1", 3, 2, 4, 2, 5, 6, 1, 10, 12);
    check_convt("tiled", 64, 32, 3, 2, 40, 300, 0, 80, 600);
}

static void test_instance_norm(void **state)
{
    (void)state;
    const int c = 3;
    const size_t hw = 37;
    float x[3 * 37], ref[3 * 37], g[3] = { 1.5f, -0.5f, 2 }, b[3] = { 0.1f, 0.2f, -3 };
    tu_fill(x, sizeof(x) / 4, 7, -4, 9);
    for (int i = 0; i < c; i++) {
        double m = 0, v = 0;
        for (size_t j = 0; j < hw; j++)
            m += x[i * hw + j];
        m /= hw;
        for (size_t j = 0; j < hw; j++)
            v += (x[i * hw + j] - m) * (x[i * hw + j] - m);
        v /= hw;
        for (size_t j = 0; j < hw; j++) {
            double y = (x[i * hw + j] - m) / sqrt(v + 1e-3) * g[i] + b[i];
            ref[i * hw + j] = (float)(y > 0 ? y : 0);
        }
    }
    instance_norm_forward(x, g, b, 1e-3f, c, hw, 1);
    assert_true(tu_report("instance norm + relu", x, ref, sizeof(x) / 4) < 1e-5);
}

static void test_elementwise(void **state)
{
    (void)state;
    float x[4] = { -2, -0.5f, 0, 3 }, y[4] = { 1, 1, 1, 1 };
    leaky_relu_forward(x, 0.2f, 4);
    assert_float_equal(x[0], -0.4f, 1e-7);
    assert_float_equal(x[3], 3.0f, 1e-7);
    relu_forward(x, 4);
    assert_float_equal(x[0], 0.0f, 0);
    add_forward(x, y, 4);
    assert_float_equal(x[3], 4.0f, 0);
    tanh_forward(x, 4);
    assert_float_equal(x[3], tanhf(4.0f), 1e-7);
    float in[2 * 2 * 3], out[2 * 4 * 6];
    tu_fill(in, 12, 9, 0, 1);
    upsample_nearest_forward(out, in, 2, 2, 3, 2);
    for (int c = 0; c < 2; c++)
        for (int yy = 0; yy < 4; yy++)
            for (int xx = 0; xx < 6; xx++)
                assert_float_equal(out[(c * 4 + yy) * 6 + xx], in[(c * 2 + yy / 2) * 3 + xx / 2], 0);
    assert_int_equal(reflect_index(-1, 5), 1);
    assert_int_equal(reflect_index(5, 5), 3);
    assert_int_equal(reflect_index(-3, 5), 3);
    assert_int_equal(reflect_index(2, 5), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv_transpose2d),
        cmocka_unit_test(test_instance_norm),
        cmocka_unit_test(test_elementwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
