/* api_ops.c: the operational routes: /healthz, /readyz, /metrics (the
 * gauges gathered from the pool, registry and job queue), /openapi.yaml,
 * and the studio's files (web.h). */
#include "server/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jobq.h"
#include "server/web.h"

int api_healthz(RoutesCtx *ctx, Request *req, Response *resp)
{
    routes_json(resp, req, 200, json_pack("{s:s}", "status", "ok"));
    return ROUTES_DONE;
}

int api_ui(RoutesCtx *ctx, Request *req, Response *resp)
{
    web_get(ctx, req, resp);
    return ROUTES_DONE;
}

int api_openapi(RoutesCtx *ctx, Request *req, Response *resp)
{
    reply_copy(resp, req, "application/yaml", ctx->openapi, ctx->openapi_len);
    return ROUTES_DONE;
}

int api_readyz(RoutesCtx *ctx, Request *req, Response *resp)
{
    const char *def = registry_default(ctx->reg);
    if (atomic_load(&ctx->draining)) {
        routes_problem(resp, req, PROBLEM_NOT_READY, NULL, "shutting down");
        resp->close = 1;
        return ROUTES_DONE;
    }
    if (!def || !registry_ready(ctx->reg)) {
        routes_problem(resp, req, PROBLEM_NOT_READY, NULL,
                       def ? "the default model %s is not loaded" : "no model to serve%s",
                       def ? def : "");
        resp->retry_after = 1;
        return ROUTES_DONE;
    }
    routes_json(resp, req, 200, json_pack("{s:s, s:s}", "status", "ready", "default_model", def));
    return ROUTES_DONE;
}

int api_metrics(RoutesCtx *ctx, Request *req, Response *resp)
{
    MetricsGauges g = {0};
    MetricsModel *models = NULL;
    RegistryInfo *infos = NULL;
    int n = registry_list(ctx->reg, &infos), nm = 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    if (ctx->pool) {
        PoolStats st;
        pool_stats(ctx->pool, &st);
        g.queue_depth = st.depth;
        g.queue_capacity = st.capacity;
        g.workers = st.workers;
        g.workers_busy = st.busy;
    }
    g.inflight = atomic_load(&ctx->inflight);
    g.upload_reserved = atomic_load(&ctx->upload_reserved);
    g.upload_budget = ctx->cfg->body_budget_bytes;
    g.ready = !atomic_load(&ctx->draining) && registry_ready(ctx->reg);
    {
        RegistryStats rs;
        registry_stats(ctx->reg, &rs);
        g.swaps = rs.swaps;
        g.rollbacks = rs.rollbacks;
        g.load_failures = rs.load_failures;
    }
    if (ctx->jobq)
        jobq_stats(ctx->jobq, &g);
    if (n > 0 && (models = calloc((size_t)n, sizeof *models)))
        for (int i = 0; i < n; i++)
            if (infos[i].loaded)
                models[nm++] = (MetricsModel){infos[i].name, infos[i].loaded};
    f = open_memstream(&text, &len);
    if (f) {
        int rc = metrics_render(ctx->metrics, f, &g, models, nm);
        registry_write_counts(ctx->reg, f);
        if (fclose(f) || rc) {
            free(text);
            text = NULL;
        }
    }
    free(models);
    registry_list_free(infos, n < 0 ? 0 : n);
    if (!text) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return ROUTES_DONE;
    }
    reply_take(resp, 200, "text/plain; version=0.0.4; charset=utf-8", (uint8_t *)text, len);
    return ROUTES_DONE;
}
