/* test_image_hostile.c: the image decoders against hostile input: EXIF
 * offsets out of bounds and looping, truncation at every length, random and
 * mutated bytes (seeded), headers claiming huge or empty images, tiny and
 * foreign data. Each buffer is decoded from an exact-size copy, so under
 * AddressSanitizer any overread fails the test. Inputs: image_fixtures.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/image.h"
#include "engine/image_codec.h"
#include "tests/engine/image_fixtures.h"

static int probe_orientation(const uint8_t *plain, size_t n, const uint8_t *exif, size_t en)
{
    size_t jn;
    uint8_t *j = imgt_jpeg_with_app1(plain, n, exif, en, &jn);
    ImageInfo info;
    Image *img;

    assert_int_equal(image_probe(j, jn, &info), 0);
    img = imgt_decode_ok(j, jn);
    assert_int_equal(img->w, info.orientation >= 5 ? 16 : 24);
    image_free(img);
    free(j);
    return info.orientation;
}

static void test_exif_hostile(void **state)
{
    size_t n, en;
    uint8_t *plain = imgt_jpeg_blocks(&n), exif[64];
    ImgtExif s;
    (void)state;

    for (int le = 0; le <= 1; le++) {
        s = imgt_exif_default(le, 6);
        s.ifd0 = 0xFFFFFFF0u;                      /* IFD0 out of bounds */
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s.ifd0 = 40;                               /* count field past the end */
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s.ifd0 = 4;                                /* inside the TIFF header */
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = imgt_exif_default(le, 6);
        s.next_ifd = 8;                            /* IFD chain loops on itself */
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 6);
        s.entries = 0xFFFF;                        /* more entries than bytes */
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 6);
        s = imgt_exif_default(le, 9);                   /* out of range */
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = imgt_exif_default(le, 0);
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = imgt_exif_default(le, 6);
        s.type = 2;                                /* ASCII */
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = imgt_exif_default(le, 6);
        s.count = 0x40000000u;                     /* a huge array */
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = imgt_exif_default(le, 6);
        s.magic = 43;
        en = imgt_exif(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
    }
    s = imgt_exif_default(1, 6);
    en = imgt_exif(exif, &s);
    exif[6] = 'M';                                 /* "MI": no byte order */
    assert_int_equal(probe_orientation(plain, n, exif, en), 1);

    /* Every prefix of a good payload, each in an exact-size buffer. */
    s = imgt_exif_default(0, 6);
    en = imgt_exif(exif, &s);
    for (size_t len = 0; len <= en; len++) {
        uint8_t *q = imgt_dup(exif, len);
        int o = image_exif_orientation(q, len);

        free(q);
        if (o != (len >= 40 ? 6 : 1))
            fail_msg("EXIF prefix of %zu bytes gave orientation %d", len, o);
    }
    /* Random damage never reads outside or returns nonsense. */
    for (int it = 0; it < 5000; it++) {
        uint8_t *q;
        int o;

        en = imgt_exif(exif, &s);
        for (int k = 0; k < 3; k++)
            exif[6 + imgt_rng() % (en - 6)] = (uint8_t)imgt_rng();
        q = imgt_dup(exif, en);
        o = image_exif_orientation(q, en);
        free(q);
        assert_in_range(o, 1, 8);
    }
    /* An APP1 segment whose length runs past the end of the file. */
    {
        size_t jn;
        uint8_t *j = imgt_jpeg_with_app1(plain, n, exif, en, &jn);
        int code;
        char err[256];

        j[4] = 0xFF;
        j[5] = 0xF0;
        assert_null(imgt_decode(j, jn, IMGT_MAXPX, &code, err));
        assert_int_equal(code, IMG_ECORRUPT);
        free(j);
    }
    free(plain);
}

/* ---- limits and hostile input --------------------------------------------- */

static void expect_fail(const char *what, const uint8_t *p, size_t n, int64_t max, int want)
{
    char err[256];
    int code = 0;
    Image *img = imgt_decode(p, n, max, &code, err);

    if (img || code != want)
        fail_msg("%s: got code %d (%s), want %d", what, code, img ? "decoded" : err, want);
    if (!err[0])
        fail_msg("%s: no error message", what);
}

