/* test_torch.c: models converted from PyTorch state dicts by
 * tools/torch2safetensors.py (pytorch/examples TransformerNet, CycleGAN
 * ResnetGenerator resnet_9blocks, narrow and randomly initialised) against
 * PyTorch's own outputs, committed as fixtures so no Python is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "engine/net.h"
#include "tests/engine/util.h"

#define TOLERANCE 1e-2   /* max abs difference on the 0..255 scale */

static void check_arch(const char *arch)
{
    char path[256], err[512];
    snprintf(path, sizeof(path), "tests/fixtures/torch/%s.safetensors", arch);
    Net *net = net_load(path, err, sizeof(err));
    if (!net)
        print_error("%s: %s\n", path, err);
    assert_non_null(net);
    snprintf(path, sizeof(path), "tests/fixtures/torch/%s_io.safetensors", arch);
    SafeTensors *io = st_load_file(path, err, sizeof(err));
    assert_non_null(io);
    const StTensor *in = st_find(io, "input"), *out = st_find(io, "output");
    assert_non_null(in);
    assert_non_null(out);
    int h = (int)in->shape[2], w = (int)in->shape[3];
    assert_int_equal(out->shape[2], h);
    assert_int_equal(out->shape[3], w);
    NetPlan *plan = net_plan(net, h, w, 1);
    assert_non_null(plan);
    float *y = malloc((size_t)3 * h * w * sizeof(float));
    assert_int_equal(net_forward(net, plan, st_f32(in), y), 0);
    char label[128];
    snprintf(label, sizeof(label), "%s %dx%d", arch, w, h);
    assert_true(tu_report(label, y, st_f32(out), (size_t)3 * h * w) < TOLERANCE);
    free(y);
    net_plan_free(plan);
    st_free(io);
    net_free(net);
}

static void test_transformer_net(void **state)
{
    (void)state;
    check_arch("transformer_net");
}

static void test_resnet9(void **state)
{
    (void)state;
    check_arch("resnet9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transformer_net),
        cmocka_unit_test(test_resnet9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
