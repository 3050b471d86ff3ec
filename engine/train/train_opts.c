/* train_opts.c: the table of training settings (train_opts.h). */
#include "engine/train/train_opts.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine/util.h"

_Static_assert(sizeof(TrainArch) == sizeof(int) && sizeof(GanLoss) == sizeof(int) &&
                   sizeof(StyleKind) == sizeof(int) && sizeof(TrainPromote) == sizeof(int),
               "TOPT_ENUM rows are read and written as int");

#define F(field) offsetof(TrainConfig, field)
#define ALL (TOPT_CLI | TOPT_JOB | TOPT_CARD)
#define CLI_CARD (TOPT_CLI | TOPT_CARD)
/* The shipped model's style_depth (its card), the default where the size
 * allows it. */
#define RECIPE_STYLE_DEPTH 6

static const char *const arch_names[] = { "fast", "resnet9", NULL };
static const char *const upsample_names[] = { "transposed", "resize", NULL };
static const char *const gan_names[] = { "lsgan", "hinge", "ns", NULL };
static const char *const style_names[] = { "gram", "swd", NULL };
static const char *const content_filter_names[] = { "box", "gauss", NULL };
/* By value: the DIFFAUG_* bits. */
static const char *const augment_names[] = { "none", "translation", "cutout",
                                             "translation,cutout", NULL };
static const char *const promote_names[] = { "never", "on_success", "best", "each", NULL };

