/* stylize.h: stylizing a photo with a generator, the one pipeline the
 * service (server/infer.c), `atelier stylize` and `atelier bench` run.
 *
 * The pipeline: decode; if the long side exceeds max_size, resize down
 * keeping the aspect ratio (stylize_fit; the result comes back at that
 * size); a StylizeRun for that size (the whole-image plan when it fits the
 * memory budget, else overlapping bands: stylize_run_new), which converts
 * to planar floats, runs the network and finishes (stylize_finish: colour
 * preservation, then the strength blend with the photo) in stylize_run;
 * encode (JPEG at STYLIZE_JPEG_QUALITY unless asked otherwise). Planar
 * images are (3, h, w) floats in 0..255 (tensor.h).
 */
#ifndef ATELIER_STYLIZE_H
#define ATELIER_STYLIZE_H

#define STYLIZE_MAX_SIZE_MIN 64
#define STYLIZE_MAX_SIZE_MAX 8192
#define STYLIZE_MAX_SIZE_DEFAULT 1024
#define STYLIZE_JPEG_QUALITY 90     /* the default, over HTTP and on the command line */

#include <stddef.h>
#include "engine/image.h"
#include "engine/net.h"

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

/* ---- the runner ---------------------------------------------------------- */

/* A network ready to stylize h x w images within budget bytes: the
 * whole-image plan and its input and output buffers when they fit (the
 * plan's estimate, which is its size), else overlapping bands (net_tiled_*,
 * the same pixels up to rounding) with the same buffers counted. threads
 * is the caller's: the plan's or the bands' pool, the same count the
 * estimate is made for. A runner is used by one thread at a time. */
typedef struct StylizeRun StylizeRun;

enum {
    STYLIZE_ETOOSMALL = -1,  /* the network cannot take a size this small */
    STYLIZE_ETOOLARGE = -2,  /* does not fit the budget even in bands */
    STYLIZE_ENOMEM = -3
};

/* 1 when the whole-image plan's estimate and the two buffers fit budget:
 * stylize_run_new will then try the whole image first. */
int stylize_run_whole_fits(const Net *net, int h, int w, size_t budget, int threads);

/* A new runner (free with stylize_run_free), or NULL with a STYLIZE_E*
 * code in *code and a sentence in err. net is borrowed for its lifetime. */
StylizeRun *stylize_run_new(const Net *net, int h, int w, size_t budget, int threads,
                            int *code, char *err, size_t errlen);
void stylize_run_free(StylizeRun *r);                 /* accepts NULL */

/* Stylizes img (h x w) in place: planar, the network, stylize_finish with
 * o, back to 8 bits. 0, or -1 when the forward pass fails. */
int stylize_run(StylizeRun *r, Image *img, const StylizeOptions *o);

/* For benchmarks: the input buffer (3, h, w) to fill, and the bare forward
 * pass from it to the output buffer. 0 or -1. */
float *stylize_run_input(StylizeRun *r);
int stylize_run_forward(StylizeRun *r);

size_t stylize_run_bytes(const StylizeRun *r);        /* plan or bands + buffers */
NetPlan *stylize_run_plan(StylizeRun *r);             /* NULL when banded */
const NetTiled *stylize_run_tiled(const StylizeRun *r); /* NULL when whole */

#endif
