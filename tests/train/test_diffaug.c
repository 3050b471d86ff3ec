/* test_diffaug.c: the discriminator's differentiable augmentation
 * (engine/train/diffaug.h): a known draw moves pixels where it says, the backward
 * is the forward's adjoint, draws stay in their ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/train/diffaug.h"
#include "tests/engine/util.h"

enum { B = 2, S = 32 };

static void test_known_draw(void **state)
{
    (void)state;
    size_t n = (size_t)B * 3 * S * S, plane = S * S;
    float *in = malloc(n * 4), *out = malloc(n * 4);
    tu_fill(in, n, 1, 0, 255);
    DiffAugDraw d[B] = { { 3, -2, 10, 20, 4, 12 }, { 0, 0, 0, 0, 0, 0 } };
    diffaug_forward(out, in, d, B, S);
    int checked = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                float o = out[c * plane + (size_t)y * S + x];
                int cut = x >= 10 && x < 20 && y >= 4 && y < 12;
                int sx = x - 3, sy = y + 2, inside = sx >= 0 && sx < S && sy >= 0 && sy < S;
                float want = cut || !inside ? 127.5f : in[c * plane + (size_t)sy * S + sx];
                assert_true(o == want);
                checked += !cut && inside;
            }
    /* The second image has no shift and no cut: unchanged. */
    assert_memory_equal(out + 3 * plane, in + 3 * plane, 3 * plane * sizeof(float));
    printf("  %d shifted pixels where the draw says, the rest mid-grey\n", checked);
    assert_true(checked > 3 * (S - 3) * (S - 2) - 3 * 10 * 8 - 1);
    free(in); free(out);
}

/* out = M in + fill: <M x, y> = <x, M^T y> for random draws. */
static void test_adjoint(void **state)
{
    (void)state;
    size_t n = (size_t)B * 3 * S * S;
    float *x = malloc(n * 4), *y = malloc(n * 4), *ax = malloc(n * 4), *a0 = malloc(n * 4);
    float *aty = calloc(n, 4), *zero = calloc(n, 4);
    tu_fill(x, n, 2, -1, 1);
    tu_fill(y, n, 3, -1, 1);
    Rng r = rng_seed(5);
    DiffAugDraw d[B];
    for (int it = 0; it < 20; it++) {
        diffaug_draw(d, B, S, DIFFAUG_TRANSLATION | DIFFAUG_CUTOUT, &r);
        diffaug_forward(ax, x, d, B, S);
        diffaug_forward(a0, zero, d, B, S);
        memset(aty, 0, n * 4);
        diffaug_backward(aty, y, d, B, S);
        double lhs = 0, rhs = 0;
        for (size_t i = 0; i < n; i++) {
            lhs += (double)(ax[i] - a0[i]) * y[i];
            rhs += (double)x[i] * aty[i];
        }
        assert_true(fabs(lhs - rhs) < 1e-9 * (fabs(lhs) + 1));
    }
    free(x); free(y); free(ax); free(a0); free(aty); free(zero);
}

static void test_draw_ranges(void **state)
{
    (void)state;
    Rng r = rng_seed(9);
    DiffAugDraw d[B];
    int neg = 0, pos = 0, maxshift = 0;
    for (int it = 0; it < 500; it++) {
        diffaug_draw(d, B, S, DIFFAUG_TRANSLATION | DIFFAUG_CUTOUT, &r);
        for (int b = 0; b < B; b++) {
            assert_true(abs(d[b].dx) <= S / 8 && abs(d[b].dy) <= S / 8);
            neg += d[b].dx < 0;
            pos += d[b].dx > 0;
            maxshift = abs(d[b].dx) > maxshift ? abs(d[b].dx) : maxshift;
            assert_true(d[b].cx0 >= 0 && d[b].cx1 <= S && d[b].cx0 < d[b].cx1);
            assert_true(d[b].cy0 >= 0 && d[b].cy1 <= S && d[b].cy0 < d[b].cy1);
            assert_true(d[b].cx1 - d[b].cx0 <= S / 2 && d[b].cy1 - d[b].cy0 <= S / 2);
        }
    }
    assert_true(neg > 100 && pos > 100);
    assert_int_equal(maxshift, S / 8);
    diffaug_draw(d, B, S, DIFFAUG_TRANSLATION, &r);
    assert_true(d[0].cx0 == d[0].cx1);   /* no cutout asked: an empty square */
    diffaug_draw(d, B, S, DIFFAUG_CUTOUT, &r);
    assert_true(d[0].dx == 0 && d[0].dy == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_draw),
        cmocka_unit_test(test_adjoint),
        cmocka_unit_test(test_draw_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
