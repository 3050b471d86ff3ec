/* common.c: fuzz.h's helpers: a temporary directory removed at exit, file
 * writes that abort, and the one-model repository the server targets use. */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/safetensors.h"

static char tmp_root[256];

static void rm_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    if (!d)
        return;
    while ((e = readdir(d))) {
        struct stat sb;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!lstat(path, &sb) && S_ISDIR(sb.st_mode) && depth < 3)
            rm_tree(path, depth + 1);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void cleanup(void)
{
    if (tmp_root[0])
        rm_tree(tmp_root, 0);
}

const char *fuzz_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (tmp_root[0])
        return tmp_root;
    snprintf(tmp_root, sizeof tmp_root, "%s/atelier-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(cleanup);
    return tmp_root;
}

void fuzz_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) {
        perror(path);
        abort();
    }
}

void fuzz_write_models(const char *root)
{
    static const char spec[] =
        "{\"version\":1,\"arch\":\"fuzz\",\"input\":{\"scale\":0.00392156862,\"offset\":0},"
        "\"output\":{\"scale\":127.5,\"offset\":127.5},\"layers\":["
        "{\"op\":\"conv2d\",\"name\":\"c\",\"in\":3,\"out\":3,\"k\":3,\"stride\":1,"
        "\"pad\":1,\"pad_mode\":\"reflect\",\"bias\":true},{\"op\":\"tanh\"}]}";
    float w[81], b[3] = {0.1f, -0.1f, 0.0f};
    int64_t ws[4] = {3, 3, 3, 3}, bs[1] = {3};
    char dir[512], path[600], err[256];
    StWriter *st = stw_new();
    for (int i = 0; i < 81; i++)
        w[i] = (float)((i * 37) % 17 - 8) / 32.0f;
    snprintf(dir, sizeof dir, "%s/tiny", root);
    snprintf(path, sizeof path, "%s/v1.safetensors", dir);
    if (mkdir(root, 0755) && access(root, F_OK)) {
        perror(root);
        abort();
    }
    if (!st || (mkdir(dir, 0755) && access(dir, F_OK)) ||
        stw_add(st, "c.weight", ST_F32, 4, ws, w) || stw_add(st, "c.bias", ST_F32, 1, bs, b) ||
        stw_meta(st, "atelier.spec", spec) ||
        stw_meta(st, "atelier.card", "{\"name\":\"tiny\",\"title\":\"tiny\"}") ||
        stw_write_file(st, path, err, sizeof err)) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
    stw_free(st);
}
