/* arch.h: the architectures the trainer builds, as spec generators: each
 * returns the JSON spec text (net.h's format) of a network, a new string the
 * caller frees with free(), or NULL when out of memory or given bad options.
 */
#ifndef ATELIER_ARCH_H
#define ATELIER_ARCH_H

/* The fast-style generator (Johnson et al. 2016, the ml5/lengstrom layout):
 * 9x9 conv, two stride-2 3x3 convs, `blocks` residual blocks, two x2
 * upsamplings, 9x9 conv to RGB, tanh mapped to 0..255; instance norm and
 * ReLU between, reflect padding. width: channels of the first conv (32 in
 * the original; then 2x, 4x). resize_conv != 0 upsamples by nearest x2 +
 * 3x3 conv (Odena et al. 2016, against checkerboard artefacts) instead of a
 * transposed convolution; that path then keeps `width` channels (4w -> w ->
 * w) so that, with 4 residual blocks, the network needs fewer FLOPs than
 * the 5-block transposed-conv original (61 against 66 GFLOP at 512x512). */
char *arch_fast_spec(int width, int blocks, int resize_conv);

/* The CycleGAN ResNet generator (Zhu et al. 2017, resnet_9blocks for
 * blocks = 9): c7s1-ngf, two stride-2 downs, residual blocks, two
 * transposed-conv ups, c7s1-3, tanh; reflect padding, instance norm without
 * affine, biases. Layer names follow the PyTorch module (model.N...). */
char *arch_resnet_spec(int ngf, int blocks);

/* The PatchGAN discriminator (pix2pix / CycleGAN NLayerDiscriminator):
 * `layers` stride-2 4x4 convs (ndf, 2ndf, ... capped at 8ndf), one stride-1
 * 4x4 conv, and a 4x4 conv to one channel; LeakyReLU 0.2; instance norm
 * (no affine) after every conv but the first and last when norm != 0 (use 0
 * with spectral norm). layers = 3 is the 70x70 PatchGAN. Input pixels
 * 0..255 mapped to -1..1; output the raw patch scores. */
char *arch_patchgan_spec(int ndf, int layers, int norm);

#endif
