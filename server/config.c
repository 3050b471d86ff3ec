/* config.c: the table of `atelier serve` settings and its parser.
 *
 * One table row per setting: flag, type, range, default (as text, parsed by
 * the same code as flags, so a default can never be out of range) and help.
 * Defaults are applied first, then ATELIER_* variables, then flags.
 */
#include "server/config.h"
#include "engine/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { OPT_STR, OPT_INT, OPT_MB, OPT_I64, OPT_ONOFF } OptType;

typedef struct Opt {
    const char *name;        /* flag without "--" */
    OptType type;
    size_t off;              /* offset in Config */
    size_t cap;              /* OPT_STR: buffer size */
    int64_t min, max;        /* numeric range, inclusive */
    const char *def;         /* default, as text */
    const char *help;
} Opt;

#define F(field) offsetof(Config, field)
#define S(field) sizeof(((Config *)0)->field)

/* --workers and --engine-threads default to 0, "auto": see resolve_auto().
 * Memory per request is bounded by max-pixels (decode) and max_size
 * (inference), so the queue and body limits bound the rest. */
static const Opt opts[] = {
    {"host", OPT_STR, F(host), S(host), 0, 0, "0.0.0.0", "address to listen on"},
    {"port", OPT_INT, F(port), 0, 0, 65535, "8080", "TCP port; 0 picks a free one"},
    {"port-file", OPT_STR, F(port_file), S(port_file), 0, 0, "",
     "write the bound port to this file once listening"},
    {"models", OPT_STR, F(models), S(models), 0, 0, "models", "model repository"},
    {"data", OPT_STR, F(data), S(data), 0, 0, "data", "state directory (training jobs)"},
    {"workers", OPT_INT, F(workers), 0, 0, 256, "0",
     "inference workers; 0 = auto (one per core)"},
    {"engine-threads", OPT_INT, F(engine_threads), 0, 0, 256, "0",
     "cores one inference may use; 0 = auto"},
    {"queue", OPT_INT, F(queue), 0, 0, 100000, "16",
     "requests waiting for a worker before answering 503"},
    {"max-body-mb", OPT_MB, F(max_body_bytes), 0, 1, 4096, "32", "largest request body, MiB"},
    {"max-pixels", OPT_I64, F(max_pixels), 0, 1, INT64_C(1) << 31, "50000000",
     "largest decoded image, width x height"},
    {"mem-budget-mb", OPT_MB, F(mem_budget_bytes), 0, 64, 1 << 20, "1536",
     "memory one worker may plan and keep for inference, MiB; larger images run in bands within it"},
    {"body-budget-mb", OPT_MB, F(body_budget_bytes), 0, 0, 1 << 20, "0",
     "memory all request bodies being received may hold, MiB; past it 503; "
     "0 = auto (a quarter of the memory limit)"},
    {"timeout", OPT_INT, F(timeout_s), 0, 1, 3600, "30",
     "seconds a connection may stay idle"},
    {"header-timeout", OPT_INT, F(header_timeout_s), 0, 1, 3600, "10",
     "seconds a client has to send a request's head (from connecting or the last answer)"},
    {"min-upload-kbps", OPT_INT, F(min_upload_kbps), 0, 0, 1 << 20, "16",
     "a body slower than this many KiB/s on average (after --header-timeout) is cut; 0 = none"},
    {"per-ip-limit", OPT_INT, F(per_ip_limit), 0, 1, 100000, "64",
     "connections per client address"},
    {"max-connections", OPT_INT, F(max_connections), 0, 1, 100000, "512",
     "connections in all"},
    {"drain-seconds", OPT_INT, F(drain_s), 0, 0, 3600, "15",
     "on SIGTERM, how long requests in flight may take to finish"},
    {"cors-origin", OPT_STR, F(cors_origin), S(cors_origin), 0, 0, "",
     "origins (comma-separated, or *) whose browser pages may call the API: preflight "
     "answered, X-Atelier-Model and the like exposed; default: none"},
    {"default-model", OPT_STR, F(default_model), S(default_model), 0, 0, "",
     "model used when a request names none; default: the repository's DEFAULT file "
     "(PUT /models/default writes it), else the only model; never the first of several"},
    {"token", OPT_STR, F(token), S(token), 0, 0, "",
     "management token (prefer ATELIER_TOKEN or --token-file: flags show in ps)"},
    {"token-file", OPT_STR, 0, 0, 0, 0, "", "read the management token from this file"},
    {"rescan-ms", OPT_INT, F(rescan_ms), 0, 0, 3600000, "1000",
     "period of the model repository rescan (besides inotify); 0 = none"},
    {"content", OPT_STR, F(content), S(content), 0, 0, "",
     "photo folder training jobs use when they upload no content photos"},
    {"train-queue", OPT_INT, F(train_queue), 0, 1, 10000, "8",
     "training jobs waiting before POST /train answers 503"},
    {"train-jobs", OPT_INT, F(train_jobs), 0, 1, 64, "1", "training jobs running at once, each on one thread (--engine-threads cores)"},
    {"train-nice", OPT_INT, F(train_nice), 0, 0, 19, "10",
     "nice value of training threads (lower priority than requests)"},
    {"train-mem-mb", OPT_MB, F(train_mem_bytes), 0, 0, 1 << 22, "0",
     "memory one training job may use, MiB, estimated from its config at POST /train (over "
     "it: 400); 0 = auto (half the memory limit)"},
    {"train-max-crashes", OPT_INT, F(train_max_crashes), 0, 0, 1000, "3",
     "times the server may die while a job runs (an OOM kill) before the job is failed "
     "instead of resumed"},
    {"train-upload-mpixels", OPT_INT, F(train_upload_mpixels), 0, 1, 1 << 20, "1024",
     "millions of pixels all the pictures of one training job may have (each at most "
     "--max-pixels); past it 413"},
    {"train-retention-s", OPT_INT, F(train_retention_s), 0, 1, 100000000, "604800",
     "seconds an ended training job is listed before its record is removed (its uploads go "
     "when it ends); default 7 days"},
    {"ui", OPT_ONOFF, F(ui), 0, 0, 1, "on", "the web page (Atelier Studio) at /: on or off"},
    /* The promotion gate (docs/training.md, "The quality gate"): calibrated on
     * the shipped model and on deliberately broken runs. */
    {"gate-min-edges", OPT_INT, F(gate_min_edges), 0, 0, 100, "40",
     "promotion gate: least edge correlation with the held-out photos, percent"},
    {"gate-min-spread", OPT_INT, F(gate_min_spread), 0, 0, 100, "12",
     "promotion gate: least spread of mean colour across the held-out pictures, percent of "
     "the photos' own"},
    {"gate-style-slack", OPT_INT, F(gate_style_slack), 0, 0, 100000, "30",
     "promotion gate: how much farther from the painting than the served version a "
     "candidate may be, percent"},
    {"gate-strokes-slack", OPT_INT, F(gate_strokes_slack), 0, 0, 100000, "30",
     "promotion gate: how much farther from the painting's strokes (tools/quality.py's "
     "'strokes') than the served version a candidate may be, percent"},
    {"gate-photos", OPT_INT, F(gate_photos), 0, 1, 64, "6",
     "promotion gate: held-out photos a candidate is judged on"},
    {"gate-size", OPT_INT, F(gate_size), 0, 32, 2048, "256",
     "promotion gate: long side the held-out photos are stylized at"},
};

