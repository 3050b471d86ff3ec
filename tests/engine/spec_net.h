/* spec_net.h: a small spec network for the engine tests that exercises
 * every layer kind the planners handle: reflect and zero padding, a 5x5
 * direct conv, TF 'same' stride 2, a residual block, instance norm with and
 * without affine, a transposed conv with output_padding, upsampling, tanh. */
#ifndef ATELIER_TEST_SPEC_NET_H
#define ATELIER_TEST_SPEC_NET_H

#include "engine/net.h"

extern const char spec_net_text[];
/* The network of `text` (spec_net_text or a variant) with reproducible
 * random weights; NULL (and a message) when the spec is rejected. */
Net *spec_net(const char *text);
/* spec_net_text without its residual block; caller frees. */
char *spec_without_block(void);

#endif
