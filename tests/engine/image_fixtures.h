/* image_fixtures.h: test inputs for the image tests, made in memory.
 *
 * JPEGs through libjpeg (any colour space, progressive or a custom scan
 * script), PNGs through libpng (any depth and colour type, palette, tRNS,
 * Adam7), EXIF APP1 payloads by hand, and the helpers that decode from an
 * exact-size copy (so AddressSanitizer sees any overread) and compare
 * pixels, printing where they differ. Every buffer returned is malloc'd;
 * the caller frees it with free(). Failures inside end the test (cmocka).
 */
#ifndef ATELIER_TESTS_IMAGE_FIXTURES_H
#define ATELIER_TESTS_IMAGE_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jpeglib.h>
#include <png.h>

#include "engine/image.h"

#define IMGT_MAXPX ((int64_t)40000000)

/* Seeded generator: every run sees the same "random" data. */
uint32_t imgt_rng(void);
uint8_t *imgt_dup(const uint8_t *p, size_t n);
/* Decodes p[0..n) from an exact-size copy; err must hold 256 bytes. */
Image *imgt_decode(const uint8_t *p, size_t n, int64_t max, int *code, char *err);
/* As imgt_decode with the default limit, failing the test on error. */
Image *imgt_decode_ok(const uint8_t *p, size_t n);
const uint8_t *imgt_px(const Image *img, int x, int y);
/* Largest |want - got| over all samples (printed with its place when > 0). */
int imgt_max_diff(const char *what, const uint8_t *want, const Image *got);
void imgt_expect_exact(const char *what, const uint8_t *want, const Image *got);

typedef struct ImgtJpeg {
    int comps;                   /* 1, 3 or 4 */
    J_COLOR_SPACE in_cs, jpeg_cs;
    int quality;
    int progressive;
    int adobe;                   /* -1 libjpeg's default, else force */
    int subsample;               /* 0: 4:4:4, 1: libjpeg default */
    const jpeg_scan_info *scans;
    int nscans;
} ImgtJpeg;

/* px: (h, w, comps) samples. */
uint8_t *imgt_jpeg(const uint8_t *px, int w, int h, const ImgtJpeg *s, size_t *len);
uint8_t *imgt_jpeg_rgb(const uint8_t *px, int w, int h, int quality, int progressive,
                       size_t *len);
/* A smooth, asymmetric (h, w, 3) RGB picture that JPEG keeps well. */
uint8_t *imgt_smooth_rgb(int w, int h);
/* Rewrites the size in the SOF segment of a JPEG made here. */
void imgt_jpeg_set_size(uint8_t *p, size_t n, unsigned w, unsigned h);
/* SOI, an APP1 segment holding payload, then the rest of jpeg. */
uint8_t *imgt_jpeg_with_app1(const uint8_t *jpeg, size_t len, const uint8_t *payload,
                             size_t plen, size_t *outlen);
/* 24x16, six flat 8x8 blocks of different colours, quality 100, 4:4:4. */
uint8_t *imgt_jpeg_blocks(size_t *n);

/* An EXIF payload: "Exif\0\0", TIFF header, IFD0 with two entries (Make,
 * then Orientation), next-IFD link. 44 bytes; the Orientation entry ends
 * at byte 40. */
typedef struct ImgtExif {
    int le;
    uint32_t orientation, type, count;
    uint32_t ifd0, next_ifd;
    uint16_t entries, magic;
} ImgtExif;

ImgtExif imgt_exif_default(int le, uint32_t orientation);
size_t imgt_exif(uint8_t *p, const ImgtExif *s);     /* p holds >= 44 bytes */
/* Where stored pixel (sx, sy) of a W x H image lands when displayed with
 * EXIF orientation o (the table written forwards; image.c maps backwards). */
void imgt_exif_forward(int o, int W, int H, int sx, int sy, int *dx, int *dy);

typedef struct ImgtPng {
    int depth, ctype, interlace;
    const png_color *pal;
    int npal;
    const uint8_t *trns;         /* palette alphas */
    int ntrns;
    const png_color_16 *key;     /* grey or RGB colour key */
} ImgtPng;

/* rows: h rows of PNG-format samples (packed bits, 16-bit big-endian). */
uint8_t *imgt_png(const uint8_t *rows, int w, int h, const ImgtPng *s, size_t *len);
/* Packs (h, w, spp) samples of `depth` bits into PNG rows. */
uint8_t *imgt_png_pack(const uint16_t *v, int w, int h, int spp, int depth);
/* Signature, an IHDR (valid CRC) claiming w x h 8-bit RGB, IEND: 45 bytes. */
size_t imgt_png_header_only(uint8_t *p, uint32_t w, uint32_t h);
/* 16 to 8 bits, rounded; colour c at alpha a on white, rounded. */
uint8_t imgt_to8(uint32_t v16);
uint8_t imgt_on_white(uint32_t c, uint32_t a);

#endif
