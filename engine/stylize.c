/* stylize.c: the size decision and the post-processing of a stylized
 * image (colour preservation, strength blend). */
#include "engine/stylize.h"

#include <stddef.h>
#include <stdint.h>

int stylize_fit(int w, int h, int max_size, int *ow, int *oh)
{
    int64_t lng, s;
    if (w <= 0 || h <= 0)
        return -1;
    *ow = w;
    *oh = h;
    lng = w > h ? w : h;
    if (max_size <= 0 || lng <= max_size)
        return 0;
    /* short side * max / long, rounded to nearest; 64-bit: no overflow for
     * any int sizes. */
    s = ((int64_t)(w > h ? h : w) * max_size + lng / 2) / lng;
    if (s < 1)
        s = 1;
    if (w >= h) {
        *ow = max_size;
        *oh = (int)s;
    } else {
        *ow = (int)s;
        *oh = max_size;
    }
    return 1;
}

static float clamp255(float v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

void stylize_preserve_colors(float *out, const float *photo, int h, int w)
{
    size_t n = (size_t)h * (size_t)w;
    float *r = out, *g = out + n, *b = out + 2 * n;
    const float *pr = photo, *pg = photo + n, *pb = photo + 2 * n;
    for (size_t i = 0; i < n; i++) {
        float y = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
        /* Cb - 128 and Cr - 128 of the photo (JFIF). */
        float cb = -0.168736f * pr[i] - 0.331264f * pg[i] + 0.5f * pb[i];
        float cr = 0.5f * pr[i] - 0.418688f * pg[i] - 0.081312f * pb[i];
        r[i] = clamp255(y + 1.402f * cr);
        g[i] = clamp255(y - 0.344136f * cb - 0.714136f * cr);
        b[i] = clamp255(y + 1.772f * cb);
    }
}

void stylize_blend(float *out, const float *photo, int h, int w, float strength)
{
    size_t n = (size_t)3 * (size_t)h * (size_t)w;
    float a = strength >= 0 ? (strength <= 1 ? strength : 1) : (strength < 0 ? 0 : 1);
    if (a == 1)
        return;
    for (size_t i = 0; i < n; i++)
        out[i] = a * out[i] + (1 - a) * photo[i];
}

void stylize_finish(float *out, const float *photo, int h, int w, const StylizeOptions *o)
{
    if (o->preserve_colors)
        stylize_preserve_colors(out, photo, h, w);
    stylize_blend(out, photo, h, w, o->strength);
}
