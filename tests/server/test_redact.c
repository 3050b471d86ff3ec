/* test_redact.c: server/redact.c: absolute paths cut to their last
 * component in what open routes show; relative paths and text kept. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/redact.h"

static void expect(const char *in, const char *want)
{
    char *got = redact_paths(in);
    assert_non_null(got);
    if (strcmp(got, want))
        print_error("redact_paths(\"%s\") = \"%s\", want \"%s\"\n", in, got, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_paths(void **state)
{
    (void)state;
    expect("/work/shared/data/content", "content");
    expect("/data/jobs/ab12/content/", "content");
    expect("atelier train --style /tmp/atelier-x/jobs/ab/style/0.png --content /srv/photos "
           "--models /tmp/atelier-x/models --name painted",
           "atelier train --style 0.png --content photos --models models --name painted");
    expect("--models=/var/lib/atelier/models", "--models=models");
    /* A quoted path with a space: cut at the space (the rest is a
     * relative remainder, no machine path). */
    expect("'/a b/c.png'", "'a b/c.png'");
    expect("/models/broken/v1.safetensors: not a safetensors file",
           "v1.safetensors: not a safetensors file");
    expect("file:/etc/passwd", "file:passwd");
    /* Kept: relative paths, fractions, text, a lone slash. */
    expect("../shared/data/style/starry_night.jpg", "../shared/data/style/starry_night.jpg");
    expect("build/train", "build/train");
    expect("a 1/2 chance, and/or", "a 1/2 chance, and/or");
    expect("/", "");
    expect("", "");
}

static void test_json(void **state)
{
    json_t *card = json_loads("{\"name\": \"x\", \"training\": {\"content\": \"/srv/photos\", "
                              "\"styles\": [\"/tmp/j/style/0.png\", \"rel/1.png\"], "
                              "\"steps\": 5, \"nested\": [[\"/a/b\"]]}}", 0, NULL);
    char *text;
    (void)state;
    assert_non_null(card);
    redact_json(card);
    text = json_dumps(card, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"name\":\"x\",\"training\":{\"content\":\"photos\",\"nested\":"
                              "[[\"b\"]],\"steps\":5,\"styles\":[\"0.png\",\"rel/1.png\"]}}");
    free(text);
    json_decref(card);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
