/* cmd_train.c: `atelier train`, the trainer (engine/train/trainer.h) from the
 * command line: flags to a TrainConfig (the training settings are
 * train_opts.h's table: their flags, parsing and --help come from it),
 * progress lines on stderr, and a
 * clean stop on SIGINT / SIGTERM (the step finishes, a checkpoint is
 * written, exit 0). */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/relpath.h"
#include "engine/train/train_opts.h"
#include "engine/train/train_presets.h"
#include "engine/train/trainer.h"
#include "server/cli/cli.h"
#include "engine/repo.h"

#define MAX_STYLES 16

static const char train_usage[] =
    "usage: atelier train --style FILE... --content DIR --name NAME [options]\n"
    "\n"
    "Trains a generator to paint photos from DIR in the style of FILE(s) and\n"
    "publishes a checkpoint as NAME/vN.safetensors in the model repository\n"
    "every K steps (with vN.preview.jpg: held-out photos and their painting).\n"
    "Ctrl-C finishes the step, checkpoints and exits; --resume continues.\n"
    "\n"
    "  --models DIR            model repository (default: the shipped models/)\n"
    "  --resume                continue from NAME's saved training state\n"
    "  --init FILE             start G from a checkpoint of this trainer with the\n"
    "                          same generator options (fine-tuning; D starts fresh)\n"
    "  --threads T             engine threads (default: all cores)\n"
    "  --preset NAME           start from a named recipe (below); the settings\n"
    "                          given beside it override its values\n"
    "The training settings (the same names, with '_', in a POST /train config):\n";

static void usage(FILE *f)
{
    fputs(train_usage, f);
    train_opts_help(f);
    train_presets_help(f);
}

static atomic_int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_flag, 1);
}

static void progress(void *ctx, const TrainProgress *p)
{
    (void)ctx;
    int eta = (int)p->eta_s;
    fprintf(stderr,
            "step %6lld/%lld  D %.4f  G adv %.4f  content %.4f  style %.4f  tv %.4f  "
            "%.3f steps/s  ETA %dh%02dm%02ds\n",
            (long long)p->step, (long long)p->steps, p->d_loss, p->g_adv, p->content,
            p->style, p->tv, p->steps_per_s, eta / 3600, eta / 60 % 60, eta % 60);
    if (p->version > 0)
        fprintf(stderr, "checkpoint v%d: %s (%.0f s of training)\n", p->version, p->path,
                p->elapsed_s);
}

/* The command line as one string, for the model card. A word that names
 * an absolute path (or --option=/path) is written relative to the current
 * directory (engine/relpath.h): the card never names this machine's
 * folders, and the command reproduces from the same place (the repository
 * root, as the README runs it). */
static char *join_args(int argc, char **argv)
{
    char *s = NULL, rel[4096];
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f)
        return NULL;
    fputs("atelier", f);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        const char *path = a[0] == '/' ? a
                           : !strncmp(a, "--", 2) && eq && eq[1] == '/' ? eq + 1 : NULL;
        int keep = path ? (int)(path - a) : (int)strlen(a);
        const char *rest = path && !relpath_cwd(path, rel, sizeof rel) ? rel : a + keep;
        fprintf(f, strchr(a, ' ') ? " '%.*s%s'" : " %.*s%s", keep, a, rest);
    }
    if (fclose(f)) {
        free(s);
        return NULL;
    }
    return s;
}

/* The command line's own options; the training settings follow, one per
 * row of the table, with val = TOPT_BASE + row. */
enum { O_STYLE = 'y', O_CONTENT = 'c', O_NAME = 'n', O_MODELS = 'M', O_THREADS = 't',
       O_RESUME = 256, O_INIT, O_PRESET, TOPT_BASE = 1000 };
static const struct option own_opts[] = {
    { "style", required_argument, 0, O_STYLE }, { "content", required_argument, 0, O_CONTENT },
    { "name", required_argument, 0, O_NAME }, { "models", required_argument, 0, O_MODELS },
    { "resume", no_argument, 0, O_RESUME }, { "init", required_argument, 0, O_INIT },
    { "preset", required_argument, 0, O_PRESET },
    { "threads", required_argument, 0, O_THREADS }, { "help", no_argument, 0, 'h' },
};
#define NOWN (int)(sizeof own_opts / sizeof own_opts[0])
#define MAX_OPTS 64

