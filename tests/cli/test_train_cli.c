/* test_train_cli.c: `atelier train` through the real binary on a tiny
 * synthetic data set: checkpoints as versions with card and preview,
 * --resume (bit for bit, with the sliced Wasserstein style loss's random
 * state), fine-tuning with --init, a clean stop on SIGINT, serving the
 * result, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <jansson.h>
#include "engine/image.h"
#include "engine/safetensors.h"
#include "tests/engine/util.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/atelier-train-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char path[256];
    snprintf(path, sizeof(path), "%s/photos", tmpdir);
    if (mkdir(path, 0755))
        return -1;
    for (int i = 0; i < 6; i++) {
        int w = 72 + 8 * i, h = 64 + 4 * i;
        Image *img = image_new(w, h);
        if (!img)
            return -1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = img->px + ((size_t)y * w + x) * 3;
                p[0] = (uint8_t)(x * 255 / w);
                p[1] = (uint8_t)(y * 255 / h);
                p[2] = (uint8_t)((x * (i + 1) ^ y) & 0xff);
            }
        snprintf(path, sizeof(path), "%s/photos/p%d.%s", tmpdir, i, i % 2 ? "png" : "jpg");
        if (image_save_file(img, path, 90)) {
            image_free(img);
            return -1;
        }
        if (i == 0) {
            snprintf(path, sizeof(path), "%s/style.jpg", tmpdir);
            if (image_save_file(img, path, 90)) {
                image_free(img);
                return -1;
            }
        }
        image_free(img);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

__attribute__((format(printf, 2, 3)))
static int run(char **out, const char *fmt, ...)
{
    char args[2048], cmd[2600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s %s", tu_atelier(), args);
    int rc = tu_run(cmd, out);
    printf("  $ atelier %s -> %d\n", args, rc);
    return rc;
}

/* Whether tmpdir/rel exists. */
static int exists(const char *rel)
{
    char path[256];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    return stat(path, &sb) == 0;
}

#define TINY "--style %s/style.jpg --content %s/photos --models %s/models --size 32 " \
             "--width 4 --ndf 4 --threads 1 --holdout 3 --log-every 1"

/* Fails when a string anywhere in the JSON text names an absolute path
 * (starts with '/', or holds a word " /..." or "=/..." as a command does). */
static void walk_no_absolute(const json_t *v, const char *where)
{
    const char *key;
    json_t *x;
    size_t i;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (s[0] == '/' || strstr(s, " /") || strstr(s, "=/")) {
            print_error("%s names an absolute path: %s\n", where, s);
            fail();
        }
    }
    json_object_foreach((json_t *)v, key, x)
        walk_no_absolute(x, where);
    json_array_foreach(v, i, x)
        walk_no_absolute(x, where);
}

static void assert_no_absolute_path(const char *text, const char *where)
{
    json_t *card = json_loads(text, 0, NULL);
    assert_non_null(card);
    walk_no_absolute(card, where);
    json_decref(card);
}

/* Whether the relative path rel (from the current directory) and
 * tmpdir/sub are the same file. */
