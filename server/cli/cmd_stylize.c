/* cmd_stylize.c: `atelier stylize`, one image through a model, no server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/image.h"
#include "engine/net.h"
#include "engine/stylize.h"
#include "server/cli/cli.h"

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
    "  --mem-budget MB   working memory for the network and its two image\n"
    "                    buffers (default 700): an image whose whole-image plan\n"
    "                    needs more runs in overlapping bands within MB (same\n"
    "                    result, slower)\n"
    "  --strength A      blend with the photo: 0 = the photo, 1 = fully styled\n"
    "                    (default 1)\n"
    "  --preserve-colors keep the photo's colours, restyle its luminance only\n"
    "  --quality Q       JPEG quality 1..100 (default 90, as the service)\n";

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
    long max_size = STYLIZE_MAX_SIZE_DEFAULT, threads = cli_cores(), quality = STYLIZE_JPEG_QUALITY;
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
    char what[4200], err[512];
    int code, rc = 1;
    Image *img = NULL, *small = NULL;
    StylizeRun *run = NULL;
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
    run = stylize_run_new(net, h, w, (size_t)budget_mb << 20, (int)threads, &code, err,
                          sizeof err);
    if (!run) {
        fprintf(stderr, "atelier stylize: %s (%s, --mem-budget %ld)\n", err, what, budget_mb);
        goto out;
    }
    if (stylize_run(run, img, &finish)) {
        fprintf(stderr, "atelier stylize: the forward pass failed\n");
        goto out;
    }
    if (stylize_run_tiled(run))
        fprintf(stderr, "atelier stylize: %d sweeps of %d bands in %.0f MB\n",
                net_tiled_sweeps(stylize_run_tiled(run)), net_tiled_bands(stylize_run_tiled(run)),
                net_tiled_bytes(stylize_run_tiled(run)) / 1048576.0);
    stylize_run_free(run);
    run = NULL;
    code = image_save_file(img, out_path, (int)quality);
    if (code) {
        fprintf(stderr, "atelier stylize: cannot write %s (error %d)\n", out_path, code);
        goto out;
    }
    fprintf(stderr, "atelier stylize: %s -> %s (%dx%d, %s)\n", in_path, out_path, w, h, what);
    rc = 0;
out:
    stylize_run_free(run);
    image_free(img);
    net_free(net);
    return rc;
}
