/* quality.h: numbers that judge a style model on held-out photos, the
 * promotion gate's evidence (docs/training.md, "The quality gate") and what
 * `atelier quality` prints. tools/quality.py computes the same four image
 * numbers with numpy from the pictures `atelier stylize` writes; the
 * definitions are the same, word for word:
 *
 *   edges   the correlation between the luminance gradient magnitudes of
 *           photo and picture, both pooled 2x2 first (texture finer than
 *           that does not count). Luminance 0.299 R + 0.587 G + 0.114 B;
 *           the gradient as numpy.gradient (central differences inside,
 *           one-sided at the borders); pooling drops an odd last row or
 *           column. 1 = the same edges, 0 = unrelated; a flat image (no
 *           variance) gives 0.
 *   fine    the share of the picture's luminance variance in its finest
 *           detail: var(Y - up2(pool2(Y))) / max(var(Y), 1e-9), Y cropped to
 *           even sides. An even grain over everything is high.
 *   spread  the standard deviation across the photos of each picture's mean
 *           colour (population std per channel, then the mean of R, G, B;
 *           0..255). Near 0: every photo comes out the same colour.
 *   style   the palette distance to the painting: a sliced Wasserstein
 *           distance between the picture's and the painting's RGB
 *           distributions. Pixels are projected on QUALITY_NDIRS fixed unit
 *           directions (quality_dirs), each projection sorted, and the
 *           QUALITY_NQUANT quantiles at (k + 0.5) / QUALITY_NQUANT (the
 *           sorted value at index floor((k + 0.5) * n / QUALITY_NQUANT))
 *           compared; the mean absolute difference over directions and
 *           quantiles, in 0..255 units, averaged over the photos. The
 *           painting is used whole, at its own size.
 *   finite  the share of the model's weights that are finite numbers (1
 *           for a sound model; a learning rate that explodes leaves NaN or
 *           infinite weights). The output clamp would turn their pixels
 *           black or white, which the colour numbers see too, but only this
 *           says why.
 */
#ifndef ATELIER_QUALITY_H
#define ATELIER_QUALITY_H

#include "engine/image.h"
#include "engine/net.h"

#define QUALITY_NDIRS 7
#define QUALITY_NQUANT 32

/* The projection directions of the style distance, (QUALITY_NDIRS, 3),
 * each of unit length: the three channels, grey, and three chroma axes. */
extern const double quality_dirs[QUALITY_NDIRS][3];

/* The number between photo and pic, which must have the same size, both at
 * least 4x4 (else 0). */
double quality_edges(const Image *photo, const Image *pic);
/* pic at least 2x2, else 0. */
double quality_fine(const Image *pic);
/* n >= 1 pictures. */
double quality_spread(const Image *const *pics, int n);
/* -1 when out of memory. */
double quality_style(const Image *pic, const Image *painting);

typedef struct QualityScores {
    int photos;              /* how many were judged */
    double finite;           /* share of finite weights */
    double edges, fine;      /* means over the photos */
    double spread;           /* of the pictures */
    double photo_spread;     /* of the photos themselves, for comparison */
    double style;            /* mean over the photos; -1 without a painting */
} QualityScores;

/* The share of net's weights that are finite (1 with no weights). */
double quality_finite(const Net *net);

/* Runs net on each photo (shrunk so its long side is at most max_size, as
 * stylize does) with a plan of `threads` threads and fills *out.
 * painting may be NULL (style = -1). 0, or -1 with a message in err (a
 * plan that cannot be made, out of memory). Photos are borrowed. */
int quality_evaluate(const Net *net, const Image *const *photos, int nphotos,
                     const Image *painting, int max_size, int threads, QualityScores *out,
                     char *err, size_t errlen);

/* The photos a model is judged on when none are given: n (1..QUALITY_SCENES)
 * synthetic scenes of w x h, drawn here (sky, sun, hills, houses with
 * outlines, a textured field), each in its own light, so their colours
 * differ and their edges are known. New images in out[]; -1 when out of
 * memory (none left allocated). */
#define QUALITY_SCENES 6
int quality_scenes(int n, int w, int h, Image **out);

/* The held-out photos of a content folder by the trainer's rule (sorted by
 * name, indices holdout-1, 2*holdout-1, ...; traindata.h), at most max,
 * each shrunk so its long side is at most max_side. A new array of new
 * images in *out; returns the count (0 when the folder holds fewer than
 * holdout photos), or -1 with a message. Free with quality_free_images. */
int quality_holdout_photos(const char *dir, int holdout, int max, int max_side, Image ***out,
                           char *err, size_t errlen);
void quality_free_images(Image **imgs, int n);   /* accepts NULL */

#endif
