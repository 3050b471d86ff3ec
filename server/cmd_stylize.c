/* cmd_stylize.c: `atelier stylize`, one image through a model, no server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/image.h"
#include "engine/net.h"
#include "engine/stylize.h"
#include "server/cli.h"

#define STYLIZE_MAX_PIXELS ((int64_t)1 << 28)   /* 268 Mpx: 16384 x 16384 */
#define STYLIZE_DEFAULT_BUDGET_MB 700

static const char stylize_usage[] =
    "usage: atelier stylize [OPTIONS] IN OUT\n"
    "\n"
    "Paints IN (JPEG or PNG) in a model's style and writes OUT; OUT's extension\n"
    "(.jpg, .jpeg, .png) picks the format.\n"
    "\n"
    "  --models DIR      model repository (default: $ATELIER_MODELS, else the\n"
    "                    models/ that ships)\n"
    "  --model M         a model NAME in the repository, a .safetensors file, or\n"
    "                    an ml5 checkpoint folder (default: the default model)\n"
    "  --max-size N      shrink so the long side is at most N pixels first\n"
    "                    (default 1024; 0 keeps the size)\n"
    "  --threads T       engine threads (default: all cores)\n"
    "  --mem-budget MB   working memory for the network (default 700): an image\n"
    "                    whose whole-image plan needs more runs in overlapping\n"
    "                    bands within MB (same result, slower)\n"
    "  --strength A      blend with the photo: 0 = the photo, 1 = fully styled\n"
    "                    (default 1)\n"
    "  --preserve-colors keep the photo's colours, restyle its luminance only\n"
    "  --quality Q       JPEG quality 1..100 (default 92)\n";

int cmd_stylize(int argc, char **argv)
{
    static const struct option opts[] = {
        { "models", required_argument, 0, 'M' }, { "model", required_argument, 0, 'm' },
        { "max-size", required_argument, 0, 's' }, { "threads", required_argument, 0, 't' },
        { "quality", required_argument, 0, 'q' }, { "mem-budget", required_argument, 0, 'B' },
        { "strength", required_argument, 0, 'a' }, { "preserve-colors", no_argument, 0, 'p' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    const char *models = NULL, *model = NULL;
    long max_size = 1024, threads = cli_cores(), quality = 92;
    long budget_mb = STYLIZE_DEFAULT_BUDGET_MB;
    double strength = 1.0;
    StylizeOptions finish = { 1.0f, 0 };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'M': models = optarg; break;
        case 'm': model = optarg; break;
        case 's':
            if (cli_parse_int(optarg, 0, 65536, &max_size))
                return fprintf(stderr, "atelier stylize: --max-size takes 0..65536\n"), 2;
            break;
        case 't':
            if (cli_parse_int(optarg, 1, 256, &threads))
                return fprintf(stderr, "atelier stylize: --threads takes 1..256\n"), 2;
            break;
        case 'q':
            if (cli_parse_int(optarg, 1, 100, &quality))
                return fprintf(stderr, "atelier stylize: --quality takes 1..100\n"), 2;
            break;
        case 'B':
            if (cli_parse_int(optarg, 16, 1 << 20, &budget_mb))
                return fprintf(stderr, "atelier stylize: --mem-budget takes 16..1048576 (MB)\n"), 2;
            break;
        case 'a':
            if (cli_parse_double(optarg, 0, 1, &strength))
                return fprintf(stderr, "atelier stylize: --strength takes 0..1\n"), 2;
            finish.strength = (float)strength;
            break;
        case 'p': finish.preserve_colors = 1; break;
        case 'h': fputs(stylize_usage, stdout); return 0;
        default: fputs(stylize_usage, stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        fputs(stylize_usage, stderr);
        return 2;
    }
    const char *in_path = argv[optind], *out_path = argv[optind + 1];
    engine_set_threads((int)threads);
    char what[4200], err[512];
    int code, rc = 1;
    Image *img = NULL, *small = NULL;
    float *planar = NULL, *result = NULL;
    NetPlan *plan = NULL;
    NetTiled *tiled = NULL;
    Net *net = cli_load_model(cli_models_dir(models), model, what, sizeof(what));
    if (!net)
        return 1;
    img = image_load_file(in_path, STYLIZE_MAX_PIXELS, &code, err, sizeof(err));
    if (!img) {
        fprintf(stderr, "atelier stylize: %s: %s\n", in_path, err);
        goto out;
    }
    int w, h;
    stylize_fit(img->w, img->h, (int)max_size, &w, &h);
    if (w != img->w || h != img->h) {
        small = image_resize(img, w, h);
        if (!small) {
            fprintf(stderr, "atelier stylize: out of memory resizing to %dx%d\n", w, h);
            goto out;
        }
        image_free(img);
        img = small;
        small = NULL;
    }
    /* The whole-image plan when it fits the budget, else bands within it
     * (whose output needs its own buffer: the sweeps reread the input).
     * Blending or keeping colours needs the photo after the network runs,
     * so the output then goes to its own buffer too. */
    size_t budget = (size_t)budget_mb << 20;
    int keep_photo = finish.strength < 1.0f || finish.preserve_colors;
    planar = malloc((size_t)3 * w * h * sizeof(float));
    if (net_plan_estimate_bytes(net, h, w, (int)threads) <= budget) {
        plan = net_plan(net, h, w);
    } else {
        tiled = net_tiled_plan(net, h, w, budget, (int)threads);
        keep_photo |= tiled && !net_tiled_in_place(tiled);
    }
    if (keep_photo)
        result = malloc((size_t)3 * w * h * sizeof(float));
    if (!planar || (!plan && !tiled) || (keep_photo && !result)) {
        fprintf(stderr, "atelier stylize: cannot plan %dx%d for %s in %ld MB (too small, or "
                "out of memory)\n", w, h, what, budget_mb);
        goto out;
    }
    /* The pixels live in planar while the network runs; the 8-bit image is
     * made again for the result, so the two are never held at once with it. */
    image_to_planar(img, planar);
    image_free(img);
    img = NULL;
    if (plan ? net_forward(net, plan, planar, result ? result : planar)
             : net_tiled_forward(net, tiled, planar, result ? result : planar)) {
        fprintf(stderr, "atelier stylize: the forward pass failed\n");
        goto out;
    }
    if (result)
        stylize_finish(result, planar, h, w, &finish);
    if (tiled)
        fprintf(stderr, "atelier stylize: %d sweeps of %d bands in %.0f MB\n",
                net_tiled_sweeps(tiled), net_tiled_bands(tiled),
                net_tiled_bytes(tiled) / 1048576.0);
    net_plan_free(plan);
    net_tiled_free(tiled);
    plan = NULL;
    tiled = NULL;
    img = image_new(w, h);
    if (!img) {
        fprintf(stderr, "atelier stylize: out of memory for the %dx%d result\n", w, h);
        goto out;
    }
    image_from_planar(img, result ? result : planar);
    code = image_save_file(img, out_path, (int)quality);
    if (code) {
        fprintf(stderr, "atelier stylize: cannot write %s (error %d)\n", out_path, code);
        goto out;
    }
    fprintf(stderr, "atelier stylize: %s -> %s (%dx%d, %s)\n", in_path, out_path, w, h, what);
    rc = 0;
out:
    free(planar);
    free(result);
    net_plan_free(plan);
    net_tiled_free(tiled);
    image_free(img);
    net_free(net);
    return rc;
}
