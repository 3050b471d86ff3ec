/* cmd_quality.c: `atelier quality`, the promotion gate's numbers for one
 * model on held-out photos, printed as one JSON object (engine/train/quality.h). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "engine/train/quality.h"
#include "server/cli/cli.h"

#define QUALITY_MAX_PHOTOS 256

static const char quality_usage[] =
    "usage: atelier quality [OPTIONS] MODEL [PHOTO|FOLDER...]\n"
    "\n"
    "Runs MODEL (a name in the repository, a .safetensors file or an ml5\n"
    "folder) on held-out photos and prints one JSON object: finite (share of\n"
    "finite outputs), edges (edge correlation with the photo), fine (share of\n"
    "the variance in the finest detail), spread (of the mean colour across the\n"
    "photos; photo_spread is the photos' own), style (palette distance to\n"
    "--style; -1 without it), strokes (distance to --style's stroke statistics\n"
    "at training scale; -1 without it; photo_strokes is the photos' own), mid\n"
    "(new structure at 8-32 pixels; photo_mid is the photos' own). Definitions:\n"
    "engine/train/quality.h, the same as tools/quality.py. A FOLDER stands for\n"
    "its held-out photos: sorted by name,\n"
    "every --holdout-th (the trainer's rule), at most --count. Without photos\n"
    "the six synthetic scenes the gate falls back on are used.\n"
    "\n"
    "  --models DIR     model repository (default: $ATELIER_MODELS, else models/)\n"
    "  --style FILE     the painting to measure the style and stroke distances to\n"
    "  --style-scale LO,HI  the training crops' sides as fractions of the\n"
    "                   painting's shorter side (default 0.15,0.4, the shipped\n"
    "                   recipe's): the painting's strokes are measured as a crop\n"
    "                   of the middle fraction, at --train-size, shows them\n"
    "  --train-size N   the training crop's side (default 256)\n"
    "  --max-size N     run at this long side at most (default 512)\n"
    "  --holdout K      every K-th photo of a folder is held out (default 7)\n"
    "  --count N        at most N photos per folder (default 13)\n"
    "  --threads T      engine threads (default: all cores)\n";

/* Appends the photos of one argument to *imgs. 0 or -1 (message printed). */
static int add_photos(const char *arg, int holdout, int count, int max_side, Image **imgs,
                      int *n)
{
    char err[512];
    struct stat st;
    int code;
    if (!stat(arg, &st) && S_ISDIR(st.st_mode)) {
        Image **held;
        int got = quality_holdout_photos(arg, holdout, count, max_side, &held, err, sizeof err);
        if (got < 0)
            return fprintf(stderr, "atelier quality: %s\n", err), -1;
        for (int i = 0; i < got; i++) {
            if (*n < QUALITY_MAX_PHOTOS)
                imgs[(*n)++] = held[i];
            else
                image_free(held[i]);
        }
        free(held);
        return 0;
    }
    if (*n == QUALITY_MAX_PHOTOS)
        return fprintf(stderr, "atelier quality: more than %d photos\n", QUALITY_MAX_PHOTOS), -1;
    Image *img = image_load_file(arg, (int64_t)1 << 26, &code, err, sizeof err);
    if (!img)
        return fprintf(stderr, "atelier quality: %s: %s\n", arg, err), -1;
    imgs[(*n)++] = img;
    return 0;
}

/* "LO,HI" into s: 0 or -1. */
static int parse_scale(const char *text, double *s)
{
    char *comma = strchr(text, ',');
    char lo[64];
    if (!comma || (size_t)(comma - text) >= sizeof lo)
        return -1;
    memcpy(lo, text, (size_t)(comma - text));
    lo[comma - text] = '\0';
    if (cli_parse_double(lo, 0.01, 1, &s[0]) || cli_parse_double(comma + 1, 0.01, 1, &s[1]))
        return -1;
    return s[0] <= s[1] ? 0 : -1;
}

