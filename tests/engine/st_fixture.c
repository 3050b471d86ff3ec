/* st_fixture.c: shared by the safetensors tests: a sample writer that uses
 * every dtype, its checker, a file known byte for byte, temporary
 * directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/engine/st_fixture.h"

SafeTensors *stfix_parse_ok(const void *buf, size_t len)
{
    char err[512] = "";
    SafeTensors *st = st_parse(buf, len, err, sizeof err);

    if (!st)
        fail_msg("st_parse failed: %s", err);
    return st;
}

char *stfix_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = malloc(4096);

    assert_non_null(dir);
    snprintf(dir, 4096, "%s/st_test_XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    return remove(p);
}

void stfix_rm_tree(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

int stfix_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

unsigned char *stfix_read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

typedef struct Sample {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
} Sample;

/* The odd-sized U8 puts the tensors after it off their natural alignment,
 * which exercises the reader's aligned copies. */
static const Sample samples[] = {
    { "conv.weight", ST_F32, 4, { 2, 3, 1, 1 } },
    { "u8", ST_U8, 1, { 3 } },
    { "half", ST_F16, 1, { 5 } },
    { "bf", ST_BF16, 2, { 2, 2 } },
    { "f64", ST_F64, 1, { 3 } },
    { "i64", ST_I64, 1, { 2 } },
    { "i32", ST_I32, 2, { 1, 3 } },
    { "i16", ST_I16, 1, { 3 } },
    { "i8", ST_I8, 1, { 7 } },
    { "flag", ST_BOOL, 1, { 4 } },
    { "scalar", ST_F32, 0, { 0 } },
    { "empty", ST_F32, 2, { 0, 3 } },
    { "empty_u8", ST_U8, 1, { 0 } },
    { "tail", ST_F32, 1, { 3 } },
};
#define NSAMPLES ((int)(sizeof samples / sizeof samples[0]))
static const char *meta_spec = "{\"layers\":[[\"conv\",3,32,9,1]]}";
static const char *meta_uni = "\xc3\xbcn\xc3\xaf \xe6\x9d\xb1\xe4\xba\xac";

static size_t sample_nbytes(const Sample *s)
{
    size_t n = st_dtype_size(s->dtype);

    for (int d = 0; d < s->ndim; d++)
        n *= (size_t)s->shape[d];
    return n;
}

size_t stfix_sample_data_bytes(void)
{
    size_t total = 0;

    for (int i = 0; i < NSAMPLES; i++)
        total += sample_nbytes(&samples[i]);
    return total;
}

/* Sample i's data: a byte pattern distinct per tensor (zero-length
 * tensors get a NULL pointer, which the writer must accept). */
static unsigned char sample_data[NSAMPLES][64];

StWriter *stfix_sample_writer(void)
{
    StWriter *w = stw_new();

    assert_non_null(w);
    for (int i = 0; i < NSAMPLES; i++) {
        const Sample *s = &samples[i];
        size_t n = sample_nbytes(s);
        assert_true(n <= sizeof sample_data[i]);
        for (size_t j = 0; j < n; j++)
            sample_data[i][j] = (unsigned char)(17 * i + 3 * j + 1);
        assert_int_equal(stw_add(w, s->name, s->dtype, s->ndim, s->shape,
                                 n ? sample_data[i] : NULL), 0);
    }
    assert_int_equal(stw_meta(w, "spec", meta_spec), 0);
    assert_int_equal(stw_meta(w, "unicode", meta_uni), 0);
    assert_int_equal(stw_meta(w, "empty", ""), 0);
    return w;
}

void stfix_check_sample(const SafeTensors *st)
{
    assert_int_equal(st_count(st), NSAMPLES);
    for (int i = 0; i < NSAMPLES; i++) {
        const Sample *s = &samples[i];
        const StTensor *t = st_tensor(st, i);
        size_t n = sample_nbytes(s);
        assert_non_null(t);
        if (strcmp(t->name, s->name) != 0)
            fail_msg("tensor %d: name '%s', expected '%s'", i, t->name, s->name);
        assert_ptr_equal(st_find(st, s->name), t);
        assert_int_equal(t->dtype, s->dtype);
        assert_int_equal(t->ndim, s->ndim);
        for (int d = 0; d < s->ndim; d++)
            assert_int_equal(t->shape[d], s->shape[d]);
        assert_int_equal(t->nbytes, n);
        if (n > 0 && memcmp(t->data, sample_data[i], n) != 0)
            fail_msg("tensor '%s': data differs", s->name);
        if ((uintptr_t)t->data % st_dtype_size(t->dtype) != 0)
            fail_msg("tensor '%s': data at %p is not %zu-aligned", s->name, t->data,
                     st_dtype_size(t->dtype));
        if (t->dtype == ST_F32) {
            assert_ptr_equal(st_f32(t), t->data);
            assert_int_equal((uintptr_t)st_f32(t) % 4, 0);
        } else {
            assert_null(st_f32(t));
        }
    }
    assert_null(st_find(st, "missing"));
    assert_null(st_find(st, ""));
    assert_null(st_tensor(st, NSAMPLES));
    assert_null(st_tensor(st, -1));
    assert_string_equal(st_meta(st, "spec"), meta_spec);
    assert_string_equal(st_meta(st, "unicode"), meta_uni);
    assert_string_equal(st_meta(st, "empty"), "");
    assert_null(st_meta(st, "missing"));
}

/* The exact bytes, worked out by hand: N = 136 (the 130-byte header and
 * six spaces), the header, 1.0f and -2.0f little-endian, then the byte 7. */
static const char exact_header[] =
    "{\"__metadata__\":{\"k\":\"v\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[8,9]}}      ";

unsigned char *stfix_exact_bytes(size_t *len)
{
    static const unsigned char prefix[8] = { 0x88, 0, 0, 0, 0, 0, 0, 0 };
    static const unsigned char data[9] = { 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7 };
    unsigned char *b = malloc(153);

    assert_int_equal(sizeof exact_header - 1, 136);
    assert_non_null(b);
    memcpy(b, prefix, 8);
    memcpy(b + 8, exact_header, 136);
    memcpy(b + 144, data, 9);
    *len = 153;
    return b;
}
