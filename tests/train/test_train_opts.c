/* test_train_opts.c: engine/train/train_opts.c, the table of training settings:
 * defaults, the command line's text and a job's JSON set the same fields,
 * the job profile's stricter limits, the rules between settings, the
 * round trip through JSON, and openapi.yaml's TrainConfig listing exactly
 * the keys a job may send (the table's TOPT_JOB rows and the job's own
 * name, init and init_version), with the table's defaults. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/diffaug.h"
#include "engine/train/train_opts.h"

static void defaults_and_derived(void **state)
{
    TrainConfig c;
    char err[256];
    train_opts_defaults(&c);
    assert_int_equal(c.steps, 5000);
    assert_int_equal(c.size, 256);
    assert_int_equal(c.style_kind, STYLE_SWD);
    assert_int_equal(c.resize_conv, 1);
    assert_int_equal(c.d_scales, 1);
    assert_true(c.style_lo == 0.15f && c.style_hi == 0.4f);
    assert_int_equal(train_opts_finish(&c, TRAIN_PROFILE_CLI, NULL, err, sizeof err), 0);
    assert_int_equal(c.width, 32);
    assert_int_equal(c.blocks, 4);
    assert_true(c.lr_d == c.lr_g);
    assert_int_equal(c.checkpoint_every, 500);
    /* The architecture's own defaults; a short run checkpoints at its end. */
    train_opts_defaults(&c);
    assert_int_equal(train_opts_set_text(&c, train_opts_find("arch"), "resnet9",
                                         TRAIN_PROFILE_CLI, err, sizeof err), 0);
    assert_int_equal(train_opts_set_text(&c, train_opts_find("steps"), "40",
                                         TRAIN_PROFILE_CLI, err, sizeof err), 0);
    assert_int_equal(train_opts_set_text(&c, train_opts_find("lr"), "1e-3",
                                         TRAIN_PROFILE_CLI, err, sizeof err), 0);
    assert_int_equal(train_opts_finish(&c, TRAIN_PROFILE_CLI, NULL, err, sizeof err), 0);
    assert_int_equal(c.width, 64);
    assert_int_equal(c.blocks, 9);
    assert_true(c.lr_d == 1e-3f);
    assert_int_equal(c.checkpoint_every, 40);
}

/* Read back from a job's JSON, a config naming nothing but its model (the
 * job's own key, skipped here as the server does) is the recipe that made
 * the shipped model (models/starry_night/card.json's command); at size 32
 * the style depth, given neither, is the deepest that size allows. */
static void job_defaults_are_the_shipped_recipe(void **state)
{
    static const char *const own[] = { "name", NULL };
    static const float levels[] = { 1, 0.5f, 0.5f, 1, 1, 1, 1 };
    TrainConfig c;
    char err[256], field[64];
    json_t *j = json_loads("{\"name\": \"mine\"}", 0, NULL);
    train_opts_defaults(&c);
    assert_int_equal(train_opts_from_json(&c, j, TRAIN_PROFILE_JOB, own, field, sizeof field,
                                          err, sizeof err), 0);
    assert_int_equal(train_opts_finish(&c, TRAIN_PROFILE_JOB, NULL, err, sizeof err), 0);
    assert_int_equal(c.size, 256);
    assert_int_equal(c.blocks, 4);
    assert_int_equal(c.steps, 5000);
    assert_int_equal(c.style_kind, STYLE_SWD);
    assert_true(c.style_lo == 0.15f && c.style_hi == 0.4f);
    assert_int_equal(c.style_depth, 6);
    for (int l = 0; l <= 6; l++)
        assert_true(c.style_levels[l] == levels[l]);
    assert_true(c.w_content == 40.0f && c.w_structure == 5.0f && c.w_adv == 0.3f);
    assert_int_equal(c.content_pool, 4);
    /* The card says the same: 7 level weights. */
    json_t *card = train_opts_to_json(&c, TOPT_CARD);
    assert_int_equal(json_integer_value(json_object_get(card, "style_depth")), 6);
    assert_int_equal(json_array_size(json_object_get(card, "style_levels")), 7);
    json_decref(card);
    json_decref(j);

    /* Size 32: 32 / 2^(6 - 1) is 1 pixel, so depth 5 (2 pixels) and its 6
     * level weights; the rest of the recipe unchanged. */
    j = json_loads("{\"name\": \"mine\", \"size\": 32, \"steps\": 20}", 0, NULL);
    train_opts_defaults(&c);
    assert_int_equal(train_opts_from_json(&c, j, TRAIN_PROFILE_JOB, own, field, sizeof field,
                                          err, sizeof err), 0);
    assert_int_equal(train_opts_finish(&c, TRAIN_PROFILE_JOB, NULL, err, sizeof err), 0);
    assert_int_equal(c.style_depth, 5);
    assert_int_equal(32 >> (c.style_depth - 1), 2);
    assert_int_equal(c.structure_depth, 3);
    assert_int_equal(c.content_pool, 4);
    assert_int_equal(c.checkpoint_every, 20);
    card = train_opts_to_json(&c, TOPT_CARD);
    assert_int_equal(json_array_size(json_object_get(card, "style_levels")), 6);
    json_decref(card);
    json_decref(j);

    /* An explicit depth is still checked strictly against the size, and
     * the level weights given against the depth, derived or not. */
    static const char *const bad[][2] = {
        { "{\"size\": 32, \"style_depth\": 6}", "style_depth" },
        { "{\"size\": 32, \"style_levels\": [1, 1, 1, 1, 1, 1, 1]}", "style_levels" },
    };
    for (int i = 0; i < 2; i++) {
        const TrainOpt *row = NULL;
        j = json_loads(bad[i][0], 0, NULL);
        train_opts_defaults(&c);
        assert_int_equal(train_opts_from_json(&c, j, TRAIN_PROFILE_JOB, NULL, field,
                                              sizeof field, err, sizeof err), 0);
        assert_int_equal(train_opts_finish(&c, TRAIN_PROFILE_JOB, &row, err, sizeof err), -1);
        assert_string_equal(row->name, bad[i][1]);
        json_decref(j);
    }
}