static void test_limits(void **state)
{
    uint8_t hdr[64], *rgb = imgt_smooth_rgb(64, 48), *j;
    size_t n, jn;
    char err[256];
    int code;
    Image *img;
    (void)state;

    n = imgt_png_header_only(hdr, 60000, 60000);
    expect_fail("PNG 60000x60000", hdr, n, IMGT_MAXPX, IMG_ETOOLARGE);
    imgt_decode(hdr, n, IMGT_MAXPX, &code, err);
    assert_string_equal(err, "image is 60000x60000, more than the 40000000 pixel limit");
    n = imgt_png_header_only(hdr, 100000, 1);
    expect_fail("PNG 100000 wide", hdr, n, IMGT_MAXPX, IMG_ETOOLARGE);
    n = imgt_png_header_only(hdr, 0, 0);
    expect_fail("PNG 0x0", hdr, n, IMGT_MAXPX, IMG_ECORRUPT);
    n = imgt_png_header_only(hdr, 10, 0);
    expect_fail("PNG 10x0", hdr, n, IMGT_MAXPX, IMG_ECORRUPT);

    j = imgt_jpeg_rgb(rgb, 64, 48, 90, 0, &jn);
    img = imgt_decode(j, jn, 64 * 48, &code, err);       /* exactly at the limit */
    assert_non_null(img);
    image_free(img);
    expect_fail("JPEG one pixel over", j, jn, 64 * 48 - 1, IMG_ETOOLARGE);
    imgt_decode(j, jn, 64 * 48 - 1, &code, err);
    assert_string_equal(err, "image is 64x48, more than the 3071 pixel limit");
    imgt_jpeg_set_size(j, jn, 60000, 60000);
    expect_fail("JPEG 60000x60000", j, jn, IMGT_MAXPX, IMG_ETOOLARGE);
    imgt_jpeg_set_size(j, jn, 65535, 65535);
    expect_fail("JPEG 65535x65535", j, jn, IMGT_MAXPX, IMG_ETOOLARGE);
    imgt_jpeg_set_size(j, jn, 64, 0);
    expect_fail("JPEG height 0", j, jn, IMGT_MAXPX, IMG_ECORRUPT);
    imgt_jpeg_set_size(j, jn, 0, 48);
    expect_fail("JPEG width 0", j, jn, IMGT_MAXPX, IMG_ECORRUPT);
    free(j);

    j = imgt_jpeg_rgb(rgb, 64, 48, 90, 0, &jn);
    assert_null(image_decode(j, jn, 0, &code, err, sizeof err));
    assert_int_equal(code, IMG_EARG);
    img = image_decode(j, jn, IMGT_MAXPX, NULL, NULL, 0);   /* no code, no err: fine */
    assert_non_null(img);
    image_free(img);
    assert_null(image_decode(hdr, 3, IMGT_MAXPX, NULL, NULL, 0));
    free(j);
    free(rgb);
}

