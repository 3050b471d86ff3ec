/* train_presets.h: named training recipes. A preset is a set of values for
 * rows of the settings table (train_opts.h), the recipe of a style that
 * shipped, so that someone training their own painting starts from what
 * worked for a similar one: `atelier train --preset NAME` and a POST /train
 * config's "preset" apply it first, and every setting given beside it
 * overrides the preset's value. A preset only sets rows a job may set
 * (TOPT_JOB), so a job's stored config, which lists every resolved value,
 * says the whole recipe without naming the preset.
 */
#ifndef ATELIER_TRAIN_PRESETS_H
#define ATELIER_TRAIN_PRESETS_H

#include <stddef.h>
#include <stdio.h>
#include "engine/train/train_opts.h"

#define TRAIN_PRESET_MAX_VALUES 16

typedef struct TrainPreset {
    const char *name;          /* [a-z0-9_-] */
    const char *about;         /* one sentence for --help and GET docs */
    /* Row name and value as the command line takes it, up to a NULL name. */
    struct { const char *key, *value; } values[TRAIN_PRESET_MAX_VALUES];
} TrainPreset;

/* The presets: *n of them. */
const TrainPreset *train_presets(int *n);
/* How many values p has: up to its NULL key, at most TRAIN_PRESET_MAX_VALUES
 * (a preset that fills every slot has no NULL key). */
int train_preset_count(const TrainPreset *p);

/* Applies preset name's values to c (train_opts_defaults'd or not). 0, or
 * -1 with "must be one of: <the names>" in err. */
int train_preset_apply(TrainConfig *c, const char *name, TrainProfile p, char *err,
                       size_t errlen);

/* `atelier train --help`'s lines for the presets. */
void train_presets_help(FILE *f);

#endif
