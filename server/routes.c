/* routes.c: route matching, the handlers of every route, and the
 * conversion of a finished stylize job into a response.
 *
 * Parameters of POST /stylize come from the query string only; unknown or
 * repeated parameters are refused (400) rather than ignored, so a typo such
 * as `strenght=0.3` never passes silently.
 */
#include "server/routes.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/auth.h"
#include "server/redact.h"
#include "server/jobq.h"
#include "engine/repo.h"
#include "server/thumbnail.h"
#include "server/train_api.h"
#include "server/web.h"

static const struct {
    const char *label;
    const char *allow;
} routes[ROUTE_COUNT] = {
    [ROUTE_NONE] = {"other", ""},
    [ROUTE_STYLIZE] = {"/stylize", "POST"},
    [ROUTE_MODELS] = {"/models", "GET, HEAD"},
    [ROUTE_MODEL_DEFAULT] = {"/models/default", "GET, HEAD, PUT"},
    [ROUTE_MODEL] = {"/models/{name}", "GET, HEAD"},
    [ROUTE_MODEL_CURRENT] = {"/models/{name}/current", "PUT, DELETE"},
    [ROUTE_MODEL_THUMBNAIL] = {"/models/{name}/thumbnail", "GET, HEAD"},
    [ROUTE_TRAIN] = {"/train", "GET, HEAD, POST"},
    [ROUTE_TRAIN_JOB] = {"/train/{id}", "GET, HEAD, DELETE"},
    [ROUTE_TRAIN_PREVIEW] = {"/train/{id}/preview", "GET, HEAD"},
    [ROUTE_TRAIN_HISTORY] = {"/train/{id}/history", "GET, HEAD"},
    [ROUTE_HEALTHZ] = {"/healthz", "GET, HEAD"},
    [ROUTE_READYZ] = {"/readyz", "GET, HEAD"},
    [ROUTE_METRICS] = {"/metrics", "GET, HEAD"},
    [ROUTE_OPENAPI] = {"/openapi.yaml", "GET, HEAD"},
    [ROUTE_UI] = {"/ui/{file}", "GET, HEAD"},
};

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t routes_unescape(char *s)
{
    char *r = s, *w = s;
    while (*r) {
        int hi, lo;
        if (r[0] == '%' && (hi = hex(r[1])) >= 0 && (lo = hex(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

const char *routes_label(RouteId id)
{
    return (int)id >= 0 && id < ROUTE_COUNT ? routes[id].label : routes[ROUTE_NONE].label;
}

const char *routes_allow(RouteId id)
{
    return (int)id >= 0 && id < ROUTE_COUNT ? routes[id].allow : "";
}

/* Length of the path segment at p (up to '/' or the end), or 0 if empty. */
static size_t segment(const char *p)
{
    return strcspn(p, "/");
}

RouteId routes_match(const char *path)
{
    static const struct {
        const char *path;
        RouteId id;
    } fixed[] = {
        {"/stylize", ROUTE_STYLIZE}, {"/models", ROUTE_MODELS},   {"/train", ROUTE_TRAIN},
        {"/models/default", ROUTE_MODEL_DEFAULT},
        {"/healthz", ROUTE_HEALTHZ}, {"/readyz", ROUTE_READYZ},   {"/metrics", ROUTE_METRICS},
        {"/openapi.yaml", ROUTE_OPENAPI}, {"/", ROUTE_UI},
    };
    size_t n;
    if (!path)
        return ROUTE_NONE;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(path, fixed[i].path))
            return fixed[i].id;
    if (!strncmp(path, "/models/", 8) && (n = segment(path + 8)) > 0) {
        if (!path[8 + n])
            return ROUTE_MODEL;
        if (!strcmp(path + 8 + n, "/current"))
            return ROUTE_MODEL_CURRENT;
        if (!strcmp(path + 8 + n, "/thumbnail"))
            return ROUTE_MODEL_THUMBNAIL;
    }
    if (!strncmp(path, "/ui/", 4) && path[4])
        return ROUTE_UI;
    if (!strncmp(path, "/train/", 7) && (n = segment(path + 7)) > 0) {
        if (!path[7 + n])
            return ROUTE_TRAIN_JOB;
        if (!strcmp(path + 7 + n, "/preview"))
            return ROUTE_TRAIN_PREVIEW;
        if (!strcmp(path + 7 + n, "/history"))
            return ROUTE_TRAIN_HISTORY;
    }
    return ROUTE_NONE;
}

static int method_allowed(RouteId id, const char *method)
{
    const char *allow = routes_allow(id), *p = allow;
    size_t n = strlen(method);
    if (!n)
        return 0;           /* strstr finds "" everywhere: the loop would not end */
    while ((p = strstr(p, method))) {
        int start = p == allow || p[-1] == ' ';
        int end = p[n] == '\0' || p[n] == ',';
        if (start && end)
            return 1;
        p += n;
    }
    return 0;
}

void routes_problem(Response *resp, const Request *req, ProblemKind kind, const char *param,
                    const char *fmt, ...)
{
    char detail[384];
    va_list ap;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    free(resp->body);
    resp->status = problem_status(kind);
    resp->content_type = PROBLEM_CONTENT_TYPE;
    resp->body = (uint8_t *)problem_render(kind, fmt ? detail : NULL, param,
                                           req ? req->path : NULL,
                                           req ? req->request_id : NULL, &resp->len);
    if (!resp->body)
        resp->len = 0;
}

static void json_reply(Response *resp, const Request *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    free(resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = (uint8_t *)text;
    resp->len = strlen(text);
}

void routes_json(Response *resp, const Request *req, int status, json_t *body)
{
    json_reply(resp, req, status, body);
}

static void copy_reply(Response *resp, const Request *req, const char *type, const void *data,
                       size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    memcpy(copy, data, len);
    free(resp->body);
    resp->status = 200;
    resp->content_type = type;
    resp->body = copy;
    resp->len = len;
}

/* ---- models ------------------------------------------------------------- */

/* "a, b, c" (the models there are), or "none", into buf. */
static const char *model_names(RoutesCtx *ctx, char *buf, size_t len)
{
    RegistryInfo *infos = NULL;
    int n = registry_list(ctx->reg, &infos);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used + 70 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", infos[i].name);
    if (n > 0 && used + 70 >= len && n > 1)
        snprintf(buf + used, len - used, ", ...");
    registry_list_free(infos, n < 0 ? 0 : n);
    if (!buf[0])
        snprintf(buf, len, "none");
    return buf;
}

/* 404 for a model name that is not in the repository, listing those that
 * are, so a client's first mistake tells it what to ask for. */
static void unknown_model(RoutesCtx *ctx, const Request *req, Response *resp, const char *param,
                          const char *name)
{
    char names[256];
    routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, param, "no model '%.64s'; the models are: %s",
                   name, model_names(ctx, names, sizeof names));
}

static json_t *model_json(const RegistryInfo *info, int is_default, int detailed)
{
    json_t *o = json_object(), *versions = json_array(), *card = NULL;
    if (!o || !versions) {
        json_decref(o);
        json_decref(versions);
        return NULL;
    }
    for (int i = 0; i < info->nversions; i++)
        json_array_append_new(versions, json_integer(info->versions[i]));
    if (info->card)
        card = json_loads(info->card, 0, NULL);
    json_object_set_new(o, "name", json_string(info->name));
    json_object_set_new(o, "current", json_integer(info->current));
    json_object_set_new(o, "pinned", info->pinned ? json_integer(info->pinned) : json_null());
    json_object_set_new(o, "versions", versions);
    json_object_set_new(o, "ready", json_boolean(info->loaded != 0));
    json_object_set_new(o, "default", json_boolean(is_default));
    /* Open routes: no path of this machine (server/redact.h). */
    redact_json(card);
    json_object_set_new(o, "card", json_is_object(card) ? card : json_object());
    if (!json_is_object(card))
        json_decref(card);
    if (detailed) {
        json_object_set_new(o, "loaded", info->loaded ? json_integer(info->loaded) : json_null());
        json_object_set_new(o, "params", json_integer(info->params));
        if (info->error) {
            char *e = redact_paths(info->error);
            json_object_set_new(o, "error", json_string(e ? e : "does not load"));
            free(e);
        }
    }
    return o;
}

static void get_models(RoutesCtx *ctx, const Request *req, Response *resp)
{
    RegistryInfo *infos = NULL;
    const char *def = registry_default(ctx->reg);
    int n = registry_list(ctx->reg, &infos);
    json_t *list = json_array(), *body = json_object();
    if (n < 0 || !list || !body) {
        json_decref(list);
        json_decref(body);
        registry_list_free(infos, n < 0 ? 0 : n);
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++)
        json_array_append_new(list, model_json(&infos[i], def && !strcmp(def, infos[i].name), 0));
    registry_list_free(infos, n);
    json_object_set_new(body, "default", def ? json_string(def) : json_null());
    json_object_set_new(body, "default_from", json_string(registry_default_from(ctx->reg)));
    json_object_set_new(body, "models", list);
    json_reply(resp, req, 200, body);
}

static void get_model(RoutesCtx *ctx, const Request *req, Response *resp)
{
    const char *name = req->path + strlen("/models/");
    const char *def = registry_default(ctx->reg);
    RegistryInfo info;
    int rc = registry_info(ctx->reg, name, &info);
    if (rc == REGISTRY_EINVAL || rc == REGISTRY_ENOENT) {
        /* A path segment that is not a model name names no model: 404,
         * and no file is looked at (registry_info checks the name). */
        unknown_model(ctx, req, resp, NULL, name);
        return;
    }
    if (rc) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    json_reply(resp, req, 200, model_json(&info, def && !strcmp(def, info.name), 1));
    registry_info_clear(&info);
}

/* ---- probes and documents ---------------------------------------------- */

static void get_readyz(RoutesCtx *ctx, const Request *req, Response *resp)
{
    const char *def = registry_default(ctx->reg);
    if (atomic_load(&ctx->draining)) {
        routes_problem(resp, req, PROBLEM_NOT_READY, NULL, "shutting down");
        resp->close = 1;
        return;
    }
    if (!def || !registry_ready(ctx->reg)) {
        routes_problem(resp, req, PROBLEM_NOT_READY, NULL,
                       def ? "the default model %s is not loaded" : "no model to serve%s",
                       def ? def : "");
        resp->retry_after = 1;
        return;
    }
    json_reply(resp, req, 200, json_pack("{s:s, s:s}", "status", "ready", "default_model", def));
}

static void get_metrics(RoutesCtx *ctx, const Request *req, Response *resp)
{
    MetricsGauges g = {0};
    MetricsModel *models = NULL;
    RegistryInfo *infos = NULL;
    int n = registry_list(ctx->reg, &infos), nm = 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    if (ctx->pool) {
        PoolStats st;
        pool_stats(ctx->pool, &st);
        g.queue_depth = st.depth;
        g.queue_capacity = st.capacity;
        g.workers = st.workers;
        g.workers_busy = st.busy;
    }
    g.inflight = atomic_load(&ctx->inflight);
    g.ready = !atomic_load(&ctx->draining) && registry_ready(ctx->reg);
    {
        RegistryStats rs;
        registry_stats(ctx->reg, &rs);
        g.swaps = rs.swaps;
        g.rollbacks = rs.rollbacks;
        g.load_failures = rs.load_failures;
    }
    if (ctx->jobq)
        jobq_stats(ctx->jobq, &g);
    if (n > 0 && (models = calloc((size_t)n, sizeof *models)))
        for (int i = 0; i < n; i++)
            if (infos[i].loaded)
                models[nm++] = (MetricsModel){infos[i].name, infos[i].loaded};
    f = open_memstream(&text, &len);
    if (f) {
        int rc = metrics_render(ctx->metrics, f, &g, models, nm);
        if (fclose(f) || rc) {
            free(text);
            text = NULL;
        }
    }
    free(models);
    registry_list_free(infos, n < 0 ? 0 : n);
    if (!text) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    free(resp->body);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->body = (uint8_t *)text;
    resp->len = len;
}

/* ---- management API (token) ---------------------------------------------- */

static const char *quote(const char *v, char *buf, size_t len);

static int authorised(RoutesCtx *ctx, const Request *req, Response *resp)
{
    switch (auth_check(ctx->cfg->token, req->authorization)) {
    case AUTH_OK:
        return 1;
    case AUTH_DISABLED:
        routes_problem(resp, req, PROBLEM_FORBIDDEN, NULL,
                       "the management API is disabled: start the server with ATELIER_TOKEN "
                       "or --token-file to enable it");
        return 0;
    case AUTH_MISSING:
        routes_problem(resp, req, PROBLEM_UNAUTHORIZED, NULL,
                       "send Authorization: Bearer <token>");
        return 0;
    default:
        routes_problem(resp, req, PROBLEM_UNAUTHORIZED, NULL, "wrong token");
        return 0;
    }
}

/* The {name} of /models/{name}/current into out; 0, or -1 (404 in resp). */
static int current_name(const Request *req, Response *resp, char *out, size_t len)
{
    const char *p = req->path + strlen("/models/");
    size_t n = strcspn(p, "/");
    if (n >= len || n > REPO_NAME_MAX) {
        routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, NULL, "no model '%.64s...'", p);
        return -1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    if (!repo_valid_name(out)) {
        routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, NULL, "no model '%s'", out);
        return -1;
    }
    return 0;
}

/* The registry's answer to a pin change: the model as GET shows it, or
 * the problem. */
static void current_reply(RoutesCtx *ctx, const Request *req, Response *resp, const char *name,
                          int rc, const char *err)
{
    RegistryInfo info;
    const char *def = registry_default(ctx->reg);
    switch (rc) {
    case REGISTRY_OK:
        break;
    case REGISTRY_EINVAL:
    case REGISTRY_ENOENT:
        routes_problem(resp, req, strstr(err, "version") ? PROBLEM_NOT_FOUND
                                                         : PROBLEM_UNKNOWN_MODEL,
                       NULL, "%s", err);
        return;
    case REGISTRY_ELOAD:
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, "version",
                       "that version does not load, so it is not served: %s", err);
        return;
    default:
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "%s", err);
        return;
    }
    if (registry_info(ctx->reg, name, &info)) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    json_reply(resp, req, 200, model_json(&info, def && !strcmp(def, info.name), 1));
    registry_info_clear(&info);
}

/* GET /models/default: which model serves requests that name none. */
static void get_default(RoutesCtx *ctx, const Request *req, Response *resp)
{
    const char *def = registry_default(ctx->reg);
    json_reply(resp, req, 200, json_pack("{s:o, s:s}", "default", def ? json_string(def)
                                                                      : json_null(),
                                         "from", registry_default_from(ctx->reg)));
}

/* The JSON body of a PUT whose only member is field, described to the
 * client as shape; NULL with a 400 in resp otherwise. Caller decrefs. */
static json_t *one_field_body(const Request *req, Response *resp, const char *field,
                              const char *shape)
{
    json_t *body = req->body_len ? json_loadb((const char *)req->body, req->body_len, 0, NULL)
                                 : NULL, *v;
    const char *key;
    char q[64];
    if (!json_is_object(body)) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "body", "send a JSON object %s", shape);
        json_decref(body);
        return NULL;
    }
    json_object_foreach(body, key, v) {
        if (strcmp(key, field)) {
            routes_problem(resp, req, PROBLEM_BAD_PARAMETER, quote(key, q, sizeof q),
                           "unknown field '%s'; the body is %s", q, shape);
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

/* PUT /models/default {"model": NAME}: writes the repository's DEFAULT. */
static int put_default(RoutesCtx *ctx, Request *req, Response *resp)
{
    char err[256] = "";
    json_t *body = one_field_body(req, resp, "model", "{\"model\": NAME}");
    const char *name = json_string_value(json_object_get(body, "model"));
    int rc;
    if (!body)
        return ROUTES_DONE;
    if (!name) {
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, "model", "model must be a model name");
        json_decref(body);
        return ROUTES_DONE;
    }
    rc = registry_set_default(ctx->reg, name, err, sizeof err);
    if (rc == REGISTRY_EINVAL || rc == REGISTRY_ENOENT)
        unknown_model(ctx, req, resp, "model", name);
    else if (rc)
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "%s", err);
    else
        get_default(ctx, req, resp);
    json_decref(body);
    return ROUTES_DONE;
}

