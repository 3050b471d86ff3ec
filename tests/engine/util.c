/* util.c: helpers for the engine tests (util.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "tests/engine/util.h"

void tu_fill(float *x, size_t n, uint32_t seed, float lo, float hi)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = lo + (hi - lo) * (float)(s >> 8) / 16777216.0f;
    }
}

double tu_fd_check(const char *name, TuLossFn f, float *x, size_t n, void *ctx, float h,
                   int samples)
{
    float *g = calloc(n, sizeof(float)), *scratch = calloc(n, sizeof(float));
    f(g, x, ctx);
    double maxn = 0, maxe = 0;
    for (int k = 0; k < samples; k++) {
        size_t i = (size_t)k * (n - 1) / (size_t)(samples > 1 ? samples - 1 : 1);
        float v = x[i];
        x[i] = v + h;
        double lp = f(scratch, x, ctx);
        x[i] = v - h;
        double lm = f(scratch, x, ctx);
        x[i] = v;
        double num = (lp - lm) / (2.0 * h);
        maxn = fmax(maxn, fabs(num));
        maxe = fmax(maxe, fabs(num - g[i]));
    }
    double rel = maxe / fmax(maxn, 1e-12);
    printf("  %-22s max |grad| %.3g rel err %.2e\n", name, maxn, rel);
    free(g);
    free(scratch);
    return rel;
}

double tu_max_abs_diff(const float *a, const float *b, size_t n, size_t *at)
{
    double m = 0;
    size_t where = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) {
            m = isnan(d) ? INFINITY : d;
            where = i;
        }
    }
    if (at)
        *at = where;
    return m;
}

double tu_report(const char *name, const float *a, const float *b, size_t n)
{
    size_t at;
    double d = tu_max_abs_diff(a, b, n, &at);
    printf("  %s: max abs diff %.3g at %zu (%g vs %g)\n", name, d, at,
           n ? a[at] : 0.0, n ? b[at] : 0.0);
    return d;
}

const char *tu_shared_dir(void)
{
    static const char *cands[] = { "../shared", "../../shared" };
    struct stat sb;
    const char *env = getenv("ATELIER_SHARED");
    if (env && !stat(env, &sb) && S_ISDIR(sb.st_mode))
        return env;
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (!stat(cands[i], &sb) && S_ISDIR(sb.st_mode))
            return cands[i];
    return NULL;
}

int tu_run(const char *cmd, char **out)
{
    char *full = malloc(strlen(cmd) + 8);
    if (!full)
        return -1;
    sprintf(full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    free(full);
    if (!p)
        return -1;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    int st = pclose(p);
    if (buf)
        buf[len] = '\0';
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *tu_atelier(void)
{
    static char path[512];
    const char *b = getenv("BUILD");
    snprintf(path, sizeof(path), "%s/atelier", b && *b ? b : "build");
    return path;
}
