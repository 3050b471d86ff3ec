/* image.c: the front of the image module: sniffing, probing and decode
 * dispatch, EXIF orientation, file load and save, resampling and planar
 * conversion. The codecs are image_jpeg.c and image_png.c, behind
 * image_codec.h.
 */
#include "engine/image_codec.h"
#include "engine/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* image_load_file() refuses larger files before reading them. A 200 MP
 * camera JPEG is about 100 MB; PNGs of the pixel limits we use stay well
 * below this too. */
#define IMAGE_MAX_FILE_BYTES ((int64_t)512 << 20)

int image_check_dims(int64_t w, int64_t h, int64_t max_pixels,
                     char *err, size_t errlen)
{
    if (w <= 0 || h <= 0) {
        util_errf(err, errlen, "image is %lldx%lld, which has no pixels",
                     (long long)w, (long long)h);
        return IMG_ECORRUPT;
    }
    if (w > IMAGE_MAX_DIM || h > IMAGE_MAX_DIM) {
        util_errf(err, errlen, "image is %lldx%lld, more than %d pixels on a side",
                     (long long)w, (long long)h, IMAGE_MAX_DIM);
        return IMG_ETOOLARGE;
    }
    if (w * h > max_pixels) {   /* both <= 65535: no overflow */
        util_errf(err, errlen, "image is %lldx%lld, more than the %lld pixel limit",
                     (long long)w, (long long)h, (long long)max_pixels);
        return IMG_ETOOLARGE;
    }
    return 0;
}

int image_valid(const Image *img)
{
    return img && img->px && img->w >= 1 && img->h >= 1 &&
           img->w <= IMAGE_MAX_DIM && img->h <= IMAGE_MAX_DIM;
}

static Image *image_make(int w, int h, int bpp, int zero)
{
    Image *img;
    size_t n;

    if (w < 1 || h < 1 || w > IMAGE_MAX_DIM || h > IMAGE_MAX_DIM ||
        (bpp != 3 && bpp != 4))
        return NULL;
    img = malloc(sizeof *img);
    if (!img)
        return NULL;
    n = (size_t)w * (size_t)h * (size_t)bpp;
    img->w = w;
    img->h = h;
    img->px = zero ? calloc(n, 1) : malloc(n);
    if (!img->px) {
        free(img);
        return NULL;
    }
    return img;
}

Image *image_alloc(int w, int h, int bpp)
{
    return image_make(w, h, bpp, 0);
}

Image *image_new(int w, int h)
{
    return image_make(w, h, 3, 1);
}

void image_free(Image *img)
{
    if (!img)
        return;
    free(img->px);
    free(img);
}

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

/* ---- resize ---------------------------------------------------------------
 *
 * Separable: each axis gets its own filter taps, chosen independently, so a
 * mixed resize (one axis shrinks, the other grows) boxes one and
 * interpolates the other. Shrinking, output sample i covers the source
 * interval [i*s, (i+1)*s) with s = src/dst, and each source sample weighs
 * its overlap with it (area averaging). Enlarging, sample centres map as
 * x = (i + 0.5)*s - 0.5 (clamped at the edges) and the two neighbours are
 * blended linearly. The vertical taps of one output row run over source
 * rows, each resampled horizontally first, so the scratch memory is two
 * float rows, whatever the image size.
 */
typedef struct Taps {
    int n;          /* taps per output sample, at most */
    int *first;     /* (dst) first source index */
    int *count;     /* (dst) taps used, 1..n */
    float *w;       /* (dst, n) weights, each row summing to 1 */
} Taps;

static void taps_free(Taps *t)
{
    free(t->first);
    free(t->count);
    free(t->w);
}

