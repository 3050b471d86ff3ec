/* test_image.c: tests of engine/image.c, image_jpeg.c and image_png.c.
 *
 * Every input is made here, in memory: JPEGs with libjpeg (baseline,
 * progressive, greyscale, CMYK, YCCK, long scan scripts), PNGs with libpng
 * (every bit depth and colour type, palette, tRNS, Adam7), EXIF segments by
 * hand in both byte orders. Hostile inputs are truncations at every length,
 * random and mutated bytes (seeded), and lying headers; each buffer is
 * malloc'd at its exact size so AddressSanitizer sees any overread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>

#include "engine/image.h"
#include "engine/image_codec.h"

#define MAXPX ((int64_t)40000000)

/* ---- helpers -------------------------------------------------------------- */

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);

    assert_non_null(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

/* Decodes p[0..n) from an exact-size copy. */
static Image *decode(const uint8_t *p, size_t n, int64_t max, int *code, char *err)
{
    uint8_t *q = dup_exact(p, n);
    Image *img = image_decode(q, n, max, code, err, 256);

    free(q);
    return img;
}

static Image *decode_ok(const uint8_t *p, size_t n)
{
    char err[256];
    int code = 99;
    Image *img = decode(p, n, MAXPX, &code, err);

    if (!img)
        fail_msg("decode failed: code %d: %s", code, err);
    assert_int_equal(code, 0);
    return img;
}

static const uint8_t *px_at(const Image *img, int x, int y)
{
    return img->px + ((size_t)y * img->w + x) * 3;
}

/* Largest |a-b| over all samples; prints where it happens. */
static int max_diff(const char *what, const uint8_t *want, const Image *got)
{
    int worst = 0, at = 0;

    for (size_t i = 0; i < (size_t)got->w * got->h * 3; i++) {
        int d = abs((int)want[i] - (int)got->px[i]);

        if (d > worst) {
            worst = d;
            at = (int)i;
        }
    }
    if (worst)
        print_message("%s: max diff %d at sample %d (want %d got %d)\n", what,
                      worst, at, want[at], got->px[at]);
    return worst;
}

static void expect_exact(const char *what, const uint8_t *want, const Image *got)
{
    if (max_diff(what, want, got) != 0)
        fail_msg("%s: pixels differ", what);
}

typedef struct Buf {
    uint8_t *p;
    size_t len, cap;
} Buf;

static void buf_put(Buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* ---- JPEG maker ----------------------------------------------------------- */

typedef struct JpegSpec {
    int comps;                   /* 1, 3 or 4 */
    J_COLOR_SPACE in_cs, jpeg_cs;
    int quality;
    int progressive;
    int adobe;                   /* -1 libjpeg's default, else force */
    int subsample;               /* 0: 4:4:4, 1: libjpeg default */
    const jpeg_scan_info *scans;
    int nscans;
} JpegSpec;

static uint8_t *jpeg_make(const uint8_t *px, int w, int h, const JpegSpec *s, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL;
    unsigned long outlen = 0;

    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = s->comps;
    c.in_color_space = s->in_cs;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, s->jpeg_cs);
    if (s->adobe >= 0)
        c.write_Adobe_marker = (boolean)s->adobe;
    jpeg_set_quality(&c, s->quality, TRUE);
    if (!s->subsample)
        for (int i = 0; i < c.num_components; i++)
            c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    if (s->progressive)
        jpeg_simple_progression(&c);
    if (s->scans) {
        c.scan_info = s->scans;
        c.num_scans = s->nscans;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * s->comps);

        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = outlen;
    return out;
}

static uint8_t *jpeg_rgb(const uint8_t *px, int w, int h, int quality, int progressive,
                         size_t *len)
{
    JpegSpec s = { 3, JCS_RGB, JCS_YCbCr, quality, progressive, -1, 0, NULL, 0 };

    return jpeg_make(px, w, h, &s, len);
}

/* A smooth, asymmetric RGB test picture (JPEG keeps it well). */
static uint8_t *smooth_rgb(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);

    assert_non_null(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;

            p[0] = (uint8_t)(20 + 200 * x / (w - 1));
            p[1] = (uint8_t)(30 + 180 * y / (h - 1));
            p[2] = (uint8_t)(120 + 60 * (x + y) / (w + h - 2));
        }
    return px;
}

/* Offset of the SOFn marker (FF C0..C2) of a JPEG we made, or 0. */
static size_t jpeg_sof(const uint8_t *p, size_t n)
{
    for (size_t i = 2; i + 9 < n; i++)
        if (p[i] == 0xFF && p[i + 1] >= 0xC0 && p[i + 1] <= 0xC2)
            return i;
    return 0;
}