/* DELETE /models/{name}/current: back to the newest version. */
static void delete_current(RoutesCtx *ctx, const Request *req, Response *resp)
{
    char name[REPO_NAME_MAX + 1], err[256] = "";
    if (current_name(req, resp, name, sizeof name))
        return;
    current_reply(ctx, req, resp, name, registry_unpin(ctx->reg, name, err, sizeof err), err);
}

/* PUT /models/{name}/current with {"version": N}: the body is here. The
 * version loads on this (the HTTP) thread before it is swapped in. */
static int put_current(RoutesCtx *ctx, Request *req, Response *resp)
{
    char name[REPO_NAME_MAX + 1], err[256] = "";
    json_t *body, *v;
    json_int_t version;
    if (current_name(req, resp, name, sizeof name))
        return ROUTES_DONE;
    if (!(body = one_field_body(req, resp, "version", "{\"version\": N}")))
        return ROUTES_DONE;
    v = json_object_get(body, "version");
    version = json_is_integer(v) ? json_integer_value(v) : 0;
    json_decref(body);
    if (version < 1 || version > REPO_MAX_VERSION) {
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, "version",
                       "version must be an integer in 1..%d", REPO_MAX_VERSION);
        return ROUTES_DONE;
    }
    current_reply(ctx, req, resp, name,
                  registry_pin(ctx->reg, name, (int)version, err, sizeof err), err);
    return ROUTES_DONE;
}

