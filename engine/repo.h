/* repo.h: the one owner of a model repository's on-disk layout. The
 * trainer writes it, the registry and its watcher read it, the job queue
 * asks it; none of them spells a file name of their own.
 *
 *   <repo>/<name>/                         a model; name is [a-z0-9_-]{1,64}
 *   <repo>/<name>/v<N>.safetensors         version N, a servable model (spec
 *                                          and card in its metadata); N is a
 *                                          canonical decimal in
 *                                          1..REPO_MAX_VERSION ("v01" and
 *                                          "v0" are not versions)
 *   <repo>/<name>/v<N>.card.json           optional: version N's own card,
 *                                          written before v<N>.safetensors by
 *                                          a training job; its "state" says
 *                                          whether N may be served (below),
 *                                          its "gate" what the promotion gate
 *                                          measured
 *   <repo>/<name>/v<N>.preview.jpg         the trainer's preview of version N
 *   <repo>/<name>/CURRENT                  optional: "N\n" (or "vN\n", as an
 *                                          operator may write it) pins
 *                                          version N; anything else, or a
 *                                          version not in the folder, is
 *                                          refused loudly (repo_read_pin)
 *   <repo>/<name>/card.json                optional: the model's card, over
 *                                          the one inside the version file
 *   <repo>/<name>/.train/state.safetensors the trainer's resumable state
 *   <repo>/DEFAULT                         optional: "NAME\n", the model
 *                                          served when a request names none
 *   .<file>.tmpXXXXXX (any folder)         a file being replaced (util.h's
 *                                          temporary-name rule), never read
 *
 * Every file is replaced atomically with util_write_atomic. Without a pin
 * the highest version is served. No name can reach outside the repository.
 * Loading and sharing versions is the registry's job (registry.h).
 *
 * To add a file to the layout: a RepoFile value and its row in repo.c's
 * table; repo_path then names it for everyone.
 */
#ifndef ATELIER_REPO_H
#define ATELIER_REPO_H

#include <stddef.h>
#include <jansson.h>

#define REPO_NAME_MAX 64
#define REPO_MAX_VERSION 1000000

typedef enum RepoFile {
    REPO_MODEL_DIR,     /* <repo>/<name> */
    REPO_VERSION,       /* v<N>.safetensors */
    REPO_VERSION_CARD,  /* v<N>.card.json */
    REPO_PREVIEW,       /* v<N>.preview.jpg */
    REPO_CURRENT,       /* CURRENT */
    REPO_CARD,          /* card.json */
    REPO_STATE_DIR,     /* .train */
    REPO_STATE,         /* .train/state.safetensors */
    REPO_NFILES
} RepoFile;

int repo_valid_name(const char *name);   /* 1 when valid */

/* The version a file name in a model folder is: N for "v<N>.safetensors"
 * (canonical N, see above), else 0. The one parser of version names. */
int repo_parse_version(const char *file);

/* 1 when a file name in a model folder is one the registry reads (a
 * version, its card, CURRENT, card.json): what a watcher must wake for. */
int repo_is_served_file(const char *file);

/* Path of a file of model name (version used by a version's files only). 0, or -1 when the name or version is invalid or the
 * path does not fit in outlen. */
int repo_path(const char *repo, const char *name, RepoFile file, int version,
              char *out, size_t outlen);
int repo_version_path(const char *repo, const char *name, int version,
                      char *out, size_t outlen);

/* Creates <repo>, <repo>/<name> and, when state, its .train folder. 0, or
 * -1 with errno. */
int repo_make_dirs(const char *repo, const char *name, int state);

/* Versions of name present in repo, ascending, at most max written.
 * Returns how many exist (may exceed max), or -1 when the folder is absent. */
int repo_versions(const char *repo, const char *name, int *versions, int max);

/* The number a new version of name gets: one past the highest present
 * (loadable or not), 1 when there is none. */
int repo_next_version(const char *repo, const char *name);

/* The version CURRENT pins: N (> 0) for "N" or "vN" (blanks and a newline
 * around it allowed) naming a version in the folder; 0 when there is no
 * CURRENT; -1 with a message for people in err (err may be NULL) when it
 * holds anything else or a version that is not there. */
