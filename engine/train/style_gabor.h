/* style_gabor.h: a style loss on a fixed bank of oriented filters, the
 * classical texture model (Heeger & Bergen 1995, Portilla & Simoncelli
 * 2000), matched by the sliced Wasserstein distance (swd.h).
 *
 * The random-feature extractor of loss.h pins a painting's palette but
 * gives no strokes: cascades of random 3x3 filters have weak orientation
 * tuning and small support. This bank measures "how much stroke energy in
 * which direction at which scale" directly: 8 orientations (theta = k pi/8)
 * of an 11x11 Gabor pair, sigma 2.5, wavelength 6 pixels (even part made
 * zero-mean, each filter unit-norm), on the luminance (-1..1) at `levels`
 * pyramid levels (2x2 averages: 1, 1/2, 1/4, ... so the filters see
 * strokes of 11, 22, 44, 88 pixels), reflect-padded. At every level each
 * position has 27 features: relu(even), relu(-even) and the quadrature
 * energy sqrt(even^2 + odd^2) of each orientation, and three
 * opponent-colour channels (Y, R-G, (R+G)/2-B, 3x3 box-blurred). A
 * painting's patches give the target sample of each level; the loss is the
 * SWD of each level (27 directions), times the level's weight.
 *
 * Shapes: images (B, 3, H, W) in pixels 0..255, NCHW (tensor.h).
 */
#ifndef ATELIER_STYLE_GABOR_H
#define ATELIER_STYLE_GABOR_H

#include <stddef.h>
#include <stdint.h>

#define GABOR_MAX_LEVELS 6
#define GABOR_ORIENT 8         /* orientations */
#define GABOR_CHANNELS 27      /* per level: 8 relu(e), 8 relu(-e), 8 energies, 3 colours */
#define GABOR_ENERGY 16        /* the first energy channel: sqrt(e^2 + o^2 + 1e-6) */
#define GABOR_MIN_SIDE 6       /* the coarsest level's side: the filters pad by 5 */
#define GABOR_DEFAULT_LEVELS 4

typedef struct GaborNet GaborNet;

/* New bank over `levels` pyramid levels (1..GABOR_MAX_LEVELS), weighed by
 * level_w (levels floats; NULL weighs all 1); seed draws the SWD's
 * directions and target samples. NULL with a message on failure. Free with
 * gabor_free(). */
GaborNet *gabor_new(uint64_t seed, int levels, const float *level_w, char *err, size_t errlen);
void gabor_free(GaborNet *g);              /* accepts NULL */

/* Plans for batch b of h x w images and `threads` threads (tnet_plan) and
 * clears the target: h and w must halve levels - 1 times exactly and stay
 * >= GABOR_MIN_SIDE. 0, or -1 with a message. */
int gabor_plan(GaborNet *g, int b, int h, int w, int threads, char *err, size_t errlen);

/* Adds imgs (b, 3, h, w, the planned shape) to the target (each slot drawn
 * uniformly from the patches added); gabor_target_done() finishes it. */
void gabor_target_add(GaborNet *g, const float *imgs);
void gabor_target_done(GaborNet *g);
/* The target as one block (for checkpoints): pointer and floats. */
float *gabor_target(GaborNet *g, size_t *floats);
/* The random state (directions, target sampling), for checkpoints. */
uint64_t *gabor_rng(GaborNet *g);

/* Bytes the planned bank holds: its networks' plans and parameter blocks,
 * pyramid, features, target and SWD scratch (for memory estimates); 0 for
 * NULL. */
size_t gabor_bytes(const GaborNet *g);

/* The loss of img (b, 3, h, w) times weight; adds its gradient into dimg. */
double gabor_loss(GaborNet *g, float *dimg, const float *img, float weight);

/* The features of img at level l (b, GABOR_CHANNELS, h >> l, w >> l),
 * borrowed until the next call (for tests and tools). Every level is
 * computed: gabor_features_at() lends the others. */
const float *gabor_features(GaborNet *g, const float *img, int level);
/* Level l's features of the image the last gabor_features() call took,
 * borrowed likewise. */
const float *gabor_features_at(const GaborNet *g, int level);

#endif
