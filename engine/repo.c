/* repo.c: reading a model repository's layout (repo.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "engine/repo.h"
#include "engine/util.h"

int repo_valid_name(const char *name)
{
    size_t n = 0;
    if (!name)
        return 0;
    for (; name[n]; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
        if (n >= REPO_NAME_MAX)
            return 0;
    }
    return n > 0;
}

/* The file names of the layout, by RepoFile; a version's files are
 * "v<N>" followed by their row. */
static const char *const layout[REPO_NFILES] = {
    [REPO_MODEL_DIR] = "",
    [REPO_VERSION] = ".safetensors",
    [REPO_VERSION_CARD] = ".card.json",
    [REPO_PREVIEW] = ".preview.jpg",
    [REPO_CURRENT] = "CURRENT",
    [REPO_CARD] = "card.json",
    [REPO_STATE_DIR] = ".train",
    [REPO_STATE] = ".train/state.safetensors",
};

/* N when file is "v<N>" followed by row's name (N in 1..REPO_MAX_VERSION,
 * written without a leading zero), else 0: the one reader of a version's
 * file names, whichever of its files. */
static int version_of(const char *file, RepoFile row)
{
    if (file[0] != 'v' || file[1] < '1' || file[1] > '9')
        return 0;
    long v = 0;
    const char *p = file + 1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > REPO_MAX_VERSION)
            return 0;
    }
    return strcmp(p, layout[row]) ? 0 : (int)v;
}

int repo_parse_version(const char *file)
{
    return version_of(file, REPO_VERSION);
}

int repo_is_served_file(const char *file)
{
    return version_of(file, REPO_VERSION) || version_of(file, REPO_VERSION_CARD) ||
           !strcmp(file, layout[REPO_CURRENT]) || !strcmp(file, layout[REPO_CARD]);
}

