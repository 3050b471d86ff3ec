/* trainer.c: the GAN style trainer (trainer.h): the step, the schedule,
 * checkpoints, previews and resumable state.
 *
 * One step, in CycleGAN's order (Zhu et al. 2017):
 *   fake = G(photo); s = D(fake)
 *   G:  adversarial loss on s (back through D without touching D's
 *       gradients) + content + style + TV on fake; Adam on G.
 *   D:  fake loss on s (the same forward: D has not changed, and fake is
 *       detached), real loss on D(style patch); both halved; Adam on D.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <jansson.h>
#include "engine/arch.h"
#include "engine/image.h"
#include "engine/layers.h"
#include "engine/net.h"
#include "engine/safetensors.h"
#include "engine/tnet.h"
#include "engine/traindata.h"
#include "engine/trainer.h"

#define PREVIEW_N 4
#define PREVIEW_SIZE 256
#define STYLE_TARGET_PATCHES 64

struct Trainer {
    TrainConfig cfg;
    char **styles;
    char *content_dir, *models_dir, *name, *command, *style_title, *style_license;
    char *gspec, *dspec;
    char *history;             /* JSON array: the commands of earlier runs (resume) */
    char *init_from;           /* JSON object: the model G started from (--init), or NULL */
    TNet *g, *d, *d2;          /* d2: the multi-scale discriminator, or NULL */
    StyleNet *style;
    TrainData *data;
    Rng rng;
    int64_t step;
    double elapsed;            /* seconds of training before this run */
    float *photos, *real;      /* (B, 3, S, S) */
    float *half, *dhalf;       /* (B, 3, S/2, S/2): d2's input and its gradient */
    float *content_work;       /* loss_content's workspace */
    StyleNet *structure;       /* the structure loss's extractor, or NULL */
    float *structure_work;
    size_t dout_n, dout_n2;    /* discriminator output floats per batch */
};

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void trainer_defaults(TrainConfig *c)
{
    memset(c, 0, sizeof(*c));
    c->models_dir = "models";
    c->steps = 4000;
    c->size = 256;
    c->batch = 1;
    c->checkpoint_every = 500;
    c->log_every = 10;
    c->seed = 1;
    c->arch = TRAIN_ARCH_FAST;
    c->width = 32;
    c->blocks = 5;
    c->resize_conv = 1;
    c->ndf = 32;
    c->d_layers = 3;
    c->d_spectral = 0;
    c->d_scales = 1;
    c->lr_g = 2e-4f;
    c->lr_d = 2e-4f;
    c->beta1 = 0.5f;
    c->beta2 = 0.999f;
    c->decay_from = 0.5f;
    c->gan = GAN_LSGAN;
    c->w_adv = 1.0f;
    c->w_content = 10.0f;
    c->w_style = 1.0f;
    c->w_tv = 0.0f;
    c->content_pool = 4;
    c->style_kind = STYLE_GRAM;
    c->style_depth = STYLE_DEPTH;
    c->w_structure = 0;
    c->structure_depth = 3;
    for (int l = 0; l <= STYLE_MAX_DEPTH; l++)
        c->style_levels[l] = 1.0f;
    c->style_lo = 0.25f;
    c->style_hi = 0.6f;
    c->holdout = 7;
    c->style_title = "";
    c->style_license = "";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void trainer_free(Trainer *t)
{
    if (!t)
        return;
    if (t->styles)
        for (int i = 0; i < t->cfg.nstyles; i++)
            free(t->styles[i]);
    free(t->styles);
    free(t->content_dir);
    free(t->models_dir);
    free(t->name);
    free(t->command);
    free(t->style_title);
    free(t->style_license);
    free(t->gspec);
    free(t->dspec);
    free(t->history);
    free(t->init_from);
    tnet_free(t->g);
    tnet_free(t->d);
    tnet_free(t->d2);
    free(t->half);
    free(t->dhalf);
    free(t->content_work);
    style_free(t->style);
    style_free(t->structure);
    free(t->structure_work);
    tdata_free(t->data);
    free(t->photos);
    free(t->real);
    free(t);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* Everything but data, state and style target. */
static Trainer *build(const TrainConfig *cfg, char *err, size_t errlen)
{
    if (cfg->size < 32 || cfg->size > 2048 || cfg->size % 4 || cfg->batch < 1 ||
        cfg->batch > 64 || cfg->steps < 1 || cfg->content_pool < 1 ||
        cfg->size % cfg->content_pool || cfg->d_scales < 1 || cfg->d_scales > 2 ||
        !(cfg->style_lo > 0 && cfg->style_lo <= cfg->style_hi && cfg->style_hi <= 1) ||
        !(cfg->decay_from >= 0 && cfg->decay_from <= 1) || cfg->style_depth < STYLE_MIN_DEPTH ||
        cfg->style_depth > STYLE_MAX_DEPTH || cfg->size >> (cfg->style_depth - 1) < 2 ||
        cfg->structure_depth < STYLE_MIN_DEPTH || cfg->structure_depth > STYLE_MAX_DEPTH ||
        cfg->size >> (cfg->structure_depth - 1) < 2) {
        seterr(err, errlen, "bad training shape: size 32..2048, a multiple of 4 and of the "
               "content pool; batch 1..64; steps >= 1; style scale 0 < lo <= hi <= 1; "
               "decay from 0..1; style and structure depth %d..%d with size / 2^(depth - 1) >= 2",
               STYLE_MIN_DEPTH, STYLE_MAX_DEPTH);
        return NULL;
    }
    Trainer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cfg = *cfg;
    t->styles = calloc((size_t)(cfg->nstyles > 0 ? cfg->nstyles : 1), sizeof(char *));
    if (!t->styles)
        goto oom;
    for (int i = 0; i < cfg->nstyles; i++)
        if (!(t->styles[i] = strdup(cfg->styles[i])))
            goto oom;
    t->content_dir = dup_or_empty(cfg->content_dir);
    t->models_dir = dup_or_empty(cfg->models_dir);
    t->name = dup_or_empty(cfg->name);
    t->command = dup_or_empty(cfg->command);
    t->style_title = dup_or_empty(cfg->style_title);
    t->style_license = dup_or_empty(cfg->style_license);
    if (!t->content_dir || !t->models_dir || !t->name || !t->command || !t->style_title ||
        !t->style_license)
        goto oom;
    t->cfg.styles = (const char *const *)t->styles;
    t->cfg.content_dir = t->content_dir;
    t->cfg.models_dir = t->models_dir;
    t->cfg.name = t->name;
    t->cfg.command = t->command;
    t->cfg.style_title = t->style_title;
    t->cfg.style_license = t->style_license;
    t->gspec = cfg->arch == TRAIN_ARCH_RESNET9 ? arch_resnet_spec(cfg->width, cfg->blocks)
                                               : arch_fast_spec(cfg->width, cfg->blocks,
                                                                cfg->resize_conv);
    t->dspec = arch_patchgan_spec(cfg->ndf, cfg->d_layers, !cfg->d_spectral);
    if (!t->gspec || !t->dspec) {
        seterr(err, errlen, "bad architecture options");
        goto fail;
    }
    if (!(t->g = tnet_new(t->gspec, 3, 3, 0, err, errlen)) ||
        !(t->d = tnet_new(t->dspec, 3, 1, cfg->d_spectral, err, errlen)) ||
        tnet_plan(t->g, cfg->batch, cfg->size, cfg->size, err, errlen) ||
        tnet_plan(t->d, cfg->batch, cfg->size, cfg->size, err, errlen))
        goto fail;
    int c, h, w;
    tnet_out_shape(t->g, &c, &h, &w);
    if (c != 3 || h != cfg->size || w != cfg->size) {
        seterr(err, errlen, "the generator does not return the input size");
        goto fail;
    }
    tnet_out_shape(t->d, &c, &h, &w);
    t->dout_n = (size_t)cfg->batch * c * h * w;
    if (cfg->d_scales == 2) {
        size_t nh = (size_t)cfg->batch * 3 * (cfg->size / 2) * (cfg->size / 2);
        if (!(t->d2 = tnet_new(t->dspec, 3, 1, cfg->d_spectral, err, errlen)) ||
            tnet_plan(t->d2, cfg->batch, cfg->size / 2, cfg->size / 2, err, errlen))
            goto fail;
        tnet_out_shape(t->d2, &c, &h, &w);
        t->dout_n2 = (size_t)cfg->batch * c * h * w;
        t->half = malloc(nh * sizeof(float));
        t->dhalf = malloc(nh * sizeof(float));
        if (!t->half || !t->dhalf)
            goto oom;
    }
    size_t n = (size_t)cfg->batch * 3 * cfg->size * cfg->size;
    t->photos = malloc(n * sizeof(float));
    t->real = malloc(n * sizeof(float));
    t->content_work = malloc((loss_content_work_floats(cfg->size, cfg->size,
                                                       cfg->content_pool) + 1) * sizeof(float));
    if (!t->photos || !t->real || !t->content_work)
        goto oom;
    if (cfg->w_style > 0 &&
        (!(t->style = style_new(cfg->seed, cfg->style_kind, cfg->style_depth,
                                        cfg->style_levels, err, errlen)) ||
         style_plan(t->style, cfg->batch, cfg->size, cfg->size, err, errlen)))
        goto fail;
    if (cfg->w_structure > 0) {
        /* Its own random filters (another seed than the style extractor's). */
        if (!(t->structure = style_new(cfg->seed ^ 0x57c7u, STYLE_GRAM, cfg->structure_depth,
                                       NULL, err, errlen)) ||
            style_plan(t->structure, cfg->batch, cfg->size, cfg->size, err, errlen))
            goto fail;
        if (!(t->structure_work = malloc(style_structure_work_floats(t->structure) *
                                         sizeof(float))))
            goto oom;
    }
    tnet_init(t->g, cfg->seed);
    tnet_init(t->d, cfg->seed + 1);
    if (t->d2)
        tnet_init(t->d2, cfg->seed + 3);
    t->rng = rng_seed(cfg->seed + 2);
    return t;
oom:
    seterr(err, errlen, "out of memory");
fail:
    trainer_free(t);
    return NULL;
}

Trainer *trainer_new_synthetic(const TrainConfig *cfg, char *err, size_t errlen)
{
    Trainer *t = build(cfg, err, errlen);
    if (t && t->style) {
        size_t n = (size_t)cfg->batch * 3 * cfg->size * cfg->size;
        for (size_t i = 0; i < n; i++)
            t->real[i] = (float)(255.0 * rng_uniform(&t->rng));
        style_target_add(t->style, t->real);
        style_target_done(t->style);
    }
    return t;
}

TNet *trainer_generator(Trainer *t) { return t->g; }
TNet *trainer_discriminator(Trainer *t) { return t->d; }

/* ---- state -------------------------------------------------------------------- */

static int state_path(const Trainer *t, char *out, size_t len, int mkdirs)
{
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/%s/.train", t->models_dir, t->name) >= (int)sizeof(dir))
        return -1;
    if (mkdirs) {
        char parent[4096];
        snprintf(parent, sizeof(parent), "%s/%s", t->models_dir, t->name);
        if ((mkdir(t->models_dir, 0755) && errno != EEXIST) ||
            (mkdir(parent, 0755) && errno != EEXIST) || (mkdir(dir, 0755) && errno != EEXIST))
            return -1;
    }
    return snprintf(out, len, "%s/state.safetensors", dir) >= (int)len ? -1 : 0;
}

/* The commands of this training so far: the earlier runs' (from the state
 * we resumed) and this one's, as a JSON array. New string or NULL. */
static char *commands_json(const Trainer *t)
{
    json_t *a = t->history ? json_loads(t->history, 0, NULL) : NULL;
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    json_array_append_new(a, json_string(t->command));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static int write_state(Trainer *t, char *err, size_t errlen)
{
    char path[4200], num[64];
    if (state_path(t, path, sizeof(path), 1)) {
        seterr(err, errlen, "%s/%s: cannot create the model folder", t->models_dir, t->name);
        return -1;
    }
    StWriter *w = stw_new();
    if (!w)
        return -1;
    int rc = 0;
    static const TnetBlock blocks[3] = { TNET_PARAMS, TNET_ADAM_M, TNET_ADAM_V };
    static const char *gp[3] = { "G.", "G.m.", "G.v." }, *dp[3] = { "D.", "D.m.", "D.v." };
    for (int i = 0; i < 3; i++)
        rc |= tnet_add_tensors(t->g, w, gp[i], blocks[i]) |
              tnet_add_tensors(t->d, w, dp[i], blocks[i]);
    rc |= tnet_add_tensors(t->d, w, "D.", TNET_SN_U);
    if (t->d2) {
        static const char *d2p[3] = { "D2.", "D2.m.", "D2.v." };
        for (int i = 0; i < 3; i++)
            rc |= tnet_add_tensors(t->d2, w, d2p[i], blocks[i]);
        rc |= tnet_add_tensors(t->d2, w, "D2.", TNET_SN_U);
    }
    if (t->style) {
        size_t n;
        float *tg = style_target(t->style, &n);
        int64_t shape[1] = { (int64_t)n };
        rc |= stw_add(w, "style.target", ST_F32, 1, shape, tg);
    }
    snprintf(num, sizeof(num), "%" PRId64, t->step);
    rc |= stw_meta(w, "step", num);
    snprintf(num, sizeof(num), "%" PRIu64, t->rng.s);
    rc |= stw_meta(w, "rng", num);
    snprintf(num, sizeof(num), "%.3f", t->elapsed);
    rc |= stw_meta(w, "elapsed", num);
    if (t->style) {
        snprintf(num, sizeof(num), "%" PRIu64, *style_rng(t->style));
        rc |= stw_meta(w, "style_rng", num);
    }
    rc |= stw_meta(w, "gspec", t->gspec) | stw_meta(w, "dspec", t->dspec);
    char *hist = commands_json(t);
    rc |= !hist || stw_meta(w, "commands", hist);
    free(hist);
    if (t->init_from)
        rc |= stw_meta(w, "init_from", t->init_from);
    if (rc)
        seterr(err, errlen, "cannot assemble the training state");
    else
        rc = stw_write_file(w, path, err, errlen);
    stw_free(w);
    return rc ? -1 : 0;
}

static int read_state(Trainer *t, char *err, size_t errlen)
{
    char path[4200];
    if (state_path(t, path, sizeof(path), 0)) {
        seterr(err, errlen, "%s/%s: path too long", t->models_dir, t->name);
        return -1;
    }
    SafeTensors *st = st_load_file(path, err, errlen);
    if (!st)
        return -1;
    int rc = -1;
    const char *gs = st_meta(st, "gspec"), *ds = st_meta(st, "dspec");
    const char *step = st_meta(st, "step"), *rng = st_meta(st, "rng");
    const char *el = st_meta(st, "elapsed");
    if (!gs || !ds || strcmp(gs, t->gspec) || strcmp(ds, t->dspec)) {
        seterr(err, errlen, "%s: saved with other architecture options", path);
        goto done;
    }
    if (!step || !rng || !el) {
        seterr(err, errlen, "%s: no step/rng/elapsed metadata", path);
        goto done;
    }
    static const TnetBlock blocks[3] = { TNET_PARAMS, TNET_ADAM_M, TNET_ADAM_V };
    static const char *gp[3] = { "G.", "G.m.", "G.v." }, *dp[3] = { "D.", "D.m.", "D.v." };
    for (int i = 0; i < 3; i++)
        if (tnet_load_tensors(t->g, st, gp[i], blocks[i], err, errlen) ||
            tnet_load_tensors(t->d, st, dp[i], blocks[i], err, errlen))
            goto done;
    if (tnet_load_tensors(t->d, st, "D.", TNET_SN_U, err, errlen))
        goto done;
    if (t->d2) {
        static const char *d2p[3] = { "D2.", "D2.m.", "D2.v." };
        for (int i = 0; i < 3; i++)
            if (tnet_load_tensors(t->d2, st, d2p[i], blocks[i], err, errlen))
                goto done;
        if (tnet_load_tensors(t->d2, st, "D2.", TNET_SN_U, err, errlen))
            goto done;
    }
    if (t->style) {
        size_t n;
        float *tg = style_target(t->style, &n);
        const StTensor *s = st_find(st, "style.target");
        if (!s || s->dtype != ST_F32 || s->nbytes != n * sizeof(float)) {
            seterr(err, errlen, "%s: no style target of the right size", path);
            goto done;
        }
        memcpy(tg, s->data, n * sizeof(float));
        const char *srng = st_meta(st, "style_rng");
        if (srng)
            *style_rng(t->style) = strtoull(srng, NULL, 10);
    }
    const char *hist = st_meta(st, "commands");
    if (hist && !(t->history = strdup(hist))) {
        seterr(err, errlen, "out of memory");
        goto done;
    }
    const char *from = st_meta(st, "init_from");
    if (from && !(t->init_from = strdup(from))) {
        seterr(err, errlen, "out of memory");
        goto done;
    }
    t->step = strtoll(step, NULL, 10);
    t->rng.s = strtoull(rng, NULL, 10);
    t->elapsed = strtod(el, NULL);
    rc = 0;
done:
    st_free(st);
    return rc;
}

/* Remembers where G started (the file, and the steps, wall time and
 * commands its card records) so this run's cards tell the whole lineage:
 * the earlier commands lead this run's in "commands". */
static int init_lineage(Trainer *t, const char *path, const char *card_text, char *err,
                        size_t errlen)
{
    json_t *card = card_text ? json_loads(card_text, 0, NULL) : NULL;
    json_t *tr = json_object_get(card, "training");
    json_t *from = json_pack("{s:s}", "file", path);
    int rc = -1;
    if (!from)
        goto done;
    if (json_is_object(tr)) {
        json_t *cmds = json_object_get(tr, "commands");
        /* The whole lineage's figures when the model has them (it was itself
         * fine-tuned), else its own. */
        json_t *steps = json_object_get(tr, "total_steps"), *wall = json_object_get(tr,
                                                                             "total_wall_time_s");
        json_object_set(from, "steps", steps ? steps : json_object_get(tr, "steps"));
        json_object_set(from, "wall_time_s", wall ? wall : json_object_get(tr, "wall_time_s"));
        if (json_is_array(cmds) && !(t->history = json_dumps(cmds, JSON_COMPACT)))
            goto done;
    }
    t->init_from = json_dumps(from, JSON_COMPACT);
    rc = t->init_from ? 0 : -1;
done:
    if (rc)
        seterr(err, errlen, "out of memory");
    json_decref(from);
    json_decref(card);
    return rc;
}

/* Starts G from the weights of a model this trainer wrote (fine-tuning):
 * the same generator spec is required. */
static int read_init(Trainer *t, const char *path, char *err, size_t errlen)
{
    SafeTensors *st = st_load_file(path, err, errlen);
    const char *spec;
    int rc;
    if (!st)
        return -1;
    spec = st_meta(st, "atelier.spec");
    if (!spec || strcmp(spec, t->gspec)) {
        seterr(err, errlen, "%s: not a generator with these architecture options", path);
        st_free(st);
        return -1;
    }
    rc = tnet_load_tensors(t->g, st, "", TNET_PARAMS, err, errlen);
    if (!rc)
        rc = init_lineage(t, path, st_meta(st, "atelier.card"), err, errlen);
    st_free(st);
    return rc ? -1 : 0;
}

Trainer *trainer_new(const TrainConfig *cfg, char *err, size_t errlen)
{
    if (!cfg->name || !*cfg->name || !cfg->content_dir || cfg->nstyles < 1) {
        seterr(err, errlen, "a name, a content folder and a style image are needed");
        return NULL;
    }
    Trainer *t = build(cfg, err, errlen);
    if (!t)
        return NULL;
    t->data = tdata_load(t->content_dir, (const char *const *)t->styles, cfg->nstyles,
                         cfg->size, cfg->holdout, err, errlen);
    if (!t->data)
        goto fail;
    if (cfg->resume) {
        if (read_state(t, err, errlen))
            goto fail;
        return t;
    }
    if (cfg->init && read_init(t, cfg->init, err, errlen))
        goto fail;
    if (t->style) {
        /* The style target: Grams averaged over patches at the training scale. */
        for (int n = 0; n < STYLE_TARGET_PATCHES; n += cfg->batch) {
            if (tdata_style_batch(t->data, &t->rng, cfg->batch, cfg->style_lo, cfg->style_hi,
                                  t->real))
                goto fail;
            style_target_add(t->style, t->real);
        }
        style_target_done(t->style);
    }
    return t;
fail:
    trainer_free(t);
    return NULL;
}

/* ---- the step ------------------------------------------------------------------- */

static float lr_at(const TrainConfig *c, float lr, int64_t step)
{
    double from = c->decay_from * (double)c->steps;
    if (step < from || c->steps <= from)
        return lr;
    double f = (double)(c->steps - step) / ((double)c->steps - from);
    return (float)(lr * (f > 0 ? f : 0));
}

void trainer_step(Trainer *t, const float *photos, const float *real, TrainProgress *out)
{
    const TrainConfig *c = &t->cfg;
    const int S = c->size, B = c->batch;
    int64_t step = t->step + 1;
    memset(out, 0, sizeof(*out));
    const float *fake = tnet_forward(t->g, photos);
    const float *s = tnet_forward(t->d, fake), *s2 = NULL;
    if (t->d2) {
        avg_pool2_forward(t->half, fake, B * 3, S, S);
        s2 = tnet_forward(t->d2, t->half);
    }
    /* Generator. */
    float *dfake = tnet_begin_backward(t->g);
    float *ds = tnet_begin_backward(t->d);
    out->g_adv = loss_gan(ds, s, t->dout_n, c->gan, GAN_G, c->w_adv);
    tnet_backward(t->d, dfake, 0);
    if (t->d2) {
        ds = tnet_begin_backward(t->d2);
        out->g_adv += loss_gan(ds, s2, t->dout_n2, c->gan, GAN_G, c->w_adv);
        memset(t->dhalf, 0, (size_t)B * 3 * (S / 2) * (S / 2) * sizeof(float));
        tnet_backward(t->d2, t->dhalf, 0);
        avg_pool2_backward(dfake, t->dhalf, B * 3, S, S);
    }
    if (c->w_content > 0)
        out->content = loss_content(dfake, fake, photos, B, S, S, c->content_pool, c->w_content,
                                    t->content_work);
    if (t->structure)
        out->content += style_structure_loss(t->structure, dfake, fake, photos, c->w_structure,
                                             t->structure_work);
    if (t->style)
        out->style = style_loss(t->style, dfake, fake, c->w_style);
    if (c->w_tv > 0)
        out->tv = loss_tv(dfake, fake, B, S, S, c->w_tv);
    tnet_zero_grad(t->g);
    tnet_backward(t->g, NULL, 1);
    tnet_adam(t->g, lr_at(c, c->lr_g, step), c->beta1, c->beta2, 1e-8f, step);
    /* Discriminators: the fake half reuses the forwards above. */
    TNet *ds_net[2] = { t->d, t->d2 };
    const float *fake_scores[2] = { s, s2 }, *real_in[2] = { real, t->half };
    size_t nout[2] = { t->dout_n, t->dout_n2 };
    for (int k = 0; k < 2 && ds_net[k]; k++) {
        TNet *d = ds_net[k];
        tnet_zero_grad(d);
        ds = tnet_begin_backward(d);
        out->d_loss += loss_gan(ds, fake_scores[k], nout[k], c->gan, GAN_D_FAKE, 0.5f);
        tnet_backward(d, NULL, 1);
        if (k == 1)
            avg_pool2_forward(t->half, real, B * 3, S, S);
        const float *r = tnet_forward(d, real_in[k]);
        ds = tnet_begin_backward(d);
        out->d_loss += loss_gan(ds, r, nout[k], c->gan, GAN_D_REAL, 0.5f);
        tnet_backward(d, NULL, 1);
        tnet_adam(d, lr_at(c, c->lr_d, step), c->beta1, c->beta2, 1e-8f, step);
    }
    t->step = step;
    out->step = step;
    out->steps = c->steps;
}

/* ---- checkpoints -------------------------------------------------------------- */

/* The next free version number in <models>/<name>/. */
static int next_version(const Trainer *t)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", t->models_dir, t->name);
    DIR *d = opendir(dir);
    int best = 0;
    if (!d)
        return 1;
    struct dirent *de;
    while ((de = readdir(d))) {
        int v;
        char tail[32];
        if (sscanf(de->d_name, "v%d.%31s", &v, tail) == 2 && !strcmp(tail, "safetensors") &&
            v > best && v < 1000000)
            best = v;
    }
    closedir(d);
    return best + 1;
}

static char *card_json(const Trainer *t, int version)
{
    const TrainConfig *c = &t->cfg;
    static const char *gans[3] = { "lsgan", "hinge", "nonsaturating" };
    char *hist = commands_json(t);
    json_t *cmds = hist ? json_loads(hist, 0, NULL) : NULL;
    free(hist);
    if (!cmds)
        cmds = json_array();
    json_t *styles = json_array();
    for (int i = 0; i < c->nstyles; i++)
        json_array_append_new(styles, json_string(c->styles[i]));
    json_t *card = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:f, s:s, s:o, s:s, s:o, s:i, s:s, s:i, s:i, "
        "s:s, s:{s:f, s:f, s:f, s:f}, s:f, s:i, s:I, s:{s:i, s:i, s:s}, "
        "s:{s:i, s:i, s:s, s:i}}}",
        "name", t->name, "title", *t->style_title ? t->style_title : t->name,
        "style", *t->style_title ? t->style_title : "",
        "description", "Trained from scratch by atelier train (GAN + content + random-feature "
                       "style losses).",
        "source", "atelier train", "license", t->style_license,
        "training", "steps", (json_int_t)t->step, "wall_time_s", t->elapsed,
        "command", t->command, "commands", cmds, "content", t->content_dir, "styles", styles,
        "version", version, "arch", c->arch == TRAIN_ARCH_RESNET9 ? "resnet9" : "fast",
        "size", c->size, "batch", c->batch, "gan", gans[c->gan], "weights", "adv", c->w_adv,
        "content", c->w_content, "style", c->w_style, "tv", c->w_tv,
        "lr", round(c->lr_g * 1e9) / 1e9, "holdout_every", c->holdout,
        "seed", (json_int_t)c->seed, "generator", "width", c->width, "blocks", c->blocks,
        "upsample", c->resize_conv ? "resize-conv" : "transposed", "discriminator",
        "ndf", c->ndf, "layers", c->d_layers, "norm", c->d_spectral ? "spectral" : "instance",
        "scales", c->d_scales);
    if (!card)
        return NULL;
    json_t *tr = json_object_get(card, "training");
    json_object_set_new(tr, "style_loss", json_string(c->style_kind == STYLE_SWD ? "swd" : "gram"));
    json_object_set_new(tr, "content_pool", json_integer(c->content_pool));
    json_object_set_new(tr, "style_depth", json_integer(c->style_depth));
    if (c->w_structure > 0)
        json_object_set_new(tr, "structure", json_pack("{s:f, s:i}", "weight",
                                                       round(c->w_structure * 1e4) / 1e4,
                                                       "depth", c->structure_depth));
    json_t *lv = json_array();
    for (int l = 0; l <= c->style_depth; l++)
        json_array_append_new(lv, json_real(round(c->style_levels[l] * 1e4) / 1e4));
    json_object_set_new(tr, "style_levels", lv);
    json_object_set_new(tr, "style_scale", json_pack("[f, f]", round(c->style_lo * 1e4) / 1e4,
                                                     round(c->style_hi * 1e4) / 1e4));
    if (t->init_from) {
        json_t *from = json_loads(t->init_from, 0, NULL);
        json_t *steps = json_object_get(from, "steps"), *wall = json_object_get(from, "wall_time_s");
        if (json_is_integer(steps))
            json_object_set_new(tr, "total_steps",
                                json_integer(json_integer_value(steps) + (json_int_t)t->step));
        if (json_is_number(wall))
            json_object_set_new(tr, "total_wall_time_s",
                                json_real(json_number_value(wall) + t->elapsed));
        json_object_set_new(tr, "init_from", from);
    }
    json_object_set_new(tr, "decay_from", json_real(round(c->decay_from * 1e4) / 1e4));
    char *s = json_dumps(card, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(card);
    return s;
}

/* Held-out photos over their stylisation, through the inference engine
 * (which also proves the checkpoint serves). */
static int write_preview(const Trainer *t, const char *path)
{
    int n = tdata_holdout_count(t->data);
    if (n > PREVIEW_N)
        n = PREVIEW_N;
    if (n < 1)
        return 0;
    const int S = PREVIEW_SIZE;
    size_t per = (size_t)3 * S * S;
    NetPlan *plan = net_plan(tnet_net(t->g), S, S);
    float *buf = malloc(2 * per * sizeof(float));
    Image *sheet = image_new(n * S, 2 * S), *tile = image_new(S, S);
    int rc = -1;
    if (!plan || !buf || !sheet || !tile)
        goto done;
    for (int i = 0; i < n; i++) {
        if (tdata_holdout_square(t->data, i, S, buf) ||
            net_forward(tnet_net(t->g), plan, buf, buf + per))
            goto done;
        for (int row = 0; row < 2; row++) {
            image_from_planar(tile, buf + (size_t)row * per);
            for (int y = 0; y < S; y++)
                memcpy(sheet->px + ((size_t)(row * S + y) * sheet->w + (size_t)i * S) * 3,
                       tile->px + (size_t)y * S * 3, (size_t)S * 3);
        }
    }
    rc = image_save_file(sheet, path, 88);
done:
    net_plan_free(plan);
    free(buf);
    image_free(sheet);
    image_free(tile);
    return rc ? -1 : 0;
}

/* Writes text to path atomically: a temporary file beside it, fsync,
 * rename. 0 or -1. */
static int write_text_atomic(const char *path, const char *text)
{
    char tmp[4300];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    int ok = off == len && fsync(fd) == 0;
    ok &= close(fd) == 0;
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Writes vN.safetensors (+ preview, + the model's card.json) and the
 * resumable state. Returns the version, or -1. */
static int checkpoint(Trainer *t, char *path, size_t pathlen, char *err, size_t errlen)
{
    if (write_state(t, err, errlen))
        return -1;
    int v = next_version(t);
    char *card = card_json(t, v);
    StWriter *w = stw_new();
    int rc = -1;
    if (!card || !w || tnet_add_tensors(t->g, w, "", TNET_PARAMS) ||
        stw_meta(w, "atelier.spec", t->gspec) || stw_meta(w, "atelier.card", card)) {
        seterr(err, errlen, "cannot assemble the checkpoint");
        goto done;
    }
    if (snprintf(path, pathlen, "%s/%s/v%d.safetensors", t->models_dir, t->name, v) >=
        (int)pathlen) {
        seterr(err, errlen, "checkpoint path too long");
        goto done;
    }
    if (stw_write_file(w, path, err, errlen))
        goto done;
    char prev[4200];
    snprintf(prev, sizeof(prev), "%s/%s/v%d.preview.jpg", t->models_dir, t->name, v);
    write_preview(t, prev);
    json_t *cj = json_loads(card, 0, NULL);
    char *pretty = cj ? json_dumps(cj, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    snprintf(prev, sizeof(prev), "%s/%s/card.json", t->models_dir, t->name);
    int card_ok = pretty && !write_text_atomic(prev, pretty);
    free(pretty);
    json_decref(cj);
    if (!card_ok) {
        seterr(err, errlen, "%s: cannot write the card", prev);
        goto done;
    }
    rc = v;
done:
    free(card);
    stw_free(w);
    return rc;
}

int trainer_run(Trainer *t, atomic_int *cancel, TrainProgressFn fn, void *ctx,
                char *err, size_t errlen)
{
    const TrainConfig *c = &t->cfg;
    double t0 = now_s(), base = t->elapsed, win_t = t0;
    TrainProgress sum = { 0 }, p;
    int nsum = 0;
    int64_t win_step = t->step;
    char path[4200];
    while (t->step < c->steps) {
        if (tdata_content_batch(t->data, &t->rng, c->batch, t->photos) ||
            tdata_style_batch(t->data, &t->rng, c->batch, c->style_lo, c->style_hi, t->real)) {
            seterr(err, errlen, "out of memory sampling data");
            return -1;
        }
        trainer_step(t, t->photos, t->real, &p);
        t->elapsed = base + (now_s() - t0);
        sum.d_loss += p.d_loss;
        sum.g_adv += p.g_adv;
        sum.content += p.content;
        sum.style += p.style;
        sum.tv += p.tv;
        nsum++;
        int stop = cancel && atomic_load(cancel);
        int ck = stop || t->step == c->steps ||
                 (c->checkpoint_every > 0 && t->step % c->checkpoint_every == 0);
        if ((c->log_every > 0 && t->step % c->log_every == 0) || ck) {
            double now = now_s();
            TrainProgress r = sum;
            r.d_loss /= nsum;
            r.g_adv /= nsum;
            r.content /= nsum;
            r.style /= nsum;
            r.tv /= nsum;
            r.step = t->step;
            r.steps = c->steps;
            r.steps_per_s = now > win_t ? (double)(t->step - win_step) / (now - win_t) : 0;
            r.eta_s = r.steps_per_s > 0 ? (double)(c->steps - t->step) / r.steps_per_s : 0;
            r.elapsed_s = t->elapsed;
            if (ck) {
                r.version = checkpoint(t, path, sizeof(path), err, errlen);
                if (r.version < 0)
                    return -1;
                r.path = path;
            }
            if (fn)
                fn(ctx, &r);
            memset(&sum, 0, sizeof(sum));
            nsum = 0;
            win_t = now_s();
            win_step = t->step;
        }
        if (stop)
            return 1;
    }
    return 0;
}
