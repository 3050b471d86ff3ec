/* test_config.c: server/config.c: defaults, ATELIER_* variables, flags and
 * their precedence, range checks, token files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *const *fake_env;

static const char *env_fn(const char *name)
{
    for (int i = 0; fake_env && fake_env[i]; i += 2)
        if (!strcmp(fake_env[i], name))
            return fake_env[i + 1];
    return NULL;
}

static int parse(Config *c, const char *const *env, int argc, const char **argv, char *err)
{
    fake_env = env;
    err[0] = '\0';
    return config_parse(c, argc, (char **)argv, env_fn, err, 256);
}

static void test_defaults(void **state)
{
    Config c;
    char err[256];
    const char *argv[] = {"serve"};
    (void)state;
    assert_int_equal(parse(&c, NULL, 1, argv, err), CONFIG_OK);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.models, "models");
    assert_int_equal(c.queue, 16);
    assert_int_equal(c.max_body_bytes, 32 << 20);
    assert_int_equal(c.max_pixels, 50000000);
    assert_int_equal(c.timeout_s, 30);
    assert_int_equal(c.drain_s, 15);
    assert_true(c.workers >= 1);          /* auto resolved */
    assert_true(c.engine_threads >= 1);
    assert_string_equal(c.token, "");
    assert_string_equal(c.port_file, "");
    /* Transport limits (issue 15): the body budget is auto, a quarter of
     * the memory limit, never under 64 MiB nor one largest body. */
    assert_int_equal(c.header_timeout_s, 10);
    assert_int_equal(c.min_upload_kbps, 16);
    assert_true(c.body_budget_bytes >= (INT64_C(64) << 20));
    assert_true(c.body_budget_bytes >= c.max_body_bytes);
}

static void test_body_budget(void **state)
{
    Config c;
    char err[256];
    const char *argv[] = {"serve", "--body-budget-mb", "100"};
    const char *small[] = {"serve", "--body-budget-mb", "1", "--max-body-mb", "8"};
    const char *env[] = {"ATELIER_BODY_BUDGET_MB", "300", NULL};
    (void)state;
    assert_int_equal(parse(&c, NULL, 3, argv, err), CONFIG_OK);
    assert_int_equal(c.body_budget_bytes, INT64_C(100) << 20);
    assert_int_equal(parse(&c, env, 1, argv, err), CONFIG_OK);
    assert_int_equal(c.body_budget_bytes, INT64_C(300) << 20);
    /* Smaller than one largest body: raised to it, so that body fits. */
    assert_int_equal(parse(&c, NULL, 5, small, err), CONFIG_OK);
    assert_int_equal(c.body_budget_bytes, INT64_C(8) << 20);
}

static void test_precedence(void **state)
{
    Config c;
    char err[256];
    const char *env[] = {"ATELIER_PORT", "9000", "ATELIER_HOST", "127.0.0.1",
                         "ATELIER_MAX_BODY_MB", "2", "ATELIER_DEFAULT_MODEL", "wave", NULL};
    const char *argv[] = {"serve", "--port", "0", "--queue=3", "--workers", "2"};
    (void)state;
    assert_int_equal(parse(&c, env, 6, argv, err), CONFIG_OK);
    assert_int_equal(c.port, 0);                   /* flag beats env */
    assert_string_equal(c.host, "127.0.0.1");      /* env beats default */
    assert_int_equal(c.max_body_bytes, 2 << 20);
    assert_int_equal(c.queue, 3);
    assert_int_equal(c.workers, 2);
    assert_string_equal(c.default_model, "wave");
}

static void expect_error(const char *const *env, int argc, const char **argv, const char *needle)
{
    Config c;
    char err[256];
    int rc = parse(&c, env, argc, argv, err);
    if (rc != CONFIG_ERROR || !strstr(err, needle)) {
        print_error("%s: rc %d, message '%s', expected an error naming '%s'\n", argv[argc - 1],
                    rc, err, needle);
        fail();
    }
}

static void test_errors(void **state)
{
    const char *a1[] = {"serve", "--port", "65536"};
    const char *a2[] = {"serve", "--workers=abc"};
    const char *a3[] = {"serve", "--bogus", "1"};
    const char *a4[] = {"serve", "--queue"};
    const char *a5[] = {"serve", "stray"};
    const char *a6[] = {"serve", "--port", " 80"};
    const char *a7[] = {"serve", "--max-body-mb", "0"};
    const char *env[] = {"ATELIER_TIMEOUT", "-1", NULL};
    const char *a8[] = {"serve"};
    const char *env2[] = {"ATELIER_TOKEN", "a", "ATELIER_TOKEN_FILE", "/x", NULL};
    (void)state;
    expect_error(NULL, 3, a1, "--port");
    expect_error(NULL, 2, a2, "--workers");
    expect_error(NULL, 3, a3, "--bogus");
    expect_error(NULL, 2, a4, "--queue");
    expect_error(NULL, 2, a5, "stray");
    expect_error(NULL, 3, a6, "--port");
    expect_error(NULL, 3, a7, "--max-body-mb");
    expect_error(env, 1, a8, "ATELIER_TIMEOUT");
    expect_error(env2, 1, a8, "ATELIER_TOKEN");
}

static void test_help(void **state)
{
    Config c;
    char err[256];
    const char *argv[] = {"serve", "--port", "1", "--help"};
    (void)state;
    assert_int_equal(parse(&c, NULL, 4, argv, err), CONFIG_HELP);
}

static void test_token_file(void **state)
{
    Config c;
    char err[256], path[] = "/tmp/atelier-token-XXXXXX";
    int fd = mkstemp(path);
    const char *env[] = {"ATELIER_TOKEN", "from-env", NULL};
    const char *argv[] = {"serve", "--token-file", path};
    const char *argv2[] = {"serve", "--token", "from-flag"};
    const char *argv3[] = {"serve", "--token-file", "/nonexistent/token"};
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret-token\n\n", 14), 14);
    close(fd);
    /* The flag's file beats the environment's token; whitespace trimmed. */
    assert_int_equal(parse(&c, env, 3, argv, err), CONFIG_OK);
    assert_string_equal(c.token, "s3cret-token");
    assert_int_equal(parse(&c, env, 1, argv, err), CONFIG_OK);
    assert_string_equal(c.token, "from-env");
    assert_int_equal(parse(&c, env, 3, argv2, err), CONFIG_OK);
    assert_string_equal(c.token, "from-flag");
    expect_error(NULL, 3, argv3, "/nonexistent/token");
    const char *argv4[] = {"serve", "--token", "two words"};
    expect_error(NULL, 3, argv4, "token");
    unlink(path);
}

static void test_usage_lists_every_flag(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const char *flags[] = {"--host", "--port", "--port-file", "--models", "--data", "--workers",
                           "--queue", "--max-body-mb", "--max-pixels", "--timeout",
                           "--per-ip-limit", "--drain-seconds", "--default-model", "--token",
                           "--token-file", "ATELIER_PORT", "ATELIER_TOKEN"};
    (void)state;
    config_usage(f);
    fclose(f);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strstr(text, flags[i])) {
            print_error("usage lacks %s\n", flags[i]);
            fail();
        }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_body_budget),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_usage_lists_every_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
