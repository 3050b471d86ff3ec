/* infer.c: the worker side of POST /stylize, and each worker's plan cache.
 *
 * An image whose whole-image plan would not fit the worker's memory budget
 * runs banded instead (net_tiled: overlapping bands, global instance-norm
 * statistics, the same result as the whole-image pass up to rounding): it
 * takes longer, but memory stays within the budget whatever the size. Such
 * plans are made per request and never cached.
 *
 * A cache entry holds a reference to the model version it was planned for
 * (a plan points into its Net), so a version swapped out of the registry
 * stays alive until the worker drops the entry: at its next job for that
 * model name, or when the entry is evicted to make room.
 */
#include "server/infer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "server/pool.h"
#include "engine/util.h"

#define CACHE_SLOTS 4

typedef struct Entry {
    ModelRef *model;         /* a reference of the entry's own */
    int h, w;
    NetPlan *plan;
    float *in, *out;         /* (3, h, w) each */
    size_t bytes;            /* plan + buffers */
    uint64_t used;           /* LRU stamp */
} Entry;

struct InferWorker {
    Entry slots[CACHE_SLOTS];
    size_t budget, bytes;
    uint64_t clock;
};

InferWorker *infer_worker_new(size_t budget_bytes)
{
    InferWorker *w = calloc(1, sizeof *w);
    if (w)
        w->budget = budget_bytes;
    return w;
}

static void entry_drop(InferWorker *w, Entry *e)
{
    if (!e->plan)
        return;
    net_plan_free(e->plan);
    free(e->in);
    free(e->out);
    registry_release(e->model);
    w->bytes -= e->bytes;
    memset(e, 0, sizeof *e);
}

void infer_worker_free(InferWorker *w)
{
    if (!w)
        return;
    for (int i = 0; i < CACHE_SLOTS; i++)
        entry_drop(w, &w->slots[i]);
    free(w);
}

size_t infer_worker_bytes(const InferWorker *w)
{
    return w->bytes;
}

ProblemKind infer_image_problem(int img_code)
{
    switch (img_code) {
    case IMG_EFORMAT:
        return PROBLEM_UNSUPPORTED_MEDIA_TYPE;
    case IMG_ECORRUPT:
        return PROBLEM_UNDECODABLE_IMAGE;
    case IMG_ETOOLARGE:
        return PROBLEM_IMAGE_TOO_LARGE;
    case IMG_ENOMEM:
        return PROBLEM_OVERLOADED;
    default:
        return PROBLEM_INTERNAL;
    }
}

__attribute__((format(printf, 3, 4)))
static void fail(InferResult *res, ProblemKind kind, const char *fmt, ...)
{
    va_list ap;
    res->ok = 0;
    res->problem = kind;
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof res->detail, fmt, ap);
    va_end(ap);
}

/* Finds or makes the entry for (model, h, w). Returns NULL with res filled
 * on failure, or NULL with *banded set when the whole-image plan would not
 * fit the budget. */
static Entry *plan_for(InferWorker *w, ModelRef *model, int h, int w_, InferResult *res,
                       int *banded)
{
    Entry *e = NULL, *lru = NULL;
    NetPlan *plan;
    size_t buf, bytes;
    /* Drop plans for other versions of this model: it was swapped. */
    for (int i = 0; i < CACHE_SLOTS; i++) {
        Entry *s = &w->slots[i];
        if (s->plan && !strcmp(s->model->name, model->name) && s->model->id != model->id)
            entry_drop(w, s);
    }
    for (int i = 0; i < CACHE_SLOTS; i++) {
        Entry *s = &w->slots[i];
        if (s->plan && s->model->id == model->id && s->h == h && s->w == w_) {
            s->used = ++w->clock;
            return s;
        }
    }
    buf = (size_t)3 * (size_t)h * (size_t)w_ * sizeof(float);
    if (net_plan_estimate_bytes(model->net, h, w_, engine_get_threads()) + 2 * buf > w->budget) {
        *banded = 1;
        return NULL;
    }
    plan = net_plan(model->net, h, w_);
    if (!plan) {
        /* Sizes the network cannot take (a reflection pad wider than the
         * image) fail here too; a tiny image is the likely cause. */
        if (h < 32 || w_ < 32)
            fail(res, PROBLEM_UNDECODABLE_IMAGE,
                 "a %dx%d image is too small for model %s/v%d", w_, h, model->name,
                 model->version);
        else
            fail(res, PROBLEM_OVERLOADED, "out of memory planning a %dx%d image", w_, h);
        return NULL;
    }
    bytes = net_plan_bytes(plan) + 2 * buf;
    if (bytes > w->budget) {
        net_plan_free(plan);
        *banded = 1;
        return NULL;
    }
    /* Evict least recently used entries until the new one fits. */
    for (;;) {
        int free_slot = 0;
        lru = NULL;
        for (int i = 0; i < CACHE_SLOTS; i++) {
            Entry *s = &w->slots[i];
            if (!s->plan)
                free_slot = 1, e = s;
            else if (!lru || s->used < lru->used)
                lru = s;
        }
        if (free_slot && w->bytes + bytes <= w->budget)
            break;
        entry_drop(w, lru);
    }
    e->in = malloc(buf);
    e->out = malloc(buf);
    if (!e->in || !e->out) {
        free(e->in);
        free(e->out);
        e->in = e->out = NULL;
        net_plan_free(plan);
        fail(res, PROBLEM_OVERLOADED, "out of memory for a %dx%d image", w_, h);
        return NULL;
    }
    atomic_fetch_add(&model->refs, 1);
    e->model = model;
    e->plan = plan;
    e->h = h;
    e->w = w_;
    e->bytes = bytes;
    e->used = ++w->clock;
    w->bytes += bytes;
    return e;
}