/* name, type, offset, lo, hi, job_lo, job_hi, default, names, count, max, where, arg, help */
static const TrainOpt opts[] = {
    { "steps", TOPT_I64, F(steps), 1, 1e8, 1, 1e6, "5000", NULL, 0, 0, ALL, "N",
      "total steps" },
    { "size", TOPT_INT, F(size), 32, 2048, 32, 1024, "256", NULL, 0, 0, ALL, "S",
      "crop size, a multiple of 4 and of --content-pool" },
    { "batch", TOPT_INT, F(batch), 1, 64, 1, 16, "1", NULL, 0, 0, ALL, "B", "photos per step" },
    { "checkpoint_every", TOPT_INT, F(checkpoint_every), 0, 1e8, 1, 1e6, NULL, NULL, 0, 0, ALL,
      "K", "steps between checkpoints, each published as the next version; the last step "
      "always is one (default min(500, steps))" },
    { "log_every", TOPT_INT, F(log_every), 1, 1e8, 1, 1e8, "10", NULL, 0, 0, TOPT_CLI, "N",
      "steps between progress lines" },
    { "seed", TOPT_U64, F(seed), 0, 1e18, 0, 9007199254740992.0, "1", NULL, 0, 0, ALL, "S",
      "random seed" },
    { "arch", TOPT_ENUM, F(arch), 0, 0, 0, 0, "fast", arch_names, 0, 0, CLI_CARD,
      "fast|resnet9", "generator" },
    { "width", TOPT_INT, F(width), 1, 256, 4, 128, NULL, NULL, 0, 0, ALL, "W",
      "generator width: fast: first-layer channels (32); resnet9: ngf (64)" },
    { "blocks", TOPT_INT, F(blocks), 0, 32, 0, 16, NULL, NULL, 0, 0, ALL, "N",
      "residual blocks (default fast 4, resnet9 9)" },
    { "upsample", TOPT_ENUM, F(resize_conv), 0, 0, 0, 0, "resize", upsample_names, 0, 0,
      CLI_CARD, "resize|transposed", "fast arch upsampling" },
    { "ndf", TOPT_INT, F(ndf), 1, 512, 1, 512, "32", NULL, 0, 0, CLI_CARD, "N",
      "discriminator width" },
    { "d_layers", TOPT_INT, F(d_layers), 1, 6, 1, 6, "3", NULL, 0, 0, CLI_CARD, "L",
      "discriminator depth (3: 70x70 patches)" },
    { "spectral", TOPT_FLAG, F(d_spectral), 0, 1, 0, 1, NULL, NULL, 0, 0, CLI_CARD, NULL,
      "spectral norm in the discriminator instead of instance norm" },
    { "multiscale", TOPT_FLAG, F(d_scales), 1, 2, 1, 2, NULL, NULL, 0, 0, CLI_CARD, NULL,
      "a second discriminator on 2x-downsampled images" },
    { "d_augment", TOPT_ENUM, F(d_augment), 0, 0, 0, 0, "none", augment_names, 0, 0,
      ALL, "LIST", "none, translation, cutout or translation,cutout: the "
      "discriminator's real and fake inputs shifted by up to 1/8 of the side and/or a square "
      "of half the side cut out (mid-grey), alike, with the generator's gradient passed "
      "through (DiffAugment: a discriminator that cannot memorise the painting's patches)" },
    { "gan", TOPT_ENUM, F(gan), 0, 0, 0, 0, "lsgan", gan_names, 0, 0, CLI_CARD,
      "lsgan|hinge|ns", "adversarial loss" },
    { "lr", TOPT_FLOAT, F(lr_g), 0, 1, 1e-7, 0.1, "2e-4", NULL, 0, 0, ALL, "A",
      "generator's Adam learning rate (beta1 0.5, beta2 0.999)" },
    { "lr_d", TOPT_FLOAT, F(lr_d), 0, 1, 1e-7, 0.1, NULL, NULL, 0, 0, ALL, "A",
      "discriminator's learning rate (default: lr)" },
    { "decay_from", TOPT_FLOAT, F(decay_from), 0, 1, 0, 1, "0.5", NULL, 0, 0, CLI_CARD, "F",
      "keep the rates constant for this fraction of the steps, then linear to 0" },
    { "w_adv", TOPT_FLOAT, F(w_adv), 0, 1e6, 0, 1e6, "0.3", NULL, 0, 0, ALL, "X",
      "adversarial loss weight" },
    { "w_content", TOPT_FLOAT, F(w_content), 0, 1e6, 0, 1e6, "40", NULL, 0, 0, ALL, "X",
      "content loss weight" },
    { "w_style", TOPT_FLOAT, F(w_style), 0, 1e6, 0, 1e6, "1", NULL, 0, 0, ALL, "X",
      "style loss weight" },
    { "w_tv", TOPT_FLOAT, F(w_tv), 0, 1e6, 0, 1e6, "0", NULL, 0, 0, ALL, "X",
      "total variation weight" },
    { "content_pool", TOPT_INT, F(content_pool), 1, 64, 1, 64, "4", NULL, 0, 0, ALL, "P",
      "content loss on P x P pooled luminance; must divide size (box filter)" },
    { "content_filter", TOPT_ENUM, F(content_gauss), 0, 0, 0, 0, "box", content_filter_names,
      0, 0, ALL, "box|gauss", "pool the content's luminance by P x P boxes, or blur it by a "
      "Gaussian of sigma P/2 compared at every pixel (no block grid at large P)" },
    { "w_structure", TOPT_FLOAT, F(w_structure), 0, 1e6, 0, 1e6, "5", NULL, 0, 0, ALL, "X",
      "structure loss weight (0: off): the photo's edges as random features of its "
      "luminance see them (counted in the content figure)" },
    { "structure_depth", TOPT_INT, F(structure_depth), STYLE_MIN_DEPTH, STYLE_MAX_DEPTH,
      STYLE_MIN_DEPTH, STYLE_MAX_DEPTH, "3", NULL, 0, 0, ALL, "N",
      "the extractor stage the structure loss compares" },
    { "style_loss", TOPT_ENUM, F(style_kind), 0, 0, 0, 0, "swd", style_names, 0, 0, ALL,
      "gram|swd", "style statistics: Gram matrices, or sliced Wasserstein (whole "
      "distributions)" },
    { "style_depth", TOPT_INT, F(style_depth), STYLE_MIN_DEPTH, STYLE_MAX_DEPTH,
      STYLE_MIN_DEPTH, STYLE_MAX_DEPTH, NULL, NULL, 0, 0, ALL, "N",
      "stages of the random feature extractor; stage k sees 2^k + 1 pixels (default 6, or "
      "the deepest the size allows: 5 at size 32)" },
    { "style_levels", TOPT_FLOATS, F(style_levels), 0, 1e6, 0, 1e6, NULL, NULL,
      F(style_nlevels), STYLE_MAX_DEPTH + 1, ALL, "W,...",
      "weights of the style levels: the pixels', then each stage's (depth + 1 numbers; "
      "default 1,0.5,0.5,1,1,1,1, as many as the depth takes)" },
    { "w_gabor", TOPT_FLOAT, F(w_gabor), 0, 1e6, 0, 1e6, "0", NULL, 0, 0, ALL, "X",
      "Gabor filter-bank style loss weight (0: off): 8 orientations of 11x11 filters on a "
      "luminance pyramid, matched to the painting by sliced Wasserstein: its strokes' "
      "directions and sizes (counted in the style figure)" },
    { "gabor_levels", TOPT_FLOATS, F(gabor_levels), 0, 1e6, 0, 1e6, NULL, NULL,
      F(gabor_nlevels), GABOR_MAX_LEVELS, ALL, "W,...",
      "the Gabor pyramid levels' weights, finest first; their count is the number of "
      "levels, each halving the size (default 1,1,1,1: strokes of 11 to 88 pixels)" },
    { "style_scale", TOPT_PAIR, F(style_lo), 0.01, 1, 0.01, 1, "0.15,0.4", NULL, 0, 0, ALL,
      "LO,HI", "style patches' sides as fractions of the painting's shorter side; smaller = "
      "larger strokes" },
    { "holdout", TOPT_INT, F(holdout), 0, 1e6, 0, 1e6, "7", NULL, 0, 0, CLI_CARD, "K",
      "hold out every K-th photo (0: none)" },
    { "style_title", TOPT_STRING, F(style_title), 0, 0, 0, 200, "", NULL, 0, 0,
      TOPT_CLI | TOPT_JOB, "T", "the painting's title, for the model card" },
    { "style_license", TOPT_STRING, F(style_license), 0, 0, 0, 200, "", NULL, 0, 0,
      TOPT_CLI | TOPT_JOB, "L", "the painting's licence, for the model card" },
    { "promote", TOPT_ENUM, F(promote), 0, 0, 0, 0, "on_success", promote_names, 0, 0,
      TOPT_JOB, "never|on_success|best|each", "when a job's candidates (each checkpoint, "
      "judged by the promotion gate) become what ?model=NAME serves: by hand only, the "
      "newest that passed when the job succeeds, each that passes and beats the served "
      "version, or each that passes" },
    { "overwrite", TOPT_FLAG, F(overwrite), 0, 1, 0, 1, NULL, NULL, 0, 0, TOPT_JOB, NULL,
      "a job may publish into an existing model it does not fine-tune (else 409)" },
    { "canary", TOPT_FLOAT, F(canary), 0, 1, 0, 1, "0", NULL, 0, 0, TOPT_JOB, "S",
      "before a candidate is promoted, the share of ?model=NAME's requests it answers "
      "(0: promoted at once); promoted after canary_requests if none failed, else refused" },
    { "canary_requests", TOPT_INT, F(canary_requests), 1, 1e6, 1, 1e6, "100", NULL, 0, 0,
      TOPT_JOB, "N", "requests the canary answers before its promotion" },
};

