/* routes.c: the route table, matching, and the dispatch of a request to
 * its route's handlers (routes.h); the buffering of multipart fields for
 * BODY_FORM routes. The handlers are api_*.c's, the replies reply.c's. */
#include "server/routes.h"

#include "server/api.h"
#include "server/thumbnail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row per route. The pattern is the metrics label. */
static const Route table[ROUTE_COUNT] = {
    [ROUTE_NONE] = {"other", NULL, "", BODY_NONE, NULL, NULL, NULL, NULL},
    [ROUTE_STYLIZE] = {"/stylize", NULL, "POST", BODY_FIELD, "image", api_stylize_begin,
                       api_stylize_body, api_stylize_complete},
    [ROUTE_MODELS] = {"/models", NULL, "GET, HEAD", BODY_NONE, NULL, api_models_list, NULL,
                      NULL},
    [ROUTE_MODEL_DEFAULT] = {"/models/default", NULL, "GET, HEAD, PUT", BODY_RAW, NULL,
                             api_default_begin, api_default_put, NULL},
    [ROUTE_MODEL] = {"/models/{name}", NULL, "GET, HEAD", BODY_NONE, NULL, api_model_get, NULL,
                     NULL},
    [ROUTE_MODEL_PREVIEW] = {"/models/{name}/versions/{version}/preview", NULL, "GET, HEAD",
                             BODY_NONE, NULL, api_version_preview, NULL, NULL},
    [ROUTE_MODEL_CURRENT] = {"/models/{name}/current", NULL, "PUT, DELETE", BODY_RAW, NULL,
                             api_current_begin, api_current_put, NULL},
    /* A GET that paints: its "body" is the sample photo (a client's is read
     * and replaced). */
    [ROUTE_MODEL_THUMBNAIL] = {"/models/{name}/thumbnail", NULL, "GET, HEAD", BODY_RAW, NULL,
                               thumbnail_begin, thumbnail_body, thumbnail_complete},
    [ROUTE_TRAIN] = {"/train", NULL, "GET, HEAD, POST", BODY_FORM, NULL, api_train_begin,
                     api_train_body, NULL},
    [ROUTE_TRAIN_JOB] = {"/train/{id}", NULL, "GET, HEAD, DELETE", BODY_NONE, NULL,
                         api_train_job, NULL, NULL},
    [ROUTE_TRAIN_PREVIEW] = {"/train/{id}/preview", NULL, "GET, HEAD", BODY_NONE, NULL,
                             api_train_preview, NULL, NULL},
    [ROUTE_TRAIN_HISTORY] = {"/train/{id}/history", NULL, "GET, HEAD", BODY_NONE, NULL,
                             api_train_history, NULL, NULL},
    [ROUTE_HEALTHZ] = {"/healthz", NULL, "GET, HEAD", BODY_NONE, NULL, api_healthz, NULL, NULL},
    [ROUTE_READYZ] = {"/readyz", NULL, "GET, HEAD", BODY_NONE, NULL, api_readyz, NULL, NULL},
    [ROUTE_METRICS] = {"/metrics", NULL, "GET, HEAD", BODY_NONE, NULL, api_metrics, NULL, NULL},
    [ROUTE_OPENAPI] = {"/openapi.yaml", NULL, "GET, HEAD", BODY_NONE, NULL, api_openapi, NULL,
                       NULL},
    [ROUTE_UI] = {"/ui/{file}", "/", "GET, HEAD", BODY_NONE, NULL, api_ui, NULL, NULL},
};

const Route *routes_row(RouteId id)
{
    return &table[(int)id >= 0 && id < ROUTE_COUNT ? id : ROUTE_NONE];
}

const char *routes_label(RouteId id)
{
    return routes_row(id)->pattern;
}

const char *routes_allow(RouteId id)
{
    return routes_row(id)->methods;
}

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

/* 1 when path fits pattern: literal segments equal, a "{x}" segment any
 * non-empty segment. */
