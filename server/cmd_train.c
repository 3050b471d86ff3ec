/* cmd_train.c: `atelier train`, the trainer (engine/trainer.h) from the
 * command line: flags to a TrainConfig, progress lines on stderr, and a
 * clean stop on SIGINT / SIGTERM (the step finishes, a checkpoint is
 * written, exit 0). */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"
#include "engine/trainer.h"
#include "server/cli.h"
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
    "  --steps N               total steps (default 4000)\n"
    "  --size S                crop size, a multiple of 4 (default 256)\n"
    "  --batch B               photos per step (default 1)\n"
    "  --checkpoint-every K    steps between checkpoints (default 500)\n"
    "  --log-every N           steps between progress lines (default 10)\n"
    "  --seed S                random seed (default 1)\n"
    "  --resume                continue from NAME/.train/state.safetensors\n"
    "  --init FILE             start G from a checkpoint of this trainer with the\n"
    "                          same generator options (fine-tuning; D starts fresh)\n"
    "  --arch fast|resnet9     generator (default fast)\n"
    "  --width W               fast: first-layer channels (32); resnet9: ngf (64)\n"
    "  --blocks N              residual blocks (fast 5, resnet9 9)\n"
    "  --upsample resize|transposed  fast arch upsampling (default resize)\n"
    "  --ndf N --d-layers L    discriminator width (32) and depth (3: 70x70)\n"
    "  --spectral              spectral norm in the discriminator instead of\n"
    "                          instance norm\n"
    "  --multiscale            a second discriminator on 2x-downsampled images\n"
    "  --gan lsgan|hinge|ns    adversarial loss (default lsgan)\n"
    "  --lr A --lr-d A         Adam learning rates (2e-4), beta1 0.5, beta2 0.999\n"
    "  --decay-from F          keep the rates constant for this fraction of the\n"
    "                          steps (0.5), then linear to 0\n"
    "  --w-adv --w-content --w-style --w-tv X   loss weights (1, 10, 1, 0)\n"
    "  --content-pool P        content loss on P x P pooled luminance (4)\n"
    "  --w-structure X         structure loss weight (0: off): the photo's edges\n"
    "                          as random features of its luminance see them\n"
    "                          (counted in the content figure)\n"
    "  --structure-depth N     the extractor stage it compares, 1..6 (3)\n"
    "  --style-loss gram|swd   style statistics: Gram matrices, or sliced\n"
    "                          Wasserstein (whole distributions; default gram)\n"
    "  --style-depth N         stages of the random feature extractor, 1..6 (4);\n"
    "                          stage k sees 2^k + 1 pixels\n"
    "  --style-levels W,...    weights of the style levels: the pixels', then\n"
    "                          each stage's (depth + 1 numbers; all 1)\n"
    "  --style-scale LO,HI     style patches' sides as fractions of the painting's\n"
    "                          shorter side (0.25,0.6); smaller = larger strokes\n"
    "  --holdout K             hold out every K-th photo (7; 0 = none)\n"
    "  --style-title T --style-license L   for the model card\n"
    "  --threads T             engine threads (default: all cores)\n";

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

/* The command line as one string, for the model card. */
static char *join_args(int argc, char **argv)
{
    size_t n = 16;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 3;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    p += sprintf(p, "atelier");
    for (int i = 0; i < argc; i++)
        p += sprintf(p, strchr(argv[i], ' ') ? " '%s'" : " %s", argv[i]);
    return s;
}

static int parse_float(const char *s, double lo, double hi, float *out)
{
    double v;
    if (cli_parse_double(s, lo, hi, &v))
        return -1;
    *out = (float)v;
    return 0;
}

/* Up to max comma-separated numbers in lo..hi into out: how many, or -1. */
static int parse_floats(const char *s, double lo, double hi, float *out, int max)
{
    int n = 0;
    for (;;) {
        char a[64];
        size_t len = strcspn(s, ",");
        if (n == max || len >= sizeof(a))
            return -1;
        memcpy(a, s, len);
        a[len] = 0;
        if (parse_float(a, lo, hi, &out[n++]))
            return -1;
        if (!s[len])
            return n;
        s += len + 1;
    }
}

/* "LO,HI" with 0 < LO <= HI <= 1. */
static int parse_scale(const char *s, float *lo, float *hi)
{
    float v[2];
    if (parse_floats(s, 0.01, 1, v, 2) != 2 || v[0] > v[1])
        return -1;
    *lo = v[0];
    *hi = v[1];
    return 0;
}

