/* relpath.c: relative paths for what a card records (relpath.h). */
#include "engine/relpath.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The words of the absolute path p, "." dropped and ".." taking away the
 * word before it, as pointers into *buf (both new; caller frees). Their
 * count, or -1 when p is not absolute or memory is short. */
static int split(const char *p, char **buf, char ***words)
{
    size_t n = strlen(p);
    int k = 0;
    *buf = NULL;
    *words = NULL;
    if (p[0] != '/')
        return -1;
    char *b = strdup(p);
    char **w = malloc((n / 2 + 1) * sizeof *w);
    if (!b || !w) {
        free(b);
        free(w);
        return -1;
    }
    for (char *save = NULL, *t = strtok_r(b, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, ".."))
            k -= k > 0;
        else if (strcmp(t, "."))
            w[k++] = t;
    }
    *buf = b;
    *words = w;
    return k;
}

/* Appends word to out (at *at), with a slash before it unless first.
 * 0, or -1 when it does not fit. */
static int append(char *out, size_t len, size_t *at, const char *word)
{
    size_t n = strlen(word), sep = *at > 0;
    if (*at + sep + n >= len)
        return -1;
    if (sep)
        out[(*at)++] = '/';
    memcpy(out + *at, word, n + 1);
    *at += n;
    return 0;
}

int relpath(const char *path, const char *base, char *out, size_t len)
{
    char *pb, *bb, **pw, **bw;
    int np = split(path, &pb, &pw), nb = split(base, &bb, &bw), same = 0, rc = -1;
    size_t at = 0;
    if (np < 0 || nb < 0 || len < 2)
        goto done;
    while (same < np && same < nb && !strcmp(pw[same], bw[same]))
        same++;
    out[0] = '\0';
    for (int i = same; i < nb; i++)
        if (append(out, len, &at, ".."))
            goto done;
    for (int i = same; i < np; i++)
        if (append(out, len, &at, pw[i]))
            goto done;
    if (at == 0)
        strcpy(out, ".");
    rc = 0;
done:
    free(pb);
    free(pw);
    free(bb);
    free(bw);
    return rc;
}

int relpath_cwd(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX];
    if (path[0] == '/')
        return getcwd(cwd, sizeof cwd) ? relpath(path, cwd, out, len) : -1;
    if (strlen(path) >= len)
        return -1;
    strcpy(out, path);
    return 0;
}
