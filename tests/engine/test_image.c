/* test_image.c: what engine/image.c, image_jpeg.c and image_png.c must do
 * with good input: decode every JPEG and PNG flavour (JPEG within a
 * tolerance, PNG exactly), apply EXIF orientations 1..8, encode, save and
 * load files, resize and convert to planar floats. Hostile input is
 * test_image_hostile.c. Every input is made in memory (image_fixtures.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <strings.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "engine/image.h"
#include "tests/engine/image_fixtures.h"

/* ---- sniff and probe ------------------------------------------------------ */

static void test_sniff(void **state)
{
    static const uint8_t png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    static const uint8_t jpg[3] = { 0xFF, 0xD8, 0xFF };
    (void)state;

    assert_int_equal(image_sniff(jpg, 3), IMG_JPEG);
    assert_int_equal(image_sniff(jpg, 2), IMG_UNKNOWN);
    assert_int_equal(image_sniff(png, 8), IMG_PNG);
    assert_int_equal(image_sniff(png, 7), IMG_UNKNOWN);
    assert_int_equal(image_sniff("GIF89a", 6), IMG_UNKNOWN);
    assert_int_equal(image_sniff(NULL, 10), IMG_UNKNOWN);
    assert_int_equal(image_sniff(jpg, 0), IMG_UNKNOWN);
}

static void test_probe(void **state)
{
    uint8_t *rgb = imgt_smooth_rgb(40, 24), hdr[64];
    size_t n;
    uint8_t *j = imgt_jpeg_rgb(rgb, 40, 24, 90, 0, &n);
    ImageInfo info;
    (void)state;

    assert_int_equal(image_probe(j, n, &info), 0);
    assert_int_equal(info.format, IMG_JPEG);
    assert_int_equal(info.w, 40);
    assert_int_equal(info.h, 24);
    assert_int_equal(info.orientation, 1);
    n = imgt_png_header_only(hdr, 60000, 60000);
    assert_int_equal(image_probe(hdr, n, &info), 0);
    assert_int_equal(info.format, IMG_PNG);
    assert_int_equal(info.w, 60000);
    assert_int_equal(info.orientation, 1);
    assert_int_equal(image_probe("nope", 4, &info), IMG_EFORMAT);
    assert_int_equal(image_probe(j, 10, &info), IMG_ECORRUPT);
    assert_int_equal(image_probe(j, n, NULL), IMG_EARG);
    free(j);
    free(rgb);
}

/* ---- JPEG decode ----------------------------------------------------------- */

static void check_jpeg_rgb(const char *what, int quality, int progressive, int tol)
{
    int w = 48, h = 32;
    uint8_t *rgb = imgt_smooth_rgb(w, h);
    size_t n;
    uint8_t *j = imgt_jpeg_rgb(rgb, w, h, quality, progressive, &n);
    Image *img = imgt_decode_ok(j, n);

    assert_int_equal(img->w, w);
    assert_int_equal(img->h, h);
    if (imgt_max_diff(what, rgb, img) > tol)
        fail_msg("%s: decoded pixels off by more than %d", what, tol);
    image_free(img);
    free(j);
    free(rgb);
}

static void test_jpeg_baseline(void **state)
{
    (void)state;
    check_jpeg_rgb("baseline q95", 95, 0, 4);
}

static void test_jpeg_progressive(void **state)
{
    (void)state;
    check_jpeg_rgb("progressive q95", 95, 1, 4);
}

static void test_jpeg_greyscale(void **state)
{
    int w = 33, h = 17;
    uint8_t *g = malloc((size_t)w * h), *want = malloc((size_t)w * h * 3);
    ImgtJpeg s = { 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 95, 0, -1, 0, NULL, 0 };
    size_t n;
    uint8_t *j;
    Image *img;
    (void)state;

    for (int i = 0; i < w * h; i++) {
        g[i] = (uint8_t)(10 + 6 * (i % w) + 3 * (i / w));
        memset(want + 3 * i, g[i], 3);
    }
    j = imgt_jpeg(g, w, h, &s, &n);
    img = imgt_decode_ok(j, n);
    for (int i = 0; i < w * h; i++)
        if (img->px[3 * i] != img->px[3 * i + 1] || img->px[3 * i] != img->px[3 * i + 2])
            fail_msg("grey pixel %d is not grey", i);
    if (imgt_max_diff("greyscale", want, img) > 3)
        fail_msg("greyscale decode off");
    image_free(img);
    free(j);
    free(g);
    free(want);
}

