/* cmd_serve.c: `atelier serve`: wires config, registry, worker pool and
 * HTTP together, and owns the process's signals and shutdown.
 *
 * DESIGN
 * ------
 * Threads: this (main) thread, libmicrohttpd's polling thread (http.c),
 * the pool's workers (pool.c), the repository watch (watch.c), the
 * training runners (jobq.c), the engine's pools of the plans they make
 * (--engine-threads each, engine/threadpool.c), and OpenBLAS's own threads
 * (started at load, idle: the pools keep it single-threaded). SIGTERM, SIGINT and SIGHUP may land on
 * any of them; the handler only writes the signal's number into a pipe,
 * which the main thread reads (the self-pipe trick), so shutdown logic
 * never runs inside a handler.
 *
 * Start: parse config, open the registry (a scan, no loading), start the
 * workers, start HTTP, print the "listening" line (and --port-file), then
 * load the models on this thread: /healthz answers at once, /readyz once
 * the default model is loaded. Then the repository watch (watch.c) starts
 * its thread; from then on versions written into the repository are
 * swapped in as they appear. With a token, the job queue (jobq.c) is
 * opened before HTTP starts: it reads <data>/jobs and starts the jobs left
 * queued or interrupted. Without one, /train is refused (403) and <data>
 * is never touched.
 *
 * Shutdown (SIGTERM or SIGINT): /readyz turns 503 and answers carry
 * "Connection: close"; the listening socket is closed (MHD_quiesce_daemon);
 * requests in flight, queued ones included, get --drain-seconds to finish.
 * Then the pool stops (jobs still queued are answered 503), the daemon
 * stops, and the process exits 0. A second signal cuts the wait short.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/cli/cli.h"
#include "server/config.h"
#include "server/http.h"
#include "server/infer.h"
#include "server/jobq.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "server/pool.h"
#include "server/registry.h"
#include "server/routes.h"
#include "server/watch.h"
#include "engine/util.h"

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

static void *worker_new(int index, void *arg)
{
    const Config *cfg = arg;
    return infer_worker_new((size_t)cfg->mem_budget_bytes, cfg->engine_threads);
}

static void worker_free(void *ctx)
{
    infer_worker_free(ctx);
}

/* Writes the port to path atomically, so a reader never sees an empty file. */
static int write_port_file(const char *path, int port)
{
    char text[16];
    int n = snprintf(text, sizeof text, "%d\n", port);
    return util_write_atomic(path, text, (size_t)n, NULL, 0);
}

/* Signals reach whichever thread does not block them, OpenBLAS's threads
 * (started before main) included, so they are caught by a handler that only
 * writes the signal number into a pipe; the main thread reads it. */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;
    (void)!write(signal_pipe[1], &b, 1);
    errno = saved;
}

static int catch_signals(void)
{
    struct sigaction sa;
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK))
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
        sigaction(SIGHUP, &sa, NULL))
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Waits up to seconds (< 0: forever) for a signal. Returns it, or 0. */
static int wait_signal(double seconds)
{
    struct pollfd p = {signal_pipe[0], POLLIN, 0};
    unsigned char b;
    int ms = seconds < 0 ? -1 : (int)(seconds * 1000);
    if (poll(&p, 1, ms) <= 0 || read(signal_pipe[0], &b, 1) != 1)
        return 0;
    return b;
}

static void drain(RoutesCtx *ctx, Http *http, int deadline_s)
{
    double end = util_now_s() + deadline_s;
    int left;
    atomic_store(&ctx->draining, 1);
    http_quiesce(http);
    log_write("info", "draining", "{s:i, s:i}", "inflight", atomic_load(&ctx->inflight),
              "deadline_s", deadline_s);
    while ((left = atomic_load(&ctx->inflight)) > 0 && util_now_s() < end) {
        int sig = wait_signal(0.05);
        if (sig == SIGTERM || sig == SIGINT) {
            log_write("warn", "second signal: stopping now", "{s:i}", "inflight", left);
            return;
        }
    }
    if (left > 0)
        log_write("warn", "drain deadline passed", "{s:i}", "inflight", left);
}

