/* test_net.c: networks built from a spec: the forward pass against the same
 * layers composed by hand from the reference loops, memory planning, and
 * rejection of broken specs and weights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/layers.h"
#include "engine/net.h"
#include "tests/engine/util.h"

static const char small_spec[] =
    "{\"version\": 1, \"input\": {\"scale\": 0.00784313725, \"offset\": -1},"
    " \"output\": {\"scale\": 127.5, \"offset\": 127.5}, \"layers\": ["
    "  {\"op\": \"conv2d\", \"name\": \"c1\", \"in\": 3, \"out\": 4, \"k\": 3, \"stride\": 2,"
    "   \"pad\": \"same\", \"bias\": true},"
    "  {\"op\": \"instance_norm\", \"name\": \"n1\", \"channels\": 4, \"eps\": 1e-5},"
    "  {\"op\": \"relu\"},"
    "  [{\"op\": \"conv2d\", \"name\": \"r1\", \"in\": 4, \"out\": 4, \"k\": 3, \"pad\": 1,"
    "    \"pad_mode\": \"reflect\"},"
    "   {\"op\": \"instance_norm\", \"name\": \"rn\", \"affine\": false}],"
    "  {\"op\": \"upsample\", \"scale\": 2},"
    "  {\"op\": \"conv_transpose2d\", \"name\": \"u1\", \"in\": 4, \"out\": 3, \"k\": 3,"
    "   \"stride\": 1, \"pad\": 1, \"bias\": true},"
    "  {\"op\": \"tanh\"}]}";

typedef struct Param { const char *name; int ndim; int64_t shape[4]; float w[432]; } Param;

static Param params[] = {
    { "c1.weight", 4, { 4, 3, 3, 3 }, { 0 } }, { "c1.bias", 1, { 4 }, { 0 } },
    { "n1.weight", 1, { 4 }, { 0 } },          { "n1.bias", 1, { 4 }, { 0 } },
    { "r1.weight", 4, { 4, 4, 3, 3 }, { 0 } }, { "u1.weight", 4, { 4, 3, 3, 3 }, { 0 } },
    { "u1.bias", 1, { 3 }, { 0 } },
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

/* A model buffer from a spec and the params table (skipping `omit`). */
static SafeTensors *model(const char *spec, const char *omit, int bad_shape)
{
    StWriter *w = stw_new();
    for (size_t i = 0; i < NPARAMS; i++) {
        Param *p = &params[i];
        size_t n = 1;
        for (int d = 0; d < p->ndim; d++)
            n *= (size_t)p->shape[d];
        tu_fill(p->w, n, (uint32_t)i + 10, -0.6f, 0.6f);
        if (omit && !strcmp(omit, p->name))
            continue;
        int64_t shape[4];
        memcpy(shape, p->shape, sizeof(shape));
        if (bad_shape && i == 0)
            shape[1] = 2;
        assert_int_equal(stw_add(w, p->name, ST_F32, p->ndim, shape, p->w), 0);
    }
    if (spec)
        assert_int_equal(stw_meta(w, "atelier.spec", spec), 0);
    void *buf;
    size_t len;
    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    stw_free(w);
    char err[256];
    SafeTensors *st = st_parse(buf, len, err, sizeof(err));
    free(buf);
    assert_non_null(st);
    return st;
}

static float *param(const char *name)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (!strcmp(params[i].name, name))
            return params[i].w;
    return NULL;
}

