/* trainer.h: the GAN style trainer as a library: a generator learns to
 * paint content photos so that a PatchGAN discriminator cannot tell its
 * patches from the style images', while content, style and TV losses keep
 * the photo's structure and the painting's statistics.
 *
 * A job is a Trainer made from a TrainConfig; trainer_run() runs it to the
 * last step or until *cancel becomes non-zero (then it finishes the step,
 * writes a checkpoint and returns 1). It never exits the process, keeps no
 * global state and reports through a callback, so the server's job queue
 * can run it on a thread. How many engine threads its networks split their
 * layers across is the caller's: trainer_new's `threads`, the count
 * trainer_estimate_bytes is asked for too.
 *
 * It writes, under <models>/<name>/ and through repo.h (which documents
 * the layout), each checkpoint as the next version (a servable model: spec
 * and card in its metadata) with its preview (held-out photos over their
 * stylisation) and card.json, and the state --resume needs (both networks,
 * Adam moments, spectral-norm vectors, the style targets, step, RNG state
 * and the config), each atomically.
 */
#ifndef ATELIER_TRAINER_H
#define ATELIER_TRAINER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/train/loss.h"
#include "engine/train/style_gabor.h"

typedef enum TrainArch { TRAIN_ARCH_FAST, TRAIN_ARCH_RESNET9 } TrainArch;

/* When a training job's candidates are promoted (served by ?model=NAME):
 * never (by hand only), at success (its newest candidate that passed the
 * gate), at each checkpoint that passes the gate and beats the served
 * version (best), or at each that passes (each: hot-swapping while it
 * trains, the gate still in the way). The server's business (jobq.c); the
 * trainer only carries it in its config table. */
typedef enum TrainPromote {
    TRAIN_PROMOTE_NEVER, TRAIN_PROMOTE_ON_SUCCESS, TRAIN_PROMOTE_BEST, TRAIN_PROMOTE_EACH
} TrainPromote;

/* A training run's settings. Which field is which setting, its range and
 * its default: engine/train/train_opts.c's table. */
typedef struct TrainConfig {
    const char *const *styles;  /* style image paths */
    int nstyles;
    const char *content_dir;
    const char *models_dir, *name;
    int64_t steps;
    int size, batch, checkpoint_every, log_every;
    uint64_t seed;
    int resume;
    const char *init;                    /* a model file written by this trainer with the
                                            same generator options: G starts from its
                                            weights (fine-tuning); NULL = random init.
                                            Ignored with resume. */
    TrainArch arch;
    int width, blocks, resize_conv;      /* fast arch; resnet9: width = ngf */
    int ndf, d_layers, d_spectral;       /* discriminator */
    int d_scales;                        /* 2: a second D on 2x-downsampled images */
    int d_augment;                       /* DIFFAUG_* bits (engine/train/diffaug.h): D's real
                                            and fake inputs augmented alike */
    float lr_g, lr_d, beta1, beta2;
    float decay_from;                    /* LR constant until this fraction, then linear to 0 */
    GanLoss gan;
    float w_adv, w_content, w_style, w_tv;
    int content_pool;
    int content_gauss;                   /* content on Gaussian-blurred luminance (sigma
                                            pool / 2) instead of the pool x pool box grid */
    StyleKind style_kind;                /* the style loss: Gram or sliced Wasserstein */
    int style_depth;                     /* random extractor stages (STYLE_DEPTH) */
    float style_levels[STYLE_MAX_DEPTH + 1]; /* per level weights: pixels, stages */
    int style_nlevels;                   /* how many were given (0: all 1) */
    float w_structure;                   /* structure loss weight (0: off), counted in */
    int structure_depth;                 /* the reported content loss; its stage (3) */
    float w_gabor;                       /* Gabor filter-bank style loss weight (0: off),
                                            counted in the reported style loss */
    float gabor_levels[GABOR_MAX_LEVELS]; /* its pyramid levels' weights, finest first */
    int gabor_nlevels;                   /* how many levels (0 until settled: 4) */
    float style_lo, style_hi;            /* style patch side, fractions of the short side */
    int holdout;                         /* every holdout-th photo is held out */
    TrainPromote promote;                /* a job's: when its candidates are promoted */
    int overwrite;                       /* a job's: may publish into a model it does not
                                            fine-tune */
    float canary;                        /* a job's: share of the traffic a passing
                                            candidate answers before promotion (0: none) */
    int canary_requests;                 /* ... for this many requests */
    int candidate;                       /* checkpoints are candidates: vN.card.json
                                            says "state": "candidate" (written before
                                            vN.safetensors) and card.json is left alone */
    const char *command;                 /* the exact command, for the card */
    const char *style_title, *style_license;
} TrainConfig;

/* The settings' names, ranges, defaults and rules are train_opts.h's
 * table: train_opts_defaults fills a TrainConfig, train_opts_finish checks
 * it (trainer_new does too). */

typedef struct TrainProgress {
    int64_t step, steps;
    double d_loss, g_adv, content, style, tv;
    double steps_per_s, eta_s, elapsed_s;
    int version;               /* > 0 when this report follows a checkpoint */
    const char *path;          /* that checkpoint's path, else NULL */
} TrainProgress;

/* Called every log_every steps and after every checkpoint. */
typedef void (*TrainProgressFn)(void *ctx, const TrainProgress *p);

typedef struct Trainer Trainer;

/* Loads data, builds and initialises (or, with resume, restores) the
 * networks, each planned for `threads` threads (1..64; tnet_plan). NULL
 * with a message in err. Free with trainer_free(). */
Trainer *trainer_new(const TrainConfig *cfg, int threads, char *err, size_t errlen);
void trainer_free(Trainer *t);               /* accepts NULL */

/* Trains. Returns 0 at the last step, 1 when cancelled (after a
 * checkpoint), -1 with a message on failure. */
int trainer_run(Trainer *t, atomic_int *cancel, TrainProgressFn fn, void *ctx,
                char *err, size_t errlen);

/* One G + D step on the given batch (photos and style patches, each
 * (batch, 3, size, size) pixels), for benchmarks and tests. */
void trainer_step(Trainer *t, const float *photos, const float *real, TrainProgress *out);

/* Bytes a trainer for cfg holds besides its images, from its plans: each
 * network's activation arena, workspaces and its four parameter-sized
 * blocks (parameters, gradients, Adam's two moments), the style and
 * structure extractors, the batch buffers. Builds the networks (nothing
 * is touched but the parameters) and frees them, planned for `threads` as
 * trainer_new would. 0, or -1 with a message (a config that does not build,
 * or no memory even to plan it). */
int trainer_estimate_bytes(const TrainConfig *cfg, int threads, size_t *bytes, char *err,
                           size_t errlen);

/* A trainer without data for benchmarks and tests: networks from cfg at
 * random init, no style loss unless w_style > 0 (then a random target). */
Trainer *trainer_new_synthetic(const TrainConfig *cfg, int threads, char *err, size_t errlen);

/* The networks being trained (borrowed; for tests and tools). */
struct TNet *trainer_generator(Trainer *t);
struct TNet *trainer_discriminator(Trainer *t);

#endif