/* CMYK samples c, m, y, k; inverted: Adobe convention (255 = no ink). */
static void check_cmyk(const char *what, J_COLOR_SPACE jcs, int adobe)
{
    int w = 32, h = 16;
    uint8_t *cmyk = malloc((size_t)w * h * 4), *want = malloc((size_t)w * h * 3);
    ImgtJpeg s = { 4, JCS_CMYK, jcs, 100, 0, adobe, 0, NULL, 0 };
    size_t n;
    uint8_t *j;
    Image *img;

    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = cmyk + ((size_t)y * w + x) * 4, *q = want + ((size_t)y * w + x) * 3;

            p[0] = (uint8_t)(x * 8);
            p[1] = (uint8_t)(y * 16);
            p[2] = (uint8_t)(128 + x * 2);
            p[3] = (uint8_t)(255 - y * 6);
            for (int c = 0; c < 3; c++) {
                unsigned v = p[c], k = p[3];

                if (!adobe) {
                    v = 255 - v;
                    k = 255 - k;
                }
                q[c] = (uint8_t)((v * k + 127) / 255);
            }
        }
    j = imgt_jpeg(cmyk, w, h, &s, &n);
    img = imgt_decode_ok(j, n);
    if (imgt_max_diff(what, want, img) > 6)
        fail_msg("%s: CMYK to RGB off by more than 6", what);
    image_free(img);
    free(j);
    free(cmyk);
    free(want);
}

static void test_jpeg_cmyk(void **state)
{
    (void)state;
    check_cmyk("CMYK Adobe (inverted)", JCS_CMYK, 1);
    check_cmyk("CMYK without Adobe marker", JCS_CMYK, 0);
    check_cmyk("YCCK Adobe", JCS_YCCK, 1);
}

/* A progressive greyscale JPEG whose scan script has 1 + 63*(al+1) scans:
 * the DC scan, then each AC coefficient alone, first at bit al and refined
 * down to bit 0. */
static uint8_t *jpeg_many_scans(int al, int *nscans, size_t *n)
{
    static jpeg_scan_info scans[1 + 63 * 11];
    uint8_t g[16 * 16];
    ImgtJpeg s = { 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 90, 0, -1, 0, scans, 0 };
    int k = 0;

    for (int i = 0; i < 256; i++)
        g[i] = (uint8_t)(i * 7);
    scans[k++] = (jpeg_scan_info){ 1, { 0 }, 0, 0, 0, 0 };
    for (int c = 1; c < 64; c++)
        for (int a = al; a >= 0; a--)
            scans[k++] = (jpeg_scan_info){ 1, { 0 }, c, c, a == al ? 0 : a + 1, a };
    s.nscans = k;
    *nscans = k;
    return imgt_jpeg(g, 16, 16, &s, n);
}

static void test_jpeg_scan_limit(void **state)
{
    size_t n;
    int nscans, code;
    char err[256];
    uint8_t *j;
    Image *img;
    (void)state;

    j = jpeg_many_scans(4, &nscans, &n);           /* 316 scans: fine */
    img = imgt_decode_ok(j, n);
    image_free(img);
    free(j);
    j = jpeg_many_scans(10, &nscans, &n);          /* 694 scans: refused */
    img = imgt_decode(j, n, IMGT_MAXPX, &code, err);
    if (img || code != IMG_ECORRUPT)
        fail_msg("a %d-scan JPEG gave code %d", nscans, code);
    assert_non_null(strstr(err, "scans"));
    free(j);
}

