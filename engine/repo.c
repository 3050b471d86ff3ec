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
#include "engine/repo.h"

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

int repo_default_model(const char *repo, const char *preferred, char *out, size_t outlen)
{
    if (preferred && *preferred) {
        if (!repo_valid_name(preferred) || repo_current_version(repo, preferred) < 0)
            return -1;
        snprintf(out, outlen, "%s", preferred);
        return 0;
    }
    char first[1][REPO_NAME_MAX + 1];
    if (repo_models(repo, first, 1) < 1)
        return -1;
    snprintf(out, outlen, "%s", first[0]);
    return 0;
}