#define NOPTS ((int)(sizeof opts / sizeof opts[0]))

const TrainOpt *train_opts_table(int *n)
{
    *n = NOPTS;
    return opts;
}

/* name == key, with '-' in name matching '_' in key. */
static int same_name(const char *name, const char *key)
{
    for (; *name && *key; name++, key++)
        if (*name != *key && !(*name == '-' && *key == '_'))
            return 0;
    return !*name && !*key;
}

const TrainOpt *train_opts_find(const char *name)
{
    for (int i = 0; i < NOPTS; i++)
        if (same_name(name, opts[i].name))
            return &opts[i];
    return NULL;
}

#define AT(c, o, type) ((type *)((char *)(c) + (o)->offset))

static double lo_of(const TrainOpt *o, TrainProfile p)
{
    return p == TRAIN_PROFILE_JOB ? o->job_lo : o->lo;
}

static double hi_of(const TrainOpt *o, TrainProfile p)
{
    return p == TRAIN_PROFILE_JOB ? o->job_hi : o->hi;
}

/* A whole number or decimal in lo..hi. */
static int parse_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int range_msg(const TrainOpt *o, TrainProfile p, char *err, size_t errlen)
{
    double lo = lo_of(o, p), hi = hi_of(o, p);
    if (o->type == TOPT_INT || o->type == TOPT_I64 || o->type == TOPT_U64)
        util_errf(err, errlen, "must be an integer in %.0f..%.0f", lo, hi);
    else
        util_errf(err, errlen, "must be a number in %g..%g", lo, hi);
    return -1;
}

