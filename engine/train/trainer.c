/* trainer.c: the GAN style trainer (trainer.h): building it, the step, the
 * schedule and the run; what it reads and writes (state, --init, checkpoints)
 * is in trainer_files.c.
 *
 * One step, in CycleGAN's order (Zhu et al. 2017):
 *   fake = G(photo); s = D(fake)
 *   G:  adversarial loss on s (back through D without touching D's
 *       gradients) + content + style + TV on fake; Adam on G.
 *   D:  fake loss on s (the same forward: D has not changed, and fake is
 *       detached), real loss on D(style patch); both halved; Adam on D.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine/train/arch.h"
#include "engine/train/diffaug.h"
#include "engine/layers.h"
#include "engine/train/tnet.h"
#include "engine/train/traindata.h"
#include "engine/train/train_opts.h"
#include "engine/train/trainer_int.h"
#include "engine/util.h"

#define STYLE_TARGET_PATCHES 64


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
    free(t->aug_fake);
    free(t->aug_real);
    free(t->daug);
    free(t->draws);
    free(t->content_work);
    style_free(t->style);
    gabor_free(t->gabor);
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

/* Everything but data, state and style target; every network planned for
 * `threads` threads. */
static Trainer *build(const TrainConfig *cfg, int threads, char *err, size_t errlen)
{
    TrainConfig checked = *cfg;
    if (train_opts_finish(&checked, TRAIN_PROFILE_CLI, NULL, err, errlen))
        return NULL;
    cfg = &checked;
    Trainer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cfg = *cfg;
    t->threads = threads;
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
        util_errf(err, errlen, "bad architecture options");
        goto fail;
    }
    if (!(t->g = tnet_new(t->gspec, 3, 3, 0, err, errlen)) ||
        !(t->d = tnet_new(t->dspec, 3, 1, cfg->d_spectral, err, errlen)) ||
        tnet_plan(t->g, cfg->batch, cfg->size, cfg->size, threads, err, errlen) ||
        tnet_plan(t->d, cfg->batch, cfg->size, cfg->size, threads, err, errlen))
        goto fail;
    int c, h, w;
    tnet_out_shape(t->g, &c, &h, &w);
    if (c != 3 || h != cfg->size || w != cfg->size) {
        util_errf(err, errlen, "the generator does not return the input size");
        goto fail;
    }
    tnet_out_shape(t->d, &c, &h, &w);
    t->dout_n = (size_t)cfg->batch * c * h * w;
    if (cfg->d_scales == 2) {
        size_t nh = (size_t)cfg->batch * 3 * (cfg->size / 2) * (cfg->size / 2);
        if (!(t->d2 = tnet_new(t->dspec, 3, 1, cfg->d_spectral, err, errlen)) ||
            tnet_plan(t->d2, cfg->batch, cfg->size / 2, cfg->size / 2, threads, err, errlen))
            goto fail;
        tnet_out_shape(t->d2, &c, &h, &w);
        t->dout_n2 = (size_t)cfg->batch * c * h * w;
        t->half = malloc(nh * sizeof(float));
        t->dhalf = malloc(nh * sizeof(float));
        if (!t->half || !t->dhalf)
            goto oom;
    }
    size_t n = (size_t)cfg->batch * 3 * cfg->size * cfg->size;
    if (cfg->d_augment &&
        (!(t->aug_fake = malloc(n * sizeof(float))) || !(t->aug_real = malloc(n * sizeof(float))) ||
         !(t->daug = malloc(n * sizeof(float))) ||
         !(t->draws = malloc((size_t)cfg->batch * sizeof(DiffAugDraw)))))
        goto oom;
    t->photos = malloc(n * sizeof(float));
    t->real = malloc(n * sizeof(float));
    t->content_work = malloc((loss_content_work_floats(cfg->size, cfg->size, cfg->content_pool,
                                                       cfg->content_gauss) + 1) * sizeof(float));
    if (!t->photos || !t->real || !t->content_work)
        goto oom;
    if (cfg->w_style > 0 &&
        (!(t->style = style_new(cfg->seed, cfg->style_kind, cfg->style_depth,
                                        cfg->style_levels, err, errlen)) ||
         style_plan(t->style, cfg->batch, cfg->size, cfg->size, threads, err, errlen)))
        goto fail;
    if (cfg->w_gabor > 0 &&
        (!(t->gabor = gabor_new(cfg->seed, cfg->gabor_nlevels, cfg->gabor_levels, err,
                                errlen)) ||
         gabor_plan(t->gabor, cfg->batch, cfg->size, cfg->size, threads, err, errlen)))
        goto fail;
    if (cfg->w_structure > 0) {
        /* Its own random filters (another seed than the style extractor's). */
        if (!(t->structure = style_new(cfg->seed ^ 0x57c7u, STYLE_GRAM, cfg->structure_depth,
                                       NULL, err, errlen)) ||
            style_plan(t->structure, cfg->batch, cfg->size, cfg->size, threads, err, errlen))
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
    util_errf(err, errlen, "out of memory");
fail:
    trainer_free(t);
    return NULL;
}