#define NOPTS (sizeof opts / sizeof opts[0])

/* util_errf, then the error code: `return fail(err, errlen, ...)`. */
#define fail(err, errlen, ...) (util_errf(err, errlen, __VA_ARGS__), CONFIG_ERROR)

/* Stores value into the field of o; source names the flag or variable in
 * error messages. Token files are remembered, not read, until the end. */
static int apply(Config *c, const Opt *o, const char *value, const char *source,
                 const char **token_file, char *err, size_t errlen)
{
    char *field = (char *)c + o->off;
    long long v;
    if (!strcmp(o->name, "token-file")) {
        *token_file = value;
        return CONFIG_OK;
    }
    if (o->type == OPT_STR) {
        if (strlen(value) >= o->cap)
            return fail(err, errlen, "%s: value too long", source);
        memcpy(field, value, strlen(value) + 1);
        if (!strcmp(o->name, "token"))
            *token_file = NULL;       /* same level: the later one wins */
        return CONFIG_OK;
    }
    if (o->type == OPT_ONOFF) {
        if (strcmp(value, "on") && strcmp(value, "off"))
            return fail(err, errlen, "%s: expected on or off", source);
        *(int *)(void *)field = !strcmp(value, "on");
        return CONFIG_OK;
    }
    if (util_parse_int(value, o->min, o->max, &v)) {
        return fail(err, errlen, "%s: expected an integer in %lld..%lld", source,
                    (long long)o->min, (long long)o->max);
    }
    if (o->type == OPT_INT)
        *(int *)(void *)field = (int)v;
    else if (o->type == OPT_MB)
        *(int64_t *)(void *)field = v * 1024 * 1024;
    else
        *(int64_t *)(void *)field = v;
    return CONFIG_OK;
}

static int read_token_file(Config *c, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n, total = 0;
    if (fd < 0)
        return fail(err, errlen, "--token-file %s: %s", path, strerror(errno));
    while ((n = read(fd, c->token + total, sizeof c->token - 1 - (size_t)total)) > 0)
        total += n;
    close(fd);
    if (n < 0)
        return fail(err, errlen, "--token-file %s: %s", path, strerror(errno));
    if ((size_t)total >= sizeof c->token - 1)
        return fail(err, errlen, "--token-file %s: token longer than %zu bytes", path,
                    sizeof c->token - 2);
    while (total > 0 && isspace((unsigned char)c->token[total - 1]))
        total--;
    c->token[total] = '\0';
    if (memchr(c->token, '\0', (size_t)total) || !total)
        return fail(err, errlen, "--token-file %s: empty or binary token", path);
    return CONFIG_OK;
}

static const Opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

