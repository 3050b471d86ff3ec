/* cmd_convert.c: `atelier convert` (import foreign checkpoints). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/ml5.h"
#include "engine/repo.h"
#include "engine/safetensors.h"
#include "server/cli/cli.h"

static const char convert_usage[] =
    "usage: atelier convert --from ml5 DIR OUT.safetensors\n"
    "       atelier convert --from ml5 DIR --repo MODELS --name NAME [--add-version]\n"
    "\n"
    "Imports an ml5 / TensorFlow fast-style-transfer checkpoint folder\n"
    "(manifest.json + Variable files) as an Atelier model: into a file, or into\n"
    "a model repository as MODELS/NAME/v1.safetensors, where `atelier serve\n"
    "--models MODELS` serves it (a running server picks it up within a second).\n"
    "An existing model is refused unless --add-version (then it becomes its\n"
    "next version). PyTorch state dicts are converted by\n"
    "tools/torch2safetensors.py.\n";

/* The path of the version an import into repo/name becomes. 0, or -1 with
 * the reason printed. */
static int repo_target(const char *repo, const char *name, int add, char *out, size_t len)
{
    int v;
    if (!repo_valid_name(name)) {
        fprintf(stderr, "atelier convert: '%s' is not a model name ([a-z0-9_-]{1,64})\n", name);
        return -1;
    }
    if (repo_versions(repo, name, NULL, 0) > 0 && !add) {
        fprintf(stderr, "atelier convert: model '%s' exists in %s: give --add-version to add the "
                "import as its next version, or another --name\n", name, repo);
        return -1;
    }
    v = repo_next_version(repo, name);
    if (repo_make_dirs(repo, name, 0) || repo_path(repo, name, REPO_VERSION, v, out, len)) {
        fprintf(stderr, "atelier convert: cannot create %s/%s\n", repo, name);
        return -1;
    }
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, 0, 'f' }, { "repo", required_argument, 0, 'r' },
        { "name", required_argument, 0, 'n' }, { "add-version", no_argument, 0, 'a' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    const char *from = NULL, *repo = NULL, *name = NULL;
    int c, add = 0;
    char out[4200], err[512];
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f')
            from = optarg;
        else if (c == 'r')
            repo = optarg;
        else if (c == 'n')
            name = optarg;
        else if (c == 'a')
            add = 1;
        else if (c == 'h')
            return fputs(convert_usage, stdout), 0;
        else
            return fputs(convert_usage, stderr), 2;
    }
    /* Either OUT, or --repo with --name: one place to write. */
    if (!from || strcmp(from, "ml5") || !repo != !name ||
        argc - optind != (repo ? 1 : 2)) {
        if (from && strcmp(from, "ml5"))
            fprintf(stderr, "atelier convert: unknown format '%s' (known: ml5)\n", from);
        else if (!repo != !name)
            fprintf(stderr, "atelier convert: --repo and --name go together\n");
        fputs(convert_usage, stderr);
        return 2;
    }
    if (repo ? repo_target(repo, name, add, out, sizeof out)
             : snprintf(out, sizeof out, "%s", argv[optind + 1]) >= (int)sizeof out)
        return 1;
    if (ml5_convert(argv[optind], out, err, sizeof(err))) {
        fprintf(stderr, "atelier convert: %s\n", err);
        return 1;
    }
    fprintf(stderr, "atelier convert: wrote %s\n", out);
    return 0;
}
