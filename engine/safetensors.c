/* safetensors.c: the safetensors format and its reader (validation and the
 * aligned in-memory copy). The writer is in safetensors_write.c.
 *
 * The file, byte by byte (integers little-endian):
 *
 *   offset   size  field
 *   0        8     N, a u64: the length of the JSON header in bytes
 *   8        N     the header: UTF-8 JSON text whose first byte is '{'. It may
 *                  end with spaces (0x20); writers pad it so that N is a
 *                  multiple of 8, which puts the byte buffer 8-aligned in the
 *                  file
 *   8+N      L     the byte buffer: all tensor data, L = file length - 8 - N
 *
 * The header is one JSON object:
 *
 *   { "__metadata__": { "<key>": "<string>", ... },             (optional)
 *     "<name>": { "dtype": "F32", "shape": [d0, d1, ...],
 *                 "data_offsets": [begin, end] },
 *     ... }
 *
 *   dtype         F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL, element sizes
 *                 4   2   2    8   8   4   2   1  1  1
 *   shape         0..ST_MAX_DIMS non-negative integers; [] is a scalar (one
 *                 element), a 0 dim makes an empty tensor
 *   data_offsets  byte offsets into the byte buffer (not the file):
 *                 begin <= end <= L, end - begin == product(shape) * size
 *
 * Elements are stored row-major, little-endian. Sorted by offset, the tensors
 * cover the byte buffer exactly: the first begins at 0, each begins where
 * the previous one ends, the last ends at L. A hole or an overlap is an error.
 *
 * Limits this reader adds: N <= 100,000,000 (the reference implementation's
 * limit), at most ST_MAX_TENSORS tensors, files up to 4 GiB; no duplicate
 * keys anywhere; a tensor entry has exactly the three keys above; names are
 * non-empty and contain no NUL; metadata values are strings.
 *
 * In memory (our choice, not the format's): one posix_memalign'd block holds
 * the whole file, placed so that the byte buffer starts on a 64-byte
 * boundary. A tensor whose begin is a multiple of its element size is then
 * naturally aligned where it lies. The format does not promise that (a
 * writer may put a 3-byte U8 tensor before an F32 one), so each tensor whose
 * begin is not a multiple of its element size is copied once, at load, into
 * a second 64-byte-aligned block, and its data points there. Files whose
 * tensors are naturally aligned, as the reference writer's are, cost exactly
 * one copy of the file.
 */
#include "engine/safetensors.h"
#include "engine/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER  100000000ull
#define ST_MAX_FILE    (4ull << 30)
#define ST_ALIGN       64
#define ST_META_KEY    "__metadata__"

struct SafeTensors {
    unsigned char *mem;        /* the file; its byte buffer is 64-aligned */
    unsigned char *side;       /* aligned copies of misaligned tensors, or NULL */
    char *strings;             /* names, metadata keys and values, NUL-ended */
    StTensor *tensors;         /* (count) in header order */
    const StTensor **by_name;  /* (count) sorted by name, for st_find */
    int count;
    const char **meta;         /* (2 * nmeta) key, value, key, value, ... */
    int nmeta;
};

/* Where one tensor lies in the byte buffer, for the coverage check. */
typedef struct Span {
    uint64_t begin, end;
    int idx;
} Span;

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [ST_F32] = { "F32", 4 }, [ST_F16] = { "F16", 2 }, [ST_BF16] = { "BF16", 2 },
    [ST_F64] = { "F64", 8 }, [ST_I64] = { "I64", 8 }, [ST_I32] = { "I32", 4 },
    [ST_I16] = { "I16", 2 }, [ST_I8] = { "I8", 1 }, [ST_U8] = { "U8", 1 },
    [ST_BOOL] = { "BOOL", 1 },
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

/* A name from a hostile file, fit for an error message: at most 64 bytes,
 * anything but printable ASCII shown as '?', so messages stay valid UTF-8
 * and cannot carry terminal escapes into logs. */
