/* test_style_gabor.c: the Gabor filter-bank style loss (engine/train/style_gabor.h):
 * its features against a naive reference written from the definition, its
 * gradient against finite differences, zero on its own target, that it
 * tells stripes of one orientation from the same stripes turned (what the
 * random features could not), and bad shapes refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/train/style_gabor.h"
#include "tests/engine/util.h"

enum { B = 2, H = 32, W = 32, LEVELS = 3, C = GABOR_CHANNELS };

static int refl(int i, int n)
{
    return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}

/* One filter of the bank straight from the definition: orientation k,
 * odd or even, at offset (x, y); zero-mean (even) and unit-norm. */
static double filter_at(int k, int odd, int x, int y)
{
    double th = k * M_PI / 8, mean = 0, norm = 0, v = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int yy = -5; yy <= 5; yy++)
            for (int xx = -5; xx <= 5; xx++) {
                double u = xx * cos(th) + yy * sin(th);
                double env = exp(-(xx * xx + yy * yy) / 12.5);
                double f = env * (odd ? sin(2 * M_PI * u / 6) : cos(2 * M_PI * u / 6));
                if (pass == 0) {
                    mean += f / 121;
                    continue;
                }
                f -= odd ? 0 : mean;
                norm += f * f;
                if (xx == x && yy == y)
                    v = f;
            }
    return v / sqrt(norm);
}

/* The features of one image p (3, h, w) at one level, naively. */
static void naive_features(float *f, const float *p, int h, int w)
{
    size_t n = (size_t)h * w;
    double *y = malloc(n * sizeof(double)), *o = malloc(3 * n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double r = p[i], g = p[n + i], b = p[2 * n + i];
        y[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 127.5 - 1;
        r = r / 127.5 - 1, g = g / 127.5 - 1, b = b / 127.5 - 1;
        o[i] = 0.299 * r + 0.587 * g + 0.114 * b;
        o[n + i] = r - g;
        o[2 * n + i] = 0.5 * (r + g) - b;
    }
    for (int k = 0; k < 8; k++)
        for (int py = 0; py < h; py++)
            for (int px = 0; px < w; px++) {
                double e = 0, od = 0;
                for (int dy = -5; dy <= 5; dy++)
                    for (int dx = -5; dx <= 5; dx++) {
                        double v = y[(size_t)refl(py + dy, h) * w + refl(px + dx, w)];
                        e += filter_at(k, 0, dx, dy) * v;
                        od += filter_at(k, 1, dx, dy) * v;
                    }
                size_t i = (size_t)py * w + px;
                f[(size_t)k * n + i] = (float)fmax(e, 0);
                f[(size_t)(8 + k) * n + i] = (float)fmax(-e, 0);
                f[(size_t)(16 + k) * n + i] = (float)sqrt(e * e + od * od + 1e-6);
            }
    for (int ch = 0; ch < 3; ch++)
        for (int py = 0; py < h; py++)
            for (int px = 0; px < w; px++) {
                double acc = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                        acc += o[(size_t)ch * n + (size_t)refl(py + dy, h) * w + refl(px + dx, w)];
                f[(size_t)(24 + ch) * n + (size_t)py * w + px] = (float)(acc / 9);
            }
    free(y);
    free(o);
}

/* The pyramid's next level of p (3, h, w): 2x2 means. */
static void naive_pool(float *out, const float *p, int h, int w)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h / 2; y++)
            for (int x = 0; x < w / 2; x++) {
                const float *q = p + ((size_t)c * h + 2 * y) * w + 2 * x;
                out[((size_t)c * (h / 2) + y) * (w / 2) + x] = 0.25f * (q[0] + q[1] + q[w] + q[w + 1]);
            }
}

static void test_features_naive(void **state)
{
    (void)state;
    size_t n = (size_t)B * 3 * H * W;
    float *img = malloc(n * 4), *p = malloc(3 * H * W * 4), *q = malloc(3 * H * W * 4);
    float *ref = malloc((size_t)C * H * W * 4);
    tu_fill(img, n, 11, 0, 255);
    char err[256];
    GaborNet *g = gabor_new(5, LEVELS, NULL, err, sizeof(err));
    assert_non_null(g);
    assert_int_equal(gabor_plan(g, B, H, W, 1, err, sizeof(err)), 0);
    for (int b = 0; b < B; b++) {
        memcpy(p, img + (size_t)b * 3 * H * W, 3 * H * W * 4);
        int h = H, w = W;
        for (int l = 0; l < LEVELS; l++) {
            if (l) {
                naive_pool(q, p, h, w);
                memcpy(p, q, 3 * (size_t)(h / 2) * (w / 2) * 4);
                h /= 2, w /= 2;
            }
            naive_features(ref, p, h, w);
            const float *f = gabor_features(g, img, l) + (size_t)b * C * h * w;
            double maxref = 0;
            for (size_t i = 0; i < (size_t)C * h * w; i++)
                maxref = fmax(maxref, fabs(ref[i]));
            char name[64];
            snprintf(name, sizeof(name), "image %d level %d (%dx%d)", b, l, h, w);
            double d = tu_report(name, f, ref, (size_t)C * h * w);
            assert_true(maxref > 0.05);   /* 2x2 means of noise flatten fast */
            assert_true(d < 1e-4 * maxref);
        }
    }
    gabor_free(g);
    free(img); free(p); free(q); free(ref);
}

