/* cmd_stylize.c: `atelier stylize`, one image through a model, no server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/image.h"
#include "engine/net.h"
#include "server/cli.h"

#define STYLIZE_MAX_PIXELS ((int64_t)1 << 28)   /* 268 Mpx: 16384 x 16384 */

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
    "  --quality Q       JPEG quality 1..100 (default 92)\n";

/* The size to stylize at: the long side capped at max_size, aspect kept. */
static void fit_size(int w, int h, long max_size, int *ow, int *oh)
{
    *ow = w;
    *oh = h;
    if (max_size <= 0 || (w <= max_size && h <= max_size))
        return;
    if (w >= h) {
        *ow = (int)max_size;
        *oh = (int)((double)h * max_size / w + 0.5);
    } else {
        *oh = (int)max_size;
        *ow = (int)((double)w * max_size / h + 0.5);
    }
    if (*ow < 1)
        *ow = 1;
    if (*oh < 1)
        *oh = 1;
}

int cmd_stylize(int argc, char **argv)
{
    static const struct option opts[] = {
        { "models", required_argument, 0, 'M' }, { "model", required_argument, 0, 'm' },
        { "max-size", required_argument, 0, 's' }, { "threads", required_argument, 0, 't' },
        { "quality", required_argument, 0, 'q' }, { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    const char *models = NULL, *model = NULL;
    long max_size = 1024, threads = cli_cores(), quality = 92;
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
    float *planar = NULL;
    NetPlan *plan = NULL;
    Net *net = cli_load_model(cli_models_dir(models), model, what, sizeof(what));
    if (!net)
        return 1;
    img = image_load_file(in_path, STYLIZE_MAX_PIXELS, &code, err, sizeof(err));
    if (!img) {
        fprintf(stderr, "atelier stylize: %s: %s\n", in_path, err);
        goto out;
    }
    int w, h;
    fit_size(img->w, img->h, max_size, &w, &h);
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
    planar = malloc((size_t)3 * w * h * sizeof(float));
    plan = net_plan(net, h, w);
    if (!planar || !plan) {
        fprintf(stderr, "atelier stylize: cannot plan %dx%d for %s (too small or out of memory)\n",
                w, h, what);
        goto out;
    }
    image_to_planar(img, planar);
    if (net_forward(net, plan, planar, planar)) {
        fprintf(stderr, "atelier stylize: the forward pass failed\n");
        goto out;
    }
    image_from_planar(img, planar);
    code = image_save_file(img, out_path, (int)quality);
    if (code) {
        fprintf(stderr, "atelier stylize: cannot write %s (error %d)\n", out_path, code);
        goto out;
    }
    fprintf(stderr, "atelier stylize: %s -> %s (%dx%d, %s)\n", in_path, out_path, w, h, what);
    rc = 0;
out:
    free(planar);
    net_plan_free(plan);
    image_free(img);
    net_free(net);
    return rc;
}
