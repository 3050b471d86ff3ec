/* loss.h: the training losses. Each returns its value (already multiplied by
 * weight) and ADDS weight * dLoss/dinput into its gradient buffer.
 *
 * Adversarial losses act on a discriminator's raw patch scores d (n floats,
 * averaged over them). Content, total-variation and style losses act on
 * images in pixel units (B, 3, H, W), 0..255.
 */
#ifndef ATELIER_LOSS_H
#define ATELIER_LOSS_H

#include <stddef.h>
#include <stdint.h>

typedef enum GanLoss { GAN_LSGAN, GAN_HINGE, GAN_NS } GanLoss;
typedef enum GanRole { GAN_D_REAL, GAN_D_FAKE, GAN_G } GanRole;

/* LSGAN (Mao et al. 2017): D real (d-1)^2, D fake d^2, G (d-1)^2.
 * Hinge (Lim & Ye 2017): D real relu(1-d), D fake relu(1+d), G -d.
 * Non-saturating (Goodfellow et al. 2014): D real softplus(-d), D fake
 * softplus(d), G softplus(-d). Means over n. */
double loss_gan(float *dd, const float *d, size_t n, GanLoss kind, GanRole role, float weight);

/* Content: mean squared difference between the luminance of out and photo
 * (both 0..255 pixels, scaled to 0..1), each average-pooled by `pool`
 * (pool divides h and w): the photo's structure at a coarse scale, leaving
 * colour, fine texture and strokes to the style terms. With gauss != 0 the
 * luminances are blurred by a Gaussian of sigma pool / 2 instead (reflect
 * borders) and compared at every pixel: the same coarse scale without the
 * box grid, whose cell edges show as blocks once pool reaches 8-16 (pool
 * need not divide h and w then). work holds loss_content_work_floats()
 * floats. */
size_t loss_content_work_floats(int h, int w, int pool, int gauss);
double loss_content(float *dout, const float *out, const float *photo, int b, int h, int w,
                    int pool, int gauss, float weight, float *work);

/* Total variation: mean squared difference of neighbouring pixels (0..1). */
double loss_tv(float *dout, const float *out, int b, int h, int w, float weight);

/* Style: statistics of a fixed random multi-scale convolutional feature
 * extractor (random filters carry texture statistics well: Ustyuzhaninov et
 * al. 2016, "Texture synthesis using shallow convolutional networks with
 * random filters") matched to those of the style image's patches. Each stage
 * is a 3x3 conv + ReLU, stride 1 then 2 (32, 64, 128, then 256 channels);
 * stage k sees 2^k + 1 pixels (3, 5, 9, 17, 33, 65).
 *   STYLE_GRAM: Gram matrices (Gatys et al. 2016); each stage's loss is
 *     |G - G_style|^2 / |G_style|^2 (scale-free).
 *   STYLE_SWD: sliced Wasserstein distance (Heitz et al. 2021) between the
 *     feature distributions, at the pixels (colours) and at every stage:
 *     features projected on fresh random directions each call, the sorted
 *     projections matched; each level's loss is divided by the target
 *     projections' variance. It matches whole distributions, not only their
 *     second moments, so palettes and stroke shapes come through. */
typedef enum StyleKind { STYLE_GRAM, STYLE_SWD } StyleKind;
typedef struct StyleNet StyleNet;

#define STYLE_MIN_DEPTH 1
#define STYLE_MAX_DEPTH 6
#define STYLE_DEPTH 4          /* the default */

/* New extractor of depth stages with random He-normal filters from seed.
 * level_w: depth + 1 weights, the pixels' (SWD only) then each stage's; NULL
 * weighs all alike. NULL with a message on failure. Free with style_free(). */
StyleNet *style_new(uint64_t seed, StyleKind kind, int depth, const float *level_w,
                    char *err, size_t errlen);
void style_free(StyleNet *s);               /* accepts NULL */
/* Bytes the planned extractor holds: its networks' plans and parameter
 * blocks, the target and the SWD scratch (for memory estimates). */
size_t style_bytes(const StyleNet *s);
/* Plans for batch b of h x w images and `threads` threads (tnet_plan; SWD:
 * sizes and clears the target). 0 or -1. */
int style_plan(StyleNet *s, int b, int h, int w, int threads, char *err, size_t errlen);
/* Adds imgs (b, 3, h, w, the planned shape) to the target (Gram: sums the
 * Grams; SWD: samples the features); style_target_done() finishes it. */
void style_target_add(StyleNet *s, const float *imgs);
void style_target_done(StyleNet *s);
/* The target as one block (for checkpoints): pointer and floats. */
float *style_target(StyleNet *s, size_t *floats);
/* SWD's random state (directions, target sampling), for checkpoints: a
 * resumed run draws the same directions. */
uint64_t *style_rng(StyleNet *s);
/* Style loss of img (b, 3, h, w); adds the gradient into dimg. */
double style_loss(StyleNet *s, float *dimg, const float *img, float weight);

/* Structure: the photo's local structure (where its edges are, which way
 * they run, how strong) at the scale of the extractor's last stage, on
 * luminance only. Both out and photo are turned grey (luminance in all three
 * channels) and run through the extractor; the loss is the mean squared
 * difference of the last stage's features divided by the photo features'
 * mean square. Strokes where the photo has detail cost little, texture laid
 * over its flat areas costs, and recolouring costs nothing. s is planned for
 * the batch and image size; work holds style_structure_work_floats(s)
 * floats. Adds the gradient into dout (b, 3, h, w). */
size_t style_structure_work_floats(const StyleNet *s);
double style_structure_loss(StyleNet *s, float *dout, const float *out, const float *photo,
                            float weight, float *work);

#endif