typedef struct Ctx { GaborNet *g; uint64_t rng; } Ctx;

/* The same random directions at every evaluation. */
static double loss_fn(float *grad, float *x, void *ctx)
{
    Ctx *c = ctx;
    *gabor_rng(c->g) = c->rng;
    return gabor_loss(c->g, grad, x, 1.5f);
}

static void test_gradient_and_target(void **state)
{
    (void)state;
    size_t n = (size_t)B * 3 * H * W;
    float *x = malloc(n * 4), *style = malloc(n * 4), *grad = calloc(n, 4);
    tu_fill(x, n, 1, 0, 255);
    tu_fill(style, n / 2, 3, 0, 255);
    memcpy(style + n / 2, style, n / 2 * sizeof(float));   /* both batch images alike */
    const float lw[LEVELS] = { 1, 0.5f, 2 };
    char err[256];
    Ctx c = { gabor_new(7, LEVELS, lw, err, sizeof(err)), 0 };
    assert_non_null(c.g);
    assert_int_equal(gabor_plan(c.g, B, H, W, 1, err, sizeof(err)), 0);
    size_t tn;
    gabor_target(c.g, &tn);
    assert_int_equal(tn, (size_t)C * (H * W + H * W / 4 + H * W / 16));
    gabor_target_add(c.g, style);
    gabor_target_done(c.g);
    c.rng = *gabor_rng(c.g);
    double self = loss_fn(grad, style, &c);
    printf("  gabor loss of its own target %.3g\n", self);
    assert_true(self < 1e-9);
    /* The energies' square roots and the ReLUs make the differences O(h)
     * near their kinks; h = 0.05 keeps both that and rounding small. */
    assert_true(tu_fd_check("gabor swd, 3 levels", loss_fn, x, n, &c, 0.05f, 64) < 3e-2);
    float *mid = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        mid[i] = 0.5f * (x[i] + style[i]);
    double lx = loss_fn(grad, x, &c), lm = loss_fn(grad, mid, &c);
    printf("  gabor loss x %.4f, halfway %.4f\n", lx, lm);
    assert_true(lm < lx);
    gabor_free(c.g);
    free(x); free(style); free(grad); free(mid);
}

/* Grey stripes of period 6 along (cos a, sin a), shifted by phase. */
static void stripes(float *img, double a, double phase)
{
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float v = (float)(128 + 90 * cos(2 * M_PI * (x * cos(a) + y * sin(a)) / 6 + phase));
                for (int c = 0; c < 3; c++)
                    img[(((size_t)b * 3 + c) * H + y) * W + x] = v;
            }
}

static void test_orientation(void **state)
{
    (void)state;
    size_t n = (size_t)B * 3 * H * W;
    float *img = malloc(n * 4), *grad = calloc(n, 4);
    char err[256];
    Ctx c = { gabor_new(9, LEVELS, NULL, err, sizeof(err)), 0 };
    assert_non_null(c.g);
    assert_int_equal(gabor_plan(c.g, B, H, W, 1, err, sizeof(err)), 0);
    stripes(img, 0.3, 0);
    gabor_target_add(c.g, img);
    gabor_target_done(c.g);
    c.rng = *gabor_rng(c.g);
    stripes(img, 0.3, 2.0);
    double shifted = loss_fn(grad, img, &c);
    stripes(img, 0.3 + M_PI / 2, 0);
    double turned = loss_fn(grad, img, &c);
    printf("  stripes: shifted %.4f, turned 90 degrees %.4f\n", shifted, turned);
    assert_true(turned > 4 * shifted);
    gabor_free(c.g);
    free(img); free(grad);
}

static void test_refused(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(gabor_new(1, 0, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "levels"));
    assert_null(gabor_new(1, GABOR_MAX_LEVELS + 1, NULL, err, sizeof(err)));
    GaborNet *g = gabor_new(1, 4, NULL, err, sizeof(err));
    assert_non_null(g);
    err[0] = 0;
    assert_int_equal(gabor_plan(g, 1, 40, 40, 1, err, sizeof(err)), -1);   /* 40, 20, 10, 5 */
    assert_non_null(strstr(err, "halve"));
    err[0] = 0;
    assert_int_equal(gabor_plan(g, 1, 44, 48, 1, err, sizeof(err)), -1);   /* 44, 22, 11: odd */
    assert_non_null(strstr(err, "halve"));
    assert_int_equal(gabor_plan(g, 1, 48, 64, 1, err, sizeof(err)), 0);
    gabor_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_naive),
        cmocka_unit_test(test_gradient_and_target),
        cmocka_unit_test(test_orientation),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