static int same_file(const char *rel, const char *sub)
{
    char path[256];
    struct stat a, b;
    snprintf(path, sizeof(path), "%s/%s", tmpdir, sub);
    return !stat(rel, &a) && !stat(path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The models that ship: neither card.json nor any version's own card names
 * the machine it was trained on (the shipped cards are read by users). */
static void test_shipped_cards(void **state)
{
    (void)state;
    DIR *d = opendir("models");
    struct dirent *e;
    int cards = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        char dir[512], path[1024], err[256];
        if (e->d_name[0] == '.')
            continue;
        snprintf(dir, sizeof(dir), "models/%s", e->d_name);
        DIR *m = opendir(dir);
        struct dirent *f;
        if (!m)
            continue;
        while ((f = readdir(m))) {
            size_t n = strlen(f->d_name);
            snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
            if (!strcmp(f->d_name, "card.json")) {
                FILE *cf = fopen(path, "r");
                assert_non_null(cf);
                json_t *card = json_loadf(cf, 0, NULL);
                fclose(cf);
                assert_non_null(card);
                walk_no_absolute(card, path);
                json_decref(card);
                cards++;
            } else if (n > 12 && !strcmp(f->d_name + n - 12, ".safetensors")) {
                SafeTensors *st = st_load_file(path, err, sizeof(err));
                assert_non_null(st);
                if (st_meta(st, "atelier.card")) {
                    assert_no_absolute_path(st_meta(st, "atelier.card"), path);
                    cards++;
                }
                st_free(st);
            }
        }
        closedir(m);
    }
    closedir(d);
    printf("  %d shipped cards checked\n", cards);
    assert_true(cards > 0);
}

static void test_train_resume_serve(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run(&out, "train " TINY " --name tiny --steps 2 --checkpoint-every 1",
                         tmpdir, tmpdir, tmpdir), 0);
    assert_non_null(strstr(out, "step      2/2"));
    assert_non_null(strstr(out, "checkpoint v2"));
    free(out);
    assert_true(exists("models/tiny/v1.safetensors"));
    assert_true(exists("models/tiny/v2.safetensors"));
    assert_true(exists("models/tiny/v2.preview.jpg"));
    assert_true(exists("models/tiny/card.json"));
    assert_true(exists("models/tiny/.train/state.safetensors"));
    assert_int_equal(run(&out, "train " TINY " --name tiny --steps 3 --checkpoint-every 10 "
                         "--resume", tmpdir, tmpdir, tmpdir), 0);
    assert_non_null(strstr(out, "step      3/3"));
    free(out);
    assert_true(exists("models/tiny/v3.safetensors"));
    char path[256];
    snprintf(path, sizeof(path), "%s/models/tiny/card.json", tmpdir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char card[4096] = "";
    size_t n = fread(card, 1, sizeof(card) - 1, f);
    card[n] = '\0';
    fclose(f);
    assert_non_null(strstr(card, "\"steps\": 3"));
    assert_non_null(strstr(card, "--resume"));
    /* The data and the command were given as /tmp/... paths: the card
     * names them from the current directory, where they are found, and
     * the version's own card (its metadata) does the same. */
    assert_no_absolute_path(card, "card.json");
    json_t *cj = json_loads(card, 0, NULL);
    json_t *tr = json_object_get(cj, "training");
    const char *content = json_string_value(json_object_get(tr, "content"));
    const char *style = json_string_value(json_array_get(json_object_get(tr, "styles"), 0));
    assert_non_null(content);
    assert_non_null(style);
    assert_true(same_file(content, "photos"));
    assert_true(same_file(style, "style.jpg"));
    json_decref(cj);
    char err[256];
    snprintf(path, sizeof(path), "%s/models/tiny/v3.safetensors", tmpdir);
    SafeTensors *st = st_load_file(path, err, sizeof(err));
    assert_non_null(st);
    assert_non_null(st_meta(st, "atelier.card"));
    assert_no_absolute_path(st_meta(st, "atelier.card"), "v3's metadata card");
    st_free(st);
    /* The checkpoint serves. */
    assert_int_equal(run(&out, "stylize --models %s/models --model tiny %s/photos/p1.png "
                         "%s/out.png", tmpdir, tmpdir, tmpdir), 0);
    free(out);
    assert_true(exists("out.png"));
}

/* The whole card.json of model NAME (a new string). */
static char *read_card(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/models/%s/card.json", tmpdir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *card = calloc(1, 16384);
    size_t n = card ? fread(card, 1, 16383, f) : 0;
    (void)n;
    fclose(f);
    return card;
}

/* Number of tensors of a and b that differ in any byte, or -1. */
static int tensors_differ(const char *a, const char *b)
{
    char pa[256], pb[256], err[256];
    snprintf(pa, sizeof(pa), "%s/models/%s", tmpdir, a);
    snprintf(pb, sizeof(pb), "%s/models/%s", tmpdir, b);
    SafeTensors *x = st_load_file(pa, err, sizeof(err)), *y = st_load_file(pb, err, sizeof(err));
    int diff = -1;
    if (x && y && st_count(x) == st_count(y)) {
        diff = 0;
        for (int i = 0; i < st_count(x); i++) {
            const StTensor *t = st_tensor(x, i), *u = st_find(y, t->name);
            if (!u || u->nbytes != t->nbytes || memcmp(u->data, t->data, t->nbytes))
                diff++;
        }
    }
    st_free(x);
    st_free(y);
    return diff;
}

/* Four steps as model `once` in one go, and as `twice` in two plus two
 * resumed, with opts (which checkpoint every 2 steps and keep the rates
 * constant): the same weights; and the steps did change them. */
static void assert_resume_exact(const char *once, const char *twice, const char *opts)
{
    char *out, a[64], b[64];
    assert_int_equal(run(&out, "train " TINY " --name %s --steps 4 %s", tmpdir, tmpdir, tmpdir,
                         once, opts), 0);
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name %s --steps 2 %s", tmpdir, tmpdir, tmpdir,
                         twice, opts), 0);
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name %s --steps 4 %s --resume", tmpdir,
                         tmpdir, tmpdir, twice, opts), 0);
    free(out);
    snprintf(a, sizeof(a), "%s/v2.safetensors", once);
    snprintf(b, sizeof(b), "%s/v2.safetensors", twice);
    assert_int_equal(tensors_differ(a, b), 0);
    snprintf(b, sizeof(b), "%s/v1.safetensors", once);
    assert_true(tensors_differ(b, a) > 0);
}