static void text_and_json_agree(void **state)
{
    TrainConfig a, b;
    char err[256], field[64];
    static const char *const flags[][2] = {
        { "style-depth", "5" }, { "style-levels", "1,0,0.5,1,1,2" }, { "style-scale", "0.3,0.5" },
        { "style-loss", "swd" }, { "w-structure", "2" }, { "multiscale", NULL },
        { "gan", "hinge" }, { "seed", "11" }, { "w-content", "40" },
    };
    train_opts_defaults(&a);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        const TrainOpt *o = train_opts_find(flags[i][0]);
        assert_non_null(o);
        assert_int_equal(train_opts_set_text(&a, o, flags[i][1], TRAIN_PROFILE_CLI, err,
                                             sizeof err), 0);
    }
    assert_int_equal(train_opts_finish(&a, TRAIN_PROFILE_CLI, NULL, err, sizeof err), 0);
    json_t *j = train_opts_to_json(&a, TOPT_CLI | TOPT_CARD);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "style_loss")), "swd");
    assert_true(json_is_true(json_object_get(j, "multiscale")));
    assert_int_equal(json_array_size(json_object_get(j, "style_levels")), 6);
    assert_true(json_real_value(json_object_get(j, "lr")) == 0.0002);   /* shortest decimal */
    train_opts_defaults(&b);
    assert_int_equal(train_opts_from_json(&b, j, TRAIN_PROFILE_CLI, NULL, field, sizeof field,
                                          err, sizeof err), 0);
    assert_int_equal(train_opts_finish(&b, TRAIN_PROFILE_CLI, NULL, err, sizeof err), 0);
    json_t *k = train_opts_to_json(&b, TOPT_CLI | TOPT_CARD);
    assert_true(json_equal(j, k));
    assert_int_equal(b.d_scales, 2);
    assert_int_equal(b.gan, GAN_HINGE);
    assert_true(b.style_levels[2] == 0.5f && b.style_hi == 0.5f);
    json_decref(j);
    json_decref(k);
}

