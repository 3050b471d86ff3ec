/* problem.h: RFC 9457 "problem details" bodies (application/problem+json).
 *
 * Every error the service answers is one of the kinds below. A kind fixes the
 * HTTP status, the "type" URI (a URN: it names the problem, it is not meant
 * to be fetched) and the "title"; the caller supplies the "detail" sentence
 * for this occurrence and, for a bad parameter, the parameter's name.
 */
#ifndef ATELIER_PROBLEM_H
#define ATELIER_PROBLEM_H

#include <stddef.h>

#define PROBLEM_CONTENT_TYPE "application/problem+json"

typedef enum ProblemKind {
    PROBLEM_BAD_PARAMETER,          /* 400 */
    PROBLEM_BAD_REQUEST,            /* 400: a malformed body or form */
    PROBLEM_UNAUTHORIZED,           /* 401 */
    PROBLEM_FORBIDDEN,              /* 403 */
    PROBLEM_NOT_FOUND,              /* 404: no such route */
    PROBLEM_UNKNOWN_MODEL,          /* 404 */
    PROBLEM_METHOD_NOT_ALLOWED,     /* 405 */
    PROBLEM_TOO_SLOW,               /* 408: the body came too slowly */
    PROBLEM_CONFLICT,               /* 409: a job would overwrite a model */
    PROBLEM_BODY_TOO_LARGE,         /* 413 */
    PROBLEM_IMAGE_TOO_LARGE,        /* 413 */
    PROBLEM_UNSUPPORTED_MEDIA_TYPE, /* 415 */
    PROBLEM_UNDECODABLE_IMAGE,      /* 422 */
    PROBLEM_INTERNAL,               /* 500 */
    PROBLEM_INSUFFICIENT_STORAGE,   /* 507: the disk is full */
    PROBLEM_NOT_IMPLEMENTED,        /* 501 */
    PROBLEM_OVERLOADED,             /* 503: queue full or out of memory */
    PROBLEM_NOT_READY,              /* 503: model not loaded, or draining */
    PROBLEM_KIND_COUNT
} ProblemKind;

int problem_status(ProblemKind kind);
const char *problem_type(ProblemKind kind);    /* static string */
const char *problem_title(ProblemKind kind);   /* static string */

/* Renders {"type","title","status","detail"[,"param"][,"instance"]
 * [,"request_id"]} as compact JSON. detail, param, instance and request_id
 * may be NULL (then left out). Returns a new NUL-terminated string and its
 * length in *len; caller frees with free(). NULL when out of memory. */
/* The one mapping from the lower layers' error codes to problems: an
 * IMG_E* code (engine/image.h), a REGISTRY_E* code (registry.h), a
 * JOBQ_E* code (jobq.h), an INFER_E* code (infer.h). Codes, never message text, choose statuses. */
ProblemKind problem_for_image(int img_code);
ProblemKind problem_for_registry(int registry_code);
ProblemKind problem_for_jobq(int jobq_code);
ProblemKind problem_for_infer(int infer_error);   /* INFER_E* (infer.h) */

char *problem_render(ProblemKind kind, const char *detail, const char *param,
                     const char *instance, const char *request_id, size_t *len);

#endif
