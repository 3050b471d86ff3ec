/* cmd_inspect.c: `atelier inspect` (what a model file holds: its card,
 * its network spec, its tensors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "engine/net.h"
#include "engine/safetensors.h"
#include "server/cli/cli.h"

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
