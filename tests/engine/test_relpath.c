/* test_relpath.c: relative paths as cards record them: siblings of the
 * repository as ../shared/..., the same folder as ".", dots and repeated
 * slashes dropped, too small a buffer refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "engine/relpath.h"

static void expect(const char *path, const char *base, const char *want)
{
    char out[256];
    assert_int_equal(relpath(path, base, out, sizeof out), 0);
    assert_string_equal(out, want);
}

static void test_relpath(void **state)
{
    (void)state;
    expect("/work/shared/data/content", "/work/style", "../shared/data/content");
    expect("/work/style/models/x", "/work/style", "models/x");
    expect("/work/style", "/work/style", ".");
    expect("/", "/work/style", "../..");
    expect("/tmp/a.jpg", "/", "tmp/a.jpg");
    expect("//work/./shared//x/../data/", "/work/style/", "../shared/data");
    expect("/work/styles/a", "/work/style", "../styles/a");     /* words, not prefixes */
    expect("/a/../../b", "/a", "../b");                        /* ".." stops at the root */
}

static void test_refusals(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(relpath("rel/x", "/work", out, sizeof out), -1);
    assert_int_equal(relpath("/work/x", "work", out, sizeof out), -1);
    assert_int_equal(relpath("/work/shared/data", "/work/style", out, sizeof out), -1);
    assert_int_equal(relpath("/w/ab", "/w", out, 2), -1);
    assert_int_equal(relpath("/w/ab", "/w", out, 3), 0);
    assert_string_equal(out, "ab");
}

static void test_cwd(void **state)
{
    (void)state;
    char cwd[1024], abs[1100], out[1100];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(abs, sizeof abs, "%s/models/../README.md", cwd);
    assert_int_equal(relpath_cwd(abs, out, sizeof out), 0);
    assert_string_equal(out, "README.md");
    assert_int_equal(relpath_cwd("../shared/x", out, sizeof out), 0);   /* kept as it is */
    assert_string_equal(out, "../shared/x");
    assert_int_equal(relpath_cwd("models/starry_night", out, 8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relpath),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
