/* registry.h: the model repository, and the loaded models shared by
 * reference count.
 *
 * The repository's layout (version files, the CURRENT pin, card.json,
 * names) is engine/repo.h's; the registry reads it through repo_* only.
 * Other folders are ignored, and a request naming anything that is not a
 * valid name is refused before any file is touched.
 *
 * Each served version is loaded once (net_load) into a ModelRef that
 * workers share read-only. The registry holds one reference to the current
 * ref of each model; a request takes its own with registry_acquire and
 * drops it with registry_release. Switching versions (registry_set_current)
 * loads the new version first, then swaps the pointer under the lock:
 * requests in flight finish on the version they started with, and the old
 * version is freed when its last request releases it.
 *
 * The repository may change under the server (another process writing a
 * version as a temporary file and a rename, a training job publishing a
 * checkpoint, an operator editing CURRENT): registry_rescan, called by the
 * watch thread (watch.h), re-reads it and swaps in what it now says. Files
 * that are not versions (repo_parse_version) are never loaded; a version that fails to
 * load is logged, remembered (by mtime and size) and never served.
 *
 * Candidates (engine/repo.h): a version whose v<N>.card.json says "state":
 * "candidate" or "refused" is never served by the newest-version rule, only
 * when CURRENT pins it (promotion pins it). The card shown with a model is
 * the served version's v<N>.card.json, else card.json, else the card inside
 * the file.
 */
#ifndef ATELIER_REGISTRY_H
#define ATELIER_REGISTRY_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include "engine/net.h"
#include "engine/repo.h"

typedef struct ModelRef {
    char name[REPO_NAME_MAX + 1];
    int version;
    Net *net;                /* read-only for holders */
    uint64_t id;             /* unique per load within the process */
    atomic_int refs;         /* private: registry_retain / registry_release */
} ModelRef;

typedef struct Registry Registry;

enum {
    REGISTRY_OK = 0,
    REGISTRY_EINVAL = -1,    /* not a valid model name (400) */
    REGISTRY_ENOENT = -2,    /* no such model (404) */
    REGISTRY_ENOTREADY = -3, /* known but not (yet) loaded (503) */
    REGISTRY_ELOAD = -4,     /* the model file failed to load */
    REGISTRY_ENOMEM = -5,
    REGISTRY_EIO = -6,       /* CURRENT could not be written or removed */
    REGISTRY_ENOVERSION = -7, /* the model has no such version (404) */
    REGISTRY_ECANDIDATE = -8 /* the model has candidate versions only (404) */
};

typedef struct RegistryStats {
    long swaps;              /* a served version replaced by another */
    long rollbacks;          /* ... by an older one */
    long load_failures;
} RegistryStats;

/* Scans dir. default_model names the model served when a request names
 * none ("" or NULL: the DEFAULT file of dir, else the only model when there
 * is exactly one, else none: never the first of several by name). The
 * DEFAULT file is read again at every scan. Loads nothing. Returns a new
 * Registry, or NULL with a message in err when dir cannot be read or the
 * default model is not in it. Caller frees with registry_free(). */
Registry *registry_open(const char *dir, const char *default_model, char *err, size_t errlen);

/* Drops the registry's references; models still acquired stay alive until
 * released. Accepts NULL. */
void registry_free(Registry *r);

/* Loads the served version of every model not yet loaded (slow: call it
 * off the HTTP thread). A version that fails to load (truncated,
 * unreadable, not a model) is logged, remembered and kept as the model's
 * error, and the newest other version that loads is served instead, also
 * when the failing one is pinned; a model with no version that loads stays
 * not ready. Returns the number of models left not ready. */
int registry_load_all(Registry *r);

/* The default model's name (borrowed from r), or NULL when there is none. */
const char *registry_default(const Registry *r);
/* Where the default came from: "flag", "file", "only model" or "none". */
const char *registry_default_from(const Registry *r);
/* PUT /models/default: writes the DEFAULT file atomically and makes name
 * the default at once (over --default-model, until a restart with it).
 * 0, or REGISTRY_EINVAL / _ENOENT / _EIO with a message in err. */
int registry_set_default(Registry *r, const char *name, char *err, size_t errlen);

/* 1 when the default model is loaded. */
int registry_ready(Registry *r);

