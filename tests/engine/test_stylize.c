/* test_stylize.c: engine/stylize.c, the max_size decision and the
 * post-processing (colour preservation, strength blend). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/stylize.h"

static void check_fit(int w, int h, int max, int want_rc, int want_w, int want_h)
{
    int ow = -7, oh = -7;
    int rc = stylize_fit(w, h, max, &ow, &oh);
    if (rc != want_rc || (rc >= 0 && (ow != want_w || oh != want_h))) {
        print_error("stylize_fit(%d, %d, %d) = %d, %dx%d; want %d, %dx%d\n", w, h, max, rc,
                    ow, oh, want_rc, want_w, want_h);
        fail();
    }
}

static void test_fit(void **state)
{
    (void)state;
    check_fit(800, 600, 1024, 0, 800, 600);        /* fits: unchanged */
    check_fit(1024, 1024, 1024, 0, 1024, 1024);    /* exactly the limit */
    check_fit(2048, 1536, 1024, 1, 1024, 768);     /* landscape */
    check_fit(1536, 2048, 1024, 1, 768, 1024);     /* portrait */
    check_fit(3000, 2000, 64, 1, 64, 43);          /* 42.67 rounds up */
    check_fit(10000, 1, 64, 1, 64, 1);             /* short side at least 1 */
    check_fit(100, 100, 0, 0, 100, 100);           /* no limit */
    check_fit(0, 10, 64, -1, 0, 0);
    check_fit(10, -1, 64, -1, 0, 0);
    check_fit(2147483647, 2147483647, 8192, 1, 8192, 8192); /* no overflow */
}

/* A 2x2 planar image from 4 RGB triples. */
static void planar(float *dst, const float rgb[4][3])
{
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++)
            dst[c * 4 + i] = rgb[i][c];
}

static float luma(const float *img, int i)
{
    return 0.299f * img[i] + 0.587f * img[4 + i] + 0.114f * img[8 + i];
}

static float cb(const float *img, int i)
{
    return -0.168736f * img[i] - 0.331264f * img[4 + i] + 0.5f * img[8 + i];
}

static float cr(const float *img, int i)
{
    return 0.5f * img[i] - 0.418688f * img[4 + i] - 0.081312f * img[8 + i];
}

static void test_preserve_colors(void **state)
{
    /* Mid-grey luma so no channel clips: then luma comes from the
     * stylized image and chroma from the photo, exactly. */
    const float photo_rgb[4][3] = {{150, 100, 90}, {100, 140, 120}, {110, 110, 160}, {128, 128, 128}};
    const float style_rgb[4][3] = {{120, 120, 120}, {60, 200, 90}, {140, 100, 130}, {100, 150, 110}};
    float photo[12], out[12];
    (void)state;
    planar(photo, photo_rgb);
    planar(out, style_rgb);
    float want_y[4];
    for (int i = 0; i < 4; i++)
        want_y[i] = luma(out, i);
    stylize_preserve_colors(out, photo, 2, 2);
    for (int i = 0; i < 4; i++) {
        float dy = fabsf(luma(out, i) - want_y[i]);
        float dcb = fabsf(cb(out, i) - cb(photo, i)), dcr = fabsf(cr(out, i) - cr(photo, i));
        if (dy > 1e-3f || dcb > 1e-3f || dcr > 1e-3f) {
            print_error("pixel %d: luma off by %g, Cb by %g, Cr by %g\n", i, dy, dcb, dcr);
            fail();
        }
    }
}

static void test_preserve_colors_clamps(void **state)
{
    /* A saturated red photo under a white stylized pixel must clip to
     * 0..255, not overflow. */
    const float photo_rgb[4][3] = {{255, 0, 0}, {0, 0, 255}, {0, 255, 0}, {0, 0, 0}};
    const float style_rgb[4][3] = {{255, 255, 255}, {255, 255, 255}, {0, 0, 0}, {255, 255, 255}};
    float photo[12], out[12];
    (void)state;
    planar(photo, photo_rgb);
    planar(out, style_rgb);
    stylize_preserve_colors(out, photo, 2, 2);
    for (int i = 0; i < 12; i++) {
        if (!(out[i] >= 0 && out[i] <= 255)) {
            print_error("value %d = %g outside 0..255\n", i, out[i]);
            fail();
        }
    }
    /* A grey photo leaves the luma alone and removes all colour. */
    assert_float_equal(out[3], out[7], 1e-3);
    assert_float_equal(out[7], out[11], 1e-3);
}

static void test_blend(void **state)
{
    float photo[12], out[12], ref[12];
    (void)state;
    for (int i = 0; i < 12; i++) {
        photo[i] = (float)(i * 20);
        ref[i] = 255.0f - (float)(i * 10);
    }
    const float strengths[] = {1.0f, 0.0f, 0.25f, 0.5f, -3.0f, 7.0f, NAN};
    const float expect[] = {1.0f, 0.0f, 0.25f, 0.5f, 0.0f, 1.0f, 1.0f};
    for (size_t s = 0; s < sizeof strengths / sizeof strengths[0]; s++) {
        for (int i = 0; i < 12; i++)
            out[i] = ref[i];
        stylize_blend(out, photo, 2, 2, strengths[s]);
        for (int i = 0; i < 12; i++) {
            float want = expect[s] * ref[i] + (1 - expect[s]) * photo[i];
            if (fabsf(out[i] - want) > 1e-3f) {
                print_error("strength %g, value %d: %g, want %g\n", strengths[s], i, out[i],
                            want);
                fail();
            }
        }
    }
}

static void test_finish_order(void **state)
{
    /* Colours first, then the blend: at strength 0 the photo comes back
     * whatever preserve_colors says. */
    const float photo_rgb[4][3] = {{150, 100, 90}, {100, 140, 120}, {110, 110, 160}, {1, 2, 3}};
    const float style_rgb[4][3] = {{10, 250, 10}, {60, 200, 90}, {140, 100, 130}, {9, 9, 9}};
    float photo[12], out[12];
    StylizeOptions o = {0.0f, 1};
    (void)state;
    planar(photo, photo_rgb);
    planar(out, style_rgb);
    stylize_finish(out, photo, 2, 2, &o);
    for (int i = 0; i < 12; i++)
        assert_float_equal(out[i], photo[i], 1e-4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_preserve_colors),
        cmocka_unit_test(test_preserve_colors_clamps),
        cmocka_unit_test(test_blend),
        cmocka_unit_test(test_finish_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
