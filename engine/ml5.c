/* ml5.c: the ml5 / TensorFlow fast-style checkpoint importer (ml5.h).
 *
 * The network (lengstrom/fast-style-transfer, src/transform.py), with TF
 * 'SAME' zero padding throughout and no biases:
 *   conv1 9x9 s1 3->32, conv2 3x3 s2 32->64, conv3 3x3 s2 64->128, each with
 *   instance norm (eps 1e-3) and ReLU; five residual blocks of two 3x3
 *   128->128 convs with instance norm, ReLU after the first; two 3x3 s2
 *   transposed convs 128->64->32 with instance norm and ReLU; conv4 9x9
 *   32->3 with instance norm; output tanh(x) * 150 + 127.5.
 * Variables, in order: each conv's filter then its norm's shift (beta) and
 * scale (gamma); filters are TF HWIO (kh, kw, in, out), transposed-conv
 * filters TF (kh, kw, out, in).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "engine/ml5.h"
#include "engine/safetensors.h"
#include "engine/util.h"

#define ML5_VARS 48
#define ML5_LAYERS 16   /* convolutions, each with one instance norm */

typedef struct Ml5Layer {
    const char *name;   /* our layer name; its norm is name + "_in" */
    int cin, cout, k, stride, transposed;
} Ml5Layer;

static const Ml5Layer ml5_layers[ML5_LAYERS] = {
    { "conv1", 3, 32, 9, 1, 0 },   { "conv2", 32, 64, 3, 2, 0 },
    { "conv3", 64, 128, 3, 2, 0 },
    { "res0a", 128, 128, 3, 1, 0 }, { "res0b", 128, 128, 3, 1, 0 },
    { "res1a", 128, 128, 3, 1, 0 }, { "res1b", 128, 128, 3, 1, 0 },
    { "res2a", 128, 128, 3, 1, 0 }, { "res2b", 128, 128, 3, 1, 0 },
    { "res3a", 128, 128, 3, 1, 0 }, { "res3b", 128, 128, 3, 1, 0 },
    { "res4a", 128, 128, 3, 1, 0 }, { "res4b", 128, 128, 3, 1, 0 },
    { "deconv1", 128, 64, 3, 2, 1 }, { "deconv2", 64, 32, 3, 2, 1 },
    { "conv4", 32, 3, 9, 1, 0 },
};

/* Reads dir/file into a new buffer of exactly `floats` floats. */
static float *read_var(const char *dir, const char *file, size_t floats,
                       char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path)) {
        util_errf(err, errlen, "path too long: %s/%s", dir, file);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        util_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    float *v = malloc(floats * sizeof(float));
    struct stat sb;
    if (!v || fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) ||
        (size_t)sb.st_size != floats * sizeof(float) ||
        fread(v, sizeof(float), floats, f) != floats) {
        char want[64];
        snprintf(want, sizeof(want), "%zu bytes", floats * sizeof(float));
        util_errf(err, errlen, "%s: not a regular file of %s", path, want);
        free(v);
        fclose(f);
        return NULL;
    }
    fclose(f);
    return v;
}

/* Variable i's file name from the manifest, after checking its shape. */
static const char *manifest_file(json_t *man, int i, const int64_t *shape, int ndim,
                                 char *err, size_t errlen)
{
    char key[32];
    if (i == 0)
        snprintf(key, sizeof(key), "Variable");
    else
        snprintf(key, sizeof(key), "Variable_%d", i);
    json_t *e = json_object_get(man, key);
    json_t *fn = json_object_get(e, "filename");
    json_t *sh = json_object_get(e, "shape");
    const char *file = json_string_value(fn);
    if (!json_is_object(e) || !file || !json_is_array(sh)) {
        util_errf(err, errlen, "manifest.json: %s needs \"filename\" and \"shape\"", key);
        return NULL;
    }
    if (!*file || strchr(file, '/') || !strcmp(file, "..") || !strcmp(file, ".")) {
        util_errf(err, errlen, "manifest.json: %s has a bad filename", key);
        return NULL;
    }
    int ok = (int)json_array_size(sh) == ndim;
    for (int d = 0; ok && d < ndim; d++) {
        json_t *v = json_array_get(sh, (size_t)d);
        ok = json_is_integer(v) && json_integer_value(v) == shape[d];
    }
    if (!ok) {
        util_errf(err, errlen, "manifest.json: %s does not have the fast-style shape", key);
        return NULL;
    }
    return file;
}

static char *ml5_spec(void)
{
    json_t *layers = json_array(), *block = NULL;
    for (int i = 0; i < ML5_LAYERS; i++) {
        const Ml5Layer *L = &ml5_layers[i];
        char norm[32];
        snprintf(norm, sizeof(norm), "%s_in", L->name);
        int in_res = !strncmp(L->name, "res", 3);
        json_t *dst = layers;
        if (in_res) {
            if (L->name[4] == 'a')
                block = json_array();
            dst = block;
        }
        json_array_append_new(dst, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:b}",
            "op", L->transposed ? "conv_transpose2d" : "conv2d", "name", L->name,
            "in", L->cin, "out", L->cout, "k", L->k, "stride", L->stride,
            "pad", "same", "bias", 0));
        json_array_append_new(dst, json_pack("{s:s, s:s, s:i, s:f, s:b}",
            "op", "instance_norm", "name", norm, "channels", L->cout, "eps", 1e-3,
            "affine", 1));
        if (in_res && L->name[4] == 'b') {
            json_array_append_new(layers, block);
            block = NULL;
        } else if (i != ML5_LAYERS - 1) {
            json_array_append_new(dst, json_pack("{s:s}", "op", "relu"));
        }
    }
    json_array_append_new(layers, json_pack("{s:s}", "op", "tanh"));
    json_t *spec = json_pack("{s:i, s:s, s:{s:f, s:f}, s:{s:f, s:f}, s:o}",
        "version", 1, "arch", "ml5-fast-style",
        "input", "scale", 1.0, "offset", 0.0,
        "output", "scale", 150.0, "offset", 127.5, "layers", layers);
    char *text = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
    json_decref(spec);
    return text;
}

