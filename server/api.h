/* api.h: the route handlers, one file per resource, and the replies they
 * share. routes.c's table is the handlers' only caller; each returns
 * ROUTES_DONE, ROUTES_BODY (begin) or ROUTES_DEFER (body) as routes.h says.
 */
#ifndef ATELIER_API_H
#define ATELIER_API_H

#include "server/infer.h"
#include "server/reply.h"
#include "server/request.h"

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

#endif
