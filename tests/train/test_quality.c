/* test_quality.c: engine/train/quality.c, the gate's numbers, on small synthetic
 * images whose answers are known. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/net_impl.h"
#include "engine/train/quality.h"

static Image *solid(int w, int h, int r, int g, int b)
{
    Image *img = image_new(w, h);
    assert_non_null(img);
    for (int i = 0; i < w * h; i++) {
        img->px[3 * i] = (uint8_t)r;
        img->px[3 * i + 1] = (uint8_t)g;
        img->px[3 * i + 2] = (uint8_t)b;
    }
    return img;
}

/* Grey squares of 8 pixels, level a or b, in a checker pattern. */
static Image *blocks(int w, int h, int a, int b)
{
    Image *img = image_new(w, h);
    assert_non_null(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memset(img->px + ((size_t)y * w + x) * 3, ((x / 8 + y / 8) & 1) ? a : b, 3);
    return img;
}

static void near(const char *what, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%s = %.6f, want %.6f (+- %g)\n", what, got, want, tol);
        fail();
    }
}

static void test_edges(void **state)
{
    (void)state;
    Image *a = blocks(32, 24, 40, 200), *inv = blocks(32, 24, 200, 40);
    Image *other = blocks(32, 24, 100, 110), *flat = solid(32, 24, 90, 90, 90);
    near("edges(a, a)", quality_edges(a, a), 1, 1e-12);
    /* Inverting the greys keeps every edge where it was. */
    near("edges(a, inverted a)", quality_edges(a, inv), 1, 1e-12);
    /* The same edges with less contrast: still a correlation of 1. */
    near("edges(a, low-contrast a)", quality_edges(a, other), 1, 1e-12);
    near("edges(a, flat)", quality_edges(a, flat), 0, 0);
    Image *small = blocks(16, 24, 40, 200);
    near("edges of different sizes", quality_edges(a, small), 0, 0);
    image_free(a);
    image_free(inv);
    image_free(other);
    image_free(flat);
    image_free(small);
}

static void test_fine(void **state)
{
    (void)state;
    /* Constant over every 2x2 cell: nothing finer than the pooling. */
    Image *b = blocks(32, 32, 0, 255), *flat = solid(9, 9, 1, 2, 3);
    near("fine(8-pixel blocks)", quality_fine(b), 0, 1e-12);
    near("fine(flat)", quality_fine(flat), 0, 0);
    /* A one-pixel checkerboard: all of its variance is the finest detail. */
    Image *c = image_new(10, 10);
    for (int i = 0; i < 100; i++)
        memset(c->px + 3 * i, ((i % 10 + i / 10) & 1) ? 255 : 0, 3);
    near("fine(pixel checkerboard)", quality_fine(c), 1, 1e-12);
    image_free(b);
    image_free(flat);
    image_free(c);
}

static void test_spread(void **state)
{
    (void)state;
    Image *k = solid(4, 4, 0, 0, 0), *g = solid(8, 2, 100, 100, 100), *r = solid(3, 3, 60, 0, 0);
    const Image *two[] = {k, g}, *one[] = {g}, *red[] = {k, r};
    near("spread(black, grey 100)", quality_spread(two, 2), 50, 1e-9);
    near("spread(one)", quality_spread(one, 1), 0, 0);
    /* Only red differs, by 60: std 30 in R, 0 in G and B, mean 10. */
    near("spread(black, red 60)", quality_spread(red, 2), 10, 1e-9);
    image_free(k);
    image_free(g);
    image_free(r);
}

static void test_style(void **state)
{
    (void)state;
    Image *a = blocks(24, 16, 30, 220), *shift = solid(5, 7, 110, 110, 110);
    Image *grey = solid(9, 3, 100, 100, 100);
    near("style(a, a)", quality_style(a, a), 0, 1e-12);
    /* Size does not matter: only the distribution of colours. */
    Image *big = blocks(48, 32, 30, 220);
    near("style(a, a at twice the size)", quality_style(a, big), 0, 1e-12);
    /* Two flat greys 10 apart: 10 on R, G and B, 10 sqrt(3) on the grey
     * axis, 0 on the three chroma axes. */
    near("style(grey 100, grey 110)", quality_style(grey, shift), (30 + 10 * sqrt(3)) / 7, 1e-9);
    for (int k = 0; k < QUALITY_NDIRS; k++) {
        const double *d = quality_dirs[k];
        near("|direction|", d[0] * d[0] + d[1] * d[1] + d[2] * d[2], 1, 1e-12);
    }
    image_free(a);
    image_free(shift);
    image_free(grey);
    image_free(big);
}

/* A 1x1 convolution that returns its input; poison puts a NaN in it. */
static Net *identity_net(int poison)
{
    static const char spec[] =
        "{\"version\": 1, \"layers\": [{\"op\": \"conv2d\", \"name\": \"c\", \"in\": 3,"
        " \"out\": 3, \"k\": 1, \"stride\": 1, \"pad\": 0, \"bias\": false}]}";
    char err[256];
    Net *net = net_from_spec(spec, 3, 3, err, sizeof err);
    if (!net)
        print_error("%s\n", err);
    assert_non_null(net);
    assert_true(net->nparams >= 9);      /* the weights first, then alignment */
    for (size_t i = 0; i < net->nparams; i++)   /* padding NaN: never counted */
        net->params[i] = i >= 9 ? NAN : i % 4 == 0 ? 1.0f : 0.0f;
    if (poison)
        net->params[4] = NAN;
    return net;
}

/* The whole evaluation through a network that returns its input: the
 * picture is the photo, so edges 1, spread that of the photos, style 0 to a
 * painting that is one of the photos; one NaN weight is seen. */
static void test_evaluate(void **state)
{
    (void)state;
    Image *scenes[QUALITY_SCENES];
    QualityScores q;
    char err[256];
    assert_int_equal(quality_scenes(QUALITY_SCENES, 96, 64, scenes), 0);
    Net *id = identity_net(0), *nan = identity_net(1);
    assert_int_equal(quality_evaluate(id, (const Image *const *)scenes, QUALITY_SCENES, scenes[0],
                                      64, 1, &q, err, sizeof err), 0);
    assert_int_equal(q.photos, QUALITY_SCENES);
    near("finite", q.finite, 1, 0);
    near("edges of the identity", q.edges, 1, 1e-9);
    near("spread = photo_spread", q.spread, q.photo_spread, 1e-9);
    /* The scenes are lit differently: their mean colours differ. */
    assert_true(q.photo_spread > 20);
    assert_true(q.fine > 0.01 && q.fine < 1);
    /* Style 0 on scene 0, more on the others. */
    assert_true(q.style > 1 && q.style < 100);
    /* Shrunk to 48 on the long side first, as stylize does. */
    assert_int_equal(quality_evaluate(nan, (const Image *const *)scenes, 2, NULL, 48, 1, &q, err,
                                      sizeof err), 0);
    near("finite with one NaN weight in nine", q.finite, 8 / 9.0, 1e-12);
    near("style without a painting", q.style, -1, 0);
    assert_int_equal(quality_evaluate(id, (const Image *const *)scenes, 0, NULL, 48, 1, &q, err,
                                      sizeof err), -1);
    assert_non_null(strstr(err, "no photos"));
    for (int i = 0; i < QUALITY_SCENES; i++)
        image_free(scenes[i]);
    net_free(id);
    net_free(nan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),    cmocka_unit_test(test_fine),
        cmocka_unit_test(test_spread),   cmocka_unit_test(test_style),
        cmocka_unit_test(test_evaluate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