int cmd_quality(int argc, char **argv)
{
    static const struct option opts[] = {
        {"models", required_argument, 0, 'M'}, {"style", required_argument, 0, 's'},
        {"max-size", required_argument, 0, 'x'}, {"holdout", required_argument, 0, 'k'},
        {"count", required_argument, 0, 'c'}, {"threads", required_argument, 0, 't'},
        {"style-scale", required_argument, 0, 'S'}, {"train-size", required_argument, 0, 'z'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *models = NULL, *style = NULL;
    long max_size = 512, holdout = 7, count = 13, threads = cli_cores(), train_size = 256;
    double scale[2] = {0.15, 0.4};
    int c, n = 0, rc = 1, code;
    char what[4200], err[512];
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'M': models = optarg; break;
        case 's': style = optarg; break;
        case 'x':
            if (cli_parse_int(optarg, 16, 8192, &max_size))
                return fprintf(stderr, "atelier quality: --max-size takes 16..8192\n"), 2;
            break;
        case 'k':
            if (cli_parse_int(optarg, 1, 1000000, &holdout))
                return fprintf(stderr, "atelier quality: --holdout takes 1..1000000\n"), 2;
            break;
        case 'c':
            if (cli_parse_int(optarg, 1, QUALITY_MAX_PHOTOS, &count))
                return fprintf(stderr, "atelier quality: --count takes 1..%d\n",
                               QUALITY_MAX_PHOTOS), 2;
            break;
        case 't':
            if (cli_parse_int(optarg, 1, 256, &threads))
                return fprintf(stderr, "atelier quality: --threads takes 1..256\n"), 2;
            break;
        case 'S':
            if (parse_scale(optarg, scale))
                return fprintf(stderr, "atelier quality: --style-scale takes LO,HI with "
                                       "0 < LO <= HI <= 1\n"), 2;
            break;
        case 'z':
            if (cli_parse_int(optarg, 16, 8192, &train_size))
                return fprintf(stderr, "atelier quality: --train-size takes 16..8192\n"), 2;
            break;
        case 'h': fputs(quality_usage, stdout); return 0;
        default: fputs(quality_usage, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fputs(quality_usage, stderr);
        return 2;
    }
    Image *imgs[QUALITY_MAX_PHOTOS], *painting = NULL;
    QualityPainting target;
    QualityScores q;
    Net *net = cli_load_model(cli_models_dir(models), argv[optind], what, sizeof what);
    if (!net)
        return 1;
    for (int i = optind + 1; i < argc; i++)
        if (add_photos(argv[i], (int)holdout, (int)count, (int)max_size, imgs, &n))
            goto out;
    if (optind + 1 == argc) {
        n = QUALITY_SCENES;
        if (quality_scenes(n, 384, 256, imgs)) {
            n = 0;
            fprintf(stderr, "atelier quality: out of memory\n");
            goto out;
        }
    }
    if (!n) {
        fprintf(stderr, "atelier quality: no held-out photos (a folder needs at least %ld)\n",
                holdout);
        goto out;
    }
    if (style && (!(painting = image_load_file(style, (int64_t)1 << 26, &code, err, sizeof err)) ||
                  quality_painting_init(&target, painting, (int)train_size, (float)scale[0],
                                        (float)scale[1], (int)threads, err, sizeof err))) {
        fprintf(stderr, "atelier quality: %s: %s\n", style, err);
        goto out;
    }
    if (quality_evaluate(net, (const Image *const *)imgs, n, painting ? &target : NULL,
                         (int)max_size, (int)threads, &q, err, sizeof err)) {
        fprintf(stderr, "atelier quality: %s: %s\n", what, err);
        goto out;
    }
    json_t *o = quality_json(&q);
    json_object_set_new(o, "model", json_string(what));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(5));
    json_decref(o);
    if (text)
        puts(text);
    free(text);
    rc = text ? 0 : 1;
out:
    for (int i = 0; i < n; i++)
        image_free(imgs[i]);
    image_free(painting);
    net_free(net);
    return rc;
}
