/* test_safetensors.c: tests of the reader in engine/safetensors.c: a round
 * trip through a buffer, a file known byte for byte, aligned access,
 * rejection of each kind of broken file with a message that says why, and a
 * fixed-seed mutation loop. The writer's tests are in
 * test_safetensors_write.c. */
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

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, same sequence on every run. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* A file with the given header text (unpadded) and datalen bytes of data
 * (byte i is i & 0xff). Caller frees. */
static unsigned char *make_file(const char *json, size_t datalen, size_t *len)
{
    size_t n = strlen(json);
    unsigned char *b = malloc(8 + n + datalen + 1);

    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    for (size_t i = 0; i < datalen; i++)
        b[8 + n + i] = (unsigned char)i;
    *len = 8 + n + datalen;
    return b;
}

static void expect_reject_at(const void *buf, size_t len, const char *needle,
                             const char *file, int line)
{
    char err[512] = "";
    SafeTensors *st = st_parse(buf, len, err, sizeof err);

    if (st || err[0] == '\0' || !strstr(err, needle)) {
        const char *got = st ? "success" : "NULL";
        st_free(st);
        fail_msg("%s:%d: expected a rejection mentioning \"%s\"; got %s, message \"%s\"",
                 file, line, needle, got, err);
    }
}
#define REJECT(buf, len, needle) expect_reject_at(buf, len, needle, __FILE__, __LINE__)

static void reject_json_at(const char *json, size_t datalen, const char *needle,
                           const char *file, int line)
{
    size_t len;
    unsigned char *b = make_file(json, datalen, &len);

    expect_reject_at(b, len, needle, file, line);
    free(b);
}
#define REJECT_JSON(json, datalen, needle) reject_json_at(json, datalen, needle, __FILE__, __LINE__)

/* ---- round trips ---- */

static void test_dtype_table(void **state)
{
    static const struct { StDtype dt; const char *name; size_t size; } want[] = {
        { ST_F32, "F32", 4 }, { ST_F16, "F16", 2 }, { ST_BF16, "BF16", 2 },
        { ST_F64, "F64", 8 }, { ST_I64, "I64", 8 }, { ST_I32, "I32", 4 },
        { ST_I16, "I16", 2 }, { ST_I8, "I8", 1 }, { ST_U8, "U8", 1 }, { ST_BOOL, "BOOL", 1 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(st_dtype_name(want[i].dt), want[i].name);
        assert_int_equal(st_dtype_size(want[i].dt), want[i].size);
    }
    assert_null(st_dtype_name((StDtype)99));
    assert_int_equal(st_dtype_size((StDtype)-1), 0);
}

static void test_roundtrip_buffer(void **state)
{
    StWriter *w = stfix_sample_writer();
    void *buf;
    size_t len, total = stfix_sample_data_bytes();
    uint64_t n = 0;

    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | ((unsigned char *)buf)[i];
    assert_int_equal(n % 8, 0);
    assert_int_equal(len, 8 + n + total);
    assert_int_equal(((unsigned char *)buf)[8], '{');

    SafeTensors *st = stfix_parse_ok(buf, len);
    stfix_check_sample(st);
    st_free(st);
    free(buf);
    stw_free(w);
}

/* The file of st_fixture.c, parsed: values, a 0-d tensor, metadata, and an
 * F32 tensor at the start of the buffer, so 64-byte aligned. */
static void test_parse_exact(void **state)
{
    size_t len;
    unsigned char *b = stfix_exact_bytes(&len);
    SafeTensors *st = stfix_parse_ok(b, len);

    assert_int_equal(st_count(st), 2);
    assert_string_equal(st_tensor(st, 0)->name, "a");
    const float *f = st_f32(st_find(st, "a"));
    assert_non_null(f);
    if (f[0] != 1.0f || f[1] != -2.0f)
        fail_msg("a = {%g, %g}, expected {1, -2}", f[0], f[1]);
    assert_int_equal((uintptr_t)f % 64, 0);
    const StTensor *tb = st_find(st, "b");
    assert_int_equal(tb->dtype, ST_U8);
    assert_int_equal(tb->ndim, 0);
    assert_int_equal(tb->nbytes, 1);
    assert_int_equal(*(const unsigned char *)tb->data, 7);
    assert_string_equal(st_meta(st, "k"), "v");
    st_free(st);
    free(b);
}

/* An F32 tensor at an offset that is not a multiple of 4 still reads as an
 * aligned float array with the right values. */
static void test_misaligned_f32(void **state)
{
    const char *json = "{\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                       "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}";
    const float vals[2] = { 3.5f, -0.25f };
    size_t len;
    unsigned char *b = make_file(json, 9, &len);

    memcpy(b + len - 8, vals, 8);
    SafeTensors *st = stfix_parse_ok(b, len);
    const float *f = st_f32(st_find(st, "f"));
    assert_non_null(f);
    assert_int_equal((uintptr_t)f % 4, 0);
    if (f[0] != 3.5f || f[1] != -0.25f)
        fail_msg("misaligned F32 read back as %g %g", f[0], f[1]);
    st_free(st);
    free(b);
}