/* Four steps in one go and two plus two resumed give the same weights, with
 * the SWD style loss (its directions come from a random state the
 * checkpoint keeps) and a zoomed style scale; then a fine-tune from that
 * model records where it started. */
static void test_swd_resume_and_init(void **state)
{
    (void)state;
    char *out;
    const char *opts = "--style-loss swd --style-scale 0.3,0.5 --w-style 2 --checkpoint-every 2 "
                       "--decay-from 1 "   /* the same rates whatever --steps says */
                       "--style-depth 5 --style-levels 1,0,0.5,1,1,2";
    assert_resume_exact("once", "twice", opts);
    char *card = read_card("once");
    assert_non_null(card);
    assert_non_null(strstr(card, "\"style_loss\": \"swd\""));
    assert_non_null(strstr(card, "\"style_scale\": [\n        0.3,\n        0.5\n      ]"));
    assert_non_null(strstr(card, "\"style_depth\": 5"));
    assert_non_null(strstr(card, "\"style_levels\": [\n        1.0,\n        0.0,\n        0.5,"));
    free(card);
    /* Resuming with another extractor depth is refused: its style target
     * does not fit. (Given: size 32's default depth is the run's 5.) */
    assert_int_equal(run(&out, "train " TINY " --name twice --steps 6 --style-loss swd "
                         "--style-scale 0.3,0.5 --style-depth 4 --resume", tmpdir, tmpdir,
                         tmpdir), 1);
    assert_non_null(strstr(out, "style target"));
    free(out);
    /* Fine-tune: G from once/v2, the card says so and keeps its command. */
    char init[200];
    snprintf(init, sizeof(init), "%s/models/once/v2.safetensors", tmpdir);
    assert_int_equal(run(&out, "train " TINY " --name fine --steps 1 --init %s "
                         "--w-structure 0.5 --structure-depth 2", tmpdir, tmpdir, tmpdir, init), 0);
    free(out);
    card = read_card("fine");
    assert_non_null(card);
    assert_non_null(strstr(card, "\"init_from\""));
    assert_non_null(strstr(card, "\"total_steps\": 5"));   /* 4 of once's, 1 of its own */
    assert_non_null(strstr(card, "--name once"));
    assert_non_null(strstr(card, "--name fine"));
    assert_non_null(strstr(card, "\"w_structure\": 0.5,"));
    assert_non_null(strstr(card, "\"structure_depth\": 2,"));
    free(card);
    /* A model of other generator options is refused. */
    assert_int_equal(run(&out, "train " TINY " --name wide --steps 1 --width 8 --init %s",
                         tmpdir, tmpdir, tmpdir, init), 1);
    assert_non_null(strstr(out, "not a generator with these architecture options"));
    free(out);
}

/* The Gabor style loss, the Gaussian content and the discriminator's
 * augmentation: four steps in one go and
 * two plus two resumed give the same weights (its target and directions
 * are in the state); the card records both; a state saved without the
 * Gabor term does not resume with it. */
static void test_gabor_resume(void **state)
{
    (void)state;
    char *out;
    const char *opts = "--style-loss swd --checkpoint-every 2 --decay-from 1 --w-gabor 0.5 "
                       "--gabor-levels 1,2,0.5 --content-filter gauss --content-pool 8 "
                       "--d-augment translation,cutout";
    assert_resume_exact("gonce", "gtwice", opts);
    char *card = read_card("gonce");
    assert_non_null(card);
    assert_non_null(strstr(card, "\"content_filter\": \"gauss\""));
    assert_non_null(strstr(card, "\"w_gabor\": 0.5"));
    assert_non_null(strstr(card, "\"gabor_levels\": [\n        1.0,\n        2.0,\n        0.5\n"
                                 "      ]"));
    assert_non_null(strstr(card, "\"d_augment\": \"translation,cutout\""));
    free(card);
    assert_int_equal(run(&out, "train " TINY " --name gplain --steps 2 --style-loss swd",
                         tmpdir, tmpdir, tmpdir), 0);
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name gplain --steps 4 --style-loss swd "
                         "--w-gabor 0.5 --gabor-levels 1,2,0.5 --resume", tmpdir, tmpdir, tmpdir),
                     1);
    assert_non_null(strstr(out, "no gabor target"));
    free(out);
}