/* ---- JPEG encode ---------------------------------------------------------- */

static void test_jpeg_encode(void **state)
{
    int w = 64, h = 40;
    uint8_t *rgb = imgt_smooth_rgb(w, h), *out = NULL, *lo = NULL;
    size_t n, nlo;
    Image src = { w, h, rgb }, bad = { 0, h, rgb }, *img;
    (void)state;

    assert_int_equal(image_encode_jpeg(&src, 95, &out, &n), 0);
    img = imgt_decode_ok(out, n);
    if (imgt_max_diff("our encoder q95", rgb, img) > 4)
        fail_msg("q95 round trip too lossy");
    image_free(img);
    assert_int_equal(image_encode_jpeg(&src, 20, &lo, &nlo), 0);   /* 4:2:0 */
    img = imgt_decode_ok(lo, nlo);
    if (imgt_max_diff("our encoder q20", rgb, img) > 30)
        fail_msg("q20 round trip too lossy");
    image_free(img);
    if (nlo >= n)
        fail_msg("q20 (%zu bytes) not smaller than q95 (%zu bytes)", nlo, n);
    free(out);
    free(lo);
    assert_int_equal(image_encode_jpeg(&src, 1, &out, &n), 0);
    free(out);
    assert_int_equal(image_encode_jpeg(&src, 100, &out, &n), 0);
    free(out);
    assert_int_equal(image_encode_jpeg(&src, 0, &out, &n), IMG_EARG);
    assert_null(out);
    assert_int_equal(image_encode_jpeg(&src, 101, &out, &n), IMG_EARG);
    assert_int_equal(image_encode_jpeg(&bad, 90, &out, &n), IMG_EARG);
    assert_int_equal(image_encode_jpeg(NULL, 90, &out, &n), IMG_EARG);
    assert_int_equal(image_encode_jpeg(&src, 90, NULL, &n), IMG_EARG);
    free(rgb);
}

/* ---- EXIF orientation ----------------------------------------------------- */

/* Decodes plain with an EXIF orientation 1..8 in each byte order and checks
 * every stored pixel landed where the EXIF table puts it. */
static void check_orientations(const uint8_t *plain, size_t n)
{
    size_t en, jn;
    uint8_t exif[64];
    Image *stored = imgt_decode_ok(plain, n);
    int W = stored->w, H = stored->h;

    /* The corners differ, so a wrong transform cannot pass. */
    assert_memory_not_equal(imgt_px(stored, 0, 0), imgt_px(stored, W - 1, 0), 3);
    assert_memory_not_equal(imgt_px(stored, 0, 0), imgt_px(stored, 0, H - 1), 3);
    for (int le = 0; le <= 1; le++)
        for (int o = 1; o <= 8; o++) {
            ImgtExif s = imgt_exif_default(le, (uint32_t)o);
            uint8_t *j;
            ImageInfo info;
            Image *up;

            if (o == 7)
                s.type = 4;      /* LONG instead of SHORT: accepted too */
            en = imgt_exif(exif, &s);
            j = imgt_jpeg_with_app1(plain, n, exif, en, &jn);
            assert_int_equal(image_probe(j, jn, &info), 0);
            assert_int_equal(info.orientation, o);
            assert_int_equal(info.w, W);
            assert_int_equal(info.h, H);
            up = imgt_decode_ok(j, jn);
            assert_int_equal(up->w, o >= 5 ? H : W);
            assert_int_equal(up->h, o >= 5 ? W : H);
            for (int sy = 0; sy < H; sy++)
                for (int sx = 0; sx < W; sx++) {
                    int dx, dy;

                    imgt_exif_forward(o, W, H, sx, sy, &dx, &dy);
                    if (memcmp(imgt_px(up, dx, dy), imgt_px(stored, sx, sy), 3) != 0)
                        fail_msg("%dx%d, orientation %d (%s): stored (%d,%d) not at (%d,%d)",
                                 W, H, o, le ? "II" : "MM", sx, sy, dx, dy);
                }
            image_free(up);
            free(j);
        }
    image_free(stored);
}