/* ---- rejections ---- */

static void test_truncated_prefixes(void **state)
{
    size_t len;
    unsigned char *b = stfix_exact_bytes(&len);

    for (size_t cut = 0; cut < len; cut++) {
        char err[512] = "";
        /* A copy of exactly cut bytes, so ASan sees any read past it. */
        unsigned char *p = malloc(cut ? cut : 1);
        memcpy(p, b, cut);
        SafeTensors *st = st_parse(p, cut, err, sizeof err);
        if (st || err[0] == '\0')
            fail_msg("prefix of %zu of %zu bytes: %s, message \"%s\"", cut, len,
                     st ? "accepted" : "rejected", err);
        free(p);
    }
    free(b);
}

static void test_header_length(void **state)
{
    size_t len;
    unsigned char *b = stfix_exact_bytes(&len);

    REJECT(b, 0, "too short");
    REJECT(b, 7, "too short");
    REJECT(b, 143, "header length 136 is larger than the 135 bytes that follow it");
    b[0] = 153;                        /* N = the whole file */
    REJECT(b, len, "larger than");
    memset(b, 0, 8);
    b[7] = 0x80;                       /* N = 2^63 */
    REJECT(b, len, "exceeds the limit");
    memset(b, 0xff, 8);                /* N = 2^64 - 1 */
    REJECT(b, len, "exceeds the limit");
    memset(b, 0, 8);                   /* N = 0 */
    REJECT(b, len, "does not start with '{'");
    free(b);
}

static void test_reject_json(void **state)
{
    REJECT_JSON("{not json}", 0, "not valid JSON");
    REJECT_JSON("{\"a\":", 0, "not valid JSON");
    REJECT_JSON("[1,2]", 0, "JSON object");
    REJECT_JSON("\"x\"", 0, "JSON object");
    REJECT_JSON(" {}", 0, "does not start with '{'");
    REJECT_JSON("{} x", 0, "not valid JSON");
    REJECT_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, "duplicate");
    REJECT_JSON("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],"
                "\"data_offsets\":[0,1]}}", 1, "duplicate");
    REJECT_JSON("{\"a\":{\"dtype\":\"\xff\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                "not valid JSON");
}

static void test_reject_dtype(void **state)
{
    REJECT_JSON("{\"w\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                "tensor 'w': unknown dtype \"F8\"");
    REJECT_JSON("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                "unknown dtype");
    REJECT_JSON("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                "tensor 'w': unknown dtype (not a string)");
}

static void test_reject_shape(void **state)
{
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
                "tensor 'w': shape[0] is not a non-negative integer");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,2.5],\"data_offsets\":[0,0]}}", 0,
                "shape[1] is not");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[\"3\"],\"data_offsets\":[0,3]}}", 3,
                "shape[0] is not");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[null],\"data_offsets\":[0,3]}}", 3,
                "shape[0] is not");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":3,\"data_offsets\":[0,3]}}", 3,
                "shape is not an array");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                "\"data_offsets\":[0,1]}}", 1, "9 dims, more than 8");
    /* Larger than any 64-bit integer: jansson refuses it. */
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[100000000000000000000],"
                "\"data_offsets\":[0,1]}}", 1, "not valid JSON");
    /* 2^40 * 2^40 overflows the element count. */
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1099511627776,1099511627776],"
                "\"data_offsets\":[0,1]}}", 1, "tensor 'w': shape product overflows");
    /* 2^62 elements fit, 2^64 bytes of F32 do not. */
    REJECT_JSON("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                "\"data_offsets\":[0,4]}}", 4, "overflow the byte count");
    /* A huge product that fits still has to match the offsets. */
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807],"
                "\"data_offsets\":[0,1]}}", 1, "need 9223372036854775807");
    /* A zero dim anywhere makes an empty tensor, even next to a huge one. */
    REJECT_JSON("{\"w\":{\"dtype\":\"F32\",\"shape\":[0,9223372036854775807],"
                "\"data_offsets\":[0,4]}}", 4, "need 0");
}

