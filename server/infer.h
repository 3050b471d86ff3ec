/* infer.h: one stylize request as a worker runs it, and the worker's own
 * memory.
 *
 * infer_run: decode (pixel limit), fit to max_size, a stylize runner
 * (engine/stylize.h: plan or bands, buffers, forward, post-processing),
 * encode. It runs on a pool worker, never on the HTTP thread. Each worker
 * has an InferWorker: a small LRU cache of whole-image runners (plan,
 * workspace and the input and output buffers for one model version and
 * input size), bounded in bytes,
 * so repeated sizes run with no allocation and a worker's memory never
 * exceeds its budget plus one decoded image.
 */
#ifndef ATELIER_INFER_H
#define ATELIER_INFER_H

#include <stddef.h>
#include <stdint.h>
#include "engine/image.h"
#include "engine/stylize.h"
#include "server/registry.h"

typedef struct InferParams {
    StylizeOptions opt;
    int max_size;             /* STYLIZE_MAX_SIZE_MIN..MAX */
    ImageFormat format;       /* IMG_UNKNOWN: the input's format */
    int quality;              /* JPEG 1..100 */
    int64_t max_pixels;       /* decoded image limit */
} InferParams;

/* Why a request failed, in the worker's words; problem.c's
 * problem_for_infer says what a client is told. */
typedef enum InferError {
    INFER_OK = 0,
    INFER_EFORMAT,            /* not a JPEG or PNG */
    INFER_EIMAGE,             /* does not decode, or too small for the network */
    INFER_ETOOLARGE,          /* too many pixels, or too large even in bands */
    INFER_ENOMEM,             /* out of memory: worth a retry */
    INFER_EINTERNAL           /* the forward pass or the encoder failed */
} InferError;

typedef struct InferResult {
    int ok;                   /* 1: data holds the image */
    InferError error;         /* when !ok */
    char detail[256];
    uint8_t *data;            /* encoded image, malloc'd; owned by the result */
    size_t len;
    ImageFormat format;
    int w, h;                 /* size inferred and returned */
    double decode_s, infer_s, encode_s;
} InferResult;

typedef struct InferWorker InferWorker;

/* A worker's memory: plans are cached while their total stays within
 * budget_bytes; a request needing more than that alone is refused (413).
 * threads: the cores one forward pass of this worker uses (its runners'
 * plans are made, and estimated, for that many). Returns NULL when out of
 * memory. Caller frees with infer_worker_free(). */
InferWorker *infer_worker_new(size_t budget_bytes, int threads);
void infer_worker_free(InferWorker *w);       /* accepts NULL; releases models */

/* Bytes held by w's cached plans. */
size_t infer_worker_bytes(const InferWorker *w);

/* Stylizes img[0..len) with model (borrowed) into res, which it fills
 * whole; on failure res->ok is 0 with the error and a detail. res->data
 * is the caller's to free (infer_result_clear). */
void infer_run(InferWorker *w, ModelRef *model, const uint8_t *img, size_t len,
               const InferParams *p, InferResult *res);
void infer_result_clear(InferResult *res);

#endif
