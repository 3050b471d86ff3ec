/* registry.h: the model repository, and the loaded models shared by
 * reference count.
 *
 * The repository is a folder `<dir>/<name>/v<N>.safetensors`, optionally
 * with `<dir>/<name>/CURRENT` (text "N" or "vN") pinning the version served
 * and `<dir>/<name>/card.json` (the model card; otherwise the card inside
 * the model file is used). Without a pin the highest version is served.
 * Model names are [a-z0-9_-]{1,64}; other folders are ignored, and a
 * request naming anything else is refused before any file is touched.
 *
 * Each served version is loaded once (net_load) into a ModelRef that
 * workers share read-only. The registry holds one reference to the current
 * ref of each model; a request takes its own with registry_acquire and
 * drops it with registry_release. Switching versions (registry_set_current)
 * loads the new version first, then swaps the pointer under the lock:
 * requests in flight finish on the version they started with, and the old
 * version is freed when its last request releases it.
 */
#ifndef ATELIER_REGISTRY_H
#define ATELIER_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>
#include "engine/net.h"

#define REGISTRY_NAME_MAX 64

typedef struct ModelRef {
    char name[REGISTRY_NAME_MAX + 1];
    int version;
    Net *net;                /* read-only for holders */
    uint64_t id;             /* unique per load within the process */
    atomic_int refs;
} ModelRef;

typedef struct Registry Registry;

enum {
    REGISTRY_OK = 0,
    REGISTRY_EINVAL = -1,    /* not a valid model name (400) */
    REGISTRY_ENOENT = -2,    /* no such model or version (404) */
    REGISTRY_ENOTREADY = -3, /* known but not (yet) loaded (503) */
    REGISTRY_ELOAD = -4,     /* the model file failed to load */
    REGISTRY_ENOMEM = -5
};

/* Scans dir. default_model names the model served when a request names
 * none ("" or NULL: the first by name). Loads nothing. Returns a new
 * Registry, or NULL with a message in err when dir cannot be read or the
 * default model is not in it. Caller frees with registry_free(). */
Registry *registry_open(const char *dir, const char *default_model, char *err, size_t errlen);

/* Drops the registry's references; models still acquired stay alive until
 * released. Accepts NULL. */
void registry_free(Registry *r);

/* Loads the served version of every model not yet loaded (slow: call it
 * off the HTTP thread). Failures are logged and leave that model not
 * ready. Returns the number of models that failed. */
int registry_load_all(Registry *r);

/* 1 when name is a valid model name. */
int registry_valid_name(const char *name);

/* The default model's name (borrowed from r), or NULL with no models. */
const char *registry_default(const Registry *r);

/* 1 when the default model is loaded. */
int registry_ready(Registry *r);

/* A new reference to the current version of name (NULL: the default
 * model). Borrows the model until registry_release(). On failure returns
 * NULL with *code set to REGISTRY_EINVAL, _ENOENT or _ENOTREADY. */
ModelRef *registry_acquire(Registry *r, const char *name, int *code);

/* Drops a reference; the last one frees the model. Accepts NULL. */
void registry_release(ModelRef *ref);

/* Loads version of name and makes it current (the atomic swap). The pin
 * file is the caller's business. 0 or REGISTRY_E*, with a message in err;
 * on error the current version is unchanged. */
int registry_set_current(Registry *r, const char *name, int version, char *err, size_t errlen);

/* A snapshot of one model, owned by the caller. */
typedef struct RegistryInfo {
    char name[REGISTRY_NAME_MAX + 1];
    int current;             /* the version served, or would be */
    int loaded;              /* version loaded now, 0 = none */
    int nversions;
    int *versions;           /* ascending */
    char *card;              /* JSON text, or NULL */
    char *error;             /* last load error, or NULL */
    int64_t params;          /* parameter count when loaded */
} RegistryInfo;

/* Fills *out with a new array, a snapshot of every model (sorted by name).
 * Returns the count (>= 0) or REGISTRY_ENOMEM. Caller frees with
 * registry_list_free(*out, count). */
int registry_list(Registry *r, RegistryInfo **out);
void registry_list_free(RegistryInfo *infos, int n);     /* accepts NULL */
/* Fills *info with one model's snapshot: 0 or REGISTRY_EINVAL / _ENOENT /
 * _ENOMEM. Caller frees its contents with registry_info_clear(). */
int registry_info(Registry *r, const char *name, RegistryInfo *info);
void registry_info_clear(RegistryInfo *info);

#endif
