/* test_loss.c: every training loss's gradient against central finite
 * differences of its value (the losses accumulate in double, so the
 * differences are clean), and the GAN losses' values at known points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/train/loss.h"
#include "tests/engine/util.h"

typedef struct ImgCtx {
    const float *photo;
    int b, h, w;
    StyleNet *style;
    GanLoss kind;
    GanRole role;
    uint64_t rng;       /* SWD: its random state before each evaluation */
} ImgCtx;

static double content_of(float *g, float *x, const ImgCtx *c, int pool, int gauss)
{
    float *work = malloc(loss_content_work_floats(c->h, c->w, pool, gauss) * sizeof(float));
    double l = loss_content(g, x, c->photo, c->b, c->h, c->w, pool, gauss, 3.0f, work);
    free(work);
    return l;
}

static double content_fn(float *g, float *x, void *ctx)
{
    return content_of(g, x, ctx, 2, 0);
}

static double content_gauss_fn(float *g, float *x, void *ctx)
{
    return content_of(g, x, ctx, 4, 1);
}

static double tv_fn(float *g, float *x, void *ctx)
{
    ImgCtx *c = ctx;
    return loss_tv(g, x, c->b, c->h, c->w, 2.0f);
}

static double style_fn(float *g, float *x, void *ctx)
{
    ImgCtx *c = ctx;
    return style_loss(c->style, g, x, 1.5f);
}

/* The same random directions at every evaluation, so the differences see
 * one function. */
static double swd_fn(float *g, float *x, void *ctx)
{
    ImgCtx *c = ctx;
    *style_rng(c->style) = c->rng;
    return style_loss(c->style, g, x, 1.5f);
}

static double structure_fn(float *g, float *x, void *ctx)
{
    ImgCtx *c = ctx;
    float *work = malloc(style_structure_work_floats(c->style) * sizeof(float));
    double l = style_structure_loss(c->style, g, x, c->photo, 2.5f, work);
    free(work);
    return l;
}

static double gan_fn(float *g, float *x, void *ctx)
{
    ImgCtx *c = ctx;
    return loss_gan(g, x, 40, c->kind, c->role, 0.7f);
}

static void test_image_losses(void **state)
{
    (void)state;
    const int b = 2, h = 16, w = 16;
    size_t n = (size_t)b * 3 * h * w;
    float *x = malloc(n * 4), *photo = malloc(n * 4), *style = malloc(n * 4);
    tu_fill(x, n, 1, 0, 255);
    tu_fill(photo, n, 2, 0, 255);
    tu_fill(style, n, 3, 0, 255);
    char err[256];
    ImgCtx c = { photo, b, h, w, style_new(7, STYLE_GRAM, STYLE_DEPTH, NULL, err, sizeof(err)), GAN_LSGAN, GAN_G, 0 };
    assert_non_null(c.style);
    assert_int_equal(style_plan(c.style, b, h, w, 1, err, sizeof(err)), 0);
    style_target_add(c.style, style);
    style_target_done(c.style);
    assert_true(tu_fd_check("content (pool 2)", content_fn, x, n, &c, 0.5f, 64) < 1e-3);
    assert_true(tu_fd_check("content (gauss, pool 4)", content_gauss_fn, x, n, &c, 0.5f, 64) < 1e-3);
    assert_true(tu_fd_check("total variation", tv_fn, x, n, &c, 0.5f, 64) < 1e-3);
    /* The extractor's ReLUs make the differences O(h) near kinks: the error
     * falls with h (8.6% at h = 2, 5.8% at 0.1, 1.2% at 0.02) as it would not
     * for a wrong gradient. */
    assert_true(tu_fd_check("random-feature Gram", style_fn, x, n, &c, 0.02f, 48) < 3e-2);
    style_free(c.style);
    free(x); free(photo); free(style);
}

/* Sliced Wasserstein: the gradient against finite differences, a loss that
 * is zero for the target itself and grows with the distance from it, and
 * gradient steps that bring an image's colours to the painting's. */
