/* repo.h: the on-disk layout of a model repository.
 *
 *   <repo>/<name>/v<N>.safetensors   version N of model <name> (N >= 1)
 *   <repo>/<name>/CURRENT            optional: "N\n", pins version N
 *   <repo>/<name>/card.json          optional: the model's card
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

/* The default model: `preferred` when given (and valid), else the first
 * model in sorted order. 0, or -1 when the repository has none. */
int repo_default_model(const char *repo, const char *preferred, char *out, size_t outlen);

#endif
