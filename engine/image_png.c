/* image_png.c: PNG probe, decode and encode through libpng 1.6.
 *
 * The start of a PNG, as image_png_probe() reads it by hand:
 *   0..7    signature 89 50 4E 47 0D 0A 1A 0A
 *   8..11   length of the first chunk, big-endian: must be 13
 *   12..15  "IHDR"
 *   16..19  width, 20..23 height (big-endian, unsigned)
 *   24 bit depth, 25 colour type, 26 compression, 27 filter, 28 interlace
 *   29..32  CRC of bytes 12..28 (libpng checks it when decoding)
 * then chunks (u32 length, 4-byte type, data, CRC) up to IEND.
 *
 * Defences against bombs: the IHDR size is checked against the caller's
 * pixel limit before libpng allocates anything for pixels;
 * png_set_user_limits caps each side, png_set_chunk_malloc_max any one
 * chunk's buffer, png_set_chunk_cache_max the number of ancillary chunks;
 * every ancillary chunk but tRNS is skipped unread (we use none of them, and
 * zTXt/iTXt/iCCP are where decompression bombs hide); libpng stops
 * inflating IDAT once the last row is complete, so a zlib bomb in IDAT costs
 * at most the image itself.
 *
 * Pixels: 16-bit samples are scaled to 8 with rounding (png_set_scale_16:
 * v*255/65535), palette and 1/2/4-bit grey are expanded, tRNS becomes alpha,
 * grey becomes RGB, and alpha is composited on white in stored sRGB values,
 * as a browser shows the PNG on a white page: out = (c*a + 255*(255-a)) / 255
 * rounded to nearest. Interlaced (Adam7) images are read whole.
 *
 * Errors: libpng's error callback records the reason and longjmps to the
 * setjmp in png_run(); what that allocates hangs off the caller's PngJob. A
 * read past the end of the data is "PNG data is truncated" (IMG_ECORRUPT),
 * also when only IEND is missing, since png_read_end() reads up to IEND.
 */
#include "engine/image_codec.h"
#include "engine/util.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#define PNG_CHUNK_MAX_BYTES ((png_alloc_size_t)16 << 20)
#define PNG_CHUNK_CACHE_MAX 1000

static const uint8_t png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

typedef struct PngJob {
    png_structp png;
    png_infop info;
    const uint8_t *in;           /* decode: the input and read position */
    size_t inlen, inpos;
    uint8_t *out;                /* encode: the growing output */
    size_t outlen, outcap;
    Image *img;
    png_bytep *rows;             /* (h) row pointers into img->px */
    int encoding;
    int code;                    /* IMG_E* recorded before the longjmp */
    char msg[192];
} PngJob;

static void png_on_error(png_structp png, png_const_charp msg)
{
    PngJob *j = png_get_error_ptr(png);

    if (!j->code) {
        /* libpng has no error codes; its allocation failures say "memory". */
        if (strstr(msg, "memory")) {
            j->code = IMG_ENOMEM;
            snprintf(j->msg, sizeof j->msg, "out of memory in libpng");
        } else {
            j->code = j->encoding ? IMG_EARG : IMG_ECORRUPT;
            snprintf(j->msg, sizeof j->msg, "PNG data is corrupt: %s", msg);
        }
    }
    png_longjmp(png, 1);
}

/* Warnings are about ancillary data we skip anyway. */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_on_read(png_structp png, png_bytep dst, size_t n)
{
    PngJob *j = png_get_io_ptr(png);

    if (n > j->inlen - j->inpos) {
        j->code = IMG_ECORRUPT;
        snprintf(j->msg, sizeof j->msg, "PNG data is truncated");
        png_error(png, "truncated");
    }
    memcpy(dst, j->in + j->inpos, n);
    j->inpos += n;
}

static void png_on_write(png_structp png, png_bytep src, size_t n)
{
    PngJob *j = png_get_io_ptr(png);

    if (n > j->outcap - j->outlen) {
        size_t cap = j->outcap ? j->outcap : (size_t)1 << 16;
        uint8_t *nb;

        while (cap - j->outlen < n) {
            if (cap > SIZE_MAX / 2)
                png_error(png, "out of memory");
            cap *= 2;
        }
        nb = realloc(j->out, cap);
        if (!nb)
            png_error(png, "out of memory");
        j->out = nb;
        j->outcap = cap;
    }
    memcpy(j->out + j->outlen, src, n);
    j->outlen += n;
}

static void png_on_flush(png_structp png)
{
    (void)png;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int image_png_probe(const uint8_t *buf, size_t len, ImageInfo *info,
                    char *err, size_t errlen)
{
    int64_t w, h;
    int rc;

    if (len < 8 || memcmp(buf, png_signature, 8) != 0) {
        util_errf(err, errlen, "not a PNG image");
        return IMG_EFORMAT;
    }
    if (len < 29) {
        util_errf(err, errlen, "PNG data is truncated");
        return IMG_ECORRUPT;
    }
    if (be32(buf + 8) != 13 || memcmp(buf + 12, "IHDR", 4) != 0) {
        util_errf(err, errlen, "PNG data is corrupt: no IHDR chunk first");
        return IMG_ECORRUPT;
    }
    w = be32(buf + 16);
    h = be32(buf + 20);
    rc = image_check_dims(w, h, INT64_MAX, err, errlen);
    if (rc)
        return rc;
    info->format = IMG_PNG;
    info->w = (int)w;
    info->h = (int)h;
    info->orientation = 1;
    return 0;
}

/* RGBA to RGB on white, in place: pixel i is read (4 bytes at 4i) before
 * its 3 bytes at 3i <= 4i are written. */
static void png_flatten(uint8_t *px, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned r = px[4 * i], g = px[4 * i + 1], b = px[4 * i + 2];
        unsigned a = px[4 * i + 3], bg = 255 * (255 - a);

        px[3 * i] = (uint8_t)((r * a + bg + 127) / 255);
        px[3 * i + 1] = (uint8_t)((g * a + bg + 127) / 255);
        px[3 * i + 2] = (uint8_t)((b * a + bg + 127) / 255);
    }
}

