/* registry.c: scanning the model repository, loading, sharing and swapping
 * models.
 *
 * DESIGN
 * ------
 * Threads: none of its own. registry_load_all runs on the serve command's
 * main thread after the HTTP daemon starts (so /healthz answers while
 * models load); acquire/release run on the HTTP thread and the workers;
 * registry_set_current on whichever thread asks (the management API).
 *
 * Lock: one mutex guards the model table and each model's current pointer.
 * It is held only to read or swap a pointer and bump a count, never while
 * loading a file: a load happens outside it, and the loaded ref is swapped
 * in under it. acquire = lock, ref = cur, refs++, unlock; so a reader never
 * sees a ref whose count already fell to zero.
 *
 * Ownership: a ModelRef is freed by whoever drops its count to zero
 * (registry_release), which may be a worker finishing the last request on a
 * version that was swapped out meanwhile.
 */
#include "server/registry.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/log.h"
#include "server/modelrepo.h"

#define CARD_MAX (64 * 1024)
#define MAX_MODELS 4096

typedef struct Model {
    char name[REGISTRY_NAME_MAX + 1];
    int *versions;           /* ascending */
    int nversions;
    int pinned;              /* CURRENT, 0 = none */
    char *card_file;         /* card.json text (validated), or NULL */
    char *card_net;          /* card from the loaded file, or NULL */
    char *error;             /* last load error */
    ModelRef *cur;           /* the registry's reference, NULL until loaded */
} Model;

struct Registry {
    pthread_mutex_t lock;
    char dir[PATH_MAX];
    Model *models;           /* sorted by name */
    int n;
    int def;                 /* index of the default model, -1 = none */
    uint64_t next_id;
};

int registry_valid_name(const char *name)
{
    return repo_valid_name(name);
}

/* Reads a small text file whole into a new string; NULL if absent, too
 * big or unreadable. */
