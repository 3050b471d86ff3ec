/* conv_algo.h: the one choice of convolution algorithm, for inference
 * (net_run.c, net_tiled.c) and training (tpar.c) alike. A new kernel or a
 * new threshold is changed here once.
 */
#ifndef ATELIER_CONV_ALGO_H
#define ATELIER_CONV_ALGO_H

#include "engine/layers.h"

/* Winograd pays off once the GEMMs are wide enough to hide the transforms. */
#define CONV_WINOGRAD_MIN_CHANNELS 16

typedef enum ConvAlgo {
    ALGO_IM2COL,    /* im2col + GEMM: any geometry (the reference the others match) */
    ALGO_WINOGRAD,  /* F(4x4, 3x3), engine/winograd.h */
    ALGO_DIRECT     /* the thin-layer direct kernel, engine/conv_direct.h */
} ConvAlgo;

/* The algorithm for a forward convolution of geometry g: Winograd when it
 * applies and both channel counts reach CONV_WINOGRAD_MIN_CHANNELS, else
 * the direct kernel when it applies, else im2col. */
ConvAlgo conv_algo_pick(const ConvGeom *g);

#endif
