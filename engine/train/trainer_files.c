/* trainer_files.c: what the trainer reads and writes (trainer_int.h): the
 * resumable state, the model an --init run starts from and the lineage its
 * card keeps, and checkpoints: a new version, its card and its preview,
 * each written atomically. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <jansson.h>
#include "engine/image.h"
#include "engine/relpath.h"
#include "engine/repo.h"
#include "engine/safetensors.h"
#include "engine/train/train_opts.h"
#include "engine/train/trainer_int.h"
#include "engine/util.h"

/* ---- state -------------------------------------------------------------------- */

static int state_path(const Trainer *t, char *out, size_t len, int mkdirs)
{
    if (mkdirs && repo_make_dirs(t->models_dir, t->name, 1))
        return -1;
    return repo_path(t->models_dir, t->name, REPO_STATE, 0, out, len);
}

/* The commands of this training so far: the earlier runs' (from the state
 * we resumed) and this one's, as a JSON array. New string or NULL. */
static char *commands_json(const Trainer *t)
{
    json_t *a = t->history ? json_loads(t->history, 0, NULL) : NULL;
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    json_array_append_new(a, json_string(t->command));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* A style loss's target (n floats, borrowed) as <kind>.target and its
 * random state as <kind>_rng. 0 or -1. */
static int add_target(StWriter *w, const char *kind, const float *tg, size_t n, uint64_t rng)
{
    char name[32], num[32];
    int64_t shape[1] = { (int64_t)n };
    snprintf(name, sizeof(name), "%s.target", kind);
    snprintf(num, sizeof(num), "%" PRIu64, rng);
    int rc = stw_add(w, name, ST_F32, 1, shape, tg);
    snprintf(name, sizeof(name), "%s_rng", kind);
    return rc | stw_meta(w, name, num);
}

int trainer_write_state(Trainer *t, char *err, size_t errlen)
{
    char path[4200], num[64];
    if (state_path(t, path, sizeof(path), 1)) {
        util_errf(err, errlen, "%s/%s: cannot create the model folder", t->models_dir, t->name);
        return -1;
    }
    StWriter *w = stw_new();
    if (!w)
        return -1;
    int rc = 0;
    static const TnetBlock blocks[3] = { TNET_PARAMS, TNET_ADAM_M, TNET_ADAM_V };
    static const char *gp[3] = { "G.", "G.m.", "G.v." }, *dp[3] = { "D.", "D.m.", "D.v." };
    for (int i = 0; i < 3; i++)
        rc |= tnet_add_tensors(t->g, w, gp[i], blocks[i]) |
              tnet_add_tensors(t->d, w, dp[i], blocks[i]);
    rc |= tnet_add_tensors(t->d, w, "D.", TNET_SN_U);
    if (t->d2) {
        static const char *d2p[3] = { "D2.", "D2.m.", "D2.v." };
        for (int i = 0; i < 3; i++)
            rc |= tnet_add_tensors(t->d2, w, d2p[i], blocks[i]);
        rc |= tnet_add_tensors(t->d2, w, "D2.", TNET_SN_U);
    }
    if (t->style) {
        size_t n;
        float *tg = style_target(t->style, &n);
        rc |= add_target(w, "style", tg, n, *style_rng(t->style));
    }
    if (t->gabor) {
        size_t n;
        float *tg = gabor_target(t->gabor, &n);
        rc |= add_target(w, "gabor", tg, n, *gabor_rng(t->gabor));
    }
    snprintf(num, sizeof(num), "%" PRId64, t->step);
    rc |= stw_meta(w, "step", num);
    snprintf(num, sizeof(num), "%" PRIu64, t->rng.s);
    rc |= stw_meta(w, "rng", num);
    snprintf(num, sizeof(num), "%.3f", t->elapsed);
    rc |= stw_meta(w, "elapsed", num);
    rc |= stw_meta(w, "gspec", t->gspec) | stw_meta(w, "dspec", t->dspec);
    char *hist = commands_json(t);
    rc |= !hist || stw_meta(w, "commands", hist);
    free(hist);
    if (t->init_from)
        rc |= stw_meta(w, "init_from", t->init_from);
    if (rc)
        util_errf(err, errlen, "cannot assemble the training state");
    else
        rc = stw_write_file(w, path, err, errlen);
    stw_free(w);
    return rc ? -1 : 0;
}

/* A style loss's target (<kind>.target, n floats) and random state
 * (<kind>_rng) from a state file. 0, or -1 with a message. */
static int read_target(const SafeTensors *st, const char *kind, float *tg, size_t n,
                       uint64_t *rng, const char *path, char *err, size_t errlen)
{
    char name[32];
    snprintf(name, sizeof(name), "%s.target", kind);
    const StTensor *s = st_find(st, name);
    if (!s || s->dtype != ST_F32 || s->nbytes != n * sizeof(float)) {
        util_errf(err, errlen, "%s: no %s target of the right size (saved with other "
                       "style options?)", path, kind);
        return -1;
    }
    memcpy(tg, s->data, n * sizeof(float));
    snprintf(name, sizeof(name), "%s_rng", kind);
    const char *r = st_meta(st, name);
    if (r)
        *rng = strtoull(r, NULL, 10);
    return 0;
}

int trainer_read_state(Trainer *t, char *err, size_t errlen)
{
    char path[4200];
    if (state_path(t, path, sizeof(path), 0)) {
        util_errf(err, errlen, "%s/%s: path too long", t->models_dir, t->name);
        return -1;
    }
    SafeTensors *st = st_load_file(path, err, errlen);
    if (!st)
        return -1;
    int rc = -1;
    const char *gs = st_meta(st, "gspec"), *ds = st_meta(st, "dspec");
    const char *step = st_meta(st, "step"), *rng = st_meta(st, "rng");
    const char *el = st_meta(st, "elapsed");
    if (!gs || !ds || strcmp(gs, t->gspec) || strcmp(ds, t->dspec)) {
        util_errf(err, errlen, "%s: saved with other architecture options", path);
        goto done;
    }
    if (!step || !rng || !el) {
        util_errf(err, errlen, "%s: no step/rng/elapsed metadata", path);
        goto done;
    }
    static const TnetBlock blocks[3] = { TNET_PARAMS, TNET_ADAM_M, TNET_ADAM_V };
    static const char *gp[3] = { "G.", "G.m.", "G.v." }, *dp[3] = { "D.", "D.m.", "D.v." };
    for (int i = 0; i < 3; i++)
        if (tnet_load_tensors(t->g, st, gp[i], blocks[i], err, errlen) ||
            tnet_load_tensors(t->d, st, dp[i], blocks[i], err, errlen))
            goto done;
    if (tnet_load_tensors(t->d, st, "D.", TNET_SN_U, err, errlen))
        goto done;
    if (t->d2) {
        static const char *d2p[3] = { "D2.", "D2.m.", "D2.v." };
        for (int i = 0; i < 3; i++)
            if (tnet_load_tensors(t->d2, st, d2p[i], blocks[i], err, errlen))
                goto done;
        if (tnet_load_tensors(t->d2, st, "D2.", TNET_SN_U, err, errlen))
            goto done;
    }
    if (t->style) {
        size_t n;
        float *tg = style_target(t->style, &n);
        if (read_target(st, "style", tg, n, style_rng(t->style), path, err, errlen))
            goto done;
    }
    if (t->gabor) {
        size_t n;
        float *tg = gabor_target(t->gabor, &n);
        if (read_target(st, "gabor", tg, n, gabor_rng(t->gabor), path, err, errlen))
            goto done;
    }
    const char *hist = st_meta(st, "commands");
    if (hist && !(t->history = strdup(hist))) {
        util_errf(err, errlen, "out of memory");
        goto done;
    }
    const char *from = st_meta(st, "init_from");
    if (from && !(t->init_from = strdup(from))) {
        util_errf(err, errlen, "out of memory");
        goto done;
    }
    t->step = strtoll(step, NULL, 10);
    t->rng.s = strtoull(rng, NULL, 10);
    t->elapsed = strtod(el, NULL);
    rc = 0;
done:
    st_free(st);
    return rc;
}

/* Remembers where G started (the file, and the steps, wall time and
 * commands its card records) so this run's cards tell the whole lineage:
 * the earlier commands lead this run's in "commands". */
static int init_lineage(Trainer *t, const char *path, const char *card_text, char *err,
                        size_t errlen)
{
    json_t *card = card_text ? json_loads(card_text, 0, NULL) : NULL;
    json_t *tr = json_object_get(card, "training");
    json_t *from = json_pack("{s:s}", "file", path);
    int rc = -1;
    if (!from)
        goto done;
    if (json_is_object(tr)) {
        json_t *cmds = json_object_get(tr, "commands");
        /* The whole lineage's figures when the model has them (it was itself
         * fine-tuned), else its own. */
        json_t *steps = json_object_get(tr, "total_steps"), *wall = json_object_get(tr,
                                                                             "total_wall_time_s");
        json_object_set(from, "steps", steps ? steps : json_object_get(tr, "steps"));
        json_object_set(from, "wall_time_s", wall ? wall : json_object_get(tr, "wall_time_s"));
        if (json_is_array(cmds) && !(t->history = json_dumps(cmds, JSON_COMPACT)))
            goto done;
    }
    t->init_from = json_dumps(from, JSON_COMPACT);
    rc = t->init_from ? 0 : -1;
done:
    if (rc)
        util_errf(err, errlen, "out of memory");
    json_decref(from);
    json_decref(card);
    return rc;
}

/* Starts G from the weights of a model this trainer wrote (fine-tuning):
 * the same generator spec is required. */
int trainer_read_init(Trainer *t, const char *path, char *err, size_t errlen)
{
    SafeTensors *st = st_load_file(path, err, errlen);
    const char *spec;
    int rc;
    if (!st)
        return -1;
    spec = st_meta(st, "atelier.spec");
    if (!spec || strcmp(spec, t->gspec)) {
        util_errf(err, errlen, "%s: not a generator with these architecture options", path);
        st_free(st);
        return -1;
    }
    rc = tnet_load_tensors(t->g, st, "", TNET_PARAMS, err, errlen);
    if (!rc)
        rc = init_lineage(t, path, st_meta(st, "atelier.card"), err, errlen);
    st_free(st);
    return rc ? -1 : 0;
}


/* ---- checkpoints -------------------------------------------------------------- */

/* A data path as a card names it: relative to the current directory (the
 * repository root when run from there), never the machine's own folders;
 * its last word when even that cannot be had. */
static json_t *card_path(const char *p)
{
    char rel[4096];
    const char *slash = strrchr(p, '/');
    return json_string(!relpath_cwd(p, rel, sizeof rel) ? rel : slash ? slash + 1 : p);
}

static char *card_json(const Trainer *t, int version)
{
    const TrainConfig *c = &t->cfg;
    char *hist = commands_json(t);
    json_t *cmds = hist ? json_loads(hist, 0, NULL) : NULL;
    free(hist);
    if (!cmds)
        cmds = json_array();
    json_t *styles = json_array();
    for (int i = 0; i < c->nstyles; i++)
        json_array_append_new(styles, card_path(c->styles[i]));
    /* The settings, as the table writes them: the keys of a POST /train
     * config and the flags of atelier train. */
    json_t *config = train_opts_to_json(c, TOPT_CARD);
    json_t *card = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:f, s:s, s:o, s:o, s:o, s:i, s:o}}",
        "name", t->name, "title", *t->style_title ? t->style_title : t->name,
        "style", *t->style_title ? t->style_title : "",
        "description", "Trained from scratch by atelier train (GAN + content + random-feature "
                       "style losses).",
        "source", "atelier train", "license", t->style_license,
        "training", "steps", (json_int_t)t->step, "wall_time_s", t->elapsed,
        "command", t->command, "commands", cmds, "content", card_path(t->content_dir),
        "styles", styles,
        "version", version, "config", config);
    if (!card)
        return NULL;
    json_t *tr = json_object_get(card, "training");
    if (t->init_from) {
        json_t *from = json_loads(t->init_from, 0, NULL);
        json_t *steps = json_object_get(from, "steps"), *wall = json_object_get(from, "wall_time_s");
        if (json_is_integer(steps))
            json_object_set_new(tr, "total_steps",
                                json_integer(json_integer_value(steps) + (json_int_t)t->step));
        if (json_is_number(wall))
            json_object_set_new(tr, "total_wall_time_s",
                                json_real(json_number_value(wall) + t->elapsed));
        json_object_set_new(tr, "init_from", from);
    }
    char *s = json_dumps(card, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(card);
    return s;
}

