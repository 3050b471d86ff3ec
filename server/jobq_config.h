/* jobq_config.h: a training job's config: the JSON a client sends in the
 * `config` field of POST /train, and the job.json copy the queue keeps.
 *
 * Its keys are the job's own (name, required; init, a model to fine-tune
 * from; init_version, set by the server at submission) and the training
 * settings of train_opts.h's table that a job may set (TOPT_JOB rows),
 * with the server's stricter limits (TRAIN_PROFILE_JOB). Unknown keys are
 * refused, so a typo never passes silently.
 */
#ifndef ATELIER_JOBQ_CONFIG_H
#define ATELIER_JOBQ_CONFIG_H

#include <jansson.h>
#include "engine/repo.h"
#include "engine/train/trainer.h"

#define JOBQ_TEXT_MAX 200   /* style_title and style_license, bytes */

typedef struct JobConfig {
    char name[REPO_NAME_MAX + 1];
    char init[REPO_NAME_MAX + 1];  /* "" = none */
    int init_version;              /* resolved at submission; 0 = none */
    char style_title[JOBQ_TEXT_MAX + 1], style_license[JOBQ_TEXT_MAX + 1];
    TrainConfig train;             /* the settings; use jobq_config_train for its strings */
} JobConfig;

/* Fills c from cfg (defaults for what is absent). 0, or -1 with the
 * offending key in field and a sentence in err. */
int jobq_config_parse(json_t *cfg, JobConfig *c, char *field, size_t fieldlen, char *err,
                      size_t errlen);

/* The config as a JSON object with every key (new reference), or NULL. */
json_t *jobq_config_json(const JobConfig *c);

/* The TrainConfig to train with: c's settings, its strings borrowed from c. */
void jobq_config_train(const JobConfig *c, TrainConfig *tc);

#endif