/* The management routes after the token check: ROUTES_BODY when the
 * handler needs the request body. */
static int management(RoutesCtx *ctx, Request *req, Response *resp)
{
    if (!authorised(ctx, req, resp))
        return ROUTES_DONE;
    if (req->route == ROUTE_MODEL_DEFAULT)
        return ROUTES_BODY;     /* PUT */
    if (req->route == ROUTE_MODEL_CURRENT) {
        if (!strcmp(req->method, "DELETE")) {
            delete_current(ctx, req, resp);
            return ROUTES_DONE;
        }
        return ROUTES_BODY;
    }
    return train_api_begin(ctx, req, resp);
}

/* ---- POST /stylize --------------------------------------------------------- */

static const char *const stylize_params[] = {"model", "strength", "preserve_colors",
                                             "max_size", "format", "quality", "version"};
#define NPARAMS (sizeof stylize_params / sizeof stylize_params[0])

/* A client value quoted in a detail, cut short. */
static const char *quote(const char *v, char *buf, size_t len)
{
    snprintf(buf, len, "%.40s%s", v ? v : "", v && strlen(v) > 40 ? "..." : "");
    return buf;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
    char *end;
    long x;
    if (!v || !*v || strlen(v) > 12)
        return -1;
    x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi)
        return -1;
    *out = (int)x;
    return 0;
}

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

