/* test_net_threads.c: threads per plan, not per process. Two plans of one
 * network, one on one thread and one on two, run at the same time from two
 * threads (as the service runs two requests) and both give the sequential
 * result, as a third plan on three threads does; a plan's memory estimate
 * is its size, for the same thread count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "engine/net.h"
#include "tests/engine/spec_net.h"
#include "tests/engine/util.h"

enum { H = 70, W = 90, ROUNDS = 20 };

typedef struct Runner {
    const Net *net;
    NetPlan *plan;
    const float *in, *ref;
    double worst;
    int failed;
} Runner;

static void *run(void *p)
{
    Runner *r = p;
    size_t n = (size_t)3 * H * W;
    float *out = malloc(n * sizeof(float));
    for (int i = 0; out && i < ROUNDS; i++) {
        if (net_forward(r->net, r->plan, r->in, out)) {
            r->failed = 1;
            break;
        }
        double d = tu_max_abs_diff(out, r->ref, n, NULL);
        if (d > r->worst)
            r->worst = d;
    }
    r->failed |= !out;
    free(out);
    return NULL;
}

static void test_plans_run_side_by_side(void **state)
{
    (void)state;
    Net *net = spec_net(spec_net_text);
    assert_non_null(net);
    size_t n = (size_t)3 * H * W;
    float *in = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
    assert_true(in && ref);
    tu_fill(in, n, 5, 0, 255);
    NetPlan *one = net_plan(net, H, W, 1), *two = net_plan(net, H, W, 2);
    assert_true(one && two);
    assert_int_equal(net_plan_threads(one), 1);
    assert_int_equal(net_plan_threads(two), 2);
    assert_int_equal(net_forward(net, one, in, ref), 0);
    Runner a = { net, one, in, ref, 0, 0 }, b = { net, two, in, ref, 0, 0 };
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, run, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, run, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    printf("1-thread plan: max diff %g; 2-thread plan: max diff %g (both at once)\n", a.worst,
           b.worst);
    assert_false(a.failed || b.failed);
    assert_true(a.worst < 1e-4 && b.worst < 1e-4);
    NetPlan *three = net_plan(net, H, W, 3);
    assert_non_null(three);
    assert_int_equal(net_plan_threads(three), 3);
    Runner c = { net, three, in, ref, 0, 0 };
    run(&c);
    assert_false(c.failed);
    assert_true(c.worst < 1e-4);
    net_plan_free(one);
    net_plan_free(two);
    net_plan_free(three);
    free(in);
    free(ref);
    net_free(net);
}

/* The estimate a service budgets with is the plan's size for the same
 * threads: each thread adds one workspace slice, and the count is clamped
 * as the plan clamps it. */
static void test_estimate_is_the_plan(void **state)
{
    (void)state;
    Net *net = spec_net(spec_net_text);
    assert_non_null(net);
    const int sizes[][2] = { { H, W }, { 33, 47 }, { 128, 96 } };
    const int threads[] = { 1, 2, 3, 7 };
    size_t slice = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (size_t k = 0; k < sizeof threads / sizeof *threads; k++) {
            int h = sizes[i][0], w = sizes[i][1], t = threads[k];
            NetPlan *p = net_plan(net, h, w, t);
            assert_non_null(p);
            assert_int_equal(net_plan_threads(p), t);
            size_t est = net_plan_estimate_bytes(net, h, w, t);
            if (est != net_plan_bytes(p))
                fail_msg("%dx%d, %d threads: estimate %zu, plan %zu", w, h, t, est,
                         net_plan_bytes(p));
            net_plan_free(p);
        }
        slice = net_plan_estimate_bytes(net, sizes[i][0], sizes[i][1], 2) -
                net_plan_estimate_bytes(net, sizes[i][0], sizes[i][1], 1);
        assert_true(slice > 0);
        assert_int_equal(net_plan_estimate_bytes(net, sizes[i][0], sizes[i][1], 3),
                         net_plan_estimate_bytes(net, sizes[i][0], sizes[i][1], 1) + 2 * slice);
    }
    NetPlan *low = net_plan(net, H, W, 0), *high = net_plan(net, H, W, 1000);
    assert_true(low && high);
    assert_int_equal(net_plan_threads(low), 1);
    assert_int_equal(net_plan_threads(high), 64);
    assert_int_equal(net_plan_estimate_bytes(net, H, W, 0), net_plan_bytes(low));
    assert_int_equal(net_plan_estimate_bytes(net, H, W, 1000), net_plan_bytes(high));
    assert_int_equal(net_plan_threads(NULL), 0);
    assert_int_equal(net_plan_estimate_bytes(net, 0, W, 2), SIZE_MAX);
    net_plan_free(low);
    net_plan_free(high);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plans_run_side_by_side),
        cmocka_unit_test(test_estimate_is_the_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
