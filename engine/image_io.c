/* image_io.c: images in and out: sniffing and probing a buffer, decoding
 * through the codecs (image_jpeg.c, image_png.c) and applying the EXIF
 * orientation, loading and saving files (image.h). The Image type itself
 * (allocation, checks, resize, planar) is image.c's, below the codecs.
 */
#include "engine/image.h"
#include "engine/image_codec.h"
#include "engine/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* image_load_file() refuses larger files before reading them. A 200 MP
 * camera JPEG is about 100 MB; PNGs of the pixel limits we use stay well
 * below this too. */
#define IMAGE_MAX_FILE_BYTES ((int64_t)512 << 20)

ImageFormat image_sniff(const void *buf, size_t len)
{
    static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    const uint8_t *p = buf;

    if (!p)
        return IMG_UNKNOWN;
    if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return IMG_JPEG;
    if (len >= 8 && memcmp(p, png_sig, 8) == 0)
        return IMG_PNG;
    return IMG_UNKNOWN;
}

int image_probe(const void *buf, size_t len, ImageInfo *info)
{
    if (!info)
        return IMG_EARG;
    memset(info, 0, sizeof *info);
    switch (image_sniff(buf, len)) {
    case IMG_JPEG:
        return image_jpeg_probe(buf, len, info, NULL, 0);
    case IMG_PNG:
        return image_png_probe(buf, len, info, NULL, 0);
    default:
        return IMG_EFORMAT;
    }
}

/* ---- orientation ----------------------------------------------------------
 *
 * EXIF orientation o says where the stored rows and columns belong:
 *   1 as stored          2 mirrored left-right   3 rotated 180
 *   4 mirrored top-down  5 transposed            6 rotate 90 clockwise
 *   7 transverse         8 rotate 90 counter-clockwise
 * 2..4 keep the size and are done in place; 5..8 swap width and height: the
 * upright pixel (x, y) is the stored pixel at base + x*dx + y*dy.
 */
static void swap_px(uint8_t *a, uint8_t *b)
{
    for (int c = 0; c < 3; c++) {
        uint8_t t = a[c];
        a[c] = b[c];
        b[c] = t;
    }
}

static void orient_in_place(Image *img, int o)
{
    size_t w = (size_t)img->w, h = (size_t)img->h, n = w * h, stride = w * 3;

    if (o == 2) {
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w / 2; x++)
                swap_px(img->px + y * stride + x * 3,
                        img->px + y * stride + (w - 1 - x) * 3);
    } else if (o == 3) {
        for (size_t i = 0; i < n / 2; i++)
            swap_px(img->px + i * 3, img->px + (n - 1 - i) * 3);
    } else if (o == 4) {
        for (size_t y = 0; y < h / 2; y++)
            for (size_t i = 0; i < stride; i++) {
                uint8_t *a = img->px + y * stride + i;
                uint8_t *b = img->px + (h - 1 - y) * stride + i;
                uint8_t t = *a;
                *a = *b;
                *b = t;
            }
    }
}

#define ORIENT_TILE 64      /* pixels; a 64x64 tile of source rows fits in L2 */

/* 5..8 need a second buffer: peak memory is twice the image. */
static Image *orient_transposed(const Image *src, int o)
{
    ptrdiff_t W = src->w, H = src->h, base, dx, dy;
    Image *dst = image_alloc(src->h, src->w, 3);

    if (!dst)
        return NULL;
    switch (o) {
    case 5:  base = 0;                   dx = W;  dy = 1;  break;
    case 6:  base = (H - 1) * W;         dx = -W; dy = 1;  break;
    case 7:  base = (H - 1) * W + W - 1; dx = -W; dy = -1; break;
    default: base = W - 1;               dx = W;  dy = -1; break;   /* 8 */
    }
    /* In tiles, so the strided reads of one tile stay in cache. */
    for (ptrdiff_t ty = 0; ty < W; ty += ORIENT_TILE)
        for (ptrdiff_t tx = 0; tx < H; tx += ORIENT_TILE) {
            ptrdiff_t ye = ty + ORIENT_TILE < W ? ty + ORIENT_TILE : W;
            ptrdiff_t xe = tx + ORIENT_TILE < H ? tx + ORIENT_TILE : H;

            for (ptrdiff_t y = ty; y < ye; y++) {
                uint8_t *d = dst->px + (y * H + tx) * 3;
                ptrdiff_t s = base + y * dy + tx * dx;

                for (ptrdiff_t x = tx; x < xe; x++, s += dx, d += 3)
                    memcpy(d, src->px + s * 3, 3);
            }
        }
    return dst;
}