static void test_hostile_small(void **state)
{
    static const uint8_t one[1] = { 0xFF };
    static const uint8_t soi[3] = { 0xFF, 0xD8, 0xFF };
    char err[256];
    int code;
    (void)state;

    expect_fail("empty", (const uint8_t *)"", 0, IMGT_MAXPX, IMG_EFORMAT);
    assert_null(image_decode(NULL, 0, IMGT_MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EFORMAT);
    expect_fail("one byte", one, 1, IMGT_MAXPX, IMG_EFORMAT);
    expect_fail("JPEG magic only", soi, 3, IMGT_MAXPX, IMG_ECORRUPT);
    expect_fail("text", (const uint8_t *)"hello, world", 12, IMGT_MAXPX, IMG_EFORMAT);
    expect_fail("GIF", (const uint8_t *)"GIF89a\1\0\1\0\0\0\0", 13, IMGT_MAXPX, IMG_EFORMAT);
}

static void check_truncations(const char *what, const uint8_t *p, size_t n, size_t magic)
{
    for (size_t len = 0; len < n; len++) {
        char err[256];
        int code = 0;
        Image *img = imgt_decode(p, len, IMGT_MAXPX, &code, err);
        int want = len < magic ? IMG_EFORMAT : IMG_ECORRUPT;

        if (img || code != want)
            fail_msg("%s cut to %zu of %zu bytes: code %d (%s), want %d", what, len, n,
                     code, img ? "decoded" : err, want);
    }
    print_message("%s: all %zu truncations refused\n", what, n);
}

static void test_truncated(void **state)
{
    uint8_t *rgb = imgt_smooth_rgb(24, 16), *j, *p, *rows;
    uint16_t v[24 * 16 * 3];
    size_t n;
    ImgtPng s = { 8, PNG_COLOR_TYPE_RGB, 1, NULL, 0, NULL, 0, NULL };
    char err[256];
    int code;
    (void)state;

    j = imgt_jpeg_rgb(rgb, 24, 16, 90, 0, &n);
    check_truncations("baseline JPEG", j, n, 3);
    free(j);
    j = imgt_jpeg_rgb(rgb, 24, 16, 90, 1, &n);
    check_truncations("progressive JPEG", j, n, 3);
    imgt_decode(j, n - 2, IMGT_MAXPX, &code, err);
    assert_string_equal(err, "JPEG data is truncated");
    free(j);
    for (int i = 0; i < 24 * 16 * 3; i++)
        v[i] = rgb[i];
    rows = imgt_png_pack(v, 24, 16, 3, 8);
    p = imgt_png(rows, 24, 16, &s, &n);
    check_truncations("interlaced PNG", p, n, 8);
    imgt_decode(p, n - 1, IMGT_MAXPX, &code, err);
    assert_string_equal(err, "PNG data is truncated");
    free(p);
    free(rows);
    free(rgb);
}

/* Random bytes after a real magic, and random damage to real files: the
 * decoders must fail cleanly (or decode something of the right size). */
#define FUZZ_TRIES 2000

static void fuzz(const char *what, const uint8_t *good, size_t n, size_t keep, int flips)
{
    uint8_t *q = malloc(n);
    int decoded = 0;

    for (int it = 0; it < FUZZ_TRIES; it++) {
        char err[256];
        int code = 0;
        Image *img;

        memcpy(q, good, n);
        if (flips == 0) {
            for (size_t i = keep; i < n; i++)
                q[i] = (uint8_t)imgt_rng();
        } else {
            for (int k = 0; k < flips; k++)
                q[keep + imgt_rng() % (n - keep)] = (uint8_t)imgt_rng();
        }
        img = imgt_decode(q, n, (int64_t)1 << 20, &code, err);
        if (img) {
            assert_int_equal(code, 0);
            assert_true(img->w > 0 && img->h > 0);
            image_free(img);
            decoded++;
        } else if (code != IMG_ECORRUPT && code != IMG_ETOOLARGE) {
            fail_msg("%s: iteration %d gave code %d (%s)", what, it, code, err);
        }
    }
    print_message("%s: %d tries, %d decoded, %d refused\n", what, FUZZ_TRIES, decoded,
                  FUZZ_TRIES - decoded);
    free(q);
}

static void test_fuzz(void **state)
{
    uint8_t *rgb = imgt_smooth_rgb(32, 24), *j, *p, *rows;
    uint16_t v[32 * 24 * 3];
    size_t n;
    ImgtPng s = { 8, PNG_COLOR_TYPE_RGB, 0, NULL, 0, NULL, 0, NULL };
    (void)state;

    j = imgt_jpeg_rgb(rgb, 32, 24, 80, 0, &n);
    fuzz("random after JPEG magic", j, n, 3, 0);
    fuzz("damaged baseline JPEG", j, n, 3, 4);
    free(j);
    j = imgt_jpeg_rgb(rgb, 32, 24, 80, 1, &n);
    fuzz("damaged progressive JPEG", j, n, 3, 4);
    free(j);
    for (int i = 0; i < 32 * 24 * 3; i++)
        v[i] = rgb[i];
    rows = imgt_png_pack(v, 32, 24, 3, 8);
    p = imgt_png(rows, 32, 24, &s, &n);
    fuzz("random after PNG signature", p, n, 8, 0);
    fuzz("damaged PNG", p, n, 8, 3);
    free(p);
    free(rows);
    free(rgb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exif_hostile),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hostile_small),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_fuzz),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
