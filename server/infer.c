/* infer.c: the worker side of POST /stylize, and each worker's cache of
 * stylize runners (engine/stylize.h: the pipeline is the engine's).
 *
 * An image whose whole-image plan would not fit the worker's memory budget
 * runs banded instead (the runner decides: overlapping bands, global
 * instance-norm statistics, the same result as the whole-image pass up to
 * rounding): it takes longer, but memory stays within the budget whatever
 * the size. Such runners are made per request and never cached.
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

#include "server/pool.h"
#include "engine/util.h"

#define CACHE_SLOTS 4

typedef struct Entry {
    ModelRef *model;         /* a reference of the entry's own */
    int h, w;
    StylizeRun *run;         /* a whole-image runner: plan and buffers */
    size_t bytes;
    uint64_t used;           /* LRU stamp */
} Entry;

struct InferWorker {
    Entry slots[CACHE_SLOTS];
    size_t budget, bytes;
    int threads;             /* every runner's: its plan's pool and estimate */
    uint64_t clock;
};

InferWorker *infer_worker_new(size_t budget_bytes, int threads)
{
    InferWorker *w = calloc(1, sizeof *w);
    if (w) {
        w->budget = budget_bytes;
        w->threads = threads;
    }
    return w;
}

static void entry_drop(InferWorker *w, Entry *e)
{
    if (!e->run)
        return;
    stylize_run_free(e->run);
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

__attribute__((format(printf, 3, 4)))
static void fail(InferResult *res, InferError error, const char *fmt, ...)
{
    va_list ap;
    res->ok = 0;
    res->error = error;
    va_start(ap, fmt);
    util_verrf(res->detail, sizeof res->detail, fmt, ap);
    va_end(ap);
}

/* The engine's codes in the worker's words. */
static InferError of_image(int img_code)
{
    switch (img_code) {
    case IMG_EFORMAT:
        return INFER_EFORMAT;
    case IMG_ECORRUPT:
        return INFER_EIMAGE;
    case IMG_ETOOLARGE:
        return INFER_ETOOLARGE;
    case IMG_ENOMEM:
        return INFER_ENOMEM;
    default:
        return INFER_EINTERNAL;
    }
}

static void fail_run(InferResult *res, int code, const char *err, const ModelRef *model)
{
    if (code == STYLIZE_ETOOSMALL)
        fail(res, INFER_EIMAGE, "%s (model %s/v%d)", err, model->name, model->version);
    else if (code == STYLIZE_ETOOLARGE)
        fail(res, INFER_ETOOLARGE, "%s per worker; lower max_size", err);
    else
        fail(res, INFER_ENOMEM, "%s", err);
}

static void drop_all(InferWorker *w)
{
    for (int i = 0; i < CACHE_SLOTS; i++)
        entry_drop(w, &w->slots[i]);
}

/* The runner for (model, h, w): a cached whole-image one, or a new one.
 * A banded runner is never cached (*own is set: the caller frees it), and
 * the cache is emptied before one is made: the budget is the worker's
 * whole. NULL with res filled on failure. */
static StylizeRun *runner_for(InferWorker *w, ModelRef *model, int h, int w_, InferResult *res,
                              int *own)
{
    Entry *e = NULL, *lru;
    StylizeRun *r;
    int code, fits = stylize_run_whole_fits(model->net, h, w_, w->budget, w->threads);
    char err[200];
    *own = 0;
    /* Drop runners for other versions of this model: it was swapped. */
    for (int i = 0; i < CACHE_SLOTS; i++) {
        Entry *s = &w->slots[i];
        if (s->run && !strcmp(s->model->name, model->name) && s->model->id != model->id)
            entry_drop(w, s);
    }
    for (int i = 0; i < CACHE_SLOTS; i++) {
        Entry *s = &w->slots[i];
        if (s->run && s->model->id == model->id && s->h == h && s->w == w_) {
            s->used = ++w->clock;
            return s->run;
        }
    }
    if (!fits)
        drop_all(w);
    r = stylize_run_new(model->net, h, w_, w->budget, w->threads, &code, err, sizeof err);
    if (!r) {
        fail_run(res, code, err, model);
        return NULL;
    }
    if (stylize_run_tiled(r)) {
        *own = 1;
        return r;
    }
    /* Evict least recently used entries until the new one fits. */
    for (;;) {
        int free_slot = 0;
        lru = NULL;
        for (int i = 0; i < CACHE_SLOTS; i++) {
            Entry *s = &w->slots[i];
            if (!s->run)
                free_slot = 1, e = s;
            else if (!lru || s->used < lru->used)
                lru = s;
        }
        if (free_slot && w->bytes + stylize_run_bytes(r) <= w->budget)
            break;
        entry_drop(w, lru);
    }
    registry_retain(model);
    e->model = model;
    e->run = r;
    e->h = h;
    e->w = w_;
    e->bytes = stylize_run_bytes(r);
    e->used = ++w->clock;
    w->bytes += e->bytes;
    return r;
}

void infer_run(InferWorker *w, ModelRef *model, const uint8_t *img, size_t len,
               const InferParams *p, InferResult *res)
{
    Image *src = NULL, *fit = NULL;
    StylizeRun *run = NULL;
    int code = 0, fw, fh, own = 0;
    char err[200] = "";
    double t0 = util_now_s(), t1, t2;
    memset(res, 0, sizeof *res);

    src = image_decode(img, len, p->max_pixels, &code, err, sizeof err);
    if (!src) {
        fail(res, of_image(code), "%s", err[0] ? err : "the image does not decode");
        goto done;
    }
    if (stylize_fit(src->w, src->h, p->max_size, &fw, &fh) > 0) {
        fit = image_resize(src, fw, fh);
        if (!fit) {
            fail(res, INFER_ENOMEM, "out of memory resizing to %dx%d", fw, fh);
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
    run = runner_for(w, model, fit->h, fit->w, res, &own);
    if (!run)
        goto done;
    t1 = util_now_s();
    res->decode_s = t1 - t0;
    if (stylize_run(run, fit, &p->opt)) {
        fail(res, INFER_EINTERNAL, "the forward pass failed");
        goto done;
    }
    t2 = util_now_s();
    res->infer_s = t2 - t1;

    res->format = p->format != IMG_UNKNOWN ? p->format : image_sniff(img, len);
    code = res->format == IMG_PNG ? image_encode_png(fit, &res->data, &res->len)
                                  : image_encode_jpeg(fit, p->quality, &res->data, &res->len);
    if (code) {
        res->data = NULL;
        fail(res, code == IMG_ENOMEM ? INFER_ENOMEM : INFER_EINTERNAL,
             "encoding the result failed");
        goto done;
    }
    if (res->format != IMG_PNG)
        res->format = IMG_JPEG;
    res->encode_s = util_now_s() - t2;
    res->ok = 1;
done:
    if (own)
        stylize_run_free(run);
    image_free(src);
    image_free(fit);
}

void infer_result_clear(InferResult *res)
{
    free(res->data);
    res->data = NULL;
    res->len = 0;
}