static void test_swd(void **state)
{
    (void)state;
    const int b = 2, h = 16, w = 16;
    size_t n = (size_t)b * 3 * h * w;
    float *x = malloc(n * 4), *style = malloc(n * 4), *g = calloc(n, 4);
    tu_fill(x, n, 1, 0, 255);
    tu_fill(style, n / 2, 3, 0, 255);
    memcpy(style + n / 2, style, n / 2 * sizeof(float));   /* both batch images alike */
    char err[256];
    ImgCtx c = { NULL, b, h, w, style_new(7, STYLE_SWD, STYLE_DEPTH, NULL, err, sizeof(err)), GAN_LSGAN, GAN_G, 0 };
    assert_non_null(c.style);
    assert_int_equal(style_plan(c.style, b, h, w, 1, err, sizeof(err)), 0);
    size_t tn;
    style_target(c.style, &tn);
    assert_int_equal(tn, (size_t)(3 * 256 + 32 * 256 + 64 * 64 + 128 * 16 + 256 * 4));
    /* One patch (twice): the target is its features, so it scores 0. */
    style_target_add(c.style, style);
    style_target_done(c.style);
    c.rng = *style_rng(c.style);
    double self = swd_fn(g, style, &c);
    printf("  swd of the target itself %.3g\n", self);
    assert_true(self < 1e-9);
    assert_true(tu_fd_check("sliced Wasserstein", swd_fn, x, n, &c, 0.02f, 48) < 3e-2);
    /* Halfway between target and x scores less than x. */
    float *mid = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        mid[i] = 0.5f * (x[i] + style[i]);
    double lx = swd_fn(g, x, &c), lm = swd_fn(g, mid, &c);
    printf("  swd x %.4f, halfway %.4f\n", lx, lm);
    assert_true(lm < lx);
    /* Descent on the pixels alone: a dark image takes the target's mean colour. */
    for (size_t i = 0; i < n; i++)
        x[i] = 20.0f + (float)(i % 7);
    double first = 0, last = 0;
    for (int it = 0; it < 250; it++) {
        memset(g, 0, n * 4);
        double l = style_loss(c.style, g, x, 1.0f);
        if (!it)
            first = l;
        last = l;
        for (size_t i = 0; i < n; i++)
            x[i] -= 40000.0f * g[i];
    }
    double mx = 0, ms = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        ms += style[i];
    }
    printf("  descent: loss %.4f -> %.4f, mean %.1f (target %.1f)\n", first, last, mx / n, ms / n);
    assert_true(last < 0.2 * first);
    assert_true(fabs(mx - ms) / n < 10.0);
    style_free(c.style);
    free(x); free(style); free(g); free(mid);
}

/* Depth and level weights: a deeper extractor's target has the extra
 * stages' sizes; the loss with every level weighed 1 is the sum of the
 * losses of each level alone, gradients likewise (both kinds); the
 * gradient of a deep, unevenly weighted SWD against finite differences; a
 * depth out of range is refused with a message. */
