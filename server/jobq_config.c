/* jobq_config.c: a training job's config (jobq_config.h). The settings
 * are train_opts.c's; this file adds the job's own keys. */
#include "server/jobq_config.h"

#include <stdio.h>
#include <string.h>

#include "engine/train/train_opts.h"
#include "engine/train/train_presets.h"

static const char *const own_keys[] = { "name", "init", "init_version", "preset", NULL };

static int bad(char *field, size_t fieldlen, const char *name, char *err, size_t errlen,
               const char *what)
{
    snprintf(field, fieldlen, "%s", name);
    snprintf(err, errlen, "%s %s", name, what);
    return -1;
}

/* A model name at key into out ("" when absent). 0, or -1. */
static int get_name(json_t *cfg, const char *key, char *out)
{
    json_t *v = json_object_get(cfg, key);
    out[0] = '\0';
    if (!v)
        return 0;
    if (!json_is_string(v) || !repo_valid_name(json_string_value(v)))
        return -1;
    snprintf(out, REPO_NAME_MAX + 1, "%s", json_string_value(v));
    return 0;
}

int jobq_config_parse(json_t *cfg, JobConfig *c, char *field, size_t fieldlen, char *err,
                      size_t errlen)
{
    json_t *v;
    memset(c, 0, sizeof *c);
    train_opts_defaults(&c->train);
    if (!json_is_object(cfg))
        return bad(field, fieldlen, "config", err, errlen, "must be a JSON object");
    /* A preset first: the settings beside it override its values. */
    v = json_object_get(cfg, "preset");
    if (v) {
        char why[256];
        if (train_preset_apply(&c->train, json_is_string(v) ? json_string_value(v) : "",
                               TRAIN_PROFILE_JOB, why, sizeof why))
            return bad(field, fieldlen, "preset", err, errlen, why);
    }
    if (train_opts_from_json(&c->train, cfg, TRAIN_PROFILE_JOB, own_keys, field, fieldlen, err,
                             errlen))
        return -1;
    if (get_name(cfg, "name", c->name) || !c->name[0])
        return bad(field, fieldlen, "name", err, errlen, "is required: [a-z0-9_-]{1,64}");
    if (get_name(cfg, "init", c->init))
        return bad(field, fieldlen, "init", err, errlen, "must name a model: [a-z0-9_-]{1,64}");
    v = json_object_get(cfg, "init_version");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
              json_integer_value(v) > REPO_MAX_VERSION))
        return bad(field, fieldlen, "init_version", err, errlen,
                   "must be an integer in 0..1000000");
    c->init_version = v ? (int)json_integer_value(v) : 0;
    if (c->init_version && !c->init[0])
        return bad(field, fieldlen, "init_version", err, errlen,
                   "is only valid with init (the server sets it when the job is queued)");
    /* The strings are borrowed from cfg until here: keep copies (the table
     * has checked their length). */
    snprintf(c->style_title, sizeof c->style_title, "%s", c->train.style_title);
    snprintf(c->style_license, sizeof c->style_license, "%s", c->train.style_license);
    c->train.style_title = c->train.style_license = NULL;
    if (train_opts_finish(&c->train, TRAIN_PROFILE_JOB, NULL, err, errlen)) {
        snprintf(field, fieldlen, "%.*s", (int)strcspn(err, " "), err);
        return -1;
    }
    return 0;
}

void jobq_config_train(const JobConfig *c, TrainConfig *tc)
{
    *tc = c->train;
    tc->name = c->name;
    tc->style_title = c->style_title;
    tc->style_license = c->style_license;
}

json_t *jobq_config_json(const JobConfig *c)
{
    TrainConfig tc;
    jobq_config_train(c, &tc);
    json_t *o = train_opts_to_json(&tc, TOPT_JOB);
    if (o && (json_object_set_new(o, "name", json_string(c->name)) ||
              (c->init[0] && (json_object_set_new(o, "init", json_string(c->init)) ||
                              json_object_set_new(o, "init_version",
                                                  json_integer(c->init_version)))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}
