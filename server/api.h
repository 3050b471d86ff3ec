/* api.h: the route handlers, one file per resource, and the replies they
 * share. routes.c's table is the handlers' only caller; each returns
 * ROUTES_DONE, ROUTES_BODY (begin) or ROUTES_DEFER (body) as routes.h says.
 */
#ifndef ATELIER_API_H
#define ATELIER_API_H

#include "server/infer.h"
#include "server/routes.h"

/* The state of a request that paints with a model (POST /stylize, the
 * thumbnail): the job the pool runs. */
typedef struct StylizeJob {
    PoolJob base;             /* first: the pool sees only this */
    Request *req;             /* to resume */
    ModelRef *model;          /* the request's reference */
    const uint8_t *image;     /* borrowed from the request body */
    size_t len;
    InferParams params;
    InferResult result;
    int cancelled;            /* the pool stopped before running it */
} StylizeJob;

/* A new stylize job as req's state (freed by routes_finish), or NULL with
 * a 503 in resp. For routes that paint with a model (thumbnail.c). */
StylizeJob *api_stylize_attach(Request *req, Response *resp);

/* api_stylize.c: POST /stylize (raw body or the field "image"). */
int api_stylize_begin(RoutesCtx *ctx, Request *req, Response *resp);
int api_stylize_body(RoutesCtx *ctx, Request *req, Response *resp);
void api_stylize_complete(RoutesCtx *ctx, Request *req, Response *resp);

/* api_models.c: /models, /models/{name}, /models/default,
 * /models/{name}/current. */
int api_models_list(RoutesCtx *ctx, Request *req, Response *resp);
int api_model_get(RoutesCtx *ctx, Request *req, Response *resp);
/* GET /models/{name}/versions/{v}/preview: the trainer's preview of v. */
int api_version_preview(RoutesCtx *ctx, Request *req, Response *resp);
int api_default_begin(RoutesCtx *ctx, Request *req, Response *resp);
int api_default_put(RoutesCtx *ctx, Request *req, Response *resp);
int api_current_begin(RoutesCtx *ctx, Request *req, Response *resp);
int api_current_put(RoutesCtx *ctx, Request *req, Response *resp);

/* api_train.c: /train, /train/{id}, /train/{id}/preview. */
int api_train_begin(RoutesCtx *ctx, Request *req, Response *resp);
int api_train_body(RoutesCtx *ctx, Request *req, Response *resp);
int api_train_job(RoutesCtx *ctx, Request *req, Response *resp);
int api_train_preview(RoutesCtx *ctx, Request *req, Response *resp);
int api_train_history(RoutesCtx *ctx, Request *req, Response *resp);

/* api_ops.c: /healthz, /readyz, /metrics, /openapi.yaml. */
int api_healthz(RoutesCtx *ctx, Request *req, Response *resp);
int api_readyz(RoutesCtx *ctx, Request *req, Response *resp);
int api_metrics(RoutesCtx *ctx, Request *req, Response *resp);
int api_openapi(RoutesCtx *ctx, Request *req, Response *resp);
int api_ui(RoutesCtx *ctx, Request *req, Response *resp);       /* web.h's studio */

/* ---- reply.c, besides routes.h's routes_problem / routes_json ---- */

/* A copy of data[0..len) as the 200 body. */
void reply_copy(Response *resp, const Request *req, const char *type, const void *data,
                size_t len);
/* data (malloc'd; ownership moves to the response) as the body. */
void reply_take(Response *resp, int status, const char *type, uint8_t *data, size_t len);
/* The management token: 1, or 0 with the 401/403 in resp. */
int reply_authorised(RoutesCtx *ctx, const Request *req, Response *resp);
/* 404 for a model name that is not in the repository, listing those that are. */
void reply_unknown_model(RoutesCtx *ctx, const Request *req, Response *resp, const char *param,
                         const char *name);
/* "a, b, c" (the models there are), or "none", into buf. */
const char *reply_model_names(RoutesCtx *ctx, char *buf, size_t len);
/* A client value quoted in a detail, cut short. */
const char *reply_quote(const char *v, char *buf, size_t len);

#endif
