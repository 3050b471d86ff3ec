/* net.c: building a network from its JSON spec (net.h documents the format),
 * planning its memory for an input shape, and running it forward.
 *
 * Build: the spec's layer list (residual blocks as nested arrays) becomes a
 * flat op list with RES_BEGIN / RES_END markers; weights are checked against
 * the shapes the spec implies and copied into one aligned block (F16 and
 * BF16 widened to F32). An instance norm followed by a ReLU is fused.
 *
 * Plan: the op list is walked once for a given input size; every activation
 * gets an offset in one arena from a first-fit allocator that frees a value
 * after its last use, and the largest convolution workspace is sized once.
 * The forward pass then allocates nothing.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "engine/layers.h"
#include "engine/net.h"
#include "engine/net_impl.h"
#include "engine/util.h"

/* ---- spec parsing ------------------------------------------------------ */

typedef struct Builder {
    Op *ops;
    int nops, cap;
    const SafeTensors *st;
    size_t nparams;
    char *err;
    size_t errlen;
} Builder;

static Op *push_op(Builder *b, OpKind kind)
{
    if (b->nops >= NET_MAX_OPS) {
        util_errf(b->err, b->errlen, "spec has more than %d layers", NET_MAX_OPS);
        return NULL;
    }
    if (b->nops == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        Op *ops = realloc(b->ops, (size_t)cap * sizeof(Op));
        if (!ops) {
            util_errf(b->err, b->errlen, "out of memory");
            return NULL;
        }
        b->ops = ops;
        b->cap = cap;
    }
    Op *op = &b->ops[b->nops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->w_off = op->b_off = SIZE_MAX;
    return op;
}

static int get_int(json_t *obj, const char *key, int lo, int hi, int def,
                   int *out, const char *layer, Builder *b)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (def == INT32_MIN) {
            util_errf(b->err, b->errlen, "layer %s: missing \"%s\"", layer, key);
            return -1;
        }
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        util_errf(b->err, b->errlen, "layer %s: \"%s\" must be an integer in %d..%d",
               layer, key, lo, hi);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_num(json_t *obj, const char *key, double def, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return -1;
    *out = json_number_value(v);
    return 0;
}

static int get_bool(json_t *obj, const char *key, int def, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 0;
}

/* Records where a tensor will live in the parameter block after checking
 * that it exists with the expected shape. */
static int bind_tensor(Builder *b, const char *layer, const char *suffix,
                       int ndim, const int64_t *shape, size_t *off)
{
    char name[128];
    snprintf(name, sizeof(name), "%s.%s", layer, suffix);
    const StTensor *t = b->st ? st_find(b->st, name) : NULL;
    if (!b->st)
        goto place;   /* a spec without weights (net_from_spec) */
    if (!t) {
        util_errf(b->err, b->errlen, "tensor %s is missing", name);
        return -1;
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) {
        util_errf(b->err, b->errlen, "tensor %s: dtype %s is not a float type",
               name, st_dtype_name(t->dtype));
        return -1;
    }
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == shape[i];
    if (!ok) {
        char want[96] = "", *p = want;
        for (int i = 0; i < ndim; i++)
            p += snprintf(p, (size_t)(want + sizeof(want) - p), "%s%lld",
                          i ? ", " : "", (long long)shape[i]);
        util_errf(b->err, b->errlen, "tensor %s: expected shape (%s)", name, want);
        return -1;
    }
place:;
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    *off = b->nparams;
    b->nparams += (n + NET_ALIGN_FLOATS - 1) / NET_ALIGN_FLOATS * NET_ALIGN_FLOATS;
    return 0;
}

static int parse_pad(json_t *l, Op *op, const char *name, Builder *b)
{
    json_t *p = json_object_get(l, "pad");
    if (!p || (json_is_string(p) && !strcmp(json_string_value(p), "same"))) {
        op->pad_same = 1;
        return 0;
    }
    if (json_is_integer(p) && json_integer_value(p) >= 0 && json_integer_value(p) <= 64) {
        for (int i = 0; i < 4; i++)
            op->pad[i] = (int)json_integer_value(p);
        return 0;
    }
    if (op->kind == OP_CONV && json_is_array(p) && json_array_size(p) == 4) {
        for (int i = 0; i < 4; i++) {
            json_t *v = json_array_get(p, (size_t)i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 64)
                goto bad;
            op->pad[i] = (int)json_integer_value(v);
        }
        return 0;
    }
bad:
    util_errf(b->err, b->errlen, "layer %s: \"pad\" must be \"same\", an integer 0..64%s",
           name, op->kind == OP_CONV ? " or [top, bottom, left, right]" : "");
    return -1;
}

static int parse_conv(json_t *l, Op *op, int *chan, Builder *b)
{
    const char *name = op->name;
    int hi_k = op->kind == OP_CONV ? NET_MAX_KERNEL : NET_MAX_KERNEL;
    if (get_int(l, "in", 1, NET_MAX_CHANNELS, INT32_MIN, &op->cin, name, b) ||
        get_int(l, "out", 1, NET_MAX_CHANNELS, INT32_MIN, &op->cout, name, b) ||
        get_int(l, "k", 1, hi_k, INT32_MIN, &op->k, name, b) ||
        get_int(l, "stride", 1, NET_MAX_STRIDE, 1, &op->stride, name, b) ||
        parse_pad(l, op, name, b))
        return -1;
    if (get_bool(l, "bias", 0, &op->has_bias)) {
        util_errf(b->err, b->errlen, "layer %s: \"bias\" must be true or false", name);
        return -1;
    }
    if (op->cin != *chan) {
        util_errf(b->err, b->errlen, "layer %s: takes %d channels but gets %d",
               name, op->cin, *chan);
        return -1;
    }
    if (op->kind == OP_CONV) {
        json_t *m = json_object_get(l, "pad_mode");
        if (m && !(json_is_string(m) && (!strcmp(json_string_value(m), "zeros") ||
                                         !strcmp(json_string_value(m), "reflect")))) {
            util_errf(b->err, b->errlen, "layer %s: \"pad_mode\" must be \"zeros\" or \"reflect\"", name);
            return -1;
        }
        op->reflect = m && !strcmp(json_string_value(m), "reflect");
    } else {
        if (get_int(l, "output_padding", 0, NET_MAX_STRIDE - 1, 0, &op->out_pad, name, b))
            return -1;
        if (op->pad_same && op->out_pad) {
            util_errf(b->err, b->errlen, "layer %s: output_padding goes with an integer pad", name);
            return -1;
        }
    }
    int64_t ws[4] = { op->kind == OP_CONV ? op->cout : op->cin,
                      op->kind == OP_CONV ? op->cin : op->cout, op->k, op->k };
    int64_t bs[1] = { op->cout };
    if (bind_tensor(b, name, "weight", 4, ws, &op->w_off) ||
        (op->has_bias && bind_tensor(b, name, "bias", 1, bs, &op->b_off)))
        return -1;
    *chan = op->cout;
    return 0;
}

static int parse_layers(Builder *b, json_t *arr, int depth, int *chan, const char *path);

static int parse_layer(Builder *b, json_t *l, int depth, int *chan, const char *where)
{
    if (json_is_array(l)) {
        if (depth >= NET_MAX_DEPTH) {
            util_errf(b->err, b->errlen, "%s: residual blocks nested deeper than %d",
                   where, NET_MAX_DEPTH);
            return -1;
        }
        int c0 = *chan;
        if (!push_op(b, OP_RES_BEGIN) || parse_layers(b, l, depth + 1, chan, where))
            return -1;
        if (*chan != c0) {
            util_errf(b->err, b->errlen, "%s: residual block changes %d channels to %d",
                   where, c0, *chan);
            return -1;
        }
        return push_op(b, OP_RES_END) ? 0 : -1;
    }
    if (!json_is_object(l)) {
        util_errf(b->err, b->errlen, "%s: a layer must be an object or an array", where);
        return -1;
    }
    const char *opname = json_string_value(json_object_get(l, "op"));
    if (!opname) {
        util_errf(b->err, b->errlen, "%s: layer without a string \"op\"", where);
        return -1;
    }
    static const struct { const char *s; OpKind k; } kinds[] = {
        { "conv2d", OP_CONV }, { "conv_transpose2d", OP_CONVT },
        { "instance_norm", OP_IN }, { "relu", OP_RELU }, { "leaky_relu", OP_LRELU },
        { "tanh", OP_TANH }, { "upsample", OP_UP },
    };
    int kind = -1;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(opname, kinds[i].s))
            kind = (int)kinds[i].k;
    if (kind < 0) {
        util_errf(b->err, b->errlen, "%s: unknown op \"%.40s\"", where, opname);
        return -1;
    }
    Op *op = push_op(b, (OpKind)kind);
    if (!op)
        return -1;
    json_t *nm = json_object_get(l, "name");
    if (nm && (!json_is_string(nm) || json_string_length(nm) == 0 ||
               json_string_length(nm) >= sizeof(op->name) - 8)) {
        util_errf(b->err, b->errlen, "%s: \"name\" must be a short non-empty string", where);
        return -1;
    }
    snprintf(op->name, sizeof(op->name), "%s", nm ? json_string_value(nm) : where);
    if ((kind == OP_CONV || kind == OP_CONVT || kind == OP_IN) && !nm) {
        util_errf(b->err, b->errlen, "%s: %s layer needs a \"name\"", where, opname);
        return -1;
    }
    switch (op->kind) {
    case OP_CONV:
    case OP_CONVT:
        return parse_conv(l, op, chan, b);
    case OP_IN: {
        double eps;
        if (get_int(l, "channels", 1, NET_MAX_CHANNELS, *chan, &op->cin, op->name, b))
            return -1;
        if (get_num(l, "eps", 1e-5, &eps) || eps <= 0 || eps > 1) {
            util_errf(b->err, b->errlen, "layer %s: \"eps\" must be a number in (0, 1]", op->name);
            return -1;
        }
        if (get_bool(l, "affine", 1, &op->affine)) {
            util_errf(b->err, b->errlen, "layer %s: \"affine\" must be true or false", op->name);
            return -1;
        }
        if (op->cin != *chan) {
            util_errf(b->err, b->errlen, "layer %s: has %d channels but gets %d",
                   op->name, op->cin, *chan);
            return -1;
        }
        op->eps = (float)eps;
        int64_t s[1] = { op->cin };
        if (op->affine && (bind_tensor(b, op->name, "weight", 1, s, &op->w_off) ||
                           bind_tensor(b, op->name, "bias", 1, s, &op->b_off)))
            return -1;
        return 0;
    }
    case OP_LRELU: {
        double slope;
        if (get_num(l, "slope", 0.2, &slope) || slope < 0 || slope > 1) {
            util_errf(b->err, b->errlen, "layer %s: \"slope\" must be a number in 0..1", op->name);
            return -1;
        }
        op->slope = (float)slope;
        return 0;
    }
    case OP_UP: {
        json_t *m = json_object_get(l, "mode");
        if (m && !(json_is_string(m) && !strcmp(json_string_value(m), "nearest"))) {
            util_errf(b->err, b->errlen, "layer %s: only \"nearest\" upsampling is supported", op->name);
            return -1;
        }
        return get_int(l, "scale", 1, NET_MAX_STRIDE, 2, &op->stride, op->name, b);
    }
    default:
        return 0;
    }
}

