/* arch.c: spec generators for the generators and discriminators we train
 * (arch.h). Specs are built with jansson and serialised once. */
#include <stdio.h>
#include <stdlib.h>
#include "engine/train/arch.h"
#include <jansson.h>

static json_t *conv(const char *name, int cin, int cout, int k, int stride, int pad,
                    int reflect, int bias)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:b}", "op", "conv2d",
                     "name", name, "in", cin, "out", cout, "k", k, "stride", stride,
                     "pad", pad, "pad_mode", reflect ? "reflect" : "zeros", "bias", bias);
}

static json_t *inorm(const char *name, int c, int affine)
{
    return json_pack("{s:s, s:s, s:i, s:f, s:b}", "op", "instance_norm", "name", name,
                     "channels", c, "eps", 1e-5, "affine", affine);
}

static json_t *simple(const char *op)
{
    return json_pack("{s:s}", "op", op);
}

static char *finish(json_t *layers, const char *arch, double in_scale, double in_offset,
                    double out_scale, double out_offset)
{
    if (!layers)
        return NULL;
    json_t *spec = json_pack("{s:i, s:s, s:{s:f, s:f}, s:{s:f, s:f}, s:o}", "version", 1,
                             "arch", arch, "input", "scale", in_scale, "offset", in_offset,
                             "output", "scale", out_scale, "offset", out_offset,
                             "layers", layers);
    if (!spec)
        return NULL;
    char *s = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    return s;
}

/* Appends conv + instance norm + ReLU (relu may be 0). */
static int conv_block(json_t *arr, const char *name, int cin, int cout, int k, int s,
                      int bias, int affine, int relu)
{
    char n[128];
    snprintf(n, sizeof(n), "%s_in", name);
    if (json_array_append_new(arr, conv(name, cin, cout, k, s, k / 2, 1, bias)) ||
        json_array_append_new(arr, inorm(n, cout, affine)))
        return -1;
    return relu ? json_array_append_new(arr, simple("relu")) : 0;
}

char *arch_fast_spec(int width, int blocks, int resize_conv)
{
    if (width < 1 || width > 256 || blocks < 0 || blocks > 32)
        return NULL;
    int c1 = width, c2 = 2 * width, c3 = 4 * width;
    json_t *L = json_array();
    char name[64];
    if (!L || conv_block(L, "conv1", 3, c1, 9, 1, 0, 1, 1) ||
        conv_block(L, "conv2", c1, c2, 3, 2, 0, 1, 1) ||
        conv_block(L, "conv3", c2, c3, 3, 2, 0, 1, 1))
        goto fail;
    for (int i = 0; i < blocks; i++) {
        json_t *r = json_array();
        if (!r || json_array_append_new(L, r))
            goto fail;
        snprintf(name, sizeof(name), "res%da", i);
        if (conv_block(r, name, c3, c3, 3, 1, 0, 1, 1))
            goto fail;
        snprintf(name, sizeof(name), "res%db", i);
        if (conv_block(r, name, c3, c3, 3, 1, 0, 1, 0))
            goto fail;
    }
    /* Resize-convolutions run at the upsampled size, 4x the FLOPs of a
     * transposed convolution: their path is narrowed to `width` channels so
     * the network costs no more than the transposed-conv original. */
    int ch[3] = { c3, resize_conv ? c1 : c2, c1 };
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof(name), "up%d", i + 1);
        if (resize_conv) {
            if (json_array_append_new(L, json_pack("{s:s, s:i, s:s}", "op", "upsample",
                                                   "scale", 2, "mode", "nearest")) ||
                conv_block(L, name, ch[i], ch[i + 1], 3, 1, 0, 1, 1))
                goto fail;
        } else {
            char n[128];
            snprintf(n, sizeof(n), "%s_in", name);
            if (json_array_append_new(L, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:b}",
                    "op", "conv_transpose2d", "name", name, "in", ch[i], "out", ch[i + 1],
                    "k", 3, "stride", 2, "pad", 1, "output_padding", 1, "bias", 0)) ||
                json_array_append_new(L, inorm(n, ch[i + 1], 1)) ||
                json_array_append_new(L, simple("relu")))
                goto fail;
        }
    }
    if (json_array_append_new(L, conv("out", c1, 3, 9, 1, 4, 1, 1)) ||
        json_array_append_new(L, simple("tanh")))
        goto fail;
    return finish(L, resize_conv ? "atelier-fast-style-resize" : "atelier-fast-style",
                  2.0 / 255.0, -1.0, 127.5, 127.5);
fail:
    json_decref(L);
    return NULL;
}

