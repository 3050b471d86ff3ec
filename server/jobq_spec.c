/* jobq_spec.c: validating a training job's config (jobq_spec.h). */
#include "server/jobq_spec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/repo.h"

static const char *const known[] = {"name", "steps", "size", "batch", "checkpoint_every",
                                    "seed", "lr", "w_adv", "w_content", "w_style", "w_tv",
                                    "width", "blocks", "init", "init_version", "style_title",
                                    "style_license", "style_loss", "style_scale",
                                    "content_pool", "style_depth", "style_levels",
                                    "w_structure", "structure_depth"};

static int bad(char *field, size_t fieldlen, const char *name, char *err, size_t errlen,
               const char *what)
{
    snprintf(field, fieldlen, "%s", name);
    snprintf(err, errlen, "%s %s", name, what);
    return -1;
}

/* An integer field in lo..hi, def when absent. */
static int get_int(json_t *cfg, const char *key, int64_t lo, int64_t hi, int64_t def,
                   int64_t *out, char *field, size_t fieldlen, char *err, size_t errlen)
{
    json_t *v = json_object_get(cfg, key);
    char what[96];
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(what, sizeof what, "must be an integer in %lld..%lld", (long long)lo,
                 (long long)hi);
        return bad(field, fieldlen, key, err, errlen, what);
    }
    *out = json_integer_value(v);
    return 0;
}

static int get_num(json_t *cfg, const char *key, double lo, double hi, double def, double *out,
                   char *field, size_t fieldlen, char *err, size_t errlen)
{
    json_t *v = json_object_get(cfg, key);
    char what[96];
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < lo ||
        json_number_value(v) > hi) {
        snprintf(what, sizeof what, "must be a number in %g..%g", lo, hi);
        return bad(field, fieldlen, key, err, errlen, what);
    }
    *out = json_number_value(v);
    return 0;
}

static int get_str(json_t *cfg, const char *key, char *out, size_t len, char *field,
                   size_t fieldlen, char *err, size_t errlen)
{
    json_t *v = json_object_get(cfg, key);
    char what[64];
    out[0] = '\0';
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= len ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(what, sizeof what, "must be a string of at most %zu bytes", len - 1);
        return bad(field, fieldlen, key, err, errlen, what);
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int jobq_spec_parse(json_t *cfg, JobSpec *s, char *field, size_t fieldlen, char *err,
                    size_t errlen)
{
    const char *key;
    json_t *v;
    int64_t i64;
    memset(s, 0, sizeof *s);
    if (!json_is_object(cfg))
        return bad(field, fieldlen, "config", err, errlen, "must be a JSON object");
    json_object_foreach(cfg, key, v) {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(key, known[k]))
            k++;
        if (k == sizeof known / sizeof known[0]) {
            snprintf(field, fieldlen, "%.40s", key);
            snprintf(err, errlen, "unknown field '%.40s' in config", key);
            return -1;
        }
    }
    if (get_str(cfg, "name", s->name, sizeof s->name, field, fieldlen, err, errlen) ||
        !repo_valid_name(s->name))
        return bad(field, fieldlen, "name", err, errlen, "is required: [a-z0-9_-]{1,64}");
#define INT(key, lo, hi, def, dst)                                                           \
    do {                                                                                     \
        if (get_int(cfg, key, lo, hi, def, &i64, field, fieldlen, err, errlen))              \
            return -1;                                                                       \
        dst = i64;                                                                           \
    } while (0)
#define NUM(key, lo, hi, def, dst)                                                           \
    do {                                                                                     \
        if (get_num(cfg, key, lo, hi, def, &dst, field, fieldlen, err, errlen))              \
            return -1;                                                                       \
    } while (0)
    INT("steps", 1, 1000000, 4000, s->steps);
    INT("size", 32, 1024, 256, s->size);
    if (s->size % 4)
        return bad(field, fieldlen, "size", err, errlen, "must be a multiple of 4");
    INT("batch", 1, 16, 1, s->batch);
    INT("checkpoint_every", 1, s->steps, s->steps < 500 ? s->steps : 500, s->checkpoint_every);
    INT("seed", 0, INT64_C(1) << 53, 1, s->seed);
    INT("width", 4, 128, 32, s->width);
    INT("blocks", 0, 16, 5, s->blocks);
    INT("init_version", 0, REPO_MAX_VERSION, 0, s->init_version);
    NUM("lr", 1e-7, 0.1, 2e-4, s->lr);
    NUM("w_adv", 0, 1e6, 1, s->w_adv);
    NUM("w_content", 0, 1e6, 10, s->w_content);
    NUM("w_style", 0, 1e6, 1, s->w_style);
    NUM("w_tv", 0, 1e6, 0, s->w_tv);
    NUM("w_structure", 0, 1e6, 0, s->w_structure);
    INT("content_pool", 1, 64, 4, s->content_pool);
    if (s->size % s->content_pool)
        return bad(field, fieldlen, "content_pool", err, errlen, "must divide size");
    INT("style_depth", STYLE_MIN_DEPTH, STYLE_MAX_DEPTH, STYLE_DEPTH, s->style_depth);
    if (s->size >> (s->style_depth - 1) < 2)
        return bad(field, fieldlen, "style_depth", err, errlen,
                   "must leave the last stage 2 pixels: size / 2^(depth - 1) >= 2");
    INT("structure_depth", STYLE_MIN_DEPTH, STYLE_MAX_DEPTH, 3, s->structure_depth);
    if (s->size >> (s->structure_depth - 1) < 2)
        return bad(field, fieldlen, "structure_depth", err, errlen,
                   "must leave the last stage 2 pixels: size / 2^(depth - 1) >= 2");
#undef INT
#undef NUM
    v = json_object_get(cfg, "style_loss");
    s->style_swd = v && json_is_string(v) && !strcmp(json_string_value(v), "swd");
    if (v && !s->style_swd && !(json_is_string(v) && !strcmp(json_string_value(v), "gram")))
        return bad(field, fieldlen, "style_loss", err, errlen, "must be \"gram\" or \"swd\"");
    v = json_object_get(cfg, "style_scale");
    s->style_lo = 0.25;
    s->style_hi = 0.6;
    if (v) {
        json_t *lo = json_array_get(v, 0), *hi = json_array_get(v, 1);
        if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(lo) ||
            !json_is_number(hi) || !(json_number_value(lo) >= 0.01) ||
            !(json_number_value(lo) <= json_number_value(hi)) || !(json_number_value(hi) <= 1))
            return bad(field, fieldlen, "style_scale", err, errlen,
                       "must be [lo, hi] with 0.01 <= lo <= hi <= 1");
        s->style_lo = json_number_value(lo);
        s->style_hi = json_number_value(hi);
    }
    v = json_object_get(cfg, "style_levels");
    for (int l = 0; l <= STYLE_MAX_DEPTH; l++)
        s->style_levels[l] = 1;
    if (v) {
        char what[96];
        snprintf(what, sizeof what, "must be an array of style_depth + 1 = %d numbers in 0..1e6",
                 s->style_depth + 1);
        if (!json_is_array(v) || json_array_size(v) != (size_t)s->style_depth + 1)
            return bad(field, fieldlen, "style_levels", err, errlen, what);
        for (int l = 0; l <= s->style_depth; l++) {
            json_t *e = json_array_get(v, (size_t)l);
            if (!json_is_number(e) || !(json_number_value(e) >= 0) ||
                !(json_number_value(e) <= 1e6))
                return bad(field, fieldlen, "style_levels", err, errlen, what);
            s->style_levels[l] = json_number_value(e);
        }
    }
    if (get_str(cfg, "init", s->init, sizeof s->init, field, fieldlen, err, errlen) ||
        (s->init[0] && !repo_valid_name(s->init)))
        return bad(field, fieldlen, "init", err, errlen, "must name a model: [a-z0-9_-]{1,64}");
    if (s->init_version && !s->init[0])
        return bad(field, fieldlen, "init_version", err, errlen,
                   "is only valid with init (the server sets it when the job is queued)");
    if (get_str(cfg, "style_title", s->style_title, sizeof s->style_title, field, fieldlen,
                err, errlen) ||
        get_str(cfg, "style_license", s->style_license, sizeof s->style_license, field,
                fieldlen, err, errlen))
        return -1;
    return 0;
}

