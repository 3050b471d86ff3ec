/* test_safetensors_write.c: tests of engine/safetensors_write.c: the bytes
 * the writer makes, what it refuses, round trips through a file, and the
 * atomic replace (a failed write leaves nothing, a replace is whole). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/safetensors.h"
#include "tests/engine/st_fixture.h"

static void test_roundtrip_file(void **state)
{
    char *dir = stfix_tmpdir(), path[4200], err[512] = "";
    StWriter *w = stfix_sample_writer();
    unsigned char *disk;
    void *buf;
    size_t len, dlen;
    struct stat sb;

    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (stw_write_file(w, path, err, sizeof err) != 0)
        fail_msg("stw_write_file: %s", err);
    SafeTensors *st = st_load_file(path, err, sizeof err);
    if (!st)
        fail_msg("st_load_file: %s", err);
    stfix_check_sample(st);
    st_free(st);

    /* The file is exactly what stw_to_buffer makes, and nothing else is left. */
    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    disk = stfix_read_whole(path, &dlen);
    assert_int_equal(dlen, len);
    assert_memory_equal(disk, buf, len);
    assert_int_equal(stfix_count_entries(dir), 1);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    free(disk);
    free(buf);
    stw_free(w);
    stfix_rm_tree(dir);
}

/* A writer with no tensors and no metadata makes "{}" padded to 8. */
static void test_roundtrip_empty(void **state)
{
    static const unsigned char want[] = "\x08\0\0\0\0\0\0\0{}      ";
    StWriter *w = stw_new();
    void *buf;
    size_t len;

    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    assert_int_equal(len, 16);
    assert_memory_equal(buf, want, 16);
    SafeTensors *st = stfix_parse_ok(buf, len);
    assert_int_equal(st_count(st), 0);
    assert_null(st_meta(st, "k"));
    st_free(st);
    free(buf);
    stw_free(w);
}

/* The writer makes exactly the bytes worked out by hand (st_fixture.c). */
static void test_write_exact(void **state)
{
    const float a[2] = { 1.0f, -2.0f };
    const unsigned char bval = 7;
    const int64_t shape_a[1] = { 2 };
    StWriter *w = stw_new();
    size_t wlen, len;
    unsigned char *want = stfix_exact_bytes(&wlen);
    void *buf;

    assert_int_equal(stw_meta(w, "k", "v"), 0);
    assert_int_equal(stw_add(w, "a", ST_F32, 1, shape_a, a), 0);
    assert_int_equal(stw_add(w, "b", ST_U8, 0, NULL, &bval), 0);
    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    assert_int_equal(len, wlen);
    if (memcmp(buf, want, len) != 0)
        for (size_t i = 0; i < len; i++)
            if (((unsigned char *)buf)[i] != want[i])
                fail_msg("byte %zu: wrote 0x%02x, expected 0x%02x", i,
                         ((unsigned char *)buf)[i], want[i]);
    free(buf);
    free(want);
    stw_free(w);
}