static void test_exif_orientations(void **state)
{
    size_t n;
    uint8_t *plain = imgt_jpeg_blocks(&n), *rgb;
    (void)state;

    check_orientations(plain, n);
    free(plain);
    /* Larger than image.c's 64x64 rotation tiles, with partial tiles. */
    rgb = imgt_smooth_rgb(150, 70);
    plain = imgt_jpeg_rgb(rgb, 150, 70, 90, 0, &n);
    check_orientations(plain, n);
    free(plain);
    free(rgb);
}

/* ---- PNG decode ------------------------------------------------------------ */

/* Decodes a PNG of samples v (spp per pixel, `depth` bits) and compares
 * with want, exactly. */
static void check_png(const char *what, const uint16_t *v, int w, int h, int spp,
                      const ImgtPng *s, const uint8_t *want)
{
    uint8_t *rows = imgt_png_pack(v, w, h, spp, s->depth);
    size_t n;
    uint8_t *p = imgt_png(rows, w, h, s, &n);
    Image *img = imgt_decode_ok(p, n);

    assert_int_equal(img->w, w);
    assert_int_equal(img->h, h);
    imgt_expect_exact(what, want, img);
    image_free(img);
    free(p);
    free(rows);
}

static void test_png_grey(void **state)
{
    int w = 13, h = 7;
    uint16_t v[13 * 7];
    uint8_t want[13 * 7 * 3];
    (void)state;

    for (int depth = 1; depth <= 16; depth *= 2)
        for (int interlace = 0; interlace <= 1; interlace++) {
            ImgtPng s = { depth, PNG_COLOR_TYPE_GRAY, interlace, NULL, 0, NULL, 0, NULL };
            uint32_t max = (1u << depth) - 1;
            char what[64];

            for (int i = 0; i < w * h; i++) {
                v[i] = (uint16_t)(imgt_rng() & max);
                memset(want + 3 * i, depth == 16 ? imgt_to8(v[i]) : (int)(v[i] * 255 / max), 3);
            }
            snprintf(what, sizeof what, "grey %d-bit%s", depth, interlace ? " Adam7" : "");
            check_png(what, v, w, h, 1, &s, want);
        }
}

static void test_png_rgb_rgba(void **state)
{
    int w = 17, h = 11;
    uint16_t v[17 * 11 * 4];
    uint8_t want[17 * 11 * 3];
    (void)state;

    for (int depth = 8; depth <= 16; depth += 8)
        for (int alpha = 0; alpha <= 1; alpha++)
            for (int interlace = 0; interlace <= 1; interlace++) {
                int spp = alpha ? 4 : 3;
                ImgtPng s = { depth, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                              interlace, NULL, 0, NULL, 0, NULL };
                char what[64];

                for (int i = 0; i < w * h; i++) {
                    uint8_t a8;

                    for (int c = 0; c < spp; c++)
                        v[i * spp + c] = (uint16_t)(depth == 8 ? imgt_rng() & 255 : imgt_rng() & 0xFFFF);
                    if (i % 5 == 0 && alpha)
                        v[i * spp + 3] = 0;                  /* fully transparent */
                    a8 = !alpha ? 255 : depth == 8 ? (uint8_t)v[i * spp + 3] : imgt_to8(v[i * spp + 3]);
                    for (int c = 0; c < 3; c++) {
                        uint8_t c8 = depth == 8 ? (uint8_t)v[i * spp + c] : imgt_to8(v[i * spp + c]);

                        want[3 * i + c] = imgt_on_white(c8, a8);
                    }
                }
                snprintf(what, sizeof what, "%s %d-bit%s", alpha ? "RGBA" : "RGB", depth,
                         interlace ? " Adam7" : "");
                check_png(what, v, w, h, spp, &s, want);
            }
}

