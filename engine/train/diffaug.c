/* diffaug.c: differentiable augmentation for the discriminator (diffaug.h). */
#include <string.h>
#include "engine/train/diffaug.h"

#define DIFFAUG_FILL 127.5f

void diffaug_draw(DiffAugDraw *draws, int b, int s, int kinds, Rng *r)
{
    int shift = s / 8, half = s / 2;
    for (int n = 0; n < b; n++) {
        DiffAugDraw *d = &draws[n];
        memset(d, 0, sizeof(*d));
        if (kinds & DIFFAUG_TRANSLATION) {
            d->dx = rng_int(r, 2 * shift + 1) - shift;
            d->dy = rng_int(r, 2 * shift + 1) - shift;
        }
        if (kinds & DIFFAUG_CUTOUT) {
            int cx = rng_int(r, s), cy = rng_int(r, s);
            d->cx0 = cx - half / 2 < 0 ? 0 : cx - half / 2;
            d->cx1 = cx + half - half / 2 > s ? s : cx + half - half / 2;
            d->cy0 = cy - half / 2 < 0 ? 0 : cy - half / 2;
            d->cy1 = cy + half - half / 2 > s ? s : cy + half - half / 2;
        }
    }
}

/* Where output pixel (x, y) of draw d reads from: its source index in a
 * plane of side s, or -1 for the fill. */
static long source_of(const DiffAugDraw *d, int x, int y, int s)
{
    if (x >= d->cx0 && x < d->cx1 && y >= d->cy0 && y < d->cy1)
        return -1;
    int sx = x - d->dx, sy = y - d->dy;
    if (sx < 0 || sx >= s || sy < 0 || sy >= s)
        return -1;
    return (long)sy * s + sx;
}

void diffaug_forward(float *out, const float *in, const DiffAugDraw *draws, int b, int s)
{
    size_t plane = (size_t)s * s;
    for (int n = 0; n < b; n++)
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                long src = source_of(&draws[n], x, y, s);
                for (int c = 0; c < 3; c++) {
                    size_t base = ((size_t)n * 3 + c) * plane;
                    out[base + (size_t)y * s + x] = src < 0 ? DIFFAUG_FILL : in[base + (size_t)src];
                }
            }
}

void diffaug_backward(float *din, const float *dout, const DiffAugDraw *draws, int b, int s)
{
    size_t plane = (size_t)s * s;
    for (int n = 0; n < b; n++)
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                long src = source_of(&draws[n], x, y, s);
                if (src < 0)
                    continue;
                for (int c = 0; c < 3; c++) {
                    size_t base = ((size_t)n * 3 + c) * plane;
                    din[base + (size_t)src] += dout[base + (size_t)y * s + x];
                }
            }
}
