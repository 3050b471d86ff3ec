/* image.c: the Image type: its size checks, allocation, resampling and
 * planar conversion. Decoding, encoding and files are image_io.c's over the
 * codecs (image_jpeg.c, image_png.c, behind image_codec.h), which build on
 * this file: no call goes back up.
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
