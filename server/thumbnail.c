/* thumbnail.c: the per-version thumbnail (thumbnail.h). */
#include "server/thumbnail.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/api.h"
#include "server/log.h"
#include "engine/repo.h"
#include "engine/util.h"
#include "server/web.h"

const uint8_t *thumbnail_photo(size_t *len)
{
    const WebAsset *a = web_find("/ui/sample.jpg");
    *len = a ? a->len : 0;
    return a ? a->data : NULL;
}

/* <data>/thumbnails/<name> and the file name for this version's file, or
 * -1 when the version has no file. */
static int cache_path(const RoutesCtx *ctx, const char *name, int version, char *dir,
                      size_t dirlen, char *file, size_t filelen)
{
    char path[PATH_MAX];
    struct stat st;
    int n;
    if (repo_version_path(registry_dir(ctx->reg), name, version, path, sizeof path) ||
        stat(path, &st))
        return -1;
    n = snprintf(dir, dirlen, "%s/thumbnails/%s", ctx->cfg->data, name);
    if (n < 0 || (size_t)n >= dirlen)
        return -1;
    n = snprintf(file, filelen, "v%d-%lld-%lld.jpg", version, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
    return n < 0 || (size_t)n >= filelen ? -1 : 0;
}

/* The cached thumbnail of name/v<version> into resp: 0, or -1 when there
 * is none. */
static int cached(const char *dir, const char *file, const char *name, int version,
                  const Request *req, Response *resp)
{
    char path[PATH_MAX];
    FILE *f;
    long n;
    uint8_t *buf;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!(f = fopen(path, "rbe")))
        return -1;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || n > (1L << 24) || fseek(f, 0, SEEK_SET) ||
        !(buf = malloc((size_t)n))) {
        fclose(f);
        return -1;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    free(resp->body);
    resp->status = 200;
    resp->content_type = "image/jpeg";
    resp->body = buf;
    resp->len = (size_t)n;
    snprintf(resp->model, sizeof resp->model, "%s/v%d", name, version);
    return 0;
}

/* The {name} of the path and ?version= (0: the served one). 0, or -1 with
 * the problem in resp. */
static int parse(const Request *req, Response *resp, char *name, int *version)
{
    const char *p = req->path + strlen("/models/");
    size_t n = strcspn(p, "/");
    long long v = 0;
    if (n > REPO_NAME_MAX) {
        routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, NULL, "no model '%.64s...'", p);
        return -1;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    if (reply_query_int(req, resp, "version", 1, REPO_MAX_VERSION, &v))
        return -1;
    *version = (int)v;
    return 0;
}

int thumbnail_begin(RoutesCtx *ctx, Request *req, Response *resp)
{
    StylizeJob *job;
    char name[REPO_NAME_MAX + 1], err[256] = "", dir[PATH_MAX], file[96];
    int version, code;
    if (parse(req, resp, name, &version))
        return ROUTES_DONE;
    if (!repo_valid_name(name)) {
        routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, NULL, "no model '%s'", name);
        return ROUTES_DONE;
    }
    if (version && !cache_path(ctx, name, version, dir, sizeof dir, file, sizeof file) &&
        !cached(dir, file, name, version, req, resp))
        return ROUTES_DONE;
    if (!(job = api_stylize_attach(req, resp)))
        return ROUTES_DONE;
    job->model = registry_acquire_version(ctx->reg, name, version, &code, err, sizeof err);
    if (!job->model) {
        if (code == REGISTRY_ENOTREADY) {
            routes_problem(resp, req, PROBLEM_NOT_READY, NULL, "%s", err);
            resp->retry_after = 1;
        } else {
            routes_problem(resp, req,
                           (code == REGISTRY_ENOENT || code == REGISTRY_ENOVERSION) &&
                                   version ? PROBLEM_NOT_FOUND
                           : code == REGISTRY_ELOAD          ? PROBLEM_INTERNAL
                                                             : PROBLEM_UNKNOWN_MODEL,
                           NULL, "%s", err);
        }
        return ROUTES_DONE;
    }
    if (!version && !cache_path(ctx, name, job->model->version, dir, sizeof dir, file,
                                sizeof file) &&
        !cached(dir, file, name, job->model->version, req, resp)) {
        registry_release(job->model);
        job->model = NULL;
        return ROUTES_DONE;
    }
    job->params.opt.strength = 1.0f;
    job->params.max_size = THUMBNAIL_SIZE;
    job->params.format = IMG_JPEG;
    job->params.quality = 85;
    job->params.max_pixels = ctx->cfg->max_pixels;
    return ROUTES_BODY;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

void thumbnail_store(RoutesCtx *ctx, const Request *req, const Response *resp)
{
    const StylizeJob *job = req->state;
    const ModelRef *m = job ? job->model : NULL;
    char dir[PATH_MAX], file[96], path[PATH_MAX + 100], err[256] = "";
    if (resp->status != 200 || !m ||
        cache_path(ctx, m->name, m->version, dir, sizeof dir, file, sizeof file))
        return;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (mkdirs(dir))
        snprintf(err, sizeof err, "%.200s: %s", dir, strerror(errno));
    if (err[0] || util_write_atomic(path, resp->body, resp->len, err, sizeof err))
        log_write("warn", "cannot keep the thumbnail", "{s:s}", "error", err);
}

int thumbnail_body(RoutesCtx *ctx, Request *req, Response *resp)
{
    req->body = thumbnail_photo(&req->body_len);
    return api_stylize_body(ctx, req, resp);
}

void thumbnail_complete(RoutesCtx *ctx, Request *req, Response *resp)
{
    api_stylize_complete(ctx, req, resp);
    thumbnail_store(ctx, req, resp);
}
