/* threadpool.c: the engine's thread team (threadpool.h).
 *
 * DESIGN. Threads: the caller of threadpool_run() and n-1 workers started
 * by threadpool_create(). Lock: one mutex guards the job fields and the two
 * condition variables; the hot fields are atomics. A job is published by
 * storing fn/ctx/ntasks, resetting the task counter and bumping the
 * generation (release); workers notice the new generation (acquire), take
 * task indices with an atomic fetch-add until they run out, and the last
 * one to finish wakes the caller. Waiting spins briefly first (layers run
 * back to back, and a futex wake costs more than the gap between them),
 * then sleeps on a condition variable so an idle pool costs nothing.
 * Shutdown: threadpool_free() sets stop, bumps the generation and joins.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "engine/threadpool.h"
#include "engine/util.h"

#define SPIN_ITERS 4000

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

struct ThreadPool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    atomic_uint gen;
    atomic_int next;
    atomic_int busy;       /* workers not yet done with the current job */
    atomic_int stop;
    atomic_int running;    /* in threadpool_run (checked: not reentrant) */
    ThreadTaskFn fn;
    void *ctx;
    int ntasks;
};

typedef struct WorkerArg {
    ThreadPool *tp;
    int id;
} WorkerArg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_tasks(ThreadPool *tp, int id)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&tp->next, 1, memory_order_relaxed);
        if (t >= tp->ntasks)
            break;
        tp->fn(tp->ctx, t, id);
    }
}

static void *worker_main(void *p)
{
    WorkerArg *arg = p;
    ThreadPool *tp = arg->tp;
    int id = arg->id;
    free(arg);
    unsigned seen = 0;     /* the generation at creation: no job has run yet */
    for (;;) {
        unsigned g = seen;
        for (int i = 0; i < SPIN_ITERS; i++) {
            g = atomic_load_explicit(&tp->gen, memory_order_acquire);
            if (g != seen)
                break;
            cpu_relax();
        }
        if (g == seen) {
            pthread_mutex_lock(&tp->mu);
            while ((g = atomic_load_explicit(&tp->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&tp->start_cv, &tp->mu);
            pthread_mutex_unlock(&tp->mu);
        }
        seen = g;
        if (atomic_load(&tp->stop))
            return NULL;
        run_tasks(tp, id);
        if (atomic_fetch_sub_explicit(&tp->busy, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&tp->mu);
            pthread_cond_signal(&tp->done_cv);
            pthread_mutex_unlock(&tp->mu);
        }
    }
}

/* The pools' tasks call OpenBLAS, so OpenBLAS itself stays single-threaded. */
static void blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

int threadpool_clamp(int n)
{
    return n < 1 ? 1 : n > THREADPOOL_MAX ? THREADPOOL_MAX : n;
}

ThreadPool *threadpool_create(int n)
{
    pthread_once(&blas_once, blas_single_thread);
    n = threadpool_clamp(n);
    ThreadPool *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return NULL;
    tp->n = 1;
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->start_cv, NULL);
    pthread_cond_init(&tp->done_cv, NULL);
    tp->threads = calloc((size_t)n, sizeof(pthread_t));
    if (!tp->threads)
        goto fail;
    for (int i = 1; i < n; i++) {
        WorkerArg *arg = malloc(sizeof(*arg));
        if (!arg)
            goto fail;
        arg->tp = tp;
        arg->id = i;
        if (pthread_create(&tp->threads[i], NULL, worker_main, arg)) {
            free(arg);
            goto fail;
        }
        tp->n = i + 1;
    }
    return tp;
fail:
    threadpool_free(tp);
    return NULL;
}

void threadpool_free(ThreadPool *tp)
{
    if (!tp)
        return;
    pthread_mutex_lock(&tp->mu);
    atomic_store(&tp->stop, 1);
    atomic_fetch_add_explicit(&tp->gen, 1, memory_order_release);
    pthread_cond_broadcast(&tp->start_cv);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 1; i < tp->n; i++)
        pthread_join(tp->threads[i], NULL);
    pthread_cond_destroy(&tp->start_cv);
    pthread_cond_destroy(&tp->done_cv);
    pthread_mutex_destroy(&tp->mu);
    free(tp->threads);
    free(tp);
}

int threadpool_size(const ThreadPool *tp)
{
    return tp ? tp->n : 1;
}

void threadpool_run(ThreadPool *tp, ThreadTaskFn fn, void *ctx, int ntasks)
{
    if (ntasks <= 0)
        return;
    if (!tp || tp->n == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    UTIL_ASSERT(atomic_exchange(&tp->running, 1) == 0);
    pthread_mutex_lock(&tp->mu);
    tp->fn = fn;
    tp->ctx = ctx;
    tp->ntasks = ntasks;
    atomic_store_explicit(&tp->next, 0, memory_order_relaxed);
    atomic_store_explicit(&tp->busy, tp->n - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&tp->gen, 1, memory_order_release);
    pthread_cond_broadcast(&tp->start_cv);
    pthread_mutex_unlock(&tp->mu);
    run_tasks(tp, 0);
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(&tp->busy, memory_order_acquire) == 0) {
            atomic_store(&tp->running, 0);
            return;
        }
        cpu_relax();
    }
    pthread_mutex_lock(&tp->mu);
    while (atomic_load_explicit(&tp->busy, memory_order_acquire) != 0)
        pthread_cond_wait(&tp->done_cv, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
    atomic_store(&tp->running, 0);
}