int cmd_train(int argc, char **argv)
{
    enum { O_RESUME = 256, O_ARCH, O_WIDTH, O_BLOCKS, O_UP, O_NDF, O_DL, O_SPEC, O_GAN,
           O_LR, O_LRD, O_WA, O_WC, O_WS, O_WT, O_POOL, O_HOLD, O_TITLE, O_LIC, O_LOG,
           O_CKPT, O_MS, O_INIT, O_DECAY, O_SSCALE, O_SLOSS, O_SDEPTH, O_SLEVELS,
           O_WSTRUCT, O_STRUCTD };
    static const struct option opts[] = {
        { "style", required_argument, 0, 'y' }, { "content", required_argument, 0, 'c' },
        { "name", required_argument, 0, 'n' }, { "models", required_argument, 0, 'M' },
        { "steps", required_argument, 0, 'S' }, { "size", required_argument, 0, 's' },
        { "batch", required_argument, 0, 'b' }, { "checkpoint-every", required_argument, 0, O_CKPT },
        { "seed", required_argument, 0, 'r' }, { "resume", no_argument, 0, O_RESUME },
        { "arch", required_argument, 0, O_ARCH }, { "width", required_argument, 0, O_WIDTH },
        { "blocks", required_argument, 0, O_BLOCKS }, { "upsample", required_argument, 0, O_UP },
        { "ndf", required_argument, 0, O_NDF }, { "d-layers", required_argument, 0, O_DL },
        { "spectral", no_argument, 0, O_SPEC }, { "multiscale", no_argument, 0, O_MS }, { "gan", required_argument, 0, O_GAN },
        { "lr", required_argument, 0, O_LR }, { "lr-d", required_argument, 0, O_LRD },
        { "w-adv", required_argument, 0, O_WA }, { "w-content", required_argument, 0, O_WC },
        { "w-style", required_argument, 0, O_WS }, { "w-tv", required_argument, 0, O_WT },
        { "content-pool", required_argument, 0, O_POOL },
        { "init", required_argument, 0, O_INIT }, { "decay-from", required_argument, 0, O_DECAY },
        { "style-scale", required_argument, 0, O_SSCALE },
        { "style-loss", required_argument, 0, O_SLOSS },
        { "style-depth", required_argument, 0, O_SDEPTH },
        { "style-levels", required_argument, 0, O_SLEVELS },
        { "w-structure", required_argument, 0, O_WSTRUCT },
        { "structure-depth", required_argument, 0, O_STRUCTD },
        { "holdout", required_argument, 0, O_HOLD },
        { "style-title", required_argument, 0, O_TITLE },
        { "style-license", required_argument, 0, O_LIC },
        { "log-every", required_argument, 0, O_LOG },
        { "threads", required_argument, 0, 't' }, { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    TrainConfig cfg;
    trainer_defaults(&cfg);
    const char *styles[MAX_STYLES], *models = NULL;
    int nstyles = 0, width = -1, blocks = -1, lr_d_set = 0, nlevels = -1;
    long v, threads = cli_cores();
    double seed;
    int opt, which = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, &which)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'y':
            if (nstyles == MAX_STYLES)
                return fprintf(stderr, "atelier train: at most %d styles\n", MAX_STYLES), 2;
            styles[nstyles++] = optarg;
            break;
        case 'c': cfg.content_dir = optarg; break;
        case 'n': cfg.name = optarg; break;
        case 'M': models = optarg; break;
        case 'S': bad = cli_parse_int(optarg, 1, 100000000, &v); cfg.steps = v; break;
        case 's': bad = cli_parse_int(optarg, 32, 2048, &v); cfg.size = (int)v; break;
        case 'b': bad = cli_parse_int(optarg, 1, 64, &v); cfg.batch = (int)v; break;
        case O_CKPT: bad = cli_parse_int(optarg, 0, 100000000, &v); cfg.checkpoint_every = (int)v; break;
        case O_LOG: bad = cli_parse_int(optarg, 1, 100000000, &v); cfg.log_every = (int)v; break;
        case 'r': bad = cli_parse_double(optarg, 0, 1e18, &seed); cfg.seed = (uint64_t)seed; break;
        case O_RESUME: cfg.resume = 1; break;
        case O_ARCH:
            if (!strcmp(optarg, "fast"))
                cfg.arch = TRAIN_ARCH_FAST;
            else if (!strcmp(optarg, "resnet9"))
                cfg.arch = TRAIN_ARCH_RESNET9;
            else
                bad = 1;
            break;
        case O_WIDTH: bad = cli_parse_int(optarg, 1, 256, &v); width = (int)v; break;
        case O_BLOCKS: bad = cli_parse_int(optarg, 0, 32, &v); blocks = (int)v; break;
        case O_UP:
            bad = strcmp(optarg, "resize") && strcmp(optarg, "transposed");
            cfg.resize_conv = !strcmp(optarg, "resize");
            break;
        case O_NDF: bad = cli_parse_int(optarg, 1, 512, &v); cfg.ndf = (int)v; break;
        case O_DL: bad = cli_parse_int(optarg, 1, 6, &v); cfg.d_layers = (int)v; break;
        case O_SPEC: cfg.d_spectral = 1; break;
        case O_MS: cfg.d_scales = 2; break;
        case O_GAN:
            if (!strcmp(optarg, "lsgan"))
                cfg.gan = GAN_LSGAN;
            else if (!strcmp(optarg, "hinge"))
                cfg.gan = GAN_HINGE;
            else if (!strcmp(optarg, "ns"))
                cfg.gan = GAN_NS;
            else
                bad = 1;
            break;
        case O_LR: bad = parse_float(optarg, 0, 1, &cfg.lr_g); break;
        case O_LRD: bad = parse_float(optarg, 0, 1, &cfg.lr_d); lr_d_set = 1; break;
        case O_WA: bad = parse_float(optarg, 0, 1e6, &cfg.w_adv); break;
        case O_WC: bad = parse_float(optarg, 0, 1e6, &cfg.w_content); break;
        case O_WS: bad = parse_float(optarg, 0, 1e6, &cfg.w_style); break;
        case O_WT: bad = parse_float(optarg, 0, 1e6, &cfg.w_tv); break;
        case O_POOL: bad = cli_parse_int(optarg, 1, 64, &v); cfg.content_pool = (int)v; break;
        case O_INIT: cfg.init = optarg; break;
        case O_DECAY: bad = parse_float(optarg, 0, 1, &cfg.decay_from); break;
        case O_SSCALE: bad = parse_scale(optarg, &cfg.style_lo, &cfg.style_hi); break;
        case O_SLOSS:
            bad = strcmp(optarg, "gram") && strcmp(optarg, "swd");
            cfg.style_kind = !strcmp(optarg, "swd") ? STYLE_SWD : STYLE_GRAM;
            break;
        case O_SDEPTH:
            bad = cli_parse_int(optarg, STYLE_MIN_DEPTH, STYLE_MAX_DEPTH, &v);
            cfg.style_depth = (int)v;
            break;
        case O_SLEVELS:
            nlevels = parse_floats(optarg, 0, 1e6, cfg.style_levels, STYLE_MAX_DEPTH + 1);
            bad = nlevels < 0;
            break;
        case O_WSTRUCT: bad = parse_float(optarg, 0, 1e6, &cfg.w_structure); break;
        case O_STRUCTD:
            bad = cli_parse_int(optarg, STYLE_MIN_DEPTH, STYLE_MAX_DEPTH, &v);
            cfg.structure_depth = (int)v;
            break;
        case O_HOLD: bad = cli_parse_int(optarg, 0, 1000000, &v); cfg.holdout = (int)v; break;
        case O_TITLE: cfg.style_title = optarg; break;
        case O_LIC: cfg.style_license = optarg; break;
        case 't': bad = cli_parse_int(optarg, 1, 256, &threads); break;
        case 'h': fputs(train_usage, stdout); return 0;
        default: fputs(train_usage, stderr); return 2;
        }
        if (bad) {
            /* Every option with a value is long; argv[optind - 1] would be
             * the value itself when it came as its own word. */
            fprintf(stderr, "atelier train: bad value '%s' for --%s\n", optarg,
                    opts[which].name);
            return 2;
        }
    }
    if (!nstyles || !cfg.content_dir || !cfg.name || optind != argc) {
        fputs(train_usage, stderr);
        return 2;
    }
    if (nlevels >= 0 && nlevels != cfg.style_depth + 1) {
        fprintf(stderr, "atelier train: --style-levels needs %d weights (the pixels', then "
                "each of the %d stages')\n", cfg.style_depth + 1, cfg.style_depth);
        return 2;
    }
    if (!repo_valid_name(cfg.name)) {
        fprintf(stderr, "atelier train: NAME must be 1..64 of [a-z0-9_-]\n");
        return 2;
    }
    if (!lr_d_set)
        cfg.lr_d = cfg.lr_g;
    if (cfg.arch == TRAIN_ARCH_RESNET9) {
        cfg.width = width > 0 ? width : 64;
        cfg.blocks = blocks >= 0 ? blocks : 9;
    } else {
        cfg.width = width > 0 ? width : 32;
        cfg.blocks = blocks >= 0 ? blocks : 5;
    }
    cfg.styles = styles;
    cfg.nstyles = nstyles;
    cfg.models_dir = cli_models_dir(models);
    char *command = join_args(argc, argv);
    cfg.command = command;
    engine_set_threads((int)threads);
    engine_set_blas_threads((int)threads);    /* training calls the kernels directly */
    char err[512];
    Trainer *t = trainer_new(&cfg, err, sizeof(err));
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