static void env_name(const Opt *o, char *buf, size_t len)
{
    size_t i = 0;
    const char *p = o->name;
    snprintf(buf, len, "ATELIER_");
    i = strlen(buf);
    for (; *p && i + 1 < len; p++)
        buf[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[i] = '\0';
}

/* Cores this process may use: its CPU affinity, lowered by a cgroup v2
 * CPU quota (a container's --cpus or a Kubernetes limit) when one is set. */
static int usable_cores(void)
{
    cpu_set_t set;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *f;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if ((f = fopen("/sys/fs/cgroup/cpu.max", "re"))) {
        long long quota, period;
        if (fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0 &&
            (quota + period - 1) / period < n)
            n = (long)((quota + period - 1) / period);
        fclose(f);
    }
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Memory this process may use: a cgroup v2 limit (a container's --memory
 * or a Kubernetes limit) when one is set, else the machine's. */
static int64_t memory_limit(void)
{
    int64_t mem = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGE_SIZE);
    long long lim;
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "re");
    if (f) {
        if (fscanf(f, "%lld", &lim) == 1 && lim > 0 && lim < mem)
            mem = lim;
        fclose(f);
    }
    return mem;
}

/* Fills the "auto" settings: one worker per core, each forward pass on one
 * core (measured, not guessed: see "Cores" in the DESIGN comment of
 * server/pool.c); bodies in flight may hold a quarter of the memory limit
 * (512 MiB in a 2 GiB pod), at least one largest body and 64 MiB; a
 * training job half of it (the rest is for serving). */
static void resolve_auto(Config *c)
{
    if (c->workers == 0)
        c->workers = usable_cores();
    if (c->engine_threads == 0)
        c->engine_threads = 1;
    if (c->body_budget_bytes == 0) {
        c->body_budget_bytes = memory_limit() / 4;
        if (c->body_budget_bytes < (INT64_C(64) << 20))
            c->body_budget_bytes = INT64_C(64) << 20;
    }
    if (c->body_budget_bytes < c->max_body_bytes)
        c->body_budget_bytes = c->max_body_bytes;
    if (c->train_mem_bytes == 0)
        c->train_mem_bytes = memory_limit() / 2;
}

int config_parse(Config *c, int argc, char **argv, ConfigEnvFn env, char *err, size_t errlen)
{
    const char *token_file = NULL;
    char name[64];
    int rc;
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NOPTS; i++) {
        snprintf(name, sizeof name, "default of --%s", opts[i].name);
        if ((rc = apply(c, &opts[i], opts[i].def, name, &token_file, err, errlen)))
            return rc;
    }
    token_file = NULL;
    for (size_t i = 0; env && i < NOPTS; i++) {
        const char *v;
        env_name(&opts[i], name, sizeof name);
        v = env(name);
        if (v && (rc = apply(c, &opts[i], v, name, &token_file, err, errlen)))
            return rc;
    }
    /* ATELIER_TOKEN and ATELIER_TOKEN_FILE together are ambiguous. */
    if (token_file && c->token[0])
        return fail(err, errlen, "ATELIER_TOKEN and ATELIER_TOKEN_FILE are both set");
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq, *value;
        const Opt *o;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return CONFIG_HELP;
        if (strncmp(arg, "--", 2))
            return fail(err, errlen, "unexpected argument '%s'", arg);
        eq = strchr(arg + 2, '=');
        o = find_opt(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
        if (!o)
            return fail(err, errlen, "unknown option '%s'", arg);
        if (eq) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return fail(err, errlen, "%s needs a value", arg);
            value = argv[++i];
        }
        snprintf(name, sizeof name, "--%s", o->name);
        if (!strcmp(o->name, "token"))
            c->token[0] = '\0';
        if ((rc = apply(c, o, value, name, &token_file, err, errlen)))
            return rc;
        if (!strcmp(o->name, "token-file"))
            c->token[0] = '\0';
    }
    if (token_file && (rc = read_token_file(c, token_file, err, errlen)))
        return rc;
    /* A bearer token is one header word: visible ASCII, no spaces. */
    for (const char *p = c->token; *p; p++)
        if (*p <= ' ' || *p > '~')
            return fail(err, errlen, "the token may hold only visible ASCII characters");
    resolve_auto(c);
    return CONFIG_OK;
}

void config_usage(FILE *f)
{
    char env[64];
    fputs("usage: atelier serve [OPTIONS]\n\n"
          "Serves POST /stylize and the model API over HTTP (see openapi.yaml).\n"
          "Each option may also be set by the environment variable shown;\n"
          "flags win over the environment.\n\n",
          f);
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[48];
        const Opt *o = &opts[i];
        env_name(o, env, sizeof env);
        snprintf(flag, sizeof flag, "--%s %s", o->name,
                 o->type == OPT_STR ? "S" : o->type == OPT_ONOFF ? "on|off" : "N");
        fprintf(f, "  %-22s %s\n  %-22s   (%s", flag, o->help, "", env);
        if (o->type != OPT_STR && o->type != OPT_ONOFF)
            fprintf(f, "; %lld..%lld", (long long)o->min, (long long)o->max);
        if (*o->def)
            fprintf(f, "; default %s", o->def);
        fputs(")\n", f);
    }
}
