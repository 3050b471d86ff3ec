/* test_train_presets.c: engine/train/train_presets.c: every preset's values are
 * valid settings a job may give (so a job's stored config carries the whole
 * recipe), applying one sets them and leaves the rest at their defaults, an
 * unknown name is refused with the list, and a preset named after a shipped
 * model is that model's recipe: each of its values is in the command its
 * card records. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

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
        for (int k = 0; p[i].values[k].key; k++) {
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
    assert_int_equal(train_preset_apply(&c, "starry_night", TRAIN_PROFILE_CLI, err, sizeof err), 0);
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
    train_opts_defaults(&c);
    assert_int_equal(train_preset_apply(&c, "nope", TRAIN_PROFILE_CLI, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "must be one of: starry_night"));
    assert_memory_equal(&c, &d, sizeof c);   /* a refused name changes nothing */
}

/* A preset named after a model in models/ is the recipe its card records. */
static void shipped_recipes(void **state)
{
    (void)state;
    int n, checked = 0;
    const TrainPreset *p = train_presets(&n);
    for (int i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, "models/%s/card.json", p[i].name);
        json_t *card = json_load_file(path, 0, NULL);
        if (!card)
            continue;
        const char *cmd = json_string_value(json_object_get(json_object_get(card, "training"),
                                                            "command"));
        assert_non_null(cmd);
        for (int k = 0; p[i].values[k].key; k++) {
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_are_job_settings),
        cmocka_unit_test(apply_and_refuse),
        cmocka_unit_test(shipped_recipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
