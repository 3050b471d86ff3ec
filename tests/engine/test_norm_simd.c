/* test_norm_simd.c: the vectorised instance norm against the reference
 * instance_norm_forward (double accumulation), including channels whose
 * mean dwarfs their spread, odd sizes and the fused ReLU; and the training
 * forward (with its saved statistics) and backward against theirs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/layers.h"
#include "engine/norm_simd.h"
#include "tests/engine/util.h"

/* tol: the output formula x * scale + shift itself rounds at the size of
 * x * scale, so channels far from zero get a tolerance of a few ulps there. */
static void check(const char *name, int c, size_t hw, float offset, int affine, int relu,
                  double tol)
{
    size_t n = (size_t)c * hw;
    float *a = malloc(n * 4), *b = malloc(n * 4), *g = malloc((size_t)c * 4),
          *be = malloc((size_t)c * 4);
    tu_fill(a, n, 31, -3, 3);
    for (size_t i = 0; i < n; i++)
        a[i] += offset * (float)(1 + (int)(i / hw));
    memcpy(b, a, n * 4);
    tu_fill(g, (size_t)c, 32, 0.5f, 2);
    tu_fill(be, (size_t)c, 33, -1, 1);
    instance_norm_forward_simd(a, affine ? g : NULL, affine ? be : NULL, 1e-3f, c, hw, relu);
    instance_norm_forward(b, affine ? g : NULL, affine ? be : NULL, 1e-3f, c, hw, relu);
    assert_true(tu_report(name, a, b, n) < tol);
    free(a); free(b); free(g); free(be);
}

static void test_norm_simd(void **state)
{
    (void)state;
    check("small odd", 3, 37, 0, 1, 0, 2e-5);
    check("relu", 4, 1000, 0.5f, 1, 1, 2e-5);
    check("no affine", 2, 8191, 0, 0, 1, 2e-5);
    /* |x| up to 3000 with std 1.7: x * scale ~ 1800, whose ulp is 1.2e-4 */
    check("large mean", 3, 20000, 1000, 1, 0, 1e-3);
    check("one value", 2, 1, 0, 1, 0, 2e-5);
    check("big channel", 1, (size_t)1 << 20, 10, 1, 1, 1e-4);
}

/* Largest |a - b| / (1 + |b|). */
static double rel(const char *name, const float *a, const float *b, size_t n)
{
    double w = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (1.0 + fabs(b[i]));
        if (e > w)
            w = e, at = i;
    }
    printf("  %s: max rel diff %.2e at %zu (%g vs %g)\n", name, w, at, n ? a[at] : 0.0,
           n ? b[at] : 0.0);
    return w;
}

static void check_train(const char *name, int c, size_t hw, float offset, int affine,
                        int relu, double tol)
{
    size_t n = (size_t)c * hw;
    float *x = malloc(n * 4), *g = malloc((size_t)c * 4), *be = malloc((size_t)c * 4);
    float *y1 = malloc(n * 4), *y2 = malloc(n * 4), *dy = malloc(n * 4);
    float *st1 = malloc((size_t)c * 8), *st2 = malloc((size_t)c * 8);
    float *dx1 = malloc(n * 4), *dx2 = malloc(n * 4), *p1 = calloc((size_t)c * 2, 4),
          *p2 = calloc((size_t)c * 2, 4);
    assert_true(x && g && be && y1 && y2 && dy && st1 && st2 && dx1 && dx2 && p1 && p2);
    tu_fill(x, n, 41, -3, 3);
    for (size_t i = 0; i < n; i++)
        x[i] += offset * (float)(1 + (int)(i / hw));
    tu_fill(g, (size_t)c, 42, 0.5f, 2);
    tu_fill(be, (size_t)c, 43, -1, 1);
    tu_fill(dy, n, 44, -1, 1);
    tu_fill(dx1, n, 45, -1, 1);
    memcpy(dx2, dx1, n * 4);
    const float *gg = affine ? g : NULL, *bb = affine ? be : NULL;
    printf("%s\n", name);
    instance_norm_train_forward_simd(y1, st1, st1 + c, x, gg, bb, 1e-5f, c, hw, relu);
    instance_norm_train_forward(y2, st2, st2 + c, x, gg, bb, 1e-5f, c, hw, relu);
    assert_true(rel("forward", y1, y2, n) < tol);
    assert_true(rel("mean, rstd", st1, st2, (size_t)c * 2) < tol);
    instance_norm_backward_simd(dx1, affine ? p1 : NULL, affine ? p1 + c : NULL, dy, x, y2,
                                gg, st2, st2 + c, c, hw, relu);
    instance_norm_backward(dx2, affine ? p2 : NULL, affine ? p2 + c : NULL, dy, x, y2,
                           gg, st2, st2 + c, c, hw, relu);
    assert_true(rel("din", dx1, dx2, n) < tol);
    assert_true(rel("dgamma, dbeta", p1, p2, (size_t)c * 2) < tol);
    free(x), free(g), free(be), free(y1), free(y2), free(dy), free(st1), free(st2);
    free(dx1), free(dx2), free(p1), free(p2);
}

static void test_norm_train(void **state)
{
    (void)state;
    check_train("train small odd", 3, 37, 0, 1, 0, 2e-5);
    check_train("train relu", 4, 1000, 0.5f, 1, 1, 2e-5);
    check_train("train no affine", 2, 8191, 0, 0, 1, 2e-5);
    /* one value: rstd = 1/sqrt(eps) ~ 316, so x * scale rounds at ~3e-5 */
    check_train("train one value", 2, 1, 0, 1, 0, 1e-4);
    check_train("train big channel", 2, (size_t)1 << 16, 10, 0, 1, 1e-4);
    check_train("train large mean", 3, 20000, 1000, 1, 0, 1e-3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_simd),
        cmocka_unit_test(test_norm_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