static size_t tnet_bytes(const TNet *n)
{
    return n ? tnet_plan_bytes(n) + 4 * tnet_param_floats(n) * sizeof(float) : 0;
}

int trainer_estimate_bytes(const TrainConfig *cfg, int threads, size_t *bytes, char *err,
                           size_t errlen)
{
    Trainer *t;
    size_t batch = (size_t)cfg->batch * 3 * cfg->size * cfg->size * sizeof(float);
    tnet_dry(1);                 /* measured, never run: nothing touched */
    t = build(cfg, threads, err, errlen);
    tnet_dry(0);
    if (!t)
        return -1;
    *bytes = tnet_bytes(t->g) + tnet_bytes(t->d) + tnet_bytes(t->d2) + style_bytes(t->style) +
             style_bytes(t->structure) + gabor_bytes(t->gabor) + 2 * batch +
             (cfg->d_augment ? 3 * batch : 0) + (t->half ? batch / 2 : 0) +
             (loss_content_work_floats(cfg->size, cfg->size, cfg->content_pool,
                                       cfg->content_gauss) + 1) *
                 sizeof(float) +
             (t->structure ? style_structure_work_floats(t->structure) * sizeof(float) : 0);
    trainer_free(t);
    return 0;
}

Trainer *trainer_new_synthetic(const TrainConfig *cfg, int threads, char *err, size_t errlen)
{
    Trainer *t = build(cfg, threads, err, errlen);
    if (t && (t->style || t->gabor)) {
        size_t n = (size_t)cfg->batch * 3 * cfg->size * cfg->size;
        for (size_t i = 0; i < n; i++)
            t->real[i] = (float)(255.0 * rng_uniform(&t->rng));
        if (t->style) {
            style_target_add(t->style, t->real);
            style_target_done(t->style);
        }
        if (t->gabor) {
            gabor_target_add(t->gabor, t->real);
            gabor_target_done(t->gabor);
        }
    }
    return t;
}

TNet *trainer_generator(Trainer *t) { return t->g; }
TNet *trainer_discriminator(Trainer *t) { return t->d; }


