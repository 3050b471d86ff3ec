/* fuzz_query.c: the API's request parsing without a socket: the request
 * line's path and query (percent-decoded by routes_unescape as
 * libmicrohttpd does with it), the stylize parameters, Content-Type,
 * Authorization and the image header, through routes_begin and
 * routes_body over a real registry holding one tiny model.
 *
 * Input: "METHOD TARGET\nCONTENT-TYPE\nAUTHORIZATION\nBODY...". TARGET is
 * split at the first '?' and the query at '&' and the first '=' of each
 * pair, as libmicrohttpd splits it. A line may be missing.
 *
 * Checked: every answer is a status of 200..599; a 5xx is only 501 (the
 * training routes before the job queue) or 503 (the refused job); every 4xx and 5xx is problem+json with
 * a JSON object body. A stylize request that would run is refused as the
 * stopped pool refuses it: inference is fuzzed by the image targets. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "server/registry.h"
#include "server/routes.h"
#include "tests/fuzz/fuzz.h"

static Config cfg;
static RoutesCtx ctx;

static const char *no_env(const char *name)
{
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char models[512], err[512];
    char *args[] = {"serve", "--models", models, "--token", "s3cret", "--max-pixels", "65536"};
    snprintf(models, sizeof models, "%s/models", fuzz_tmpdir());
    fuzz_write_models(models);
    if (config_parse(&cfg, (int)(sizeof args / sizeof args[0]), args, no_env, err, sizeof err)) {
        fprintf(stderr, "fuzz_query: %s\n", err);
        abort();
    }
    ctx.cfg = &cfg;
    if (!(ctx.reg = registry_open(models, NULL, err, sizeof err)) ||
        !(ctx.metrics = metrics_new())) {
        fprintf(stderr, "fuzz_query: %s\n", err);
        abort();
    }
    registry_load_all(ctx.reg);
    if (!registry_ready(ctx.reg))
        abort();
    ctx.openapi = openapi_text();
    ctx.openapi_len = openapi_len();
    return 0;
}

/* The next line of [*p, end) as a new NUL-terminated string, or NULL at the end. */
static char *line(const char **p, const char *end)
{
    const char *nl;
    char *s;
    if (*p >= end)
        return NULL;
    nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        nl = end;
    if (!(s = strndup(*p, (size_t)(nl - *p))))
        abort();
    *p = nl < end ? nl + 1 : end;
    return s;
}

static void check(const Response *resp)
{
    json_t *body;
    if (resp->status < 200 || resp->status > 599 || (resp->status >= 500 && resp->status != 501 && resp->status != 503))
        abort();
    if (resp->status < 400)
        return;
    if (!resp->content_type || strcmp(resp->content_type, "application/problem+json") ||
        !resp->body)
        abort();
    body = json_loadb((const char *)resp->body, resp->len, 0, NULL);
    if (!json_is_object(body) || !json_is_integer(json_object_get(body, "status")) ||
        json_integer_value(json_object_get(body, "status")) != resp->status)
        abort();
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *reqline = line(&p, end), *ctype = line(&p, end), *auth = line(&p, end);
    char *method = NULL, *target, *query, *save = NULL, *pair;
    Request req;
    Response resp;
    int rc;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    if (!reqline)
        goto done;
    method = reqline;
    target = strchr(reqline, ' ');
    if (!target || !*method)
        goto done;
    *target++ = '\0';
    if ((query = strchr(target, '?')))
        *query++ = '\0';
    routes_unescape(target);
    req.method = method;
    req.path = target;
    for (pair = query ? strtok_r(query, "&", &save) : NULL; pair;
         pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (req.nquery == ROUTES_MAX_QUERY) {
            req.query_overflow = 1;
            break;
        }
        if (eq) {
            *eq++ = '\0';
            routes_unescape(eq);
        }
        routes_unescape(pair);
        req.query[req.nquery++] = (HttpKV){pair, eq};
    }
    req.content_type = ctype && *ctype ? ctype : NULL;
    req.authorization = auth && *auth ? auth : NULL;
    req.content_length = (int64_t)(end - p);
    req.request_id = "fuzz";
    rc = routes_begin(&ctx, &req, &resp);
    if (rc == ROUTES_BODY) {
        req.body = (const uint8_t *)p;
        req.body_len = (size_t)(end - p);
        req.form_has_field = req.multipart;
        rc = routes_body(&ctx, &req, &resp);
        if (rc == ROUTES_DEFER)
            routes_rejected(&ctx, &req, &resp, POOL_ESTOPPED);
    }
    check(&resp);
    routes_finish(&req);
    free(resp.body);
done:
    free(reqline);
    free(ctype);
    free(auth);
    return 0;
}
