/* quality.h: numbers that judge a style model on held-out photos, the
 * promotion gate's evidence (docs/training.md, "The quality gate") and what
 * `atelier quality` prints. tools/quality.py computes the same six image
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
 *   strokes the stroke distance to the painting: how much stroke energy
 *           runs in which direction at which scale, against the painting's.
 *           The picture is cropped (top left) to sides that are multiples
 *           of 4, at least 24; its luminance at QUALITY_STROKE_LEVELS levels
 *           of a 2x2-mean pyramid goes through the trainer's Gabor bank
 *           (engine/train/style_gabor.h, its one owner: 8 orientations of an
 *           11x11 pair, reflect padding); at each level and orientation the
 *           QUALITY_NQUANT quantiles of the quadrature energy are compared
 *           with the painting's: the mean absolute difference over levels,
 *           orientations and quantiles, averaged over the photos. The
 *           painting is first resized (image_resize) so that a training
 *           crop (the job's size) covers the middle of the style scale (the
 *           job's) of its shorter side: its strokes at the size training
 *           showed them (quality_training_scaled). 0 = the painting's stroke
 *           statistics; a recolouring keeps the photo's (photo_strokes).
 *   mid     new structure at the scale of strokes and swirls: the share of
 *           the picture's luminance variance between its 4x4- and
 *           16x16-pooled copies (structures of 8-32 pixels), the picture
 *           cropped top left to sides that are multiples of 16; 0 below
 *           16x16. The photos' own is photo_mid.
 *   finite  the share of the model's weights that are finite numbers (1
 *           for a sound model; a learning rate that explodes leaves NaN or
 *           infinite weights). The output clamp would turn their pixels
 *           black or white, which the colour numbers see too, but only this
 *           says why.
 */
#ifndef ATELIER_QUALITY_H
#define ATELIER_QUALITY_H

#include <jansson.h>
#include "engine/image.h"
#include "engine/net.h"
#include "engine/train/style_gabor.h"

#define QUALITY_NDIRS 7
#define QUALITY_NQUANT 32
#define QUALITY_STROKE_LEVELS 3
#define QUALITY_STROKE_MIN 24      /* the least side strokes are measured on */

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

/* An image's stroke statistics: per level and orientation the quantiles
 * of the Gabor energy. */
typedef struct QualityStrokes {
    double q[QUALITY_STROKE_LEVELS][GABOR_ORIENT][QUALITY_NQUANT];
} QualityStrokes;

/* img's statistics into *out, the bank planned for `threads` threads. 0, or
 * -1 with a message (img smaller than QUALITY_STROKE_MIN a side, out of
 * memory). */
int quality_stroke_stats(const Image *img, int threads, QualityStrokes *out, char *err,
                         size_t errlen);
/* The mean absolute difference of two images' statistics. */
double quality_strokes(const QualityStrokes *a, const QualityStrokes *b);
/* painting resized so that a size x size crop covers (lo + hi) / 2 of its
 * shorter side, the sides rounded half up. New image; NULL when out of
 * memory or out of range. */
Image *quality_training_scaled(const Image *painting, int size, float lo, float hi);
/* pic at least 16x16, else 0; -1 when out of memory. */
double quality_mid(const Image *pic);

/* What the numbers compare with: the painting (borrowed, whole: the
 * palette) and its stroke statistics at training scale. */
typedef struct QualityPainting {
    const Image *img;
    QualityStrokes strokes;
} QualityPainting;

/* Fills *p for painting img (borrowed for p's life) as a job of crop size
 * `size` and style scale lo..hi sees it. 0, or -1 with a message. */
int quality_painting_init(QualityPainting *p, const Image *img, int size, float lo, float hi,
                          int threads, char *err, size_t errlen);

typedef struct QualityScores {
    int photos;              /* how many were judged */
    double finite;           /* share of finite weights */
    double edges, fine;      /* means over the photos */
    double spread;           /* of the pictures */
    double photo_spread;     /* of the photos themselves, for comparison */
    double style;            /* mean over the photos; -1 without a painting */
    double strokes;          /* mean over the photos whose picture is at least
                                QUALITY_STROKE_MIN a side; -1 without a painting
                                or such a picture */
    double photo_strokes;    /* the same photos' own; -1 likewise */
    double mid, photo_mid;   /* means over the pictures, and over the photos */
} QualityScores;

/* The scores as a new JSON object of the same names ("photos", "finite",
 * "edges", "fine", "spread", "photo_spread", "style", "strokes",
 * "photo_strokes", "mid", "photo_mid"): what `atelier quality` prints and
 * the gate's verdicts carry. NULL when out of memory. */
json_t *quality_json(const QualityScores *q);

/* The share of net's weights that are finite (1 with no weights). */
double quality_finite(const Net *net);

/* Runs net on each photo (shrunk so its long side is at most max_size, as
 * stylize does) with a plan of `threads` threads and fills *out.
 * painting may be NULL (style and strokes -1). 0, or -1 with a message in
 * err (a plan that cannot be made, out of memory). Photos are borrowed. */
int quality_evaluate(const Net *net, const Image *const *photos, int nphotos,
                     const QualityPainting *painting, int max_size, int threads,
                     QualityScores *out, char *err, size_t errlen);

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