static int fits(const char *pattern, const char *path)
{
    while (*pattern && *path) {
        size_t p = strcspn(pattern, "/"), q = strcspn(path, "/");
        if (pattern[0] == '{') {
            if (!q)
                return 0;
        } else if (p != q || strncmp(pattern, path, p)) {
            return 0;
        }
        pattern += p;
        path += q;
        if (*pattern != *path)
            return 0;
        if (*pattern) {
            pattern++;
            path++;
        }
    }
    return !*pattern && !*path;
}

RouteId routes_match(const char *path)
{
    if (!path || path[0] != '/')
        return ROUTE_NONE;
    /* Literal patterns first: /models/default is not a model. */
    for (int i = ROUTE_NONE + 1; i < ROUTE_COUNT; i++)
        if (table[i].also && !strcmp(table[i].also, path))
            return (RouteId)i;
    for (int pass = 0; pass < 2; pass++)
        for (int i = ROUTE_NONE + 1; i < ROUTE_COUNT; i++)
            if (!!strchr(table[i].pattern, '{') == pass && fits(table[i].pattern, path))
                return (RouteId)i;
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

/* When the request's Origin is one --cors-origin allows, the answer says
 * so (Access-Control-Allow-Origin, in resp->cors): errors too, so a page
 * can read why it was refused. */
static void cors(RoutesCtx *ctx, const Request *req, Response *resp)
{
    const char *p = ctx->cfg->cors_origin;
    size_t n = req->origin ? strlen(req->origin) : 0;
    if (!n || !*p || n >= sizeof resp->cors)
        return;
    while (*p) {
        size_t k;
        while (*p == ' ')
            p++;
        k = strcspn(p, ",");
        if ((k == 1 && p[0] == '*') || (k == n && !strncmp(p, req->origin, n))) {
            snprintf(resp->cors, sizeof resp->cors, "%s", req->origin);
            return;
        }
        p += k + (p[k] == ',');
    }
}

int routes_begin(RoutesCtx *ctx, Request *req, Response *resp)
{
    const Route *r;
    int rc;
    req->route = routes_match(req->path);
    if (req->route == ROUTE_NONE) {
        routes_problem(resp, req, PROBLEM_NOT_FOUND, NULL, "no route %.200s", req->path);
        return ROUTES_DONE;
    }
    cors(ctx, req, resp);
    if (resp->cors[0] && req->acr_method && !strcmp(req->method, "OPTIONS")) {
        /* A preflight: the route's methods, the headers a page may send. */
        resp->status = 204;
        resp->preflight = 1;
        resp->static_body = (const uint8_t *)"";
        resp->len = 0;
        snprintf(resp->allow, sizeof resp->allow, "%s", routes_allow(req->route));
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
    r = routes_row(req->route);
    rc = r->begin(ctx, req, resp);
    if (rc == ROUTES_BODY && r->body == BODY_FIELD && req->multipart)
        req->body_field = r->field;
    if (rc == ROUTES_BODY && r->body == BODY_NONE)
        rc = ROUTES_DONE;     /* a handler asking for a body its row does not take */
    return rc;
}

int routes_body(RoutesCtx *ctx, Request *req, Response *resp)
{
    const Route *r = routes_row(req->route);
    if (!r->on_body) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "the route takes no body");
        return ROUTES_DONE;
    }
    return r->on_body(ctx, req, resp);
}

void routes_complete(RoutesCtx *ctx, Request *req, Response *resp)
{
    const Route *r = routes_row(req->route);
    if (r->complete)
        r->complete(ctx, req, resp);
    else
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "the route defers no work");
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

void routes_log(const Request *req, json_t *line)
{
    if (req->state && req->state_log && line)
        req->state_log(req->state, line);
}

void routes_finish(Request *req)
{
    for (int i = 0; i < req->nparts; i++)
        free(req->parts[i].data);
    free(req->parts);
    req->parts = NULL;
    req->nparts = 0;
    if (req->state && req->state_free)
        req->state_free(req->state);
    req->state = NULL;
    req->defer = NULL;
}