/* The small network, composed by hand from the reference layers. */
static void reference(const float *in, int h, int w, float *out)
{
    size_t hw = (size_t)h * w;
    float *x = malloc(3 * hw * 4);
    for (size_t i = 0; i < 3 * hw; i++)
        x[i] = in[i] * 0.00784313725f - 1;
    int h1 = (h + 1) / 2, w1 = (w + 1) / 2;
    ConvGeom g1 = { 3, 4, 3, 2, ((h1 - 1) * 2 + 3 - h) / 2, ((w1 - 1) * 2 + 3 - w) / 2, 0, h, w, h1, w1 };
    float *a = malloc(4 * (size_t)h1 * w1 * 4), *b = malloc(4 * (size_t)h1 * w1 * 4);
    conv2d_forward_ref(a, x, param("c1.weight"), param("c1.bias"), &g1);
    instance_norm_forward(a, param("n1.weight"), param("n1.bias"), 1e-5f, 4, (size_t)h1 * w1, 1);
    ConvGeom gr = { 4, 4, 3, 1, 1, 1, 1, h1, w1, h1, w1 };
    conv2d_forward_ref(b, a, param("r1.weight"), NULL, &gr);
    instance_norm_forward(b, NULL, NULL, 1e-5f, 4, (size_t)h1 * w1, 0);
    add_forward(a, b, 4 * (size_t)h1 * w1);
    int h2 = 2 * h1, w2 = 2 * w1;
    float *u = malloc(4 * (size_t)h2 * w2 * 4), *y = malloc(3 * (size_t)h2 * w2 * 4);
    upsample_nearest_forward(u, a, 4, h1, w1, 2);
    ConvGeom gt = { 4, 3, 3, 1, 1, 1, 0, h2, w2, h2, w2 };
    conv_transpose2d_forward_ref(y, u, param("u1.weight"), param("u1.bias"), &gt);
    for (int c = 0; c < 3; c++)
        for (int r = 0; r < h; r++)
            for (int q = 0; q < w; q++) {
                float v = tanhf(y[((size_t)c * h2 + r) * w2 + q]) * 127.5f + 127.5f;
                out[((size_t)c * h + r) * w + q] = v < 0 ? 0 : v > 255 ? 255 : v;
            }
    free(x); free(a); free(b); free(u); free(y);
}

static void test_forward_matches_reference(void **state)
{
    (void)state;
    char err[256];
    SafeTensors *st = model(small_spec, NULL, 0);
    Net *net = net_from_safetensors(st, err, sizeof(err));
    if (!net)
        print_error("%s\n", err);
    assert_non_null(net);
    st_free(st);
    assert_int_equal(net_param_count(net), 4 * 27 + 4 + 8 + 144 + 108 + 3);
    int sizes[][2] = { { 7, 9 }, { 8, 8 }, { 1, 1 }, { 16, 5 } };
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int h = sizes[s][0], w = sizes[s][1];
        size_t n = 3 * (size_t)h * w;
        float *in = malloc(n * 4), *out = malloc(n * 4), *ref = malloc(n * 4);
        tu_fill(in, n, 77, 0, 255);
        NetPlan *plan = net_plan(net, h, w, 1);
        if (h < 2 || w < 2) {   /* reflect padding needs 2 pixels */
            assert_null(plan);
            free(in); free(out); free(ref);
            continue;
        }
        assert_non_null(plan);
        reference(in, h, w, ref);
        assert_int_equal(net_forward(net, plan, in, out), 0);
        char label[64];
        snprintf(label, sizeof(label), "small net %dx%d", w, h);
        assert_true(tu_report(label, out, ref, n) < 1e-3);
        /* In place, and a second run on the same plan, give the same. */
        assert_int_equal(net_forward(net, plan, in, in), 0);
        assert_true(tu_max_abs_diff(in, out, n, NULL) == 0);
        net_plan_free(plan);
        free(in); free(out); free(ref);
    }
    net_free(net);
}

static void expect_reject(const char *spec, const char *omit, int bad_shape, const char *msg)
{
    char err[256] = "";
    SafeTensors *st = model(spec, omit, bad_shape);
    Net *net = net_from_safetensors(st, err, sizeof(err));
    st_free(st);
    if (net || !strstr(err, msg))
        print_error("spec %.60s...: got '%s', wanted '%s'\n", spec ? spec : "(none)", err, msg);
    assert_null(net);
    assert_non_null(strstr(err, msg));
}