Trainer *trainer_new(const TrainConfig *cfg, int threads, char *err, size_t errlen)
{
    if (!cfg->name || !*cfg->name || !cfg->content_dir || cfg->nstyles < 1) {
        util_errf(err, errlen, "a name, a content folder and a style image are needed");
        return NULL;
    }
    Trainer *t = build(cfg, threads, err, errlen);
    if (!t)
        return NULL;
    t->data = tdata_load(t->content_dir, (const char *const *)t->styles, cfg->nstyles,
                         cfg->size, cfg->holdout, tdata_style_short(cfg->size, cfg->style_lo),
                         err, errlen);
    if (!t->data)
        goto fail;
    if (cfg->resume) {
        if (trainer_read_state(t, err, errlen))
            goto fail;
        return t;
    }
    if (cfg->init && trainer_read_init(t, cfg->init, err, errlen))
        goto fail;
    if (t->style || t->gabor) {
        /* The style targets: statistics of patches at the training scale. */
        for (int n = 0; n < STYLE_TARGET_PATCHES; n += cfg->batch) {
            if (tdata_style_batch(t->data, &t->rng, cfg->batch, cfg->style_lo, cfg->style_hi,
                                  t->real)) {
                util_errf(err, errlen, "cannot sample the style images at style_scale %g..%g "
                          "(a crop does not resize to %d pixels)", cfg->style_lo,
                          cfg->style_hi, cfg->size);
                goto fail;
            }
            if (t->style)
                style_target_add(t->style, t->real);
            if (t->gabor)
                gabor_target_add(t->gabor, t->real);
        }
        if (t->style)
            style_target_done(t->style);
        if (t->gabor)
            gabor_target_done(t->gabor);
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
    const size_t npx = (size_t)B * 3 * S * S;
    const float *fake = tnet_forward(t->g, photos);
    const float *dfin = fake, *rin = real;    /* what the discriminators see */
    if (c->d_augment) {
        diffaug_draw(t->draws, B, S, c->d_augment, &t->rng);
        diffaug_forward(t->aug_fake, fake, t->draws, B, S);
        dfin = t->aug_fake;
    }
    const float *s = tnet_forward(t->d, dfin), *s2 = NULL;
    if (t->d2) {
        avg_pool2_forward(t->half, dfin, B * 3, S, S);
        s2 = tnet_forward(t->d2, t->half);
    }
    /* Generator: the adversarial gradient back through D (and the
     * augmentation) into dfake. */
    float *dfake = tnet_begin_backward(t->g);
    float *dd = c->d_augment ? t->daug : dfake;
    if (c->d_augment)
        memset(t->daug, 0, npx * sizeof(float));
    float *ds = tnet_begin_backward(t->d);
    out->g_adv = loss_gan(ds, s, t->dout_n, c->gan, GAN_G, c->w_adv);
    tnet_backward(t->d, dd, 0);
    if (t->d2) {
        ds = tnet_begin_backward(t->d2);
        out->g_adv += loss_gan(ds, s2, t->dout_n2, c->gan, GAN_G, c->w_adv);
        memset(t->dhalf, 0, (size_t)B * 3 * (S / 2) * (S / 2) * sizeof(float));
        tnet_backward(t->d2, t->dhalf, 0);
        avg_pool2_backward(dd, t->dhalf, B * 3, S, S);
    }
    if (c->d_augment)
        diffaug_backward(dfake, t->daug, t->draws, B, S);
    if (c->w_content > 0)
        out->content = loss_content(dfake, fake, photos, B, S, S, c->content_pool,
                                    c->content_gauss, c->w_content, t->content_work);
    if (t->structure)
        out->content += style_structure_loss(t->structure, dfake, fake, photos, c->w_structure,
                                             t->structure_work);
    if (t->style)
        out->style = style_loss(t->style, dfake, fake, c->w_style);
    if (t->gabor)
        out->style += gabor_loss(t->gabor, dfake, fake, c->w_gabor);
    if (c->w_tv > 0)
        out->tv = loss_tv(dfake, fake, B, S, S, c->w_tv);
    tnet_zero_grad(t->g);
    tnet_backward(t->g, NULL, 1);
    tnet_adam(t->g, lr_at(c, c->lr_g, step), c->beta1, c->beta2, 1e-8f, step);
    /* Discriminators: the fake half reuses the forwards above; the real
     * patches get their own augmentation draw. */
    if (c->d_augment) {
        diffaug_draw(t->draws, B, S, c->d_augment, &t->rng);
        diffaug_forward(t->aug_real, real, t->draws, B, S);
        rin = t->aug_real;
    }
    TNet *ds_net[2] = { t->d, t->d2 };
    const float *fake_scores[2] = { s, s2 }, *real_in[2] = { rin, t->half };
    size_t nout[2] = { t->dout_n, t->dout_n2 };
    for (int k = 0; k < 2 && ds_net[k]; k++) {
        TNet *d = ds_net[k];
        tnet_zero_grad(d);
        ds = tnet_begin_backward(d);
        out->d_loss += loss_gan(ds, fake_scores[k], nout[k], c->gan, GAN_D_FAKE, 0.5f);
        tnet_backward(d, NULL, 1);
        if (k == 1)
            avg_pool2_forward(t->half, rin, B * 3, S, S);
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

int trainer_run(Trainer *t, atomic_int *cancel, TrainProgressFn fn, void *ctx,
                char *err, size_t errlen)
{
    const TrainConfig *c = &t->cfg;
    double t0 = util_now_s(), base = t->elapsed, win_t = t0;
    TrainProgress sum = { 0 }, p;
    int nsum = 0;
    int64_t win_step = t->step;
    char path[4200];
    while (t->step < c->steps) {
        if (tdata_content_batch(t->data, &t->rng, c->batch, t->photos) ||
            tdata_style_batch(t->data, &t->rng, c->batch, c->style_lo, c->style_hi, t->real)) {
            util_errf(err, errlen, "out of memory sampling data");
            return -1;
        }
        trainer_step(t, t->photos, t->real, &p);
        t->elapsed = base + (util_now_s() - t0);
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
            double now = util_now_s();
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
                r.version = trainer_checkpoint(t, path, sizeof(path), err, errlen);
                if (r.version < 0)
                    return -1;
                r.path = path;
            }
            if (fn)
                fn(ctx, &r);
            memset(&sum, 0, sizeof(sum));
            nsum = 0;
            win_t = util_now_s();
            win_step = t->step;
        }
        if (stop)
            return 1;
    }
    return 0;
}