/* --preset: its values where none is given, wherever it stands on the
 * line (a setting before it still overrides it); an unknown one refused. */
static void test_preset(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run(&out, "train " TINY " --name pre --steps 1 --w-adv 0.5 --size 64 "
                         "--pre starry_night", tmpdir, tmpdir, tmpdir), 0);
    free(out);
    char *card = read_card("pre");
    assert_non_null(card);
    assert_non_null(strstr(card, "\"style_depth\": 6"));
    assert_non_null(strstr(card, "\"w_structure\": 5.0"));
    assert_non_null(strstr(card, "\"w_adv\": 0.5"));
    assert_non_null(strstr(card, "\"size\": 64"));
    free(card);
    assert_int_equal(run(&out, "train " TINY " --name x --preset nope", tmpdir, tmpdir, tmpdir),
                     2);
    assert_non_null(strstr(out, "bad value 'nope' for --preset: must be one of: starry_night"));
    free(out);
}

static void test_sigint_checkpoints(void **state)
{
    (void)state;
    char cmd[3000], *out;
    snprintf(cmd, sizeof(cmd),
             "sh -c '%s train " TINY " --name stop --steps 1000000 --checkpoint-every 0 "
             "2>%s/log & pid=$!; i=0; while ! grep -q \"^step\" %s/log && [ $i -lt 600 ]; "
             "do sleep 0.1; i=$((i+1)); done; kill -INT $pid; wait $pid; echo rc=$?; cat %s/log'",
             tu_atelier(), tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
    assert_int_equal(tu_run(cmd, &out), 0);
    printf("%s", out);
    assert_non_null(strstr(out, "rc=0"));
    assert_non_null(strstr(out, "stopped by signal"));
    free(out);
    assert_true(exists("models/stop/v1.safetensors"));
}

static void test_refusals(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run(&out, "train --content %s/photos --name x", tmpdir), 2);
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name 'Bad Name'", tmpdir, tmpdir, tmpdir), 2);
    free(out);
    /* Settings that do not go together are refused before anything starts. */
    assert_int_equal(run(&out, "train " TINY " --name x --size 34", tmpdir, tmpdir, tmpdir), 2);
    assert_non_null(strstr(out, "--size must be a multiple of 4"));
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name never --resume", tmpdir, tmpdir, tmpdir), 1);
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name x --style-scale 0.6,0.2", tmpdir, tmpdir,
                         tmpdir), 2);
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name x --style-loss vgg", tmpdir, tmpdir,
                         tmpdir), 2);
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name x --style-depth 7", tmpdir, tmpdir,
                         tmpdir), 2);
    assert_non_null(strstr(out, "bad value '7' for --style-depth"));
    free(out);
    /* Size 32 (TINY): the default depth is 5, its 6 levels. */
    assert_int_equal(run(&out, "train " TINY " --name x --style-levels 1,1", tmpdir, tmpdir,
                         tmpdir), 2);
    assert_non_null(strstr(out, "needs 6 weights"));
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name x --style-depth 6 --size 32", tmpdir,
                         tmpdir, tmpdir), 2);
    assert_non_null(strstr(out, "--style-depth must leave the last stage 2 pixels"));
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name x --gabor-levels 1,1,1,1,1,1,1", tmpdir,
                         tmpdir, tmpdir), 2);
    assert_non_null(strstr(out, "bad value '1,1,1,1,1,1,1' for --gabor-levels"));
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name x --d-augment flip", tmpdir, tmpdir,
                         tmpdir), 2);
    assert_non_null(strstr(out, "--d-augment"));
    free(out);
    assert_int_equal(run(&out, "train " TINY " --name x --content-filter median", tmpdir,
                         tmpdir, tmpdir), 2);
    assert_non_null(strstr(out, "--content-filter"));
    free(out);
    /* 32 pixels do not halve three times to the filters' 6. */
    assert_int_equal(run(&out, "train " TINY " --name x --w-gabor 1", tmpdir, tmpdir, tmpdir), 2);
    assert_non_null(strstr(out, "halve 3 times exactly to at least 6"));
    free(out);
    assert_int_equal(run(&out, "train --style %s/none.jpg --content %s/photos --name x "
                         "--models %s/models", tmpdir, tmpdir, tmpdir), 1);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_cards),
        cmocka_unit_test(test_train_resume_serve),
        cmocka_unit_test(test_swd_resume_and_init),
        cmocka_unit_test(test_gabor_resume),
        cmocka_unit_test(test_preset),
        cmocka_unit_test(test_sigint_checkpoints),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
