/* test_gate.c: training that cannot hurt production (issue 16), against
 * the real server on port 0: the explicit default model, a 404 that lists
 * the models, and (below) names, candidates, the gate and the canary. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/http/server_harness.h"
#include "tests/http/train_util.h"

static const char *const auth_json[] = {"Authorization: Bearer " TRAIN_TOKEN,
                                        "Content-Type: application/json", NULL};

static int start(Harness *h, const char *default_model)
{
    const char *args[] = {"--workers", "2", "--token", TRAIN_TOKEN, "--rescan-ms", "300",
                          "--default-model", default_model, NULL};
    if (harness_start(h, args) || harness_wait_ready(h, 60))
        return -1;
    return 0;
}

static json_t *get_json(const Harness *h, const char *path, long want)
{
    Reply r;
    long st = harness_get(h, path, &r);
    if (st != want)
        print_error("GET %s: %ld, want %ld: %.*s\n", path, st, want, (int)r.len, r.body);
    assert_int_equal(st, want);
    json_t *j = train_json_of(&r);
    reply_free(&r);
    return j;
}

/* POST /stylize?QUERY with a small JPEG; the reply in r. */
static long stylize(const Harness *h, const char *query, Reply *r)
{
    size_t len;
    uint8_t *jpg = harness_jpeg(48, 32, 90, &len);
    char path[256];
    snprintf(path, sizeof path, "/stylize%s%s", *query ? "?" : "", query);
    long st = harness_request(h, "POST", path, "image/jpeg", jpg, len, NULL, r);
    free(jpg);
    return st;
}

static long put_default(const Harness *h, const char *body, const char *const *headers, Reply *r)
{
    return harness_request(h, "PUT", "/models/default", NULL, body, strlen(body), headers, r);
}

static void expect_detail(const Reply *r, const char *part)
{
    json_t *j = train_json_of(r);
    const char *d = json_string_value(json_object_get(j, "detail"));
    if (!d || !strstr(d, part))
        print_error("detail '%s' lacks '%s'\n", d ? d : "(none)", part);
    assert_non_null(d);
    assert_non_null(strstr(d, part));
    json_decref(j);
}

/* The default model is explicit: with several models and no flag and no
 * DEFAULT file there is none (never the first by name); PUT /models/default
 * writes DEFAULT, which a restart reads back; GET /models says which and
 * from where. */
static void test_default_model(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    char v[128], path[400];
    assert_int_equal(start(&h, "tnet"), 0);
    json_t *j = get_json(&h, "/models", 200);
    assert_string_equal(json_string_value(json_object_get(j, "default")), "tnet");
    assert_string_equal(json_string_value(json_object_get(j, "default_from")), "flag");
    json_decref(j);
    assert_int_equal(harness_stop(&h), 0);

    assert_int_equal(harness_start(&h, (const char *[]){"--token", TRAIN_TOKEN, "--default-model",
                                                         "", NULL}), 0);
    j = get_json(&h, "/models/default", 200);
    assert_true(json_is_null(json_object_get(j, "default")));
    assert_string_equal(json_string_value(json_object_get(j, "from")), "none");
    json_decref(j);
    /* No default: a request that names no model is told to name one, and
     * which there are. */
    assert_int_equal(stylize(&h, "", &r), 400);
    expect_detail(&r, "broken, tiny, tnet");
    reply_free(&r);
    assert_int_equal(put_default(&h, "{\"model\":\"tiny\"}", NULL, &r), 401);
    reply_free(&r);
    assert_int_equal(put_default(&h, "{\"model\":\"wave\"}", auth_json, &r), 404);
    expect_detail(&r, "the models are: broken, tiny, tnet");
    reply_free(&r);
    assert_int_equal(put_default(&h, "{\"name\":\"tiny\"}", auth_json, &r), 400);
    reply_free(&r);
    assert_int_equal(put_default(&h, "{\"model\":\"tiny\"}", auth_json, &r), 200);
    reply_free(&r);
    assert_int_equal(stylize(&h, "", &r), 200);
    assert_string_equal(reply_header(&r, "X-Atelier-Model", v, sizeof v), "tiny/v1");
    reply_free(&r);
    snprintf(path, sizeof path, "%s/DEFAULT", h.models);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(v, sizeof v, f));
    fclose(f);
    assert_string_equal(v, "tiny\n");
    harness_signal(&h, SIGTERM);
    assert_int_equal(harness_wait_exit(&h, 30), 0);
    assert_int_equal(harness_restart(&h, (const char *[]){"--default-model", "", NULL}), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    j = get_json(&h, "/models", 200);
    assert_string_equal(json_string_value(json_object_get(j, "default")), "tiny");
    assert_string_equal(json_string_value(json_object_get(j, "default_from")), "file");
    json_decref(j);
    assert_int_equal(harness_stop(&h), 0);
}