int cmd_serve(int argc, char **argv)
{
    Config cfg;
    char err[512];
    Registry *reg = NULL;
    Metrics *metrics = NULL;
    Pool *pool = NULL;
    Http *http = NULL;
    Watch *watch = NULL;
    Jobq *jobq = NULL;
    RoutesCtx ctx;
    int rc = config_parse(&cfg, argc, argv, env_lookup, err, sizeof err), status = 1, sig;

    if (rc == CONFIG_HELP) {
        config_usage(stdout);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "atelier serve: %s\n(atelier serve --help lists the options)\n", err);
        return 2;
    }
    if (catch_signals()) {
        fprintf(stderr, "atelier serve: cannot install signal handlers\n");
        return 1;
    }

    memset(&ctx, 0, sizeof ctx);
    if (!(metrics = metrics_new())) {
        log_write("error", "out of memory", NULL);
        goto done;
    }
    if (!(reg = registry_open(cfg.models, cfg.default_model, err, sizeof err))) {
        log_write("error", "cannot open the model repository", "{s:s}", "error", err);
        goto done;
    }
    if (!registry_default(reg))
        log_write("warn", "no models in the repository: /readyz stays 503", "{s:s}", "models",
                  cfg.models);
    pool = pool_new(cfg.workers, cfg.queue, worker_new, worker_free, &cfg);
    if (!pool) {
        log_write("error", "cannot start the workers", "{s:i}", "workers", cfg.workers);
        goto done;
    }
    ctx.cfg = &cfg;
    ctx.reg = reg;
    ctx.pool = pool;
    ctx.metrics = metrics;
    ctx.openapi = openapi_text();
    ctx.openapi_len = openapi_len();
    atomic_init(&ctx.draining, 0);
    atomic_init(&ctx.inflight, 0);
    atomic_init(&ctx.upload_reserved, 0);
    if (cfg.token[0]) {      /* without a token /train is refused anyway */
        JobqConfig jc = {cfg.data, cfg.content, cfg.train_queue, cfg.train_jobs,
                         cfg.engine_threads, cfg.train_nice, cfg.train_mem_bytes,
                         cfg.train_max_crashes, cfg.train_retention_s, cfg.max_pixels,
                         (int64_t)cfg.train_upload_mpixels * 1000000,
                         {cfg.gate_min_edges / 100.0, cfg.gate_min_spread / 100.0,
                          cfg.gate_style_slack / 100.0, cfg.gate_strokes_slack / 100.0,
                          cfg.gate_photos, cfg.gate_size}};
        if (!(jobq = jobq_open(&jc, reg, err, sizeof err)))
            log_write("error", "training is unavailable", "{s:s}", "error", err);
        ctx.jobq = jobq;
    }
    if (!(http = http_start(&ctx, &cfg, err, sizeof err))) {
        log_write("error", "cannot start HTTP", "{s:s}", "error", err);
        goto done;
    }
    log_write("info", "listening", "{s:i, s:s, s:s, s:i, s:i, s:i, s:b}", "port",
              http_port(http), "host", cfg.host, "models", cfg.models, "workers", cfg.workers,
              "engine_threads", cfg.engine_threads, "queue", cfg.queue, "token", cfg.token[0] != 0);
    if (cfg.port_file[0] && write_port_file(cfg.port_file, http_port(http)))
        log_write("error", "cannot write the port file", "{s:s}", "path", cfg.port_file);

    registry_load_all(reg);
    if (registry_ready(reg))
        log_write("info", "ready", "{s:s}", "default_model", registry_default(reg));
    if (!(watch = watch_start(reg, cfg.rescan_ms, err, sizeof err)))
        log_write("error", "the repository is not watched", "{s:s}", "error", err);

    while ((sig = wait_signal(-1)) != SIGTERM && sig != SIGINT)
        if (sig == SIGHUP)
            log_write("info", "SIGHUP ignored", NULL);
    log_write("info", "signal", "{s:s}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    drain(&ctx, http, cfg.drain_s);
    status = 0;
done:
    /* The pool stops first: it answers (and resumes) every job still queued
     * and waits for the running ones, so no suspended connection is left
     * when the daemon stops; the HTTP thread may still submit meanwhile, and
     * is told 503. The answers get a moment to leave. */
    watch_stop(watch);
    pool_stop(pool);
    for (double end = util_now_s() + 1.0;
         http && atomic_load(&ctx.inflight) > 0 && util_now_s() < end;)
        wait_signal(0.01);
    http_stop(http);
    /* No request can reach the queue now: a running job finishes its step,
     * checkpoints and stays resumable. */
    jobq_close(jobq);
    pool_free(pool);
    registry_free(reg);
    metrics_free(metrics);
    if (status == 0)
        log_write("info", "stopped", NULL);
    return status;
}
