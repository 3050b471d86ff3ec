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

#include "server/reply.h"
#include "server/request.h"

/* What body a route takes once its begin handler returns ROUTES_BODY. */
typedef enum RouteBody {
    BODY_NONE,                /* read and dropped */
    BODY_RAW,                 /* the bytes, in req->body */
    BODY_FIELD,               /* raw, or (multipart) the one field named in the row */
    BODY_FORM                 /* multipart: every field, in req->parts */
} RouteBody;


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

/* Appends size bytes to the multipart field being received, starting a
 * new field when off is 0 (http.c's post processor callback, POST /train).
 * 0, or -1 when out of memory. */
int routes_form_field(Request *req, const char *key, uint64_t off, const char *data,
                      size_t size);

#endif