/* An unknown model is a 404 that lists the models there are, for
 * /stylize and for GET /models/{name}. */
static void test_unknown_model_lists(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    assert_int_equal(start(&h, "tnet"), 0);
    assert_int_equal(stylize(&h, "model=wave", &r), 404);
    expect_detail(&r, "no model 'wave'; the models are: broken, tiny, tnet");
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models/wave", &r), 404);
    expect_detail(&r, "the models are: broken, tiny, tnet");
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

static void put_file(const Harness *h, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", h->models, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}


/* What the repository holds that no request can reach is listed in GET
 * /models with the reason, and logged once. */
static void test_strays_listed(void **state)
{
    (void)state;
    Harness h;
    char path[512];
    json_t *j = NULL, *ign = NULL;
    assert_int_equal(start(&h, "tnet"), 0);
    put_file(&h, "loose.safetensors", "not here");
    snprintf(path, sizeof path, "%s/wave_ml5", h.models);
    assert_int_equal(mkdir(path, 0755), 0);
    put_file(&h, "wave_ml5/manifest.json", "{}");
    put_file(&h, "tiny/model.safetensors", "x");
    for (double end = harness_now() + 20; harness_now() < end; usleep(100000)) {
        json_decref(j);
        j = get_json(&h, "/models", 200);
        ign = json_object_get(j, "ignored");
        if (json_array_size(ign) == 3)
            break;
    }
    assert_int_equal(json_array_size(ign), 3);
    const char *want[][2] = {{"loose.safetensors", "a loose model file"},
                             {"wave_ml5", "an ml5 checkpoint folder, not imported"},
                             {"tiny/model.safetensors", "not a version"}};
    for (int k = 0; k < 3; k++) {
        int found = 0;
        for (size_t i = 0; i < 3; i++) {
            json_t *e = json_array_get(ign, i);
            found |= !strcmp(json_string_value(json_object_get(e, "path")), want[k][0]) &&
                     strstr(json_string_value(json_object_get(e, "reason")), want[k][1]);
        }
        if (!found)
            print_error("%s (%s) is not listed\n", want[k][0], want[k][1]);
        assert_true(found);
    }
    json_decref(j);
    /* A later scan (the one that finds one more) logs only the new one. */
    put_file(&h, "notes.txt", "hello");
    for (double end = harness_now() + 20; harness_now() < end; usleep(100000)) {
        j = get_json(&h, "/models", 200);
        size_t n = json_array_size(json_object_get(j, "ignored"));
        json_decref(j);
        if (n == 4)
            break;
    }
    assert_int_equal(harness_log_count(&h, "\"path\":\"loose.safetensors\"", NULL), 1);
    assert_int_equal(harness_log_count(&h, "not servable, ignored", NULL), 4);
    assert_int_equal(harness_stop(&h), 0);
}

/* Multipart fields beside the image are parameters, with the query's
 * checks: used, or refused with 400; never ignored. */
static void test_multipart_parameters(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    char v[96];
    size_t len;
    uint8_t *jpeg = harness_jpeg(48, 32, 90, &len);
    Part tiny[] = {{"model", "tiny", 4, NULL, NULL}, {"image", jpeg, len, "p.jpg", "image/jpeg"},
                   {"strength", "0.5", 3, NULL, NULL}};
    Part strong[] = {{"image", jpeg, len, "p.jpg", "image/jpeg"}, {"strength", "2", 1, NULL, NULL}};
    Part typo[] = {{"image", jpeg, len, "p.jpg", "image/jpeg"}, {"modle", "tiny", 4, NULL, NULL}};
    Part v2[] = {{"image", jpeg, len, "p.jpg", "image/jpeg"}, {"version", "2", 1, NULL, NULL}};
    assert_int_equal(start(&h, "tnet"), 0);
    assert_int_equal(harness_post_form(&h, "/stylize", tiny, 3, &r), 200);
    assert_string_equal(reply_header(&r, "X-Atelier-Model", v, sizeof v), "tiny/v1");
    reply_free(&r);
    assert_int_equal(harness_post_form(&h, "/stylize?model=tiny", v2, 2, &r), 200);
    assert_string_equal(reply_header(&r, "X-Atelier-Model", v, sizeof v), "tiny/v2");
    reply_free(&r);
    assert_int_equal(harness_post_form(&h, "/stylize", strong, 2, &r), 400);
    train_expect_problem(&r, 400, "strength");
    expect_detail(&r, "strength must be a number in 0..1, got '2'");
    reply_free(&r);
    assert_int_equal(harness_post_form(&h, "/stylize", typo, 2, &r), 400);
    train_expect_problem(&r, 400, "modle");
    reply_free(&r);
    assert_int_equal(harness_post_form(&h, "/stylize?model=tnet", tiny, 3, &r), 400);
    expect_detail(&r, "model given twice");
    reply_free(&r);
    assert_int_equal(harness_post_form(&h, "/stylize", tiny, 2, &r), 200);   /* no strength */
    reply_free(&r);
    free(jpeg);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- names, cards, candidates and the gate --------------------------------- */

/* The version POST /stylize?QUERY answers with (X-Atelier-Model NAME/vN),
 * or -1 when it does not answer 200. */
static int served_by(const Harness *h, const char *query)
{
    Reply r;
    char v[96];
    const char *slash;
    int version = -1;
    if (stylize(h, query, &r) == 200 && reply_header(&r, "X-Atelier-Model", v, sizeof v) &&
        (slash = strstr(v, "/v")))
        version = atoi(slash + 2);
    reply_free(&r);
    return version;
}

/* POST /train with one style image and eight photos (the trainer holds the
 * 7th out for its previews); the job id in id. */
static void submit(const Harness *h, const char *config, char *id)
{
    Reply r;
    long st = train_submit(h, config, 1, 8, &r);
    if (st != 202)
        print_error("POST /train %s: %ld %.*s\n", config, st, (int)r.len, r.body);
    assert_int_equal(st, 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
}

static const char *card_str(json_t *model, const char *key)
{
    return json_string_value(json_object_get(json_object_get(model, "card"), key));
}

/* A job whose name is a model is refused unless it fine-tunes it (init)
 * or says overwrite; a job publishes no card.json, each version has its
 * own card, so a rollback shows the one of the version served. */
static void test_names_and_cards(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    char id[17];
    const char *args[] = {"--workers", "2", "--token", TRAIN_TOKEN, "--default-model", "tnet",
                          TRAIN_GATE_OPEN, NULL};
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    train_submit(&h, "{\"name\": \"tiny\", \"steps\": 2, \"size\": 32}", 1, 2, &r);
    train_expect_problem(&r, 409, "name");
    expect_detail(&r, "model 'tiny' exists");
    reply_free(&r);
    train_submit(&h, "{\"name\": \"tiny\", \"overwrite\": 1}", 1, 2, &r);
    train_expect_problem(&r, 400, "overwrite");
    reply_free(&r);
    train_submit(&h, "{\"name\": \"tiny\", \"promote\": \"sometimes\"}", 1, 2, &r);
    train_expect_problem(&r, 400, "promote");
    reply_free(&r);
    submit(&h, "{\"name\": \"tiny\", \"overwrite\": true, \"promote\": \"each\", "
               "\"steps\": 2, \"size\": 32, \"checkpoint_every\": 2, \"width\": 4, "
               "\"blocks\": 0, \"style_license\": \"test pattern\"}", id);
    json_t *job = train_wait(&h, id, "succeeded", 120);
    assert_non_null(job);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(job, "promoted")), 3);
    assert_true(json_is_null(json_object_get(job, "estimate_s")));
    json_decref(job);
    /* The next job of that shape is told how long it will take, from the
     * speed the first one measured; the first had nothing to go on. */
    assert_int_equal(train_submit(&h, "{\"name\": \"tiny\", \"overwrite\": true, "
                                      "\"promote\": \"never\", \"steps\": 40, \"size\": 32, "
                                      "\"checkpoint_every\": 40, \"width\": 4, \"blocks\": 0}",
                                  1, 2, &r), 202);
    job = train_json_of(&r);
    reply_free(&r);
    printf("  estimate at submission: %.2f s (%s)\n",
           json_real_value(json_object_get(job, "estimate_s")),
           json_string_value(json_object_get(job, "estimate_from")));
    assert_true(json_real_value(json_object_get(job, "estimate_s")) > 0);
    assert_non_null(strstr(json_string_value(json_object_get(job, "estimate_from")),
                           "steps/s measured at 32x32, batch 1"));
    json_decref(job);
    /* v3, the job's, is served (the pin moved with the promotion) with its
     * own card; card.json, the model's, is untouched. */
    assert_int_equal(served_by(&h, "model=tiny"), 3);
    json_t *m = get_json(&h, "/models/tiny", 200);
    assert_string_equal(card_str(m, "source"), "atelier train");
    assert_string_equal(card_str(m, "license"), "test pattern");
    assert_string_equal(card_str(m, "state"), "promoted");
    json_decref(m);
    char path[400], text[256] = "";
    snprintf(path, sizeof path, "%s/tiny/card.json", h.models);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert_non_null(strstr(text, "\"title\": \"Tiny\""));
    /* Rolled back to v1: v1's card again. */
    assert_int_equal(harness_request(&h, "PUT", "/models/tiny/current", NULL,
                                     "{\"version\": 1}", 14, auth_json, &r), 200);
    reply_free(&r);
    m = get_json(&h, "/models/tiny", 200);
    assert_string_equal(card_str(m, "title"), "Tiny");
    assert_string_equal(card_str(m, "license"), "CC0");
    json_decref(m);
    assert_int_equal(harness_stop(&h), 0);
}

/* The shipped model's newest version file, into <models>/<name>/v1. 0 or
 * -1 (then the test skips: the model is not in this checkout). */
static int copy_shipped(const Harness *h, const char *name)
{
    char from[300], to[400];
    int best = 0;
    DIR *d = opendir("models/starry_night");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int v;
        char tail[32];
        if (sscanf(e->d_name, "v%d.%31s", &v, tail) == 2 && !strcmp(tail, "safetensors") &&
            v > best)
            best = v;
    }
    if (d)
        closedir(d);
    if (!best)
        return -1;
    snprintf(from, sizeof from, "models/starry_night/v%d.safetensors", best);
    snprintf(to, sizeof to, "%s/%s", h->models, name);
    mkdir(to, 0755);
    snprintf(to, sizeof to, "%s/%s/v1.safetensors", h->models, name);
    return harness_copy_file(from, to);
}

/* Starts the server (default gate) serving the shipped model as "a" v1;
 * skips the test when the shipped model is not in this checkout. */
static void serve_a(Harness *h)
{
    const char *args[] = {"--workers", "2", "--token", TRAIN_TOKEN, "--rescan-ms", "300", NULL};
    assert_int_equal(harness_start(h, args), 0);
    if (copy_shipped(h, "a")) {
        harness_stop(h);
        printf("  skipped: models/starry_night is not in this checkout\n");
        skip();
    }
}

/* Polls until ?model=NAME answers with version v; 0, or -1 after seconds. */
static int wait_served(const Harness *h, const char *query, int v, double seconds)
{
    for (double end = harness_now() + seconds; harness_now() < end; usleep(20000))
        if (served_by(h, query) == v)
            return 0;
    return -1;
}

/* The candidate states of GET /models/NAME's versions_detail as a string
 * "1:servable 2:candidate ...". */
static void states_of(const Harness *h, const char *name, char *out, size_t len)
{
    char path[128];
    size_t used = 0;
    snprintf(path, sizeof path, "/models/%s", name);
    json_t *m = get_json(h, path, 200), *d = json_object_get(m, "versions_detail");
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(d) && used < len; i++) {
        json_t *v = json_array_get(d, i);
        used += (size_t)snprintf(out + used, len - used, "%s%lld:%s", i ? " " : "",
                                 (long long)json_integer_value(json_object_get(v, "version")),
                                 json_string_value(json_object_get(v, "state")));
    }
    json_decref(m);
}