static int taps_make(Taps *t, int src, int dst)
{
    double s = (double)src / dst;

    t->n = dst < src ? (int)ceil(s) + 1 : 2;
    t->first = malloc((size_t)dst * sizeof *t->first);
    t->count = malloc((size_t)dst * sizeof *t->count);
    t->w = calloc((size_t)dst * (size_t)t->n, sizeof *t->w);
    if (!t->first || !t->count || !t->w)
        return IMG_ENOMEM;
    for (int i = 0; i < dst; i++) {
        float *w = t->w + (size_t)i * t->n;

        if (dst < src) {
            double lo = i * s, hi = (i + 1) * s, sum = 0;
            int j0 = (int)floor(lo), j1 = (int)ceil(hi) - 1;

            if (j1 > src - 1)
                j1 = src - 1;
            if (j0 > j1)
                j0 = j1;
            for (int pass = 0; pass < 2; pass++)
                for (int j = j0; j <= j1; j++) {
                    double a = fmin(hi, j + 1.0) - fmax(lo, (double)j);

                    a = a > 0 ? a : 0;
                    if (pass == 0)
                        sum += a;
                    else
                        w[j - j0] = (float)(a / sum);
                }
            t->first[i] = j0;
            t->count[i] = j1 - j0 + 1;
        } else if (dst > src) {
            double x = (i + 0.5) * s - 0.5;
            int j;

            x = x > 0 ? x : 0;
            j = (int)x;
            if (j >= src - 1) {
                t->first[i] = src - 1;
                t->count[i] = 1;
                w[0] = 1.0f;
            } else {
                t->first[i] = j;
                t->count[i] = 2;
                w[0] = (float)(1.0 - (x - j));
                w[1] = (float)(x - j);
            }
        } else {
            t->first[i] = i;
            t->count[i] = 1;
            w[0] = 1.0f;
        }
    }
    return 0;
}

static void resample_row(const uint8_t *src, const Taps *t, int dw, float *dst)
{
    for (int x = 0; x < dw; x++) {
        const float *w = t->w + (size_t)x * t->n;
        const uint8_t *s = src + (size_t)t->first[x] * 3;
        float r = 0, g = 0, b = 0;

        for (int k = 0; k < t->count[x]; k++, s += 3) {
            r += w[k] * s[0];
            g += w[k] * s[1];
            b += w[k] * s[2];
        }
        dst[3 * x] = r;
        dst[3 * x + 1] = g;
        dst[3 * x + 2] = b;
    }
}

static uint8_t to_u8(float v)
{
    int i;

    if (!(v > 0.0f))            /* negatives and NaN */
        return 0;
    if (v >= 255.0f)
        return 255;
    i = (int)v;                 /* v - i is exact: round half up, no v + 0.5 error */
    return (uint8_t)(i + (v - (float)i >= 0.5f));
}

Image *image_resize(const Image *img, int w, int h)
{
    Taps tx = { 0 }, ty = { 0 };
    float *tmp = NULL, *acc = NULL;
    Image *out = NULL;
    size_t row = (size_t)w * 3;

    if (!image_valid(img) || w < 1 || h < 1 || w > IMAGE_MAX_DIM || h > IMAGE_MAX_DIM)
        return NULL;
    out = image_alloc(w, h, 3);
    if (!out || taps_make(&tx, img->w, w) || taps_make(&ty, img->h, h))
        goto fail;
    tmp = malloc(row * sizeof *tmp);
    acc = malloc(row * sizeof *acc);
    if (!tmp || !acc)
        goto fail;
    for (int y = 0; y < h; y++) {
        const float *wy = ty.w + (size_t)y * ty.n;
        uint8_t *d = out->px + (size_t)y * row;

        memset(acc, 0, row * sizeof *acc);
        for (int k = 0; k < ty.count[y]; k++) {
            size_t sy = (size_t)ty.first[y] + (size_t)k;

            resample_row(img->px + sy * (size_t)img->w * 3, &tx, w, tmp);
            for (size_t i = 0; i < row; i++)
                acc[i] += wy[k] * tmp[i];
        }
        for (size_t i = 0; i < row; i++)
            d[i] = to_u8(acc[i]);
    }
    goto done;
fail:
    image_free(out);
    out = NULL;
done:
    taps_free(&tx);
    taps_free(&ty);
    free(tmp);
    free(acc);
    return out;
}

/* ---- planar --------------------------------------------------------------- */

void image_to_planar(const Image *img, float *dst)
{
    size_t n;

    if (!image_valid(img) || !dst)
        return;
    n = (size_t)img->w * (size_t)img->h;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < 3; c++)
            dst[c * n + i] = img->px[3 * i + c];
}

void image_from_planar(Image *img, const float *src)
{
    size_t n;

    if (!image_valid(img) || !src)
        return;
    n = (size_t)img->w * (size_t)img->h;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < 3; c++)
            img->px[3 * i + c] = to_u8(src[c * n + i]);
}