static const char *shown(const char *s, char out[72])
{
    size_t i = 0;

    for (; s[i] && i < 64; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

size_t st_dtype_size(StDtype dt)
{
    return ((int)dt >= 0 && (int)dt < NDTYPES) ? dtypes[dt].size : 0;
}

const char *st_dtype_name(StDtype dt)
{
    return ((int)dt >= 0 && (int)dt < NDTYPES) ? dtypes[dt].name : NULL;
}

static int dtype_from_name(const char *s, StDtype *dt)
{
    for (int i = 0; i < NDTYPES; i++) {
        if (strcmp(s, dtypes[i].name) == 0) {
            *dt = (StDtype)i;
            return 0;
        }
    }
    return -1;
}

static uint64_t read_u64le(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Checks the 8-byte length field against the total length. On success sets
 * *hlen to N. */
static int check_prefix(const unsigned char *p, uint64_t total, size_t *hlen,
                        char *err, size_t errlen)
{
    uint64_t n;

    if (total < 8) {
        util_errf(err, errlen, "file is %llu bytes, too short for the 8-byte header length",
               (unsigned long long)total);
        return -1;
    }
    n = read_u64le(p);
    if (n > ST_MAX_HEADER) {
        util_errf(err, errlen, "header length %llu exceeds the limit of %llu bytes",
               (unsigned long long)n, ST_MAX_HEADER);
        return -1;
    }
    if (n > total - 8) {
        util_errf(err, errlen, "header length %llu is larger than the %llu bytes that follow it",
               (unsigned long long)n, (unsigned long long)(total - 8));
        return -1;
    }
    *hlen = (size_t)n;
    return 0;
}

/* Allocates room for a len-byte file whose header is hlen bytes, such that
 * the byte buffer will start 64-aligned; *off is where the file goes. */
static unsigned char *alloc_file(size_t hlen, size_t len, size_t *off)
{
    size_t pad = (ST_ALIGN - (8 + hlen) % ST_ALIGN) % ST_ALIGN;
    void *mem;

    if (len > SIZE_MAX - pad || posix_memalign(&mem, ST_ALIGN, pad + len) != 0)
        return NULL;
    *off = pad;
    return mem;
}

/* Copies a NUL-free string of len bytes into the pool. The pool has room
 * for the whole header text, and every string it receives came out of that
 * text with its two quotes, which are at least as long as the string plus
 * its NUL (escapes only shrink when decoded); the check is a backstop. */
static const char *pool_add(SafeTensors *st, size_t *used, size_t cap,
                            const char *s, size_t len)
{
    char *dst;

    if (len >= cap - *used)
        return NULL;
    dst = st->strings + *used;
    memcpy(dst, s, len);
    dst[len] = '\0';
    *used += len + 1;
    return dst;
}

/* Validates one tensor entry and fills t (but for data) and sp. */
static int parse_entry(const char *name, json_t *v, uint64_t buflen,
                       StTensor *t, Span *sp, char *err, size_t errlen)
{
    char nm[72];
    json_t *jd, *js, *jo, *x;
    const char *k;
    uint64_t numel = 1, nbytes;
    json_int_t b, e;
    size_t i;

    shown(name, nm);
    if (!json_is_object(v)) {
        util_errf(err, errlen, "tensor '%s': entry is not a JSON object", nm);
        return -1;
    }
    json_object_foreach(v, k, x) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets")) {
            char kk[72];
            util_errf(err, errlen, "tensor '%s': unexpected key \"%s\" (an entry has exactly "
                   "dtype, shape and data_offsets)", nm, shown(k, kk));
            return -1;
        }
    }
    jd = json_object_get(v, "dtype");
    js = json_object_get(v, "shape");
    jo = json_object_get(v, "data_offsets");
    if (!jd || !js || !jo) {
        util_errf(err, errlen, "tensor '%s': missing \"%s\"", nm,
               !jd ? "dtype" : !js ? "shape" : "data_offsets");
        return -1;
    }

    if (!json_is_string(jd) || dtype_from_name(json_string_value(jd), &t->dtype) < 0) {
        char dd[72];
        util_errf(err, errlen, "tensor '%s': unknown dtype %s%s%s", nm,
               json_is_string(jd) ? "\"" : "",
               json_is_string(jd) ? shown(json_string_value(jd), dd) : "(not a string)",
               json_is_string(jd) ? "\"" : "");
        return -1;
    }

    if (!json_is_array(js)) {
        util_errf(err, errlen, "tensor '%s': shape is not an array", nm);
        return -1;
    }
    if (json_array_size(js) > ST_MAX_DIMS) {
        util_errf(err, errlen, "tensor '%s': shape has %zu dims, more than %d", nm,
               json_array_size(js), ST_MAX_DIMS);
        return -1;
    }
    t->ndim = (int)json_array_size(js);
    json_array_foreach(js, i, x) {
        if (!json_is_integer(x) || json_integer_value(x) < 0) {
            util_errf(err, errlen, "tensor '%s': shape[%zu] is not a non-negative integer", nm, i);
            return -1;
        }
        t->shape[i] = json_integer_value(x);
        if (__builtin_mul_overflow(numel, (uint64_t)t->shape[i], &numel)) {
            util_errf(err, errlen, "tensor '%s': shape product overflows 64 bits", nm);
            return -1;
        }
    }
    if (__builtin_mul_overflow(numel, (uint64_t)dtypes[t->dtype].size, &nbytes)
        || nbytes > SIZE_MAX) {
        util_errf(err, errlen, "tensor '%s': %llu elements of %s overflow the byte count", nm,
               (unsigned long long)numel, dtypes[t->dtype].name);
        return -1;
    }

    if (!json_is_array(jo) || json_array_size(jo) != 2
        || !json_is_integer(json_array_get(jo, 0)) || !json_is_integer(json_array_get(jo, 1))
        || json_integer_value(json_array_get(jo, 0)) < 0
        || json_integer_value(json_array_get(jo, 1)) < 0) {
        util_errf(err, errlen, "tensor '%s': data_offsets is not two non-negative integers", nm);
        return -1;
    }
    b = json_integer_value(json_array_get(jo, 0));
    e = json_integer_value(json_array_get(jo, 1));
    if (e < b) {
        util_errf(err, errlen, "tensor '%s': data_offsets end %lld is before begin %lld", nm,
               (long long)e, (long long)b);
        return -1;
    }
    if ((uint64_t)e > buflen) {
        util_errf(err, errlen, "tensor '%s': data_offsets end %lld is beyond the %llu-byte data "
               "buffer", nm, (long long)e, (unsigned long long)buflen);
        return -1;
    }
    if ((uint64_t)(e - b) != nbytes) {
        util_errf(err, errlen, "tensor '%s': data_offsets span %llu bytes but %llu elements of "
               "%s need %llu", nm, (unsigned long long)(e - b), (unsigned long long)numel,
               dtypes[t->dtype].name, (unsigned long long)nbytes);
        return -1;
    }
    t->nbytes = (size_t)nbytes;
    sp->begin = (uint64_t)b;
    sp->end = (uint64_t)e;
    return 0;
}

static int cmp_span(const void *pa, const void *pb)
{
    const Span *a = pa, *b = pb;

    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int cmp_name(const void *pa, const void *pb)
{
    const StTensor *const *a = pa, *const *b = pb;

    return strcmp((*a)->name, (*b)->name);
}

/* Checks that the spans, sorted, tile [0, buflen) exactly. */
static int check_coverage(const SafeTensors *st, Span *sp, uint64_t buflen,
                          char *err, size_t errlen)
{
    char n1[72], n2[72];
    uint64_t at = 0;
    int last = -1;

    qsort(sp, (size_t)st->count, sizeof *sp, cmp_span);
    for (int i = 0; i < st->count; i++) {
        const char *name = st->tensors[sp[i].idx].name;
        if (sp[i].begin < at) {
            util_errf(err, errlen, "tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' "
                   "(ending at %llu)", shown(name, n1), (unsigned long long)sp[i].begin,
                   (unsigned long long)sp[i].end, shown(st->tensors[last].name, n2),
                   (unsigned long long)at);
            return -1;
        }
        if (sp[i].begin > at) {
            util_errf(err, errlen, "data bytes %llu..%llu belong to no tensor (a hole before "
                   "tensor '%s')", (unsigned long long)at, (unsigned long long)sp[i].begin,
                   shown(name, n1));
            return -1;
        }
        if (sp[i].end > at || last < 0) {
            at = sp[i].end;
            last = sp[i].idx;
        }
    }
    if (at != buflen) {
        util_errf(err, errlen, "data bytes %llu..%llu at the end of the buffer belong to no "
               "tensor", (unsigned long long)at, (unsigned long long)buflen);
        return -1;
    }
    return 0;
}

/* Points every tensor at its data: in place when aligned for its dtype,
 * else in the side block (see the top of the file). sp is one span per
 * tensor, in any order. */
static int place_data(SafeTensors *st, const Span *sp, unsigned char *buf,
                      char *err, size_t errlen)
{
    size_t side = 0, at = 0;

    for (int i = 0; i < st->count; i++) {
        const StTensor *t = &st->tensors[sp[i].idx];
        if (t->nbytes > 0 && sp[i].begin % dtypes[t->dtype].size != 0) {
            size_t r = (t->nbytes + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN;
            if (r < t->nbytes || __builtin_add_overflow(side, r, &side)) {
                util_errf(err, errlen, "out of memory placing misaligned tensors");
                return -1;
            }
        }
    }
    if (side > 0) {
        void *p;
        if (posix_memalign(&p, ST_ALIGN, side) != 0) {
            util_errf(err, errlen, "out of memory (%zu bytes for misaligned tensors)", side);
            return -1;
        }
        st->side = p;
    }
    for (int i = 0; i < st->count; i++) {
        StTensor *t = &st->tensors[sp[i].idx];
        if (t->nbytes == 0) {
            t->data = buf;     /* aligned, never read */
        } else if (sp[i].begin % dtypes[t->dtype].size != 0) {
            memcpy(st->side + at, buf + sp[i].begin, t->nbytes);
            t->data = st->side + at;
            at += (t->nbytes + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN;
        } else {
            t->data = buf + sp[i].begin;
        }
    }
    return 0;
}

static int parse_metadata(SafeTensors *st, json_t *meta, size_t *used, size_t cap,
                          char *err, size_t errlen)
{
    const char *k;
    size_t klen;
    json_t *v;
    char kk[72];

    if (!json_is_object(meta)) {
        util_errf(err, errlen, "\"" ST_META_KEY "\" is not a JSON object");
        return -1;
    }
    st->meta = calloc(2 * json_object_size(meta) + 1, sizeof *st->meta);
    if (!st->meta) {
        util_errf(err, errlen, "out of memory");
        return -1;
    }
    json_object_keylen_foreach(meta, k, klen, v) {
        const char *val = json_string_value(v);
        if (!json_is_string(v)) {
            util_errf(err, errlen, ST_META_KEY " value for key '%s' is not a string",
                   shown(k, kk));
            return -1;
        }
        if (strlen(k) != klen || strlen(val) != json_string_length(v)) {
            util_errf(err, errlen, ST_META_KEY " entry '%s' contains a NUL byte", shown(k, kk));
            return -1;
        }
        st->meta[2 * st->nmeta] = pool_add(st, used, cap, k, klen);
        st->meta[2 * st->nmeta + 1] = pool_add(st, used, cap, val, strlen(val));
        if (!st->meta[2 * st->nmeta] || !st->meta[2 * st->nmeta + 1]) {
            util_errf(err, errlen, "header strings overflow their pool");
            return -1;
        }
        st->nmeta++;
    }
    return 0;
}

/* Validates the file at mem + off (len bytes, header hlen bytes, length
 * field already checked) and takes ownership of mem, freeing it on error. */
static SafeTensors *parse_owned(unsigned char *mem, size_t off, size_t len, size_t hlen,
                                char *err, size_t errlen)
{
    const char *hdr = (const char *)mem + off + 8;
    unsigned char *buf = mem + off + 8 + hlen;
    uint64_t buflen = len - 8 - hlen;
    SafeTensors *st = NULL;
    json_t *root = NULL, *meta, *v;
    json_error_t jerr;
    Span *sp = NULL;
    const char *k;
    size_t klen, used = 0, ntensors;
    char nm[72];

    st = calloc(1, sizeof *st);
    if (!st) {
        free(mem);
        util_errf(err, errlen, "out of memory");
        return NULL;
    }
    st->mem = mem;
    if (hlen == 0 || hdr[0] != '{') {
        util_errf(err, errlen, "header does not start with '{' (it must be a JSON object)");
        goto fail;
    }
    root = json_loadb(hdr, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        util_errf(err, errlen, "header is not valid JSON: %s (line %d, column %d)",
               jerr.text, jerr.line, jerr.column);
        goto fail;
    }
    if (!json_is_object(root)) {
        util_errf(err, errlen, "header is not a JSON object");
        goto fail;
    }
    meta = json_object_get(root, ST_META_KEY);
    ntensors = json_object_size(root) - (meta != NULL);
    if (ntensors > ST_MAX_TENSORS) {
        util_errf(err, errlen, "header lists %zu tensors, more than the limit of %d",
               ntensors, ST_MAX_TENSORS);
        goto fail;
    }
    st->strings = malloc(hlen);
    st->tensors = calloc(ntensors + 1, sizeof *st->tensors);
    st->by_name = calloc(ntensors + 1, sizeof *st->by_name);
    sp = calloc(ntensors + 1, sizeof *sp);
    if (!st->strings || !st->tensors || !st->by_name || !sp) {
        util_errf(err, errlen, "out of memory");
        goto fail;
    }
    if (meta && parse_metadata(st, meta, &used, hlen, err, errlen) < 0)
        goto fail;

    json_object_keylen_foreach(root, k, klen, v) {
        StTensor *t = &st->tensors[st->count];
        if (v == meta)
            continue;
        if (klen == 0) {
            util_errf(err, errlen, "tensor %d has an empty name", st->count);
            goto fail;
        }
        if (strlen(k) != klen) {
            util_errf(err, errlen, "tensor '%s' has a NUL byte in its name", shown(k, nm));
            goto fail;
        }
        if (parse_entry(k, v, buflen, t, &sp[st->count], err, errlen) < 0)
            goto fail;
        t->name = pool_add(st, &used, hlen, k, klen);
        if (!t->name) {
            util_errf(err, errlen, "header strings overflow their pool");
            goto fail;
        }
        sp[st->count].idx = st->count;
        st->by_name[st->count] = t;
        st->count++;
    }
    if (check_coverage(st, sp, buflen, err, errlen) < 0)
        goto fail;
    if (place_data(st, sp, buf, err, errlen) < 0)
        goto fail;
    qsort(st->by_name, (size_t)st->count, sizeof *st->by_name, cmp_name);
    json_decref(root);
    free(sp);
    return st;

fail:
    json_decref(root);
    free(sp);
    st_free(st);
    return NULL;
}

SafeTensors *st_parse(const void *buf, size_t len, char *err, size_t errlen)
{
    unsigned char *mem;
    size_t hlen, off;

    if (!buf && len > 0) {
        util_errf(err, errlen, "no buffer");
        return NULL;
    }
    if (check_prefix(buf, len, &hlen, err, errlen) < 0)
        return NULL;
    mem = alloc_file(hlen, len, &off);
    if (!mem) {
        util_errf(err, errlen, "out of memory (%zu bytes)", len);
        return NULL;
    }
    memcpy(mem + off, buf, len);
    return parse_owned(mem, off, len, hlen, err, errlen);
}

/* Reads up to len bytes; returns how many were read (short only at end of
 * file) or -1 with errno set. */
static ssize_t read_full(int fd, unsigned char *p, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

SafeTensors *st_load_file(const char *path, char *err, size_t errlen)
{
    unsigned char pre[8], *mem = NULL;
    SafeTensors *st;
    char inner[256];
    struct stat sb;
    size_t len, hlen, off;
    ssize_t got;
    int fd;

    if (!path) {
        util_errf(err, errlen, "no path");
        return NULL;
    }
    /* O_NONBLOCK so that a FIFO in place of a model cannot hang the open. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &sb) < 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        util_errf(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)sb.st_size > ST_MAX_FILE) {
        util_errf(err, errlen, "%s: %lld bytes, more than the 4 GiB limit", path,
               (long long)sb.st_size);
        goto fail;
    }
    len = (size_t)sb.st_size;
    got = read_full(fd, pre, len < 8 ? len : 8);
    if (got < 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if ((size_t)got != (len < 8 ? len : 8)) {
        util_errf(err, errlen, "%s: file shrank while being read", path);
        goto fail;
    }
    if (check_prefix(pre, len, &hlen, inner, sizeof inner) < 0) {
        util_errf(err, errlen, "%s: %s", path, inner);
        goto fail;
    }
    mem = alloc_file(hlen, len, &off);
    if (!mem) {
        util_errf(err, errlen, "%s: out of memory (%zu bytes)", path, len);
        goto fail;
    }
    memcpy(mem + off, pre, 8);
    got = read_full(fd, mem + off + 8, len - 8);
    if (got < 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if ((size_t)got != len - 8) {
        util_errf(err, errlen, "%s: file shrank while being read", path);
        goto fail;
    }
    close(fd);
    st = parse_owned(mem, off, len, hlen, inner, sizeof inner);
    if (!st)
        util_errf(err, errlen, "%s: %s", path, inner);
    return st;

fail:
    free(mem);
    close(fd);
    return NULL;
}

void st_free(SafeTensors *st)
{
    if (!st)
        return;
    free(st->mem);
    free(st->side);
    free(st->strings);
    free(st->tensors);
    free(st->by_name);
    free(st->meta);
    free(st);
}

int st_count(const SafeTensors *st)
{
    return st ? st->count : 0;
}

const StTensor *st_tensor(const SafeTensors *st, int i)
{
    return (st && i >= 0 && i < st->count) ? &st->tensors[i] : NULL;
}

const StTensor *st_find(const SafeTensors *st, const char *name)
{
    int lo = 0, hi;

    if (!st || !name)
        return NULL;
    hi = st->count;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->by_name[mid]->name);
        if (c == 0)
            return st->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *st_meta(const SafeTensors *st, const char *key)
{
    if (!st || !key)
        return NULL;
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta[2 * i], key) == 0)
            return st->meta[2 * i + 1];
    return NULL;
}

const float *st_f32(const StTensor *t)
{
    if (!t || t->dtype != ST_F32)
        return NULL;
    return (const float *)t->data;
}
