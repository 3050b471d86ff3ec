/* api_stylize.c: POST /stylize. Parameters come from the query string
 * and, in a multipart body, from the fields beside `image` (the same
 * names, the same checks); unknown or repeated parameters are refused
 * (400) rather than ignored, so a typo such as `strenght=0.3` never passes
 * silently. The image is the raw body or the multipart field `image`; the
 * work is a job on the worker pool (infer.c), and its result becomes the
 * answer. */
#include "server/api.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/repo.h"
#include "server/infer.h"


static const char *const stylize_params[] = {"model", "strength", "preserve_colors",
                                             "max_size", "format", "quality", "version"};
#define NPARAMS (sizeof stylize_params / sizeof stylize_params[0])

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"", "1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    if (!v) {
        *out = 1;       /* "?preserve_colors" alone */
        return 0;
    }
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcasecmp(v, yes[i]))
            return *out = 1, 0;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (!strcasecmp(v, no[i]))
            return *out = 0, 0;
    return -1;
}

/* The parameters of POST /stylize from kv (the query, then a multipart
 * body's fields besides "image") into p, the model name and the version
 * (0 = the served one). Returns 0, or -1 with the 400 in resp. */
static int stylize_params_parse(const Request *req, Response *resp, const HttpKV *kv, int n,
                                InferParams *p, const char **model, int *version)
{
    char q[64];
    long long num;
    *model = NULL;
    *version = 0;
    p->opt.strength = 1.0f;
    p->opt.preserve_colors = 0;
    p->max_size = STYLIZE_MAX_SIZE_DEFAULT;
    p->format = IMG_UNKNOWN;
    p->quality = STYLIZE_JPEG_QUALITY;
    if (req->query_overflow || req->parts_overflow) {
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, NULL, "more than %d parameters",
                       req->query_overflow ? ROUTES_MAX_QUERY : ROUTES_MAX_PARTS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *k = kv[i].key, *v = kv[i].value;
        size_t known = 0;
        while (known < NPARAMS && strcmp(k, stylize_params[known]))
            known++;
        if (known == NPARAMS) {
            char list[128];
            size_t used = 0;
            for (size_t x = 0; x < NPARAMS; x++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", x ? ", " : "",
                                         stylize_params[x]);
            routes_problem(resp, req, PROBLEM_BAD_PARAMETER, reply_quote(k, q, sizeof q),
                           "unknown parameter '%s'; known: %s", q, list);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(kv[j].key, k)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k, "%s given twice", k);
                return -1;
            }
        if (!strcmp(k, "model")) {
            if (!repo_valid_name(v)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "model must match [a-z0-9_-]{1,64}, got '%s'",
                               reply_quote(v, q, sizeof q));
                return -1;
            }
            *model = v;
        } else if (!strcmp(k, "strength")) {
            char *end;
            double s = v && *v ? strtod(v, &end) : NAN;
            if (!v || !*v || *end || !(s >= 0 && s <= 1)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "strength must be a number in 0..1, got '%s'",
                               reply_quote(v, q, sizeof q));
                return -1;
            }
            p->opt.strength = (float)s;
        } else if (!strcmp(k, "preserve_colors")) {
            if (parse_bool(v, &p->opt.preserve_colors)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "preserve_colors must be true or false, got '%s'",
                               reply_quote(v, q, sizeof q));
                return -1;
            }
        } else if (!strcmp(k, "max_size")) {
            if (reply_int_param(req, resp, k, v, STYLIZE_MAX_SIZE_MIN, STYLIZE_MAX_SIZE_MAX, &num))
                return -1;
            p->max_size = (int)num;
        } else if (!strcmp(k, "format")) {
            if (v && (!strcasecmp(v, "jpeg") || !strcasecmp(v, "jpg"))) {
                p->format = IMG_JPEG;
            } else if (v && !strcasecmp(v, "png")) {
                p->format = IMG_PNG;
            } else {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "format must be jpeg or png, got '%s'", reply_quote(v, q, sizeof q));
                return -1;
            }
        } else if (!strcmp(k, "version")) {
            if (reply_int_param(req, resp, k, v, 1, REPO_MAX_VERSION, &num))
                return -1;
            *version = (int)num;
        } else {
            if (reply_int_param(req, resp, k, v, 1, 100, &num))
                return -1;
            p->quality = (int)num;
        }
    }
    return 0;
}

/* The media type of a Content-Type value, lower case, without parameters. */
static void media_type(const char *value, char *out, size_t len)
{
    size_t i = 0;
    while (*value == ' ' || *value == '\t')
        value++;
    for (; *value && *value != ';' && *value != ' ' && i + 1 < len; value++)
        out[i++] = (char)(*value >= 'A' && *value <= 'Z' ? *value + 32 : *value);
    out[i] = '\0';
}

static void job_free(void *state)
{
    StylizeJob *job = state;
    registry_release(job->model);
    infer_result_clear(&job->result);
    free(job);
}

