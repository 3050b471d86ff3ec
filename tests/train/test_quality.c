/* test_quality.c: engine/train/quality.c, the gate's numbers, on small synthetic
 * images whose answers are known, and on committed images against the numbers
 * tools/quality.py gives them (tests/fixtures/quality/, `tools/quality.py
 * fixture`: the two definitions agree). */
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

/* Black and white alternating pixel by pixel. */
static Image *checker(int w, int h)
{
    Image *img = image_new(w, h);
    assert_non_null(img);
    for (int i = 0; i < w * h; i++)
        memset(img->px + 3 * i, ((i % w + i / w) & 1) ? 255 : 0, 3);
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
    Image *c = checker(10, 10);
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
    QualityPainting painting;
    assert_int_equal(quality_painting_init(&painting, scenes[0], 64, 0.15f, 0.4f, 1, err,
                                           sizeof err), 0);
    assert_int_equal(quality_evaluate(id, (const Image *const *)scenes, QUALITY_SCENES, &painting,
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
    /* The picture is the photo: the same strokes and mid as the photos'. */
    near("strokes = photo_strokes", q.strokes, q.photo_strokes, 1e-12);
    near("mid = photo_mid", q.mid, q.photo_mid, 1e-12);
    assert_true(q.strokes > 0.01 && q.mid > 0.01 && q.mid < 1);
    printf("  identity on the scenes: strokes %.4f, mid %.4f\n", q.strokes, q.mid);
    /* Shrunk to 48 on the long side first, as stylize does. */
    assert_int_equal(quality_evaluate(nan, (const Image *const *)scenes, 2, NULL, 48, 1, &q, err,
                                      sizeof err), 0);
    near("finite with one NaN weight in nine", q.finite, 8 / 9.0, 1e-12);
    near("style without a painting", q.style, -1, 0);
    near("strokes without a painting", q.strokes, -1, 0);
    near("photo_strokes without a painting", q.photo_strokes, -1, 0);
    assert_true(q.mid > 0);
    assert_int_equal(quality_evaluate(id, (const Image *const *)scenes, 0, NULL, 48, 1, &q, err,
                                      sizeof err), -1);
    assert_non_null(strstr(err, "no photos"));
    for (int i = 0; i < QUALITY_SCENES; i++)
        image_free(scenes[i]);
    net_free(id);
    net_free(nan);
}

static void test_mid(void **state)
{
    (void)state;
    /* 8-pixel squares: each 4x4 block is one of the two greys, each 16x16
     * block their mean, so the 4-16 band holds all the variance. */
    Image *b8 = blocks(32, 32, 0, 255), *flat = solid(32, 32, 9, 9, 9);
    near("mid(8-pixel squares)", quality_mid(b8), 1, 1e-12);
    near("mid(flat)", quality_mid(flat), 0, 0);
    /* A one-pixel checkerboard: every 4x4 block has the same mean. */
    Image *c = checker(35, 33);
    near("mid(pixel checkerboard)", quality_mid(c), 0, 1e-12);
    Image *tiny = blocks(15, 40, 0, 255);
    near("mid below 16 pixels", quality_mid(tiny), 0, 0);
    image_free(b8);
    image_free(flat);
    image_free(c);
    image_free(tiny);
}

/* Stripes of period 6 (the bank's wavelength), vertical or horizontal,
 * shifted by off pixels. */
static Image *stripes(int w, int h, int vertical, int off)
{
    Image *img = image_new(w, h);
    assert_non_null(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memset(img->px + ((size_t)y * w + x) * 3,
                   (int)(127.5 + 100 * sin(2 * M_PI * ((vertical ? x : y) + off) / 6.0)), 3);
    return img;
}

static void test_strokes(void **state)
{
    (void)state;
    QualityStrokes a, b, c, d;
    char err[256];
    Image *v = stripes(64, 48, 1, 0), *v1 = stripes(64, 48, 1, 1), *hz = stripes(64, 48, 0, 0);
    assert_int_equal(quality_stroke_stats(v, 1, &a, err, sizeof err), 0);
    assert_int_equal(quality_stroke_stats(v1, 1, &b, err, sizeof err), 0);
    assert_int_equal(quality_stroke_stats(hz, 1, &c, err, sizeof err), 0);
    near("strokes(a, a)", quality_strokes(&a, &a), 0, 0);
    double shifted = quality_strokes(&a, &b), rotated = quality_strokes(&a, &c);
    printf("  stripes shifted by a pixel %.4f, turned a quarter %.4f\n", shifted, rotated);
    /* The energy is blind to phase, not to direction. */
    assert_true(rotated > 0.1 && rotated > 10 * shifted);
    /* The top-left crop to sides of 4: 66x50 is measured as 64x48. */
    Image *big = stripes(66, 50, 1, 0);
    assert_int_equal(quality_stroke_stats(big, 2, &d, err, sizeof err), 0);
    near("strokes(64x48, 66x50 cropped)", quality_strokes(&a, &d), 0, 1e-6);
    Image *small = stripes(64, 23, 1, 0);
    assert_int_equal(quality_stroke_stats(small, 1, &d, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "too small"));
    image_free(v);
    image_free(v1);
    image_free(hz);
    image_free(big);
    image_free(small);
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("tests/fixtures/quality/quality.json has no number '%s'", key);
    return json_number_value(v);
}

static Image *fixture_image(const char *name)
{
    char path[128], err[256];
    int code;
    snprintf(path, sizeof path, "tests/fixtures/quality/%s.png", name);
    Image *img = image_load_file(path, 1 << 22, &code, err, sizeof err);
    if (!img)
        fail_msg("%s: %s", path, err);
    return img;
}

/* The numbers tools/quality.py gives the committed images (its `fixture`
 * subcommand wrote them): the C definitions are the same. */
static void test_matches_python(void **state)
{
    (void)state;
    json_error_t je;
    json_t *want = json_load_file("tests/fixtures/quality/quality.json", 0, &je);
    if (!want)
        fail_msg("tests/fixtures/quality/quality.json: %s", je.text);
    Image *photo = fixture_image("photo"), *pic = fixture_image("pic");
    Image *paint = fixture_image("painting");
    char err[256];
    /* atelier's resize, which quality.py reproduces: the same pixels. */
    Image *small = image_resize(photo, 77, 54);
    long sum = 0;
    for (size_t i = 0; i < (size_t)3 * 77 * 54; i++)
        sum += small->px[i];
    assert_int_equal(sum, (long)num(want, "photo_77x54_sum"));
    json_t *sc = json_object_get(want, "style_scale");
    float lo = (float)json_number_value(json_array_get(sc, 0));
    float hi = (float)json_number_value(json_array_get(sc, 1));
    int size = (int)num(want, "train_size");
    Image *scaled = quality_training_scaled(paint, size, lo, hi);
    json_t *dims = json_object_get(want, "painting_scaled");
    assert_int_equal(scaled->w, json_integer_value(json_array_get(dims, 0)));
    assert_int_equal(scaled->h, json_integer_value(json_array_get(dims, 1)));
    double mean = 0;
    for (size_t i = 0; i < (size_t)3 * scaled->w * scaled->h; i++)
        mean += scaled->px[i];
    near("painting at training scale, mean", mean / (3.0 * scaled->w * scaled->h),
         num(want, "painting_scaled_mean"), 1e-9);

    QualityPainting target;
    QualityStrokes sp, sh;
    assert_int_equal(quality_painting_init(&target, paint, size, lo, hi, 1, err, sizeof err), 0);
    assert_int_equal(quality_stroke_stats(pic, 1, &sp, err, sizeof err), 0);
    assert_int_equal(quality_stroke_stats(photo, 1, &sh, err, sizeof err), 0);
    const Image *one[] = {pic};
    struct { const char *key; double got, tol; } cmp[] = {
        {"edges", quality_edges(photo, pic), 1e-9},
        {"fine", quality_fine(pic), 1e-9},
        {"spread", quality_spread(one, 1), 1e-9},
        {"style", quality_style(pic, paint), 1e-9},
        /* float32 filters and features against numpy's float64 */
        {"strokes", quality_strokes(&sp, &target.strokes), 1e-4},
        {"photo_strokes", quality_strokes(&sh, &target.strokes), 1e-4},
        {"mid", quality_mid(pic), 1e-9},
        {"photo_mid", quality_mid(photo), 1e-9},
    };
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
        printf("  %-13s C %.9f  Python %.9f\n", cmp[i].key, cmp[i].got, num(want, cmp[i].key));
        near(cmp[i].key, cmp[i].got, num(want, cmp[i].key), cmp[i].tol);
    }
    image_free(photo);
    image_free(pic);
    image_free(paint);
    image_free(small);
    image_free(scaled);
    json_decref(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),    cmocka_unit_test(test_fine),
        cmocka_unit_test(test_spread),   cmocka_unit_test(test_style),
        cmocka_unit_test(test_evaluate), cmocka_unit_test(test_mid),
        cmocka_unit_test(test_strokes),  cmocka_unit_test(test_matches_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
