/* api_models.c: the /models routes: the list, one model, the default
 * model's choice (GET, PUT /models/default) and the served version's pin
 * (PUT, DELETE /models/{name}/current, with the token). */
#include "server/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/repo.h"
#include "engine/util.h"
#include "server/redact.h"

static json_t *model_json(const RegistryInfo *info, int is_default, int detailed)
{
    json_t *o = json_object(), *versions = json_array(), *card = NULL;
    if (!o || !versions) {
        json_decref(o);
        json_decref(versions);
        return NULL;
    }
    for (int i = 0; i < info->nversions; i++)
        json_array_append_new(versions, json_integer(info->versions[i]));
    if (info->card)
        card = json_loads(info->card, 0, NULL);
    json_object_set_new(o, "name", json_string(info->name));
    json_object_set_new(o, "current", json_integer(info->current));
    json_object_set_new(o, "pinned", info->pinned ? json_integer(info->pinned) : json_null());
    json_object_set_new(o, "versions", versions);
    json_object_set_new(o, "ready", json_boolean(info->loaded != 0));
    json_object_set_new(o, "default", json_boolean(is_default));
    /* Open routes: no path of this machine (server/redact.h). */
    redact_json(card);
    json_object_set_new(o, "card", json_is_object(card) ? card : json_object());
    if (!json_is_object(card))
        json_decref(card);
    if (detailed) {
        json_object_set_new(o, "loaded", info->loaded ? json_integer(info->loaded) : json_null());
        json_object_set_new(o, "params", json_integer(info->params));
        if (info->error) {
            char *e = redact_paths(info->error);
            json_object_set_new(o, "error", json_string(e ? e : "does not load"));
            free(e);
        }
    }
    return o;
}

/* Each version's state (servable, candidate, refused, promoted), what the
 * promotion gate measured, and its preview's URL when it has one. */
static json_t *versions_detail(RoutesCtx *ctx, const RegistryInfo *info)
{
    json_t *a = json_array();
    char path[4200];
    struct stat st;
    for (int i = 0; a && i < info->nversions; i++) {
        int v = info->versions[i];
        char *text = repo_version_card(registry_dir(ctx->reg), info->name, v, NULL);
        json_t *card = text ? json_loads(text, 0, NULL) : NULL, *gate;
        gate = json_object_get(card, "gate");
        json_t *o = json_pack("{s:i, s:s, s:O}", "version", v, "state",
                              repo_state_name(info->states[i]), "gate", gate ? gate : json_null());
        if (o && !repo_path(registry_dir(ctx->reg), info->name, REPO_PREVIEW, v, path,
                            sizeof path) && !stat(path, &st)) {
            snprintf(path, sizeof path, "/models/%s/versions/%d/preview", info->name, v);
            json_object_set_new(o, "preview", json_string(path));
        }
        json_array_append_new(a, o);
        json_decref(card);
        free(text);
    }
    return a;
}

/* What the repository holds that is not served, and why. */
static json_t *strays_json(RoutesCtx *ctx)
{
    RepoStray st[REGISTRY_MAX_STRAYS];
    int n = registry_strays(ctx->reg, st, REGISTRY_MAX_STRAYS);
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "path", st[i].path, "reason",
                                           st[i].reason));
    return a;
}

int api_models_list(RoutesCtx *ctx, Request *req, Response *resp)
{
    RegistryInfo *infos = NULL;
    const char *def = registry_default(ctx->reg);
    int n = registry_list(ctx->reg, &infos);
    json_t *list = json_array(), *body = json_object();
    if (n < 0 || !list || !body) {
        json_decref(list);
        json_decref(body);
        registry_list_free(infos, n < 0 ? 0 : n);
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return ROUTES_DONE;
    }
    for (int i = 0; i < n; i++)
        json_array_append_new(list, model_json(&infos[i], def && !strcmp(def, infos[i].name), 0));
    registry_list_free(infos, n);
    json_object_set_new(body, "default", def ? json_string(def) : json_null());
    json_object_set_new(body, "default_from", json_string(registry_default_from(ctx->reg)));
    json_object_set_new(body, "ignored", strays_json(ctx));
    json_object_set_new(body, "models", list);
    routes_json(resp, req, 200, body);
    return ROUTES_DONE;
}

