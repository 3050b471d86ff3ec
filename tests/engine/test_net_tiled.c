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
#include "tests/engine/util.h"

static const char spec[] =
    "{\"version\": 1, \"input\": {\"scale\": 0.00784313725, \"offset\": -1},"
    " \"output\": {\"scale\": 127.5, \"offset\": 127.5}, \"layers\": ["
    "  {\"op\": \"conv2d\", \"name\": \"c1\", \"in\": 3, \"out\": 6, \"k\": 5, \"pad\": 2,"
    "   \"pad_mode\": \"reflect\", \"bias\": true},"
    "  {\"op\": \"instance_norm\", \"name\": \"n1\", \"channels\": 6, \"eps\": 1e-5},"
    "  {\"op\": \"relu\"},"
    "  {\"op\": \"conv2d\", \"name\": \"c2\", \"in\": 6, \"out\": 8, \"k\": 3, \"stride\": 2,"
    "   \"pad\": \"same\", \"bias\": false},"
    "  {\"op\": \"instance_norm\", \"name\": \"n2\", \"channels\": 8, \"eps\": 1e-5},"
    "  {\"op\": \"relu\"},"
    "  [{\"op\": \"conv2d\", \"name\": \"r1\", \"in\": 8, \"out\": 8, \"k\": 3, \"pad\": 1},"
    "   {\"op\": \"instance_norm\", \"name\": \"rn1\", \"affine\": false},"
    "   {\"op\": \"relu\"},"
    "   {\"op\": \"conv2d\", \"name\": \"r2\", \"in\": 8, \"out\": 8, \"k\": 3, \"pad\": 1,"
    "    \"pad_mode\": \"reflect\"},"
    "   {\"op\": \"instance_norm\", \"name\": \"rn2\", \"affine\": false}],"
    "  {\"op\": \"conv_transpose2d\", \"name\": \"t1\", \"in\": 8, \"out\": 6, \"k\": 3,"
    "   \"stride\": 2, \"pad\": 1, \"output_padding\": 1, \"bias\": true},"
    "  {\"op\": \"instance_norm\", \"name\": \"n3\", \"channels\": 6, \"eps\": 1e-5},"
    "  {\"op\": \"relu\"},"
    "  {\"op\": \"upsample\", \"scale\": 2},"
    "  {\"op\": \"conv2d\", \"name\": \"c3\", \"in\": 6, \"out\": 3, \"k\": 3, \"stride\": 2,"
    "   \"pad\": \"same\", \"bias\": true},"
    "  {\"op\": \"tanh\"}]}";

typedef struct Param { const char *name; int ndim; int64_t shape[4]; } Param;

static const Param params[] = {
    { "c1.weight", 4, { 6, 3, 5, 5 } }, { "c1.bias", 1, { 6 } },
    { "n1.weight", 1, { 6 } }, { "n1.bias", 1, { 6 } },
    { "c2.weight", 4, { 8, 6, 3, 3 } },
    { "n2.weight", 1, { 8 } }, { "n2.bias", 1, { 8 } },
    { "r1.weight", 4, { 8, 8, 3, 3 } }, { "r2.weight", 4, { 8, 8, 3, 3 } },
    { "t1.weight", 4, { 8, 6, 3, 3 } }, { "t1.bias", 1, { 6 } },
    { "n3.weight", 1, { 6 } }, { "n3.bias", 1, { 6 } },
    { "c3.weight", 4, { 3, 6, 3, 3 } }, { "c3.bias", 1, { 3 } },
};

/* The same network without its residual block: no checkpoint is possible,
 * so every sweep starts from the image. */
static char *spec_without_block(void)
{
    char *s = strdup(spec);
    char *a = strchr(strchr(s, '[') + 1, '['), *b = strchr(a, ']');   /* the block */
    memmove(a, b + 2, strlen(b + 2) + 1);                             /* and its ", " */
    return s;
}

static Net *spec_net(const char *text)
{
    StWriter *w = stw_new();
    float buf[8 * 8 * 9];
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        const Param *p = &params[i];
        size_t n = 1;
        for (int d = 0; d < p->ndim; d++)
            n *= (size_t)p->shape[d];
        tu_fill(buf, n, (uint32_t)i + 40, -0.5f, 0.5f);
        if (strstr(p->name, "n") == p->name && strstr(p->name, ".weight"))
            for (size_t k = 0; k < n; k++)
                buf[k] += 1.0f;
        assert_int_equal(stw_add(w, p->name, ST_F32, p->ndim, p->shape, buf), 0);
    }
    assert_int_equal(stw_meta(w, "atelier.spec", text), 0);
    void *mem;
    size_t len;
    char err[256];
    assert_int_equal(stw_to_buffer(w, &mem, &len), 0);
    stw_free(w);
    SafeTensors *st = st_parse(mem, len, err, sizeof(err));
    free(mem);
    assert_non_null(st);
    Net *net = net_from_safetensors(st, err, sizeof(err));
    if (!net)
        printf("spec net: %s\n", err);
    st_free(st);
    return net;
}

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
    NetPlan *plan = net_plan(net, h, w);
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
    Net *net = spec_net(spec);
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