Image *image_decode(const void *buf, size_t len, int64_t max_pixels,
                    int *code, char *err, size_t errlen)
{
    Image *img = NULL, *up;
    int dummy, orientation = 1;

    if (!code)
        code = &dummy;
    util_errf(err, errlen, "%s", "");
    if ((!buf && len) || max_pixels <= 0) {
        util_errf(err, errlen, "bad argument to image_decode");
        *code = IMG_EARG;
        return NULL;
    }
    switch (image_sniff(buf, len)) {
    case IMG_JPEG:
        img = image_jpeg_decode(buf, len, max_pixels, &orientation, code, err, errlen);
        break;
    case IMG_PNG:
        img = image_png_decode(buf, len, max_pixels, code, err, errlen);
        break;
    default:
        if (len == 0)
            util_errf(err, errlen, "no image data (0 bytes)");
        else
            util_errf(err, errlen, "not a JPEG or PNG image");
        *code = IMG_EFORMAT;
        return NULL;
    }
    if (!img || orientation == 1)
        return img;
    if (orientation <= 4) {
        orient_in_place(img, orientation);
        return img;
    }
    up = orient_transposed(img, orientation);
    image_free(img);
    if (!up) {
        util_errf(err, errlen, "out of memory rotating the image");
        *code = IMG_ENOMEM;
    }
    return up;
}

/* ---- files ---------------------------------------------------------------- */

Image *image_load_file(const char *path, int64_t max_pixels,
                       int *code, char *err, size_t errlen)
{
    struct stat st;
    uint8_t *buf = NULL;
    Image *img = NULL;
    FILE *f;
    int dummy;

    if (!code)
        code = &dummy;
    if (!path) {
        util_errf(err, errlen, "no file name");
        *code = IMG_EARG;
        return NULL;
    }
    *code = IMG_EIO;
    f = fopen(path, "rb");
    if (!f) {
        util_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        util_errf(err, errlen, "%s is not a regular file", path);
        goto done;
    }
    if (st.st_size > IMAGE_MAX_FILE_BYTES) {
        util_errf(err, errlen, "%s is %lld bytes, more than the %lld byte limit",
                     path, (long long)st.st_size, (long long)IMAGE_MAX_FILE_BYTES);
        *code = IMG_ETOOLARGE;
        goto done;
    }
    buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (!buf) {
        util_errf(err, errlen, "out of memory reading %s", path);
        *code = IMG_ENOMEM;
        goto done;
    }
    if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        util_errf(err, errlen, "cannot read %s", path);
        goto done;
    }
    img = image_decode(buf, (size_t)st.st_size, max_pixels, code, err, errlen);
done:
    fclose(f);
    free(buf);
    return img;
}

int image_save_file(const Image *img, const char *path, int quality)
{
    const char *base, *dot;
    uint8_t *buf = NULL;
    size_t n = 0;
    FILE *f;
    int rc, ok;

    if (!image_valid(img) || !path)
        return IMG_EARG;
    base = strrchr(path, '/');
    dot = strrchr(base ? base : path, '.');
    if (dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0))
        rc = image_encode_jpeg(img, quality, &buf, &n);
    else if (dot && strcasecmp(dot, ".png") == 0)
        rc = image_encode_png(img, &buf, &n);
    else
        return IMG_EFORMAT;
    if (rc)
        return rc;
    f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return IMG_EIO;
    }
    ok = fwrite(buf, 1, n, f) == n;
    ok &= fclose(f) == 0;
    free(buf);
    if (!ok) {
        remove(path);    /* no half-written image left behind */
        return IMG_EIO;
    }
    return 0;
}
