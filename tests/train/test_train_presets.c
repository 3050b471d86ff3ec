/* test_train_presets.c: engine/train/train_presets.c: every preset's values are
 * valid settings a job may give (so a job's stored config carries the whole
 * recipe), applying one sets them and leaves the rest at their defaults, an
 * unknown name is refused with the list, and a preset named after a shipped
 * model is that model's recipe: each of its values is in the command its
 * card records (card.json, else the card inside the version it serves). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "engine/net.h"
#include "engine/repo.h"
#include "engine/train/train_presets.h"

static void values_are_job_settings(void **state)
{
    (void)state;
    int n;
    const TrainPreset *p = train_presets(&n);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        TrainConfig c;
        char err[256];
        train_opts_defaults(&c);
        for (int k = 0; k < train_preset_count(&p[i]); k++) {
            const TrainOpt *o = train_opts_find(p[i].values[k].key);
            if (!o || !(o->where & TOPT_JOB))
                fail_msg("preset %s: '%s' is not a setting a job may give", p[i].name,
                         p[i].values[k].key);
            if (train_opts_set_text(&c, o, p[i].values[k].value, TRAIN_PROFILE_JOB, err,
                                    sizeof err))
                fail_msg("preset %s: %s %s", p[i].name, o->name, err);
        }
        assert_int_equal(train_preset_apply(&c, p[i].name, TRAIN_PROFILE_JOB, err, sizeof err), 0);
        if (train_opts_finish(&c, TRAIN_PROFILE_JOB, NULL, err, sizeof err))
            fail_msg("preset %s: %s", p[i].name, err);
    }
}

static void apply_and_refuse(void **state)
{
    (void)state;
    TrainConfig c, d;
    char err[256];
    train_opts_defaults(&c);
    train_opts_defaults(&d);
    assert_int_equal(train_preset_apply(&c, "palette", TRAIN_PROFILE_CLI, err, sizeof err), 0);
    assert_int_equal(c.blocks, 4);
    assert_int_equal(c.style_kind, STYLE_SWD);
    assert_int_equal(c.style_depth, 6);
    assert_true(c.style_lo == 0.15f && c.style_hi == 0.4f);
    assert_true(c.style_levels[1] == 0.5f && c.style_levels[6] == 1.0f);
    assert_true(c.w_content == 40 && c.w_structure == 5 && c.w_adv == 0.3f);
    assert_int_equal(c.content_pool, 4);
    /* What it does not name stays as it was. */
    assert_int_equal(c.size, d.size);
    assert_int_equal(c.steps, d.steps);
    assert_true(c.w_gabor == d.w_gabor);
    /* The gallery's recipe: v22's terms, the Gabor bank, the Gaussian content at 8. */
    train_opts_defaults(&c);
    assert_int_equal(train_preset_apply(&c, "starry_night", TRAIN_PROFILE_CLI, err, sizeof err), 0);
    assert_true(c.w_gabor == 1 && c.w_structure == 5 && c.w_content == 40);
    assert_int_equal(c.content_pool, 8);
    assert_int_equal(c.content_gauss, 1);
    assert_true(c.style_lo == 0.15f && c.style_hi == 0.4f);
    train_opts_defaults(&c);
    assert_int_equal(train_preset_apply(&c, "the_scream", TRAIN_PROFILE_CLI, err, sizeof err), 0);
    assert_true(c.style_lo == 0.2f && c.style_hi == 0.5f && c.w_gabor == 1);
    train_opts_defaults(&c);
    assert_int_equal(train_preset_apply(&c, "nope", TRAIN_PROFILE_CLI, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "must be one of: starry_night, the_scream, composition_vii, "
                               "woman_with_a_hat, the_kiss, palette"));
    assert_memory_equal(&c, &d, sizeof c);   /* a refused name changes nothing */
}

/* The card models/NAME serves: its card.json, else the one inside the
 * version it serves (engine/repo.h); NULL when models/ has no such model.
 * What it was read from in path. */
static json_t *served_card(const char *name, char *path, size_t len)
{
    char err[256];
    snprintf(path, len, "models/%s/card.json", name);
    json_t *card = json_load_file(path, 0, NULL);
    int v = card ? 0 : repo_current_version("models", name);
    if (card || v <= 0 || repo_version_path("models", name, v, path, len))
        return card;
    Net *net = net_load(path, err, sizeof err);
    if (!net)
        fail_msg("%s: %s", path, err);
    card = json_loads(net_card_json(net), 0, NULL);
    net_free(net);
    return card;
}

/* A preset named after a model in models/ is the recipe its card records. */
static void shipped_recipes(void **state)
{
    (void)state;
    int n, checked = 0;
    const TrainPreset *p = train_presets(&n);
    for (int i = 0; i < n; i++) {
        char path[256];
        json_t *card = served_card(p[i].name, path, sizeof path);
        if (!card)
            continue;
        const char *cmd = json_string_value(json_object_get(json_object_get(card, "training"),
                                                            "command"));
        assert_non_null(cmd);
        for (int k = 0; k < train_preset_count(&p[i]); k++) {
            char want[128];
            int len = snprintf(want, sizeof want, "--%s %s", p[i].values[k].key,
                               p[i].values[k].value);
            for (int j = 2; j < len && want[j] != ' '; j++)
                if (want[j] == '_')
                    want[j] = '-';
            if (!strstr(cmd, want))
                fail_msg("preset %s has %s, which %s's command does not", p[i].name, want, path);
        }
        checked++;
        json_decref(card);
    }
    printf("  %d preset(s) checked against their model's card\n", checked);
    assert_true(checked >= 1);
}

/* Every setting a style recipe of issue 18 turns (the session-5 gallery
 * runs' flags, and the loosened content and DiffAugment of the trials) is
 * one a preset may carry, and all of them fit in one preset. */
static void recipe_settings_fit_a_preset(void **state)
{
    (void)state;
    static const char *const recipe[] = {
        "blocks", "size", "style_loss", "style_scale", "style_depth", "style_levels",
        "w_content", "content_pool", "content_filter", "w_structure", "structure_depth",
        "w_adv", "w_gabor", "gabor_levels", "d_augment",
    };
    int n = (int)(sizeof recipe / sizeof recipe[0]);
    for (int i = 0; i < n; i++) {
        const TrainOpt *o = train_opts_find(recipe[i]);
        if (!o || !(o->where & TOPT_JOB))
            fail_msg("'%s' is not a setting a preset may carry", recipe[i]);
    }
    assert_true(n <= TRAIN_PRESET_MAX_VALUES);
}

/* openapi.yaml's TrainConfig.preset enum names exactly the presets, in
 * order (a new preset must be documented where POST /train is). */
static void openapi_lists_the_presets(void **state)
{
    (void)state;
    FILE *f = fopen("openapi.yaml", "r");
    char line[512], want[512] = "", got[512] = "";
    int in_preset = 0, n;
    size_t used = 0;
    const TrainPreset *p = train_presets(&n);
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", i ? ", " : "",
                                 p[i].name);
    while (fgets(line, sizeof line, f)) {
        if (!strcmp(line, "        preset:\n"))
            in_preset = 1;
        else if (in_preset && sscanf(line, "          enum: [%511[^]]]", got) == 1)
            break;
    }
    fclose(f);
    printf("  openapi.yaml: [%s]\n", got);
    assert_string_equal(got, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_are_job_settings),
        cmocka_unit_test(apply_and_refuse),
        cmocka_unit_test(shipped_recipes),
        cmocka_unit_test(recipe_settings_fit_a_preset),
        cmocka_unit_test(openapi_lists_the_presets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
