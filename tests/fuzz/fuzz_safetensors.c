/* fuzz_safetensors.c: st_parse on hostile bytes (the 8-byte header length,
 * the JSON header, dtypes, shapes, offsets), then every accessor over what
 * parsed: each tensor's bytes are read whole, so an offset the loader let
 * through outside the buffer shows as an ASan report. */
#include <stdlib.h>
#include <string.h>

#include "engine/safetensors.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    SafeTensors *st = st_parse(data, size, err, sizeof err);
    volatile uint8_t sink = 0;
    if (!st)
        return 0;
    for (int i = 0; i < st_count(st); i++) {
        const StTensor *t = st_tensor(st, i);
        const uint8_t *p = t->data;
        size_t numel = 1;
        if (!t->name || t->ndim < 0 || t->ndim > ST_MAX_DIMS || st_find(st, t->name) != t)
            abort();
        for (int d = 0; d < t->ndim; d++)
            numel *= (size_t)t->shape[d];
        if (numel * st_dtype_size(t->dtype) != t->nbytes)
            abort();
        for (size_t b = 0; b < t->nbytes; b++)
            sink ^= p[b];
        if (t->dtype == ST_F32 && t->nbytes) {
            const float *f = st_f32(t);
            if (!f)
                abort();
            sink ^= (uint8_t)(f[t->nbytes / 4 - 1] != 0);
        }
    }
    (void)st_meta(st, "atelier.spec");
    (void)st_meta(st, "atelier.card");
    st_free(st);
    (void)sink;
    return 0;
}
