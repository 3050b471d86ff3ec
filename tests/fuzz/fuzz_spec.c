/* fuzz_spec.c: the model spec parser (net_from_safetensors) on hostile
 * spec JSON, and a forward pass of what it accepts.
 *
 * The input is the "atelier.spec" text. So that the mutator gets past the
 * weight checks, the harness reads the spec itself (when it is JSON) and
 * adds a tensor of the shape each named layer asks for, small ones only
 * (the shapes are the fuzzer's; the values a fixed pattern). The model is
 * then serialised and loaded as a server loads a file: st_parse, then
 * net_from_safetensors. An accepted network is planned and run on a 6x5
 * image. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "engine/safetensors.h"
#include "tests/fuzz/fuzz.h"

#define MAX_NUMEL 65536          /* per tensor */
#define MAX_TOTAL (1 << 20)      /* floats in all */

static float pattern[MAX_NUMEL];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int i = 0; i < MAX_NUMEL; i++)
        pattern[i] = (float)((i * 7919) % 201 - 100) / 400.0f;
    return 0;
}

static int64_t field(json_t *l, const char *key)
{
    json_t *v = json_object_get(l, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* Adds name.suffix with shape (ndim dims) when the shape is small. */
static void add(StWriter *w, const char *name, const char *suffix, int ndim, const int64_t *shape,
                size_t *total)
{
    char full[300];
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || shape[d] > MAX_NUMEL)
            return;
        n *= shape[d];
        if (n > MAX_NUMEL)
            return;
    }
    if (*total + (size_t)n > MAX_TOTAL || strlen(name) > 256)
        return;
    snprintf(full, sizeof full, "%s.%s", name, suffix);
    if (stw_add(w, full, ST_F32, ndim, shape, pattern) == 0)
        *total += (size_t)n;
}

static void weights(StWriter *w, json_t *layers, int depth, size_t *total)
{
    size_t i;
    json_t *l;
    if (depth > 16)
        return;
    json_array_foreach(layers, i, l) {
        const char *op = json_string_value(json_object_get(l, "op"));
        const char *name = json_string_value(json_object_get(l, "name"));
        int bias = json_is_true(json_object_get(l, "bias"));
        if (json_is_array(l)) {
            weights(w, l, depth + 1, total);
            continue;
        }
        if (!op || !name)
            continue;
        if (!strcmp(op, "conv2d") || !strcmp(op, "conv_transpose2d")) {
            int64_t ci = field(l, "in"), co = field(l, "out"), k = field(l, "k");
            int64_t s[4] = {co, ci, k, k}, b[1] = {co};
            if (op[4] == '_')
                s[0] = ci, s[1] = co;
            add(w, name, "weight", 4, s, total);
            if (bias)
                add(w, name, "bias", 1, b, total);
        } else if (!strcmp(op, "instance_norm")) {
            int64_t c[1] = {field(l, "channels")};
            if (!json_is_false(json_object_get(l, "affine"))) {
                add(w, name, "weight", 1, c, total);
                add(w, name, "bias", 1, c, total);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[256];
    StWriter *w = stw_new();
    json_t *spec;
    void *buf = NULL;
    size_t len = 0, total = 0;
    SafeTensors *st = NULL;
    Net *net = NULL;
    if (!text || !w)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    if ((spec = json_loads(text, 0, NULL))) {
        weights(w, json_object_get(spec, "layers"), 0, &total);
        json_decref(spec);
    }
    if (stw_meta(w, "atelier.spec", text) || stw_to_buffer(w, &buf, &len))
        goto done;
    if (!(st = st_parse(buf, len, err, sizeof err)))
        abort();            /* the writer's own output always parses */
    if ((net = net_from_safetensors(st, err, sizeof err))) {
        NetPlan *plan = net_plan(net, 5, 6, 1);
        float img[3 * 5 * 6];
        for (int i = 0; i < 3 * 5 * 6; i++)
            img[i] = (float)(i * 9 % 256);
        (void)net_param_count(net);
        (void)net_flops(net, 5, 6);
        if (plan && net_forward(net, plan, img, img) == 0)
            for (int i = 0; i < 3 * 5 * 6; i++)
                if (!(img[i] >= 0 && img[i] <= 255) && !isnan(img[i]))
                    abort();    /* the output is clamped to 0..255 */
        net_plan_free(plan);
    } else if (!err[0]) {
        abort();            /* a refusal says why */
    }
done:
    net_free(net);
    st_free(st);
    free(buf);
    stw_free(w);
    free(text);
    return 0;
}
