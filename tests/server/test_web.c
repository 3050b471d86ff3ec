/* test_web.c: server/web.c's header parsing (Accept-Encoding, If-None-Match)
 * and its asset table, without a socket; tests/http/test_web.c serves them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "server/web.h"

static void test_accepts_gzip(void **state)
{
    static const struct {
        const char *value;
        int want;
    } cases[] = {
        {"gzip", 1},          {"GZIP", 1},           {"br, gzip, deflate", 1},
        {"gzip;q=0.5", 1},    {"gzip; q=1.0", 1},    {"*", 1},
        {"br;q=1, *;q=0.1", 1}, {"gzip;q=0", 0},     {"gzip; q=0.000", 0},
        {"gzip;q=0., br", 0}, {"*;q=0", 0},          {"identity", 0},
        {"x-gzip", 0},        {"gzipped", 0},        {"", 0},
        {" , ,", 0},          {NULL, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (web_accepts_gzip(cases[i].value) != cases[i].want)
            fail_msg("Accept-Encoding '%s': %d, want %d", cases[i].value ? cases[i].value : "(none)",
                     !cases[i].want, cases[i].want);
}

static void test_etag_matches(void **state)
{
    const char *tag = "\"0123456789abcdef\"";
    (void)state;
    assert_true(web_etag_matches("\"0123456789abcdef\"", tag));
    assert_true(web_etag_matches("W/\"0123456789abcdef\"", tag));
    assert_true(web_etag_matches("\"x\", \"0123456789abcdef\"", tag));
    assert_true(web_etag_matches("*", tag));
    assert_false(web_etag_matches("\"0123456789abcde\"", tag));
    assert_false(web_etag_matches("0123456789abcdef", tag));
    assert_false(web_etag_matches("\"0123456789abcdef\"x", tag));
    assert_false(web_etag_matches("", tag));
}

/* Every file of web/ is in the table with a type, "/" is the page, and a
 * gzip copy is only kept when smaller, with an ETag of its own. */
static void test_table(void **state)
{
    const WebAsset *page = web_find("/");
    (void)state;
    assert_non_null(page);
    assert_string_equal(page->type, "text/html; charset=utf-8");
    assert_non_null(web_find("/ui/app.js"));
    assert_non_null(web_find("/ui/sample.jpg"));
    assert_null(web_find("/ui/"));
    assert_null(web_find("/index.html"));
    assert_null(web_find(NULL));
    for (size_t i = 0; i < web_nassets; i++) {
        const WebAsset *a = &web_assets[i];
        assert_true(a->len > 0 && a->data[a->len] == '\0');
        assert_int_equal(strlen(a->etag), 18);
        if (a->gz) {
            assert_true(a->gzlen < a->len && a->gz[0] == 0x1f && a->gz[1] == 0x8b);
            assert_string_not_equal(a->gz_etag, a->etag);
        }
    }
    assert_non_null(page->gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_etag_matches),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
