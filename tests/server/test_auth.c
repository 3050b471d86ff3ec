/* test_auth.c: server/auth.c: bearer parsing and the comparison. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/auth.h"

static void test_check(void **state)
{
    const char *tok = "s3cret-Token_1";
    (void)state;
    assert_int_equal(auth_check("", "Bearer x"), AUTH_DISABLED);
    assert_int_equal(auth_check(NULL, "Bearer x"), AUTH_DISABLED);
    assert_int_equal(auth_check(tok, NULL), AUTH_MISSING);
    assert_int_equal(auth_check(tok, ""), AUTH_MISSING);
    assert_int_equal(auth_check(tok, "Basic czNjcmV0"), AUTH_MISSING);
    assert_int_equal(auth_check(tok, "Bearer"), AUTH_MISSING);
    assert_int_equal(auth_check(tok, "Bearer   "), AUTH_MISSING);
    assert_int_equal(auth_check(tok, "Bearers3cret-Token_1"), AUTH_MISSING);
    assert_int_equal(auth_check(tok, "Bearer s3cret-Token_1"), AUTH_OK);
    assert_int_equal(auth_check(tok, "bearer  s3cret-Token_1 "), AUTH_OK);
    assert_int_equal(auth_check(tok, "Bearer s3cret-Token_"), AUTH_WRONG);
    assert_int_equal(auth_check(tok, "Bearer s3cret-Token_12"), AUTH_WRONG);
    assert_int_equal(auth_check(tok, "Bearer S3cret-Token_1"), AUTH_WRONG);
    assert_int_equal(auth_check(tok, "Bearer s3cret-Token_1s3cret-Token_1"), AUTH_WRONG);
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(auth_equal("abc", 3, "abc", 3));
    assert_false(auth_equal("abc", 3, "abd", 3));
    assert_false(auth_equal("abc", 3, "ab", 2));
    assert_false(auth_equal("abc", 3, "abcabc", 6));   /* cyclic compare, lengths differ */
    assert_false(auth_equal("", 0, "a", 1));
    assert_true(auth_equal("", 0, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
