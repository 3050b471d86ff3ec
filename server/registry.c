/* registry.c: scanning and watching the model repository, loading,
 * sharing and swapping models, and the CURRENT pin.
 *
 * DESIGN
 * ------
 * Threads: none of its own. registry_load_all runs on the serve command's
 * main thread after the HTTP daemon starts (so /healthz answers while
 * models load); registry_rescan on the watch thread (watch.c) and the job
 * runner; acquire/release on the HTTP thread and the workers; pin/unpin on
 * the HTTP thread (the management API).
 *
 * Locks: `lock` guards the model table and each model's current pointer.
 * It is held only to read or swap a pointer and bump a count, never while
 * loading a file: a load happens outside it, and the loaded ref is swapped
 * in under it. acquire = lock, ref = cur, refs++, unlock; so a reader never
 * sees a ref whose count already fell to zero. `swap` serialises every
 * decide-load-install sequence (rescan, load_all, pin, unpin) so that two
 * of them can never install versions out of order; it is held while a file
 * loads, and acquire never takes it.
 *
 * Models are allocated one by one and never freed before the registry, so
 * a Model pointer stays valid while the table (an array of pointers, sorted
 * by name) grows under `lock` when a rescan finds a new model folder.
 *
 * Bad files: a version that fails to load is remembered with its mtime and
 * size and not tried again until the file changes, so a broken file costs
 * one load attempt, not one per rescan. It is never served: the newest
 * version that loads is, and the current one stays when nothing newer does.
 *
 * Ownership: a ModelRef is freed by whoever drops its count to zero
 * (registry_release), which may be a worker finishing the last request on a
 * version that was swapped out meanwhile.
 */
#include "server/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/log.h"
#include "engine/repo.h"
#include "engine/util.h"

#define CARD_MAX (64 * 1024)
#define MAX_MODELS 4096
#define MAX_BAD 64

typedef struct BadFile {
    int version;
    struct timespec mtime;
    off_t size;
} BadFile;

typedef struct Model {
    char name[REPO_NAME_MAX + 1];
    int *versions;           /* ascending */
    int *states;             /* REPO_SERVABLE etc., parallel to versions */
    int nversions;
    int pinned;              /* CURRENT, 0 = none */
    char *card_file;         /* card.json text (validated), or NULL */
    char *card_ver;          /* v<card_ver_v>.card.json of the served version */
    int card_ver_v;
    char *card_net;          /* card from the loaded file, or NULL */
    char *error;             /* last load error */
    char *pin_error;         /* why CURRENT is refused, or NULL */
    ModelRef *cur;           /* the registry's reference, NULL until loaded */
    ModelRef *canary;        /* a candidate given a share of the traffic, or NULL */
    double canary_share;
    long canary_left;        /* canary requests still to route */
    long canary_seen;        /* requests since the canary started */
    long canary_served, canary_failed;
    BadFile bad[MAX_BAD];    /* files that failed to load (swap lock) */
    int nbad;
} Model;

struct Registry {
    pthread_mutex_t lock;
    pthread_mutex_t swap;
    char dir[PATH_MAX];
    char def_name[REPO_NAME_MAX + 1];   /* --default-model, "" = none */
    Model **models;          /* sorted by name */
    int n, cap;
    Model *def;              /* the default model, NULL = none */
    int def_from;            /* REPO_DEFAULT_FLAG / _FILE / _ONLY, 0 = none */
    uint64_t next_id;
    RegistryStats stats;
    struct VersionCount {
        char name[REPO_NAME_MAX + 1];
        int version;
        long requests, failures;
    } counts[REGISTRY_MAX_COUNTED];    /* per version, for /metrics */
    int ncounts;
    RepoStray strays[REGISTRY_MAX_STRAYS];   /* what the last scan found unservable */
    int nstrays;
};

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
    return strcmp((*(Model *const *)a)->name, (*(Model *const *)b)->name);
}

static int has_version(const Model *m, int v)
{
    return m->versions &&
           bsearch(&v, m->versions, (size_t)m->nversions, sizeof(int), cmp_int) != NULL;
}