int api_model_get(RoutesCtx *ctx, Request *req, Response *resp)
{
    const char *name = req->path + strlen("/models/");
    const char *def = registry_default(ctx->reg);
    RegistryInfo info;
    int rc = registry_info(ctx->reg, name, &info);
    if (rc == REGISTRY_EINVAL || rc == REGISTRY_ENOENT) {
        /* A path segment that is not a model name names no model: 404,
         * and no file is looked at (registry_info checks the name). */
        reply_unknown_model(ctx, req, resp, NULL, name);
        return ROUTES_DONE;
    }
    if (rc) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return ROUTES_DONE;
    }
    json_t *o = model_json(&info, def && !strcmp(def, info.name), 1);
    if (o)
        json_object_set_new(o, "versions_detail", versions_detail(ctx, &info));
    routes_json(resp, req, 200, o);
    registry_info_clear(&info);
    return ROUTES_DONE;
}

int api_version_preview(RoutesCtx *ctx, Request *req, Response *resp)
{
    char name[REPO_NAME_MAX + 1], path[4200];
    const char *p = req->path + strlen("/models/");
    size_t n = strcspn(p, "/"), k;
    long long v = 0;
    char num[16];
    uint8_t *data = NULL;
    size_t len = 0;
    long size;
    FILE *f = NULL;
    if (n <= REPO_NAME_MAX) {         /* the route: /models/{name}/versions/{version}/preview */
        memcpy(name, p, n);
        name[n] = '\0';
        p += n + strlen("/versions/");
        if ((k = strcspn(p, "/")) < sizeof num) {
            memcpy(num, p, k);
            num[k] = '\0';
            util_parse_int(num, 1, REPO_MAX_VERSION, &v);   /* else 0: no such file */
        }
    }
    if (n > REPO_NAME_MAX || !repo_valid_name(name) ||
        repo_path(registry_dir(ctx->reg), name, REPO_PREVIEW, (int)v, path, sizeof path) ||
        !(f = fopen(path, "rbe"))) {
        routes_problem(resp, req, PROBLEM_NOT_FOUND, NULL, "no preview at %.200s", req->path);
        return ROUTES_DONE;
    }
    if (!fseek(f, 0, SEEK_END) && (size = ftell(f)) > 0 && size < (16L << 20) &&
        !fseek(f, 0, SEEK_SET) && (data = malloc((size_t)size)) &&
        fread(data, 1, (size_t)size, f) == (size_t)size)
        len = (size_t)size;
    fclose(f);
    if (len)
        reply_take(resp, 200, "image/jpeg", data, len);
    else {
        free(data);
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "cannot read the preview");
    }
    return ROUTES_DONE;
}

/* The {name} of /models/{name}/current into out; 0, or -1 (404 in resp). */
static int current_name(const Request *req, Response *resp, char *out, size_t len)
{
    const char *p = req->path + strlen("/models/");
    size_t n = strcspn(p, "/");
    if (n >= len || n > REPO_NAME_MAX) {
        routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, NULL, "no model '%.64s...'", p);
        return -1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    if (!repo_valid_name(out)) {
        routes_problem(resp, req, PROBLEM_UNKNOWN_MODEL, NULL, "no model '%s'", out);
        return -1;
    }
    return 0;
}

/* The registry's answer to a pin change: the model as GET shows it, or
 * the problem. */
static void current_reply(RoutesCtx *ctx, const Request *req, Response *resp, const char *name,
                          int rc, const char *err)
{
    RegistryInfo info;
    const char *def = registry_default(ctx->reg);
    switch (rc) {
    case REGISTRY_OK:
        break;
    case REGISTRY_EINVAL:
    case REGISTRY_ENOENT:
    case REGISTRY_ENOVERSION:
        routes_problem(resp, req, problem_for_registry(rc), NULL, "%s", err);
        return;
    case REGISTRY_ELOAD:
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, "version",
                       "that version does not load, so it is not served: %s", err);
        return;
    default:
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "%s", err);
        return;
    }
    if (registry_info(ctx->reg, name, &info)) {
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "out of memory");
        return;
    }
    routes_json(resp, req, 200, model_json(&info, def && !strcmp(def, info.name), 1));
    registry_info_clear(&info);
}

/* GET /models/default: which model serves requests that name none. */
static void default_reply(RoutesCtx *ctx, const Request *req, Response *resp)
{
    const char *def = registry_default(ctx->reg);
    routes_json(resp, req, 200, json_pack("{s:o, s:s}", "default", def ? json_string(def)
                                                                      : json_null(),
                                         "from", registry_default_from(ctx->reg)));
}

