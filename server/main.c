/* main.c: the atelier binary's entry point: dispatches subcommands. */
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: atelier COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  serve     run the HTTP service\n"
          "  stylize   stylize one image, no server\n"
          "  train     train a style generator\n"
          "  convert   import a foreign checkpoint\n"
          "  inspect   print a model's spec, tensors and card\n"
          "  bench     time the engine\n"
          "\n"
          "atelier COMMAND --help says more.\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "atelier: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
