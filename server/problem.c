/* problem.c: the table of problem kinds, their JSON rendering, and the one
 * mapping of the lower layers' error codes to them. */
#include "server/problem.h"

#include "engine/image.h"
#include "server/infer.h"
#include "server/jobq.h"
#include "server/registry.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int status;
    const char *type;
    const char *title;
} kinds[PROBLEM_KIND_COUNT] = {
    [PROBLEM_BAD_PARAMETER] = {400, "urn:atelier:problem:bad-parameter", "Bad parameter"},
    [PROBLEM_BAD_REQUEST] = {400, "urn:atelier:problem:bad-request", "Malformed request"},
    [PROBLEM_UNAUTHORIZED] = {401, "urn:atelier:problem:unauthorized", "Missing or wrong token"},
    [PROBLEM_FORBIDDEN] = {403, "urn:atelier:problem:forbidden", "Management API disabled"},
    [PROBLEM_NOT_FOUND] = {404, "urn:atelier:problem:not-found", "No such resource"},
    [PROBLEM_UNKNOWN_MODEL] = {404, "urn:atelier:problem:unknown-model", "Unknown model"},
    [PROBLEM_METHOD_NOT_ALLOWED] = {405, "urn:atelier:problem:method-not-allowed",
                                    "Method not allowed"},
    [PROBLEM_TOO_SLOW] = {408, "urn:atelier:problem:too-slow", "Request too slow"},
    [PROBLEM_CONFLICT] = {409, "urn:atelier:problem:conflict", "Conflicts with what exists"},
    [PROBLEM_BODY_TOO_LARGE] = {413, "urn:atelier:problem:body-too-large", "Request body too large"},
    [PROBLEM_IMAGE_TOO_LARGE] = {413, "urn:atelier:problem:image-too-large", "Image too large"},
    [PROBLEM_UNSUPPORTED_MEDIA_TYPE] = {415, "urn:atelier:problem:unsupported-media-type",
                                        "Unsupported media type"},
    [PROBLEM_UNDECODABLE_IMAGE] = {422, "urn:atelier:problem:undecodable-image",
                                   "Image does not decode"},
    [PROBLEM_INTERNAL] = {500, "urn:atelier:problem:internal", "Internal error"},
    [PROBLEM_INSUFFICIENT_STORAGE] = {507, "urn:atelier:problem:insufficient-storage",
                                      "Insufficient storage"},
    [PROBLEM_NOT_IMPLEMENTED] = {501, "urn:atelier:problem:not-implemented", "Not implemented"},
    [PROBLEM_OVERLOADED] = {503, "urn:atelier:problem:overloaded", "Service overloaded"},
    [PROBLEM_NOT_READY] = {503, "urn:atelier:problem:not-ready", "Service not ready"},
};

static int valid(ProblemKind kind)
{
    return (int)kind >= 0 && kind < PROBLEM_KIND_COUNT;
}

int problem_status(ProblemKind kind)
{
    return valid(kind) ? kinds[kind].status : 500;
}

const char *problem_type(ProblemKind kind)
{
    return valid(kind) ? kinds[kind].type : kinds[PROBLEM_INTERNAL].type;
}

const char *problem_title(ProblemKind kind)
{
    return valid(kind) ? kinds[kind].title : kinds[PROBLEM_INTERNAL].title;
}

static int set_str(json_t *o, const char *key, const char *value)
{
    /* json_string refuses invalid UTF-8; a client-supplied fragment in a
     * detail must not make the whole body disappear. */
    json_t *s;
    if (!value)
        return 0;
    s = json_string(value);
    if (!s)
        s = json_string("(not valid UTF-8)");
    return json_object_set_new(o, key, s);
}

char *problem_render(ProblemKind kind, const char *detail, const char *param,
                     const char *instance, const char *request_id, size_t *len)
{
    json_t *o = json_object();
    char *text = NULL;
    if (!o)
        return NULL;
    if (set_str(o, "type", problem_type(kind)) ||
        set_str(o, "title", problem_title(kind)) ||
        json_object_set_new(o, "status", json_integer(problem_status(kind))) ||
        set_str(o, "detail", detail) || set_str(o, "param", param) ||
        set_str(o, "instance", instance) || set_str(o, "request_id", request_id))
        goto done;
    text = json_dumps(o, JSON_COMPACT);
    if (text && len)
        *len = strlen(text);
done:
    json_decref(o);
    return text;
}

ProblemKind problem_for_image(int img_code)
{
    switch (img_code) {
    case IMG_EFORMAT:
        return PROBLEM_UNSUPPORTED_MEDIA_TYPE;
    case IMG_ECORRUPT:
        return PROBLEM_UNDECODABLE_IMAGE;
    case IMG_ETOOLARGE:
        return PROBLEM_IMAGE_TOO_LARGE;
    case IMG_ENOMEM:
        return PROBLEM_OVERLOADED;
    default:
        return PROBLEM_INTERNAL;
    }
}

ProblemKind problem_for_registry(int registry_code)
{
    switch (registry_code) {
    case REGISTRY_EINVAL:
    case REGISTRY_ENOENT:
        return PROBLEM_UNKNOWN_MODEL;
    case REGISTRY_ENOVERSION:
        return PROBLEM_NOT_FOUND;
    case REGISTRY_ENOTREADY:
        return PROBLEM_NOT_READY;
    case REGISTRY_ELOAD:
        return PROBLEM_BAD_PARAMETER;
    default:
        return PROBLEM_INTERNAL;
    }
}

ProblemKind problem_for_jobq(int jobq_code)
{
    switch (jobq_code) {
    case JOBQ_EINVAL:
        return PROBLEM_BAD_PARAMETER;
    case JOBQ_ENOENT:
        return PROBLEM_NOT_FOUND;
    case JOBQ_EFULL:
        return PROBLEM_OVERLOADED;
    case JOBQ_ENOSPC:
        return PROBLEM_INSUFFICIENT_STORAGE;
    case JOBQ_ETOOLARGE:
        return PROBLEM_IMAGE_TOO_LARGE;
    default:
        return PROBLEM_INTERNAL;
    }
}

ProblemKind problem_for_infer(int infer_error)
{
    switch (infer_error) {
    case INFER_EFORMAT:
        return PROBLEM_UNSUPPORTED_MEDIA_TYPE;
    case INFER_EIMAGE:
        return PROBLEM_UNDECODABLE_IMAGE;
    case INFER_ETOOLARGE:
        return PROBLEM_IMAGE_TOO_LARGE;
    case INFER_ENOMEM:
        return PROBLEM_OVERLOADED;
    default:
        return PROBLEM_INTERNAL;
    }
}