static int parse_layers(Builder *b, json_t *arr, int depth, int *chan, const char *path)
{
    size_t i;
    json_t *l;
    json_array_foreach(arr, i, l) {
        char where[64];
        snprintf(where, sizeof(where), "%s.%zu", path, i);
        if (parse_layer(b, l, depth, chan, where))
            return -1;
    }
    return 0;
}

static int parse_mapping(json_t *spec, const char *key, float *scale, float *offset,
                         double def_scale, double def_offset, Builder *b)
{
    json_t *m = json_object_get(spec, key);
    double s = def_scale, o = def_offset;
    if (m && (!json_is_object(m) || get_num(m, "scale", def_scale, &s) ||
              get_num(m, "offset", def_offset, &o) || s == 0 || fabs(s) > 1e6 || fabs(o) > 1e6)) {
        util_errf(b->err, b->errlen, "spec \"%s\" must be {\"scale\": non-zero number, \"offset\": number}", key);
        return -1;
    }
    *scale = (float)s;
    *offset = (float)o;
    return 0;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0)
        f = ldexpf((float)man, -24);
    else if (exp == 31)
        f = man ? NAN : INFINITY;
    else
        f = ldexpf((float)(man | 0x400), (int)exp - 25);
    return sign ? -f : f;
}

static void copy_weights(const Net *net, const SafeTensors *st)
{
    for (int i = 0; i < net->nops; i++) {
        const Op *op = &net->ops[i];
        const char *sfx[2] = { "weight", "bias" };
        size_t offs[2] = { op->w_off, op->b_off };
        for (int j = 0; j < 2; j++) {
            if (offs[j] == SIZE_MAX)
                continue;
            char name[128];
            snprintf(name, sizeof(name), "%s.%s", op->name, sfx[j]);
            const StTensor *t = st_find(st, name);
            float *dst = net->params + offs[j];
            size_t n = t->nbytes / st_dtype_size(t->dtype);
            const uint8_t *src = t->data;
            for (size_t k = 0; k < n; k++) {
                if (t->dtype == ST_F32) {
                    memcpy(&dst[k], src + 4 * k, 4);
                } else {
                    uint16_t v;
                    memcpy(&v, src + 2 * k, 2);
                    if (t->dtype == ST_F16) {
                        dst[k] = half_to_float(v);
                    } else {
                        uint32_t u = (uint32_t)v << 16;
                        memcpy(&dst[k], &u, 4);
                    }
                }
            }
        }
    }
}