static void test_style_depth_levels(void **state)
{
    (void)state;
    enum { D = 6, L = D + 1 };
    const int b = 1, h = 64, w = 64;
    size_t n = (size_t)b * 3 * h * w, px = (size_t)h * w;
    float *x = malloc(n * 4), *style = malloc(n * 4), *g = calloc(n, 4), *gs = calloc(n, 4);
    tu_fill(x, n, 1, 0, 255);
    tu_fill(style, n, 3, 0, 255);
    char err[256];
    assert_null(style_new(7, STYLE_SWD, STYLE_MAX_DEPTH + 1, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "depth"));
    for (int kind = 0; kind < 2; kind++) {
        StyleKind k = kind ? STYLE_SWD : STYLE_GRAM;
        StyleNet *all = style_new(7, k, D, NULL, err, sizeof(err));
        assert_non_null(all);
        assert_int_equal(style_plan(all, b, h, w, 1, err, sizeof(err)), 0);
        style_target_add(all, style);
        style_target_done(all);
        size_t tn;
        float *t = style_target(all, &tn);
        if (k == STYLE_SWD)
            assert_int_equal(tn, 3 * px + 32 * px + 64 * px / 4 + 128 * px / 16 +
                                 256 * px / 64 + 256 * px / 256 + 256 * px / 1024);
        else
            assert_int_equal(tn, (size_t)(32 * 32 + 64 * 64 + 128 * 128 + 3 * 256 * 256));
        uint64_t rng = *style_rng(all);
        double whole = style_loss(all, g, x, 1.5f), parts = 0;
        for (int l = k == STYLE_GRAM; l < L; l++) {
            float lw[L] = { 0 };
            lw[l] = 1;
            StyleNet *one = style_new(7, k, D, lw, err, sizeof(err));
            assert_non_null(one);
            assert_int_equal(style_plan(one, b, h, w, 1, err, sizeof(err)), 0);
            size_t on;
            memcpy(style_target(one, &on), t, tn * sizeof(float));
            *style_rng(one) = rng;
            parts += style_loss(one, gs, x, 1.5f);
            style_free(one);
        }
        double maxd = 0, maxg = 0;
        for (size_t i = 0; i < n; i++) {
            maxd = fmax(maxd, fabs(g[i] - gs[i]));
            maxg = fmax(maxg, fabs(g[i]));
        }
        printf("  %s depth %d: all levels %.6f, sum of each alone %.6f, grad diff %.2e of %.2e\n",
               kind ? "swd" : "gram", D, whole, parts, maxd, maxg);
        assert_true(whole > 0);
        assert_true(fabs(whole - parts) < 1e-4 * whole);
        assert_true(maxd < 1e-4 * maxg);
        style_free(all);
        memset(g, 0, n * 4);
        memset(gs, 0, n * 4);
    }
    const float lw[L] = { 0.5f, 0, 1, 0.25f, 2, 1, 3 };
    ImgCtx c = { NULL, b, h, w, style_new(7, STYLE_SWD, D, lw, err, sizeof(err)), GAN_LSGAN, GAN_G, 0 };
    assert_non_null(c.style);
    assert_int_equal(style_plan(c.style, b, h, w, 1, err, sizeof(err)), 0);
    style_target_add(c.style, style);
    style_target_done(c.style);
    c.rng = *style_rng(c.style);
    /* Six float stages at 64x64: below h = 0.05 the differences drown in
     * rounding (4% at 0.02, 15% at 0.005); 1.6% at 0.1, 2% at 0.25. */
    assert_true(tu_fd_check("swd depth 6, weighted", swd_fn, x, n, &c, 0.1f, 48) < 3e-2);
    style_free(c.style);
    free(x); free(style); free(g); free(gs);
}

/* Structure: gradient against finite differences; zero for the photo
 * itself and for the photo recoloured at the same luminance; positive for
 * texture laid over it. */
static void test_structure(void **state)
{
    (void)state;
    const int b = 2, h = 16, w = 16;
    size_t n = (size_t)b * 3 * h * w, hw = (size_t)h * w;
    float *x = malloc(n * 4), *photo = malloc(n * 4), *g = calloc(n, 4);
    tu_fill(x, n, 1, 0, 255);
    tu_fill(photo, n, 2, 40, 215);
    char err[256];
    ImgCtx c = { photo, b, h, w, style_new(9, STYLE_GRAM, 3, NULL, err, sizeof(err)), GAN_LSGAN,
                 GAN_G, 0 };
    assert_non_null(c.style);
    assert_int_equal(style_plan(c.style, b, h, w, 1, err, sizeof(err)), 0);
    assert_true(tu_fd_check("structure (depth 3)", structure_fn, x, n, &c, 0.02f, 48) < 3e-2);
    double self = structure_fn(g, photo, &c);
    /* Same luminance, other colours: +30 red, -30 * 0.299 / 0.587 green. */
    for (int k = 0; k < b; k++)
        for (size_t i = 0; i < hw; i++) {
            x[(size_t)k * 3 * hw + i] = photo[(size_t)k * 3 * hw + i] + 30.0f;
            x[(size_t)k * 3 * hw + hw + i] =
                photo[(size_t)k * 3 * hw + hw + i] - 30.0f * 0.299f / 0.587f;
            x[(size_t)k * 3 * hw + 2 * hw + i] = photo[(size_t)k * 3 * hw + 2 * hw + i];
        }
    double recoloured = structure_fn(g, x, &c);
    for (size_t i = 0; i < n; i++)
        x[i] = photo[i] + ((i / w + i) % 2 ? 25.0f : -25.0f);   /* a fine hatching */
    double hatched = structure_fn(g, x, &c);
    printf("  structure: photo %.2e, recoloured %.2e, hatched %.4f\n", self, recoloured, hatched);
    assert_true(self < 1e-12);
    assert_true(recoloured < 1e-8);
    assert_true(hatched > 1e-2);
    style_free(c.style);
    free(x); free(photo); free(g);
}

