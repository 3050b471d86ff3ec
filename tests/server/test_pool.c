/* test_pool.c: server/pool.c: FIFO order, the bound on waiting jobs,
 * cancellation at shutdown, worker contexts, Retry-After. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/pool.h"

typedef struct Gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int open;
    int waiting;
} Gate;

static Gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void gate_reset(void)
{
    pthread_mutex_lock(&gate.lock);
    gate.open = 0;
    gate.waiting = 0;
    pthread_mutex_unlock(&gate.lock);
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate.lock);
    gate.open = 1;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

/* Waits until n jobs are blocked in the gate. */
static void gate_wait_blocked(int n)
{
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&gate.lock);
        int w = gate.waiting;
        pthread_mutex_unlock(&gate.lock);
        if (w >= n)
            return;
        usleep(1000);
    }
    fail_msg("%d jobs never reached the gate", n);
}

typedef struct TJob {
    PoolJob base;
    int id;
    int gated;
    atomic_int *order_next;
    int order;              /* position it ran at, -1 = never */
    int cancelled;
    void *ctx;
} TJob;

static void tjob_run(PoolJob *base, void *ctx)
{
    TJob *j = (TJob *)base;
    if (j->gated) {
        pthread_mutex_lock(&gate.lock);
        gate.waiting++;
        while (!gate.open)
            pthread_cond_wait(&gate.cond, &gate.lock);
        pthread_mutex_unlock(&gate.lock);
    }
    j->ctx = ctx;
    j->order = atomic_fetch_add(j->order_next, 1);
}

static void tjob_cancel(PoolJob *base, void *ctx)
{
    TJob *j = (TJob *)base;
    j->cancelled = 1;
}

static void tjob_init(TJob *j, int id, int gated, atomic_int *next)
{
    memset(j, 0, sizeof *j);
    j->base.run = tjob_run;
    j->base.cancel = tjob_cancel;
    j->base.cost = 1.0;
    j->id = id;
    j->gated = gated;
    j->order_next = next;
    j->order = -1;
}

static atomic_int ctx_made, ctx_freed;

static void *ctx_new(int worker, void *arg)
{
    int *c = malloc(sizeof *c);
    if (c)
        *c = 100 + worker;
    atomic_fetch_add(&ctx_made, 1);
    return c;
}

static void ctx_free(void *ctx)
{
    atomic_fetch_add(&ctx_freed, 1);
    free(ctx);
}

static void wait_idle(Pool *p)
{
    PoolStats st;
    for (int i = 0; i < 5000; i++) {
        pool_stats(p, &st);
        if (!st.busy && !st.depth)
            return;
        usleep(1000);
    }
    fail_msg("pool never became idle");
}

static void test_fifo_and_contexts(void **state)
{
    atomic_int next = 0;
    TJob jobs[8];
    Pool *p;
    (void)state;
    gate_reset();
    atomic_store(&ctx_made, 0);
    atomic_store(&ctx_freed, 0);
    p = pool_new(1, 8, ctx_new, ctx_free, NULL);
    assert_non_null(p);
    /* Block the worker so all 7 others queue, then release: FIFO. */
    tjob_init(&jobs[0], 0, 1, &next);
    assert_int_equal(pool_submit(p, &jobs[0].base), POOL_OK);
    gate_wait_blocked(1);
    for (int i = 1; i < 8; i++) {
        tjob_init(&jobs[i], i, 0, &next);
        assert_int_equal(pool_submit(p, &jobs[i].base), POOL_OK);
    }
    gate_open();
    wait_idle(p);
    for (int i = 0; i < 8; i++) {
        if (jobs[i].order != i) {
            print_error("job %d ran at position %d\n", i, jobs[i].order);
            fail();
        }
        assert_int_equal(*(int *)jobs[i].ctx, 100);
    }
    pool_free(p);
    assert_int_equal(atomic_load(&ctx_made), 1);
    assert_int_equal(atomic_load(&ctx_freed), 1);
}

