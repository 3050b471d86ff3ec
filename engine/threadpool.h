/* threadpool.h: a fixed team of threads that runs one parallel loop at a
 * time, for the engine's forward pass.
 *
 * A pool of n threads is the caller plus n-1 workers. threadpool_run()
 * hands out task indices 0..ntasks-1 (each runs exactly once, on some
 * thread; the thread index 0..n-1 tells a task which private workspace
 * slice to use) and returns when all have finished, so the caller sees
 * every task's writes. One pool serves one caller at a time: a NetPlan owns
 * its pool, which is how two requests can each run on their own thread
 * while a third uses two.
 *
 * OpenBLAS is kept single-threaded: the first pool created sets it to one
 * thread for the process, since the pool's tasks call it and split every
 * layer themselves (its own threads would only oversubscribe the cores).
 */
#ifndef ATELIER_THREADPOOL_H
#define ATELIER_THREADPOOL_H

typedef struct ThreadPool ThreadPool;

#define THREADPOOL_MAX 64

/* The size a pool asked for n threads has: n clamped to 1..THREADPOOL_MAX.
 * Plans size their per-thread workspace by it before they make the pool. */
int threadpool_clamp(int n);

/* fn(ctx, task, thread): one task; thread is in [0, threadpool_size()). */
typedef void (*ThreadTaskFn)(void *ctx, int task, int thread);

/* Starts n-1 worker threads (n is threadpool_clamp()ed). Returns a new pool, or
 * NULL when a thread cannot be started (none are left running). Caller
 * frees with threadpool_free(). */
ThreadPool *threadpool_create(int n);
/* Stops and joins the workers. Accepts NULL. */
void threadpool_free(ThreadPool *tp);
/* Threads in the pool, caller included; 1 for NULL. */
int threadpool_size(const ThreadPool *tp);
/* Runs fn for every task in [0, ntasks) and waits for all of them. With a
 * NULL pool or one thread it runs them in order on the caller. Not
 * reentrant: a task must not call threadpool_run on the same pool. */
void threadpool_run(ThreadPool *tp, ThreadTaskFn fn, void *ctx, int ntasks);

#endif
