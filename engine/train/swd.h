/* swd.h: the sliced Wasserstein distance between an image's features and a
 * sample of a painting's (Heitz et al. 2021, "A sliced Wasserstein loss for
 * neural texture synthesis"), shared by the random-feature style loss
 * (loss.c) and the Gabor filter-bank one (style_gabor.h).
 *
 * A level's features are (C, n): n positions of C channels. Both sets are
 * projected on K = swd_dirs(C) random unit directions drawn fresh at every
 * call, each projection row sorted, and the sorted values matched by
 * squared difference; the sum is divided by K n and by the target
 * projections' variance, so levels weigh alike whatever their units.
 *
 * An Swd owns the scratch (planned once, nothing allocated per call) and the
 * random state that draws directions and samples targets; the state is part
 * of a training checkpoint, so a resumed run draws the same directions.
 */
#ifndef ATELIER_SWD_H
#define ATELIER_SWD_H

#include <stddef.h>
#include <stdint.h>
#include "engine/rng.h"

typedef struct SwdPair { uint32_t k, i; } SwdPair;   /* an ordered key, its index */

typedef struct Swd {
    float *pf, *pt, *dpf;      /* (K, n): projections of features, of target; dL/dpf */
    float *dirs;               /* (K, C) directions */
    SwdPair *pairs, *ptmp;     /* (n): one row's keys and indices, radix scratch */
    float *sorted;             /* (n): one target row, sorted */
    Rng rng;                   /* directions and target sampling */
    size_t bytes;              /* the scratch's size, as reserved (memory estimates) */
} Swd;

/* Projections per level of c channels: c, at least 16. */
int swd_dirs(int c);

/* An empty Swd (no scratch) with its random state from seed. */
void swd_init(Swd *w, uint64_t seed);
/* Scratch for levels of at most kn = K n projected values, kc = K C
 * direction floats and n positions (replacing any earlier). 0, or -1 when
 * out of memory (then swd_release() is still safe). */
int swd_reserve(Swd *w, size_t kn, size_t kc, size_t n);
void swd_release(Swd *w);

/* The distance between f (c, n) and the target sample t (c, n), times
 * scale; adds scale * dL/df into df (c, n). */
double swd_match(Swd *w, float *df, const float *f, const float *t, int c, size_t n,
                 float scale);

/* Reservoir sampling of a target: the ntarget-th image's features f (c, n)
 * (ntarget counts from 1) take each slot of t (c, n) with probability
 * 1 / ntarget, so every slot ends up drawn uniformly from the images added. */
void swd_sample(Swd *w, int ntarget, float *t, const float *f, int c, size_t n);

#endif
