/* test_winograd.c: the F(4x4, 3x3) Winograd convolution against the naive
 * direct convolution (conv2d_forward_ref, in double), with the error bound
 * winograd.h states: |wino - direct| <= 1e-5 * (|w| conv |x|) + 1e-6 at
 * every output, on one and several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <cmocka.h>
#include "engine/winograd.h"
#include "tests/engine/util.h"

static ConvGeom geom(int cin, int cout, int h, int w, int pt, int pb, int pl, int pr,
                     int reflect)
{
    ConvGeom g = { .cin = cin, .cout = cout, .k = 3, .stride = 1, .pad_t = pt,
                   .pad_l = pl, .reflect = reflect, .h = h, .w = w };
    g.oh = h + pt + pb - 2;
    g.ow = w + pl + pr - 2;
    return g;
}

/* Returns the worst error relative to the bound's scale. */
static double check(const char *name, ConvGeom g, int threads)
{
    size_t nin = (size_t)g.cin * g.h * g.w, nout = (size_t)g.cout * g.oh * g.ow;
    size_t nw = (size_t)g.cout * g.cin * 9, wf = winograd_work_floats(&g);
    size_t stride = (wf + 15) / 16 * 16;
    float *in = malloc(nin * 4), *wt = malloc(nw * 4), *b = malloc((size_t)g.cout * 4);
    float *ain = malloc(nin * 4), *awt = malloc(nw * 4);
    float *out = malloc(nout * 4), *ref = malloc(nout * 4), *scale = malloc(nout * 4);
    float *u = malloc(winograd_weight_floats(&g) * 4);
    float *work = aligned_alloc(64, stride * (size_t)threads * 4);
    ThreadPool *tp = threadpool_create(threads);
    assert_non_null(tp);
    tu_fill(in, nin, 11, -2, 2);
    tu_fill(wt, nw, 12, -0.5f, 0.5f);
    tu_fill(b, (size_t)g.cout, 13, -1, 1);
    for (size_t i = 0; i < nin; i++)
        ain[i] = fabsf(in[i]);
    for (size_t i = 0; i < nw; i++)
        awt[i] = fabsf(wt[i]);
    winograd_weights(u, wt, &g);
    winograd_conv3x3_forward(out, in, u, b, &g, work, stride, tp);
    conv2d_forward_ref(ref, in, wt, b, &g);
    conv2d_forward_ref(scale, ain, awt, NULL, &g);
    double worst = 0, rel = 0;
    size_t at = 0;
    for (size_t i = 0; i < nout; i++) {
        double e = fabs((double)out[i] - ref[i]);
        double r = e / (1e-5 * scale[i] + 1e-6);
        if (r > worst) {
            worst = r;
            at = i;
        }
        if (scale[i] > 0 && e / scale[i] > rel)
            rel = e / scale[i];
    }
    printf("%s (%d threads): max |err|/bound %.3f at %zu (%g vs %g), max err/scale %.2e\n",
           name, threads, worst, at, out[at], ref[at], rel);
    threadpool_free(tp);
    free(in); free(wt); free(b); free(ain); free(awt); free(out); free(ref);
    free(scale); free(u); free(work);
    return worst;
}

static void test_winograd_shapes(void **state)
{
    (void)state;
    assert_true(check("same 12x16", geom(5, 7, 12, 16, 1, 1, 1, 1, 0), 1) <= 1.0);
    assert_true(check("same odd 13x11", geom(6, 4, 13, 11, 1, 1, 1, 1, 0), 2) <= 1.0);
    assert_true(check("reflect 9x10", geom(4, 5, 9, 10, 1, 1, 1, 1, 1), 2) <= 1.0);
    assert_true(check("no pad 7x9", geom(3, 3, 7, 9, 0, 0, 0, 0, 0), 1) <= 1.0);
    assert_true(check("asym pad", geom(3, 4, 10, 11, 0, 2, 2, 1, 0), 3) <= 1.0);
    assert_true(check("tiny 1x1", geom(2, 3, 1, 1, 1, 1, 1, 1, 0), 2) <= 1.0);
    assert_true(check("wide 5x150", geom(4, 4, 5, 150, 1, 1, 1, 1, 1), 2) <= 1.0);
    /* Narrow: a task's tiles span many rows, rows of 1 and 2 tiles. */
    assert_true(check("narrow 150x5", geom(4, 4, 150, 5, 1, 1, 1, 1, 1), 2) <= 1.0);
    assert_true(check("narrow 67x1", geom(3, 5, 67, 1, 1, 1, 1, 1, 1), 1) <= 1.0);
    assert_true(check("narrow 300x6 zeros", geom(6, 3, 300, 6, 1, 1, 1, 1, 0), 2) <= 1.0);
    assert_true(check("ml5 block 128ch 40x36", geom(128, 128, 40, 36, 1, 1, 1, 1, 0), 2) <= 1.0);
}

static void test_winograd_applies(void **state)
{
    (void)state;
    ConvGeom g = geom(3, 3, 8, 8, 1, 1, 1, 1, 0);
    assert_true(winograd_applies(&g));
    g.stride = 2;
    assert_false(winograd_applies(&g));
    g.stride = 1;
    g.k = 5;
    assert_false(winograd_applies(&g));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_winograd_shapes),
        cmocka_unit_test(test_winograd_applies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
