/* test_net_threads.c: threads per plan, not per process. Two plans of one
 * network, one on one thread and one on two, run at the same time from two
 * threads (as the service runs two requests) and both give the sequential
 * result; a plan's thread count can change between forwards. */
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
    NetPlan *one = net_plan(net, H, W), *two = net_plan(net, H, W);
    assert_true(one && two);
    assert_int_equal(net_plan_set_threads(one, 1), 0);
    assert_int_equal(net_plan_set_threads(two, 2), 0);
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
    /* Change a plan's threads between forwards. */
    assert_int_equal(net_plan_set_threads(two, 3), 0);
    assert_int_equal(net_plan_threads(two), 3);
    b.worst = 0;
    run(&b);
    assert_true(b.worst < 1e-4);
    assert_int_equal(net_plan_set_threads(NULL, 2), -1);
    net_plan_free(one);
    net_plan_free(two);
    free(in);
    free(ref);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plans_run_side_by_side),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