static void test_reject_offsets(void **state)
{
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 3,
                "tensor 'w': data_offsets end 4 is beyond the 3-byte data buffer");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775806,"
                "9223372036854775807]}}", 1, "beyond");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", 4,
                "tensor 'w': data_offsets end 2 is before begin 4");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 0,
                "data_offsets is not two non-negative integers");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 2,
                "data_offsets is not two");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
                "data_offsets is not two");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1.0]}}", 1,
                "data_offsets is not two");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{\"a\":1}}}", 1,
                "data_offsets is not two");
    /* Size mismatch: three F32 need 12 bytes, not 8. */
    REJECT_JSON("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                "tensor 'w': data_offsets span 8 bytes but 3 elements of F32 need 12");
}

static void test_reject_coverage(void **state)
{
    REJECT_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                "tensor 'b' (bytes 4..12) overlaps tensor 'a'");
    REJECT_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                "overlaps");
    /* An empty tensor inside another one is an overlap too. */
    REJECT_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8,
                "tensor 'e' (bytes 4..4) overlaps tensor 'a'");
    REJECT_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                "data bytes 4..8 belong to no tensor (a hole before tensor 'b')");
    REJECT_JSON("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                "data bytes 0..4 belong to no tensor");
    REJECT_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6,
                "data bytes 4..6 at the end of the buffer belong to no tensor");
    REJECT_JSON("{}", 1, "data bytes 0..1 at the end");
    REJECT_JSON("{\"__metadata__\":{}}", 3, "belong to no tensor");
}

