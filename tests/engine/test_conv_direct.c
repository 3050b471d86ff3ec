/* test_conv_direct.c: the direct thin-layer convolution against the naive
 * seven-loop convolution (conv2d_forward_ref), on one and several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <cmocka.h>
#include "engine/conv_direct.h"
#include "tests/engine/util.h"

static ConvGeom geom(int cin, int cout, int k, int h, int w, int pt, int pb, int pl,
                     int pr, int reflect)
{
    ConvGeom g = { .cin = cin, .cout = cout, .k = k, .stride = 1, .pad_t = pt,
                   .pad_l = pl, .reflect = reflect, .h = h, .w = w };
    g.oh = h + pt + pb - k + 1;
    g.ow = w + pl + pr - k + 1;
    return g;
}

static void check(const char *name, ConvGeom g, int threads)
{
    assert_true(conv_direct_applies(&g));
    size_t nin = (size_t)g.cin * g.h * g.w, nout = (size_t)g.cout * g.oh * g.ow;
    size_t nw = (size_t)g.cout * g.cin * g.k * g.k;
    size_t stride = (conv_direct_work_floats(&g) + 15) / 16 * 16;
    float *in = malloc(nin * 4), *wt = malloc(nw * 4), *b = malloc((size_t)g.cout * 4);
    float *out = malloc(nout * 4), *ref = malloc(nout * 4);
    float *work = aligned_alloc(64, stride * (size_t)threads * 4);
    ThreadPool *tp = threadpool_create(threads);
    assert_non_null(tp);
    tu_fill(in, nin, 21, -1, 1);
    tu_fill(wt, nw, 22, -0.5f, 0.5f);
    tu_fill(b, (size_t)g.cout, 23, -1, 1);
    conv_direct_forward(out, in, wt, b, &g, work, stride, tp);
    conv2d_forward_ref(ref, in, wt, b, &g);
    assert_true(tu_report(name, out, ref, nout) < 1e-5 * g.cin * g.k * g.k);
    threadpool_free(tp);
    free(in); free(wt); free(b); free(out); free(ref); free(work);
}

static void test_conv_direct(void **state)
{
    (void)state;
    check("ml5 conv1 9x9 3->32", geom(3, 32, 9, 37, 70, 4, 4, 4, 4, 0), 2);
    check("ml5 conv4 9x9 32->3", geom(32, 3, 9, 33, 129, 4, 4, 4, 4, 0), 2);
    check("9x9 reflect", geom(3, 5, 9, 12, 20, 4, 4, 4, 4, 1), 1);
    check("7x7 reflect 3->2", geom(3, 2, 7, 16, 16, 3, 3, 3, 3, 1), 3);
    check("5x5 asym 6->1", geom(6, 1, 5, 9, 8, 1, 3, 2, 2, 0), 2);
    check("tiny 1x1 input", geom(2, 4, 9, 1, 1, 4, 4, 4, 4, 0), 2);
    check("no pad", geom(4, 7, 5, 11, 80, 0, 0, 0, 0, 0), 1);
    check("narrow 9x9 reflect 32->3, 5 wide", geom(32, 3, 9, 300, 5, 4, 4, 4, 4, 1), 2);
    check("narrow 7x7 3->16, 13 wide", geom(3, 16, 7, 90, 13, 3, 3, 3, 3, 1), 1);
}

static void test_conv_direct_applies(void **state)
{
    (void)state;
    ConvGeom g = geom(32, 3, 9, 16, 16, 4, 4, 4, 4, 0);
    assert_true(conv_direct_applies(&g));
    g.stride = 2;
    assert_false(conv_direct_applies(&g));
    g = geom(32, 32, 9, 16, 16, 4, 4, 4, 4, 0);
    assert_false(conv_direct_applies(&g));
    g = geom(3, 32, 3, 16, 16, 1, 1, 1, 1, 0);
    assert_false(conv_direct_applies(&g));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_direct),
        cmocka_unit_test(test_conv_direct_applies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