/* Polls job id until it ends, asserting at each poll that ?model=a is
 * served by version `served`, never by a candidate; the first time model
 * a's states show `candidate` ("2:candidate"), that version answers when
 * asked for by number. Returns the finished job (caller decrefs). */
static json_t *watch_job(const Harness *h, const char *id, int served, const char *candidate,
                         int *polls)
{
    char states[256];
    int seen = 0;
    *polls = 0;
    for (;;) {
        json_t *job = train_get(h, id);
        assert_non_null(job);
        const char *st = json_string_value(json_object_get(job, "state"));
        if (strcmp(st, "queued") && strcmp(st, "running"))
            return job;
        json_decref(job);
        int now = served_by(h, "model=a");
        if (now != served) {
            /* Only the promotion as the job ends may change it: the job
             * then ends having promoted that very version. */
            json_t *end = train_wait(h, id, "succeeded", 60);
            assert_non_null(end);
            assert_int_equal(json_integer_value(json_object_get(end, "promoted")), now);
            return end;
        }
        ++*polls;
        if (candidate && !seen) {
            states_of(h, "a", states, sizeof states);
            if ((seen = strstr(states, candidate) != NULL))
                assert_int_equal(served_by(h, "model=a&version=2"), 2);
        }
        usleep(50000);
    }
}