/* A candidate or a refused version is served only when pinned by hand. */
static int servable(const Model *m, int i)
{
    return m->states[i] == REPO_SERVABLE || m->states[i] == REPO_PROMOTED;
}

static int served_version(const Model *m)
{
    if (m->pinned && has_version(m, m->pinned))
        return m->pinned;
    for (int i = m->nversions - 1; i >= 0; i--)
        if (servable(m, i))
            return m->versions[i];
    return 0;
}


static void model_free(Model *m)
{
    if (!m)
        return;
    free(m->versions);
    free(m->states);
    free(m->card_file);
    free(m->card_ver);
    free(m->card_net);
    free(m->error);
    free(m->pin_error);
    registry_release(m->cur);
    registry_release(m->canary);
    free(m);
}

/* card.json of a model folder, validated, as a new string; or NULL. */
static char *read_card(const char *dir, const char *name)
{
    char path[PATH_MAX];
    char *text;
    json_t *card;
    if (repo_path(dir, name, REPO_CARD, 0, path, sizeof path) ||
        !(text = read_small(path, CARD_MAX)))
        return NULL;
    card = json_loads(text, 0, NULL);
    if (!json_is_object(card)) {
        log_write("warn", "ignoring card.json: not a JSON object", "{s:s}", "model", name);
        free(text);
        text = NULL;
    }
    json_decref(card);
    return text;
}

/* The versions of name on disk as a new array; *n its length (0 with NULL
 * when there are none). -1 when out of memory. */
static int disk_versions(const char *dir, const char *name, int **out, int *n)
{
    int count = repo_versions(dir, name, NULL, 0), got;
    *out = NULL;
    *n = 0;
    if (count <= 0)
        return 0;
    if (!(*out = malloc((size_t)count * sizeof(int))))
        return -1;
    got = repo_versions(dir, name, *out, count);
    *n = got < 0 ? 0 : got > count ? count : got;   /* a version may come or go meanwhile */
    return 0;
}

Registry *registry_open(const char *dir, const char *default_model, char *err, size_t errlen)
{
    Registry *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&r->lock, NULL)) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&r->swap, NULL)) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (snprintf(r->dir, sizeof r->dir, "%s", dir) >= (int)sizeof r->dir) {
        snprintf(err, errlen, "model repository path too long");
        goto fail;
    }
    if (default_model && *default_model &&
        snprintf(r->def_name, sizeof r->def_name, "%s", default_model) >= (int)sizeof r->def_name) {
        snprintf(err, errlen, "default model '%.64s...' is not a model name", default_model);
        goto fail;
    }
    if (repo_models(dir, NULL, 0) < 0) {
        snprintf(err, errlen, "model repository %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (registry_scan(r) < 0) {
        snprintf(err, errlen, "out of memory scanning %s", dir);
        goto fail;
    }
    if (r->def_name[0] && !r->def) {
        snprintf(err, errlen, "default model '%s' is not in %s", r->def_name, dir);
        goto fail;
    }
    return r;
fail:
    registry_free(r);
    return NULL;
}

void registry_free(Registry *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        model_free(r->models[i]);
    free(r->models);
    pthread_mutex_destroy(&r->swap);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Call with lock held. */
static Model *find(Registry *r, const char *name)
{
    UTIL_ASSERT(util_mutex_held(&r->lock));
    Model key, *k = &key, **hit;
    if (!r->n || snprintf(key.name, sizeof key.name, "%s", name) >= (int)sizeof key.name)
        return NULL;
    hit = bsearch(&k, r->models, (size_t)r->n, sizeof *r->models, cmp_model);
    return hit ? *hit : NULL;
}

static Model *find_locked(Registry *r, const char *name)
{
    Model *m;
    pthread_mutex_lock(&r->lock);
    m = find(r, name);
    pthread_mutex_unlock(&r->lock);
    return m;
}

/* Adds a new model under lock, keeping the order; NULL when out of memory
 * or at MAX_MODELS. */
static Model *add_model(Registry *r, const char *name)
{
    Model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    pthread_mutex_lock(&r->lock);
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        Model **nm = cap <= MAX_MODELS ? realloc(r->models, (size_t)cap * sizeof *nm) : NULL;
        if (!nm) {
            pthread_mutex_unlock(&r->lock);
            free(m);
            return NULL;
        }
        r->models = nm;
        r->cap = cap;
    }
    r->models[r->n++] = m;
    qsort(r->models, (size_t)r->n, sizeof *r->models, cmp_model);
    pthread_mutex_unlock(&r->lock);
    return m;
}