static int enum_msg(const TrainOpt *o, char *err, size_t errlen)
{
    char list[128] = "";
    size_t n = 0;
    for (int i = 0; o->names[i]; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s\"%s\"",
                              !i ? "" : o->names[i + 1] ? ", " : " or ", o->names[i]);
    util_errf(err, errlen, "must be %s", list);
    return -1;
}

/* Stores v (already in range) into an integer or float row. */
static void store_number(TrainConfig *c, const TrainOpt *o, double v)
{
    switch (o->type) {
    case TOPT_INT: *AT(c, o, int) = (int)v; break;
    case TOPT_I64: *AT(c, o, int64_t) = (int64_t)v; break;
    case TOPT_U64: *AT(c, o, uint64_t) = (uint64_t)v; break;
    case TOPT_FLOAT: *AT(c, o, float) = (float)v; break;
    default: break;
    }
}

static int set_enum(TrainConfig *c, const TrainOpt *o, const char *s, char *err, size_t errlen)
{
    for (int i = 0; o->names[i]; i++)
        if (!strcmp(s, o->names[i])) {
            *AT(c, o, int) = i;
            return 0;
        }
    return enum_msg(o, err, errlen);
}

static int pair_msg(const TrainOpt *o, TrainProfile p, char *err, size_t errlen)
{
    util_errf(err, errlen, "must be [lo, hi] with %g <= lo <= hi <= %g", lo_of(o, p),
              hi_of(o, p));
    return -1;
}

/* Comma-separated numbers in range, at most max: how many, or -1. */
static int parse_list(const char *s, double lo, double hi, float *out, int max)
{
    int n = 0;
    for (;;) {
        char a[64];
        double v;
        size_t len = strcspn(s, ",");
        if (n == max || len >= sizeof a)
            return -1;
        memcpy(a, s, len);
        a[len] = 0;
        if (parse_number(a, lo, hi, &v))
            return -1;
        out[n++] = (float)v;
        if (!s[len])
            return n;
        s += len + 1;
    }
}

