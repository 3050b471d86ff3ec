/* test_norm_simd.c: the vectorised instance norm against the reference
 * instance_norm_forward (double accumulation), including channels whose
 * mean dwarfs their spread, odd sizes and the fused ReLU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_simd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
