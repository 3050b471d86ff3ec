/* diffaug.h: differentiable augmentation of the discriminator's inputs
 * (Zhao et al. 2020, "Differentiable augmentation for data-efficient GAN
 * training"): with one painting the discriminator memorises its patches and
 * wins; the same random translation and cutout applied to real and fake
 * images alike, with the generator's gradient passed back through them,
 * keep it learning what the painting's patches have in common. No colour
 * augmentation: the discriminator's sense of the palette is what keeps the
 * generator's colours plausible.
 *
 *   translation  a shift of up to 1/8 of the side each way, the uncovered
 *                border filled with mid-grey (the paper's zero in -1..1)
 *   cutout       one square of half the side, at a random centre (clipped
 *                at the borders), filled with mid-grey
 *
 * Images are (B, 3, S, S) pixels (0..255), NCHW (tensor.h).
 */
#ifndef ATELIER_DIFFAUG_H
#define ATELIER_DIFFAUG_H

#include <stddef.h>
#include "engine/rng.h"

enum { DIFFAUG_TRANSLATION = 1, DIFFAUG_CUTOUT = 2 };

/* One image's draw: its shift and its cut square (x0..x1, y0..y1 exclusive;
 * empty without cutout). */
typedef struct DiffAugDraw { int dx, dy, cx0, cx1, cy0, cy1; } DiffAugDraw;

/* Draws the augmentation `kinds` (DIFFAUG_* bits) of b images of side s
 * from r into draws[0..b). */
void diffaug_draw(DiffAugDraw *draws, int b, int s, int kinds, Rng *r);

/* out (b, 3, s, s) = the augmented in (b, 3, s, s); out != in. */
void diffaug_forward(float *out, const float *in, const DiffAugDraw *draws, int b, int s);
/* din (b, 3, s, s) += the adjoint of the same augmentation applied to
 * dout (b, 3, s, s). */
void diffaug_backward(float *din, const float *dout, const DiffAugDraw *draws, int b, int s);

#endif