int train_opts_set_text(TrainConfig *c, const TrainOpt *o, const char *text, TrainProfile p,
                        char *err, size_t errlen)
{
    double v, lo = lo_of(o, p), hi = hi_of(o, p);
    switch (o->type) {
    case TOPT_INT:
    case TOPT_I64: {
        long long n;
        if (util_parse_int(text, LLONG_MIN, LLONG_MAX, &n) || n < lo || n > hi)
            return range_msg(o, p, err, errlen);
        store_number(c, o, (double)n);
        if (o->type == TOPT_I64)
            *AT(c, o, int64_t) = n;   /* exact beyond 2^53 */
        return 0;
    }
    case TOPT_U64:
    case TOPT_FLOAT:
        if (parse_number(text, lo, hi, &v))
            return range_msg(o, p, err, errlen);
        store_number(c, o, v);
        return 0;
    case TOPT_FLAG:
        *AT(c, o, int) = (int)o->hi;
        return 0;
    case TOPT_ENUM:
        return set_enum(c, o, text, err, errlen);
    case TOPT_FLOATS: {
        float tmp[16];
        int n = parse_list(text, lo, hi, tmp, o->max_count);
        if (n < 0) {
            util_errf(err, errlen, "must be up to %d numbers in %g..%g, separated by commas",
                      o->max_count, lo, hi);
            return -1;
        }
        memcpy(AT(c, o, float), tmp, (size_t)n * sizeof(float));
        *(int *)((char *)c + o->count_offset) = n;
        return 0;
    }
    case TOPT_PAIR: {
        float pr[2];
        if (parse_list(text, lo, hi, pr, 2) != 2 || pr[0] > pr[1])
            return pair_msg(o, p, err, errlen);
        AT(c, o, float)[0] = pr[0];
        AT(c, o, float)[1] = pr[1];
        return 0;
    }
    case TOPT_STRING:
        if (p == TRAIN_PROFILE_JOB && strlen(text) > (size_t)o->job_hi) {
            util_errf(err, errlen, "must be a string of at most %.0f bytes", o->job_hi);
            return -1;
        }
        *AT(c, o, const char *) = text;
        return 0;
    }
    return -1;
}

void train_opts_defaults(TrainConfig *c)
{
    memset(c, 0, sizeof(*c));
    c->models_dir = "models";
    c->beta1 = 0.5f;
    c->beta2 = 0.999f;
    /* The shipped recipe's: stages 1 and 2 at half weight. */
    for (int l = 0; l <= STYLE_MAX_DEPTH; l++)
        c->style_levels[l] = l == 1 || l == 2 ? 0.5f : 1.0f;
    for (int l = 0; l < GABOR_MAX_LEVELS; l++)
        c->gabor_levels[l] = 1.0f;
    for (int i = 0; i < NOPTS; i++) {
        const TrainOpt *o = &opts[i];
        if (o->type == TOPT_FLAG)
            *AT(c, o, int) = (int)o->lo;
        else if (o->def && train_opts_set_text(c, o, o->def, TRAIN_PROFILE_CLI, NULL, 0))
            abort();   /* a default outside its own range: a bug in the table */
    }
    /* Derived (train_opts_finish settles them). */
    c->checkpoint_every = -1;
    c->width = c->blocks = -1;
    c->lr_d = -1;
    c->style_depth = -1;
}

