/* test_train_step.c: one full generator + discriminator step of the trainer
 * against PyTorch (tests/fixtures/train_step.safetensors, written by
 * tools/train_reference.py from the weights of a small `atelier train`
 * state: fast-style generator width 4 with one residual block and
 * resize-convolutions, PatchGAN ndf 4 with two stride-2 layers and
 * instance norm; batch 2 at 32x32; LSGAN + content (pooled luminance) +
 * TV; Adam).
 *
 * Checks: the specs the trainer builds equal the fixture's; every
 * parameter's gradient matches within 1e-3 of that tensor's largest
 * gradient (float against float64), plus 1e-6 absolute; every updated parameter matches within
 * 1e-6 where its gradient is clearly non-zero, and within one Adam step
 * (2 lr) where the reference gradient is at the float noise level (biases
 * before an instance norm, whose true gradient is zero).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/net.h"
#include "engine/safetensors.h"
#include "engine/train/tnet.h"
#include "engine/train/train_opts.h"
#include "engine/train/trainer.h"

#define FIXTURE "tests/fixtures/train_step.safetensors"

typedef struct Cmp {
    const SafeTensors *st;
    const char *grad_prefix, *new_prefix;
    float lr;
    int failures;
} Cmp;

static const StTensor *need(const SafeTensors *st, const char *prefix, const char *name)
{
    char full[256];
    snprintf(full, sizeof(full), "%s%s", prefix, name);
    const StTensor *t = st_find(st, full);
    if (!t)
        fail_msg("fixture lacks %s", full);
    return t;
}

/* Compares one network's gradients and updated parameters. */
static void compare(TNet *net, const SafeTensors *st, const char *which, float lr, StWriter *names)
{
    (void)names;
    void *buf;
    size_t len;
    /* Enumerate our tensors by writing them to a throwaway writer. */
    StWriter *w = stw_new();
    assert_int_equal(tnet_add_tensors(net, w, "", TNET_PARAMS), 0);
    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    stw_free(w);
    SafeTensors *ours = st_parse(buf, len, NULL, 0);
    free(buf);
    assert_non_null(ours);
    /* Gradients: the same tensor layout, so write them the same way. */
    size_t np = tnet_param_floats(net);
    float *saved = malloc(np * sizeof(float));
    memcpy(saved, tnet_params(net), np * sizeof(float));
    memcpy(tnet_params(net), tnet_grads(net), np * sizeof(float));
    w = stw_new();
    assert_int_equal(tnet_add_tensors(net, w, "", TNET_PARAMS), 0);
    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    stw_free(w);
    memcpy(tnet_params(net), saved, np * sizeof(float));
    free(saved);
    SafeTensors *grads = st_parse(buf, len, NULL, 0);
    free(buf);
    assert_non_null(grads);
    char gp[16], npfx[16];
    snprintf(gp, sizeof(gp), "grad%s.", which);
    snprintf(npfx, sizeof(npfx), "new%s.", which);
    int bad = 0;
    for (int i = 0; i < st_count(ours); i++) {
        const StTensor *p = st_tensor(ours, i), *g = st_tensor(grads, i);
        const StTensor *rg = need(st, gp, p->name), *rp = need(st, npfx, p->name);
        size_t n = p->nbytes / 4;
        assert_int_equal(rg->nbytes, p->nbytes);
        const float *a = st_f32(g), *b = st_f32(rg), *pa = st_f32(p), *pb = st_f32(rp);
        double gmax = 0, gerr = 0, perr_strong = 0, perr_weak = 0;
        for (size_t j = 0; j < n; j++)
            gmax = fmax(gmax, fabs(b[j]));
        for (size_t j = 0; j < n; j++) {
            gerr = fmax(gerr, fabs((double)a[j] - b[j]));
            double pe = fabs((double)pa[j] - pb[j]);
            if (fabs(b[j]) > 1e-3 * gmax && fabs(b[j]) > 1e-7)
                perr_strong = fmax(perr_strong, pe);
            else
                perr_weak = fmax(perr_weak, pe);
        }
        int ok = gerr <= 1e-3 * gmax + 1e-6 && perr_strong <= 1e-6 && perr_weak <= 2 * lr + 1e-6;
        printf("  %s %-28s max |grad| %.3g  grad err %.2e  param err %.2e (weak %.2e)%s\n",
               which, p->name, gmax, gerr, perr_strong, perr_weak, ok ? "" : "  FAIL");
        bad += !ok;
    }
    st_free(ours);
    st_free(grads);
    assert_int_equal(bad, 0);
}

static void test_step_matches_torch(void **state)
{
    (void)state;
    char err[256];
    SafeTensors *st = st_load_file(FIXTURE, err, sizeof(err));
    if (!st)
        fail_msg("%s", err);
    TrainConfig cfg;
    train_opts_defaults(&cfg);
    cfg.arch = TRAIN_ARCH_FAST;
    cfg.width = 4;
    cfg.blocks = 1;
    cfg.resize_conv = 1;
    cfg.ndf = 4;
    cfg.d_layers = 2;
    cfg.size = 32;
    cfg.batch = 2;
    cfg.steps = 1000;
    cfg.lr_g = cfg.lr_d = (float)strtod(st_meta(st, "lr"), NULL);
    cfg.w_adv = (float)strtod(st_meta(st, "w_adv"), NULL);
    cfg.w_content = (float)strtod(st_meta(st, "w_content"), NULL);
    cfg.w_tv = (float)strtod(st_meta(st, "w_tv"), NULL);
    cfg.content_pool = atoi(st_meta(st, "pool"));
    cfg.w_style = 0;
    cfg.w_structure = 0;   /* the reference step has no structure term */
    Trainer *t = trainer_new_synthetic(&cfg, 1, err, sizeof(err));
    if (!t)
        fail_msg("%s", err);
    TNet *g = trainer_generator(t), *d = trainer_discriminator(t);
    assert_string_equal(net_spec_json(tnet_net(g)), st_meta(st, "gspec"));
    assert_string_equal(net_spec_json(tnet_net(d)), st_meta(st, "dspec"));
    assert_int_equal(tnet_load_tensors(g, st, "G.", TNET_PARAMS, err, sizeof(err)), 0);
    assert_int_equal(tnet_load_tensors(d, st, "D.", TNET_PARAMS, err, sizeof(err)), 0);
    TrainProgress p;
    trainer_step(t, st_f32(st_find(st, "photo")), st_f32(st_find(st, "real")), &p);
    double ref_adv = strtod(st_meta(st, "loss_g_adv"), NULL);
    double ref_content = strtod(st_meta(st, "loss_content"), NULL);
    double ref_tv = strtod(st_meta(st, "loss_tv"), NULL);
    double ref_d = strtod(st_meta(st, "loss_d"), NULL);
    printf("  losses ours/torch: G adv %.6f/%.6f content %.6f/%.6f tv %.6f/%.6f D %.6f/%.6f\n",
           p.g_adv, ref_adv, p.content, ref_content, p.tv, ref_tv, p.d_loss, ref_d);
    assert_true(fabs(p.g_adv - ref_adv) < 1e-4 * fmax(1, ref_adv));
    assert_true(fabs(p.content - ref_content) < 1e-4 * fmax(1, ref_content));
    assert_true(fabs(p.tv - ref_tv) < 1e-4 * fmax(1, ref_tv));
    assert_true(fabs(p.d_loss - ref_d) < 1e-4 * fmax(1, ref_d));
    compare(g, st, "G", cfg.lr_g, NULL);
    compare(d, st, "D", cfg.lr_d, NULL);
    trainer_free(t);
    st_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
