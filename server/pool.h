/* pool.h: the inference worker pool: N threads and a bounded FIFO of jobs.
 *
 * The pool knows nothing of images or HTTP: a job is a PoolJob embedded in
 * the caller's own struct, with a function to run it on a worker and one to
 * call instead if the pool stops before running it. Each worker owns a
 * context made by the caller's factory (the inference scratch memory), so
 * nothing a job needs is shared between workers except read-only models.
 * See the DESIGN comment at the top of pool.c.
 */
#ifndef ATELIER_POOL_H
#define ATELIER_POOL_H

typedef struct Pool Pool;
typedef struct PoolJob PoolJob;

/* run: on a worker, with that worker's context. cancel: on the thread
 * calling pool_free(), with ctx NULL, for a job that never ran. Either
 * function ends the pool's use of the job: the pool never touches it
 * afterwards, so the function may free it. */
typedef void (*PoolJobFn)(PoolJob *job, void *ctx);

struct PoolJob {
    PoolJobFn run;
    PoolJobFn cancel;
    double cost;            /* work estimate (megapixels), for Retry-After */
    double t_queued;        /* util_now_s() at submission, set by the pool */
    double t_started;       /* util_now_s() when a worker took it */
    PoolJob *next;          /* the pool's while queued */
};

typedef void *(*PoolCtxNew)(int worker, void *arg);
typedef void (*PoolCtxFree)(void *ctx);

enum { POOL_OK = 0, POOL_EFULL = -1, POOL_ESTOPPED = -2 };

/* Starts workers threads (>= 1) with a queue of capacity waiting jobs
 * (>= 0; 0 = a job is accepted only when a worker is idle). ctx_new is
 * called once per worker before its thread starts and may return NULL only
 * on failure. Returns a new pool, or NULL (and no threads left running);
 * caller frees with pool_free(). */
Pool *pool_new(int workers, int capacity, PoolCtxNew ctx_new, PoolCtxFree ctx_free, void *arg);

/* Stops the pool: from now on pool_submit answers POOL_ESTOPPED; jobs
 * still queued are cancelled (their cancel function runs on this thread);
 * running jobs finish and the threads are joined. The pool stays valid
 * (submit, stats) until pool_free. Idempotent; accepts NULL. */
void pool_stop(Pool *p);

/* pool_stop, then frees the worker contexts and the pool. Accepts NULL. */
void pool_free(Pool *p);

/* Queues job (FIFO). Returns POOL_OK (the pool now owns job until run or
 * cancel), POOL_EFULL when capacity jobs are already waiting, or
 * POOL_ESTOPPED once pool_stop has begun; on error job is untouched. */
int pool_submit(Pool *p, PoolJob *job);

/* Seconds a client refused with 503 should wait: the queued and running
 * work divided among the workers, at the measured seconds per unit of cost.
 * At least 1. */
int pool_retry_after(Pool *p);

typedef struct PoolStats {
    int workers, busy, depth, capacity;
    double seconds_per_cost;    /* moving average of run time / cost */
} PoolStats;
void pool_stats(Pool *p, PoolStats *st);

#endif