/* The banded forward of fit into out, within the worker's budget (the cache
 * is emptied first: the budget is the worker's whole). 0, or -1 with res
 * filled. */
static int run_banded(InferWorker *w, ModelRef *model, Image *fit, const InferParams *p,
                      InferResult *res)
{
    size_t buf = (size_t)3 * (size_t)fit->h * (size_t)fit->w * sizeof(float);
    for (int i = 0; i < CACHE_SLOTS; i++)
        entry_drop(w, &w->slots[i]);
    NetTiled *t = NULL;
    float *in = NULL, *out = NULL;
    int rc = -1;
    if (2 * buf < w->budget)
        t = net_tiled_plan(model->net, fit->h, fit->w, w->budget - 2 * buf,
                           engine_get_threads());
    if (!t) {
        fail(res, PROBLEM_IMAGE_TOO_LARGE,
             "a %dx%d image does not fit the %zu MiB per worker, even in bands; lower max_size",
             fit->w, fit->h, w->budget >> 20);
        return -1;
    }
    in = malloc(buf);
    out = malloc(buf);
    if (!in || !out) {
        fail(res, PROBLEM_OVERLOADED, "out of memory for a %dx%d image", fit->w, fit->h);
        goto done;
    }
    image_to_planar(fit, in);
    if (net_tiled_forward(model->net, t, in, out)) {
        fail(res, PROBLEM_INTERNAL, "the forward pass failed");
        goto done;
    }
    stylize_finish(out, in, fit->h, fit->w, &p->opt);
    image_from_planar(fit, out);
    rc = 0;
done:
    free(in);
    free(out);
    net_tiled_free(t);
    return rc;
}

void infer_run(InferWorker *w, ModelRef *model, const uint8_t *img, size_t len,
               const InferParams *p, InferResult *res)
{
    Image *src = NULL, *fit = NULL;
    Entry *e;
    int code = 0, fw, fh, banded = 0;
    char err[200] = "";
    double t0 = util_now_s(), t1, t2;
    memset(res, 0, sizeof *res);

    src = image_decode(img, len, p->max_pixels, &code, err, sizeof err);
    if (!src) {
        fail(res, infer_image_problem(code), "%s", err[0] ? err : "the image does not decode");
        goto done;
    }
    if (stylize_fit(src->w, src->h, p->max_size, &fw, &fh) > 0) {
        fit = image_resize(src, fw, fh);
        if (!fit) {
            fail(res, PROBLEM_OVERLOADED, "out of memory resizing to %dx%d", fw, fh);
            goto done;
        }
        image_free(src);
        src = NULL;
    } else {
        fit = src;
        src = NULL;
    }
    res->w = fit->w;
    res->h = fit->h;
    e = plan_for(w, model, fit->h, fit->w, res, &banded);
    if (!e && !banded)
        goto done;
    t1 = util_now_s();
    res->decode_s = t1 - t0;
    if (banded) {
        if (run_banded(w, model, fit, p, res))
            goto done;
    } else {
        image_to_planar(fit, e->in);
        if (net_forward(model->net, e->plan, e->in, e->out)) {
            fail(res, PROBLEM_INTERNAL, "the forward pass failed");
            goto done;
        }
        stylize_finish(e->out, e->in, fit->h, fit->w, &p->opt);
        image_from_planar(fit, e->out);
    }
    t2 = util_now_s();
    res->infer_s = t2 - t1;

    res->format = p->format != IMG_UNKNOWN ? p->format : image_sniff(img, len);
    code = res->format == IMG_PNG ? image_encode_png(fit, &res->data, &res->len)
                                  : image_encode_jpeg(fit, p->quality, &res->data, &res->len);
    if (code) {
        res->data = NULL;
        fail(res, code == IMG_ENOMEM ? PROBLEM_OVERLOADED : PROBLEM_INTERNAL,
             "encoding the result failed");
        goto done;
    }
    if (res->format != IMG_PNG)
        res->format = IMG_JPEG;
    res->encode_s = util_now_s() - t2;
    res->ok = 1;
done:
    image_free(src);
    image_free(fit);
}

void infer_result_clear(InferResult *res)
{
    free(res->data);
    res->data = NULL;
    res->len = 0;
}