/* A JSON value for row o. 0, or -1 with why in err. */
static int set_json(TrainConfig *c, const TrainOpt *o, json_t *v, TrainProfile p, char *err,
                    size_t errlen)
{
    double lo = lo_of(o, p), hi = hi_of(o, p);
    switch (o->type) {
    case TOPT_INT:
    case TOPT_I64:
    case TOPT_U64:
        if (!json_is_integer(v) || (double)json_integer_value(v) < lo ||
            (double)json_integer_value(v) > hi)
            return range_msg(o, p, err, errlen);
        store_number(c, o, (double)json_integer_value(v));
        if (o->type == TOPT_I64)
            *AT(c, o, int64_t) = json_integer_value(v);
        if (o->type == TOPT_U64)
            *AT(c, o, uint64_t) = (uint64_t)json_integer_value(v);
        return 0;
    case TOPT_FLOAT:
        if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
            json_number_value(v) < lo || json_number_value(v) > hi)
            return range_msg(o, p, err, errlen);
        store_number(c, o, json_number_value(v));
        return 0;
    case TOPT_FLAG:
        if (!json_is_boolean(v)) {
            util_errf(err, errlen, "must be true or false");
            return -1;
        }
        *AT(c, o, int) = (int)(json_is_true(v) ? o->hi : o->lo);
        return 0;
    case TOPT_ENUM:
        if (!json_is_string(v))
            return enum_msg(o, err, errlen);
        return set_enum(c, o, json_string_value(v), err, errlen);
    case TOPT_FLOATS: {
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n < 1 || n > (size_t)o->max_count)
            goto bad_list;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_number(e) || !(json_number_value(e) >= lo) ||
                !(json_number_value(e) <= hi))
                goto bad_list;
            AT(c, o, float)[i] = (float)json_number_value(e);
        }
        *(int *)((char *)c + o->count_offset) = (int)n;
        return 0;
    bad_list:
        util_errf(err, errlen, "must be an array of up to %d numbers in %g..%g", o->max_count,
                  lo, hi);
        return -1;
    }
    case TOPT_PAIR: {
        json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
        if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(a) ||
            !json_is_number(b) || !(json_number_value(a) >= lo) ||
            !(json_number_value(a) <= json_number_value(b)) || !(json_number_value(b) <= hi))
            return pair_msg(o, p, err, errlen);
        AT(c, o, float)[0] = (float)json_number_value(a);
        AT(c, o, float)[1] = (float)json_number_value(b);
        return 0;
    }
    case TOPT_STRING:
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
            (p == TRAIN_PROFILE_JOB && json_string_length(v) > (size_t)o->job_hi)) {
            util_errf(err, errlen, "must be a string of at most %.0f bytes", o->job_hi);
            return -1;
        }
        *AT(c, o, const char *) = json_string_value(v);
        return 0;
    }
    return -1;
}

static int in_profile(const TrainOpt *o, TrainProfile p)
{
    return o->where & (p == TRAIN_PROFILE_JOB ? TOPT_JOB : TOPT_CLI);
}

/* "<name> <why>" into err, name into field. */
static int fail_field(const char *name, char *why, char *field, size_t fieldlen, char *err,
                      size_t errlen)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", why);
    if (field && fieldlen)
        snprintf(field, fieldlen, "%.40s", name);
    util_errf(err, errlen, "%.40s %s", name, tmp);
    return -1;
}

int train_opts_from_json(TrainConfig *c, json_t *obj, TrainProfile p,
                         const char *const *skip, char *field, size_t fieldlen,
                         char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char why[256];
    if (!json_is_object(obj))
        return fail_field("config", "must be a JSON object", field, fieldlen, err, errlen);
    json_object_foreach(obj, key, v) {
        int theirs = 0;
        for (int i = 0; skip && skip[i]; i++)
            theirs |= !strcmp(key, skip[i]);
        if (theirs)
            continue;
        const TrainOpt *o = NULL;
        for (int i = 0; i < NOPTS && !o; i++)
            if (!strcmp(key, opts[i].name) && in_profile(&opts[i], p))
                o = &opts[i];
        if (!o) {
            if (field && fieldlen)
                snprintf(field, fieldlen, "%.40s", key);
            util_errf(err, errlen, "unknown field '%.40s' in config", key);
            return -1;
        }
        if (set_json(c, o, v, p, why, sizeof why))
            return fail_field(o->name, why, field, fieldlen, err, errlen);
    }
    return 0;
}

/* Rows by name, for the rules (names from the table above). */
static const TrainOpt *row(const char *name)
{
    const TrainOpt *o = train_opts_find(name);
    if (!o)
        abort();
    return o;
}

static int rule(const TrainOpt *o, const TrainOpt **bad, char *err, size_t errlen,
                const char *why)
{
    if (bad)
        *bad = o;
    return fail_field(o->name, (char *)why, NULL, 0, err, errlen);
}

