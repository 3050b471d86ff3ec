/* main.c: the atelier binary's entry point: dispatches subcommands. */
#include <stdio.h>
#include <string.h>
#include "server/cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    { "serve", cmd_serve, "run the HTTP service" },
    { "stylize", cmd_stylize, "stylize one image, no server" },
    { "convert", cmd_convert, "import a foreign checkpoint (ml5)" },
    { "inspect", cmd_inspect, "print a model's card, spec and tensors" },
    { "bench", cmd_bench, "time the engine" },
    { "healthcheck", cmd_healthcheck, "exit 0 if a running server answers /healthz" },
    { "train", cmd_train, "train a style from photos and paintings" },
    { "quality", cmd_quality, "judge a model on held-out photos (the gate's numbers)" },
};

static void usage(FILE *f)
{
    fputs("usage: atelier COMMAND [OPTIONS]\n\ncommands:\n", f);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fputs("\natelier COMMAND --help says more.\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "atelier: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
