/* image_fixtures.c: test inputs for the image tests, made in memory with
 * libjpeg and libpng (see image_fixtures.h). Linked into every test program
 * as a helper; only the image tests call it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/engine/image_fixtures.h"

/* ---- helpers -------------------------------------------------------------- */

static uint32_t imgt_rng_state = 12345;

uint32_t imgt_rng(void)
{
    imgt_rng_state = imgt_rng_state * 1664525u + 1013904223u;
    return imgt_rng_state >> 8;
}

uint8_t *imgt_dup(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);

    assert_non_null(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

/* Decodes p[0..n) from an exact-size copy. */
Image *imgt_decode(const uint8_t *p, size_t n, int64_t max, int *code, char *err)
{
    uint8_t *q = imgt_dup(p, n);
    Image *img = image_decode(q, n, max, code, err, 256);

    free(q);
    return img;
}

Image *imgt_decode_ok(const uint8_t *p, size_t n)
{
    char err[256];
    int code = 99;
    Image *img = imgt_decode(p, n, IMGT_MAXPX, &code, err);

    if (!img)
        fail_msg("decode failed: code %d: %s", code, err);
    assert_int_equal(code, 0);
    return img;
}

const uint8_t *imgt_px(const Image *img, int x, int y)
{
    return img->px + ((size_t)y * img->w + x) * 3;
}

/* Largest |a-b| over all samples; prints where it happens. */
int imgt_max_diff(const char *what, const uint8_t *want, const Image *got)
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

void imgt_expect_exact(const char *what, const uint8_t *want, const Image *got)
{
    if (imgt_max_diff(what, want, got) != 0)
        fail_msg("%s: pixels differ", what);
}

typedef struct ImgtBuf {
    uint8_t *p;
    size_t len, cap;
} ImgtBuf;

static void imgt_buf_put(ImgtBuf *b, const void *src, size_t n)
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

uint8_t *imgt_jpeg(const uint8_t *px, int w, int h, const ImgtJpeg *s, size_t *len)
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

uint8_t *imgt_jpeg_rgb(const uint8_t *px, int w, int h, int quality, int progressive,
                         size_t *len)
{
    ImgtJpeg s = { 3, JCS_RGB, JCS_YCbCr, quality, progressive, -1, 0, NULL, 0 };

    return imgt_jpeg(px, w, h, &s, len);
}

/* A smooth, asymmetric RGB test picture (JPEG keeps it well). */
uint8_t *imgt_smooth_rgb(int w, int h)
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
static size_t imgt_jpeg_sof(const uint8_t *p, size_t n)
{
    for (size_t i = 2; i + 9 < n; i++)
        if (p[i] == 0xFF && p[i + 1] >= 0xC0 && p[i + 1] <= 0xC2)
            return i;
    return 0;
}

void imgt_jpeg_set_size(uint8_t *p, size_t n, unsigned w, unsigned h)
{
    size_t s = imgt_jpeg_sof(p, n);

    assert_true(s > 0);
    p[s + 5] = (uint8_t)(h >> 8);
    p[s + 6] = (uint8_t)h;
    p[s + 7] = (uint8_t)(w >> 8);
    p[s + 8] = (uint8_t)w;
}

/* SOI, then an APP1 segment holding payload, then the rest of jpeg. */
uint8_t *imgt_jpeg_with_app1(const uint8_t *jpeg, size_t len, const uint8_t *payload,
                               size_t plen, size_t *outlen)
{
    ImgtBuf b = { 0 };
    uint8_t hdr[4] = { 0xFF, 0xE1, (uint8_t)((plen + 2) >> 8), (uint8_t)(plen + 2) };

    imgt_buf_put(&b, jpeg, 2);
    imgt_buf_put(&b, hdr, 4);
    imgt_buf_put(&b, payload, plen);
    imgt_buf_put(&b, jpeg + 2, len - 2);
    *outlen = b.len;
    return b.p;
}

/* ---- EXIF maker ---------------------------------------------------------- */

static void imgt_put16(uint8_t *p, uint32_t v, int le)
{
    p[le ? 0 : 1] = (uint8_t)v;
    p[le ? 1 : 0] = (uint8_t)(v >> 8);
}

static void imgt_put32(uint8_t *p, uint32_t v, int le)
{
    imgt_put16(p + (le ? 0 : 2), v & 0xFFFF, le);
    imgt_put16(p + (le ? 2 : 0), v >> 16, le);
}

ImgtExif imgt_exif_default(int le, uint32_t orientation)
{
    ImgtExif s = { le, orientation, 3, 1, 8, 0, 2, 42 };

    return s;
}

size_t imgt_exif(uint8_t *p, const ImgtExif *s)
{
    uint8_t *t = p + 6, *e;

    memcpy(p, "Exif\0\0", 6);
    memcpy(t, s->le ? "II" : "MM", 2);
    imgt_put16(t + 2, s->magic, s->le);
    imgt_put32(t + 4, s->ifd0, s->le);
    imgt_put16(t + 8, s->entries, s->le);
    e = t + 10;
    imgt_put16(e, 0x010F, s->le);             /* Make, ASCII "Cam" inline */
    imgt_put16(e + 2, 2, s->le);
    imgt_put32(e + 4, 4, s->le);
    memcpy(e + 8, "Cam", 4);
    e += 12;
    imgt_put16(e, 0x0112, s->le);
    imgt_put16(e + 2, s->type, s->le);
    imgt_put32(e + 4, s->count, s->le);
    memset(e + 8, 0, 4);
    if (s->type == 4)
        imgt_put32(e + 8, s->orientation, s->le);
    else
        imgt_put16(e + 8, s->orientation, s->le);
    imgt_put32(e + 12, s->next_ifd, s->le);
    return 44;
}

/* ---- PNG maker ------------------------------------------------------------ */

static void imgt_png_put(png_structp png, png_bytep d, size_t n)
{
    imgt_buf_put(png_get_io_ptr(png), d, n);
}

/* rows: h rows of PNG-format samples (packed bits, 16-bit big-endian). */
uint8_t *imgt_png(const uint8_t *rows, int w, int h, const ImgtPng *s, size_t *len)
{
    ImgtBuf b = { 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rp = malloc((size_t)h * sizeof *rp);
    size_t rowbytes;

    assert_non_null(rp);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not write the test PNG");
    png_set_write_fn(png, &b, imgt_png_put, NULL);
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
uint8_t *imgt_png_pack(const uint16_t *v, int w, int h, int spp, int depth)
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

uint8_t imgt_to8(uint32_t v16)
{
    return (uint8_t)((v16 * 255 + 32767) / 65535);
}

uint8_t imgt_on_white(uint32_t c, uint32_t a)
{
    return (uint8_t)((c * a + 255 * (255 - a) + 127) / 255);
}

static uint32_t imgt_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void imgt_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Signature and an IHDR (valid CRC) claiming w x h RGB, then IEND. */
size_t imgt_png_header_only(uint8_t *p, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

    memcpy(p, sig, 8);
    imgt_be32_put(p + 8, 13);
    memcpy(p + 12, "IHDR", 4);
    imgt_be32_put(p + 16, w);
    imgt_be32_put(p + 20, h);
    p[24] = 8;
    p[25] = 2;
    p[26] = p[27] = p[28] = 0;
    imgt_be32_put(p + 29, imgt_crc32(p + 12, 17));
    imgt_be32_put(p + 33, 0);
    memcpy(p + 37, "IEND", 4);
    imgt_be32_put(p + 41, imgt_crc32(p + 37, 4));
    return 45;
}

/* A 24x16 picture of six flat 8x8 blocks, all different colours, so every
 * flip and rotation of it is different. */
uint8_t *imgt_jpeg_blocks(size_t *n)
{
    static const uint8_t col[6][3] = {
        { 250, 10, 10 }, { 10, 250, 10 }, { 10, 10, 250 },
        { 250, 250, 10 }, { 10, 250, 250 }, { 128, 128, 128 },
    };
    uint8_t px[24 * 16 * 3];

    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 24; x++)
            memcpy(px + (y * 24 + x) * 3, col[(y / 8) * 3 + x / 8], 3);
    return imgt_jpeg_rgb(px, 24, 16, 100, 0, n);
}

/* Where stored pixel (sx, sy) of a W x H image lands when displayed with
 * orientation o (the EXIF table, written forwards; image.c maps backwards). */
void imgt_exif_forward(int o, int W, int H, int sx, int sy, int *dx, int *dy)
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
