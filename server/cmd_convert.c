/* cmd_convert.c: `atelier convert` (import foreign checkpoints). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