/* Held-out photos over their stylisation, through the inference engine
 * (which also proves the checkpoint serves). */
static int write_preview(const Trainer *t, const char *path)
{
    int n = tdata_holdout_count(t->data);
    if (n > PREVIEW_N)
        n = PREVIEW_N;
    if (n < 1)
        return 0;
    const int S = PREVIEW_SIZE;
    size_t per = (size_t)3 * S * S;
    NetPlan *plan = net_plan(tnet_net(t->g), S, S, t->threads);
    float *buf = malloc(2 * per * sizeof(float));
    Image *sheet = image_new(n * S, 2 * S), *tile = image_new(S, S);
    int rc = -1;
    if (!plan || !buf || !sheet || !tile)
        goto done;
    for (int i = 0; i < n; i++) {
        if (tdata_holdout_square(t->data, i, S, buf) ||
            net_forward(tnet_net(t->g), plan, buf, buf + per))
            goto done;
        for (int row = 0; row < 2; row++) {
            image_from_planar(tile, buf + (size_t)row * per);
            for (int y = 0; y < S; y++)
                memcpy(sheet->px + ((size_t)(row * S + y) * sheet->w + (size_t)i * S) * 3,
                       tile->px + (size_t)y * S * 3, (size_t)S * 3);
        }
    }
    rc = image_save_file(sheet, path, 88);
done:
    net_plan_free(plan);
    free(buf);
    image_free(sheet);
    image_free(tile);
    return rc ? -1 : 0;
}