static void job_profile(void **state)
{
    static const struct {
        const char *json, *field;
    } bad[] = {
        { "{\"size\": 2048}", "size" },           /* the trainer takes it; a job may not */
        { "{\"batch\": 17}", "batch" },
        { "{\"arch\": \"resnet9\"}", "arch" },    /* not a job's setting */
        { "{\"holdout\": 3}", "holdout" },
        { "{\"size\": 66}", "size" },
        { "{\"size\": 32, \"style_depth\": 6}", "style_depth" },
        { "{\"content_pool\": 3}", "content_pool" },
        { "{\"style_levels\": [1, 1]}", "style_levels" },
        { "{\"steps\": 10, \"checkpoint_every\": 11}", "checkpoint_every" },
        { "{\"style_scale\": [0.6, 0.2]}", "style_scale" },
        { "{\"style_loss\": \"vgg\"}", "style_loss" },
        { "{\"lr\": 0}", "lr" },
        { "{\"d_augment\": \"flip\"}", "d_augment" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TrainConfig c;
        char err[256] = "", field[64] = "";
        const TrainOpt *row = NULL;
        json_t *j = json_loads(bad[i].json, 0, NULL);
        train_opts_defaults(&c);
        int rc = train_opts_from_json(&c, j, TRAIN_PROFILE_JOB, NULL, field, sizeof field, err,
                                      sizeof err);
        if (!rc) {
            rc = train_opts_finish(&c, TRAIN_PROFILE_JOB, &row, err, sizeof err);
            if (row)
                snprintf(field, sizeof field, "%s", row->name);
        }
        printf("%s -> %s\n", bad[i].json, err);
        assert_int_equal(rc, -1);
        assert_string_equal(field, bad[i].field);
        assert_non_null(strstr(err, bad[i].field));
        json_decref(j);
    }
    /* The same size is the trainer's to take on the command line. */
    TrainConfig c;
    char err[256], field[64];
    train_opts_defaults(&c);
    assert_int_equal(train_opts_set_text(&c, train_opts_find("size"), "2048", TRAIN_PROFILE_CLI,
                                         err, sizeof err), 0);
    assert_int_equal(train_opts_finish(&c, TRAIN_PROFILE_CLI, NULL, err, sizeof err), 0);
    /* DiffAugment is a job's setting too (a preset may carry it). */
    json_t *j = json_loads("{\"d_augment\": \"translation,cutout\"}", 0, NULL);
    train_opts_defaults(&c);
    assert_int_equal(train_opts_from_json(&c, j, TRAIN_PROFILE_JOB, NULL, field, sizeof field,
                                          err, sizeof err), 0);
    assert_int_equal(c.d_augment, DIFFAUG_TRANSLATION | DIFFAUG_CUTOUT);
    assert_int_equal(train_opts_finish(&c, TRAIN_PROFILE_JOB, NULL, err, sizeof err), 0);
    json_decref(j);
    j = train_opts_to_json(&c, TOPT_JOB);
    assert_string_equal(json_string_value(json_object_get(j, "d_augment")), "translation,cutout");
    json_decref(j);
}

/* The keys (8 spaces in) of openapi.yaml's TrainConfig properties, with
 * their `default:` text ("" when none). */
static int openapi_keys(char keys[][64], char defs[][64], int max)
{
    FILE *f = fopen("openapi.yaml", "r");
    char line[512];
    int in = 0, props = 0, n = 0;
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        size_t ind = strspn(line, " ");
        if (!strcmp(line, "    TrainConfig:\n")) {
            in = 1;
            continue;
        }
        if (!in)
            continue;
        if (ind <= 4 && line[ind] != '\n')
            break;
        if (ind == 6)
            props = !strcmp(line + 6, "properties:\n");
        else if (props && ind == 8 && n < max) {
            sscanf(line + 8, "%63[a-z_0-9]", keys[n]);
            defs[n++][0] = '\0';
        } else if (props && ind == 10 && n && !strncmp(line + 10, "default: ", 9)) {
            sscanf(line + 19, "%63[^\n]", defs[n - 1]);
        }
    }
    fclose(f);
    return n;
}

static void openapi_lists_the_table(void **state)
{
    char keys[64][64], defs[64][64];
    int n = openapi_keys(keys, defs, 64), nt, want = 4;   /* + name, init, init_version, preset */
    const TrainOpt *t = train_opts_table(&nt);
    assert_true(n > 10);
    for (int i = 0; i < n; i++) {
        const TrainOpt *o = train_opts_find(keys[i]);
        int own = !strcmp(keys[i], "name") || !strcmp(keys[i], "init") ||
                  !strcmp(keys[i], "init_version") || !strcmp(keys[i], "preset");
        if (!own && (!o || strcmp(o->name, keys[i]) || !(o->where & TOPT_JOB)))
            fail_msg("openapi.yaml's TrainConfig has '%s', which is not a job's setting in "
                     "the table (engine/train/train_opts.c)", keys[i]);
        /* A default written there is the table's. */
        if (!own && defs[i][0] && o->def && o->type != TOPT_PAIR && o->type != TOPT_STRING &&
            strtod(defs[i], NULL) != strtod(o->def, NULL) &&
            strcmp(defs[i], o->def))
            fail_msg("openapi.yaml says %s defaults to %s, the table %s", keys[i], defs[i],
                     o->def);
    }
    for (int i = 0; i < nt; i++) {
        int found = 0;
        if (!(t[i].where & TOPT_JOB))
            continue;
        want++;
        for (int k = 0; k < n; k++)
            found |= !strcmp(keys[k], t[i].name);
        if (!found)
            fail_msg("the table's job setting '%s' is missing from openapi.yaml's TrainConfig",
                     t[i].name);
    }
    assert_int_equal(n, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_derived),
        cmocka_unit_test(job_defaults_are_the_shipped_recipe),
        cmocka_unit_test(text_and_json_agree),
        cmocka_unit_test(job_profile),
        cmocka_unit_test(openapi_lists_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