/* Fills job params and picks the model name from the query. Returns 0, or
 * -1 with the 400 in resp. */
static int stylize_params_parse(const Request *req, Response *resp, InferParams *p,
                                const char **model, int *version)
{
    char q[64];
    *model = NULL;
    *version = 0;
    p->opt.strength = 1.0f;
    p->opt.preserve_colors = 0;
    p->max_size = STYLIZE_MAX_SIZE_DEFAULT;
    p->format = IMG_UNKNOWN;
    p->quality = STYLIZE_JPEG_QUALITY;
    if (req->query_overflow) {
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, NULL, "more than %d query parameters",
                       ROUTES_MAX_QUERY);
        return -1;
    }
    for (int i = 0; i < req->nquery; i++) {
        const char *k = req->query[i].key, *v = req->query[i].value;
        size_t known = 0;
        while (known < NPARAMS && strcmp(k, stylize_params[known]))
            known++;
        if (known == NPARAMS) {
            routes_problem(resp, req, PROBLEM_BAD_PARAMETER, quote(k, q, sizeof q),
                           "unknown parameter '%s'; known: model, strength, preserve_colors, "
                           "max_size, format, quality, version", q);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(req->query[j].key, k)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k, "%s given twice", k);
                return -1;
            }
        if (!strcmp(k, "model")) {
            if (!repo_valid_name(v)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "model must match [a-z0-9_-]{1,64}, got '%s'",
                               quote(v, q, sizeof q));
                return -1;
            }
            *model = v;
        } else if (!strcmp(k, "strength")) {
            char *end;
            double s = v && *v ? strtod(v, &end) : NAN;
            if (!v || !*v || *end || !(s >= 0 && s <= 1)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "strength must be a number in 0..1, got '%s'",
                               quote(v, q, sizeof q));
                return -1;
            }
            p->opt.strength = (float)s;
        } else if (!strcmp(k, "preserve_colors")) {
            if (parse_bool(v, &p->opt.preserve_colors)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "preserve_colors must be true or false, got '%s'",
                               quote(v, q, sizeof q));
                return -1;
            }
        } else if (!strcmp(k, "max_size")) {
            if (parse_int(v, STYLIZE_MAX_SIZE_MIN, STYLIZE_MAX_SIZE_MAX, &p->max_size)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "max_size must be an integer in %d..%d, got '%s'",
                               STYLIZE_MAX_SIZE_MIN, STYLIZE_MAX_SIZE_MAX,
                               quote(v, q, sizeof q));
                return -1;
            }
        } else if (!strcmp(k, "format")) {
            if (v && (!strcasecmp(v, "jpeg") || !strcasecmp(v, "jpg"))) {
                p->format = IMG_JPEG;
            } else if (v && !strcasecmp(v, "png")) {
                p->format = IMG_PNG;
            } else {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "format must be jpeg or png, got '%s'", quote(v, q, sizeof q));
                return -1;
            }
        } else if (!strcmp(k, "version")) {
            if (parse_int(v, 1, REPO_MAX_VERSION, version)) {
                routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                               "version must be an integer in 1..%d, got '%s'", REPO_MAX_VERSION,
                               quote(v, q, sizeof q));
                return -1;
            }
        } else if (parse_int(v, 1, 100, &p->quality)) {
            routes_problem(resp, req, PROBLEM_BAD_PARAMETER, k,
                           "quality must be an integer in 1..100, got '%s'",
                           quote(v, q, sizeof q));
            return -1;
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

static int stylize_begin(RoutesCtx *ctx, Request *req, Response *resp)
{
    StylizeJob *job = &req->job;
    const char *name;
    char mt[64], err[256] = "";
    int code, version;
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
    if (stylize_params_parse(req, resp, &job->params, &name, &version))
        return ROUTES_DONE;
    job->params.max_pixels = ctx->cfg->max_pixels;
    job->model = registry_acquire_version(ctx->reg, name, version, &code, err, sizeof err);
    if (!job->model) {
        if (version && (code == REGISTRY_ENOENT || code == REGISTRY_ELOAD)) {
            /* The model may exist and the version not, or not load. */
            routes_problem(resp, req,
                           code == REGISTRY_ELOAD ? PROBLEM_BAD_PARAMETER : PROBLEM_NOT_FOUND,
                           "version", "%s", err);
        } else if (code == REGISTRY_ENOTREADY) {
            routes_problem(resp, req, PROBLEM_NOT_READY, NULL, "model %s is not loaded",
                           name ? name : registry_default(ctx->reg));
            resp->retry_after = 1;
        } else if (name) {
            unknown_model(ctx, req, resp, "model", name);
        } else {
            char names[256];
            routes_problem(resp, req, PROBLEM_BAD_PARAMETER, "model",
                           "no default model (set one with --default-model or PUT "
                           "/models/default): name one with ?model=; the models are: %s",
                           model_names(ctx, names, sizeof names));
        }
        return ROUTES_DONE;
    }
    job->ctx = ctx;
    return ROUTES_BODY;
}

static void job_run(PoolJob *base, void *worker)
{
    StylizeJob *job = (StylizeJob *)base;
    infer_run(worker, job->model, job->image, job->len, &job->params, &job->result);
    if (job->done)
        job->done(job, job->done_arg);
}

static void job_cancel(PoolJob *base, void *unused)
{
    StylizeJob *job = (StylizeJob *)base;
    job->cancelled = 1;
    if (job->done)
        job->done(job, job->done_arg);
}

int routes_body(RoutesCtx *ctx, Request *req, Response *resp)
{
    StylizeJob *job = &req->job;
    ImageInfo info;
    int rc, fw, fh;
    if (req->route == ROUTE_MODEL_CURRENT)
        return put_current(ctx, req, resp);
    if (req->route == ROUTE_MODEL_DEFAULT)
        return put_default(ctx, req, resp);
    if (req->route == ROUTE_TRAIN)
        return train_api_body(ctx, req, resp);
    if (req->route == ROUTE_MODEL_THUMBNAIL)
        req->body = thumbnail_photo(&req->body_len);
    if (req->multipart && !req->form_has_image) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "image",
                       "the multipart body has no field 'image'");
        return ROUTES_DONE;
    }
    if (!req->body || !req->body_len) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "image",
                       "the body is empty: send the image");
        return ROUTES_DONE;
    }
    rc = image_probe(req->body, req->body_len, &info);
    if (rc) {
        routes_problem(resp, req, infer_image_problem(rc), NULL, "%s",
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
    return ROUTES_DEFER;
}

void routes_rejected(RoutesCtx *ctx, Request *req, Response *resp, int rc)
{
    if (rc == POOL_EFULL) {
        routes_problem(resp, req, PROBLEM_OVERLOADED, NULL,
                       "all workers are busy and the queue is full; retry later");
        resp->retry_after = ctx->pool ? pool_retry_after(ctx->pool) : 1;
    } else {
        routes_problem(resp, req, PROBLEM_NOT_READY, NULL, "shutting down");
        resp->close = 1;
    }
}

void routes_complete(RoutesCtx *ctx, Request *req, Response *resp)
{
    StylizeJob *job = &req->job;
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
        routes_problem(resp, req, res->problem, NULL, "%s", res->detail);
        if (res->problem == PROBLEM_OVERLOADED)
            resp->retry_after = ctx->pool ? pool_retry_after(ctx->pool) : 1;
        return;
    }
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
    if (req->route == ROUTE_MODEL_THUMBNAIL)
        thumbnail_store(ctx, req, resp);
}