static void test_png_grey_alpha(void **state)
{
    int w = 9, h = 6;
    uint16_t v[9 * 6 * 2];
    uint8_t want[9 * 6 * 3];
    (void)state;

    for (int depth = 8; depth <= 16; depth += 8) {
        ImgtPng s = { depth, PNG_COLOR_TYPE_GRAY_ALPHA, 0, NULL, 0, NULL, 0, NULL };

        for (int i = 0; i < w * h; i++) {
            uint32_t m = depth == 8 ? 255 : 0xFFFF;
            uint8_t g, a;

            v[2 * i] = (uint16_t)(imgt_rng() & m);
            v[2 * i + 1] = (uint16_t)(i == 0 ? 0 : i == 1 ? m : imgt_rng() & m);
            g = depth == 8 ? (uint8_t)v[2 * i] : imgt_to8(v[2 * i]);
            a = depth == 8 ? (uint8_t)v[2 * i + 1] : imgt_to8(v[2 * i + 1]);
            memset(want + 3 * i, imgt_on_white(g, a), 3);
        }
        check_png(depth == 8 ? "grey+alpha 8-bit" : "grey+alpha 16-bit", v, w, h, 2, &s, want);
    }
}

static void test_png_palette(void **state)
{
    int w = 11, h = 5;
    png_color pal[256];
    uint8_t trns[256];
    uint16_t v[11 * 5];
    uint8_t want[11 * 5 * 3];
    (void)state;

    for (int i = 0; i < 256; i++) {
        pal[i] = (png_color){ (png_byte)imgt_rng(), (png_byte)imgt_rng(), (png_byte)imgt_rng() };
        trns[i] = (uint8_t)(i == 0 ? 0 : imgt_rng());
    }
    for (int depth = 1; depth <= 8; depth *= 2)
        for (int with_trns = 0; with_trns <= 1; with_trns++) {
            int npal = 1 << depth, ntrns = npal > 2 ? npal - 1 : 1;   /* short tRNS */
            ImgtPng s = { depth, PNG_COLOR_TYPE_PALETTE, depth == 2, pal, npal,
                          with_trns ? trns : NULL, with_trns ? ntrns : 0, NULL };
            char what[64];

            for (int i = 0; i < w * h; i++) {
                int k = (int)(imgt_rng() % (unsigned)npal);
                int a = with_trns && k < ntrns ? trns[k] : 255;

                v[i] = (uint16_t)k;
                want[3 * i] = imgt_on_white(pal[k].red, (unsigned)a);
                want[3 * i + 1] = imgt_on_white(pal[k].green, (unsigned)a);
                want[3 * i + 2] = imgt_on_white(pal[k].blue, (unsigned)a);
            }
            snprintf(what, sizeof what, "palette %d-bit%s%s", depth,
                     with_trns ? " tRNS" : "", depth == 2 ? " Adam7" : "");
            check_png(what, v, w, h, 1, &s, want);
        }
}

static void test_png_colour_key(void **state)
{
    int w = 8, h = 4;
    uint16_t v[8 * 4 * 3];
    uint8_t want[8 * 4 * 3];
    png_color_16 key = { 0, 10, 20, 30, 0 };
    png_color_16 gkey = { 0, 0, 0, 0, 5 };
    ImgtPng s = { 8, PNG_COLOR_TYPE_RGB, 0, NULL, 0, NULL, 0, &key };
    ImgtPng g = { 4, PNG_COLOR_TYPE_GRAY, 0, NULL, 0, NULL, 0, &gkey };
    (void)state;

    for (int i = 0; i < w * h; i++) {
        int hit = i % 3 == 0;

        v[3 * i] = (uint16_t)(hit ? 10 : i);
        v[3 * i + 1] = (uint16_t)(hit ? 20 : 100 + i);
        v[3 * i + 2] = (uint16_t)(hit ? 30 : 200);
        for (int c = 0; c < 3; c++)
            want[3 * i + c] = hit ? 255 : (uint8_t)v[3 * i + c];
    }
    check_png("RGB with tRNS colour key", v, w, h, 3, &s, want);
    for (int i = 0; i < w * h; i++) {
        v[i] = (uint16_t)(i % 16);
        memset(want + 3 * i, i % 16 == 5 ? 255 : (i % 16) * 17, 3);
    }
    check_png("grey 4-bit with tRNS key", v, w, h, 1, &g, want);
}