static void test_bound(void **state)
{
    atomic_int next = 0;
    TJob a, b, c, d;
    PoolStats st;
    Pool *p;
    (void)state;
    gate_reset();
    /* One worker, one waiting place: the third job is refused at once. */
    p = pool_new(1, 1, NULL, NULL, NULL);
    assert_non_null(p);
    tjob_init(&a, 0, 1, &next);
    tjob_init(&b, 1, 0, &next);
    tjob_init(&c, 2, 0, &next);
    assert_int_equal(pool_submit(p, &a.base), POOL_OK);
    gate_wait_blocked(1);
    assert_int_equal(pool_submit(p, &b.base), POOL_OK);
    assert_int_equal(pool_submit(p, &c.base), POOL_EFULL);
    pool_stats(p, &st);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.depth, 1);
    assert_int_equal(st.capacity, 1);
    /* Retry-After: 1 queued + half of 1 running, at 1 s per unit. */
    assert_int_equal(pool_retry_after(p), 2);
    gate_open();
    wait_idle(p);
    assert_int_equal(a.order, 0);
    assert_int_equal(b.order, 1);
    assert_int_equal(c.order, -1);
    pool_free(p);

    /* Capacity 0: accepted only while a worker is idle. */
    gate_reset();
    next = 0;
    p = pool_new(1, 0, NULL, NULL, NULL);
    tjob_init(&a, 0, 1, &next);
    tjob_init(&d, 1, 0, &next);
    assert_int_equal(pool_submit(p, &a.base), POOL_OK);
    gate_wait_blocked(1);
    assert_int_equal(pool_submit(p, &d.base), POOL_EFULL);
    gate_open();
    pool_free(p);
    assert_int_equal(a.order, 0);
}

static void *free_thread(void *p)
{
    pool_free(p);
    return NULL;
}

static void test_cancel_on_free(void **state)
{
    atomic_int next = 0;
    TJob a, q[3];
    Pool *p;
    (void)state;
    gate_reset();
    p = pool_new(1, 4, NULL, NULL, NULL);
    tjob_init(&a, 0, 1, &next);
    assert_int_equal(pool_submit(p, &a.base), POOL_OK);
    gate_wait_blocked(1);
    for (int i = 0; i < 3; i++) {
        tjob_init(&q[i], i + 1, 0, &next);
        assert_int_equal(pool_submit(p, &q[i].base), POOL_OK);
    }
    /* Free from another thread while the running job is held, then let
     * it go: queued jobs are cancelled, the running one completes. */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_thread, p), 0);
    for (int i = 0; i < 5000 && !q[2].cancelled; i++)
        usleep(1000);
    gate_open();
    pthread_join(t, NULL);
    assert_int_equal(a.order, 0);
    assert_false(a.cancelled);
    for (int i = 0; i < 3; i++) {
        assert_true(q[i].cancelled);
        assert_int_equal(q[i].order, -1);
    }
}

typedef struct Submitter {
    Pool *p;
    TJob jobs[200];
    atomic_int *next;
    int accepted;
} Submitter;

static void *submitter(void *arg)
{
    Submitter *s = arg;
    for (int i = 0; i < 200; i++) {
        tjob_init(&s->jobs[i], i, 0, s->next);
        while (pool_submit(s->p, &s->jobs[i].base) == POOL_EFULL)
            usleep(100);
        s->accepted++;
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    atomic_int next = 0;
    static Submitter subs[4];
    pthread_t t[4];
    Pool *p;
    (void)state;
    p = pool_new(3, 5, ctx_new, ctx_free, NULL);
    assert_non_null(p);
    for (int i = 0; i < 4; i++) {
        subs[i] = (Submitter){.p = p, .next = &next};
        pthread_create(&t[i], NULL, submitter, &subs[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    wait_idle(p);
    pool_free(p);
    assert_int_equal(atomic_load(&next), 800);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 200; j++)
            assert_true(subs[i].jobs[j].order >= 0 && !subs[i].jobs[j].cancelled);
}

static void test_stop_then_submit(void **state)
{
    atomic_int next = 0;
    TJob a, b;
    PoolStats st;
    Pool *p = pool_new(2, 2, ctx_new, ctx_free, NULL);
    (void)state;
    tjob_init(&a, 0, 0, &next);
    assert_int_equal(pool_submit(p, &a.base), POOL_OK);
    pool_stop(p);
    assert_true(a.order == 0 || a.cancelled);  /* ran, or was cancelled, before stop returned */
    tjob_init(&b, 1, 0, &next);
    assert_int_equal(pool_submit(p, &b.base), POOL_ESTOPPED);
    assert_int_equal(b.order, -1);
    pool_stats(p, &st);                       /* still valid */
    assert_int_equal(st.workers, 2);
    pool_stop(p);                             /* idempotent */
    pool_free(p);
}

static void test_bad_args(void **state)
{
    (void)state;
    assert_null(pool_new(0, 1, NULL, NULL, NULL));
    assert_null(pool_new(1, -1, NULL, NULL, NULL));
    pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_contexts),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_cancel_on_free),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_stop_then_submit),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