static char *read_small(const char *path, size_t max)
{
    FILE *f = fopen(path, "rbe");
    char *buf = NULL;
    size_t n;
    if (!f)
        return NULL;
    buf = malloc(max + 1);
    if (!buf)
        goto done;
    n = fread(buf, 1, max + 1, f);
    if (n > max || ferror(f)) {
        free(buf);
        buf = NULL;
        goto done;
    }
    buf[n] = '\0';
done:
    fclose(f);
    return buf;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_model(const void *a, const void *b)
{
    return strcmp(((const Model *)a)->name, ((const Model *)b)->name);
}

static int has_version(const Model *m, int v)
{
    return bsearch(&v, m->versions, (size_t)m->nversions, sizeof(int), cmp_int) != NULL;
}

static int served_version(const Model *m)
{
    if (m->pinned && has_version(m, m->pinned))
        return m->pinned;
    return m->nversions ? m->versions[m->nversions - 1] : 0;
}

static void model_clear(Model *m)
{
    free(m->versions);
    free(m->card_file);
    free(m->card_net);
    free(m->error);
    registry_release(m->cur);
    memset(m, 0, sizeof *m);
}

/* Scans one model folder (modelrepo.h) into m. Returns 1 when it holds a
 * version, 0 when it is to be skipped, -1 when out of memory. */
static int scan_model(const char *dir, const char *name, Model *m)
{
    char path[PATH_MAX];
    char *text;
    int n;
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    n = repo_versions(dir, name, NULL, 0);
    if (n <= 0)
        return 0;
    if (!(m->versions = malloc((size_t)n * sizeof(int))))
        return -1;
    m->nversions = repo_versions(dir, name, m->versions, n);
    if (m->nversions > n)
        m->nversions = n;         /* a version appeared meanwhile */
    if (m->nversions <= 0) {
        model_clear(m);
        return 0;
    }
    m->pinned = repo_pinned_version(dir, name);
    if (snprintf(path, sizeof path, "%s/%s/card.json", dir, name) < (int)sizeof path &&
        (text = read_small(path, CARD_MAX))) {
        json_t *card = json_loads(text, 0, NULL);
        if (json_is_object(card))
            m->card_file = text;
        else {
            log_write("warn", "ignoring card.json: not a JSON object", "{s:s}", "model", name);
            free(text);
        }
        json_decref(card);
    }
    return 1;
}

Registry *registry_open(const char *dir, const char *default_model, char *err, size_t errlen)
{
    Registry *r = calloc(1, sizeof *r);
    char (*names)[REPO_NAME_MAX + 1] = NULL;
    int count, got;
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->def = -1;
    if (pthread_mutex_init(&r->lock, NULL)) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (snprintf(r->dir, sizeof r->dir, "%s", dir) >= (int)sizeof r->dir) {
        snprintf(err, errlen, "model repository path too long");
        goto fail;
    }
    if ((count = repo_models(dir, NULL, 0)) < 0) {
        snprintf(err, errlen, "model repository %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (count > MAX_MODELS)
        count = MAX_MODELS;
    names = calloc((size_t)(count ? count : 1), sizeof *names);
    r->models = calloc((size_t)(count ? count : 1), sizeof *r->models);
    if (!names || !r->models)
        goto fail_nomem;
    got = repo_models(dir, names, count);
    for (int i = 0; i < got && i < count; i++) {
        int rc = scan_model(dir, names[i], &r->models[r->n]);
        if (rc < 0)
            goto fail_nomem;
        r->n += rc;
    }
    free(names);
    names = NULL;
    if (r->n)
        qsort(r->models, (size_t)r->n, sizeof *r->models, cmp_model);
    if (default_model && *default_model) {
        for (int i = 0; i < r->n; i++)
            if (!strcmp(r->models[i].name, default_model))
                r->def = i;
        if (r->def < 0) {
            snprintf(err, errlen, "default model '%s' is not in %s", default_model, dir);
            goto fail;
        }
    } else if (r->n) {
        r->def = 0;
    }
    return r;
fail_nomem:
    snprintf(err, errlen, "out of memory scanning %s", dir);
fail:
    free(names);
    registry_free(r);
    return NULL;
}

void registry_free(Registry *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        model_clear(&r->models[i]);
    free(r->models);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static Model *find(Registry *r, const char *name)
{
    Model key;
    if (snprintf(key.name, sizeof key.name, "%s", name) >= (int)sizeof key.name)
        return NULL;
    return bsearch(&key, r->models, (size_t)r->n, sizeof *r->models, cmp_model);
}

const char *registry_default(const Registry *r)
{
    return r->def >= 0 ? r->models[r->def].name : NULL;
}

int registry_ready(Registry *r)
{
    int ready;
    pthread_mutex_lock(&r->lock);
    ready = r->def >= 0 && r->models[r->def].cur != NULL;
    pthread_mutex_unlock(&r->lock);
    return ready;
}

/* Loads name/v<version> into a new ref with one reference. */
static ModelRef *load_ref(Registry *r, const char *name, int version, char *err, size_t errlen)
{
    char path[PATH_MAX];
    ModelRef *ref;
    if (repo_version_path(r->dir, name, version, path, sizeof path)) {
        snprintf(err, errlen, "bad version or path too long");
        return NULL;
    }
    ref = calloc(1, sizeof *ref);
    if (!ref) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ref->net = net_load(path, err, errlen);
    if (!ref->net) {
        free(ref);
        return NULL;
    }
    snprintf(ref->name, sizeof ref->name, "%s", name);
    ref->version = version;
    atomic_init(&ref->refs, 1);
    pthread_mutex_lock(&r->lock);
    ref->id = ++r->next_id;
    pthread_mutex_unlock(&r->lock);
    return ref;
}

/* Swaps ref in as name's current version (consuming the caller's reference)
 * and remembers its card; the old ref is released outside the lock. */
static void install(Registry *r, Model *m, ModelRef *ref)
{
    ModelRef *old;
    const char *card = net_card_json(ref->net);
    char *card_copy = card && strcmp(card, "{}") ? strdup(card) : NULL;
    pthread_mutex_lock(&r->lock);
    old = m->cur;
    m->cur = ref;
    free(m->card_net);
    m->card_net = card_copy;
    free(m->error);
    m->error = NULL;
    pthread_mutex_unlock(&r->lock);
    registry_release(old);
}

static void set_error(Registry *r, Model *m, const char *msg)
{
    char *copy = strdup(msg);
    pthread_mutex_lock(&r->lock);
    free(m->error);
    m->error = copy;
    pthread_mutex_unlock(&r->lock);
}

int registry_load_all(Registry *r)
{
    int failed = 0;
    for (int i = 0; i < r->n; i++) {
        Model *m = &r->models[i];
        char err[256] = "";
        int version, loaded;
        ModelRef *ref;
        pthread_mutex_lock(&r->lock);
        version = served_version(m);
        loaded = m->cur != NULL;
        pthread_mutex_unlock(&r->lock);
        if (loaded)
            continue;
        ref = load_ref(r, m->name, version, err, sizeof err);
        if (!ref) {
            log_write("error", "model failed to load", "{s:s, s:i, s:s}", "model", m->name,
                      "version", version, "error", err);
            set_error(r, m, err);
            failed++;
            continue;
        }
        log_write("info", "model loaded", "{s:s, s:i, s:I}", "model", m->name, "version",
                  version, "params", (json_int_t)net_param_count(ref->net));
        install(r, m, ref);
    }
    return failed;
}

ModelRef *registry_acquire(Registry *r, const char *name, int *code)
{
    Model *m;
    ModelRef *ref = NULL;
    int rc = REGISTRY_OK;
    if (name && !registry_valid_name(name)) {
        *code = REGISTRY_EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&r->lock);
    if (!name)
        m = r->def >= 0 ? &r->models[r->def] : NULL;
    else
        m = find(r, name);
    if (!m)
        rc = REGISTRY_ENOENT;
    else if (!m->cur)
        rc = REGISTRY_ENOTREADY;
    else {
        ref = m->cur;
        atomic_fetch_add(&ref->refs, 1);
    }
    pthread_mutex_unlock(&r->lock);
    *code = rc;
    return ref;
}

void registry_release(ModelRef *ref)
{
    if (!ref)
        return;
    if (atomic_fetch_sub(&ref->refs, 1) == 1) {
        net_free(ref->net);
        free(ref);
    }
}

int registry_set_current(Registry *r, const char *name, int version, char *err, size_t errlen)
{
    Model *m;
    ModelRef *ref;
    char path[PATH_MAX];
    struct stat st;
    if (!registry_valid_name(name)) {
        snprintf(err, errlen, "not a model name");
        return REGISTRY_EINVAL;
    }
    if (!(m = find(r, name))) {
        snprintf(err, errlen, "no model '%s'", name);
        return REGISTRY_ENOENT;
    }
    if (repo_version_path(r->dir, name, version, path, sizeof path) || stat(path, &st) ||
        !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "model '%s' has no version %d", name, version);
        return REGISTRY_ENOENT;
    }
    if (!(ref = load_ref(r, name, version, err, errlen)))
        return REGISTRY_ELOAD;
    pthread_mutex_lock(&r->lock);
    if (!has_version(m, version)) {
        int *nv = realloc(m->versions, (size_t)(m->nversions + 1) * sizeof *nv);
        if (nv) {
            nv[m->nversions++] = version;
            m->versions = nv;
            qsort(m->versions, (size_t)m->nversions, sizeof(int), cmp_int);
        }
    }
    m->pinned = version;
    pthread_mutex_unlock(&r->lock);
    install(r, m, ref);
    return REGISTRY_OK;
}

void registry_info_clear(RegistryInfo *info)
{
    if (!info)
        return;
    free(info->versions);
    free(info->card);
    free(info->error);
    memset(info, 0, sizeof *info);
}

void registry_list_free(RegistryInfo *infos, int n)
{
    if (!infos)
        return;
    for (int i = 0; i < n; i++)
        registry_info_clear(&infos[i]);
    free(infos);
}

/* Copies m into info; call with the lock held. 0 or REGISTRY_ENOMEM. */
static int snapshot(const Model *m, RegistryInfo *info)
{
    const char *card = m->card_file ? m->card_file : m->card_net;
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", m->name);
    info->current = m->cur ? m->cur->version : served_version(m);
    info->loaded = m->cur ? m->cur->version : 0;
    info->params = m->cur ? net_param_count(m->cur->net) : 0;
    info->nversions = m->nversions;
    info->versions = malloc((size_t)(m->nversions ? m->nversions : 1) * sizeof(int));
    if (!info->versions)
        return REGISTRY_ENOMEM;
    memcpy(info->versions, m->versions, (size_t)m->nversions * sizeof(int));
    if ((card && !(info->card = strdup(card))) || (m->error && !(info->error = strdup(m->error)))) {
        registry_info_clear(info);
        return REGISTRY_ENOMEM;
    }
    return REGISTRY_OK;
}

int registry_list(Registry *r, RegistryInfo **out)
{
    RegistryInfo *infos;
    int n, rc = 0;
    pthread_mutex_lock(&r->lock);
    n = r->n;
    infos = calloc((size_t)(n ? n : 1), sizeof *infos);
    for (int i = 0; infos && i < n && !rc; i++)
        rc = snapshot(&r->models[i], &infos[i]);
    pthread_mutex_unlock(&r->lock);
    if (!infos || rc) {
        registry_list_free(infos, n);
        return REGISTRY_ENOMEM;
    }
    *out = infos;
    return n;
}

int registry_info(Registry *r, const char *name, RegistryInfo *info)
{
    Model *m;
    int rc;
    memset(info, 0, sizeof *info);
    if (!registry_valid_name(name))
        return REGISTRY_EINVAL;
    pthread_mutex_lock(&r->lock);
    m = find(r, name);
    rc = m ? snapshot(m, info) : REGISTRY_ENOENT;
    pthread_mutex_unlock(&r->lock);
    return rc;
}
