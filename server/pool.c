/* pool.c: inference worker threads and their bounded job queue.
 *
 * DESIGN
 * ------
 * Threads: `workers` threads, started by pool_new and joined by pool_stop.
 * They run jobs and nothing else; the HTTP thread only submits.
 *
 * Lock: one mutex guards the queue, the counters and the cost estimate; one
 * condition variable wakes idle workers. A job's run/cancel function is
 * always called without the lock held.
 *
 * Queue order: FIFO, a singly linked list of PoolJob threaded through
 * job->next (the jobs live in the callers' request state; the queue
 * allocates nothing). A job is accepted while the number of unclaimed jobs
 * is below `capacity` plus the number of idle workers, so `capacity` counts
 * the jobs that really wait. Beyond that pool_submit fails at once
 * (POOL_EFULL), never blocks: the caller answers 503.
 *
 * Ownership: the caller owns the job; the pool borrows it from a successful
 * pool_submit until it calls job->run (on a worker) or job->cancel (from
 * pool_stop), and never touches it after that call starts. Whoever run or
 * cancel hands the job to (the HTTP layer, by resuming the connection)
 * frees it.
 *
 * Retry-After: the pool times each run and keeps a moving average of
 * seconds per unit of cost (cost = megapixels inferred); the wait it
 * advertises is the cost queued plus half the cost running, times that
 * rate, shared among the workers.
 *
 * Cores: by default one worker per core and one engine thread per forward
 * pass (--workers, --engine-threads; config.c). The engine's threads are
 * OpenBLAS's, a process-wide setting, so "both cores for one request when
 * idle, one each under load" cannot be switched per request safely; of the
 * fixed shares, measured with tools/bench/load.py on the ml5 wave network,
 * 2 cores, mean latency for 1 client and images/s for 4 (best of 3
 * interleaved runs on a box shared with other jobs):
 *
 *                         256x256          512x512       CPU s/image
 *                      1 client  4 cl.  1 client  4 cl.  (512x512)
 *   1 worker x 2 thr.   746 ms   1.35   2191 ms   0.40      2.26
 *   2 workers x 1 thr.  514 ms   2.23   1775 ms   0.52      2.04
 *   2 workers x 2 thr.  451 ms   1.68   2033 ms   0.46      2.41
 *
 * and, with the box nearly idle, 1x2 against 2x1: 381 vs 436 ms (256, one
 * client), 1666 vs 1901 ms (512), 1.95 vs 2.36 images/s (256, 4 clients).
 * A second BLAS thread only speeds up the GEMMs (im2col, instance norm and
 * activations stay on one core), spins while waiting, and suffers most when
 * the cores are shared; two single-threaded workers give 20-60% more
 * throughput under load for about 12% more latency on an idle machine.
 * For the lowest latency on a dedicated, mostly idle machine, run
 * --workers 1 --engine-threads 2.
 */
#include "server/pool.h"
#include "engine/util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct Worker {
    Pool *pool;
    pthread_t thread;
    void *ctx;
    int started;
} Worker;

struct Pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    PoolJob *head, *tail;
    int depth, capacity, busy, nworkers;
    int stopping;                   /* no more jobs accepted */
    int stopped;                    /* workers joined */
    double queued_cost, running_cost;
    double spc;                     /* seconds per unit of cost */
    PoolCtxFree ctx_free;
    Worker *workers;
};

/* Before the first measurement: a conservative guess of 1 s per megapixel
 * (a Johnson-style generator on one core is well under that). */
#define INITIAL_SPC 1.0

static void *worker_main(void *arg)
{
    Worker *w = arg;
    Pool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        PoolJob *job;
        double cost, t0, dt;
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->wake, &p->lock);
        if (!p->head)
            break;
        job = p->head;
        p->head = job->next;
        if (!p->head)
            p->tail = NULL;
        p->depth--;
        p->busy++;
        cost = job->cost;
        p->queued_cost -= cost;
        p->running_cost += cost;
        pthread_mutex_unlock(&p->lock);

        t0 = util_now_s();
        job->t_started = t0;
        job->next = NULL;
        job->run(job, w->ctx);          /* job may be gone after this */
        dt = util_now_s() - t0;

        pthread_mutex_lock(&p->lock);
        p->busy--;
        p->running_cost -= cost;
        if (p->depth == 0 && p->busy == 0)
            p->queued_cost = p->running_cost = 0;   /* no drift from rounding */
        if (cost > 1e-3)
            p->spc = 0.8 * p->spc + 0.2 * (dt / cost);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

Pool *pool_new(int workers, int capacity, PoolCtxNew ctx_new, PoolCtxFree ctx_free, void *arg)
{
    Pool *p;
    if (workers < 1 || capacity < 0)
        return NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->capacity = capacity;
    p->spc = INITIAL_SPC;
    p->ctx_free = ctx_free;
    p->workers = calloc((size_t)workers, sizeof *p->workers);
    if (!p->workers)
        goto fail_alloc;
    if (pthread_mutex_init(&p->lock, NULL))
        goto fail_alloc;
    if (pthread_cond_init(&p->wake, NULL)) {
        pthread_mutex_destroy(&p->lock);
        goto fail_alloc;
    }
    for (int i = 0; i < workers; i++) {
        Worker *w = &p->workers[i];
        w->pool = p;
        p->nworkers = i + 1;
        if (ctx_new && !(w->ctx = ctx_new(i, arg)))
            goto fail;
        if (pthread_create(&w->thread, NULL, worker_main, w))
            goto fail;
        w->started = 1;
    }
    return p;
fail:
    pool_free(p);
    return NULL;
fail_alloc:
    free(p->workers);
    free(p);
    return NULL;
}

void pool_stop(Pool *p)
{
    PoolJob *job;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->stopped) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->stopping = 1;
    job = p->head;
    p->head = p->tail = NULL;
    p->depth = 0;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    while (job) {
        PoolJob *next = job->next;
        job->next = NULL;
        if (job->cancel)
            job->cancel(job, NULL);
        job = next;
    }
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].started)
            pthread_join(p->workers[i].thread, NULL);
    pthread_mutex_lock(&p->lock);
    p->stopped = 1;
    pthread_mutex_unlock(&p->lock);
}

void pool_free(Pool *p)
{
    if (!p)
        return;
    pool_stop(p);
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].ctx && p->ctx_free)
            p->ctx_free(p->workers[i].ctx);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p);
}

int pool_submit(Pool *p, PoolJob *job)
{
    int rc = POOL_OK;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        rc = POOL_ESTOPPED;
    } else if (p->depth >= p->capacity + (p->nworkers - p->busy)) {
        rc = POOL_EFULL;
    } else {
        job->next = NULL;
        job->t_queued = util_now_s();
        job->t_started = 0;
        if (p->tail)
            p->tail->next = job;
        else
            p->head = job;
        p->tail = job;
        p->depth++;
        p->queued_cost += job->cost;
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int pool_retry_after(Pool *p)
{
    double s;
    pthread_mutex_lock(&p->lock);
    s = (p->queued_cost + 0.5 * p->running_cost) * p->spc / p->nworkers;
    pthread_mutex_unlock(&p->lock);
    if (!(s >= 1))          /* also catches NaN */
        return 1;
    return s > 3600 ? 3600 : (int)ceil(s);
}

void pool_stats(Pool *p, PoolStats *st)
{
    pthread_mutex_lock(&p->lock);
    st->workers = p->nworkers;
    st->busy = p->busy;
    st->depth = p->depth;
    st->capacity = p->capacity;
    st->seconds_per_cost = p->spc;
    pthread_mutex_unlock(&p->lock);
}
