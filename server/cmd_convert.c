/* cmd_convert.c: `atelier convert` (import foreign checkpoints) and
 * `atelier inspect` (what a model file holds). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "engine/ml5.h"
#include "engine/safetensors.h"
#include "server/cli.h"

static const char convert_usage[] =
    "usage: atelier convert --from ml5 DIR OUT.safetensors\n"
    "\n"
    "Imports an ml5 / TensorFlow fast-style-transfer checkpoint folder\n"
    "(manifest.json + Variable files) as an Atelier model. PyTorch state dicts\n"
    "are converted by tools/torch2safetensors.py.\n";

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, 0, 'f' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    const char *from = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f')
            from = optarg;
        else if (c == 'h')
            return fputs(convert_usage, stdout), 0;
        else
            return fputs(convert_usage, stderr), 2;
    }
    if (!from || strcmp(from, "ml5") || argc - optind != 2) {
        if (from && strcmp(from, "ml5"))
            fprintf(stderr, "atelier convert: unknown format '%s' (known: ml5)\n", from);
        fputs(convert_usage, stderr);
        return 2;
    }
    char err[512];
    if (ml5_convert(argv[optind], argv[optind + 1], err, sizeof(err))) {
        fprintf(stderr, "atelier convert: %s\n", err);
        return 1;
    }
    fprintf(stderr, "atelier convert: wrote %s\n", argv[optind + 1]);
    return 0;
}

static const char inspect_usage[] =
    "usage: atelier inspect MODEL.safetensors\n"
    "\n"
    "Prints the model's card, its network spec and its tensors.\n";

static void print_json(const char *label, const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    char *pretty = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    printf("%s:\n%s\n", label, pretty ? pretty : (text ? text : "(none)"));
    free(pretty);
    json_decref(j);
}

int cmd_inspect(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return fputs(inspect_usage, stdout), 0;
    if (argc != 2)
        return fputs(inspect_usage, stderr), 2;
    char err[512];
    SafeTensors *st = st_load_file(argv[1], err, sizeof(err));
    if (!st) {
        fprintf(stderr, "atelier inspect: %s: %s\n", argv[1], err);
        return 1;
    }
    Net *net = net_from_safetensors(st, err, sizeof(err));
    print_json("card", st_meta(st, "atelier.card"));
    print_json("spec", st_meta(st, "atelier.spec"));
    printf("tensors (%d):\n", st_count(st));
    for (int i = 0; i < st_count(st); i++) {
        const StTensor *t = st_tensor(st, i);
        printf("  %-32s %-4s (", t->name, st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
        printf(")\n");
    }
    if (net)
        printf("parameters: %lld\nGFLOP at 512x512: %.1f\n", (long long)net_param_count(net),
               net_flops(net, 512, 512) / 1e9);
    else
        printf("not a runnable model: %s\n", err);
    net_free(net);
    st_free(st);
    return net ? 0 : 1;
}
