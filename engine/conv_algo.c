/* conv_algo.c: the convolution-algorithm choice (conv_algo.h). */
#include "engine/conv_algo.h"

#include "engine/conv_direct.h"
#include "engine/winograd.h"

ConvAlgo conv_algo_pick(const ConvGeom *g)
{
    if (winograd_applies(g) && g->cin >= CONV_WINOGRAD_MIN_CHANNELS &&
        g->cout >= CONV_WINOGRAD_MIN_CHANNELS)
        return ALGO_WINOGRAD;
    if (conv_direct_applies(g))
        return ALGO_DIRECT;
    return ALGO_IM2COL;
}
