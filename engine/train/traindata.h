/* traindata.h: the training data: content photos from a folder and style
 * images, decoded once through image.h and sampled as random square crops.
 *
 * Content: every .jpg/.jpeg/.png in the folder, sorted by name, downscaled
 * so the shorter side is at most 2 * size. Every `holdout`-th photo
 * (indices holdout-1, 2*holdout-1, ...) is kept out of training for
 * evaluation (0 = none). A sample is a crop whose side is uniform in
 * [size, min(short side, 1.5 * size)] (scale jitter), resized to size x
 * size, flipped left-right with probability 1/2.
 * Style: each image downscaled so its shorter side is at most style_short
 * (0: whole); a sample is a crop whose side is uniform in [lo, hi] of the
 * shorter side (patches at several scales), resized to size x size and
 * flipped with probability 1/2. A painting is only ever seen through such
 * crops, so with style_short = size / lo (tdata_style_short) the smallest
 * crop is still size pixels wide and nothing it shows is lost, while an
 * 8000 x 8000 upload is kept as 1707 x 1707 at size 256 and lo 0.15.
 */
#ifndef ATELIER_TRAINDATA_H
#define ATELIER_TRAINDATA_H

#include <stddef.h>
#include "engine/image.h"
#include "engine/rng.h"

typedef struct TrainData TrainData;

/* Loads the data. Returns NULL with a message in err (no photos, an
 * undecodable file, no memory). Free with tdata_free(). */
TrainData *tdata_load(const char *content_dir, const char *const *styles, int nstyles,
                      int size, int holdout, int style_short, char *err, size_t errlen);
/* The shorter side paintings are kept at for crops of at least lo of
 * their shorter side resized to size: ceil(size / lo). */
int tdata_style_short(int size, float lo);
/* The kept size of style image i. 0, or -1 when there is none. */
int tdata_style_dims(const TrainData *d, int i, int *w, int *h);
void tdata_free(TrainData *d);               /* accepts NULL */

/* The photos of a content folder (.jpg/.jpeg/.png, not hidden), sorted by
 * name: a new array of new names in *out, freed with tdata_free_names().
 * Returns the count, or -1 with a message (unreadable, no photo). */
int tdata_list_photos(const char *dir, char ***out, char *err, size_t errlen);
void tdata_free_names(char **names, int n);
/* 1 when the photo at index i of that list is held out of training. */
int tdata_held_out(int i, int holdout);

int tdata_count(const TrainData *d);          /* training photos */
/* Held-out photos: count, and the file name of the i-th (borrowed). */
int tdata_holdout_count(const TrainData *d);
const char *tdata_holdout_name(const TrainData *d, int i);
/* The i-th held-out photo as a centre square of side size, planar
 * (3, size, size) pixels into dst. 0 or -1. */
int tdata_holdout_square(const TrainData *d, int i, int size, float *dst);

/* Random content crops into dst (b, 3, size, size) pixels. 0 or -1 (no
 * memory). */
int tdata_content_batch(const TrainData *d, Rng *r, int b, float *dst);
/* Random style patches into dst (b, 3, size, size); side fractions lo..hi
 * of the style image's shorter side. 0 or -1. */
int tdata_style_batch(const TrainData *d, Rng *r, int b, float lo, float hi, float *dst);

#endif
