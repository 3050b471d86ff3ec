/* reply.h: the replies every route and the transport write (reply.c):
 * problem bodies, JSON, copies, the token check, the unknown-model answer.
 * Which problem an error code is: problem.h.
 */
#ifndef ATELIER_REPLY_H
#define ATELIER_REPLY_H

#include "server/problem.h"
#include "server/request.h"

/* Fills resp with a problem body. detail may be NULL. */
void routes_problem(Response *resp, const Request *req, ProblemKind kind, const char *param,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Fills resp with status and body as compact JSON (consumes body; a
 * NULL body is a 500). */
void routes_json(Response *resp, const Request *req, int status, json_t *body);

/* The body-size problem, for http.c when the body passes the limit. */
void routes_too_large(RoutesCtx *ctx, Request *req, Response *resp);

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

/* The integer parameter name = value (from a query or a form field; value
 * NULL when given bare), in util_parse_int's grammar and lo..hi. 0 with
 * *out set, or -1 with the 400 in resp, the one shape for every route:
 * param name, detail "NAME must be an integer in LO..HI, got 'VALUE'". */
int reply_int_param(const Request *req, Response *resp, const char *name, const char *value,
                    long long lo, long long hi, long long *out);
/* For a route whose only query parameter is the integer name: *out from
 * it (reply_int_param) when given, unchanged when the query is empty. 0,
 * or -1 with the 400 in resp: another parameter, or name twice, is refused
 * naming it ("the only parameter here is NAME, once"). */
int reply_query_int(const Request *req, Response *resp, const char *name, long long lo,
                    long long hi, long long *out);

#endif