int train_opts_finish(TrainConfig *c, TrainProfile p, const TrainOpt **bad,
                      char *err, size_t errlen)
{
    char why[256];
    if (c->width <= 0)
        c->width = c->arch == TRAIN_ARCH_RESNET9 ? 64 : 32;
    if (c->blocks < 0)
        c->blocks = c->arch == TRAIN_ARCH_RESNET9 ? 9 : 4;
    if (c->lr_d < 0)
        c->lr_d = c->lr_g;
    if (c->checkpoint_every < 0)
        c->checkpoint_every = c->steps < 500 ? (int)c->steps : 500;
    if (!c->gabor_nlevels)
        c->gabor_nlevels = GABOR_DEFAULT_LEVELS;
    if (c->style_depth < 0)   /* the recipe's 6, capped where the last stage is 2 pixels */
        for (c->style_depth = RECIPE_STYLE_DEPTH;
             c->style_depth > STYLE_MIN_DEPTH && c->size >> (c->style_depth - 1) < 2;
             c->style_depth--)
            ;
    for (int i = 0; i < NOPTS; i++) {
        const TrainOpt *o = &opts[i];
        double v, lo = lo_of(o, p), hi = hi_of(o, p);
        int ok = 1;
        switch (o->type) {
        case TOPT_INT: v = *AT(c, o, int); ok = v >= lo && v <= hi; break;
        case TOPT_I64: v = (double)*AT(c, o, int64_t); ok = v >= lo && v <= hi; break;
        case TOPT_U64: v = (double)*AT(c, o, uint64_t); ok = v >= lo && v <= hi; break;
        case TOPT_FLOAT:    /* the bounds as floats too: 0.1f is above 0.1 */
            v = *AT(c, o, float);
            ok = v >= (float)lo && v <= (float)hi;
            break;
        case TOPT_FLAG: v = *AT(c, o, int); ok = v == o->lo || v == o->hi; break;
        case TOPT_ENUM: {
            int k = 0, e = *AT(c, o, int);
            while (o->names[k])
                k++;
            ok = e >= 0 && e < k;
            break;
        }
        case TOPT_PAIR: {
            const float *pr = AT(c, o, float);
            ok = pr[0] >= lo && pr[0] <= pr[1] && pr[1] <= hi;
            break;
        }
        case TOPT_FLOATS:
            for (int k = 0; k < o->max_count; k++)
                ok &= AT(c, o, float)[k] >= lo && AT(c, o, float)[k] <= hi;
            break;
        case TOPT_STRING:
            ok = !*AT(c, o, const char *) || p != TRAIN_PROFILE_JOB ||
                 strlen(*AT(c, o, const char *)) <= (size_t)o->job_hi;
            break;
        }
        if (!ok) {
            if (o->type == TOPT_PAIR)
                pair_msg(o, p, why, sizeof why);
            else if (o->type == TOPT_ENUM)
                enum_msg(o, why, sizeof why);
            else
                range_msg(o, p, why, sizeof why);
            return rule(o, bad, err, errlen, why);
        }
    }
    if (c->size % 4)
        return rule(row("size"), bad, err, errlen, "must be a multiple of 4");
    if (!c->content_gauss && c->size % c->content_pool)
        return rule(row("content_pool"), bad, err, errlen, "must divide size");
    if (c->size >> (c->style_depth - 1) < 2)
        return rule(row("style_depth"), bad, err, errlen,
                    "must leave the last stage 2 pixels: size / 2^(depth - 1) >= 2");
    if (c->size >> (c->structure_depth - 1) < 2)
        return rule(row("structure_depth"), bad, err, errlen,
                    "must leave the last stage 2 pixels: size / 2^(depth - 1) >= 2");
    if (c->style_nlevels && c->style_nlevels != c->style_depth + 1) {
        snprintf(why, sizeof why, "needs %d weights (the pixels', then each of the %d stages')",
                 c->style_depth + 1, c->style_depth);
        return rule(row("style_levels"), bad, err, errlen, why);
    }
    if (c->w_gabor > 0 && ((c->size >> (c->gabor_nlevels - 1)) < GABOR_MIN_SIDE ||
                           c->size % (1 << (c->gabor_nlevels - 1)))) {
        snprintf(why, sizeof why, "must leave the coarsest level %d pixels: size must halve "
                 "%d times exactly to at least %d", GABOR_MIN_SIDE, c->gabor_nlevels - 1,
                 GABOR_MIN_SIDE);
        return rule(row("gabor_levels"), bad, err, errlen, why);
    }
    if (p == TRAIN_PROFILE_JOB && (c->checkpoint_every < 1 || c->checkpoint_every > c->steps)) {
        snprintf(why, sizeof why, "must be an integer in 1..%lld (steps)", (long long)c->steps);
        return rule(row("checkpoint_every"), bad, err, errlen, why);
    }
    return 0;
}

