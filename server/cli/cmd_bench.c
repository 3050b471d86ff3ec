/* cmd_bench.c: `atelier bench`, timing the engine on one model and size.
 * Human-readable lines go to stderr; the last stdout line is one JSON object
 * (ms_median, GFLOP/s, peak RSS) that tools/bench/ scripts read. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "engine/stylize.h"
#include "server/cli/cli.h"
#include "engine/util.h"

static const char bench_usage[] =
    "usage: atelier bench --model M [--size N|WxH] [--threads T] [--runs R]\n"
    "                     [--warmup W] [--layers] [--mem-budget MB] [--models DIR]\n"
    "\n"
    "Times the forward pass of model M (a NAME, a .safetensors file or an ml5\n"
    "folder) on an N x N input (default 512) with T engine threads (default:\n"
    "all cores): W warm-up runs (default 1), then R timed runs (default 5).\n"
    "--layers prints each layer's mean time over the timed runs to stderr.\n"
    "--mem-budget MB runs the banded forward within MB when the whole-image\n"
    "plan would need more (as stylize does).\n"
    "Prints one JSON line last: ms_median, ms_min, ms_mean, cpu_ms_median (CPU\n"
    "time of the process per run: all threads, spinning included), gflop, gflops,\n"
    "peak_rss_mb (this process's high-water mark, VmHWM), plan_mb.\n"
    "atelier bench --train --help: timing a training step.\n";

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int parse_size(const char *s, int *w, int *h)
{
    long a, b;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    char *x = strchr(buf, 'x');
    if (x) {
        *x = '\0';
        if (cli_parse_int(buf, 1, 65536, &a) || cli_parse_int(x + 1, 1, 65536, &b))
            return -1;
    } else if (cli_parse_int(buf, 1, 65536, &a)) {
        return -1;
    } else {
        b = a;
    }
    *w = (int)a;
    *h = (int)b;
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--train"))
            return cmd_bench_train(argc, argv);
    static const struct option opts[] = {
        { "models", required_argument, 0, 'M' }, { "model", required_argument, 0, 'm' },
        { "size", required_argument, 0, 's' }, { "threads", required_argument, 0, 't' },
        { "runs", required_argument, 0, 'r' }, { "warmup", required_argument, 0, 'w' },
        { "layers", no_argument, 0, 'L' }, { "mem-budget", required_argument, 0, 'B' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    const char *models = NULL, *model = NULL;
    long threads = cli_cores(), runs = 5, warmup = 1;
    int w = 512, h = 512, c, layers = 0;
    long budget_mb = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'M': models = optarg; break;
        case 'm': model = optarg; break;
        case 's':
            if (parse_size(optarg, &w, &h))
                return fprintf(stderr, "atelier bench: --size takes N or WxH\n"), 2;
            break;
        case 't':
            if (cli_parse_int(optarg, 1, 256, &threads))
                return fprintf(stderr, "atelier bench: --threads takes 1..256\n"), 2;
            break;
        case 'r':
            if (cli_parse_int(optarg, 1, 10000, &runs))
                return fprintf(stderr, "atelier bench: --runs takes 1..10000\n"), 2;
            break;
        case 'w':
            if (cli_parse_int(optarg, 0, 1000, &warmup))
                return fprintf(stderr, "atelier bench: --warmup takes 0..1000\n"), 2;
            break;
        case 'L': layers = 1; break;
        case 'B':
            if (cli_parse_int(optarg, 16, 1 << 20, &budget_mb))
                return fprintf(stderr, "atelier bench: --mem-budget takes 16..1048576 (MB)\n"), 2;
            break;
        case 'h': fputs(bench_usage, stdout); return 0;
        default: fputs(bench_usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(bench_usage, stderr);
        return 2;
    }
    char what[4200];
    Net *net = cli_load_model(cli_models_dir(models), model, what, sizeof(what));
    if (!net)
        return 1;
    int rc = 1, code;
    char err[256];
    double *ms = malloc((size_t)runs * sizeof(double));
    double *cpu = malloc((size_t)runs * sizeof(double));
    /* The runner stylize and the service use: the whole-image plan, or
     * bands within --mem-budget (no limit without it). */
    StylizeRun *run = stylize_run_new(net, h, w, budget_mb ? (size_t)budget_mb << 20 : SIZE_MAX,
                                      (int)threads, &code, err, sizeof err);
    NetPlan *plan = run ? stylize_run_plan(run) : NULL;
    const NetTiled *tiled = run ? stylize_run_tiled(run) : NULL;
    if (tiled)
        fprintf(stderr, "atelier bench: banded, %d sweeps of %d bands in %.0f MB\n",
                net_tiled_sweeps(tiled), net_tiled_bands(tiled),
                net_tiled_bytes(tiled) / 1048576.0);
    if (!run || !ms || !cpu) {
        fprintf(stderr, "atelier bench: cannot plan %dx%d: %s\n", w, h,
                run ? "out of memory" : err);
        goto out;
    }
    float *in = stylize_run_input(run);
    uint32_t seed = 12345;
    for (size_t i = 0; i < (size_t)3 * w * h; i++) {
        seed = seed * 1664525u + 1013904223u;
        in[i] = (float)(seed >> 24);
    }
    for (long i = 0; i < warmup + runs; i++) {
        if (layers && plan && i == warmup && net_plan_set_profile(plan, 1)) {
            fprintf(stderr, "atelier bench: out of memory\n");
            goto out;
        }
        double t0 = (util_now_s() * 1e3), c0 = cpu_ms();
        if (stylize_run_forward(run)) {
            fprintf(stderr, "atelier bench: the forward pass failed\n");
            goto out;
        }
        if (i >= warmup) {
            ms[i - warmup] = (util_now_s() * 1e3) - t0;
            cpu[i - warmup] = cpu_ms() - c0;
        }
    }
    double sum = 0;
    for (long i = 0; i < runs; i++)
        sum += ms[i];
    double median = cli_median(ms, runs);
    double cpu_median = cli_median(cpu, runs);
    double gflop = net_flops(net, h, w) / 1e9;
    const char *lname;
    double lms;
    for (int i = 0; layers && plan && net_plan_profile_step(plan, i, &lname, &lms) == 0; i++)
        if (lms >= 0.05)
            fprintf(stderr, "  %-24s %9.2f ms\n", lname, lms);
    fprintf(stderr, "atelier bench: %s %dx%d threads=%ld: median %.1f ms, %.1f GFLOP/s\n",
            what, w, h, threads, median, gflop / (median / 1e3));
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
        "model", what, "width", w, "height", h, "threads", (int)threads, "runs", (int)runs,
        "ms_median", median, "ms_min", ms[0], "cpu_ms_median", cpu_median, "ms_mean", sum / runs, "gflop", gflop,
        "gflops", gflop / (median / 1e3), "peak_rss_mb", util_peak_rss_mb(),
        "plan_mb", (plan ? net_plan_bytes(plan) : net_tiled_bytes(tiled)) / 1048576.0);
    char *line = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    if (line)
        printf("%s\n", line);
    free(line);
    json_decref(j);
    rc = line ? 0 : 1;
out:
    stylize_run_free(run);
    free(ms);
    free(cpu);
    net_free(net);
    return rc;
}