json_t *jobq_spec_json(const JobSpec *s)
{
    json_t *o = json_pack("{s:s, s:I, s:i, s:i, s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:i, s:i, "
                          "s:s, s:s}",
                          "name", s->name, "steps", (json_int_t)s->steps, "size", s->size,
                          "batch", s->batch, "checkpoint_every", s->checkpoint_every, "seed",
                          (json_int_t)s->seed, "lr", s->lr, "w_adv", s->w_adv, "w_content",
                          s->w_content, "w_style", s->w_style, "w_tv", s->w_tv, "width",
                          s->width, "blocks", s->blocks, "style_title", s->style_title,
                          "style_license", s->style_license);
    if (o) {
        json_object_set_new(o, "content_pool", json_integer(s->content_pool));
        json_object_set_new(o, "style_loss", json_string(s->style_swd ? "swd" : "gram"));
        json_object_set_new(o, "style_scale", json_pack("[f, f]", s->style_lo, s->style_hi));
        json_object_set_new(o, "style_depth", json_integer(s->style_depth));
        json_t *lv = json_array();
        for (int l = 0; l <= s->style_depth; l++)
            json_array_append_new(lv, json_real(s->style_levels[l]));
        json_object_set_new(o, "style_levels", lv);
        json_object_set_new(o, "w_structure", json_real(s->w_structure));
        json_object_set_new(o, "structure_depth", json_integer(s->structure_depth));
    }
    if (o && s->init[0]) {
        json_object_set_new(o, "init", json_string(s->init));
        json_object_set_new(o, "init_version", json_integer(s->init_version));
    }
    return o;
}

void jobq_spec_apply(const JobSpec *s, TrainConfig *tc)
{
    tc->name = s->name;
    tc->steps = s->steps;
    tc->size = s->size;
    tc->batch = s->batch;
    tc->checkpoint_every = s->checkpoint_every;
    tc->seed = s->seed;
    tc->lr_g = tc->lr_d = (float)s->lr;
    tc->w_adv = (float)s->w_adv;
    tc->w_content = (float)s->w_content;
    tc->w_style = (float)s->w_style;
    tc->w_tv = (float)s->w_tv;
    tc->content_pool = s->content_pool;
    tc->style_kind = s->style_swd ? STYLE_SWD : STYLE_GRAM;
    tc->style_lo = (float)s->style_lo;
    tc->style_hi = (float)s->style_hi;
    tc->style_depth = s->style_depth;
    tc->w_structure = (float)s->w_structure;
    tc->structure_depth = s->structure_depth;
    for (int l = 0; l <= s->style_depth; l++)
        tc->style_levels[l] = (float)s->style_levels[l];
    tc->arch = TRAIN_ARCH_FAST;
    tc->width = s->width;
    tc->blocks = s->blocks;
    if (s->style_title[0])
        tc->style_title = s->style_title;
    if (s->style_license[0])
        tc->style_license = s->style_license;
}