/* The request's log line: the model, and the stages' times once it ran. */
static void job_log(void *state, json_t *line)
{
    const StylizeJob *job = state;
    char model[REPO_NAME_MAX + 16];
    if (job->model) {
        snprintf(model, sizeof model, "%s/v%d", job->model->name, job->model->version);
        json_object_set_new(line, "model", json_string(model));
    }
    if (job->base.t_started > 0)
        json_object_set_new(line, "timings_ms",
                            json_pack("{s:f, s:f, s:f, s:f}", "queue",
                                      (job->base.t_started - job->base.t_queued) * 1e3,
                                      "decode", job->result.decode_s * 1e3, "infer",
                                      job->result.infer_s * 1e3, "encode",
                                      job->result.encode_s * 1e3));
}

StylizeJob *api_stylize_attach(Request *req, Response *resp)
{
    StylizeJob *job = calloc(1, sizeof *job);
    if (!job) {
        routes_problem(resp, req, PROBLEM_OVERLOADED, NULL, "out of memory");
        return NULL;
    }
    req->state = job;
    req->state_free = job_free;
    req->state_log = job_log;
    job->req = req;
    return job;
}

/* Takes the request's reference to the model (and version) asked for.
 * 0, or -1 with the problem in resp. */
static int stylize_acquire(RoutesCtx *ctx, Request *req, Response *resp, StylizeJob *job,
                           const char *name, int version)
{
    const char *which = name ? name : registry_default(ctx->reg);
    char err[256] = "";
    int code;
    job->model = registry_acquire_version(ctx->reg, name, version, &code, err, sizeof err);
    if (job->model)
        return 0;
    if (version && (code == REGISTRY_ENOENT || code == REGISTRY_ENOVERSION ||
                    code == REGISTRY_ELOAD) && which) {
        /* The model may exist and the version not, or not load. */
        routes_problem(resp, req,
                       code == REGISTRY_ELOAD ? PROBLEM_BAD_PARAMETER : PROBLEM_NOT_FOUND,
                       "version", "%s", err);
    } else if (code == REGISTRY_ENOTREADY) {
        routes_problem(resp, req, PROBLEM_NOT_READY, NULL, "model %s is not loaded", which);
        resp->retry_after = 1;
    } else if (code == REGISTRY_ECANDIDATE) {
        routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, "model",
                       "model '%s' has candidate versions only: none is served until one is "
                       "promoted (ask for one with &version=N, see GET /models/%s)", which,
                       which);
    } else if (name) {
        reply_unknown_model(ctx, req, resp, "model", name);
    } else {
        char names[256];
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, "model",
                       "no default model (set one with --default-model or PUT "
                       "/models/default): name one with ?model=; the models are: %s",
                       reply_model_names(ctx, names, sizeof names));
    }
    return -1;
}

/* A multipart body's fields besides "image" are parameters as the query's
 * are: parsed together, so a name given in both is "given twice". 0, or -1
 * with the problem in resp. */
static int stylize_form_params(RoutesCtx *ctx, Request *req, Response *resp, StylizeJob *job)
{
    HttpKV kv[ROUTES_MAX_QUERY + 16];
    char *vals[16];
    const char *name;
    int n = 0, nv = 0, version, rc = -1;
    for (int i = 0; i < req->nquery; i++)
        kv[n++] = req->query[i];
    for (int i = 0; i < req->nparts; i++) {
        FormPart *fp = &req->parts[i];
        if (nv == 16 || fp->len > 256) {
            routes_problem(resp, req, PROBLEM_BAD_PARAMETER, fp->name, "%s",
                           nv == 16 ? "more than 16 form fields besides 'image'"
                                    : "a form field over 256 bytes (the image goes in 'image')");
            goto done;
        }
        if (!(vals[nv] = strndup(fp->data ? (const char *)fp->data : "", fp->len))) {
            routes_problem(resp, req, PROBLEM_OVERLOADED, NULL, "out of memory");
            goto done;
        }
        kv[n++] = (HttpKV){fp->name, vals[nv++]};
    }
    if (!stylize_params_parse(req, resp, kv, n, &job->params, &name, &version)) {
        job->params.max_pixels = ctx->cfg->max_pixels;
        rc = stylize_acquire(ctx, req, resp, job, name, version);
    }
done:
    while (nv)
        free(vals[--nv]);
    return rc;
}

