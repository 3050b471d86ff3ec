/* api_train.c: the /train routes over the job queue (jobq.h), all with the
 * token: list, submit, describe, cancel, preview.
 *
 * POST /train is multipart/form-data: files in the fields `style` (1..N)
 * and `content` (0..N) and the JSON text of the field `config`. Every
 * other field is refused (400 naming it), as is a config that does not
 * parse or validate (400 naming the config field); the job is stored and
 * queued before the 202 is sent.
 */
#include "server/api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/repo.h"
#include "server/jobq.h"

/* The {id} of /train/{id}[/...]: 0, or -1 with a 404 in resp. */
static int job_id(const Request *req, Response *resp, char *out)
{
    const char *p = req->path + strlen("/train/");
    size_t n = strcspn(p, "/");
    if (n != JOBQ_ID_LEN || strspn(p, "0123456789abcdef") < n) {
        routes_problem(resp, req, PROBLEM_NOT_FOUND, NULL, "no training job '%.*s'",
                       (int)(n < 40 ? n : 40), p);
        return -1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static void job_reply(const Request *req, Response *resp, const char *id, json_t *job,
                      int code)
{
    if (!job && code == JOBQ_ENOENT)
        routes_problem(resp, req, problem_for_jobq(code), NULL, "no training job '%s'", id);
    else if (!job)
        routes_problem(resp, req, problem_for_jobq(code), NULL, "out of memory");
    else
        routes_json(resp, req, 200, job);
}

static void preview(RoutesCtx *ctx, const Request *req, Response *resp, const char *id)
{
    size_t len = 0;
    long long version = 0;
    int code;
    uint8_t *img;
    if (reply_query_int(req, resp, "version", 1, REPO_MAX_VERSION, &version))
        return;
    if (!(img = jobq_preview(ctx->jobq, id, (int)version, &len, &code))) {
        if (version)
            routes_problem(resp, req, problem_for_jobq(code),
                           NULL, "training job '%s' has no checkpoint version %lld", id, version);
        else
            routes_problem(resp, req, problem_for_jobq(code),
                           NULL, "no preview for training job '%s' (no checkpoint yet?)", id);
        return;
    }
    reply_take(resp, 200, "image/jpeg", img, len);
}

/* The token, and a job queue to ask. 1, or 0 with the problem in resp. */
static int available(RoutesCtx *ctx, Request *req, Response *resp)
{
    if (!reply_authorised(ctx, req, resp))
        return 0;
    if (!ctx->jobq) {
        routes_problem(resp, req, PROBLEM_NOT_READY, NULL,
                       "training is unavailable: the job folder (--data) could not be opened");
        return 0;
    }
    return 1;
}

/* GET /train lists; POST /train takes its form (api_train_body). */
int api_train_begin(RoutesCtx *ctx, Request *req, Response *resp)
{
    const char *ct = req->content_type;
    if (!available(ctx, req, resp))
        return ROUTES_DONE;
    if (strcmp(req->method, "POST")) {
        json_t *jobs = jobq_list(ctx->jobq);
        routes_json(resp, req, 200, jobs ? json_pack("{s:o}", "jobs", jobs) : NULL);
        return ROUTES_DONE;
    }
    if (!ct || strncasecmp(ct, "multipart/form-data", 19)) {
        routes_problem(resp, req, PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL,
                       "send multipart/form-data with the fields style, config and "
                       "optionally content");
        return ROUTES_DONE;
    }
    req->multipart = 1;
    return ROUTES_BODY;
}

/* GET or DELETE /train/{id}. */
int api_train_job(RoutesCtx *ctx, Request *req, Response *resp)
{
    char id[JOBQ_ID_LEN + 1];
    int code = JOBQ_OK;
    json_t *job;
    if (!available(ctx, req, resp) || job_id(req, resp, id))
        return ROUTES_DONE;
    job = !strcmp(req->method, "DELETE") ? jobq_cancel(ctx->jobq, id, &code)
                                         : jobq_get(ctx->jobq, id, &code);
    job_reply(req, resp, id, job, code);
    return ROUTES_DONE;
}

/* GET /train/{id}/history[?since=STEP]: the losses logged so far. */
int api_train_history(RoutesCtx *ctx, Request *req, Response *resp)
{
    char id[JOBQ_ID_LEN + 1];
    long long since = -1;
    int code = JOBQ_OK;
    if (!available(ctx, req, resp) || job_id(req, resp, id) ||
        reply_query_int(req, resp, "since", 0, INT64_MAX, &since))
        return ROUTES_DONE;
    job_reply(req, resp, id, jobq_history(ctx->jobq, id, since, &code), code);
    return ROUTES_DONE;
}

/* GET /train/{id}/preview[?version=N]. */
int api_train_preview(RoutesCtx *ctx, Request *req, Response *resp)
{
    char id[JOBQ_ID_LEN + 1];
    if (available(ctx, req, resp) && !job_id(req, resp, id))
        preview(ctx, req, resp, id);
    return ROUTES_DONE;
}

int api_train_body(RoutesCtx *ctx, Request *req, Response *resp)
{
    JobFile styles[JOBQ_MAX_FILES], content[JOBQ_MAX_FILES];
    int nstyles = 0, ncontent = 0, rc;
    const FormPart *config = NULL;
    char id[JOBQ_ID_LEN + 1], field[64], err[384];
    json_t *cfg, *job;
    json_error_t jerr;
    if (req->parts_overflow) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "style",
                       "more than %d form fields", ROUTES_MAX_PARTS);
        return ROUTES_DONE;
    }
    for (int i = 0; i < req->nparts; i++) {
        const FormPart *p = &req->parts[i];
        if (!strcmp(p->name, "config") && !config) {
            config = p;
        } else if (!strcmp(p->name, "style") && nstyles < JOBQ_MAX_FILES) {
            styles[nstyles++] = (JobFile){p->data, p->len};
        } else if (!strcmp(p->name, "content") && ncontent < JOBQ_MAX_FILES) {
            content[ncontent++] = (JobFile){p->data, p->len};
        } else {
            routes_problem(resp, req, PROBLEM_BAD_REQUEST, p->name[0] ? p->name : "form",
                           "unexpected field '%s' (or too many): send style (1..%d files), "
                           "content (0..%d files) and one config",
                           p->name, JOBQ_MAX_FILES, JOBQ_MAX_FILES);
            return ROUTES_DONE;
        }
    }
    if (!config) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "config",
                       "the form has no field 'config' (the job's JSON settings)");
        return ROUTES_DONE;
    }
    cfg = json_loadb((const char *)config->data, config->len, 0, &jerr);
    if (!json_is_object(cfg)) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "config",
                       "config is not a JSON object: %s", cfg ? "another JSON value" : jerr.text);
        json_decref(cfg);
        return ROUTES_DONE;
    }
    rc = jobq_submit(ctx->jobq, cfg, styles, nstyles, content, ncontent, id, field,
                     sizeof field, err, sizeof err);
    json_decref(cfg);
    switch (rc) {
    case JOBQ_OK:
        break;
    case JOBQ_EINVAL:
    case JOBQ_ETOOLARGE:
        routes_problem(resp, req, problem_for_jobq(rc), field, "%s", err);
        return ROUTES_DONE;
    case JOBQ_ECONFLICT:
        routes_problem(resp, req, PROBLEM_CONFLICT, field, "%s", err);
        return ROUTES_DONE;
    case JOBQ_EFULL:
        routes_problem(resp, req, problem_for_jobq(rc), NULL, "%s; retry later", err);
        resp->retry_after = 60;
        return ROUTES_DONE;
    default:
        routes_problem(resp, req, problem_for_jobq(rc), NULL, "%s",
                       err[0] ? err : "out of memory");
        return ROUTES_DONE;
    }
    job = jobq_get(ctx->jobq, id, &rc);
    routes_json(resp, req, 202, job);
    snprintf(resp->location, sizeof resp->location, "/train/%s", id);
    return ROUTES_DONE;
}