/* The card as the files hold it: indented; with "state": "candidate" when
 * the version is a candidate (a new string, or NULL). */
static char *card_file_text(const char *card, int candidate)
{
    json_t *cj = json_loads(card, 0, NULL);
    char *text;
    if (cj && candidate)
        json_object_set_new(cj, "state", json_string(repo_state_name(REPO_CANDIDATE)));
    text = cj ? json_dumps(cj, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(cj);
    return text;
}

/* Writes vN.card.json (before the version, so a candidate is never seen
 * without its state), vN.safetensors, the preview, the model's card.json
 * (not for a candidate: the served version's card stays) and the
 * resumable state. Returns the version, or -1. */
int trainer_checkpoint(Trainer *t, char *path, size_t pathlen, char *err, size_t errlen)
{
    if (trainer_write_state(t, err, errlen))
        return -1;
    int v = repo_next_version(t->models_dir, t->name);
    char *card = card_json(t, v), *pretty = NULL;
    char prev[4200];
    StWriter *w = stw_new();
    int rc = -1;
    if (!card || !w || tnet_add_tensors(t->g, w, "", TNET_PARAMS) ||
        stw_meta(w, "atelier.spec", t->gspec) || stw_meta(w, "atelier.card", card) ||
        !(pretty = card_file_text(card, t->cfg.candidate))) {
        util_errf(err, errlen, "cannot assemble the checkpoint");
        goto done;
    }
    if (v < 1 || repo_path(t->models_dir, t->name, REPO_VERSION, v, path, pathlen)) {
        util_errf(err, errlen, "checkpoint path too long");
        goto done;
    }
    if (repo_write_version_card(t->models_dir, t->name, v, pretty, err, errlen))
        goto done;
    if (stw_write_file(w, path, err, errlen)) {
        if (!repo_path(t->models_dir, t->name, REPO_VERSION_CARD, v, prev, sizeof prev))
            unlink(prev);           /* no card left for a version that is not there */
        goto done;
    }
    if (!repo_path(t->models_dir, t->name, REPO_PREVIEW, v, prev, sizeof(prev)))
        write_preview(t, prev);
    free(pretty);
    pretty = t->cfg.candidate ? NULL : card_file_text(card, 0);
    if (!t->cfg.candidate &&
        (!pretty || repo_path(t->models_dir, t->name, REPO_CARD, 0, prev, sizeof(prev)) ||
         util_write_atomic(prev, pretty, strlen(pretty), NULL, 0))) {
        util_errf(err, errlen, "%s: cannot write the card", prev);
        goto done;
    }
    rc = v;
done:
    free(card);
    free(pretty);
    stw_free(w);
    return rc;
}