static void test_reject_names_entries(void **state)
{
    REJECT_JSON("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                "NUL");
    REJECT_JSON("{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                "empty name");
    REJECT_JSON("{\"w\":[1,2]}", 0, "tensor 'w': entry is not a JSON object");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1,
                "tensor 'w': missing \"data_offsets\"");
    REJECT_JSON("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "missing \"dtype\"");
    REJECT_JSON("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1,
                "tensor 'w': unexpected key \"x\"");
    /* A hostile name is shown tamed: control bytes as '?', cut at 64. */
    REJECT_JSON("{\"\\u001b[31mred\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
                1, "tensor '?[31mred'");
    REJECT_JSON("{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");
}

static void test_reject_metadata(void **state)
{
    REJECT_JSON("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value for key 'k' is not a string");
    REJECT_JSON("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "is not a string");
    REJECT_JSON("{\"__metadata__\":{\"k\":null}}", 0, "is not a string");
    REJECT_JSON("{\"__metadata__\":{\"k\":[\"v\"]}}", 0, "is not a string");
    REJECT_JSON("{\"__metadata__\":\"x\"}", 0, "\"__metadata__\" is not a JSON object");
    REJECT_JSON("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "not valid JSON");
}

static void test_tensor_limit(void **state)
{
    const int n = 100001;
    size_t cap = (size_t)n * 64 + 16, at = 0, len;
    char *json = malloc(cap);

    assert_non_null(json);
    size_t last = 0;
    json[at++] = '{';
    for (int i = 0; i < n; i++) {
        last = at;
        at += (size_t)snprintf(json + at, cap - at,
                               "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}",
                               i ? "," : "", i);
    }
    json[at++] = '}';
    json[at] = '\0';
    unsigned char *b = make_file(json, 0, &len);
    REJECT(b, len, "100001 tensors, more than the limit of 100000");
    free(b);
    /* One fewer, all empty at offset 0, is valid. */
    at = last;              /* the last entry's comma */
    json[at++] = '}';
    json[at] = '\0';
    b = make_file(json, 0, &len);
    SafeTensors *st = stfix_parse_ok(b, len);
    assert_int_equal(st_count(st), 100000);
    assert_non_null(st_find(st, "t99999"));
    assert_non_null(st_find(st, "t0"));
    assert_null(st_find(st, "t100000"));
    st_free(st);
    free(b);
    free(json);
}

static volatile unsigned sink;     /* keeps the read-back loop from being elided */

/* Flips bytes of a valid file with a fixed seed: every result must be a
 * clean rejection or a file whose tensors all lie inside it. */
static void test_mutations(void **state)
{
    static const unsigned char interesting[] = "\"{}[],:-0123456789e.\\ \0\xff";
    StWriter *w = stfix_sample_writer();
    void *buf;
    size_t len;
    int accepted = 0, rejected = 0;

    assert_int_equal(stw_to_buffer(w, &buf, &len), 0);
    for (int iter = 0; iter < 4000; iter++) {
        /* Sometimes cut too; the copy is exactly mlen bytes for ASan. */
        size_t mlen = rng() % 8 == 0 ? (size_t)(rng() % len) : len;
        unsigned char *m = malloc(mlen ? mlen : 1);
        char err[512] = "";
        memcpy(m, buf, mlen);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips && mlen > 0; f++) {
            size_t pos = (size_t)(rng() % mlen);
            if (rng() % 2)
                m[pos] ^= (unsigned char)(1 + rng() % 255);
            else
                m[pos] = interesting[rng() % (sizeof interesting - 1)];
        }
        SafeTensors *st = st_parse(m, mlen, err, sizeof err);
        if (!st) {
            if (err[0] == '\0')
                fail_msg("iteration %d: rejected without a message", iter);
            rejected++;
        } else {
            for (int i = 0; i < st_count(st); i++) {
                const StTensor *t = st_tensor(st, i);
                size_t numel = 1;
                for (int d = 0; d < t->ndim; d++)
                    numel *= (size_t)t->shape[d];
                assert_int_equal(t->nbytes, numel * st_dtype_size(t->dtype));
                assert_true(t->nbytes <= mlen);
                for (size_t j = 0; j < t->nbytes; j++)
                    sink += ((const unsigned char *)t->data)[j];
                assert_ptr_equal(st_find(st, t->name), t);
            }
            accepted++;
            st_free(st);
        }
        free(m);
    }
    print_message("mutations: %d accepted, %d rejected\n", accepted, rejected);
    assert_true(accepted > 0 && rejected > 0);
    free(buf);
    stw_free(w);
}

static void test_load_file_rejects(void **state)
{
    char *dir = stfix_tmpdir(), path[4200], err[512] = "";
    size_t len;
    unsigned char *b = stfix_exact_bytes(&len);
    FILE *f;

    snprintf(path, sizeof path, "%s/missing", dir);
    assert_null(st_load_file(path, err, sizeof err));
    assert_non_null(strstr(err, "No such file"));
    assert_null(st_load_file(dir, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));

    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(st_load_file(path, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));

    snprintf(path, sizeof path, "%s/empty", dir);
    f = fopen(path, "wb");
    fclose(f);
    assert_null(st_load_file(path, err, sizeof err));
    assert_non_null(strstr(err, "too short"));

    /* The file without its last byte: the message names the file and why. */
    snprintf(path, sizeof path, "%s/cut", dir);
    f = fopen(path, "wb");
    assert_int_equal(fwrite(b, 1, len - 1, f), len - 1);
    fclose(f);
    assert_null(st_load_file(path, err, sizeof err));
    if (!strstr(err, path) || !strstr(err, "beyond"))
        fail_msg("unexpected message: %s", err);
    free(b);
    stfix_rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_table),
        cmocka_unit_test(test_roundtrip_buffer),
        cmocka_unit_test(test_parse_exact),
        cmocka_unit_test(test_misaligned_f32),
        cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_reject_json),
        cmocka_unit_test(test_reject_dtype),
        cmocka_unit_test(test_reject_shape),
        cmocka_unit_test(test_reject_offsets),
        cmocka_unit_test(test_reject_coverage),
        cmocka_unit_test(test_reject_names_entries),
        cmocka_unit_test(test_reject_metadata),
        cmocka_unit_test(test_tensor_limit),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_load_file_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