/* getopt's table: ours, then the settings' (flag names in flags). */
static void build_options(struct option *out, char (*flags)[40])
{
    int n, k = NOWN;
    const TrainOpt *t = train_opts_table(&n);
    memcpy(out, own_opts, sizeof own_opts);
    for (int i = 0; i < n && k < MAX_OPTS - 1; i++) {
        if (!(t[i].where & TOPT_CLI))
            continue;
        snprintf(flags[i], sizeof flags[i], "%s", t[i].name);
        for (char *p = flags[i]; *p; p++)
            if (*p == '_')
                *p = '-';
        out[k++] = (struct option){ flags[i], t[i].type == TOPT_FLAG ? no_argument
                                                                     : required_argument,
                                    0, TOPT_BASE + i };
    }
    out[k] = (struct option){ 0, 0, 0, 0 };
}

int cmd_train(int argc, char **argv)
{
    static struct option opts[MAX_OPTS];
    static char flags[MAX_OPTS][40];
    const TrainOpt *table, *bad_row = NULL;
    int ntable;
    TrainConfig cfg;
    char err[512];
    train_opts_defaults(&cfg);
    table = train_opts_table(&ntable);
    build_options(opts, flags);
    const char *styles[MAX_STYLES], *models = NULL;
    int nstyles = 0;
    long threads = cli_cores();
    int opt, which = 0;
    /* A preset first, wherever it stands, so that every flag overrides it:
     * a quiet pass of getopt (which also matches an abbreviated --pre). */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, &which)) != -1)
        if (opt == O_PRESET && train_preset_apply(&cfg, optarg, TRAIN_PROFILE_CLI, err,
                                                  sizeof err))
            return fprintf(stderr, "atelier train: bad value '%s' for --preset: %s\n", optarg,
                           err), 2;
    optind = 0;
    opterr = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, &which)) != -1) {
        int bad = 0;
        err[0] = '\0';
        switch (opt) {
        case O_STYLE:
            if (nstyles == MAX_STYLES)
                return fprintf(stderr, "atelier train: at most %d styles\n", MAX_STYLES), 2;
            styles[nstyles++] = optarg;
            break;
        case O_CONTENT: cfg.content_dir = optarg; break;
        case O_NAME: cfg.name = optarg; break;
        case O_MODELS: models = optarg; break;
        case O_RESUME: cfg.resume = 1; break;
        case O_INIT: cfg.init = optarg; break;
        case O_PRESET: break;   /* applied above */
        case O_THREADS: bad = cli_parse_int(optarg, 1, 256, &threads); break;
        case 'h': usage(stdout); return 0;
        default:
            if (opt < TOPT_BASE || opt >= TOPT_BASE + ntable) {
                usage(stderr);
                return 2;
            }
            bad = train_opts_set_text(&cfg, &table[opt - TOPT_BASE], optarg,
                                      TRAIN_PROFILE_CLI, err, sizeof err);
        }
        if (bad) {
            /* Every option with a value is long; argv[optind - 1] would be
             * the value itself when it came as its own word. */
            fprintf(stderr, "atelier train: bad value '%s' for --%s%s%s\n", optarg,
                    opts[which].name, err[0] ? ": " : "", err);
            return 2;
        }
    }
    if (!nstyles || !cfg.content_dir || !cfg.name || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (train_opts_finish(&cfg, TRAIN_PROFILE_CLI, &bad_row, err, sizeof err)) {
        /* err is "<key> <why>": say it as the flag. */
        fprintf(stderr, "atelier train: --%s%s\n", flags[bad_row - table],
                err + strlen(bad_row->name));
        return 2;
    }
    if (!repo_valid_name(cfg.name)) {
        fprintf(stderr, "atelier train: NAME must be 1..64 of [a-z0-9_-]\n");
        return 2;
    }
    cfg.styles = styles;
    cfg.nstyles = nstyles;
    cfg.models_dir = cli_models_dir(models);
    char *command = join_args(argc, argv);
    cfg.command = command;
    Trainer *t = trainer_new(&cfg, (int)threads, err, sizeof(err));
    if (!t) {
        fprintf(stderr, "atelier train: %s\n", err);
        free(command);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "training %s: %lld steps of batch %d at %dx%d, %ld threads, into %s/%s\n",
            cfg.name, (long long)cfg.steps, cfg.batch, cfg.size, cfg.size, threads,
            cfg.models_dir, cfg.name);
    int rc = trainer_run(t, &stop_flag, progress, NULL, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "atelier train: %s\n", err);
    else if (rc == 1)
        fprintf(stderr, "stopped by signal after a checkpoint; --resume continues\n");
    trainer_free(t);
    free(command);
    return rc < 0 ? 1 : 0;
}
