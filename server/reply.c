/* reply.c: the replies every route writes (routes.h, "Replies"): problem
 * bodies, JSON, copies, the token check, and the unknown-model answer.
 * Which problem an error code is: problem.c. */
#include "server/reply.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util.h"
#include "server/auth.h"

void routes_problem(Response *resp, const Request *req, ProblemKind kind, const char *param,
                    const char *fmt, ...)
{
    char detail[384];
    va_list ap;
    if (fmt) {
        va_start(ap, fmt);
        util_verrf(detail, sizeof detail, fmt, ap);
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

void routes_json(Response *resp, const Request *req, int status, json_t *body)
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

void reply_copy(Response *resp, const Request *req, const char *type, const void *data,
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

void reply_take(Response *resp, int status, const char *type, uint8_t *data, size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = type;
    resp->body = data;
    resp->len = len;
}

/* "a, b, c" (the models there are), or "none", into buf. */
const char *reply_model_names(RoutesCtx *ctx, char *buf, size_t len)
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
void reply_unknown_model(RoutesCtx *ctx, const Request *req, Response *resp, const char *param,
                          const char *name)
{
    char names[256];
    routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, param, "no model '%.64s'; the models are: %s",
                   name, reply_model_names(ctx, names, sizeof names));
}

int reply_authorised(RoutesCtx *ctx, const Request *req, Response *resp)
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

/* A client value quoted in a detail, cut short. */
const char *reply_quote(const char *v, char *buf, size_t len)
{
    snprintf(buf, len, "%.40s%s", v ? v : "", v && strlen(v) > 40 ? "..." : "");
    return buf;
}

int reply_int_param(const Request *req, Response *resp, const char *name, const char *value,
                    long long lo, long long hi, long long *out)
{
    char q[64];
    if (!util_parse_int(value, lo, hi, out))
        return 0;
    routes_problem(resp, req, PROBLEM_BAD_PARAMETER, name,
                   "%s must be an integer in %lld..%lld, got '%s'", name, lo, hi,
                   reply_quote(value, q, sizeof q));
    return -1;
}

int reply_query_int(const Request *req, Response *resp, const char *name, long long lo,
                    long long hi, long long *out)
{
    char q[64];
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, name) || i > 0) {
            routes_problem(resp, req, PROBLEM_BAD_PARAMETER,
                           reply_quote(req->query[i].key, q, sizeof q),
                           "the only parameter here is %s, once", name);
            return -1;
        }
    return req->nquery ? reply_int_param(req, resp, name, req->query[0].value, lo, hi, out) : 0;
}

void routes_too_large(RoutesCtx *ctx, Request *req, Response *resp)
{
    routes_problem(resp, req, PROBLEM_BODY_TOO_LARGE, NULL,
                   "the body is larger than the limit of %lld MiB",
                   (long long)(ctx->cfg->max_body_bytes >> 20));
    resp->close = 1;
}