#define A_RECIPE "\"size\": 64, \"width\": 32, \"blocks\": 4, \"style_loss\": \"swd\", " \
                 "\"style_scale\": [0.15, 0.4], \"style_depth\": 5, \"w_content\": 40, "  \
                 "\"content_pool\": 4, \"w_structure\": 5, \"w_adv\": 0.3, "             \
                 "\"style_levels\": [1, 0.5, 0.5, 1, 1, 1]"

/* The scenario of issue 16: serving A; a job named A refused; a fine-tune
 * of A with promote on_success whose candidates are never served while it
 * runs and are promoted at success after passing the gate; a broken job
 * (a learning rate that explodes) whose candidates all fail the gate, are
 * never served, and say why. The gate runs with its default thresholds. */
static void test_candidates_and_gate(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    char id[17], states[256], q[64];
    serve_a(&h);
    assert_int_equal(wait_served(&h, "model=a", 1, 30), 0);        /* serving A */
    train_submit(&h, "{\"name\": \"a\", \"steps\": 2}", 1, 2, &r);
    train_expect_problem(&r, 409, "name");
    reply_free(&r);

    /* The fine-tune: two candidates, promoted at success. */
    submit(&h, "{\"name\": \"a\", \"init\": \"a\", \"promote\": \"on_success\", "
               "\"steps\": 8, \"checkpoint_every\": 4, \"lr\": 0.0001, " A_RECIPE "}", id);
    int polls = 0;
    json_t *job = watch_job(&h, id, 1, "2:candidate", &polls);
    states_of(&h, "a", states, sizeof states);
    printf("  fine-tune: %d polls while running; %s\n", polls, states);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
    json_t *cands = json_object_get(job, "candidates");
    assert_int_equal(json_array_size(cands), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *c = json_array_get(cands, i);
        if (!json_is_true(json_object_get(c, "passed")))
            print_error("v%lld refused: %s\n", (long long)json_integer_value(json_object_get(c, "version")),
                        json_string_value(json_object_get(c, "reasons")));
        assert_true(json_is_true(json_object_get(c, "passed")));
    }
    assert_int_equal(json_integer_value(json_object_get(job, "promoted")), 3);
    json_decref(job);
    assert_int_equal(served_by(&h, "model=a"), 3);
    states_of(&h, "a", states, sizeof states);
    assert_string_equal(states, "1:servable 2:candidate 3:promoted");
    /* Its scores in GET /models/a: the card and the version list. */
    json_t *m = get_json(&h, "/models/a", 200);
    json_t *gate = json_object_get(json_object_get(m, "card"), "gate");
    assert_true(json_is_true(json_object_get(gate, "passed")));
    assert_true(json_real_value(json_object_get(json_object_get(gate, "scores"), "edges")) > 0.4);
    assert_non_null(json_object_get(json_object_get(gate, "served"), "style"));
    /* The stroke distance and mid, of the candidate and of what was served,
     * and the strokes' slack (its default). */
    json_t *scores = json_object_get(gate, "scores"), *was = json_object_get(gate, "served");
    printf("  v3: strokes %.4f (served %.4f, photos' %.4f), mid %.4f\n",
           json_real_value(json_object_get(scores, "strokes")),
           json_real_value(json_object_get(was, "strokes")),
           json_real_value(json_object_get(scores, "photo_strokes")),
           json_real_value(json_object_get(scores, "mid")));
    assert_true(json_real_value(json_object_get(scores, "strokes")) > 0);
    assert_true(json_real_value(json_object_get(was, "strokes")) > 0);
    assert_true(json_real_value(json_object_get(scores, "photo_strokes")) > 0);
    assert_true(json_real_value(json_object_get(scores, "mid")) > 0);
    assert_true(json_real_value(json_object_get(json_object_get(gate, "thresholds"),
                                                "strokes_slack")) == 0.3);
    json_t *v3 = json_array_get(json_object_get(m, "versions_detail"), 2);
    assert_string_equal(json_string_value(json_object_get(v3, "preview")),
                        "/models/a/versions/3/preview");
    json_decref(m);
    assert_int_equal(harness_get(&h, "/models/a/versions/3/preview", &r), 200);
    assert_true(r.len > 100 && r.body[0] == 0xFF && r.body[1] == 0xD8);
    reply_free(&r);

    /* The broken job: a learning rate that explodes. */
    submit(&h, "{\"name\": \"a\", \"init\": \"a\", \"promote\": \"best\", "
               "\"steps\": 8, \"checkpoint_every\": 4, \"lr\": 0.1, " A_RECIPE "}", id);
    job = watch_job(&h, id, 3, NULL, &polls);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
    assert_true(json_is_null(json_object_get(job, "promoted")));
    cands = json_object_get(job, "candidates");
    assert_int_equal(json_array_size(cands), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *c = json_array_get(cands, i);
        const char *why = json_string_value(json_object_get(c, "reasons"));
        printf("  broken v%lld refused: %s\n",
               (long long)json_integer_value(json_object_get(c, "version")), why);
        assert_string_equal(json_string_value(json_object_get(c, "state")), "refused");
        assert_false(json_is_true(json_object_get(c, "passed")));
        assert_non_null(strstr(why, "edge correlation"));
    }
    json_decref(job);
    assert_int_equal(served_by(&h, "model=a"), 3);
    states_of(&h, "a", states, sizeof states);
    assert_string_equal(states, "1:servable 2:candidate 3:promoted 4:refused 5:refused");
    /* Still reachable by number, for a look. */
    snprintf(q, sizeof q, "model=a&version=%d", 5);
    assert_int_equal(served_by(&h, q), 5);
    assert_int_equal(harness_stop(&h), 0);
}