/* The JSON body of a PUT whose only member is field, described to the
 * client as shape; NULL with a 400 in resp otherwise. Caller decrefs. */
static json_t *one_field_body(const Request *req, Response *resp, const char *field,
                              const char *shape)
{
    json_t *body = req->body_len ? json_loadb((const char *)req->body, req->body_len, 0, NULL)
                                 : NULL, *v;
    const char *key;
    char q[64];
    if (!json_is_object(body)) {
        routes_problem(resp, req, PROBLEM_BAD_REQUEST, "body", "send a JSON object %s", shape);
        json_decref(body);
        return NULL;
    }
    json_object_foreach(body, key, v) {
        if (strcmp(key, field)) {
            routes_problem(resp, req, PROBLEM_BAD_PARAMETER, reply_quote(key, q, sizeof q),
                           "unknown field '%s'; the body is %s", q, shape);
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

/* PUT /models/default {"model": NAME}: writes the repository's DEFAULT. */
int api_default_put(RoutesCtx *ctx, Request *req, Response *resp)
{
    char err[256] = "";
    json_t *body = one_field_body(req, resp, "model", "{\"model\": NAME}");
    const char *name = json_string_value(json_object_get(body, "model"));
    int rc;
    if (!body)
        return ROUTES_DONE;
    if (!name) {
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, "model", "model must be a model name");
        json_decref(body);
        return ROUTES_DONE;
    }
    rc = registry_set_default(ctx->reg, name, err, sizeof err);
    if (rc == REGISTRY_EINVAL || rc == REGISTRY_ENOENT)
        reply_unknown_model(ctx, req, resp, "model", name);
    else if (rc)
        routes_problem(resp, req, PROBLEM_INTERNAL, NULL, "%s", err);
    else
        default_reply(ctx, req, resp);
    json_decref(body);
    return ROUTES_DONE;
}

/* DELETE /models/{name}/current: back to the newest version. */
static void delete_current(RoutesCtx *ctx, const Request *req, Response *resp)
{
    char name[REPO_NAME_MAX + 1], err[256] = "";
    if (current_name(req, resp, name, sizeof name))
        return;
    current_reply(ctx, req, resp, name, registry_unpin(ctx->reg, name, err, sizeof err), err);
}

/* PUT /models/{name}/current with {"version": N}: the body is here. The
 * version loads on this (the HTTP) thread before it is swapped in. */
int api_current_put(RoutesCtx *ctx, Request *req, Response *resp)
{
    char name[REPO_NAME_MAX + 1], err[256] = "";
    json_t *body, *v;
    json_int_t version;
    if (current_name(req, resp, name, sizeof name))
        return ROUTES_DONE;
    if (!(body = one_field_body(req, resp, "version", "{\"version\": N}")))
        return ROUTES_DONE;
    v = json_object_get(body, "version");
    version = json_is_integer(v) ? json_integer_value(v) : 0;
    json_decref(body);
    if (version < 1 || version > REPO_MAX_VERSION) {
        routes_problem(resp, req, PROBLEM_BAD_PARAMETER, "version",
                       "version must be an integer in 1..%d", REPO_MAX_VERSION);
        return ROUTES_DONE;
    }
    current_reply(ctx, req, resp, name,
                  registry_pin(ctx->reg, name, (int)version, err, sizeof err), err);
    return ROUTES_DONE;
}

/* GET /models/default answers; PUT (with the token) takes a body. */
int api_default_begin(RoutesCtx *ctx, Request *req, Response *resp)
{
    if (strcmp(req->method, "PUT")) {
        default_reply(ctx, req, resp);
        return ROUTES_DONE;
    }
    return reply_authorised(ctx, req, resp) ? ROUTES_BODY : ROUTES_DONE;
}

/* DELETE /models/{name}/current answers; PUT takes a body. Both need the
 * token. */
int api_current_begin(RoutesCtx *ctx, Request *req, Response *resp)
{
    if (!reply_authorised(ctx, req, resp))
        return ROUTES_DONE;
    if (!strcmp(req->method, "DELETE")) {
        delete_current(ctx, req, resp);
        return ROUTES_DONE;
    }
    return ROUTES_BODY;
}