static void test_writer_rejects(void **state)
{
    const int64_t s1[1] = { 2 }, neg[1] = { -1 }, big[2] = { INT64_MAX, 2 };
    const int64_t nine[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    const float d[2] = { 1, 2 };
    StWriter *w = stw_new();

    assert_int_equal(stw_add(w, "a", ST_F32, 1, s1, d), 0);
    assert_int_equal(stw_add(w, "a", ST_F32, 1, s1, d), -1);        /* duplicate */
    assert_int_equal(stw_add(w, "", ST_F32, 1, s1, d), -1);
    assert_int_equal(stw_add(w, NULL, ST_F32, 1, s1, d), -1);
    assert_int_equal(stw_add(w, "__metadata__", ST_F32, 1, s1, d), -1);
    assert_int_equal(stw_add(w, "b\xff", ST_F32, 1, s1, d), -1);    /* not UTF-8 */
    assert_int_equal(stw_add(w, "b", (StDtype)42, 1, s1, d), -1);
    assert_int_equal(stw_add(w, "b", ST_F32, 9, nine, d), -1);
    assert_int_equal(stw_add(w, "b", ST_F32, -1, s1, d), -1);
    assert_int_equal(stw_add(w, "b", ST_F32, 1, NULL, d), -1);
    assert_int_equal(stw_add(w, "b", ST_F32, 1, neg, d), -1);
    assert_int_equal(stw_add(w, "b", ST_F32, 2, big, d), -1);       /* overflow */
    assert_int_equal(stw_add(w, "b", ST_F32, 1, s1, NULL), -1);
    assert_int_equal(stw_add(NULL, "b", ST_F32, 1, s1, d), -1);
    assert_int_equal(stw_meta(w, "k", "\xc3"), -1);
    assert_int_equal(stw_meta(w, "\xc3", "v"), -1);
    assert_int_equal(stw_meta(w, "k", NULL), -1);
    assert_int_equal(stw_meta(w, "k", "old"), 0);
    assert_int_equal(stw_meta(w, "k", "new"), 0);                   /* replaces */

    /* Only the good calls left a trace. */
    void *buf;
    size_t len;
    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    SafeTensors *st = stfix_parse_ok(buf, len);
    assert_int_equal(st_count(st), 1);
    assert_string_equal(st_meta(st, "k"), "new");
    st_free(st);
    free(buf);
    stw_free(w);
    stw_free(NULL);
    st_free(NULL);
}

static void test_write_missing_dir(void **state)
{
    char *dir = stfix_tmpdir(), path[4200], sub[4100], err[512] = "";
    StWriter *w = stfix_sample_writer();
    struct stat sb;

    snprintf(sub, sizeof sub, "%s/nope", dir);
    snprintf(path, sizeof path, "%s/m.safetensors", sub);
    assert_int_equal(stw_write_file(w, path, err, sizeof err), -1);
    if (!strstr(err, "cannot create a temporary file") || !strstr(err, "No such file"))
        fail_msg("unexpected message: %s", err);
    assert_int_equal(stat(sub, &sb), -1);
    assert_int_equal(stfix_count_entries(dir), 0);

    snprintf(path, sizeof path, "%s/", dir);
    assert_int_equal(stw_write_file(w, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "names a directory"));
    assert_int_equal(stfix_count_entries(dir), 0);
    stw_free(w);
    stfix_rm_tree(dir);
}

/* Replacing a file swaps it whole: a reader holding the old one still reads
 * all of the old bytes, a new open reads all of the new ones. */
static void test_write_replaces(void **state)
{
    char *dir = stfix_tmpdir(), path[4200], err[512] = "";
    static float big[4096];
    const int64_t shape_big[1] = { 4096 }, shape_small[1] = { 1 };
    const float small = 42.0f;
    StWriter *w1 = stw_new(), *w2 = stw_new();
    unsigned char *old_disk, *again;
    void *buf2;
    size_t old_len, len2, again_len;
    int fd;

    for (int i = 0; i < 4096; i++)
        big[i] = (float)i;
    snprintf(path, sizeof path, "%s/v1.safetensors", dir);
    assert_int_equal(stw_add(w1, "w", ST_F32, 1, shape_big, big), 0);
    assert_int_equal(stw_add(w2, "w", ST_F32, 1, shape_small, &small), 0);
    assert_int_equal(stw_write_file(w1, path, err, sizeof err), 0);
    old_disk = stfix_read_whole(path, &old_len);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);

    if (stw_write_file(w2, path, err, sizeof err) != 0)
        fail_msg("replacing: %s", err);
    assert_int_equal(stfix_count_entries(dir), 1);
    assert_int_equal(stw_to_buffer(w2, &buf2, &len2), 0);
    again = stfix_read_whole(path, &again_len);
    assert_int_equal(again_len, len2);
    assert_memory_equal(again, buf2, len2);
    SafeTensors *st = st_load_file(path, err, sizeof err);
    assert_non_null(st);
    assert_true(st_f32(st_find(st, "w"))[0] == 42.0f);
    st_free(st);

    unsigned char *held = malloc(old_len + 1);
    assert_int_equal(pread(fd, held, old_len + 1, 0), (ssize_t)old_len);
    assert_memory_equal(held, old_disk, old_len);
    close(fd);
    free(held);
    free(again);
    free(buf2);
    free(old_disk);
    stw_free(w1);
    stw_free(w2);
    stfix_rm_tree(dir);
}

/* When the rename cannot happen (the target is a non-empty directory) the
 * write fails, the target is untouched and no temporary file is left. */
static void test_write_onto_directory(void **state)
{
    char *dir = stfix_tmpdir(), target[4200], keep[4300], err[512] = "";
    StWriter *w = stfix_sample_writer();
    struct stat sb;
    FILE *f;

    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(keep, sizeof keep, "%s/keep", target);
    assert_int_equal(mkdir(target, 0755), 0);
    f = fopen(keep, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(stw_write_file(w, target, err, sizeof err), -1);
    assert_non_null(strstr(err, "failed"));
    assert_int_equal(stat(target, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(stat(keep, &sb), 0);
    assert_int_equal(stfix_count_entries(dir), 1);
    stw_free(w);
    stfix_rm_tree(dir);
}

/* A bare file name is written in the current directory. */
static void test_write_relative(void **state)
{
    char *dir = stfix_tmpdir(), cwd[4096], err[512] = "";
    StWriter *w = stfix_sample_writer();

    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    int rc = stw_write_file(w, "m.safetensors", err, sizeof err);
    SafeTensors *st = st_load_file("m.safetensors", err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_non_null(st);
    stfix_check_sample(st);
    assert_int_equal(stfix_count_entries(dir), 1);
    st_free(st);
    stw_free(w);
    stfix_rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_exact),
        cmocka_unit_test(test_roundtrip_empty),
        cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_roundtrip_file),
        cmocka_unit_test(test_write_relative),
        cmocka_unit_test(test_write_missing_dir),
        cmocka_unit_test(test_write_replaces),
        cmocka_unit_test(test_write_onto_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
