/* routes.h: the HTTP API as plain functions over a Request and a Response,
 * dispatched by one route table.
 *
 * Nothing here knows libmicrohttpd: http.c fills a Request from a
 * connection, calls these functions, and turns the Response into an MHD
 * response. Tests call them directly. The contract is openapi.yaml.
 *
 * The route table (routes.c) has one row per route: its pattern (also its
 * metrics label), the methods it allows, the body it takes (none, raw, one
 * multipart field, or every multipart field: http.c reads this, never a
 * route's name) and its handlers, which live in one file per resource:
 * api_stylize.c, api_models.c, api_train.c, api_ops.c. Replies and problem
 * bodies are reply.c's; which problem an error code is, problem.c's.
 *
 * A request goes through at most three calls:
 *   routes_begin     headers and query only: most routes answer here; a
 *                    route that needs its body checks what it can (POST
 *                    /stylize: parameters, model, media type, declared
 *                    length) before a body byte is read. Returns
 *                    ROUTES_DONE or ROUTES_BODY.
 *   routes_body      the body has arrived (req->body, or req->parts).
 *                    Returns ROUTES_DONE or ROUTES_DEFER: the caller sets
 *                    req->resume and queues req->defer on the pool
 *                    (routes_rejected if that fails); the job calls
 *                    req->resume when it is over.
 *   routes_complete  after the deferred job ran: its result becomes the
 *                    Response.
 * routes_finish releases what the request holds, whatever path it took.
 */
#ifndef ATELIER_ROUTES_H
#define ATELIER_ROUTES_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "server/config.h"
#include "server/infer.h"
#include "server/metrics.h"
#include "server/pool.h"
#include "server/problem.h"
#include "server/registry.h"

#define ROUTES_MAX_QUERY 32

/* The routes, by row of the table (routes.c). Adding a route: a value
 * here, its row there, its handlers in its resource's api_*.c. */
typedef enum RouteId {
    ROUTE_NONE,               /* no such path: 404 */
    ROUTE_STYLIZE,
    ROUTE_MODELS,
    ROUTE_MODEL_DEFAULT,      /* /models/default: the default model's choice */
    ROUTE_MODEL,
    ROUTE_MODEL_CURRENT,
    ROUTE_MODEL_THUMBNAIL,
    ROUTE_MODEL_PREVIEW,      /* /models/{name}/versions/{v}/preview */
    ROUTE_TRAIN,
    ROUTE_TRAIN_JOB,
    ROUTE_TRAIN_PREVIEW,
    ROUTE_TRAIN_HISTORY,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_OPENAPI,
    ROUTE_UI,                 /* "/" and "/ui/<file>": the studio (web.h) */
    ROUTE_COUNT
} RouteId;

/* What body a route takes once its begin handler returns ROUTES_BODY. */
typedef enum RouteBody {
    BODY_NONE,                /* read and dropped */
    BODY_RAW,                 /* the bytes, in req->body */
    BODY_FIELD,               /* raw, or (multipart) the one field named in the row */
    BODY_FORM                 /* multipart: every field, in req->parts */
} RouteBody;

/* A multipart field of POST /train, kept whole (the body limit bounds the
 * sum). */
typedef struct FormPart {
    char name[16];            /* "style", "content", "config"; longer names cut */
    uint8_t *data;            /* malloc'd, owned by the request */
    size_t len, cap;
} FormPart;

#define ROUTES_MAX_PARTS 140

typedef struct HttpKV {
    const char *key;
    const char *value;        /* NULL for "?flag" without '=' */
} HttpKV;

/* State shared by every request: borrowed, outlives the server. */
typedef struct RoutesCtx {
    const Config *cfg;
    Registry *reg;
    Pool *pool;               /* may be NULL in tests: no gauges */
    Metrics *metrics;
    atomic_int draining;      /* 1 after SIGTERM: /readyz answers 503 */
    atomic_int inflight;      /* maintained by http.c */
    struct Jobq *jobq;        /* training jobs; NULL: /train answers 503 */
    const char *openapi;      /* the contract served at /openapi.yaml */
    size_t openapi_len;
} RoutesCtx;

