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

/* "v<N>.safetensors" with N a canonical decimal in 1..REPO_MAX_VERSION. */
static int version_of(const char *file)
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
    return strcmp(p, ".safetensors") ? 0 : (int)v;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int repo_versions(const char *repo, const char *name, int *versions, int max)
{
    char path[4096];
    if (!repo_valid_name(name) ||
        snprintf(path, sizeof(path), "%s/%s", repo, name) >= (int)sizeof(path))
        return -1;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0, cap = 0, *all = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        int v = version_of(e->d_name);
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

int repo_version_path(const char *repo, const char *name, int version,
                      char *out, size_t outlen)
{
    if (!repo_valid_name(name) || version < 1 || version > REPO_MAX_VERSION)
        return -1;
    int n = snprintf(out, outlen, "%s/%s/v%d.safetensors", repo, name, version);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int repo_pinned_version(const char *repo, const char *name)
{
    char path[4096], buf[32];
    if (!repo_valid_name(name) ||
        snprintf(path, sizeof(path), "%s/%s/CURRENT", repo, name) >= (int)sizeof(path))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ' || *end == '\r')
        end++;
    if (end == buf || *end || v < 1 || v > REPO_MAX_VERSION)
        return 0;
    struct stat sb;
    if (repo_version_path(repo, name, (int)v, path, sizeof(path)) || stat(path, &sb) ||
        !S_ISREG(sb.st_mode))
        return 0;
    return (int)v;
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
    if (!repo_valid_name(name) || version < 1 || version > REPO_MAX_VERSION)
        return -1;
    int n = snprintf(out, outlen, "%s/%s/v%d.card.json", repo, name, version);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
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