/* The default model, explicit: --default-model, else the DEFAULT file,
 * else the only model; never the first of several by name (swap lock held,
 * after a scan). */
static void choose_default(Registry *r)
{
    char file[REPO_NAME_MAX + 1];
    const char *name = NULL;
    int from = 0;
    if (r->def_name[0]) {
        name = r->def_name;
        from = REPO_DEFAULT_FLAG;
    } else if (!repo_default_file(r->dir, file, sizeof file)) {
        name = file;
        from = REPO_DEFAULT_FILE;
    }
    pthread_mutex_lock(&r->lock);
    if (!name && r->n == 1) {
        name = r->models[0]->name;
        from = REPO_DEFAULT_ONLY;
    }
    r->def = name ? find(r, name) : NULL;
    r->def_from = r->def ? from : 0;
    pthread_mutex_unlock(&r->lock);
}

const char *registry_default(const Registry *r)
{
    return r->def ? r->def->name : NULL;
}

const char *registry_default_from(const Registry *r)
{
    static const char *const from[] = {"none", "flag", "file", "only model"};
    return from[r->def ? r->def_from : 0];
}

int registry_set_default(Registry *r, const char *name, char *err, size_t errlen)
{
    int rc = REGISTRY_OK;
    if (!repo_valid_name(name)) {
        snprintf(err, errlen, "'%.64s' is not a model name", name ? name : "");
        return REGISTRY_EINVAL;
    }
    pthread_mutex_lock(&r->swap);
    if (!find_locked(r, name)) {
        snprintf(err, errlen, "no model '%s'", name);
        rc = REGISTRY_ENOENT;
    } else if (repo_write_default(r->dir, name, err, errlen)) {
        rc = REGISTRY_EIO;
    } else {
        r->def_name[0] = '\0';       /* the file now decides, over --default-model */
        choose_default(r);
    }
    pthread_mutex_unlock(&r->swap);
    return rc;
}