/* A new reference to the current version of name (NULL: the default
 * model). Borrows the model until registry_release(). On failure returns
 * NULL with *code set to REGISTRY_EINVAL, _ENOENT or _ENOTREADY. */
ModelRef *registry_acquire(Registry *r, const char *name, int *code);

/* A new reference to version of name (0: the current one, as
 * registry_acquire). A version that is not the one served is loaded from
 * its file for this caller alone (slow: a file read) and freed at its
 * release; nothing served changes. On failure NULL with *code
 * REGISTRY_EINVAL, _ENOENT (no such model or version), _ENOTREADY or
 * _ELOAD, and a message in err. */
ModelRef *registry_acquire_version(Registry *r, const char *name, int version, int *code,
                                   char *err, size_t errlen);

/* The canary (a job's "canary"): version of name, loaded now, answers a
 * share (0..1) of the requests that name the model (or, for the default
 * model, none) until it has answered `requests` of them; exactly
 * floor(n * share) of the first n. 0, or REGISTRY_ENOENT / _ELOAD with a
 * message. */
int registry_canary_start(Registry *r, const char *name, int version, double share,
                          long requests, char *err, size_t errlen);
/* 1 while name has a canary, with its counts; 0 when none. */
int registry_canary_status(Registry *r, const char *name, long *served, long *failed,
                           long *left);
/* Stops name's canary (its requests finish on it). */
void registry_canary_end(Registry *r, const char *name);
/* A request answered by ref's version: counted per version (and as the
 * canary's when ref is it), failed when it ended in a 5xx. */
void registry_note_result(Registry *r, const ModelRef *ref, int failed);
/* The per-version counters as Prometheus text. */
#define REGISTRY_MAX_COUNTED 256
void registry_write_counts(Registry *r, FILE *f);

/* Drops a reference; the last one frees the model. Accepts NULL. */
void registry_release(ModelRef *ref);
/* Takes another reference to a ref already held (a cache keeping it past
 * the request); drop it with registry_release. */
void registry_retain(ModelRef *ref);

/* Loads version of name and makes it current (the atomic swap), pinned in
 * memory only: the CURRENT file is untouched. 0 or REGISTRY_E*, with a
 * message in err; on error the current version is unchanged. */
int registry_set_current(Registry *r, const char *name, int version, char *err, size_t errlen);

/* PUT /models/{name}/current: loads version, writes CURRENT atomically
 * (temporary file, fsync, rename, fsync of the folder), then swaps. 0, or
 * REGISTRY_EINVAL / _ENOENT / _ENOVERSION / _ELOAD / _EIO with a message in err; on
 * error neither the pin nor the served version changed. */
int registry_pin(Registry *r, const char *name, int version, char *err, size_t errlen);

/* DELETE /models/{name}/current: removes CURRENT and serves the newest
 * version that loads. 0, or REGISTRY_EINVAL / _ENOENT / _EIO. */
int registry_unpin(Registry *r, const char *name, char *err, size_t errlen);

/* Re-reads the repository without loading: new model folders are added,
 * known ones get their versions, pin and card refreshed. 0, or -1 when out
 * of memory. registry_open calls it. */
int registry_scan(Registry *r);

/* registry_scan, then loads and swaps in every model's served version
 * where it changed (slow: off the HTTP thread). Returns how many models
 * swapped, or REGISTRY_ENOMEM. */
int registry_rescan(Registry *r);

/* The repository folder (borrowed). */
const char *registry_dir(const Registry *r);

/* What the repository holds that is not servable (engine/repo.h's
 * strays), as of the last scan: up to max copied to out; the count. Each
 * is logged once, when a scan first finds it. */
#define REGISTRY_MAX_STRAYS 32
int registry_strays(Registry *r, RepoStray *out, int max);

/* A copy of the counters. */
void registry_stats(Registry *r, RegistryStats *out);

/* A snapshot of one model, owned by the caller. */
typedef struct RegistryInfo {
    char name[REPO_NAME_MAX + 1];
    int current;             /* the version served, or would be */
    int pinned;              /* the version CURRENT pins, 0 = none */
    int loaded;              /* version loaded now, 0 = none */
    int nversions;
    int *versions;           /* ascending */
    int *states;             /* REPO_SERVABLE etc., parallel to versions */
    char *card;              /* the served version's card (JSON text), or NULL */
    char *error;             /* a refused CURRENT, and/or the last load
                                error ("; " between), or NULL */
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
