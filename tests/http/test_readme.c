/* test_readme.c: the README's curl lines, run as written (the port
 * replaced) against the real `atelier serve` on port 0, serving the models/
 * that ships: the first ten minutes of a new user must work. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/engine/util.h"
#include "tests/http/server_harness.h"

#define MAX_CMDS 16

/* The curl commands of the README's ```sh blocks that talk to
 * localhost:8080, continuation lines joined; a new string each. */
static int readme_curls(char **cmds, int max)
{
    FILE *f = fopen("README.md", "r");
    char line[1024], cmd[4096] = "";
    int n = 0, in_sh = 0, cont = 0;
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "```", 3)) {
            in_sh = !in_sh && !strcmp(line, "```sh");
            continue;
        }
        if (!in_sh || (!cont && strncmp(line, "curl ", 5)))
            continue;
        size_t len = strlen(line);
        cont = len && line[len - 1] == '\\';
        if (cont)
            line[len - 1] = ' ';
        strncat(cmd, line, sizeof cmd - strlen(cmd) - 1);
        if (!cont) {
            if (strstr(cmd, "localhost:8080") && n < max)
                cmds[n++] = strdup(cmd);
            cmd[0] = '\0';
        }
    }
    fclose(f);
    return n;
}

/* cmd with every localhost:8080 replaced by 127.0.0.1:port. */
static void with_port(const char *cmd, int port, char *out, size_t len)
{
    const char *p;
    size_t used = 0;
    out[0] = '\0';
    while ((p = strstr(cmd, "localhost:8080")) && used < len) {
        used += (size_t)snprintf(out + used, len - used, "%.*s127.0.0.1:%d", (int)(p - cmd), cmd,
                                 port);
        cmd = p + strlen("localhost:8080");
    }
    if (used < len)
        snprintf(out + used, len - used, "%s", cmd);
}

static int starts_with(const char *path, const char *magic, size_t n)
{
    char buf[8] = "";
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(buf, 1, n, f) : 0;
    if (f)
        fclose(f);
    return got == n && !memcmp(buf, magic, n);
}

static void test_readme_curls(void **state)
{
    (void)state;
    char *cmds[MAX_CMDS], repo[PATH_MAX], models[PATH_MAX + 16], dir[] = "/tmp/atelier-readme-XXXXXX";
    char run[8192], path[PATH_MAX + 64], *out;
    Harness h;
    if (system("command -v curl > /dev/null 2>&1")) {
        printf("  skipped: no curl command on this machine\n");
        skip();
    }
    int n = readme_curls(cmds, MAX_CMDS);
    printf("  %d curl lines in README.md\n", n);
    assert_int_equal(n, 4);
    assert_non_null(getcwd(repo, sizeof repo));
    snprintf(models, sizeof models, "%s/models", repo);
    /* The shipped repository, its own default (models/DEFAULT). */
    const char *args[] = {"--models", models, "--default-model", "", NULL};
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/web", repo);
    snprintf(run, sizeof run, "%s/web", dir);
    assert_int_equal(symlink(path, run), 0);
    for (int i = 0; i < n; i++) {
        char cmd[4096];
        with_port(cmds[i], h.port, cmd, sizeof cmd);
        snprintf(run, sizeof run, "cd %s && %s", dir, cmd);
        int rc = tu_run(run, &out);
        printf("  $ %s -> %d\n    %.200s\n", cmds[i], rc, out ? out : "");
        assert_int_equal(rc, 0);
        if (strstr(cmds[i], "-o out.jpg")) {
            snprintf(path, sizeof path, "%s/out.jpg", dir);
            assert_true(starts_with(path, "\xFF\xD8\xFF", 3));
        } else if (strstr(cmds[i], "-o out.png")) {
            snprintf(path, sizeof path, "%s/out.png", dir);
            assert_true(starts_with(path, "\x89PNG", 4));
        } else if (strstr(cmds[i], "model=wave")) {
            assert_non_null(strstr(out, "no model 'wave'; the models are: composition_vii, starry_night, "
                                           "the_kiss, the_scream, woman_with_a_hat"));
        } else {
            assert_non_null(strstr(out, "\"default\":\"starry_night\""));
        }
        free(out);
        free(cmds[i]);
    }
    snprintf(run, sizeof run, "rm -rf %s", dir);
    assert_int_equal(system(run), 0);
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_curls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
