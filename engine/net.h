/* net.h: generator networks built from a JSON spec, and their forward pass.
 *
 * A model is one safetensors file (safetensors.h). Its __metadata__ holds
 *   "atelier.spec"  the network spec, JSON text (below)
 *   "atelier.card"  the model card, JSON text: {"name", "title", "style",
 *                   "description", "source", "license", "training"}
 * and its tensors hold the weights, named "<layer name>.weight" and
 * "<layer name>.bias", float32 (F16/BF16 are converted on load).
 *
 * The spec:
 *   {
 *     "version": 1,
 *     "arch": "ml5-fast-style",                free text, informational
 *     "input":  {"scale": 1.0, "offset": 0.0},  x = pixel * scale + offset,
 *                                               pixel in 0..255
 *     "output": {"scale": 150, "offset": 127.5} pixel = clamp(y * scale + offset,
 *                                               0, 255)
 *     "layers": [ LAYER, ... ]
 *   }
 * where LAYER is an object, or a JSON array of LAYERs: a residual block,
 * whose output is its input plus the result of its layers in order.
 *
 *   {"op": "conv2d", "name": N, "in": Ci, "out": Co, "k": K, "stride": S,
 *    "pad": "same" | P | [top, bottom, left, right],
 *    "pad_mode": "zeros" | "reflect", "bias": true | false}
 *       weight N.weight (Co, Ci, K, K); N.bias (Co) when bias is true.
 *       "same" is TensorFlow's: output ceil(in / S), total padding
 *       max((out-1)*S + K - in, 0), the smaller half before.
 *   {"op": "conv_transpose2d", "name": N, "in": Ci, "out": Co, "k": K,
 *    "stride": S, "pad": "same" | P, "output_padding": OP, "bias": bool}
 *       weight N.weight (Ci, Co, K, K) (PyTorch's layout). "same" is
 *       TensorFlow's conv2d_transpose: output in*S, cropping
 *       max(K-S, 0)/2 (rounded down) at the start; P is PyTorch's: output
 *       (in-1)*S - 2P + K + OP, cropping P at the start.
 *   {"op": "instance_norm", "name": N, "channels": C, "eps": E,
 *    "affine": true | false}
 *       y = (x - mean) / sqrt(var + E) * N.weight + N.bias, per channel over
 *       H x W, biased variance.
 *   {"op": "relu"}  {"op": "leaky_relu", "slope": A}  {"op": "tanh"}
 *   {"op": "upsample", "scale": 2, "mode": "nearest"}
 *
 * Output size: a network may return a larger image than its input (TF
 * 'same' stride-2 layers on sizes that are not multiples of the stride);
 * the forward pass crops it back to the input size at the top left, so any
 * size in gives the same size out.
 */
#ifndef ATELIER_NET_H
#define ATELIER_NET_H

#include <stddef.h>
#include <stdint.h>
#include "engine/tensor.h"
#include "engine/safetensors.h"

typedef struct Net Net;
typedef struct NetPlan NetPlan;

/* Builds a network from a validated spec and weights. The weights are
 * copied, so st may be freed afterwards. Returns NULL with a message in err
 * on a bad spec, a missing tensor or a shape mismatch. */
Net *net_from_safetensors(const SafeTensors *st, char *err, size_t errlen);
/* Builds a network from spec text alone, with every parameter zero, mapping
 * in_ch channels to out_ch (a discriminator: 3 to 1). For training, which
 * initialises the weights itself. Same failure contract. */
Net *net_from_spec(const char *spec_json, int in_ch, int out_ch, char *err, size_t errlen);
/* Loads a model file; same contract. */
Net *net_load(const char *path, char *err, size_t errlen);
void net_free(Net *net);                      /* accepts NULL */

const char *net_spec_json(const Net *net);    /* borrowed */
const char *net_card_json(const Net *net);    /* borrowed; "{}" when absent */
int64_t net_param_count(const Net *net);
/* Multiply-adds x2 of the convolutions for an h x w input. */
double net_flops(const Net *net, int h, int w);

/* Plans all memory for one input shape and `threads` threads: an arena for
 * activations, a bounded convolution workspace per thread, and the pool of
 * threads its forward passes split every layer across (the caller plus
 * threads-1 workers; clamped to 1..64, threadpool.h). The count is the
 * caller's and the plan's for its life: a service running N workers gives
 * each plan its share, e.g. two requests at once with one thread each, or
 * one request with two. Returns a new plan or NULL (bad size, no memory, no
 * thread). Caller frees with net_plan_free(). A plan is used by one thread
 * at a time; a Net may be shared read-only by many plans. */
NetPlan *net_plan(const Net *net, int h, int w, int threads);
void net_plan_free(NetPlan *plan);            /* accepts NULL */
/* The bytes net_plan(net, h, w, threads) would hold (net_plan_bytes()),
 * without allocating them; SIZE_MAX for a size it refuses. */
size_t net_plan_estimate_bytes(const Net *net, int h, int w, int threads);
size_t net_plan_bytes(const NetPlan *plan);   /* arena + workspaces + Winograd weights */

/* Runs the network: in is (3, h, w) pixels 0..255, out is (3, h, w) pixels
 * 0..255 (clamped, not rounded). in and out may be the same buffer.
 * Returns 0 or a negative error. */
int net_forward(const Net *net, NetPlan *plan, const float *in, float *out);

/* Tiled forward for large images, in bounded memory (net_tiled.c): the
 * image is cut into bands of rows that overlap by the network's reach, and
 * instance-norm statistics are gathered over the whole image first (one
 * sweep per norm layer), so the output equals net_forward()'s up to float
 * rounding while memory no longer grows with the image. Slower: the sweeps
 * recompute earlier layers (2.6x the work for ml5 with a checkpoint of the
 * residual stage, 10x without one).
 * net_tiled_plan() plans for an h x w input within budget bytes (band
 * buffers, workspace for `threads` threads, transformed weights; not the
 * caller's in/out). Returns NULL when the budget cannot hold even one-row
 * bands, on a bad size, or with no memory. Caller frees with
 * net_tiled_free() (accepts NULL). net_tiled_forward() has
 * net_forward()'s contract except that in and out may be the same buffer
 * only when net_tiled_in_place() says so (a checkpoint is used, so the
 * input is not read again), and must not overlap otherwise; one thread at a
 * time per NetTiled. */
typedef struct NetTiled NetTiled;
NetTiled *net_tiled_plan(const Net *net, int h, int w, size_t budget, int threads);
void net_tiled_free(NetTiled *t);
int net_tiled_forward(const Net *net, NetTiled *t, const float *in, float *out);
size_t net_tiled_bytes(const NetTiled *t);    /* memory it holds */
int net_tiled_bands(const NetTiled *t);       /* bands of the output sweep */
int net_tiled_sweeps(const NetTiled *t);      /* passes over the image */
int net_tiled_in_place(const NetTiled *t);    /* 1: in and out may be one buffer */

/* The thread count the plan was made with (clamped); 0 for NULL. */
int net_plan_threads(const NetPlan *plan);

/* Per-layer timing: net_plan_set_profile(plan, 1) starts summing the wall
 * time of every step over the following forwards (0 stops; -1 on no
 * memory). net_plan_profile_step() gives step i's name and mean ms per
 * forward; -1 past the last step or when profiling is off. */
int net_plan_set_profile(NetPlan *plan, int on);
int net_plan_profile_step(const NetPlan *plan, int i, const char **name, double *ms);

#endif
