/* jobq_spec.h: a training job's config: the JSON a client sends in the
 * `config` field of POST /train, validated into a JobSpec.
 *
 * Fields (all but name optional): name, steps, size, batch,
 * checkpoint_every, seed, lr, w_adv, w_content, w_style, w_tv, width,
 * blocks, init (a model to fine-tune from), style_title, style_license,
 * style_loss ("gram" or "swd"), style_scale ([lo, hi]), content_pool,
 * style_depth (1..6), style_levels (style_depth + 1 weights), w_structure and
 * structure_depth (1..6).
 * Unknown fields are refused, so a typo never passes silently.
 */
#ifndef ATELIER_JOBQ_SPEC_H
#define ATELIER_JOBQ_SPEC_H

#include <jansson.h>
#include <stdint.h>
#include "engine/trainer.h"

typedef struct JobSpec {
    char name[65];
    int64_t steps;
    int size, batch, checkpoint_every;
    uint64_t seed;
    double lr, w_adv, w_content, w_style, w_tv;
    int width, blocks;
    int content_pool;
    int style_swd;            /* style_loss "swd" (1) or "gram" (0) */
    double style_lo, style_hi;
    int style_depth;
    double style_levels[STYLE_MAX_DEPTH + 1];
    double w_structure;
    int structure_depth;
    char init[65];            /* "" = none */
    int init_version;         /* resolved at submission; 0 = none */
    char style_title[201], style_license[201];
} JobSpec;

/* Fills s from cfg (defaults for what is absent). 0, or -1 with the
 * offending field's name in field and a sentence in err. */
int jobq_spec_parse(json_t *cfg, JobSpec *s, char *field, size_t fieldlen, char *err,
                    size_t errlen);

/* The spec as a JSON object with every field (new reference), or NULL. */
json_t *jobq_spec_json(const JobSpec *s);

/* Copies the spec's settings into a TrainConfig filled with defaults. The
 * strings stay borrowed from s. */
void jobq_spec_apply(const JobSpec *s, TrainConfig *tc);

#endif