char *arch_resnet_spec(int ngf, int blocks)
{
    if (ngf < 1 || ngf > 512 || blocks < 0 || blocks > 32)
        return NULL;
    json_t *L = json_array();
    char n[64], m[64];
    int idx = 1;   /* module index in the PyTorch Sequential (0 is the pad) */
    if (!L)
        return NULL;
    snprintf(n, sizeof(n), "model.%d", idx);
    snprintf(m, sizeof(m), "model.%d", idx + 1);
    if (json_array_append_new(L, conv(n, 3, ngf, 7, 1, 3, 1, 1)) ||
        json_array_append_new(L, inorm(m, ngf, 0)) || json_array_append_new(L, simple("relu")))
        goto fail;
    idx += 3;
    for (int i = 0; i < 2; i++) {
        int c = ngf << i;
        snprintf(n, sizeof(n), "model.%d", idx);
        snprintf(m, sizeof(m), "model.%d", idx + 1);
        if (json_array_append_new(L, conv(n, c, 2 * c, 3, 2, 1, 0, 1)) ||
            json_array_append_new(L, inorm(m, 2 * c, 0)) ||
            json_array_append_new(L, simple("relu")))
            goto fail;
        idx += 3;
    }
    int c = 4 * ngf;
    for (int i = 0; i < blocks; i++, idx++) {
        json_t *r = json_array();
        if (!r || json_array_append_new(L, r))
            goto fail;
        const int sub[4] = { 1, 2, 5, 6 };  /* conv_block: pad, conv, norm, relu, pad, conv, norm */
        snprintf(n, sizeof(n), "model.%d.conv_block.%d", idx, sub[0]);
        snprintf(m, sizeof(m), "model.%d.conv_block.%d", idx, sub[1]);
        if (json_array_append_new(r, conv(n, c, c, 3, 1, 1, 1, 1)) ||
            json_array_append_new(r, inorm(m, c, 0)) || json_array_append_new(r, simple("relu")))
            goto fail;
        snprintf(n, sizeof(n), "model.%d.conv_block.%d", idx, sub[2]);
        snprintf(m, sizeof(m), "model.%d.conv_block.%d", idx, sub[3]);
        if (json_array_append_new(r, conv(n, c, c, 3, 1, 1, 1, 1)) ||
            json_array_append_new(r, inorm(m, c, 0)))
            goto fail;
    }
    for (int i = 0; i < 2; i++) {
        int ci = c >> i;
        snprintf(n, sizeof(n), "model.%d", idx);
        snprintf(m, sizeof(m), "model.%d", idx + 1);
        if (json_array_append_new(L, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:b}",
                "op", "conv_transpose2d", "name", n, "in", ci, "out", ci / 2, "k", 3,
                "stride", 2, "pad", 1, "output_padding", 1, "bias", 1)) ||
            json_array_append_new(L, inorm(m, ci / 2, 0)) ||
            json_array_append_new(L, simple("relu")))
            goto fail;
        idx += 3;
    }
    snprintf(n, sizeof(n), "model.%d", idx + 1);
    if (json_array_append_new(L, conv(n, ngf, 3, 7, 1, 3, 1, 1)) ||
        json_array_append_new(L, simple("tanh")))
        goto fail;
    char arch[48];
    snprintf(arch, sizeof(arch), "cyclegan-resnet-%dblocks", blocks);
    return finish(L, arch, 2.0 / 255.0, -1.0, 127.5, 127.5);
fail:
    json_decref(L);
    return NULL;
}

char *arch_patchgan_spec(int ndf, int layers, int norm)
{
    if (ndf < 1 || ndf > 512 || layers < 1 || layers > 6)
        return NULL;
    json_t *L = json_array();
    char n[64], m[64];
    int idx = 0;
    if (!L)
        return NULL;
    snprintf(n, sizeof(n), "model.%d", idx);
    if (json_array_append_new(L, conv(n, 3, ndf, 4, 2, 1, 0, 1)) ||
        json_array_append_new(L, json_pack("{s:s, s:f}", "op", "leaky_relu", "slope", 0.2)))
        goto fail;
    idx += 2;
    int c = ndf;
    for (int i = 1; i <= layers; i++) {
        int mult = 1 << (i < 3 ? i : 3);
        int co = ndf * mult;
        snprintf(n, sizeof(n), "model.%d", idx);
        snprintf(m, sizeof(m), "model.%d", idx + 1);
        if (json_array_append_new(L, conv(n, c, co, 4, i == layers ? 1 : 2, 1, 0, 1)) ||
            (norm && json_array_append_new(L, inorm(m, co, 0))) ||
            json_array_append_new(L, json_pack("{s:s, s:f}", "op", "leaky_relu", "slope", 0.2)))
            goto fail;
        idx += 3;
        c = co;
    }
    snprintf(n, sizeof(n), "model.%d", idx);
    if (json_array_append_new(L, conv(n, c, 1, 4, 1, 1, 0, 1)))
        goto fail;
    return finish(L, "patchgan", 2.0 / 255.0, -1.0, 1.0, 0.0);
fail:
    json_decref(L);
    return NULL;
}
