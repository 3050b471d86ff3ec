/* tensor.h: the engine's one data layout.
 *
 * Every activation and weight in the engine is float32, row-major NCHW:
 * element (n, c, y, x) of a tensor with shape (N, C, H, W) lives at
 * ((n*C + c)*H + y)*W + x. Convolution weights are (Cout, Cin, kh, kw)
 * (PyTorch's layout); transposed-convolution weights are (Cin, Cout, kh, kw)
 * (PyTorch's ConvTranspose2d layout). Importers of other layouts convert.
 *
 * A Tensor is a view: it never owns its data. Memory is planned by the
 * network (net.c) in arenas, never allocated inside a layer.
 */
#ifndef ATELIER_TENSOR_H
#define ATELIER_TENSOR_H

#include <stddef.h>

typedef struct Tensor {
    int n, c, h, w;   /* shape (N, C, H, W) */
    float *data;      /* borrowed, n*c*h*w floats */
} Tensor;

static inline size_t tensor_numel(const Tensor *t)
{
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

static inline Tensor tensor_view(float *data, int n, int c, int h, int w)
{
    Tensor t = { n, c, h, w, data };
    return t;
}

#endif