int repo_read_pin(const char *repo, const char *name, char *err, size_t errlen);

/* repo_read_pin's version, or 0 (no pin, or an unusable one). */
int repo_pinned_version(const char *repo, const char *name);

/* Writes CURRENT ("N\n") atomically and durably, or removes it (version 0)
 * and syncs the folder. 0, or -1 with a message. */
int repo_set_pin(const char *repo, const char *name, int version, char *err, size_t errlen);

/* The version to serve: the pin, else the highest. -1 when none. */
int repo_current_version(const char *repo, const char *name);

/* Removes the temporary files that killed writers of the model's versions,
 * card and trainer state left (other temporary files are left alone). Call
 * only when no trainer of the model runs. Calls removed(path, arg) for each
 * file removed (removed may be NULL); returns how many. */
int repo_sweep_temps(const char *repo, const char *name,
                     void (*removed)(const char *path, void *arg), void *arg);

/* Model names (folders with a valid name and at least one version), sorted.
 * Writes up to max names of REPO_NAME_MAX+1 bytes; returns how many exist,
 * or -1 when repo cannot be read. */
int repo_models(const char *repo, char (*names)[REPO_NAME_MAX + 1], int max);

/* The default model and where the choice came from: `preferred` (a flag)
 * when given, else the DEFAULT file, else the only model when there is
 * exactly one; never the first of several by name. Writes the name to out
 * and returns REPO_DEFAULT_FLAG / _FILE / _ONLY, or -1 when there is none
 * (no model, several and nothing chosen, or the chosen one is absent). */
enum { REPO_DEFAULT_FLAG = 1, REPO_DEFAULT_FILE = 2, REPO_DEFAULT_ONLY = 3 };
int repo_default_model(const char *repo, const char *preferred, char *out, size_t outlen);
/* The name in <repo>/DEFAULT (valid, whether or not the model exists): 0,
 * or -1 when the file is absent or holds no valid name. */
int repo_default_file(const char *repo, char *out, size_t outlen);
/* Writes <repo>/DEFAULT atomically. 0, or -1 with a message. */
int repo_write_default(const char *repo, const char *name, char *err, size_t errlen);

/* A version's state, from its v<N>.card.json ("state"). Candidates and
 * refused versions are never served unless pinned by hand (CURRENT);
 * a version without that card, or without a state, is servable. */
enum { REPO_SERVABLE = 0, REPO_CANDIDATE = 1, REPO_REFUSED = 2, REPO_PROMOTED = 3 };
const char *repo_state_name(int state);             /* "candidate", ... */
/* Path of v<N>.card.json; 0, or -1 when it does not fit. */
int repo_version_card_path(const char *repo, const char *name, int version,
                           char *out, size_t outlen);
/* Version's card as a new string (a JSON object) and its state in *state
 * (may be NULL); NULL (state REPO_SERVABLE) when there is none. */
char *repo_version_card(const char *repo, const char *name, int version, int *state);
/* Sets version's state in its card (creating the card when absent) and,
 * when members is an object, sets each of its members too (e.g. "gate");
 * written atomically. 0, or -1 with a message. */
int repo_set_version_state(const char *repo, const char *name, int version, int state,
                           json_t *members, char *err, size_t errlen);
/* Writes version's card (a JSON object's text) atomically. 0 or -1. */
int repo_write_version_card(const char *repo, const char *name, int version,
                            const char *json, char *err, size_t errlen);

/* Something in the repository no server will serve, and why: a loose
 * model file, an ml5 folder not imported, a folder that is not a model
 * name, a file in a model folder that is not part of the layout. */
typedef struct RepoStray {
    char path[REPO_NAME_MAX * 2 + 8];   /* relative to the repository, cut short */
    char reason[192];
} RepoStray;

/* The strays of repo, in directory order: up to max written to out; returns
 * how many there are (may exceed max), or -1 when repo cannot be read.
 * Hidden files (temporary ones among them), DEFAULT and each model's .train
 * are part of the layout. */
int repo_strays(const char *repo, RepoStray *out, int max);

#endif
