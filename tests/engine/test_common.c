/* test_common.c: engine/util.c, the common tier: the error formatter, the
 * clock, the atomic writer (content, mode, no temporary left, errors say
 * where), the temporary-name rule, peak memory and the lock check the
 * invariant assertions use. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
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
        cmocka_unit_test(atomic_write),
        cmocka_unit_test(temp_names),
        cmocka_unit_test(peak_and_locks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
