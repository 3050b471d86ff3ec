/* test_log.c: server/log.c: one JSON object per line, and client strings
 * that are not UTF-8. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/log.h"

static void test_lines(void **state)
{
    char buf[4096];
    FILE *f = tmpfile();
    json_t *line, *fields = json_object();
    int n = 0;
    (void)state;
    assert_non_null(f);
    log_set_fd(fileno(f));
    log_write("info", "listening", "{s:i, s:s}", "port", 8080, "host", "::");
    json_object_set_new(fields, "path", log_str("/a\xff\xfe/b"));
    log_object("warn", "request", fields);
    log_write("error", "plain", NULL);
    log_set_fd(2);
    rewind(f);
    while (fgets(buf, sizeof buf, f)) {
        size_t len = strlen(buf);
        assert_true(len > 0 && buf[len - 1] == '\n');
        line = json_loads(buf, 0, NULL);
        if (!line) {
            print_error("line %d is not JSON: %s", n, buf);
            fail();
        }
        assert_non_null(json_string_value(json_object_get(line, "ts")));
        assert_non_null(json_string_value(json_object_get(line, "level")));
        assert_non_null(json_string_value(json_object_get(line, "msg")));
        if (n == 0) {
            assert_int_equal(json_integer_value(json_object_get(line, "port")), 8080);
            assert_string_equal(json_string_value(json_object_get(line, "msg")), "listening");
        }
        if (n == 1)
            assert_string_equal(json_string_value(json_object_get(line, "path")), "/a?" "?/b");
        json_decref(line);
        n++;
    }
    assert_int_equal(n, 3);
    fclose(f);
}

static void test_str(void **state)
{
    json_t *j;
    (void)state;
    assert_null(log_str(NULL));
    j = log_str("caf\xc3\xa9");          /* valid UTF-8 kept */
    assert_string_equal(json_string_value(j), "caf\xc3\xa9");
    json_decref(j);
    j = log_str("\x01tab\tend\x80");
    assert_string_equal(json_string_value(j), "?tab?end?");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
