/* cli_common.c: what the offline subcommands share: number parsing, where
 * the model repository is, and loading a model by name, file or folder. */
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "engine/ml5.h"
#include "server/cli/cli.h"
#include "engine/repo.h"
#include "engine/util.h"

int cli_cores(void)
{
    cpu_set_t set;
    if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    long long v;
    if (util_parse_int(s, lo, hi, &v))
        return -1;
    *out = (long)v;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

const char *cli_models_dir(const char *flag)
{
    static char dir[PATH_MAX];
    if (flag && *flag)
        return flag;
    const char *env = getenv("ATELIER_MODELS");
    if (env && *env)
        return env;
    /* The models/ that ships: beside the binary's folder (build/../models),
     * else the container's /models. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            struct stat sb;
            if (snprintf(dir, sizeof(dir), "%s/../models", exe) < (int)sizeof(dir) &&
                !stat(dir, &sb) && S_ISDIR(sb.st_mode))
                return dir;
        }
    }
    return "/models";
}

static int is_dir(const char *p)
{
    struct stat sb;
    return !stat(p, &sb) && S_ISDIR(sb.st_mode);
}

Net *cli_load_model(const char *models_dir, const char *name, char *what, size_t whatlen)
{
    char err[512], path[4096], def[REPO_NAME_MAX + 1];
    Net *net = NULL;
    size_t len = name ? strlen(name) : 0;
    if (name && len > 12 && !strcmp(name + len - 12, ".safetensors")) {
        net = net_load(name, err, sizeof(err));
        snprintf(what, whatlen, "%s", name);
    } else if (name && strchr(name, '/') && is_dir(name)) {
        void *buf = NULL;
        size_t blen = 0;
        if (!ml5_import(name, &buf, &blen, err, sizeof(err))) {
            SafeTensors *st = st_parse(buf, blen, err, sizeof(err));
            net = st ? net_from_safetensors(st, err, sizeof(err)) : NULL;
            st_free(st);
        }
        free(buf);
        snprintf(what, whatlen, "%s", name);
    } else {
        if (!name) {
            if (repo_default_model(models_dir, getenv("ATELIER_DEFAULT_MODEL"), def,
                                   sizeof(def)) < 0) {
                fprintf(stderr, "atelier: no default model in %s (none, or several and no "
                        "DEFAULT file): give --model NAME\n", models_dir);
                return NULL;
            }
            name = def;
        }
        if (!repo_valid_name(name)) {
            fprintf(stderr, "atelier: '%s' is not a model name, a .safetensors file "
                    "or an ml5 folder\n", name);
            return NULL;
        }
        int v = repo_current_version(models_dir, name);
        if (v < 0 || repo_version_path(models_dir, name, v, path, sizeof(path))) {
            fprintf(stderr, "atelier: no model '%s' in %s\n", name, models_dir);
            return NULL;
        }
        net = net_load(path, err, sizeof(err));
        snprintf(what, whatlen, "%s/v%d", name, v);
    }
    if (!net)
        fprintf(stderr, "atelier: cannot load %s: %s\n", what, err);
    return net;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cli_median(double *v, long n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