/* The loss of a photo against itself with a bright 3x3 blob added at
 * (at, at), pooled 4 by box or Gaussian. */
static double blob_loss(int at, int gauss)
{
    enum { S = 32 };
    size_t n = 3 * S * S;
    float *photo = malloc(n * 4), *out = malloc(n * 4), *g = calloc(n, 4);
    float *work = malloc(loss_content_work_floats(S, S, 4, gauss) * sizeof(float));
    tu_fill(photo, n, 4, 60, 160);
    memcpy(out, photo, n * 4);
    for (int c = 0; c < 3; c++)
        for (int y = at - 1; y <= at + 1; y++)
            for (int x = at - 1; x <= at + 1; x++)
                out[((size_t)c * S + y) * S + x] += 80;
    double l = loss_content(g, out, photo, 1, S, S, 4, gauss, 1.0f, work);
    free(photo); free(out); free(g); free(work);
    return l;
}

/* Gaussian content: the same difference costs the same wherever it sits
 * (a box grid charges a blob split across two cells less than one inside a
 * cell: that is where its blocks come from); zero for a recolouring at the
 * same luminance. */
static void test_content_gauss(void **state)
{
    (void)state;
    double box_in = blob_loss(13, 0), box_across = blob_loss(12, 0);
    double g_in = blob_loss(13, 1), g_across = blob_loss(12, 1);
    printf("  blob inside a cell / across cells: box %.3g / %.3g, gauss %.3g / %.3g\n", box_in,
           box_across, g_in, g_across);
    assert_true(box_in > 1.5 * box_across);
    assert_true(fabs(g_in - g_across) < 1e-3 * g_in);
    enum { S = 16 };
    size_t n = 3 * S * S, hw = S * S;
    float *photo = malloc(n * 4), *out = malloc(n * 4), *g = calloc(n, 4);
    float *work = malloc(loss_content_work_floats(S, S, 8, 1) * sizeof(float));
    tu_fill(photo, n, 2, 40, 215);
    for (size_t i = 0; i < hw; i++) {
        out[i] = photo[i] + 30.0f;
        out[hw + i] = photo[hw + i] - 30.0f * 0.299f / 0.587f;
        out[2 * hw + i] = photo[2 * hw + i];
    }
    double l = loss_content(g, out, photo, 1, S, S, 8, 1, 1.0f, work);
    printf("  gauss content of a recolouring %.3g\n", l);
    assert_true(l < 1e-10);
    free(photo); free(out); free(g); free(work);
}

static void test_gan_losses(void **state)
{
    (void)state;
    float d[40];
    tu_fill(d, 40, 5, -2, 2);
    static const char *kn[3] = { "lsgan", "hinge", "nonsaturating" };
    static const char *rn[3] = { "D real", "D fake", "G" };
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < 3; r++) {
            char name[64];
            snprintf(name, sizeof(name), "%s %s", kn[k], rn[r]);
            ImgCtx c = { NULL, 0, 0, 0, NULL, (GanLoss)k, (GanRole)r, 0 };
            assert_true(tu_fd_check(name, gan_fn, d, 40, &c, 1e-3f, 40) < 1e-3);
        }
    /* Values at known points: LSGAN G at d = 1 is 0; hinge D real at d = 2 is 0;
     * non-saturating D fake at d = 0 is log 2. */
    float one = 1, two = 2, zero = 0, g = 0;
    assert_true(fabs(loss_gan(&g, &one, 1, GAN_LSGAN, GAN_G, 1)) < 1e-12);
    assert_true(fabs(loss_gan(&g, &two, 1, GAN_HINGE, GAN_D_REAL, 1)) < 1e-12);
    assert_true(fabs(loss_gan(&g, &zero, 1, GAN_NS, GAN_D_FAKE, 1) - log(2.0)) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_losses),
        cmocka_unit_test(test_swd),
        cmocka_unit_test(test_style_depth_levels),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_content_gauss),
        cmocka_unit_test(test_gan_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