static void test_png_encode(void **state)
{
    int w = 37, h = 21;
    uint8_t *px = malloc((size_t)w * h * 3), *out = NULL;
    size_t n;
    Image src = { w, h, px }, *img;
    (void)state;

    for (int i = 0; i < w * h * 3; i++)
        px[i] = (uint8_t)imgt_rng();
    assert_int_equal(image_encode_png(&src, &out, &n), 0);
    assert_true(n > 33);
    assert_int_equal(out[24], 8);              /* bit depth */
    assert_int_equal(out[25], 2);              /* colour type RGB */
    img = imgt_decode_ok(out, n);
    imgt_expect_exact("PNG encode round trip", px, img);
    image_free(img);
    free(out);
    assert_int_equal(image_encode_png(NULL, &out, &n), IMG_EARG);
    assert_int_equal(image_encode_png(&src, NULL, &n), IMG_EARG);
    free(px);
}

/* ---- files ---------------------------------------------------------------- */

static void test_files(void **state)
{
    char dir[] = "/tmp/atelier_test_image_XXXXXX", path[128], err[256];
    uint8_t *rgb = imgt_smooth_rgb(30, 20);
    Image src = { 30, 20, rgb }, *img;
    int code;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.PNG", dir);
    assert_int_equal(image_save_file(&src, path, 0), 0);    /* PNG: quality unused */
    img = image_load_file(path, IMGT_MAXPX, &code, err, sizeof err);
    assert_non_null(img);
    imgt_expect_exact("PNG file round trip", rgb, img);
    image_free(img);
    remove(path);
    snprintf(path, sizeof path, "%s/b.jpeg", dir);
    assert_int_equal(image_save_file(&src, path, 95), 0);
    img = image_load_file(path, IMGT_MAXPX, &code, err, sizeof err);
    assert_non_null(img);
    if (imgt_max_diff("JPEG file round trip", rgb, img) > 4)
        fail_msg("JPEG file round trip too lossy");
    image_free(img);
    remove(path);
    snprintf(path, sizeof path, "%s/c.Jpg", dir);
    assert_int_equal(image_save_file(&src, path, 95), 0);
    remove(path);
    snprintf(path, sizeof path, "%s/d.gif", dir);
    assert_int_equal(image_save_file(&src, path, 90), IMG_EFORMAT);
    snprintf(path, sizeof path, "%s/jpg", dir);
    assert_int_equal(image_save_file(&src, path, 90), IMG_EFORMAT);
    snprintf(path, sizeof path, "%s/no/such/e.png", dir);
    assert_int_equal(image_save_file(&src, path, 90), IMG_EIO);
    assert_int_equal(image_save_file(&src, "x.jpg", 0), IMG_EARG);
    assert_null(image_load_file(path, IMGT_MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EIO);
    assert_non_null(strstr(err, "no/such"));
    assert_null(image_load_file(NULL, IMGT_MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EARG);
    assert_null(image_load_file(dir, IMGT_MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EIO);
    snprintf(path, sizeof path, "%s/empty.png", dir);
    fclose(fopen(path, "wb"));
    assert_null(image_load_file(path, IMGT_MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EFORMAT);
    remove(path);
    assert_int_equal(rmdir(dir), 0);
    free(rgb);
}

/* Every photo and painting in ../shared/data (relative to the repo root,
 * where the tests run) decodes: the strict policy on damaged JPEGs must not
 * refuse real files. Skipped when the folder is absent. */
static void test_shared_images(void **state)
{
    static const char *dirs[] = { "../shared/data/content", "../shared/data/style" };
    int found = 0;
    (void)state;

    for (size_t k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
        DIR *d = opendir(dirs[k]);
        struct dirent *e;

        if (!d)
            continue;
        while ((e = readdir(d)) != NULL) {
            const char *dot = strrchr(e->d_name, '.');
            char path[512], err[256];
            int code;
            Image *img;

            if (!dot || (strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg") &&
                         strcasecmp(dot, ".png")))
                continue;
            snprintf(path, sizeof path, "%s/%s", dirs[k], e->d_name);
            img = image_load_file(path, IMGT_MAXPX, &code, err, sizeof err);
            if (!img)
                fail_msg("%s: code %d: %s", path, code, err);
            assert_true(img->w > 0 && img->h > 0);
            image_free(img);
            found++;
        }
        closedir(d);
    }
    if (!found) {
        print_message("no images under ../shared/data: skipped\n");
        skip();
    }
    print_message("decoded %d images from ../shared/data\n", found);
}

/* ---- resize --------------------------------------------------------------- */

static Image *random_image(int w, int h)
{
    Image *img = image_new(w, h);

    assert_non_null(img);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        img->px[i] = (uint8_t)imgt_rng();
    return img;
}

static void test_resize_constant(void **state)
{
    static const int sizes[][4] = {
        { 64, 48, 32, 24 }, { 100, 70, 33, 91 }, { 7, 5, 50, 3 }, { 1, 1, 9, 4 },
        { 31, 17, 31, 17 }, { 1000, 3, 1, 1 }, { 5, 900, 17, 7 }, { 3, 3, 200, 1 },
    };
    (void)state;

    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        Image *src = image_new(sizes[t][0], sizes[t][1]), *dst;

        for (size_t i = 0; i < (size_t)src->w * src->h; i++) {
            src->px[3 * i] = 201;
            src->px[3 * i + 1] = 0;
            src->px[3 * i + 2] = 255;
        }
        dst = image_resize(src, sizes[t][2], sizes[t][3]);
        assert_non_null(dst);
        assert_int_equal(dst->w, sizes[t][2]);
        assert_int_equal(dst->h, sizes[t][3]);
        for (size_t i = 0; i < (size_t)dst->w * dst->h; i++)
            if (dst->px[3 * i] != 201 || dst->px[3 * i + 1] != 0 || dst->px[3 * i + 2] != 255)
                fail_msg("%dx%d -> %dx%d: pixel %zu is %d,%d,%d", sizes[t][0], sizes[t][1],
                         sizes[t][2], sizes[t][3], i, dst->px[3 * i], dst->px[3 * i + 1],
                         dst->px[3 * i + 2]);
        image_free(src);
        image_free(dst);
    }
}

/* Shrinking by an integer factor f is the rounded mean of f x f blocks. */
static void check_box(int f, int w, int h)
{
    Image *src = random_image(w * f, h * f), *dst = image_resize(src, w, h);

    assert_non_null(dst);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int sum = 0, n = f * f, want, got = imgt_px(dst, x, y)[c];

                for (int dy = 0; dy < f; dy++)
                    for (int dx = 0; dx < f; dx++)
                        sum += imgt_px(src, x * f + dx, y * f + dy)[c];
                want = (2 * sum + n) / (2 * n);
                if (got != want)
                    fail_msg("box %dx: pixel (%d,%d) channel %d is %d, want %d", f, x, y, c,
                             got, want);
            }
    image_free(src);
    image_free(dst);
}

static void test_resize_box(void **state)
{
    (void)state;
    check_box(2, 32, 24);
    check_box(3, 10, 7);
    check_box(5, 4, 4);
}

static void test_resize_bilinear_and_mixed(void **state)
{
    Image *src = image_new(2, 1), *dst, *mixed;
    static const uint8_t want[4] = { 0, 64, 191, 255 };
    (void)state;

    memset(src->px + 3, 255, 3);
    dst = image_resize(src, 4, 1);
    for (int x = 0; x < 4; x++)
        if (imgt_px(dst, x, 0)[0] != want[x])
            fail_msg("bilinear 2->4: x=%d is %d, want %d", x, imgt_px(dst, x, 0)[0], want[x]);
    image_free(dst);
    image_free(src);

    /* 4x2 -> 2x4: columns are boxed in pairs, rows interpolated. */
    src = image_new(4, 2);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++)
            memset(src->px + (y * 4 + x) * 3, y * 100 + x * 10, 3);
    mixed = image_resize(src, 2, 4);
    assert_non_null(mixed);
    {
        /* row centres map to y = -0.25, 0.25, 0.75, 1.25 (clamped). */
        static const int rows[4][2] = { { 5, 25 }, { 30, 50 }, { 80, 100 }, { 105, 125 } };

        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 2; x++)
                if (imgt_px(mixed, x, y)[1] != rows[y][x])
                    fail_msg("mixed: (%d,%d) is %d, want %d", x, y, imgt_px(mixed, x, y)[1],
                             rows[y][x]);
    }
    image_free(mixed);
    dst = image_resize(src, 4, 2);
    imgt_expect_exact("identity resize", src->px, dst);
    image_free(dst);
    assert_null(image_resize(src, 0, 4));
    assert_null(image_resize(src, 4, 70000));
    assert_null(image_resize(NULL, 4, 4));
    image_free(src);
}