static void jpeg_set_size(uint8_t *p, size_t n, unsigned w, unsigned h)
{
    size_t s = jpeg_sof(p, n);

    assert_true(s > 0);
    p[s + 5] = (uint8_t)(h >> 8);
    p[s + 6] = (uint8_t)h;
    p[s + 7] = (uint8_t)(w >> 8);
    p[s + 8] = (uint8_t)w;
}

/* SOI, then an APP1 segment holding payload, then the rest of jpeg. */
static uint8_t *jpeg_with_app1(const uint8_t *jpeg, size_t len, const uint8_t *payload,
                               size_t plen, size_t *outlen)
{
    Buf b = { 0 };
    uint8_t hdr[4] = { 0xFF, 0xE1, (uint8_t)((plen + 2) >> 8), (uint8_t)(plen + 2) };

    buf_put(&b, jpeg, 2);
    buf_put(&b, hdr, 4);
    buf_put(&b, payload, plen);
    buf_put(&b, jpeg + 2, len - 2);
    *outlen = b.len;
    return b.p;
}

/* ---- EXIF maker ------------------------------------------------------------
 * "Exif\0\0", TIFF header, IFD0 at 8 with two entries (Make, Orientation),
 * next-IFD link. 44 bytes; the Orientation entry ends at byte 40. */
typedef struct ExifSpec {
    int le;
    uint32_t orientation, type, count;
    uint32_t ifd0, next_ifd;
    uint16_t entries, magic;
} ExifSpec;

static void put16(uint8_t *p, uint32_t v, int le)
{
    p[le ? 0 : 1] = (uint8_t)v;
    p[le ? 1 : 0] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v, int le)
{
    put16(p + (le ? 0 : 2), v & 0xFFFF, le);
    put16(p + (le ? 2 : 0), v >> 16, le);
}

static ExifSpec exif_default(int le, uint32_t orientation)
{
    ExifSpec s = { le, orientation, 3, 1, 8, 0, 2, 42 };

    return s;
}

static size_t exif_make(uint8_t *p, const ExifSpec *s)
{
    uint8_t *t = p + 6, *e;

    memcpy(p, "Exif\0\0", 6);
    memcpy(t, s->le ? "II" : "MM", 2);
    put16(t + 2, s->magic, s->le);
    put32(t + 4, s->ifd0, s->le);
    put16(t + 8, s->entries, s->le);
    e = t + 10;
    put16(e, 0x010F, s->le);             /* Make, ASCII "Cam" inline */
    put16(e + 2, 2, s->le);
    put32(e + 4, 4, s->le);
    memcpy(e + 8, "Cam", 4);
    e += 12;
    put16(e, 0x0112, s->le);
    put16(e + 2, s->type, s->le);
    put32(e + 4, s->count, s->le);
    memset(e + 8, 0, 4);
    if (s->type == 4)
        put32(e + 8, s->orientation, s->le);
    else
        put16(e + 8, s->orientation, s->le);
    put32(e + 12, s->next_ifd, s->le);
    return 44;
}

/* ---- PNG maker ------------------------------------------------------------ */

static void png_put(png_structp png, png_bytep d, size_t n)
{
    buf_put(png_get_io_ptr(png), d, n);
}

typedef struct PngSpec {
    int depth, ctype, interlace;
    const png_color *pal;
    int npal;
    const uint8_t *trns;         /* palette alphas */
    int ntrns;
    const png_color_16 *key;     /* grey or RGB colour key */
} PngSpec;

/* rows: h rows of PNG-format samples (packed bits, 16-bit big-endian). */
static uint8_t *png_make(const uint8_t *rows, int w, int h, const PngSpec *s, size_t *len)
{
    Buf b = { 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rp = malloc((size_t)h * sizeof *rp);
    size_t rowbytes;

    assert_non_null(rp);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not write the test PNG");
    png_set_write_fn(png, &b, png_put, NULL);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, s->depth, s->ctype,
                 s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->pal)
        png_set_PLTE(png, info, s->pal, s->npal);
    if (s->trns || s->key)
        png_set_tRNS(png, info, s->trns, s->ntrns, s->key);
    png_write_info(png, info);
    rowbytes = png_get_rowbytes(png, info);
    for (int y = 0; y < h; y++)
        rp[y] = (png_bytep)rows + (size_t)y * rowbytes;
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rp);
    *len = b.len;
    return b.p;
}

