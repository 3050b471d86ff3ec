/* test_threadpool.c: every task runs exactly once, on a valid thread, and
 * all writes are visible when threadpool_run returns; many short jobs in a
 * row (the forward pass's pattern) neither lose nor repeat a task. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "engine/threadpool.h"

typedef struct Ctx {
    int *hits;
    int *thread_of;
    int nthreads;
} Ctx;

static void count_task(void *p, int t, int thread)
{
    Ctx *c = p;
    c->hits[t]++;
    c->thread_of[t] = thread;
}

static void check_pool(int n)
{
    ThreadPool *tp = threadpool_create(n);
    assert_non_null(tp);
    assert_int_equal(threadpool_size(tp), n);
    enum { MAXT = 257 };
    int hits[MAXT], thread_of[MAXT];
    Ctx c = { hits, thread_of, n };
    for (int round = 0; round < 2000; round++) {
        int ntasks = 1 + (round * 37) % MAXT;
        for (int i = 0; i < ntasks; i++)
            hits[i] = 0;
        threadpool_run(tp, count_task, &c, ntasks);
        for (int i = 0; i < ntasks; i++) {
            if (hits[i] != 1 || thread_of[i] < 0 || thread_of[i] >= n) {
                printf("pool of %d, round %d: task %d ran %d times on thread %d\n", n,
                       round, i, hits[i], thread_of[i]);
                fail();
            }
        }
    }
    threadpool_run(tp, count_task, &c, 0);
    threadpool_free(tp);
}

static void test_threadpool(void **state)
{
    (void)state;
    check_pool(1);
    check_pool(2);
    check_pool(5);
    assert_int_equal(threadpool_size(NULL), 1);
    threadpool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threadpool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