static char *ml5_card(const char *dir)
{
    const char *base = strrchr(dir, '/');
    char name[128];
    snprintf(name, sizeof(name), "%s", base && base[1] ? base + 1 : dir);
    size_t n = strlen(name);
    while (n && name[n - 1] == '/')
        name[--n] = '\0';
    json_t *card = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
        "name", name, "title", name,
        "style", "fast style transfer (Johnson et al. 2016), lengstrom/ml5 variant",
        "source", "ml5js/ml5-data-and-models, models/style-transfer",
        "license", "MIT, Copyright (c) 2018 ml5",
        "training", "trained by ml5 with lengstrom/fast-style-transfer; imported by atelier convert --from ml5");
    char *text = card ? json_dumps(card, JSON_COMPACT) : NULL;
    json_decref(card);
    return text;
}

/* Imports dir into a file (out_path) or a buffer (*buf, *len). */
static int ml5_emit(const char *dir, const char *out_path, void **buf, size_t *len,
                    char *err, size_t errlen)
{
    char path[4096];
    float *vars[ML5_VARS] = { 0 };
    float *conv[ML5_LAYERS] = { 0 };
    char *spec = NULL, *card = NULL;
    json_t *man = NULL;
    StWriter *w = NULL;
    int rc = -1;
    if (snprintf(path, sizeof(path), "%s/manifest.json", dir) >= (int)sizeof(path)) {
        util_errf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    json_error_t jerr;
    man = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(man)) {
        util_errf(err, errlen, "%s: not a JSON object (%s)", path, jerr.text);
        goto fail;
    }
    w = stw_new();
    if (!w)
        goto nomem;
    for (int i = 0; i < ML5_LAYERS; i++) {
        const Ml5Layer *L = &ml5_layers[i];
        int64_t tf[4] = { L->k, L->k, L->transposed ? L->cout : L->cin,
                          L->transposed ? L->cin : L->cout };
        int64_t vec[1] = { L->cout };
        const char *f;
        size_t nw = (size_t)L->k * L->k * L->cin * L->cout;
        if (!(f = manifest_file(man, 3 * i, tf, 4, err, errlen)) ||
            !(vars[3 * i] = read_var(dir, f, nw, err, errlen)))
            goto fail;
        for (int j = 1; j <= 2; j++)
            if (!(f = manifest_file(man, 3 * i + j, vec, 1, err, errlen)) ||
                !(vars[3 * i + j] = read_var(dir, f, (size_t)L->cout, err, errlen)))
                goto fail;
        /* TF (kh, kw, a, b) -> ours: conv (out, in, kh, kw) with a = in, b = out;
         * transposed (in, out, kh, kw) with a = out, b = in. Both: (b, a, kh, kw). */
        const float *src = vars[3 * i];
        int A = (int)tf[2], B = (int)tf[3], K = L->k;
        float *dst = conv[i] = malloc(nw * sizeof(float));
        if (!dst)
            goto nomem;
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++)
                for (int a = 0; a < A; a++)
                    for (int b = 0; b < B; b++)
                        dst[(((size_t)b * A + a) * K + ky) * K + kx] =
                            src[(((size_t)ky * K + kx) * A + a) * B + b];
        int64_t shape[4] = { B, A, K, K };
        char name[64];
        snprintf(name, sizeof(name), "%s.weight", L->name);
        if (stw_add(w, name, ST_F32, 4, shape, conv[i]))
            goto nomem;
        snprintf(name, sizeof(name), "%s_in.weight", L->name);
        if (stw_add(w, name, ST_F32, 1, vec, vars[3 * i + 2]))   /* scale, gamma */
            goto nomem;
        snprintf(name, sizeof(name), "%s_in.bias", L->name);
        if (stw_add(w, name, ST_F32, 1, vec, vars[3 * i + 1]))   /* shift, beta */
            goto nomem;
    }
    spec = ml5_spec();
    card = ml5_card(dir);
    if (!spec || !card || stw_meta(w, "atelier.spec", spec) ||
        stw_meta(w, "atelier.card", card))
        goto nomem;
    if (out_path ? stw_write_file(w, out_path, err, errlen) : stw_to_buffer(w, buf, len)) {
        if (!out_path)
            util_errf(err, errlen, "out of memory");
        goto fail;
    }
    rc = 0;
    goto fail;
nomem:
    util_errf(err, errlen, "out of memory");
fail:
    for (int i = 0; i < ML5_VARS; i++)
        free(vars[i]);
    for (int i = 0; i < ML5_LAYERS; i++)
        free(conv[i]);
    free(spec);
    free(card);
    stw_free(w);
    json_decref(man);
    return rc;
}

int ml5_import(const char *dir, void **buf, size_t *len, char *err, size_t errlen)
{
    return ml5_emit(dir, NULL, buf, len, err, errlen);
}

int ml5_convert(const char *dir, const char *out_path, char *err, size_t errlen)
{
    return ml5_emit(dir, out_path, NULL, NULL, err, errlen);
}