int api_stylize_begin(RoutesCtx *ctx, Request *req, Response *resp)
{
    StylizeJob *job;
    const char *name;
    char mt[64];
    int version;
    if (req->content_length > ctx->cfg->max_body_bytes) {
        routes_too_large(ctx, req, resp);
        return ROUTES_DONE;
    }
    if (req->content_type) {
        media_type(req->content_type, mt, sizeof mt);
        if (!strcmp(mt, "multipart/form-data")) {
            req->multipart = 1;
        } else if (strcmp(mt, "image/jpeg") && strcmp(mt, "image/png") &&
                   strcmp(mt, "application/octet-stream")) {
            routes_problem(resp, req, PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL,
                           "Content-Type %.60s: send image/jpeg, image/png, or "
                           "multipart/form-data with the field 'image'", mt);
            return ROUTES_DONE;
        }
    }
    if (!(job = api_stylize_attach(req, resp)))
        return ROUTES_DONE;
    if (stylize_params_parse(req, resp, req->query, req->nquery, &job->params, &name,
                             &version))
        return ROUTES_DONE;
    job->params.max_pixels = ctx->cfg->max_pixels;
    /* A form may name the model among its fields: chosen with the body. */
    if (!req->multipart && stylize_acquire(ctx, req, resp, job, name, version))
        return ROUTES_DONE;
    return ROUTES_BODY;
}

static void job_run(PoolJob *base, void *worker)
{
    StylizeJob *job = (StylizeJob *)base;
    infer_run(worker, job->model, job->image, job->len, &job->params, &job->result);
    if (job->req->resume)
        job->req->resume(job->req->resume_arg);
}

static void job_cancel(PoolJob *base, void *unused)
{
    StylizeJob *job = (StylizeJob *)base;
    job->cancelled = 1;
    if (job->req->resume)
        job->req->resume(job->req->resume_arg);
}

int api_stylize_body(RoutesCtx *ctx, Request *req, Response *resp)
{
    StylizeJob *job = req->state;
    ImageInfo info;
    int rc, fw, fh;
    if (req->multipart && !req->form_has_field) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "image",
                       "the multipart body has no field 'image'");
        return ROUTES_DONE;
    }
    if (req->multipart && stylize_form_params(ctx, req, resp, job))
        return ROUTES_DONE;
    if (!req->body || !req->body_len) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "image",
                       "the body is empty: send the image");
        return ROUTES_DONE;
    }
    rc = image_probe(req->body, req->body_len, &info);
    if (rc) {
        routes_problem(resp, req, problem_for_image(rc), NULL, "%s",
                       rc == IMG_EFORMAT ? "the body is not a JPEG or PNG image"
                                         : "the image header does not decode");
        return ROUTES_DONE;
    }
    if ((int64_t)info.w * info.h > ctx->cfg->max_pixels) {
        routes_problem(resp, req, PROBLEM_IMAGE_TOO_LARGE, NULL,
                       "%dx%d is %lld pixels, above the limit of %lld", info.w, info.h,
                       (long long)info.w * info.h, (long long)ctx->cfg->max_pixels);
        return ROUTES_DONE;
    }
    if (stylize_fit(info.w, info.h, job->params.max_size, &fw, &fh) < 0) {
        routes_problem(resp, req, PROBLEM_UNDECODABLE_IMAGE, NULL, "the image has no pixels");
        return ROUTES_DONE;
    }
    job->image = req->body;
    job->len = req->body_len;
    job->base.run = job_run;
    job->base.cancel = job_cancel;
    job->base.cost = (double)fw * fh / 1e6;
    req->defer = &job->base;
    return ROUTES_DEFER;
}

void api_stylize_complete(RoutesCtx *ctx, Request *req, Response *resp)
{
    StylizeJob *job = req->state;
    InferResult *res = &job->result;
    double queue_s = job->base.t_started > 0 ? job->base.t_started - job->base.t_queued : 0;
    if (job->cancelled) {
        routes_problem(resp, req, PROBLEM_NOT_READY, NULL, "shutting down");
        resp->close = 1;
        return;
    }
    metrics_stage(ctx->metrics, METRIC_QUEUE, queue_s);
    snprintf(resp->model, sizeof resp->model, "%s/v%d", job->model->name, job->model->version);
    snprintf(resp->timing, sizeof resp->timing,
             "decode;dur=%.1f, queue;dur=%.1f, infer;dur=%.1f, encode;dur=%.1f",
             res->decode_s * 1e3, queue_s * 1e3, res->infer_s * 1e3, res->encode_s * 1e3);
    if (!res->ok) {
        routes_problem(resp, req, problem_for_infer(res->error), NULL, "%s", res->detail);
        if (res->error == INFER_ENOMEM)
            resp->retry_after = ctx->pool ? pool_retry_after(ctx->pool) : 1;
        registry_note_result(ctx->reg, job->model, resp->status >= 500);
        return;
    }
    registry_note_result(ctx->reg, job->model, 0);
    metrics_stage(ctx->metrics, METRIC_DECODE, res->decode_s);
    metrics_stage(ctx->metrics, METRIC_INFER, res->infer_s);
    metrics_stage(ctx->metrics, METRIC_ENCODE, res->encode_s);
    metrics_megapixels(ctx->metrics, (double)res->w * res->h / 1e6);
    free(resp->body);
    resp->status = 200;
    resp->content_type = res->format == IMG_PNG ? "image/png" : "image/jpeg";
    resp->body = res->data;       /* ownership moves to the response */
    resp->len = res->len;
    res->data = NULL;
    res->len = 0;
}