/* Packs w*h samples of `depth` bits (1..16) into PNG rows. */
static uint8_t *png_pack(const uint16_t *v, int w, int h, int spp, int depth)
{
    size_t rowbytes = ((size_t)w * spp * depth + 7) / 8;
    uint8_t *rows = calloc((size_t)h * rowbytes, 1);

    assert_non_null(rows);
    for (int y = 0; y < h; y++)
        for (int i = 0; i < w * spp; i++) {
            uint16_t s = v[(size_t)y * w * spp + i];
            uint8_t *r = rows + (size_t)y * rowbytes;

            if (depth == 16) {
                r[2 * i] = (uint8_t)(s >> 8);
                r[2 * i + 1] = (uint8_t)s;
            } else if (depth == 8) {
                r[i] = (uint8_t)s;
            } else {
                int bit = i * depth;

                r[bit / 8] |= (uint8_t)(s << (8 - depth - bit % 8));
            }
        }
    return rows;
}

static uint8_t to8(uint32_t v16)
{
    return (uint8_t)((v16 * 255 + 32767) / 65535);
}

static uint8_t on_white(uint32_t c, uint32_t a)
{
    return (uint8_t)((c * a + 255 * (255 - a) + 127) / 255);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Signature and an IHDR (valid CRC) claiming w x h RGB, then IEND. */
static size_t png_header_only(uint8_t *p, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

    memcpy(p, sig, 8);
    be32_put(p + 8, 13);
    memcpy(p + 12, "IHDR", 4);
    be32_put(p + 16, w);
    be32_put(p + 20, h);
    p[24] = 8;
    p[25] = 2;
    p[26] = p[27] = p[28] = 0;
    be32_put(p + 29, crc32_of(p + 12, 17));
    be32_put(p + 33, 0);
    memcpy(p + 37, "IEND", 4);
    be32_put(p + 41, crc32_of(p + 37, 4));
    return 45;
}

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
    uint8_t *rgb = smooth_rgb(40, 24), hdr[64];
    size_t n;
    uint8_t *j = jpeg_rgb(rgb, 40, 24, 90, 0, &n);
    ImageInfo info;
    (void)state;

    assert_int_equal(image_probe(j, n, &info), 0);
    assert_int_equal(info.format, IMG_JPEG);
    assert_int_equal(info.w, 40);
    assert_int_equal(info.h, 24);
    assert_int_equal(info.orientation, 1);
    n = png_header_only(hdr, 60000, 60000);
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

/* ---- JPEG decode ---------------------------------------------------------- */

static void check_jpeg_rgb(const char *what, int quality, int progressive, int tol)
{
    int w = 48, h = 32;
    uint8_t *rgb = smooth_rgb(w, h);
    size_t n;
    uint8_t *j = jpeg_rgb(rgb, w, h, quality, progressive, &n);
    Image *img = decode_ok(j, n);

    assert_int_equal(img->w, w);
    assert_int_equal(img->h, h);
    if (max_diff(what, rgb, img) > tol)
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
    JpegSpec s = { 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 95, 0, -1, 0, NULL, 0 };
    size_t n;
    uint8_t *j;
    Image *img;
    (void)state;

    for (int i = 0; i < w * h; i++) {
        g[i] = (uint8_t)(10 + 6 * (i % w) + 3 * (i / w));
        memset(want + 3 * i, g[i], 3);
    }
    j = jpeg_make(g, w, h, &s, &n);
    img = decode_ok(j, n);
    for (int i = 0; i < w * h; i++)
        if (img->px[3 * i] != img->px[3 * i + 1] || img->px[3 * i] != img->px[3 * i + 2])
            fail_msg("grey pixel %d is not grey", i);
    if (max_diff("greyscale", want, img) > 3)
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
    JpegSpec s = { 4, JCS_CMYK, jcs, 100, 0, adobe, 0, NULL, 0 };
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
    j = jpeg_make(cmyk, w, h, &s, &n);
    img = decode_ok(j, n);
    if (max_diff(what, want, img) > 6)
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
    JpegSpec s = { 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 90, 0, -1, 0, scans, 0 };
    int k = 0;

    for (int i = 0; i < 256; i++)
        g[i] = (uint8_t)(i * 7);
    scans[k++] = (jpeg_scan_info){ 1, { 0 }, 0, 0, 0, 0 };
    for (int c = 1; c < 64; c++)
        for (int a = al; a >= 0; a--)
            scans[k++] = (jpeg_scan_info){ 1, { 0 }, c, c, a == al ? 0 : a + 1, a };
    s.nscans = k;
    *nscans = k;
    return jpeg_make(g, 16, 16, &s, n);
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
    img = decode_ok(j, n);
    image_free(img);
    free(j);
    j = jpeg_many_scans(10, &nscans, &n);          /* 694 scans: refused */
    img = decode(j, n, MAXPX, &code, err);
    if (img || code != IMG_ECORRUPT)
        fail_msg("a %d-scan JPEG gave code %d", nscans, code);
    assert_non_null(strstr(err, "scans"));
    free(j);
}

/* ---- JPEG encode ---------------------------------------------------------- */

static void test_jpeg_encode(void **state)
{
    int w = 64, h = 40;
    uint8_t *rgb = smooth_rgb(w, h), *out = NULL, *lo = NULL;
    size_t n, nlo;
    Image src = { w, h, rgb }, bad = { 0, h, rgb }, *img;
    (void)state;

    assert_int_equal(image_encode_jpeg(&src, 95, &out, &n), 0);
    img = decode_ok(out, n);
    if (max_diff("our encoder q95", rgb, img) > 4)
        fail_msg("q95 round trip too lossy");
    image_free(img);
    assert_int_equal(image_encode_jpeg(&src, 20, &lo, &nlo), 0);   /* 4:2:0 */
    img = decode_ok(lo, nlo);
    if (max_diff("our encoder q20", rgb, img) > 30)
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

/* A 24x16 picture of six flat 8x8 blocks, all different colours, so every
 * flip and rotation of it is different. */
static uint8_t *jpeg_blocks(size_t *n)
{
    static const uint8_t col[6][3] = {
        { 250, 10, 10 }, { 10, 250, 10 }, { 10, 10, 250 },
        { 250, 250, 10 }, { 10, 250, 250 }, { 128, 128, 128 },
    };
    uint8_t px[24 * 16 * 3];

    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 24; x++)
            memcpy(px + (y * 24 + x) * 3, col[(y / 8) * 3 + x / 8], 3);
    return jpeg_rgb(px, 24, 16, 100, 0, n);
}

/* Where stored pixel (sx, sy) of a W x H image lands when displayed with
 * orientation o (the EXIF table, written forwards; image.c maps backwards). */
static void exif_forward(int o, int W, int H, int sx, int sy, int *dx, int *dy)
{
    switch (o) {
    case 1: *dx = sx;         *dy = sy;         break;
    case 2: *dx = W - 1 - sx; *dy = sy;         break;
    case 3: *dx = W - 1 - sx; *dy = H - 1 - sy; break;
    case 4: *dx = sx;         *dy = H - 1 - sy; break;
    case 5: *dx = sy;         *dy = sx;         break;
    case 6: *dx = H - 1 - sy; *dy = sx;         break;
    case 7: *dx = H - 1 - sy; *dy = W - 1 - sx; break;
    default: *dx = sy;        *dy = W - 1 - sx; break;
    }
}

static void test_exif_orientations(void **state)
{
    size_t n, en, jn;
    uint8_t *plain = jpeg_blocks(&n), exif[64];
    Image *stored = decode_ok(plain, n);
    (void)state;

    /* The blocks' corners differ, so a wrong transform cannot pass. */
    assert_memory_not_equal(px_at(stored, 0, 0), px_at(stored, 23, 0), 3);
    assert_memory_not_equal(px_at(stored, 0, 0), px_at(stored, 0, 15), 3);
    for (int le = 0; le <= 1; le++)
        for (int o = 1; o <= 8; o++) {
            ExifSpec s = exif_default(le, (uint32_t)o);
            uint8_t *j;
            ImageInfo info;
            Image *up;

            if (o == 7)
                s.type = 4;      /* LONG instead of SHORT: accepted too */
            en = exif_make(exif, &s);
            j = jpeg_with_app1(plain, n, exif, en, &jn);
            assert_int_equal(image_probe(j, jn, &info), 0);
            assert_int_equal(info.orientation, o);
            assert_int_equal(info.w, 24);
            assert_int_equal(info.h, 16);
            up = decode_ok(j, jn);
            assert_int_equal(up->w, o >= 5 ? 16 : 24);
            assert_int_equal(up->h, o >= 5 ? 24 : 16);
            for (int sy = 0; sy < 16; sy++)
                for (int sx = 0; sx < 24; sx++) {
                    int dx, dy;

                    exif_forward(o, 24, 16, sx, sy, &dx, &dy);
                    if (memcmp(px_at(up, dx, dy), px_at(stored, sx, sy), 3) != 0)
                        fail_msg("orientation %d (%s): stored (%d,%d) not at (%d,%d)",
                                 o, le ? "II" : "MM", sx, sy, dx, dy);
                }
            image_free(up);
            free(j);
        }
    image_free(stored);
    free(plain);
}

static int probe_orientation(const uint8_t *plain, size_t n, const uint8_t *exif, size_t en)
{
    size_t jn;
    uint8_t *j = jpeg_with_app1(plain, n, exif, en, &jn);
    ImageInfo info;
    Image *img;

    assert_int_equal(image_probe(j, jn, &info), 0);
    img = decode_ok(j, jn);
    assert_int_equal(img->w, info.orientation >= 5 ? 16 : 24);
    image_free(img);
    free(j);
    return info.orientation;
}

static void test_exif_hostile(void **state)
{
    size_t n, en;
    uint8_t *plain = jpeg_blocks(&n), exif[64];
    ExifSpec s;
    (void)state;

    for (int le = 0; le <= 1; le++) {
        s = exif_default(le, 6);
        s.ifd0 = 0xFFFFFFF0u;                      /* IFD0 out of bounds */
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s.ifd0 = 40;                               /* count field past the end */
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s.ifd0 = 4;                                /* inside the TIFF header */
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = exif_default(le, 6);
        s.next_ifd = 8;                            /* IFD chain loops on itself */
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 6);
        s.entries = 0xFFFF;                        /* more entries than bytes */
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 6);
        s = exif_default(le, 9);                   /* out of range */
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = exif_default(le, 0);
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = exif_default(le, 6);
        s.type = 2;                                /* ASCII */
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = exif_default(le, 6);
        s.count = 0x40000000u;                     /* a huge array */
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
        s = exif_default(le, 6);
        s.magic = 43;
        en = exif_make(exif, &s);
        assert_int_equal(probe_orientation(plain, n, exif, en), 1);
    }
    s = exif_default(1, 6);
    en = exif_make(exif, &s);
    exif[6] = 'M';                                 /* "MI": no byte order */
    assert_int_equal(probe_orientation(plain, n, exif, en), 1);

    /* Every prefix of a good payload, each in an exact-size buffer. */
    s = exif_default(0, 6);
    en = exif_make(exif, &s);
    for (size_t len = 0; len <= en; len++) {
        uint8_t *q = dup_exact(exif, len);
        int o = image_exif_orientation(q, len);

        free(q);
        if (o != (len >= 40 ? 6 : 1))
            fail_msg("EXIF prefix of %zu bytes gave orientation %d", len, o);
    }
    /* Random damage never reads outside or returns nonsense. */
    for (int it = 0; it < 5000; it++) {
        uint8_t *q;
        int o;

        en = exif_make(exif, &s);
        for (int k = 0; k < 3; k++)
            exif[6 + rng() % (en - 6)] = (uint8_t)rng();
        q = dup_exact(exif, en);
        o = image_exif_orientation(q, en);
        free(q);
        assert_in_range(o, 1, 8);
    }
    /* An APP1 segment whose length runs past the end of the file. */
    {
        size_t jn;
        uint8_t *j = jpeg_with_app1(plain, n, exif, en, &jn);
        int code;
        char err[256];

        j[4] = 0xFF;
        j[5] = 0xF0;
        assert_null(decode(j, jn, MAXPX, &code, err));
        assert_int_equal(code, IMG_ECORRUPT);
        free(j);
    }
    free(plain);
}

