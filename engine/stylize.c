/* stylize.c: the stylize pipeline (stylize.h): the size decision, the
 * runner (whole-image plan or bands, its buffers) and the post-processing
 * (colour preservation, strength blend). */
#include "engine/stylize.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "engine/util.h"

int stylize_fit(int w, int h, int max_size, int *ow, int *oh)
{
    int64_t lng, s;
    if (w <= 0 || h <= 0)
        return -1;
    *ow = w;
    *oh = h;
    lng = w > h ? w : h;
    if (max_size <= 0 || lng <= max_size)
        return 0;
    /* short side * max / long, rounded to nearest; 64-bit: no overflow for
     * any int sizes. */
    s = ((int64_t)(w > h ? h : w) * max_size + lng / 2) / lng;
    if (s < 1)
        s = 1;
    if (w >= h) {
        *ow = max_size;
        *oh = (int)s;
    } else {
        *ow = (int)s;
        *oh = max_size;
    }
    return 1;
}

static float clamp255(float v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

void stylize_preserve_colors(float *out, const float *photo, int h, int w)
{
    size_t n = (size_t)h * (size_t)w;
    float *r = out, *g = out + n, *b = out + 2 * n;
    const float *pr = photo, *pg = photo + n, *pb = photo + 2 * n;
    for (size_t i = 0; i < n; i++) {
        float y = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
        /* Cb - 128 and Cr - 128 of the photo (JFIF). */
        float cb = -0.168736f * pr[i] - 0.331264f * pg[i] + 0.5f * pb[i];
        float cr = 0.5f * pr[i] - 0.418688f * pg[i] - 0.081312f * pb[i];
        r[i] = clamp255(y + 1.402f * cr);
        g[i] = clamp255(y - 0.344136f * cb - 0.714136f * cr);
        b[i] = clamp255(y + 1.772f * cb);
    }
}

void stylize_blend(float *out, const float *photo, int h, int w, float strength)
{
    size_t n = (size_t)3 * (size_t)h * (size_t)w;
    float a = strength >= 0 ? (strength <= 1 ? strength : 1) : (strength < 0 ? 0 : 1);
    if (a == 1)
        return;
    for (size_t i = 0; i < n; i++)
        out[i] = a * out[i] + (1 - a) * photo[i];
}

void stylize_finish(float *out, const float *photo, int h, int w, const StylizeOptions *o)
{
    if (o->preserve_colors)
        stylize_preserve_colors(out, photo, h, w);
    stylize_blend(out, photo, h, w, o->strength);
}

/* ---- the runner ---------------------------------------------------------- */

struct StylizeRun {
    const Net *net;
    int h, w;
    NetPlan *plan;       /* the whole image, or */
    NetTiled *tiled;     /* bands */
    float *in, *out;     /* (3, h, w) each */
    size_t bytes;
};

static size_t buffers_bytes(int h, int w)
{
    return 2 * (size_t)3 * (size_t)h * (size_t)w * sizeof(float);
}

int stylize_run_whole_fits(const Net *net, int h, int w, size_t budget, int threads)
{
    return net_plan_estimate_bytes(net, h, w, threads) + buffers_bytes(h, w) <= budget;
}

void stylize_run_free(StylizeRun *r)
{
    if (!r)
        return;
    net_plan_free(r->plan);
    net_tiled_free(r->tiled);
    free(r->in);
    free(r->out);
    free(r);
}

StylizeRun *stylize_run_new(const Net *net, int h, int w, size_t budget, int threads,
                            int *code, char *err, size_t errlen)
{
    size_t buf = buffers_bytes(h, w);
    StylizeRun *r = calloc(1, sizeof *r);
    if (!r)
        goto oom;
    r->net = net;
    r->h = h;
    r->w = w;
    if (stylize_run_whole_fits(net, h, w, budget, threads)) {
        r->plan = net_plan(net, h, w, threads);
        if (!r->plan) {
            /* Sizes the network cannot take (a reflection pad wider than
             * the image) fail here too; a tiny image is the likely cause. */
            stylize_run_free(r);
            if (h < 32 || w < 32) {
                *code = STYLIZE_ETOOSMALL;
                util_errf(err, errlen, "a %dx%d image is too small for the network", w, h);
                return NULL;
            }
            goto oom_freed;
        }
    }
    if (!r->plan) {
        if (buf < budget)
            r->tiled = net_tiled_plan(net, h, w, budget - buf, threads);
        if (!r->tiled) {
            stylize_run_free(r);
            *code = STYLIZE_ETOOLARGE;
            util_errf(err, errlen, "a %dx%d image does not fit %zu MiB, even in bands", w, h,
                      budget >> 20);
            return NULL;
        }
    }
    r->in = malloc(buf / 2);
    r->out = malloc(buf / 2);
    if (!r->in || !r->out)
        goto oom;
    r->bytes = buf + (r->plan ? net_plan_bytes(r->plan) : net_tiled_bytes(r->tiled));
    return r;
oom:
    stylize_run_free(r);
oom_freed:
    *code = STYLIZE_ENOMEM;
    util_errf(err, errlen, "out of memory for a %dx%d image", w, h);
    return NULL;
}

float *stylize_run_input(StylizeRun *r)
{
    return r->in;
}

int stylize_run_forward(StylizeRun *r)
{
    return r->plan ? net_forward(r->net, r->plan, r->in, r->out)
                   : net_tiled_forward(r->net, r->tiled, r->in, r->out);
}

int stylize_run(StylizeRun *r, Image *img, const StylizeOptions *o)
{
    image_to_planar(img, r->in);
    if (stylize_run_forward(r))
        return -1;
    stylize_finish(r->out, r->in, r->h, r->w, o);
    image_from_planar(img, r->out);
    return 0;
}

size_t stylize_run_bytes(const StylizeRun *r)
{
    return r->bytes;
}

NetPlan *stylize_run_plan(StylizeRun *r)
{
    return r->plan;
}

const NetTiled *stylize_run_tiled(const StylizeRun *r)
{
    return r->tiled;
}
