/* trainer_int.h: the trainer's insides, shared by trainer.c (building it,
 * the step and the run) and trainer_files.c (what it reads and writes: the
 * --resume state, the --init model, checkpoints with card and preview).
 * Not an API: everything else goes through trainer.h. */
#ifndef ATELIER_TRAINER_INT_H
#define ATELIER_TRAINER_INT_H

#include <stddef.h>
#include <stdint.h>
#include "engine/rng.h"
#include "engine/train/tnet.h"
#include "engine/train/traindata.h"
#include "engine/train/trainer.h"

#define PREVIEW_N 4
#define PREVIEW_SIZE 256

struct Trainer {
    TrainConfig cfg;
    int threads;               /* every plan's (networks, extractors, preview) */
    char **styles;
    char *content_dir, *models_dir, *name, *command, *style_title, *style_license;
    char *gspec, *dspec;
    char *history;             /* JSON array: the commands of earlier runs (resume) */
    char *init_from;           /* JSON object: the model G started from (--init), or NULL */
    TNet *g, *d, *d2;          /* d2: the multi-scale discriminator, or NULL */
    StyleNet *style;
    GaborNet *gabor;           /* the Gabor filter-bank style loss, or NULL */
    TrainData *data;
    Rng rng;
    int64_t step;
    double elapsed;            /* seconds of training before this run */
    float *photos, *real;      /* (B, 3, S, S) */
    float *half, *dhalf;       /* (B, 3, S/2, S/2): d2's input and its gradient */
    float *aug_fake, *aug_real, *daug; /* (B, 3, S, S): --d-augment's images, gradient */
    struct DiffAugDraw *draws; /* (B): the augmentation drawn for each image */
    float *content_work;       /* loss_content's workspace */
    StyleNet *structure;       /* the structure loss's extractor, or NULL */
    float *structure_work;
    size_t dout_n, dout_n2;    /* discriminator output floats per batch */
};

/* <models>/<name>/.train/state.safetensors: everything --resume needs. 0 or
 * -1 with a message. */
int trainer_write_state(Trainer *t, char *err, size_t errlen);
int trainer_read_state(Trainer *t, char *err, size_t errlen);
/* G's weights (and the lineage for the card) from a model this trainer
 * wrote with the same generator options. */
int trainer_read_init(Trainer *t, const char *path, char *err, size_t errlen);
/* Writes the state, then the next version with its card and preview; the
 * version number (path in path), or -1 with a message. */
int trainer_checkpoint(Trainer *t, char *path, size_t pathlen, char *err, size_t errlen);

#endif