static int png_run(PngJob *j, int64_t max_pixels, char *err, size_t errlen)
{
    png_structp png = j->png;
    png_infop info = j->info;
    png_uint_32 w, h;
    int depth, ctype, interlace, ch, rc;

    if (setjmp(png_jmpbuf(png)))
        return j->code ? j->code : IMG_ECORRUPT;
    png_set_user_limits(png, IMAGE_MAX_DIM, IMAGE_MAX_DIM);
    png_set_chunk_malloc_max(png, PNG_CHUNK_MAX_BYTES);
    png_set_chunk_cache_max(png, PNG_CHUNK_CACHE_MAX);
    /* A negative count means: every ancillary chunk libpng knows, except
     * tRNS, and every unknown chunk. */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_read_fn(png, j, png_on_read);
    png_read_info(png, info);
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    rc = image_check_dims(w, h, max_pixels, err, errlen);
    if (rc)
        return rc;

    if (depth == 16)
        png_set_scale_16(png);
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    if (interlace != PNG_INTERLACE_NONE)
        png_set_interlace_handling(png);
    png_read_update_info(png, info);

    ch = png_get_channels(png, info);
    if (png_get_bit_depth(png, info) != 8 || (ch != 3 && ch != 4) ||
        png_get_rowbytes(png, info) != (size_t)w * (size_t)ch) {
        util_errf(err, errlen, "PNG has an unsupported pixel layout");
        return IMG_ECORRUPT;
    }
    j->img = image_alloc((int)w, (int)h, ch);
    j->rows = malloc((size_t)h * sizeof *j->rows);
    if (!j->img || !j->rows) {
        util_errf(err, errlen, "out of memory for a %ux%u image", w, h);
        return IMG_ENOMEM;
    }
    for (png_uint_32 y = 0; y < h; y++)
        j->rows[y] = j->img->px + (size_t)y * w * (size_t)ch;
    png_read_image(png, j->rows);
    png_read_end(png, NULL);

    if (ch == 4) {
        size_t n = (size_t)w * h;
        uint8_t *px;

        png_flatten(j->img->px, n);
        px = realloc(j->img->px, n * 3);     /* shrinking: failure is harmless */
        if (px)
            j->img->px = px;
    }
    return 0;
}

Image *image_png_decode(const uint8_t *buf, size_t len, int64_t max_pixels,
                        int *code, char *err, size_t errlen)
{
    PngJob j;
    ImageInfo info;
    int rc;

    /* The IHDR by hand first, so an oversized header is refused with the
     * right code whatever libpng would say about it. */
    rc = image_png_probe(buf, len, &info, err, errlen);
    if (rc == 0)
        rc = image_check_dims(info.w, info.h, max_pixels, err, errlen);
    if (rc) {
        *code = rc;
        return NULL;
    }
    memset(&j, 0, sizeof j);
    j.in = buf;
    j.inlen = len;
    j.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &j, png_on_error,
                                   png_on_warning);
    j.info = j.png ? png_create_info_struct(j.png) : NULL;
    if (!j.info) {
        util_errf(err, errlen, "out of memory in libpng");
        rc = IMG_ENOMEM;
    } else {
        rc = png_run(&j, max_pixels, err, errlen);
        if (rc && j.msg[0])
            util_errf(err, errlen, "%s", j.msg);
    }
    png_destroy_read_struct(&j.png, &j.info, NULL);
    free(j.rows);
    if (rc) {
        image_free(j.img);
        j.img = NULL;
    }
    *code = rc;
    return j.img;
}

static int png_encode_run(PngJob *j, const Image *img)
{
    png_structp png = j->png;
    png_infop info = j->info;

    if (setjmp(png_jmpbuf(png)))
        return j->code ? j->code : IMG_ENOMEM;
    png_set_write_fn(png, j, png_on_write, png_on_flush);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++)
        png_write_row(png, img->px + (size_t)y * (size_t)img->w * 3);
    png_write_end(png, NULL);
    return 0;
}

int image_encode_png(const Image *img, uint8_t **out, size_t *outlen)
{
    PngJob j;
    int rc;

    if (!out || !outlen)
        return IMG_EARG;
    *out = NULL;
    *outlen = 0;
    if (!image_valid(img))
        return IMG_EARG;
    memset(&j, 0, sizeof j);
    j.encoding = 1;
    j.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &j, png_on_error,
                                    png_on_warning);
    j.info = j.png ? png_create_info_struct(j.png) : NULL;
    rc = j.info ? png_encode_run(&j, img) : IMG_ENOMEM;
    png_destroy_write_struct(&j.png, &j.info);
    if (rc) {
        free(j.out);
        return rc;
    }
    *out = j.out;
    *outlen = j.outlen;
    return 0;
}