int registry_ready(Registry *r)
{
    int ready;
    pthread_mutex_lock(&r->lock);
    ready = r->def && r->def->cur != NULL;
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

/* Swaps ref in as m's current version (consuming the caller's reference)
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
    if (old) {
        r->stats.swaps++;
        if (ref->version < old->version)
            r->stats.rollbacks++;
    }
    pthread_mutex_unlock(&r->lock);
    if (old)
        log_write("info", "model swapped", "{s:s, s:i, s:i}", "model", m->name, "from",
                  old->version, "to", ref->version);
    registry_release(old);
}

/* Keeps msg as m's error, listed with the model; counted as a load
 * failure when count is set. */
static void note_error(Registry *r, Model *m, const char *msg, int count)
{
    char *copy = strdup(msg);
    pthread_mutex_lock(&r->lock);
    free(m->error);
    m->error = copy;
    r->stats.load_failures += count;
    pthread_mutex_unlock(&r->lock);
}

static void set_error(Registry *r, Model *m, const char *msg)
{
    note_error(r, m, msg, 1);
}

/* 1 when m's version is remembered as bad and its file has not changed
 * since (swap lock held). */
static int known_bad(Registry *r, Model *m, int version)
{
    char path[PATH_MAX];
    struct stat st;
    if (repo_version_path(r->dir, m->name, version, path, sizeof path) || stat(path, &st))
        return 1;
    for (int i = 0; i < m->nbad; i++)
        if (m->bad[i].version == version)
            return m->bad[i].size == st.st_size &&
                   m->bad[i].mtime.tv_sec == st.st_mtim.tv_sec &&
                   m->bad[i].mtime.tv_nsec == st.st_mtim.tv_nsec;
    return 0;
}

static void remember_bad(Registry *r, Model *m, int version)
{
    char path[PATH_MAX];
    struct stat st;
    int i = 0;
    if (repo_version_path(r->dir, m->name, version, path, sizeof path) || stat(path, &st))
        return;
    while (i < m->nbad && m->bad[i].version != version)
        i++;
    if (i == MAX_BAD) {
        memmove(m->bad, m->bad + 1, (MAX_BAD - 1) * sizeof *m->bad);
        i = MAX_BAD - 1;
    } else if (i == m->nbad) {
        m->nbad++;
    }
    m->bad[i] = (BadFile){version, st.st_mtim, st.st_size};
}

/* Loads and installs version of m (swap lock held). 0, or REGISTRY_ELOAD
 * after logging and remembering the file. */
static int try_load(Registry *r, Model *m, int version, char *err, size_t errlen)
{
    ModelRef *ref = load_ref(r, m->name, version, err, errlen);
    if (!ref) {
        log_write("error", "model failed to load", "{s:s, s:i, s:s}", "model", m->name,
                  "version", version, "error", err);
        remember_bad(r, m, version);
        set_error(r, m, err);
        return REGISTRY_ELOAD;
    }
    log_write("info", "model loaded", "{s:s, s:i, s:I}", "model", m->name, "version",
              version, "params", (json_int_t)net_param_count(ref->net));
    install(r, m, ref);
    return REGISTRY_OK;
}

/* Brings m's loaded version in line with its versions and pin (swap lock
 * held): the pinned version, else the newest one that loads; never a bad
 * file, and the current version stays when nothing better loads (a pin
 * that does not load, with nothing served yet, falls back to the newest
 * version that does). Returns
 * 1 when it swapped, 0 when not, -1 when a load failed. */
static int converge(Registry *r, Model *m)
{
    int pinned, cur, nv, *vs, rc = 0;
    char err[256], failed_err[256] = "";
    pthread_mutex_lock(&r->lock);
    pinned = m->pinned && has_version(m, m->pinned) ? m->pinned : 0;
    cur = m->cur ? m->cur->version : 0;
    nv = 0;
    vs = m->nversions ? malloc((size_t)m->nversions * sizeof *vs) : NULL;
    for (int i = 0; vs && i < m->nversions; i++)
        if (servable(m, i) || m->versions[i] == cur)
            vs[nv++] = m->versions[i];     /* candidates wait for their promotion */
    pthread_mutex_unlock(&r->lock);
    if (pinned) {
        if (pinned != cur && !known_bad(r, m, pinned))
            rc = try_load(r, m, pinned, err, sizeof err) ? -1 : 1;
        if (rc == 1 || cur) {
            free(vs);
            return rc;
        }
        if (rc == -1)
            snprintf(failed_err, sizeof failed_err, "%s", err);
        /* The pinned file does not load and nothing is served: the newest
         * version that loads stands in, so a bad pin does not take the
         * model out of service (its error stays listed with the model). */
    }
    for (int i = (vs ? nv : 0) - 1; i >= 0; i--) {
        if (vs[i] == cur)
            break;          /* nothing newer loads; keep it */
        if (cur && vs[i] < cur && has_version(m, cur))
            break;          /* only ever forward while the current file is there */
        if (known_bad(r, m, vs[i]))
            continue;
        if (!try_load(r, m, vs[i], err, sizeof err)) {
            /* An older version stands in: the newer one's failure stays
             * listed with the model until a good version replaces it. */
            if (failed_err[0])
                note_error(r, m, failed_err, 0);
            rc = 1;
            break;
        }
        if (!failed_err[0])
            snprintf(failed_err, sizeof failed_err, "%s", err);
        rc = -1;
    }
    free(vs);
    return rc;
}

/* Reads the folder of name into m (swap lock held). -1 when out of memory. */
static int refresh(Registry *r, Model *m)
{
    int *vs, nv, pinned, *states, served;
    char *card, *vcard, err[256] = "", *pin_error = NULL;
    Model view;
    if (disk_versions(r->dir, m->name, &vs, &nv))
        return -1;
    if (!(states = calloc((size_t)(nv ? nv : 1), sizeof *states))) {
        free(vs);
        return -1;
    }
    for (int i = 0; i < nv; i++)
        free(repo_version_card(r->dir, m->name, vs[i], &states[i]));
    pinned = repo_read_pin(r->dir, m->name, err, sizeof err);
    if (pinned < 0) {
        pinned = 0;
        pin_error = strdup(err);
    }
    card = read_card(r->dir, m->name);
    view = (Model){.versions = vs, .states = states, .nversions = nv, .pinned = pinned};
    served = served_version(&view);
    vcard = served ? repo_version_card(r->dir, m->name, served, NULL) : NULL;
    /* A refused CURRENT is logged when it first appears or changes, not
     * at every rescan; it stays listed with the model while it is there. */
    if (pin_error && (!m->pin_error || strcmp(pin_error, m->pin_error)))
        log_write("error", "CURRENT refused", "{s:s, s:s}", "model", m->name, "error", pin_error);
    pthread_mutex_lock(&r->lock);
    free(m->versions);
    free(m->states);
    m->versions = vs;
    m->states = states;
    m->nversions = nv;
    m->pinned = pinned;
    free(m->card_file);
    m->card_file = card;
    free(m->pin_error);
    m->pin_error = pin_error;
    free(m->card_ver);
    m->card_ver = vcard;
    m->card_ver_v = served;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* Lists what in the repository is not servable, logging each once, when
 * it first appears (swap lock held). */
static void note_strays(Registry *r)
{
    RepoStray found[REGISTRY_MAX_STRAYS];
    int n = repo_strays(r->dir, found, REGISTRY_MAX_STRAYS);
    if (n < 0)
        return;
    if (n > REGISTRY_MAX_STRAYS)
        n = REGISTRY_MAX_STRAYS;
    for (int i = 0; i < n; i++) {
        int known = 0;
        for (int k = 0; k < r->nstrays && !known; k++)
            known = !strcmp(r->strays[k].path, found[i].path);
        if (!known)
            log_write("warn", "not servable, ignored", "{s:s, s:s}", "path", found[i].path,
                      "reason", found[i].reason);
    }
    pthread_mutex_lock(&r->lock);
    memcpy(r->strays, found, (size_t)n * sizeof *found);
    r->nstrays = n;
    pthread_mutex_unlock(&r->lock);
}

int registry_strays(Registry *r, RepoStray *out, int max)
{
    int n;
    pthread_mutex_lock(&r->lock);
    n = r->nstrays < max ? r->nstrays : max;
    memcpy(out, r->strays, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* The scan without loading: new folders added, known ones refreshed. */
int registry_scan(Registry *r)
{
    char (*names)[REPO_NAME_MAX + 1] = NULL;
    int count = repo_models(r->dir, NULL, 0), got, rc = 0;
    if (count < 0)
        return 0;           /* the folder went away: keep what is loaded */
    if (count > MAX_MODELS)
        count = MAX_MODELS;
    names = calloc((size_t)(count ? count : 1), sizeof *names);
    if (!names)
        return -1;
    got = repo_models(r->dir, names, count);
    pthread_mutex_lock(&r->swap);
    for (int i = 0; i < got && i < count && !rc; i++) {
        Model *m = find_locked(r, names[i]);
        if (!m && !(m = add_model(r, names[i])))
            rc = -1;
        else
            rc = refresh(r, m);
    }
    choose_default(r);
    note_strays(r);
    pthread_mutex_unlock(&r->swap);
    free(names);
    return rc;
}

int registry_rescan(Registry *r)
{
    int swapped = 0, n;
    if (registry_scan(r) < 0)
        return REGISTRY_ENOMEM;
    pthread_mutex_lock(&r->swap);
    pthread_mutex_lock(&r->lock);
    n = r->n;
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < n; i++) {
        Model *m;
        pthread_mutex_lock(&r->lock);
        m = r->models[i];
        pthread_mutex_unlock(&r->lock);
        swapped += converge(r, m) > 0;
    }
    pthread_mutex_unlock(&r->swap);
    return swapped;
}

int registry_load_all(Registry *r)
{
    int failed = 0, n;
    pthread_mutex_lock(&r->swap);
    pthread_mutex_lock(&r->lock);
    n = r->n;
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < n; i++) {
        Model *m;
        pthread_mutex_lock(&r->lock);
        m = r->models[i];
        pthread_mutex_unlock(&r->lock);
        converge(r, m);
        pthread_mutex_lock(&r->lock);
        failed += !m->cur;
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&r->swap);
    return failed;
}

ModelRef *registry_acquire(Registry *r, const char *name, int *code)
{
    Model *m;
    ModelRef *ref = NULL;
    int rc = REGISTRY_OK;
    if (name && !repo_valid_name(name)) {
        *code = REGISTRY_EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&r->lock);
    m = name ? find(r, name) : r->def;
    if (!m)
        rc = REGISTRY_ENOENT;
    else if (!m->cur && !served_version(m))
        rc = REGISTRY_ECANDIDATE;     /* nothing promoted yet */
    else if (!m->cur)
        rc = REGISTRY_ENOTREADY;
    else {
        ref = m->cur;
        /* A canary takes every request k where the running share steps
         * over an integer: exactly floor(n * share) of the first n. */
        if (m->canary && m->canary_left > 0) {
            long k = m->canary_seen++;
            if ((long)((double)(k + 1) * m->canary_share) > (long)((double)k * m->canary_share)) {
                ref = m->canary;
                m->canary_left--;
                m->canary_served++;
            }
        }
        atomic_fetch_add(&ref->refs, 1);
    }
    pthread_mutex_unlock(&r->lock);
    *code = rc;
    return ref;
}

int registry_canary_start(Registry *r, const char *name, int version, double share,
                          long requests, char *err, size_t errlen)
{
    ModelRef *ref, *old;
    Model *m = repo_valid_name(name) ? find_locked(r, name) : NULL;
    if (!m) {
        snprintf(err, errlen, "no model '%.64s'", name ? name : "");
        return REGISTRY_ENOENT;
    }
    if (!(ref = load_ref(r, name, version, err, errlen)))
        return REGISTRY_ELOAD;
    pthread_mutex_lock(&r->lock);
    old = m->canary;
    m->canary = ref;
    m->canary_share = share;
    m->canary_left = requests;
    m->canary_seen = m->canary_served = m->canary_failed = 0;
    pthread_mutex_unlock(&r->lock);
    registry_release(old);
    log_write("info", "canary started", "{s:s, s:i, s:f, s:I}", "model", name, "version",
              version, "share", share, "requests", (json_int_t)requests);
    return REGISTRY_OK;
}

int registry_canary_status(Registry *r, const char *name, long *served, long *failed,
                           long *left)
{
    Model *m = repo_valid_name(name) ? find_locked(r, name) : NULL;
    int on = 0;
    if (!m)
        return 0;
    pthread_mutex_lock(&r->lock);
    if ((on = m->canary != NULL)) {
        *served = m->canary_served;
        *failed = m->canary_failed;
        *left = m->canary_left;
    }
    pthread_mutex_unlock(&r->lock);
    return on;
}

void registry_canary_end(Registry *r, const char *name)
{
    Model *m = repo_valid_name(name) ? find_locked(r, name) : NULL;
    ModelRef *old = NULL;
    if (!m)
        return;
    pthread_mutex_lock(&r->lock);
    old = m->canary;
    m->canary = NULL;
    m->canary_left = 0;
    pthread_mutex_unlock(&r->lock);
    registry_release(old);
}

void registry_note_result(Registry *r, const ModelRef *ref, int failed)
{
    Model *m;
    int i;
    if (!ref)
        return;
    pthread_mutex_lock(&r->lock);
    for (i = 0; i < r->ncounts; i++)
        if (r->counts[i].version == ref->version && !strcmp(r->counts[i].name, ref->name))
            break;
    if (i == r->ncounts && i < REGISTRY_MAX_COUNTED) {
        snprintf(r->counts[i].name, sizeof r->counts[i].name, "%s", ref->name);
        r->counts[i].version = ref->version;
        r->counts[i].requests = r->counts[i].failures = 0;
        r->ncounts++;
    }
    if (i < r->ncounts) {
        r->counts[i].requests++;
        r->counts[i].failures += failed != 0;
    }
    if ((m = find(r, ref->name)) && m->canary == ref)
        m->canary_failed += failed != 0;
    pthread_mutex_unlock(&r->lock);
}

void registry_write_counts(Registry *r, FILE *f)
{
    pthread_mutex_lock(&r->lock);
    fputs("# HELP atelier_model_requests_total Stylize requests answered, by model version.\n"
          "# TYPE atelier_model_requests_total counter\n", f);
    for (int i = 0; i < r->ncounts; i++)
        fprintf(f, "atelier_model_requests_total{model=\"%s\",version=\"%d\"} %ld\n",
                r->counts[i].name, r->counts[i].version, r->counts[i].requests);
    fputs("# HELP atelier_model_failures_total Of those, the ones that failed (5xx).\n"
          "# TYPE atelier_model_failures_total counter\n", f);
    for (int i = 0; i < r->ncounts; i++)
        fprintf(f, "atelier_model_failures_total{model=\"%s\",version=\"%d\"} %ld\n",
                r->counts[i].name, r->counts[i].version, r->counts[i].failures);
    pthread_mutex_unlock(&r->lock);
}

void registry_retain(ModelRef *ref)
{
    atomic_fetch_add(&ref->refs, 1);
}

static Model *lookup(Registry *r, const char *name, int version, char *err, size_t errlen,
                     int *rc);

ModelRef *registry_acquire_version(Registry *r, const char *name, int version, int *code,
                                   char *err, size_t errlen)
{
    ModelRef *ref = registry_acquire(r, name, code);
    const char *model = name ? name : registry_default(r);
    if (version <= 0 || (ref && ref->version == version)) {
        if (!ref)
            snprintf(err, errlen, "model %s is not served", model ? model : "(none)");
        return ref;
    }
    registry_release(ref);
    if (!model) {
        *code = REGISTRY_ENOENT;
        snprintf(err, errlen, "no model to serve");
        return NULL;
    }
    if (!lookup(r, model, version, err, errlen, code))
        return NULL;
    if (!(ref = load_ref(r, model, version, err, errlen)))
        *code = REGISTRY_ELOAD;
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

/* Checks name and version and finds the model (no lock held). */
static Model *lookup(Registry *r, const char *name, int version, char *err, size_t errlen,
                     int *rc)
{
    char path[PATH_MAX];
    struct stat st;
    Model *m;
    if (!repo_valid_name(name)) {
        snprintf(err, errlen, "not a model name");
        *rc = REGISTRY_EINVAL;
        return NULL;
    }
    if (!(m = find_locked(r, name))) {
        snprintf(err, errlen, "no model '%s'", name);
        *rc = REGISTRY_ENOENT;
        return NULL;
    }
    if (version && (repo_version_path(r->dir, name, version, path, sizeof path) ||
                    stat(path, &st) || !S_ISREG(st.st_mode))) {
        snprintf(err, errlen, "model '%s' has no version %d", name, version);
        *rc = REGISTRY_ENOVERSION;
        return NULL;
    }
    *rc = REGISTRY_OK;
    return m;
}

int registry_set_current(Registry *r, const char *name, int version, char *err, size_t errlen)
{
    int rc;
    Model *m = lookup(r, name, version, err, errlen, &rc);
    if (!m)
        return rc;
    if (version < 1) {
        snprintf(err, errlen, "model '%s' has no version %d", name, version);
        return REGISTRY_ENOVERSION;
    }
    pthread_mutex_lock(&r->swap);
    if (refresh(r, m)) {
        rc = REGISTRY_ENOMEM;
    } else {
        pthread_mutex_lock(&r->lock);
        m->pinned = version;
        pthread_mutex_unlock(&r->lock);
        rc = m->cur && m->cur->version == version ? REGISTRY_OK
                                                  : try_load(r, m, version, err, errlen);
    }
    pthread_mutex_unlock(&r->swap);
    return rc;
}

int registry_pin(Registry *r, const char *name, int version, char *err, size_t errlen)
{
    ModelRef *ref = NULL;
    int rc, cur;
    Model *m = lookup(r, name, version, err, errlen, &rc);
    if (!m)
        return rc;
    if (version < 1) {
        snprintf(err, errlen, "model '%s' has no version %d", name, version);
        return REGISTRY_ENOVERSION;
    }
    pthread_mutex_lock(&r->swap);
    pthread_mutex_lock(&r->lock);
    cur = m->cur ? m->cur->version : 0;
    pthread_mutex_unlock(&r->lock);
    /* Load first: a version that does not load is refused and the pin is
     * left as it was. */
    if (cur != version && !(ref = load_ref(r, name, version, err, errlen))) {
        pthread_mutex_unlock(&r->swap);
        return REGISTRY_ELOAD;
    }
    if (repo_set_pin(r->dir, name, version, err, errlen)) {
        registry_release(ref);
        pthread_mutex_unlock(&r->swap);
        return REGISTRY_EIO;
    }
    refresh(r, m);
    pthread_mutex_lock(&r->lock);
    m->pinned = version;
    pthread_mutex_unlock(&r->lock);
    if (ref)
        install(r, m, ref);
    pthread_mutex_unlock(&r->swap);
    return REGISTRY_OK;
}

int registry_unpin(Registry *r, const char *name, char *err, size_t errlen)
{
    int rc;
    Model *m = lookup(r, name, 0, err, errlen, &rc);
    if (!m)
        return rc;
    pthread_mutex_lock(&r->swap);
    if (repo_set_pin(r->dir, name, 0, err, errlen)) {
        pthread_mutex_unlock(&r->swap);
        return REGISTRY_EIO;
    }
    rc = refresh(r, m) ? REGISTRY_ENOMEM : REGISTRY_OK;
    if (!rc) {
        pthread_mutex_lock(&r->lock);
        m->pinned = 0;
        pthread_mutex_unlock(&r->lock);
        converge(r, m);
    }
    pthread_mutex_unlock(&r->swap);
    return rc;
}

const char *registry_dir(const Registry *r)
{
    return r->dir;
}

void registry_stats(Registry *r, RegistryStats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}

void registry_info_clear(RegistryInfo *info)
{
    if (!info)
        return;
    free(info->versions);
    free(info->states);
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
    int shown = m->cur ? m->cur->version : served_version(m);
    /* The served version's own card, else card.json, else the file's. */
    const char *card = m->card_ver && m->card_ver_v == shown ? m->card_ver
                     : m->card_file ? m->card_file : m->card_net;
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", m->name);
    info->current = m->cur ? m->cur->version : served_version(m);
    info->pinned = m->pinned;
    info->loaded = m->cur ? m->cur->version : 0;
    info->params = m->cur ? net_param_count(m->cur->net) : 0;
    info->nversions = m->nversions;
    info->versions = malloc((size_t)(m->nversions ? m->nversions : 1) * sizeof(int));
    info->states = malloc((size_t)(m->nversions ? m->nversions : 1) * sizeof(int));
    if (!info->versions || !info->states) {
        registry_info_clear(info);
        return REGISTRY_ENOMEM;
    }
    memcpy(info->versions, m->versions, (size_t)m->nversions * sizeof(int));
    memcpy(info->states, m->states, (size_t)m->nversions * sizeof(int));
    /* The error listed: a refused CURRENT, then the last load failure. */
    if (m->pin_error || m->error) {
        const char *a = m->pin_error ? m->pin_error : m->error;
        const char *b = m->pin_error && m->error ? m->error : NULL;
        if (asprintf(&info->error, "%s%s%s", a, b ? "; " : "", b ? b : "") < 0)
            info->error = NULL;
        if (!info->error) {
            registry_info_clear(info);
            return REGISTRY_ENOMEM;
        }
    }
    if (card && !(info->card = strdup(card))) {
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
        rc = snapshot(r->models[i], &infos[i]);
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
    if (!repo_valid_name(name))
        return REGISTRY_EINVAL;
    pthread_mutex_lock(&r->lock);
    m = find(r, name);
    rc = m ? snapshot(m, info) : REGISTRY_ENOENT;
    pthread_mutex_unlock(&r->lock);
    return rc;
}