/* The shortest decimal that reads back as f, as a JSON number. */
static json_t *json_float(float f)
{
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return json_real(strtod(buf, NULL));
}

json_t *train_opts_to_json(const TrainConfig *c, int where)
{
    json_t *o = json_object();
    for (int i = 0; o && i < NOPTS; i++) {
        const TrainOpt *r = &opts[i];
        json_t *v = NULL;
        if (!(r->where & where))
            continue;
        switch (r->type) {
        case TOPT_INT: v = json_integer(*AT(c, r, int)); break;
        case TOPT_I64: v = json_integer(*AT(c, r, int64_t)); break;
        case TOPT_U64: v = json_integer((json_int_t)*AT(c, r, uint64_t)); break;
        case TOPT_FLOAT: v = json_float(*AT(c, r, float)); break;
        case TOPT_FLAG: v = json_boolean(*AT(c, r, int) == (int)r->hi); break;
        case TOPT_ENUM: v = json_string(r->names[*AT(c, r, int)]); break;
        case TOPT_PAIR:
            v = json_pack("[o, o]", json_float(AT(c, r, float)[0]),
                          json_float(AT(c, r, float)[1]));
            break;
        case TOPT_FLOATS: {
            /* As many as given; style_levels by default as many as the depth
             * has levels. */
            int n = *(const int *)((const char *)c + r->count_offset);
            if (!n)
                n = c->style_depth + 1;
            v = json_array();
            for (int k = 0; k < n && k < r->max_count; k++)
                json_array_append_new(v, json_float(AT(c, r, float)[k]));
            break;
        }
        case TOPT_STRING:
            v = json_string(*AT(c, r, const char *) ? *AT(c, r, const char *) : "");
            break;
        }
        if (!v || json_object_set_new(o, r->name, v)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* text from column 26, wrapped before column 80. */
static void wrap(FILE *f, const char *text, int col)
{
    while (*text) {
        int len = (int)strcspn(text, " ");
        if (col > 26 && col + 1 + len > 79) {
            fprintf(f, "\n%26s", "");
            col = 26;
        } else if (col > 26) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", len, text);
        col += len;
        text += len;
        while (*text == ' ')
            text++;
    }
    fputc('\n', f);
}

void train_opts_help(FILE *f)
{
    for (int i = 0; i < NOPTS; i++) {
        const TrainOpt *o = &opts[i];
        char flag[64], line[512];
        int n = snprintf(flag, sizeof flag, "--%s", o->name);
        if (!(o->where & TOPT_CLI))
            continue;
        for (int k = 2; k < n; k++)
            if (flag[k] == '_')
                flag[k] = '-';
        if (o->arg)
            snprintf(flag + n, sizeof flag - (size_t)n, " %s", o->arg);
        if (strlen(flag) > 23)
            fprintf(f, "  %s\n%26s", flag, "");
        else
            fprintf(f, "  %-24s", flag);
        snprintf(line, sizeof line, "%s%s%s%s", o->help, o->def && *o->def ? " (default " : "",
                 o->def && *o->def ? o->def : "", o->def && *o->def ? ")" : "");
        wrap(f, line, 26);
    }
}