/* ---- planar --------------------------------------------------------------- */

static void test_planar(void **state)
{
    Image *img = random_image(3, 2), *back = image_new(3, 2);
    float f[18];
    static const float in[9] = { -5.0f, 300.0f, NAN, INFINITY, -INFINITY,
                                 0.49999997f, 0.5f, 2.5f, 254.5f };
    static const uint8_t out[9] = { 0, 255, 0, 255, 0, 0, 1, 3, 255 };
    (void)state;

    image_to_planar(img, f);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                assert_true(f[c * 6 + y * 3 + x] == (float)imgt_px(img, x, y)[c]);
    image_from_planar(back, f);
    imgt_expect_exact("planar round trip", img->px, back);

    for (int i = 0; i < 18; i++)
        f[i] = 100.0f;
    for (int i = 0; i < 9; i++)
        f[i] = in[i];
    f[9] = 127.4f;
    f[10] = 127.6f;
    f[11] = 1e30f;
    image_from_planar(back, f);
    for (int i = 0; i < 9; i++) {
        /* sample i of plane 0 is pixel i%6's red for i < 6, then plane 1 */
        int got = i < 6 ? back->px[3 * i] : back->px[3 * (i - 6) + 1];

        if (got != out[i])
            fail_msg("from_planar(%g) = %d, want %d", (double)in[i], got, out[i]);
    }
    assert_int_equal(back->px[3 * 3 + 1], 127);
    assert_int_equal(back->px[3 * 4 + 1], 128);
    assert_int_equal(back->px[3 * 5 + 1], 255);
    image_free(img);
    image_free(back);
}

