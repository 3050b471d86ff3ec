/* test_net_tiled.c: the banded forward pass under a memory budget against
 * the whole-image forward pass: same output up to float rounding, on a
 * spec network that exercises every banded layer kind (reflect and zero
 * padding, TF 'same' stride 2, residual block, transposed conv with
 * output_padding, upsampling, instance norm with and without affine) at odd
 * sizes, and on the real ml5 wave model when ../shared is present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/ml5.h"
#include "engine/net.h"
#include "engine/safetensors.h"
#include "tests/engine/spec_net.h"
#include "tests/engine/util.h"

/* The smallest budget (to 1/256) for which net_tiled_plan succeeds. */
static size_t min_budget(const Net *net, int h, int w, int threads)
{
    size_t lo = 4096, hi = 8192;
    NetTiled *t;
    while (!(t = net_tiled_plan(net, h, w, hi, threads))) {
        lo = hi;
        hi *= 2;
        assert_true(hi < ((size_t)1 << 34));
    }
    net_tiled_free(t);
    while (hi - lo > hi / 256) {
        size_t mid = lo + (hi - lo) / 2;
        t = net_tiled_plan(net, h, w, mid, threads);
        if (t)
            hi = mid;
        else
            lo = mid;
        net_tiled_free(t);
    }
    return hi;
}

/* Tiled against untiled at h x w, with the smallest budget that plans, or
 * `budget` bytes when it is not 0; returns the max diff. */
static double compare(const char *name, const Net *net, int h, int w, size_t budget,
                      int threads, int min_bands)
{
    if (!budget)
        budget = min_budget(net, h, w, threads);
    size_t n = (size_t)3 * h * w;
    float *in = malloc(n * 4), *a = malloc(n * 4), *b = malloc(n * 4);
    assert_true(in && a && b);
    tu_fill(in, n, 7, 0, 255);
    NetPlan *plan = net_plan(net, h, w, 1);
    assert_non_null(plan);
    assert_int_equal(net_forward(net, plan, in, a), 0);
    NetTiled *t = net_tiled_plan(net, h, w, budget, threads);
    if (!t)
        printf("%s: no tiled plan for %dx%d in %zu bytes\n", name, w, h, budget);
    assert_non_null(t);
    assert_true(net_tiled_bytes(t) <= budget);
    printf("%s %dx%d: %d sweeps, %d bands, %s, %zu of %zu bytes, %d threads\n", name, w, h,
           net_tiled_sweeps(t), net_tiled_bands(t),
           net_tiled_in_place(t) ? "checkpoint" : "no checkpoint", net_tiled_bytes(t), budget,
           threads);
    assert_true(net_tiled_bands(t) >= min_bands);
    assert_int_equal(net_tiled_forward(net, t, in, b), 0);
    double d = tu_report(name, b, a, n);
    net_tiled_free(t);
    net_plan_free(plan);
    free(in); free(a); free(b);
    return d;
}

static void test_tiled_spec(void **state)
{
    (void)state;
    Net *net = spec_net(spec_net_text);
    assert_non_null(net);
    assert_true(compare("spec, tiny budget", net, 37, 29, 0, 1, 4) < 2e-3);
    assert_true(compare("spec, tiny budget, 2 threads", net, 41, 30, 0, 2, 4) < 2e-3);
    assert_true(compare("spec, one band", net, 23, 19, (size_t)8 << 20, 2, 1) < 2e-3);
    assert_null(net_tiled_plan(net, 37, 29, 1000, 1));
    net_free(net);
    char *text = spec_without_block();
    net = spec_net(text);
    free(text);
    assert_non_null(net);
    assert_true(compare("spec without block", net, 37, 29, 0, 2, 4) < 2e-3);
    net_free(net);
}

static void test_tiled_ml5(void **state)
{
    (void)state;
    const char *shared = tu_shared_dir();
    char dir[1024], err[512];
    if (!shared)
        skip();
    snprintf(dir, sizeof(dir), "%s/models/ml5/wave", shared);
    void *buf = NULL;
    size_t len = 0;
    if (ml5_import(dir, &buf, &len, err, sizeof(err))) {
        printf("skipped: %s: %s\n", dir, err);
        skip();
    }
    SafeTensors *st = st_parse(buf, len, err, sizeof(err));
    free(buf);
    assert_non_null(st);
    Net *net = net_from_safetensors(st, err, sizeof(err));
    st_free(st);
    assert_non_null(net);
    /* Both passes are float32: the bands sum the norm statistics in another
     * order and align Winograd tiles differently, and 15 norms amplify that
     * to a few 1e-3 typical, a few 1e-2 at worst on 0..255 (PSNR > 70 dB). */
    assert_true(compare("ml5 wave, thin bands", net, 240, 40, 0, 2, 60) < 5e-2);
    /* The absolute check: the sweeps against PyTorch in float64 (one band
     * here: at 48 rows the network's reach covers the image). */
    SafeTensors *fx = st_load_file("tests/fixtures/ml5/wave_64x48.safetensors", err,
                                   sizeof(err));
    assert_non_null(fx);
    const StTensor *fin = st_find(fx, "input"), *fout = st_find(fx, "output");
    assert_true(fin && fout && fin->ndim == 4);
    int h = (int)fin->shape[2], w = (int)fin->shape[3];
    size_t budget = min_budget(net, h, w, 2);
    NetTiled *t = net_tiled_plan(net, h, w, budget, 2);
    assert_non_null(t);
    float *y = malloc((size_t)3 * h * w * sizeof(float));
    assert_int_equal(net_tiled_forward(net, t, st_f32(fin), y), 0);
    printf("fixture in %d bands\n", net_tiled_bands(t));
    assert_true(tu_report("ml5 wave banded vs PyTorch", y, st_f32(fout), (size_t)3 * h * w) <
                1e-2);
    free(y);
    net_tiled_free(t);
    st_free(fx);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiled_spec),
        cmocka_unit_test(test_tiled_ml5),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