typedef struct Request {
    /* Filled by the caller before routes_begin. */
    const char *method;
    const char *path;                 /* without the query */
    HttpKV query[ROUTES_MAX_QUERY];
    int nquery;
    int query_overflow;               /* more than ROUTES_MAX_QUERY given */
    const char *authorization;        /* header, or NULL */
    const char *content_type;         /* header, or NULL */
    const char *accept_encoding;      /* header, or NULL */
    const char *if_none_match;        /* header, or NULL */
    int64_t content_length;           /* -1 when not declared */
    const char *request_id;
    /* Set by routes_begin for http.c: how the body comes. */
    RouteId route;
    int multipart;                    /* the body is multipart/form-data */
    const char *body_field;           /* BODY_FIELD: the one field kept, else NULL */
    /* Filled by the caller before routes_body: the raw body or the field
     * body_field, or (BODY_FORM) every field. */
    const uint8_t *body;
    size_t body_len;
    int form_has_field;               /* multipart: body_field was present */
    FormPart *parts;                  /* BODY_FORM: every field, in order */
    int nparts;
    int parts_overflow;               /* more than ROUTES_MAX_PARTS fields */
    /* The route's own state (e.g. the stylize job), freed by state_free in
     * routes_finish; state_log adds its fields (model, timings) to the
     * request's log line. */
    void *state;
    void (*state_free)(void *state);
    void (*state_log)(void *state, json_t *line);
    /* ROUTES_DEFER: the job to queue, and what it calls (on the worker)
     * when it is over; set by the caller before queueing. */
    PoolJob *defer;
    void (*resume)(void *arg);
    void *resume_arg;
} Request;

typedef struct Response {
    int status;
    const char *content_type;         /* static string */
    uint8_t *body;                    /* malloc'd; the caller frees */
    size_t len;
    char allow[48];                   /* Allow, for 405 */
    int retry_after;                  /* seconds, 0 = no header */
    char model[REPO_NAME_MAX + 16];  /* X-Atelier-Model: NAME/vN */
    char timing[160];                 /* Server-Timing */
    char location[64];                /* Location, "" = none */
    int close;                        /* ask the client to close */
    /* A studio file (web.h): the body is static, not freed; sent with its
     * ETag, Content-Encoding, Cache-Control: no-cache, Vary and the CSP
     * instead of Cache-Control: no-store. */
    int asset;
    const uint8_t *static_body;
    const char *etag;
    const char *content_encoding;
} Response;

enum { ROUTES_DONE = 0, ROUTES_BODY = 1, ROUTES_DEFER = 2 };

/* A row of the route table. */
typedef struct Route {
    const char *pattern;      /* "/models/{name}/current": {x} is one non-empty segment */
    const char *also;         /* another path this route answers ("/"), or NULL */
    const char *methods;      /* "GET, HEAD" (Allow) */
    RouteBody body;
    const char *field;        /* BODY_FIELD: the multipart field */
    int (*begin)(RoutesCtx *ctx, Request *req, Response *resp);  /* ROUTES_DONE or _BODY */
    int (*on_body)(RoutesCtx *ctx, Request *req, Response *resp); /* ROUTES_DONE or _DEFER */
    void (*complete)(RoutesCtx *ctx, Request *req, Response *resp);
} Route;

const Route *routes_row(RouteId id);

/* Which route path names, and the methods it allows ("GET, HEAD"). */
RouteId routes_match(const char *path);
const char *routes_allow(RouteId id);
/* The route's pattern, a static string used as the metrics label. */
const char *routes_label(RouteId id);

/* Percent-decodes s in place (paths and query keys and values) and returns
 * its new length. "%00" is kept as it is: a decoded NUL would cut the C
 * string short, so "/models/tiny%00x" would read as "/models/tiny"; kept
 * literal, it makes the name invalid instead. A '%' not followed by two hex
 * digits is kept too. http.c gives it to libmicrohttpd as the unescaper. */
size_t routes_unescape(char *s);

int routes_begin(RoutesCtx *ctx, Request *req, Response *resp);
int routes_body(RoutesCtx *ctx, Request *req, Response *resp);
/* The pool refused the job (rc from pool_submit): 503 with Retry-After. */
void routes_rejected(RoutesCtx *ctx, Request *req, Response *resp, int rc);
void routes_complete(RoutesCtx *ctx, Request *req, Response *resp);
void routes_finish(Request *req);
/* Adds the route's fields to the request's log line (http.c). */
void routes_log(const Request *req, json_t *line);

/* ---- Replies (reply.c), for every route and http.c ---- */

/* Fills resp with a problem body. detail may be NULL. */
void routes_problem(Response *resp, const Request *req, ProblemKind kind, const char *param,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Fills resp with status and body as compact JSON (consumes body; a
 * NULL body is a 500). */
void routes_json(Response *resp, const Request *req, int status, json_t *body);

/* Appends size bytes to the multipart field being received, starting a
 * new field when off is 0 (http.c's post processor callback, POST /train).
 * 0, or -1 when out of memory. */
int routes_form_field(Request *req, const char *key, uint64_t off, const char *data,
                      size_t size);

/* The body-size problem, for http.c when the body passes the limit. */
void routes_too_large(RoutesCtx *ctx, Request *req, Response *resp);

#endif