void routes_too_large(RoutesCtx *ctx, Request *req, Response *resp)
{
    routes_problem(resp, req, PROBLEM_BODY_TOO_LARGE, NULL,
                   "the body is larger than the limit of %lld MiB",
                   (long long)(ctx->cfg->max_body_bytes >> 20));
    resp->close = 1;
}

int routes_form_field(Request *req, const char *key, uint64_t off, const char *data,
                      size_t size)
{
    FormPart *p;
    if (off == 0 || !req->nparts) {
        if (req->nparts == ROUTES_MAX_PARTS) {
            req->parts_overflow = 1;
            return 0;
        }
        if (!req->parts && !(req->parts = calloc(ROUTES_MAX_PARTS, sizeof *req->parts)))
            return -1;
        snprintf(req->parts[req->nparts++].name, sizeof req->parts->name, "%s", key ? key : "");
    }
    if (req->parts_overflow || !size)
        return 0;           /* an empty part: data may be NULL (issue 15) */
    p = &req->parts[req->nparts - 1];
    if (size > p->cap - p->len) {
        size_t want = p->cap ? p->cap : 4096;
        uint8_t *nb;
        while (want - p->len < size)
            want *= 2;
        if (!(nb = realloc(p->data, want)))
            return -1;
        p->data = nb;
        p->cap = want;
    }
    memcpy(p->data + p->len, data, size);
    p->len += size;
    return 0;
}