/* Parses spec text; binds and copies weights from st, or zero parameters
 * when st is NULL. The network maps in_ch channels to out_ch. */
static Net *net_build(const char *text, const SafeTensors *st, int in_ch, int out_ch,
                      char *err, size_t errlen)
{
    Builder b = { .st = st, .err = err, .errlen = errlen };
    Net *net = calloc(1, sizeof(*net));
    json_t *spec = NULL;
    if (!net) {
        util_errf(err, errlen, "out of memory");
        return NULL;
    }
    if (!text) {
        util_errf(err, errlen, "no \"atelier.spec\" in the file's metadata: not an Atelier model");
        goto fail;
    }
    json_error_t jerr;
    spec = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!spec || !json_is_object(spec)) {
        util_errf(err, errlen, "atelier.spec is not a JSON object%s%s",
               spec ? "" : ": ", spec ? "" : jerr.text);
        goto fail;
    }
    json_t *ver = json_object_get(spec, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        util_errf(err, errlen, "atelier.spec \"version\" must be 1");
        goto fail;
    }
    if (parse_mapping(spec, "input", &net->in_scale, &net->in_offset, 1, 0, &b) ||
        parse_mapping(spec, "output", &net->out_scale, &net->out_offset, 1, 0, &b))
        goto fail;
    json_t *layers = json_object_get(spec, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0) {
        util_errf(err, errlen, "atelier.spec \"layers\" must be a non-empty array");
        goto fail;
    }
    int chan = in_ch;
    if (parse_layers(&b, layers, 0, &chan, "layers"))
        goto fail;
    if (chan != out_ch) {
        util_errf(err, errlen, "the network ends with %d channels, not %d", chan, out_ch);
        goto fail;
    }
    net->ops = b.ops;
    net->nops = b.nops;
    b.ops = NULL;
    for (int i = 0; i + 1 < net->nops; i++)
        if (net->ops[i].kind == OP_IN && net->ops[i + 1].kind == OP_RELU) {
            net->ops[i].fuse_relu = 1;
            net->ops[i + 1].kind = OP_NOP;
        }
    net->nparams = b.nparams;
    net->params = net_alloc_floats(b.nparams ? b.nparams : NET_ALIGN_FLOATS);
    net->spec_json = strdup(text);
    net->card_json = strdup(st && st_meta(st, "atelier.card") ? st_meta(st, "atelier.card") : "{}");
    if (!net->params || !net->spec_json || !net->card_json) {
        util_errf(err, errlen, "out of memory");
        goto fail;
    }
    if (st)
        copy_weights(net, st);
    else
        memset(net->params, 0, (b.nparams ? b.nparams : NET_ALIGN_FLOATS) * sizeof(float));
    json_decref(spec);
    return net;