/* ---- PNG decode ----------------------------------------------------------- */

/* Decodes a PNG of samples v (spp per pixel, `depth` bits) and compares
 * with want, exactly. */
static void check_png(const char *what, const uint16_t *v, int w, int h, int spp,
                      const PngSpec *s, const uint8_t *want)
{
    uint8_t *rows = png_pack(v, w, h, spp, s->depth);
    size_t n;
    uint8_t *p = png_make(rows, w, h, s, &n);
    Image *img = decode_ok(p, n);

    assert_int_equal(img->w, w);
    assert_int_equal(img->h, h);
    expect_exact(what, want, img);
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
            PngSpec s = { depth, PNG_COLOR_TYPE_GRAY, interlace, NULL, 0, NULL, 0, NULL };
            uint32_t max = (1u << depth) - 1;
            char what[64];

            for (int i = 0; i < w * h; i++) {
                v[i] = (uint16_t)(rng() & max);
                memset(want + 3 * i, depth == 16 ? to8(v[i]) : (int)(v[i] * 255 / max), 3);
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
                PngSpec s = { depth, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                              interlace, NULL, 0, NULL, 0, NULL };
                char what[64];

                for (int i = 0; i < w * h; i++) {
                    uint8_t a8;

                    for (int c = 0; c < spp; c++)
                        v[i * spp + c] = (uint16_t)(depth == 8 ? rng() & 255 : rng() & 0xFFFF);
                    if (i % 5 == 0 && alpha)
                        v[i * spp + 3] = 0;                  /* fully transparent */
                    a8 = !alpha ? 255 : depth == 8 ? (uint8_t)v[i * spp + 3] : to8(v[i * spp + 3]);
                    for (int c = 0; c < 3; c++) {
                        uint8_t c8 = depth == 8 ? (uint8_t)v[i * spp + c] : to8(v[i * spp + c]);

                        want[3 * i + c] = on_white(c8, a8);
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
        PngSpec s = { depth, PNG_COLOR_TYPE_GRAY_ALPHA, 0, NULL, 0, NULL, 0, NULL };

        for (int i = 0; i < w * h; i++) {
            uint32_t m = depth == 8 ? 255 : 0xFFFF;
            uint8_t g, a;

            v[2 * i] = (uint16_t)(rng() & m);
            v[2 * i + 1] = (uint16_t)(i == 0 ? 0 : i == 1 ? m : rng() & m);
            g = depth == 8 ? (uint8_t)v[2 * i] : to8(v[2 * i]);
            a = depth == 8 ? (uint8_t)v[2 * i + 1] : to8(v[2 * i + 1]);
            memset(want + 3 * i, on_white(g, a), 3);
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
        pal[i] = (png_color){ (png_byte)rng(), (png_byte)rng(), (png_byte)rng() };
        trns[i] = (uint8_t)(i == 0 ? 0 : rng());
    }
    for (int depth = 1; depth <= 8; depth *= 2)
        for (int with_trns = 0; with_trns <= 1; with_trns++) {
            int npal = 1 << depth, ntrns = npal > 2 ? npal - 1 : 1;   /* short tRNS */
            PngSpec s = { depth, PNG_COLOR_TYPE_PALETTE, depth == 2, pal, npal,
                          with_trns ? trns : NULL, with_trns ? ntrns : 0, NULL };
            char what[64];

            for (int i = 0; i < w * h; i++) {
                int k = (int)(rng() % (unsigned)npal);
                int a = with_trns && k < ntrns ? trns[k] : 255;

                v[i] = (uint16_t)k;
                want[3 * i] = on_white(pal[k].red, (unsigned)a);
                want[3 * i + 1] = on_white(pal[k].green, (unsigned)a);
                want[3 * i + 2] = on_white(pal[k].blue, (unsigned)a);
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
    PngSpec s = { 8, PNG_COLOR_TYPE_RGB, 0, NULL, 0, NULL, 0, &key };
    PngSpec g = { 4, PNG_COLOR_TYPE_GRAY, 0, NULL, 0, NULL, 0, &gkey };
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
        px[i] = (uint8_t)rng();
    assert_int_equal(image_encode_png(&src, &out, &n), 0);
    assert_true(n > 33);
    assert_int_equal(out[24], 8);              /* bit depth */
    assert_int_equal(out[25], 2);              /* colour type RGB */
    img = decode_ok(out, n);
    expect_exact("PNG encode round trip", px, img);
    image_free(img);
    free(out);
    assert_int_equal(image_encode_png(NULL, &out, &n), IMG_EARG);
    assert_int_equal(image_encode_png(&src, NULL, &n), IMG_EARG);
    free(px);
}

/* ---- limits and hostile input --------------------------------------------- */

static void expect_fail(const char *what, const uint8_t *p, size_t n, int64_t max, int want)
{
    char err[256];
    int code = 0;
    Image *img = decode(p, n, max, &code, err);

    if (img || code != want)
        fail_msg("%s: got code %d (%s), want %d", what, code, img ? "decoded" : err, want);
    if (!err[0])
        fail_msg("%s: no error message", what);
}

static void test_limits(void **state)
{
    uint8_t hdr[64], *rgb = smooth_rgb(64, 48), *j;
    size_t n, jn;
    char err[256];
    int code;
    Image *img;
    (void)state;

    n = png_header_only(hdr, 60000, 60000);
    expect_fail("PNG 60000x60000", hdr, n, MAXPX, IMG_ETOOLARGE);
    decode(hdr, n, MAXPX, &code, err);
    assert_string_equal(err, "image is 60000x60000, more than the 40000000 pixel limit");
    n = png_header_only(hdr, 100000, 1);
    expect_fail("PNG 100000 wide", hdr, n, MAXPX, IMG_ETOOLARGE);
    n = png_header_only(hdr, 0, 0);
    expect_fail("PNG 0x0", hdr, n, MAXPX, IMG_ECORRUPT);
    n = png_header_only(hdr, 10, 0);
    expect_fail("PNG 10x0", hdr, n, MAXPX, IMG_ECORRUPT);

    j = jpeg_rgb(rgb, 64, 48, 90, 0, &jn);
    img = decode(j, jn, 64 * 48, &code, err);       /* exactly at the limit */
    assert_non_null(img);
    image_free(img);
    expect_fail("JPEG one pixel over", j, jn, 64 * 48 - 1, IMG_ETOOLARGE);
    decode(j, jn, 64 * 48 - 1, &code, err);
    assert_string_equal(err, "image is 64x48, more than the 3071 pixel limit");
    jpeg_set_size(j, jn, 60000, 60000);
    expect_fail("JPEG 60000x60000", j, jn, MAXPX, IMG_ETOOLARGE);
    jpeg_set_size(j, jn, 65535, 65535);
    expect_fail("JPEG 65535x65535", j, jn, MAXPX, IMG_ETOOLARGE);
    jpeg_set_size(j, jn, 64, 0);
    expect_fail("JPEG height 0", j, jn, MAXPX, IMG_ECORRUPT);
    jpeg_set_size(j, jn, 0, 48);
    expect_fail("JPEG width 0", j, jn, MAXPX, IMG_ECORRUPT);
    free(j);

    j = jpeg_rgb(rgb, 64, 48, 90, 0, &jn);
    assert_null(image_decode(j, jn, 0, &code, err, sizeof err));
    assert_int_equal(code, IMG_EARG);
    img = image_decode(j, jn, MAXPX, NULL, NULL, 0);   /* no code, no err: fine */
    assert_non_null(img);
    image_free(img);
    assert_null(image_decode(hdr, 3, MAXPX, NULL, NULL, 0));
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

    expect_fail("empty", (const uint8_t *)"", 0, MAXPX, IMG_EFORMAT);
    assert_null(image_decode(NULL, 0, MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EFORMAT);
    expect_fail("one byte", one, 1, MAXPX, IMG_EFORMAT);
    expect_fail("JPEG magic only", soi, 3, MAXPX, IMG_ECORRUPT);
    expect_fail("text", (const uint8_t *)"hello, world", 12, MAXPX, IMG_EFORMAT);
    expect_fail("GIF", (const uint8_t *)"GIF89a\1\0\1\0\0\0\0", 13, MAXPX, IMG_EFORMAT);
}

static void check_truncations(const char *what, const uint8_t *p, size_t n, size_t magic)
{
    for (size_t len = 0; len < n; len++) {
        char err[256];
        int code = 0;
        Image *img = decode(p, len, MAXPX, &code, err);
        int want = len < magic ? IMG_EFORMAT : IMG_ECORRUPT;

        if (img || code != want)
            fail_msg("%s cut to %zu of %zu bytes: code %d (%s), want %d", what, len, n,
                     code, img ? "decoded" : err, want);
    }
}

static void test_truncated(void **state)
{
    uint8_t *rgb = smooth_rgb(24, 16), *j, *p, *rows;
    uint16_t v[24 * 16 * 3];
    size_t n;
    PngSpec s = { 8, PNG_COLOR_TYPE_RGB, 1, NULL, 0, NULL, 0, NULL };
    char err[256];
    int code;
    (void)state;

    j = jpeg_rgb(rgb, 24, 16, 90, 0, &n);
    check_truncations("baseline JPEG", j, n, 3);
    free(j);
    j = jpeg_rgb(rgb, 24, 16, 90, 1, &n);
    check_truncations("progressive JPEG", j, n, 3);
    decode(j, n - 2, MAXPX, &code, err);
    assert_string_equal(err, "JPEG data is truncated");
    free(j);
    for (int i = 0; i < 24 * 16 * 3; i++)
        v[i] = rgb[i];
    rows = png_pack(v, 24, 16, 3, 8);
    p = png_make(rows, 24, 16, &s, &n);
    check_truncations("interlaced PNG", p, n, 8);
    decode(p, n - 1, MAXPX, &code, err);
    assert_string_equal(err, "PNG data is truncated");
    free(p);
    free(rows);
    free(rgb);
}

/* Random bytes after a real magic, and random damage to real files: the
 * decoders must fail cleanly (or decode something of the right size). */
static void fuzz(const char *what, const uint8_t *good, size_t n, size_t keep, int flips)
{
    uint8_t *q = malloc(n);

    for (int it = 0; it < 400; it++) {
        char err[256];
        int code = 0;
        Image *img;

        memcpy(q, good, n);
        if (flips == 0) {
            for (size_t i = keep; i < n; i++)
                q[i] = (uint8_t)rng();
        } else {
            for (int k = 0; k < flips; k++)
                q[keep + rng() % (n - keep)] = (uint8_t)rng();
        }
        img = decode(q, n, (int64_t)1 << 20, &code, err);
        if (img) {
            assert_int_equal(code, 0);
            assert_true(img->w > 0 && img->h > 0);
            image_free(img);
        } else if (code != IMG_ECORRUPT && code != IMG_ETOOLARGE) {
            fail_msg("%s: iteration %d gave code %d (%s)", what, it, code, err);
        }
    }
    free(q);
}

static void test_fuzz(void **state)
{
    uint8_t *rgb = smooth_rgb(32, 24), *j, *p, *rows;
    uint16_t v[32 * 24 * 3];
    size_t n;
    PngSpec s = { 8, PNG_COLOR_TYPE_RGB, 0, NULL, 0, NULL, 0, NULL };
    (void)state;

    j = jpeg_rgb(rgb, 32, 24, 80, 0, &n);
    fuzz("random after JPEG magic", j, n, 3, 0);
    fuzz("damaged baseline JPEG", j, n, 3, 4);
    free(j);
    j = jpeg_rgb(rgb, 32, 24, 80, 1, &n);
    fuzz("damaged progressive JPEG", j, n, 3, 4);
    free(j);
    for (int i = 0; i < 32 * 24 * 3; i++)
        v[i] = rgb[i];
    rows = png_pack(v, 32, 24, 3, 8);
    p = png_make(rows, 32, 24, &s, &n);
    fuzz("random after PNG signature", p, n, 8, 0);
    fuzz("damaged PNG", p, n, 8, 3);
    free(p);
    free(rows);
    free(rgb);
}

/* ---- files ---------------------------------------------------------------- */

static void test_files(void **state)
{
    char dir[] = "/tmp/atelier_test_image_XXXXXX", path[128], err[256];
    uint8_t *rgb = smooth_rgb(30, 20);
    Image src = { 30, 20, rgb }, *img;
    int code;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.PNG", dir);
    assert_int_equal(image_save_file(&src, path, 90), 0);
    img = image_load_file(path, MAXPX, &code, err, sizeof err);
    assert_non_null(img);
    expect_exact("PNG file round trip", rgb, img);
    image_free(img);
    remove(path);
    snprintf(path, sizeof path, "%s/b.jpeg", dir);
    assert_int_equal(image_save_file(&src, path, 95), 0);
    img = image_load_file(path, MAXPX, &code, err, sizeof err);
    assert_non_null(img);
    if (max_diff("JPEG file round trip", rgb, img) > 4)
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
    assert_null(image_load_file(path, MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EIO);
    assert_non_null(strstr(err, "no/such"));
    assert_null(image_load_file(dir, MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EIO);
    snprintf(path, sizeof path, "%s/empty.png", dir);
    fclose(fopen(path, "wb"));
    assert_null(image_load_file(path, MAXPX, &code, err, sizeof err));
    assert_int_equal(code, IMG_EFORMAT);
    remove(path);
    assert_int_equal(rmdir(dir), 0);
    free(rgb);
}

/* ---- resize --------------------------------------------------------------- */

static Image *random_image(int w, int h)
{
    Image *img = image_new(w, h);

    assert_non_null(img);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        img->px[i] = (uint8_t)rng();
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
                int sum = 0, n = f * f, want, got = px_at(dst, x, y)[c];

                for (int dy = 0; dy < f; dy++)
                    for (int dx = 0; dx < f; dx++)
                        sum += px_at(src, x * f + dx, y * f + dy)[c];
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
        if (px_at(dst, x, 0)[0] != want[x])
            fail_msg("bilinear 2->4: x=%d is %d, want %d", x, px_at(dst, x, 0)[0], want[x]);
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
                if (px_at(mixed, x, y)[1] != rows[y][x])
                    fail_msg("mixed: (%d,%d) is %d, want %d", x, y, px_at(mixed, x, y)[1],
                             rows[y][x]);
    }
    image_free(mixed);
    dst = image_resize(src, 4, 2);
    expect_exact("identity resize", src->px, dst);
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
                assert_true(f[c * 6 + y * 3 + x] == (float)px_at(img, x, y)[c]);
    image_from_planar(back, f);
    expect_exact("planar round trip", img->px, back);

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
        cmocka_unit_test(test_exif_hostile),
        cmocka_unit_test(test_png_grey),
        cmocka_unit_test(test_png_rgb_rgba),
        cmocka_unit_test(test_png_grey_alpha),
        cmocka_unit_test(test_png_palette),
        cmocka_unit_test(test_png_colour_key),
        cmocka_unit_test(test_png_encode),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hostile_small),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_resize_constant),
        cmocka_unit_test(test_resize_box),
        cmocka_unit_test(test_resize_bilinear_and_mixed),
        cmocka_unit_test(test_planar),
        cmocka_unit_test(test_new_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
