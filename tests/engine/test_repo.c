/* test_repo.c: engine/repo.c, the repository layout's owner: the one
 * version-name parser, paths, the next version, the CURRENT pin and the
 * sweep of a killed writer's temporary files; and util.c's temporary-name
 * rule, which the sweep relies on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/repo.h"
#include "engine/util.h"
#include "tests/engine/st_fixture.h"

static void touch(const char *dir, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    assert_int_equal(util_write_atomic(p, "x", 1, NULL, 0), 0);
}

static int exists(const char *dir, const char *rel)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return stat(p, &st) == 0;
}

static void version_names(void **state)
{
    assert_int_equal(repo_parse_version("v1.safetensors"), 1);
    assert_int_equal(repo_parse_version("v22.safetensors"), 22);
    assert_int_equal(repo_parse_version("v1000000.safetensors"), REPO_MAX_VERSION);
    /* Not versions: a leading zero, zero, too large, other suffixes, temporaries. */
    assert_int_equal(repo_parse_version("v01.safetensors"), 0);
    assert_int_equal(repo_parse_version("v0.safetensors"), 0);
    assert_int_equal(repo_parse_version("v1000001.safetensors"), 0);
    assert_int_equal(repo_parse_version("v3.safetensors.tmp"), 0);
    assert_int_equal(repo_parse_version("v3.preview.jpg"), 0);
    assert_int_equal(repo_parse_version(".v3.safetensors.tmpAbC123"), 0);
    assert_int_equal(repo_parse_version("V3.safetensors"), 0);
    assert_true(repo_is_served_file("CURRENT"));
    assert_true(repo_is_served_file("card.json"));
    assert_true(repo_is_served_file("v7.safetensors"));
    assert_true(repo_is_served_file("v7.card.json"));
    assert_false(repo_is_served_file("v07.card.json"));
    assert_false(repo_is_served_file("v7.preview.jpg"));
    assert_false(repo_is_served_file(".card.json.tmpAbC123"));
    /* A version's card follows the version's rule: 1..REPO_MAX_VERSION. */
    assert_true(repo_is_served_file("v1000000.card.json"));
    assert_false(repo_is_served_file("v1000001.card.json"));
    assert_false(repo_is_served_file("v4294967303.card.json"));
}

static void paths(void **state)
{
    char p[256];
    assert_int_equal(repo_path("/m", "wave", REPO_VERSION, 3, p, sizeof p), 0);
    assert_string_equal(p, "/m/wave/v3.safetensors");
    assert_int_equal(repo_path("/m", "wave", REPO_PREVIEW, 3, p, sizeof p), 0);
    assert_string_equal(p, "/m/wave/v3.preview.jpg");
    assert_int_equal(repo_path("/m", "wave", REPO_VERSION_CARD, 3, p, sizeof p), 0);
    assert_string_equal(p, "/m/wave/v3.card.json");
    assert_int_equal(repo_path("/m", "wave", REPO_STATE, 0, p, sizeof p), 0);
    assert_string_equal(p, "/m/wave/.train/state.safetensors");
    assert_int_equal(repo_path("/m", "wave", REPO_MODEL_DIR, 0, p, sizeof p), 0);
    assert_string_equal(p, "/m/wave");
    assert_int_equal(repo_path("/m", "wave", REPO_CARD, 0, p, sizeof p), 0);
    assert_string_equal(p, "/m/wave/card.json");
    assert_int_equal(repo_path("/m", "../x", REPO_CARD, 0, p, sizeof p), -1);
    assert_int_equal(repo_path("/m", "wave", REPO_VERSION, 0, p, sizeof p), -1);
    assert_int_equal(repo_path("/m", "wave", REPO_VERSION, 3, p, 10), -1);
}

static void next_version_and_pin(void **state)
{
    char *dir = stfix_tmpdir();
    assert_int_equal(repo_next_version(dir, "wave"), 1);
    assert_int_equal(repo_make_dirs(dir, "wave", 1), 0);
    assert_true(exists(dir, "wave/.train"));
    assert_int_equal(repo_next_version(dir, "wave"), 1);
    /* v01 is no version: the trainer once counted it, the registry never served it. */
    touch(dir, "wave/v01.safetensors");
    touch(dir, "wave/v2.safetensors");
    touch(dir, "wave/v9.preview.jpg");
    assert_int_equal(repo_next_version(dir, "wave"), 3);
    assert_int_equal(repo_current_version(dir, "wave"), 2);
    touch(dir, "wave/v5.safetensors");
    assert_int_equal(repo_set_pin(dir, "wave", 2, NULL, 0), 0);
    assert_int_equal(repo_pinned_version(dir, "wave"), 2);
    assert_int_equal(repo_current_version(dir, "wave"), 2);
    assert_int_equal(repo_set_pin(dir, "wave", 0, NULL, 0), 0);
    assert_false(exists(dir, "wave/CURRENT"));
    assert_int_equal(repo_current_version(dir, "wave"), 5);
    assert_int_equal(repo_next_version(dir, "wave"), 6);
    stfix_rm_tree(dir);
}

