/* test_common.c: engine/util.c, the common tier: the error formatter, the
 * clock, the integer reader (its grammar and bounds), the atomic writer (content, mode, no temporary left, errors say
 * where), the temporary-name rule, peak memory and the lock check the
 * invariant assertions use. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/util.h"
#include "tests/engine/st_fixture.h"

static void errf(void **state)
{
    char small[8];
    util_errf(small, sizeof small, "%s %d", "abcdef", 12345);
    assert_string_equal(small, "abcdef ");    /* cut, always terminated */
    util_errf(NULL, 0, "nothing %d", 1);      /* no buffer: nothing written */
}

static void clock_moves(void **state)
{
    double a = util_now_s(), b = util_now_s();
    assert_true(a > 0 && b >= a);
}

/* Every parameter and flag read as an integer goes through util_parse_int:
 * its grammar (sign, digits, nothing else) and its bounds. */
static void parse_int(void **state)
{
    static const struct {
        const char *s;
        long long lo, hi;
        int ok;
        long long want;
    } cases[] = {
        {"0", 0, 10, 1, 0},
        {"10", 0, 10, 1, 10},                  /* both ends are in */
        {"11", 0, 10, 0, 0},
        {"-1", 0, 10, 0, 0},
        {"-7", -10, 10, 1, -7},
        {"+7", 0, 10, 1, 7},
        {"-0", 0, 10, 1, 0},
        {"007", 0, 10, 1, 7},
        {"", 0, 10, 0, 0},                     /* empty */
        {"-", -10, 10, 0, 0},                  /* a sign alone */
        {"+-3", -10, 10, 0, 0},
        {"--3", -10, 10, 0, 0},
        {" 3", 0, 10, 0, 0},                   /* blanks, before or after */
        {"\t3", 0, 10, 0, 0},
        {"3 ", 0, 10, 0, 0},
        {"3x", 0, 10, 0, 0},                   /* trailing junk */
        {"3.0", 0, 10, 0, 0},
        {"1e3", 0, 5000, 0, 0},
        {"0x10", 0, 100, 0, 0},
        {"9223372036854775807", 0, LLONG_MAX, 1, LLONG_MAX},
        {"9223372036854775808", 0, LLONG_MAX, 0, 0},   /* overflow is out of range */
        {"99999999999999999999", 0, LLONG_MAX, 0, 0},
        {"-9223372036854775808", LLONG_MIN, 0, 1, LLONG_MIN},
        {"-9223372036854775809", LLONG_MIN, 0, 0, 0},
        {"2147483648", 1, 2147483647, 0, 0},   /* past an int field's range */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long v = 42;
        int rc = util_parse_int(cases[i].s, cases[i].lo, cases[i].hi, &v);
        if (rc != (cases[i].ok ? 0 : -1) || v != (cases[i].ok ? cases[i].want : 42)) {
            print_error("'%s' in %lld..%lld: rc %d, value %lld\n", cases[i].s, cases[i].lo,
                        cases[i].hi, rc, v);
            fail();
        }
    }
    long long v = 42;
    assert_int_equal(util_parse_int(NULL, 0, 10, &v), -1);
    assert_int_equal(v, 42);
    errno = EINTR;                             /* errno is left as it was */
    assert_int_equal(util_parse_int("99999999999999999999", 0, 10, &v), -1);
    assert_int_equal(errno, EINTR);
}

static void atomic_write(void **state)
{
    char *dir = stfix_tmpdir(), path[512], err[256] = "";
    struct stat st;
    size_t len;
    snprintf(path, sizeof path, "%s/f.json", dir);
    assert_int_equal(util_write_atomic(path, "old", 3, err, sizeof err), 0);
    struct iovec two[2] = { { "ne", 2 }, { "w!", 2 } };
    assert_int_equal(util_write_atomic_v(path, two, 2, err, sizeof err), 0);
    unsigned char *back = stfix_read_whole(path, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(back, "new!", 4);
    free(back);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stfix_count_entries(dir), 1);    /* no temporary left */
    snprintf(path, sizeof path, "%s/none/f.json", dir);
    assert_int_equal(util_write_atomic(path, "x", 1, err, sizeof err), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, path));
    assert_int_equal(util_write_atomic(dir, "x", 1, err, sizeof err), -1);   /* a folder */
    stfix_rm_tree(dir);
}

static void temp_names(void **state)
{
    assert_true(util_is_temp_name(".f.json.tmpA1b2C3"));
    assert_false(util_is_temp_name("f.json.tmpA1b2C3"));
    assert_false(util_is_temp_name(".f.json"));
    assert_false(util_is_temp_name(".tmpA1b2C3"));
}

static void peak_and_locks(void **state)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    assert_true(util_peak_rss_mb() > 1);
    assert_false(util_mutex_held(&m));
    pthread_mutex_lock(&m);
    assert_true(util_mutex_held(&m));
    pthread_mutex_unlock(&m);
    assert_false(util_mutex_held(&m));
    UTIL_ASSERT(1 + 1 == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errf),
        cmocka_unit_test(clock_moves),
        cmocka_unit_test(parse_int),
        cmocka_unit_test(atomic_write),
        cmocka_unit_test(temp_names),
        cmocka_unit_test(peak_and_locks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