fail:
    free(b.ops);
    json_decref(spec);
    net_free(net);
    return NULL;
}

Net *net_from_safetensors(const SafeTensors *st, char *err, size_t errlen)
{
    return net_build(st_meta(st, "atelier.spec"), st, 3, 3, err, errlen);
}

Net *net_from_spec(const char *spec_json, int in_ch, int out_ch, char *err, size_t errlen)
{
    return net_build(spec_json, NULL, in_ch, out_ch, err, errlen);
}

Net *net_load(const char *path, char *err, size_t errlen)
{
    SafeTensors *st = st_load_file(path, err, errlen);
    if (!st)
        return NULL;
    Net *net = net_from_safetensors(st, err, errlen);
    st_free(st);
    return net;
}

void net_free(Net *net)
{
    if (!net)
        return;
    free(net->ops);
    free(net->params);
    free(net->spec_json);
    free(net->card_json);
    free(net);
}

const char *net_spec_json(const Net *net) { return net->spec_json; }
const char *net_card_json(const Net *net) { return net->card_json; }

int64_t net_param_count(const Net *net)
{
    int64_t n = 0;
    for (int i = 0; i < net->nops; i++) {
        const Op *op = &net->ops[i];
        if (op->kind == OP_CONV || op->kind == OP_CONVT)
            n += (int64_t)op->cin * op->cout * op->k * op->k + (op->has_bias ? op->cout : 0);
        else if (op->kind == OP_IN && op->affine)
            n += 2 * (int64_t)op->cin;
    }
    return n;
}
