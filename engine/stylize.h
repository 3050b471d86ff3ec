/* stylize.h: what happens around a generator's forward pass when a photo
 * is stylized, shared by `atelier stylize` and the service.
 *
 * The pipeline: decode; if the long side exceeds max_size, resize down
 * keeping the aspect ratio (stylize_fit; the result comes back at that
 * size); convert to planar floats; net_forward; stylize_finish (colour
 * preservation, then the strength blend with the photo); convert back and
 * encode. Images here are planar (3, h, w) floats in 0..255 (tensor.h).
 */
#ifndef ATELIER_STYLIZE_H
#define ATELIER_STYLIZE_H

#define STYLIZE_MAX_SIZE_MIN 64
#define STYLIZE_MAX_SIZE_MAX 8192
#define STYLIZE_MAX_SIZE_DEFAULT 1024

typedef struct StylizeOptions {
    float strength;          /* 0 = the photo, 1 = the generator's output */
    int preserve_colors;     /* keep the photo's chroma, restyle luminance */
} StylizeOptions;

/* The size to infer at: (w, h) itself when its long side is at most
 * max_size (or max_size <= 0), otherwise scaled so the long side is
 * max_size, the short side rounded to nearest and at least 1. Returns 1
 * when the size changes, 0 when not, -1 on a non-positive w or h. */
int stylize_fit(int w, int h, int max_size, int *ow, int *oh);

/* Colour preservation (Gatys et al., "Preserving Color in Neural Artistic
 * Style Transfer", 2016, luminance-only transfer): out (3, h, w) keeps its
 * luma Y and takes the chroma Cb, Cr of photo (3, h, w), in the full-range
 * BT.601 YCbCr of JPEG; the result is clamped to 0..255. In place. */
void stylize_preserve_colors(float *out, const float *photo, int h, int w);

/* out = strength * out + (1 - strength) * photo, strength clamped to 0..1
 * (NaN counts as 1). In place. */
void stylize_blend(float *out, const float *photo, int h, int w, float strength);

/* Both, in that order, as options say. photo is the network's input. */
void stylize_finish(float *out, const float *photo, int h, int w, const StylizeOptions *o);

#endif