/* CURRENT as an operator may write it: "N" or "vN" pin; anything else, or
 * a version not in the folder, is refused with a message naming it. */
static void pin_file(void **state)
{
    char *dir = stfix_tmpdir(), p[1024], err[256];
    static const struct {
        const char *text;
        int want;
        const char *says;
    } cases[] = {
        {"3\n", 3, NULL}, {"v3\n", 3, NULL}, {"V3", 3, NULL}, {"  v5 \r\n", 5, NULL},
        {"5", 5, NULL}, {"v4\n", -1, "CURRENT pins v4, which is not in the folder"},
        {"three\n", -1, "CURRENT holds \"three\""}, {"v\n", -1, "CURRENT holds \"v\""},
        {"v3x", -1, "CURRENT holds \"v3x\""}, {"3 5", -1, "CURRENT holds \"3 5\""},
        {"-3", -1, "\"-3\""}, {"vv3", -1, "\"vv3\""}, {"", -1, "CURRENT holds \"\""},
        {"0", -1, "\"0\""}, {"v9999999", -1, "\"v9999999\""},
    };
    assert_int_equal(repo_make_dirs(dir, "wave", 0), 0);
    touch(dir, "wave/v3.safetensors");
    touch(dir, "wave/v5.safetensors");
    assert_int_equal(repo_read_pin(dir, "wave", err, sizeof err), 0);    /* no CURRENT */
    snprintf(p, sizeof p, "%s/wave/CURRENT", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        assert_int_equal(util_write_atomic(p, cases[i].text, strlen(cases[i].text), NULL, 0), 0);
        int got = repo_read_pin(dir, "wave", err, sizeof err);
        printf("CURRENT %-14.*s -> %d %s\n", (int)strcspn(cases[i].text, "\r\n"),
               cases[i].text, got, err);
        assert_int_equal(got, cases[i].want);
        if (cases[i].says)
            assert_non_null(strstr(err, cases[i].says));
        assert_int_equal(repo_pinned_version(dir, "wave"), got > 0 ? got : 0);
        assert_int_equal(repo_current_version(dir, "wave"), got > 0 ? got : 5);
    }
    stfix_rm_tree(dir);
}

static int count;
static void on_removed(const char *path, void *arg)
{
    (void)path;
    (void)arg;
    count++;
}

static void sweep(void **state)
{
    char *dir = stfix_tmpdir();
    assert_true(util_is_temp_name(".v3.safetensors.tmpAbC123"));
    assert_true(util_is_temp_name(".card.json.tmpAbC123"));
    assert_false(util_is_temp_name("v3.safetensors"));
    assert_false(util_is_temp_name(".tmpAbC123"));
    assert_int_equal(repo_make_dirs(dir, "wave", 1), 0);
    touch(dir, "wave/v1.safetensors");
    touch(dir, "wave/.v2.safetensors.tmpAbC123");      /* a killed checkpoint */
    touch(dir, "wave/.card.json.tmpAbC123");           /* a killed card */
    touch(dir, "wave/.train/.state.safetensors.tmpAbC123");
    touch(dir, "wave/.CURRENT.tmpAbC123");             /* a pin: not the trainer's */
    touch(dir, "wave/.notes.txt.tmpAbC123");           /* someone else's */
    count = 0;
    assert_int_equal(repo_sweep_temps(dir, "wave", on_removed, NULL), 3);
    assert_int_equal(count, 3);
    assert_false(exists(dir, "wave/.v2.safetensors.tmpAbC123"));
    assert_false(exists(dir, "wave/.card.json.tmpAbC123"));
    assert_false(exists(dir, "wave/.train/.state.safetensors.tmpAbC123"));
    assert_true(exists(dir, "wave/.CURRENT.tmpAbC123"));
    assert_true(exists(dir, "wave/.notes.txt.tmpAbC123"));
    assert_true(exists(dir, "wave/v1.safetensors"));
    stfix_rm_tree(dir);
}

/* A version's files are named by the one version rule; others are strays. */
static void version_strays(void **state)
{
    char *dir = stfix_tmpdir(), p[1024];
    RepoStray s[8];
    snprintf(p, sizeof p, "%s/wave", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    touch(dir, "wave/v3.safetensors");
    touch(dir, "wave/v3.card.json");
    touch(dir, "wave/v3.preview.jpg");
    touch(dir, "wave/v03.preview.jpg");
    touch(dir, "wave/v1000001.card.json");
    assert_int_equal(repo_strays(dir, s, 8), 2);
    int a = !strcmp(s[0].path, "wave/v03.preview.jpg"), b = !strcmp(s[1].path, "wave/v03.preview.jpg");
    assert_true(a || b);
    assert_string_equal(s[a ? 1 : 0].path, "wave/v1000001.card.json");
    stfix_rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_names),
        cmocka_unit_test(paths),
        cmocka_unit_test(next_version_and_pin),
        cmocka_unit_test(pin_file),
        cmocka_unit_test(sweep),
        cmocka_unit_test(version_strays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