/* A canary at 0.2: while it runs, 500 requests for ?model=a are answered
 * by the candidate within the expected share, each saying which version
 * answered; per-version counts in /metrics; then it is promoted. */
static void test_canary(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    char id[17], v[96];
    serve_a(&h);
    assert_int_equal(wait_served(&h, "model=a", 1, 30), 0);
    submit(&h, "{\"name\": \"a\", \"init\": \"a\", \"canary\": 0.2, \"canary_requests\": 100, "
               "\"steps\": 4, \"checkpoint_every\": 4, \"lr\": 0.0001, " A_RECIPE "}", id);
    json_t *job = NULL;
    for (double end = harness_now() + 120; harness_now() < end; usleep(50000)) {
        json_decref(job);
        job = train_get(&h, id);
        if (json_is_object(json_object_get(job, "canary")))
            break;
        assert_string_not_equal(json_string_value(json_object_get(job, "state")), "failed");
    }
    assert_true(json_is_object(json_object_get(job, "canary")));
    int cv = (int)json_integer_value(json_object_get(json_object_get(job, "canary"), "version"));
    json_decref(job);
    assert_int_equal(cv, 2);
    int by[3] = {0, 0, 0}, other = 0;
    for (int i = 0; i < 500; i++) {
        const char *slash;
        assert_int_equal(stylize(&h, "model=a", &r), 200);
        assert_non_null(reply_header(&r, "X-Atelier-Model", v, sizeof v));
        slash = strstr(v, "/v");
        int n = slash ? atoi(slash + 2) : 0;
        if (n == 1 || n == 2)
            by[n]++;
        else
            other++;
        reply_free(&r);
    }
    printf("  canary 0.2: %d of 500 by v2 (the canary), %d by v1\n", by[2], by[1]);
    assert_int_equal(other, 0);
    assert_in_range(by[2], 90, 110);             /* 0.2 x 500 = 100 */
    job = train_wait(&h, id, "succeeded", 60);
    assert_non_null(job);
    json_t *c = json_object_get(job, "canary");
    assert_string_equal(json_string_value(json_object_get(c, "outcome")), "promoted");
    assert_int_equal(json_integer_value(json_object_get(c, "served")), 100);
    assert_int_equal(json_integer_value(json_object_get(job, "promoted")), 2);
    json_decref(job);
    assert_int_equal(served_by(&h, "model=a"), 2);
    assert_int_equal(harness_get(&h, "/metrics", &r), 200);
    assert_non_null(strstr((char *)r.body, "atelier_model_requests_total{model=\"a\",version=\"2\"}"));
    assert_non_null(strstr((char *)r.body, "atelier_model_failures_total{model=\"a\",version=\"1\"} 0"));
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

/* --cors-origin: a listed origin's preflight is answered with the route's
 * methods and the headers a page may send; its requests, errors too, carry
 * Access-Control-Allow-Origin and the exposed headers; any other origin,
 * and a server without the flag, get none of it. */
static void test_cors(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    char v[256];
    size_t len;
    uint8_t *jpeg = harness_jpeg(48, 32, 90, &len);
    const char *pre[] = {"Origin: https://studio.example", "Access-Control-Request-Method: POST",
                         "Access-Control-Request-Headers: content-type", NULL};
    const char *ours[] = {"Origin: https://studio.example", NULL};
    const char *evil[] = {"Origin: https://evil.example", "Access-Control-Request-Method: POST",
                          NULL};
    const char *args[] = {"--cors-origin", "https://other.example, https://studio.example",
                          NULL};
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);     /* the POSTs below need tiny loaded */
    assert_int_equal(harness_request(&h, "OPTIONS", "/stylize", NULL, NULL, 0, pre, &r), 204);
    assert_string_equal(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v),
                        "https://studio.example");
    assert_string_equal(reply_header(&r, "Access-Control-Allow-Methods", v, sizeof v), "POST");
    assert_non_null(strstr(reply_header(&r, "Access-Control-Allow-Headers", v, sizeof v),
                           "Authorization"));
    reply_free(&r);
    assert_int_equal(harness_request(&h, "POST", "/stylize?model=tiny", "image/jpeg", jpeg, len,
                                     ours, &r), 200);
    assert_string_equal(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v),
                        "https://studio.example");
    assert_non_null(strstr(reply_header(&r, "Access-Control-Expose-Headers", v, sizeof v),
                           "X-Atelier-Model"));
    reply_free(&r);
    assert_int_equal(harness_request(&h, "POST", "/stylize?model=wave", "image/jpeg", jpeg, len,
                                     ours, &r), 404);
    assert_non_null(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    reply_free(&r);
    assert_int_equal(harness_request(&h, "OPTIONS", "/stylize", NULL, NULL, 0, evil, &r), 405);
    assert_null(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
    assert_int_equal(harness_start(&h, NULL), 0);          /* off by default */
    assert_int_equal(harness_request(&h, "OPTIONS", "/stylize", NULL, NULL, 0, pre, &r), 405);
    assert_null(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
    free(jpeg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_model),
        cmocka_unit_test(test_unknown_model_lists),
        cmocka_unit_test(test_multipart_parameters),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_strays_listed),
        cmocka_unit_test(test_names_and_cards),
        cmocka_unit_test(test_candidates_and_gate),
        cmocka_unit_test(test_canary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