int repo_path(const char *repo, const char *name, RepoFile file, int version,
              char *out, size_t outlen)
{
    int n;
    if (!repo_valid_name(name) || (unsigned)file >= REPO_NFILES)
        return -1;
    if (file == REPO_VERSION || file == REPO_VERSION_CARD || file == REPO_PREVIEW) {
        if (version < 1 || version > REPO_MAX_VERSION)
            return -1;
        n = snprintf(out, outlen, "%s/%s/v%d%s", repo, name, version, layout[file]);
    } else {
        n = snprintf(out, outlen, "%s/%s%s%s", repo, name, *layout[file] ? "/" : "", layout[file]);
    }
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int repo_version_path(const char *repo, const char *name, int version,
                      char *out, size_t outlen)
{
    return repo_path(repo, name, REPO_VERSION, version, out, outlen);
}

int repo_make_dirs(const char *repo, const char *name, int state)
{
    char path[PATH_MAX];
    if (mkdir(repo, 0755) && errno != EEXIST)
        return -1;
    if (repo_path(repo, name, REPO_MODEL_DIR, 0, path, sizeof path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (mkdir(path, 0755) && errno != EEXIST)
        return -1;
    if (!state)
        return 0;
    if (repo_path(repo, name, REPO_STATE_DIR, 0, path, sizeof path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int repo_versions(const char *repo, const char *name, int *versions, int max)
{
    char path[4096];
    if (repo_path(repo, name, REPO_MODEL_DIR, 0, path, sizeof(path)))
        return -1;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0, cap = 0, *all = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        int v = repo_parse_version(e->d_name);
        if (!v)
            continue;
        if (n == cap) {
            int *p = realloc(all, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(int));
            if (!p)
                break;
            all = p;
        }
        all[n++] = v;
    }
    closedir(d);
    if (n)
        qsort(all, (size_t)n, sizeof(int), cmp_int);
    for (int i = 0; i < n && i < max; i++)
        versions[i] = all[i];
    free(all);
    return n;
}

int repo_read_pin(const char *repo, const char *name, char *err, size_t errlen)
{
    char path[4096], buf[32], shown[40];
    if (repo_path(repo, name, REPO_CURRENT, 0, path, sizeof(path)))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The text as written, trimmed, for the message (printable only). */
    size_t a = strspn(buf, " \t\r\n"), b = n;
    while (b > a && strchr(" \t\r\n", buf[b - 1]))
        b--;
    snprintf(shown, sizeof shown, "%.*s%s", (int)(b - a > 24 ? 24 : b - a), buf + a,
             b - a > 24 ? "..." : "");
    for (char *c = shown; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            *c = '?';
    /* "N" or "vN" (the version's file is vN.safetensors), with blanks and
     * a newline around it. */
    const char *p = buf + a + (buf[a] == 'v' || buf[a] == 'V');
    char *end = NULL;
    long v = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : 0;
    if (v < 1 || v > REPO_MAX_VERSION || end != buf + b) {
        util_errf(err, errlen, "CURRENT holds \"%s\", not a version (write N or vN, e.g. 3 or "
                  "v3); serving as if there were no pin", shown);
        return -1;
    }
    struct stat sb;
    if (repo_version_path(repo, name, (int)v, path, sizeof(path)) || stat(path, &sb) ||
        !S_ISREG(sb.st_mode)) {
        util_errf(err, errlen, "CURRENT pins v%ld, which is not in the folder; serving as if "
                  "there were no pin", v);
        return -1;
    }
    return (int)v;
}

int repo_pinned_version(const char *repo, const char *name)
{
    int v = repo_read_pin(repo, name, NULL, 0);
    return v > 0 ? v : 0;
}

int repo_current_version(const char *repo, const char *name)
{
    int pin = repo_pinned_version(repo, name);
    if (pin)
        return pin;
    int v[1], n = repo_versions(repo, name, v, 0);
    if (n <= 0)
        return -1;
    int *all = malloc((size_t)n * sizeof(int));
    if (!all)
        return -1;
    n = repo_versions(repo, name, all, n);
    int top = n > 0 ? all[n - 1] : -1;
    free(all);
    return top;
}

int repo_next_version(const char *repo, const char *name)
{
    int n = repo_versions(repo, name, NULL, 0);
    if (n <= 0)
        return 1;
    int *all = malloc((size_t)n * sizeof(int));
    if (!all)
        return -1;
    n = repo_versions(repo, name, all, n);
    int next = n > 0 ? all[n - 1] + 1 : 1;
    free(all);
    return next;
}

int repo_set_pin(const char *repo, const char *name, int version, char *err, size_t errlen)
{
    char path[PATH_MAX], text[32];
    if (repo_path(repo, name, REPO_CURRENT, 0, path, sizeof path)) {
        util_errf(err, errlen, "%s/CURRENT: path too long", name);
        return -1;
    }
    if (version > 0) {
        int n = snprintf(text, sizeof text, "%d\n", version);
        if (util_write_atomic(path, text, (size_t)n, NULL, 0)) {
            util_errf(err, errlen, "cannot write %s/CURRENT: %s", name, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (unlink(path) && errno != ENOENT) {
        util_errf(err, errlen, "cannot remove %s/CURRENT: %s", name, strerror(errno));
        return -1;
    }
    /* The removal is durable once the folder is on disk. */
    repo_path(repo, name, REPO_MODEL_DIR, 0, path, sizeof path);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* 1 when file is util.h's temporary name for one of the model's versions,
 * its card or (in .train) the trainer state. */
static int stale_temp(const char *file, int in_state_dir)
{
    char target[256];
    size_t n = strlen(file);
    if (!util_is_temp_name(file) || n - 11 >= sizeof target)
        return 0;
    /* ".<target>.tmpXXXXXX" */
    memcpy(target, file + 1, n - 11);
    target[n - 11] = '\0';
    if (in_state_dir)
        return !strcmp(target, strrchr(layout[REPO_STATE], '/') + 1);
    return repo_parse_version(target) || !strcmp(target, layout[REPO_CARD]);
}

int repo_sweep_temps(const char *repo, const char *name,
                     void (*removed)(const char *path, void *arg), void *arg)
{
    static const RepoFile dirs[2] = { REPO_MODEL_DIR, REPO_STATE_DIR };
    char dir[PATH_MAX], path[PATH_MAX + 300];
    int count = 0;
    for (int i = 0; i < 2; i++) {
        DIR *d;
        struct dirent *e;
        if (repo_path(repo, name, dirs[i], 0, dir, sizeof dir) || !(d = opendir(dir)))
            continue;
        while ((e = readdir(d)))
            if (stale_temp(e->d_name, i) &&
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path &&
                !unlink(path)) {
                count++;
                if (removed)
                    removed(path, arg);
            }
        closedir(d);
    }
    return count;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int repo_models(const char *repo, char (*names)[REPO_NAME_MAX + 1], int max)
{
    DIR *d = opendir(repo);
    if (!d)
        return -1;
    int n = 0, cap = 0;
    char (*all)[REPO_NAME_MAX + 1] = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        int dummy;
        if (!repo_valid_name(e->d_name) || repo_versions(repo, e->d_name, &dummy, 0) <= 0)
            continue;
        if (n == cap) {
            void *p = realloc(all, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(*all));
            if (!p)
                break;
            all = p;
        }
        memcpy(all[n++], e->d_name, strlen(e->d_name) + 1);   /* valid: <= 64 */
    }
    closedir(d);
    if (n)
        qsort(all, (size_t)n, sizeof(*all), cmp_name);
    for (int i = 0; i < n && i < max; i++)
        memcpy(names[i], all[i], sizeof(*all));
    free(all);
    return n;
}

int repo_default_file(const char *repo, char *out, size_t outlen)
{
    char path[PATH_MAX], buf[REPO_NAME_MAX + 8];
    FILE *f;
    size_t n;
    if (snprintf(path, sizeof path, "%s/DEFAULT", repo) >= (int)sizeof path ||
        !(f = fopen(path, "re")))
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, " \t\r\n")] = '\0';
    if (!repo_valid_name(buf))
        return -1;
    snprintf(out, outlen, "%s", buf);
    return 0;
}

int repo_write_default(const char *repo, const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX], text[REPO_NAME_MAX + 2];
    if (!repo_valid_name(name) ||
        snprintf(path, sizeof path, "%s/DEFAULT", repo) >= (int)sizeof path) {
        util_errf(err, errlen, "'%.64s' is not a model name", name);
        return -1;
    }
    snprintf(text, sizeof text, "%s\n", name);
    return util_write_atomic(path, text, strlen(text), err, errlen);
}

int repo_default_model(const char *repo, const char *preferred, char *out, size_t outlen)
{
    char name[REPO_NAME_MAX + 1], two[2][REPO_NAME_MAX + 1];
    int from = REPO_DEFAULT_FLAG;
    if (preferred && *preferred)
        snprintf(name, sizeof name, "%.64s", preferred);
    else if (!repo_default_file(repo, name, sizeof name))
        from = REPO_DEFAULT_FILE;
    else if (repo_models(repo, two, 2) == 1) {
        memcpy(name, two[0], sizeof name);
        from = REPO_DEFAULT_ONLY;
    } else
        return -1;
    if (!repo_valid_name(name) || repo_current_version(repo, name) < 0)
        return -1;
    snprintf(out, outlen, "%s", name);
    return from;
}

const char *repo_state_name(int state)
{
    static const char *const names[] = {"servable", "candidate", "refused", "promoted"};
    return state >= 0 && state <= REPO_PROMOTED ? names[state] : "servable";
}

int repo_version_card_path(const char *repo, const char *name, int version,
                           char *out, size_t outlen)
{
    return repo_path(repo, name, REPO_VERSION_CARD, version, out, outlen);
}

#define REPO_CARD_MAX (64 * 1024)

char *repo_version_card(const char *repo, const char *name, int version, int *state)
{
    char path[PATH_MAX], *text = NULL;
    FILE *f;
    size_t n;
    json_t *card = NULL;
    if (state)
        *state = REPO_SERVABLE;
    if (repo_version_card_path(repo, name, version, path, sizeof path) ||
        !(f = fopen(path, "re")))
        return NULL;
    if ((text = malloc(REPO_CARD_MAX + 1))) {
        n = fread(text, 1, REPO_CARD_MAX + 1, f);
        text[n <= REPO_CARD_MAX ? n : 0] = '\0';
    }
    fclose(f);
    if (!text || !(card = json_loads(text, 0, NULL)) || !json_is_object(card)) {
        json_decref(card);
        free(text);
        return NULL;
    }
    const char *st = json_string_value(json_object_get(card, "state"));
    for (int k = REPO_CANDIDATE; state && st && k <= REPO_PROMOTED; k++)
        if (!strcmp(st, repo_state_name(k)))
            *state = k;
    json_decref(card);
    return text;
}

int repo_write_version_card(const char *repo, const char *name, int version,
                            const char *json, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (repo_version_card_path(repo, name, version, path, sizeof path)) {
        util_errf(err, errlen, "version card path too long");
        return -1;
    }
    return util_write_atomic(path, json, strlen(json), err, errlen);
}

int repo_set_version_state(const char *repo, const char *name, int version, int state,
                           json_t *members, char *err, size_t errlen)
{
    char *text = repo_version_card(repo, name, version, NULL), *out;
    json_t *card = text ? json_loads(text, 0, NULL) : json_object();
    int rc = -1;
    free(text);
    if (!json_is_object(card)) {
        util_errf(err, errlen, "out of memory");
        json_decref(card);
        return -1;
    }
    json_object_set_new(card, "state", json_string(repo_state_name(state)));
    if (json_is_object(members))
        json_object_update(card, members);
    out = json_dumps(card, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    if (out)
        rc = repo_write_version_card(repo, name, version, out, err, errlen);
    else
        util_errf(err, errlen, "out of memory");
    free(out);
    json_decref(card);
    return rc;
}

/* 1 when file is part of a model folder's layout (repo.h's table). */
static int in_layout(const char *file)
{
    return file[0] == '.' || repo_is_served_file(file) || version_of(file, REPO_PREVIEW);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Adds one stray (when there is room) and counts it. */
static void stray(RepoStray *out, int max, int *n, const char *path, const char *reason)
{
    if (*n < max) {
        size_t k = strlen(path);
        if (k >= sizeof out[*n].path)
            k = sizeof out[*n].path - 1;          /* cut short */
        memcpy(out[*n].path, path, k);
        out[*n].path[k] = '\0';
        snprintf(out[*n].reason, sizeof out[*n].reason, "%s", reason);
    }
    (*n)++;
}

/* The strays inside the model folder name. */
static void folder_strays(const char *repo, const char *name, RepoStray *out, int max, int *n)
{
    char dir[4096], rel[REPO_NAME_MAX * 2 + 8];
    DIR *d;
    struct dirent *e;
    if (snprintf(dir, sizeof dir, "%s/%s", repo, name) >= (int)sizeof dir || !(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        if (in_layout(e->d_name))
            continue;
        snprintf(rel, sizeof rel, "%.64s/%.64s", name, e->d_name);
        stray(out, max, n, rel, has_suffix(e->d_name, ".safetensors")
                                    ? "not a version: versions are named v<N>.safetensors "
                                      "(N = 1, 2, ...)"
                                    : "not part of a model folder's layout (repo.h)");
    }
    closedir(d);
}

int repo_strays(const char *repo, RepoStray *out, int max)
{
    DIR *d = opendir(repo);
    struct dirent *e;
    int n = 0;
    char path[4096], reason[192];
    struct stat st;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        const char *f = e->d_name;
        if (f[0] == '.' || !strcmp(f, "DEFAULT") ||
            snprintf(path, sizeof path, "%s/%s", repo, f) >= (int)sizeof path || stat(path, &st))
            continue;
        if (!S_ISDIR(st.st_mode)) {
            stray(out, max, &n, f, has_suffix(f, ".safetensors")
                                       ? "a loose model file: a model is a folder, put it in "
                                         "NAME/v1.safetensors"
                                       : "not a model folder");
        } else if (!repo_valid_name(f)) {
            stray(out, max, &n, f, "not a model name: [a-z0-9_-]{1,64}");
        } else if (repo_versions(repo, f, NULL, 0) <= 0) {
            char manifest[4200];
            snprintf(manifest, sizeof manifest, "%s/manifest.json", path);
            if (!stat(manifest, &st))
                snprintf(reason, sizeof reason, "an ml5 checkpoint folder, not imported: atelier "
                         "convert --from ml5 DIR --repo REPO --name NAME");
            else
                snprintf(reason, sizeof reason, "no version in it (v<N>.safetensors)");
            stray(out, max, &n, f, reason);
        } else {
            folder_strays(repo, f, out, max, &n);
        }
    }
    closedir(d);
    return n;
}
