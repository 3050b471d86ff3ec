/* repo.h: the on-disk layout of a model repository.
 *
 *   <repo>/<name>/v<N>.safetensors   version N of model <name> (N >= 1)
 *   <repo>/<name>/CURRENT            optional: "N\n", pins version N
 *   <repo>/<name>/card.json          optional: the model's card
 *   <repo>/<name>/v<N>.card.json     optional: version N's own card, written
 *                                    before v<N>.safetensors by a training
 *                                    job; its "state" says whether N may be
 *                                    served (below), its "gate" what the
 *                                    promotion gate measured
 *   <repo>/DEFAULT                   optional: "NAME\n", the model served
 *                                    when a request names none
 *
 * Names are 1..64 characters of [a-z0-9_-] so no name can reach outside the
 * repository. These functions only read the filesystem; loading and sharing
 * versions is the registry's job.
 */
#ifndef ATELIER_REPO_H
#define ATELIER_REPO_H

#include <stddef.h>

#define REPO_NAME_MAX 64
#define REPO_MAX_VERSION 1000000

int repo_valid_name(const char *name);   /* 1 when valid */

/* Versions of name present in repo, ascending, at most max written.
 * Returns how many exist (may exceed max), or -1 when the folder is absent. */
int repo_versions(const char *repo, const char *name, int *versions, int max);

/* The pinned version (CURRENT) when it names an existing version, else 0. */
int repo_pinned_version(const char *repo, const char *name);

/* The version to serve: the pin, else the highest. -1 when none. */
int repo_current_version(const char *repo, const char *name);

/* Path of a version's file; 0, or -1 when it does not fit. */
int repo_version_path(const char *repo, const char *name, int version,
                      char *out, size_t outlen);

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
/* Writes version's card (a JSON object's text) atomically. 0 or -1. */
int repo_write_version_card(const char *repo, const char *name, int version,
                            const char *json, char *err, size_t errlen);

#endif