static void test_rejects_bad_specs(void **state)
{
    (void)state;
    expect_reject(NULL, NULL, 0, "not an Atelier model");
    expect_reject("[1]", NULL, 0, "not a JSON object");
    expect_reject("{\"version\": 2, \"layers\": []}", NULL, 0, "version");
    expect_reject("{\"version\": 1, \"layers\": []}", NULL, 0, "non-empty array");
    expect_reject("{\"version\": 1, \"layers\": [{\"op\": \"softmax\"}]}", NULL, 0, "unknown op");
    expect_reject("{\"version\": 1, \"layers\": [{\"op\": \"conv2d\", \"name\": \"c1\", \"in\": 4,"
                  " \"out\": 4, \"k\": 3, \"bias\": true}]}", NULL, 0, "takes 4 channels but gets 3");
    expect_reject("{\"version\": 1, \"layers\": [{\"op\": \"conv2d\", \"name\": \"c1\", \"in\": 3,"
                  " \"out\": 4, \"k\": 3, \"bias\": true}]}", NULL, 0, "ends with 4 channels");
    expect_reject("{\"version\": 1, \"layers\": [{\"op\": \"conv2d\", \"name\": \"c1\", \"in\": 3,"
                  " \"out\": 4, \"k\": 99}]}", NULL, 0, "\"k\" must be an integer");
    expect_reject("{\"version\": 1, \"layers\": [{\"op\": \"conv2d\", \"name\": \"c1\", \"in\": 3,"
                  " \"out\": 4, \"k\": 3, \"pad\": \"valid\"}]}", NULL, 0, "\"pad\" must be");
    expect_reject(small_spec, "r1.weight", 0, "tensor r1.weight is missing");
    expect_reject(small_spec, NULL, 1, "tensor c1.weight: expected shape (4, 3, 3, 3)");
    expect_reject("{\"version\": 1, \"layers\": [[[[[[[[[[{\"op\": \"relu\"}]]]]]]]]]]}", NULL, 0,
                  "nested deeper");
    expect_reject("{\"version\": 1, \"layers\": [[{\"op\": \"conv2d\", \"name\": \"c1\", \"in\": 3,"
                  " \"out\": 4, \"k\": 3, \"bias\": true}]]}", NULL, 0, "changes 3 channels to 4");
    expect_reject("{\"version\": 1, \"input\": {\"scale\": 0}, \"layers\": [{\"op\": \"relu\"}]}",
                  NULL, 0, "\"input\" must be");
}

static void test_plan_reuses_memory(void **state)
{
    (void)state;
    char err[256];
    SafeTensors *st = model(small_spec, NULL, 0);
    Net *net = net_from_safetensors(st, err, sizeof(err));
    st_free(st);
    assert_non_null(net);
    NetPlan *plan = net_plan(net, 256, 256, 1);
    assert_non_null(plan);
    /* All activations at once: x 3, c1 4, r1 4 (at 128x128: a quarter
     * plane each), upsample 4, transposed conv 3 planes of 256x256. At most
     * the upsample's input and output plus the transposed conv's output are
     * alive at once; the workspace is the transposed conv's column tile. */
    size_t plane = (size_t)256 * 256;
    size_t all = (3 + 1 + 1 + 4 + 3) * plane;
    ConvGeom gt = { 4, 3, 3, 1, 1, 1, 0, 256, 256, 256, 256 };
    size_t work = conv_transpose2d_work_floats(&gt);
    printf("  plan %zu bytes; all activations %zu bytes + workspace %zu bytes\n",
           net_plan_bytes(plan), all * 4, work * 4);
    assert_true(net_plan_bytes(plan) <= ((4 + 3 + 1) * plane + work + 64) * 4);
    net_plan_free(plan);
    assert_null(net_plan(net, 0, 5, 1));
    assert_null(net_plan(net, 5, 100000, 1));
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_reference),
        cmocka_unit_test(test_rejects_bad_specs),
        cmocka_unit_test(test_plan_reuses_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
