/* request.h: what a route handler and the transport share: a Request, a
 * Response, the context every request sees (RoutesCtx), and the route ids.
 * http.c fills a Request and sends a Response; routes.c dispatches it to a
 * handler (api_*.c); nothing here knows libmicrohttpd.
 */
#ifndef ATELIER_REQUEST_H
#define ATELIER_REQUEST_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "server/config.h"
#include "server/metrics.h"
#include "server/pool.h"
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
    atomic_llong upload_reserved; /* bytes of the body budget reserved, by http.c */
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
    const char *origin;               /* Origin, or NULL */
    const char *acr_method;           /* Access-Control-Request-Method, or NULL */
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
    char cors[256];                   /* Access-Control-Allow-Origin, "" = none */
    int preflight;                    /* a CORS preflight: allow the methods and headers */
    /* A studio file (web.h): the body is static, not freed; sent with its
     * ETag, Content-Encoding, Cache-Control: no-cache, Vary and the CSP
     * instead of Cache-Control: no-store. */
    int asset;
    const uint8_t *static_body;
    const char *etag;
    const char *content_encoding;
} Response;

enum { ROUTES_DONE = 0, ROUTES_BODY = 1, ROUTES_DEFER = 2 };

#endif