static void test_new_free(void **state)
{
    Image *img = image_new(5, 4);
    (void)state;

    assert_non_null(img);
    for (int i = 0; i < 5 * 4 * 3; i++)
        assert_int_equal(img->px[i], 0);
    image_free(img);
    image_free(NULL);
    assert_null(image_new(0, 4));
    assert_null(image_new(4, -1));
    assert_null(image_new(65536, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_jpeg_baseline),
        cmocka_unit_test(test_jpeg_progressive),
        cmocka_unit_test(test_jpeg_greyscale),
        cmocka_unit_test(test_jpeg_cmyk),
        cmocka_unit_test(test_jpeg_scan_limit),
        cmocka_unit_test(test_jpeg_encode),
        cmocka_unit_test(test_exif_orientations),
        cmocka_unit_test(test_png_grey),
        cmocka_unit_test(test_png_rgb_rgba),
        cmocka_unit_test(test_png_grey_alpha),
        cmocka_unit_test(test_png_palette),
        cmocka_unit_test(test_png_colour_key),
        cmocka_unit_test(test_png_encode),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_shared_images),
        cmocka_unit_test(test_resize_constant),
        cmocka_unit_test(test_resize_box),
        cmocka_unit_test(test_resize_bilinear_and_mixed),
        cmocka_unit_test(test_planar),
        cmocka_unit_test(test_new_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