void routes_finish(Request *req)
{
    for (int i = 0; i < req->nparts; i++)
        free(req->parts[i].data);
    free(req->parts);
    req->parts = NULL;
    req->nparts = 0;
    registry_release(req->job.model);
    req->job.model = NULL;
    infer_result_clear(&req->job.result);
}

/* ---- dispatch ---------------------------------------------------------- */

int routes_begin(RoutesCtx *ctx, Request *req, Response *resp)
{
    req->route = routes_match(req->path);
    if (req->route == ROUTE_NONE) {
        routes_problem(resp, req, PROBLEM_NOT_FOUND, NULL, "no route %.200s", req->path);
        return ROUTES_DONE;
    }
    if (!method_allowed(req->route, req->method)) {
        routes_problem(resp, req, PROBLEM_METHOD_NOT_ALLOWED, NULL, "%.20s is not allowed on %s",
                       req->method, routes_label(req->route));
        snprintf(resp->allow, sizeof resp->allow, "%s", routes_allow(req->route));
        return ROUTES_DONE;
    }
    if (atomic_load(&ctx->draining))
        resp->close = 1;      /* finish this one, then let the client go elsewhere */
    switch (req->route) {
    case ROUTE_STYLIZE:
        return stylize_begin(ctx, req, resp);
    case ROUTE_MODELS:
        get_models(ctx, req, resp);
        break;
    case ROUTE_MODEL:
        get_model(ctx, req, resp);
        break;
    case ROUTE_MODEL_DEFAULT:
        if (strcmp(req->method, "PUT")) {
            get_default(ctx, req, resp);
            break;
        }
        return management(ctx, req, resp);
    case ROUTE_HEALTHZ:
        json_reply(resp, req, 200, json_pack("{s:s}", "status", "ok"));
        break;
    case ROUTE_READYZ:
        get_readyz(ctx, req, resp);
        break;
    case ROUTE_METRICS:
        get_metrics(ctx, req, resp);
        break;
    case ROUTE_OPENAPI:
        copy_reply(resp, req, "application/yaml", ctx->openapi, ctx->openapi_len);
        break;
    case ROUTE_UI:
        web_get(ctx, req, resp);
        break;
    case ROUTE_MODEL_THUMBNAIL:
        return thumbnail_begin(ctx, req, resp);
    default:
        return management(ctx, req, resp);
    }
    return ROUTES_DONE;
}
