/* test_problem.c: server/problem.c: RFC 9457 bodies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/image.h"
#include "server/infer.h"
#include "server/jobq.h"
#include "server/problem.h"
#include "server/registry.h"

static void test_statuses(void **state)
{
    static const int want[PROBLEM_KIND_COUNT] = {
        [PROBLEM_BAD_PARAMETER] = 400, [PROBLEM_BAD_REQUEST] = 400,
        [PROBLEM_UNAUTHORIZED] = 401, [PROBLEM_FORBIDDEN] = 403,
        [PROBLEM_NOT_FOUND] = 404, [PROBLEM_UNKNOWN_MODEL] = 404,
        [PROBLEM_METHOD_NOT_ALLOWED] = 405, [PROBLEM_TOO_SLOW] = 408, [PROBLEM_BODY_TOO_LARGE] = 413,
        [PROBLEM_IMAGE_TOO_LARGE] = 413, [PROBLEM_UNSUPPORTED_MEDIA_TYPE] = 415,
        [PROBLEM_UNDECODABLE_IMAGE] = 422, [PROBLEM_INTERNAL] = 500,
        [PROBLEM_INSUFFICIENT_STORAGE] = 507,
        [PROBLEM_CONFLICT] = 409,
        [PROBLEM_NOT_IMPLEMENTED] = 501, [PROBLEM_OVERLOADED] = 503,
        [PROBLEM_NOT_READY] = 503,
    };
    (void)state;
    for (int k = 0; k < PROBLEM_KIND_COUNT; k++) {
        if (problem_status((ProblemKind)k) != want[k]) {
            print_error("kind %d: status %d, want %d\n", k, problem_status((ProblemKind)k), want[k]);
            fail();
        }
        assert_true(!strncmp(problem_type((ProblemKind)k), "urn:atelier:problem:", 20));
        assert_true(strlen(problem_title((ProblemKind)k)) > 3);
    }
    assert_int_equal(problem_status((ProblemKind)999), 500);
}

/* Error codes, not message text, choose statuses: the one mapping. */
static void test_codes(void **state)
{
    assert_int_equal(problem_status(problem_for_registry(REGISTRY_ENOENT)), 404);
    assert_int_equal(problem_for_registry(REGISTRY_ENOENT), PROBLEM_UNKNOWN_MODEL);
    assert_int_equal(problem_for_registry(REGISTRY_ENOVERSION), PROBLEM_NOT_FOUND);
    assert_int_equal(problem_status(problem_for_registry(REGISTRY_ENOTREADY)), 503);
    assert_int_equal(problem_status(problem_for_registry(REGISTRY_EIO)), 500);
    assert_int_equal(problem_status(problem_for_image(IMG_EFORMAT)), 415);
    assert_int_equal(problem_status(problem_for_image(IMG_ECORRUPT)), 422);
    assert_int_equal(problem_status(problem_for_image(IMG_ETOOLARGE)), 413);
    assert_int_equal(problem_status(problem_for_image(IMG_ENOMEM)), 503);
    assert_int_equal(problem_status(problem_for_jobq(JOBQ_EINVAL)), 400);
    assert_int_equal(problem_status(problem_for_jobq(JOBQ_ENOENT)), 404);
    assert_int_equal(problem_status(problem_for_jobq(JOBQ_EFULL)), 503);
    assert_int_equal(problem_status(problem_for_jobq(JOBQ_ENOSPC)), 507);
    assert_int_equal(problem_status(problem_for_jobq(JOBQ_EIO)), 500);
    assert_int_equal(problem_status(problem_for_infer(INFER_EFORMAT)), 415);
    assert_int_equal(problem_status(problem_for_infer(INFER_EIMAGE)), 422);
    assert_int_equal(problem_status(problem_for_infer(INFER_ETOOLARGE)), 413);
    assert_int_equal(problem_status(problem_for_infer(INFER_ENOMEM)), 503);
    assert_int_equal(problem_status(problem_for_infer(INFER_EINTERNAL)), 500);
}

static void test_render(void **state)
{
    size_t len = 0;
    char *text = problem_render(PROBLEM_BAD_PARAMETER, "strength must be in 0..1", "strength",
                                "/stylize", "abc123", &len);
    json_t *o;
    (void)state;
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    o = json_loads(text, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")),
                        "urn:atelier:problem:bad-parameter");
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 400);
    assert_string_equal(json_string_value(json_object_get(o, "param")), "strength");
    assert_string_equal(json_string_value(json_object_get(o, "detail")), "strength must be in 0..1");
    assert_string_equal(json_string_value(json_object_get(o, "instance")), "/stylize");
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "abc123");
    json_decref(o);
    free(text);

    /* Optional members left out; invalid UTF-8 from a client does not
     * lose the body. */
    text = problem_render(PROBLEM_NOT_FOUND, "no route /\xff\xfe", NULL, NULL, NULL, &len);
    assert_non_null(text);
    o = json_loads(text, 0, NULL);
    assert_non_null(o);
    assert_null(json_object_get(o, "param"));
    assert_null(json_object_get(o, "instance"));
    assert_non_null(json_object_get(o, "detail"));
    json_decref(o);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
