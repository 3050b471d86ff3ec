/* train_api.h: the /train routes (routes.c calls them after the token
 * check): list, submit, describe, cancel, preview. The queue is jobq.h. */
#ifndef ATELIER_TRAIN_API_H
#define ATELIER_TRAIN_API_H

#include "server/routes.h"

/* GET /train, GET|DELETE /train/{id}, GET /train/{id}/preview are answered
 * here (ROUTES_DONE); POST /train returns ROUTES_BODY after checking the
 * media type, to be finished by train_api_body with the fields in
 * req->parts. */
int train_api_begin(RoutesCtx *ctx, Request *req, Response *resp);
int train_api_body(RoutesCtx *ctx, Request *req, Response *resp);

#endif
