/* cmd_bench_train.c: `atelier bench --train`, timing one training step (a
 * generator and a discriminator step) of the CycleGAN pair or the fast-style
 * generator against a PatchGAN, on synthetic data. The last stdout line is
 * one JSON object with ms_median per step, as tools/bench/train_vs_torch.py
 * reads. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <jansson.h>
#include "engine/rng.h"
#include "engine/train/train_opts.h"
#include "engine/train/trainer.h"
#include "server/cli/cli.h"
#include "engine/util.h"

static const char usage[] =
    "usage: atelier bench --train [--arch resnet9|fast] [--size N] [--batch B]\n"
    "                     [--threads T] [--runs R] [--warmup W] [--ndf N]\n"
    "                     [--full]\n"
    "\n"
    "Times one training step: G forward, D forward on the fake, G backward\n"
    "through D (LSGAN), Adam on G; D backward on fake and real, Adam on D.\n"
    "resnet9 is CycleGAN's ResNet-9 generator (ngf 64); fast the fast-style\n"
    "generator (width 32, resize-conv). D is the 70x70 PatchGAN (ndf 64,\n"
    "instance norm). --full adds the content, structure and style losses of\n"
    "the recipe (the trainer's defaults).\n"
    "Defaults: resnet9, 256, batch 1, all cores, 5 runs after 1 warm-up.\n"
    "Prints one JSON line last: ms_median, ms_min, ms_mean, peak_rss_mb and\n"
    "estimate_mb, the trainer's own estimate of what it holds (what POST /train\n"
    "checks against --train-mem-mb).\n";

int cmd_bench_train(int argc, char **argv)
{
    static const struct option opts[] = {
        { "train", no_argument, 0, 'T' }, { "arch", required_argument, 0, 'a' },
        { "size", required_argument, 0, 's' }, { "batch", required_argument, 0, 'b' },
        { "threads", required_argument, 0, 't' }, { "runs", required_argument, 0, 'r' },
        { "warmup", required_argument, 0, 'w' }, { "ndf", required_argument, 0, 'd' },
        { "full", no_argument, 0, 'f' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    TrainConfig cfg;
    train_opts_defaults(&cfg);
    cfg.arch = TRAIN_ARCH_RESNET9;
    cfg.ndf = 64;
    /* The GAN alone (what tools/bench/train_vs_torch.py's peer runs);
     * --full puts back the recipe's (the defaults') other losses. */
    const float recipe_content = cfg.w_content, recipe_style = cfg.w_style,
                recipe_structure = cfg.w_structure;
    cfg.w_content = cfg.w_style = cfg.w_structure = 0;
    long threads = cli_cores(), runs = 5, warmup = 1, v;
    int full = 0, c, bad;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bad = 0;
        switch (c) {
        case 'T': break;
        case 'a':
            bad = strcmp(optarg, "resnet9") && strcmp(optarg, "fast");
            cfg.arch = strcmp(optarg, "fast") ? TRAIN_ARCH_RESNET9 : TRAIN_ARCH_FAST;
            break;
        case 's': bad = cli_parse_int(optarg, 32, 2048, &v); cfg.size = (int)v; break;
        case 'b': bad = cli_parse_int(optarg, 1, 64, &v); cfg.batch = (int)v; break;
        case 't': bad = cli_parse_int(optarg, 1, 256, &threads); break;
        case 'r': bad = cli_parse_int(optarg, 1, 10000, &runs); break;
        case 'w': bad = cli_parse_int(optarg, 0, 1000, &warmup); break;
        case 'd': bad = cli_parse_int(optarg, 1, 512, &v); cfg.ndf = (int)v; break;
        case 'f': full = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
        if (bad)
            return fprintf(stderr, "atelier bench: bad value '%s'\n", optarg), 2;
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (full) {
        cfg.w_content = recipe_content;
        cfg.w_style = recipe_style;
        cfg.w_structure = recipe_structure;
    }
    char err[256];
    Trainer *t = trainer_new_synthetic(&cfg, (int)threads, err, sizeof(err));
    size_t n = (size_t)cfg.batch * 3 * cfg.size * cfg.size;
    float *photos = malloc(n * sizeof(float)), *real = malloc(n * sizeof(float));
    double *ms = malloc((size_t)runs * sizeof(double));
    int rc = 1;
    if (!t || !photos || !real || !ms) {
        fprintf(stderr, "atelier bench: %s\n", t ? "out of memory" : err);
        goto out;
    }
    Rng r = rng_seed(7);
    for (size_t i = 0; i < n; i++) {
        photos[i] = (float)(255 * rng_uniform(&r));
        real[i] = (float)(255 * rng_uniform(&r));
    }
    TrainProgress p;
    for (long i = 0; i < warmup + runs; i++) {
        double t0 = (util_now_s() * 1e3);
        trainer_step(t, photos, real, &p);
        if (i >= warmup)
            ms[i - warmup] = (util_now_s() * 1e3) - t0;
    }
    double sum = 0;
    for (long i = 0; i < runs; i++)
        sum += ms[i];
    double median = cli_median(ms, runs);
    const char *arch = cfg.arch == TRAIN_ARCH_RESNET9 ? "resnet9" : "fast";
    fprintf(stderr, "atelier bench --train: %s + patchgan ndf %d, %dx%d batch %d, threads=%ld: "
            "median %.1f ms per step\n", arch, cfg.ndf, cfg.size, cfg.size, cfg.batch, threads,
            median);
    size_t estimate = 0;
    char eerr[256];
    double peak_mb = util_peak_rss_mb();     /* before the estimate builds its own */
    if (trainer_estimate_bytes(&cfg, (int)threads, &estimate, eerr, sizeof eerr))
        fprintf(stderr, "atelier bench --train: no estimate: %s\n", eerr);
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:b, s:f, s:f, s:f, s:f, s:f}",
        "arch", arch, "size", cfg.size, "batch", cfg.batch, "threads", (int)threads,
        "runs", (int)runs, "ndf", cfg.ndf, "full", full, "ms_median", median, "ms_min", ms[0],
        "ms_mean", sum / runs, "peak_rss_mb", peak_mb,
        "estimate_mb", estimate / 1048576.0);
    char *line = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    if (line)
        printf("%s\n", line);
    free(line);
    json_decref(j);
    rc = line ? 0 : 1;
out:
    trainer_free(t);
    free(photos);
    free(real);
    free(ms);
    return rc;
}
