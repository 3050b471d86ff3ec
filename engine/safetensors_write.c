/* safetensors_write.c: the safetensors writer. It collects borrowed tensors
 * and metadata strings, serialises them to a buffer, or writes a file
 * atomically. The format is documented at the top of safetensors.c.
 *
 * Tensors go in insertion order with contiguous offsets, so a tensor's begin
 * is the sum of the sizes before it. The header is built with jansson (which
 * keeps insertion order), "__metadata__" first as the reference writer does,
 * and padded with spaces to a multiple of 8 bytes, so the byte buffer starts
 * 8-aligned in the file (as in the reference writer). The writer does not
 * reorder tensors for alignment; the reader copies any misaligned tensor.
 *
 * A file is replaced atomically (util_write_atomic_v): a temporary file in the same directory,
 * written whole, fsync'd, renamed over the target, then the directory
 * fsync'd. A reader opens the old file or the new one, never a mix, and a
 * crash leaves one of the two (plus, at worst, a hidden temporary file).
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

#define ST_META_KEY "__metadata__"

typedef struct WData {
    const void *data;          /* borrowed */
    size_t nbytes;
} WData;

struct StWriter {
    json_t *tensors;           /* name -> entry, insertion order */
    json_t *meta;              /* key -> string */
    WData *data;               /* (count) in insertion order */
    int count, cap;
    size_t total;              /* byte buffer length so far */
};

StWriter *stw_new(void)
{
    StWriter *w = calloc(1, sizeof *w);

    if (!w)
        return NULL;
    w->tensors = json_object();
    w->meta = json_object();
    if (!w->tensors || !w->meta)
        goto fail;
    return w;

fail:
    stw_free(w);
    return NULL;
}

void stw_free(StWriter *w)
{
    if (!w)
        return;
    json_decref(w->tensors);
    json_decref(w->meta);
    free(w->data);
    free(w);
}

int stw_add(StWriter *w, const char *name, StDtype dtype, int ndim,
            const int64_t *shape, const void *data)
{
    uint64_t numel = 1, nbytes, end;
    json_t *entry = NULL, *js = NULL, *jo = NULL;

    if (!w || !name || !*name || strcmp(name, ST_META_KEY) == 0
        || st_dtype_size(dtype) == 0 || ndim < 0 || ndim > ST_MAX_DIMS
        || (ndim > 0 && !shape) || w->count >= ST_MAX_TENSORS
        || json_object_get(w->tensors, name))
        return -1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(numel, (uint64_t)shape[i], &numel))
            return -1;
    if (__builtin_mul_overflow(numel, (uint64_t)st_dtype_size(dtype), &nbytes)
        || nbytes > SIZE_MAX || (nbytes > 0 && !data)
        || __builtin_add_overflow((uint64_t)w->total, nbytes, &end)
        || end > SIZE_MAX || end > INT64_MAX)
        return -1;
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        WData *d = realloc(w->data, (size_t)cap * sizeof *d);
        if (!d)
            return -1;
        w->data = d;
        w->cap = cap;
    }
    js = json_array();
    jo = json_pack("[II]", (json_int_t)w->total, (json_int_t)end);
    if (!js || !jo)
        goto fail;
    for (int i = 0; i < ndim; i++)
        if (json_array_append_new(js, json_integer(shape[i])) < 0)
            goto fail;
    entry = json_pack("{s:s, s:O, s:O}", "dtype", st_dtype_name(dtype), "shape", js,
                      "data_offsets", jo);
    /* Fails for a name that is not valid UTF-8; consumes entry either way. */
    if (!entry || json_object_set_new(w->tensors, name, entry) < 0)
        goto fail;
    json_decref(js);
    json_decref(jo);
    w->data[w->count].data = data;
    w->data[w->count].nbytes = (size_t)nbytes;
    w->count++;
    w->total = (size_t)end;
    return 0;

fail:
    json_decref(js);
    json_decref(jo);
    return -1;
}

int stw_meta(StWriter *w, const char *key, const char *value)
{
    json_t *v;

    if (!w || !key || !value)
        return -1;
    v = json_string(value);            /* NULL unless valid UTF-8 */
    if (!v)
        return -1;
    return json_object_set_new(w->meta, key, v) < 0 ? -1 : 0;
}

/* Builds the first 8 + N bytes of the file: length field, header, padding.
 * Returns a new buffer (caller frees) or NULL. */
static unsigned char *build_header(const StWriter *w, size_t *hdrlen)
{
    json_t *root = json_object(), *v;
    unsigned char *out = NULL;
    char *text = NULL;
    const char *k;
    size_t tlen, n;

    if (!root)
        return NULL;
    if (json_object_size(w->meta) > 0 && json_object_set(root, ST_META_KEY, w->meta) < 0)
        goto done;
    json_object_foreach(w->tensors, k, v)
        if (json_object_set(root, k, v) < 0)
            goto done;
    text = json_dumps(root, JSON_COMPACT);
    if (!text)
        goto done;
    tlen = strlen(text);
    n = (tlen + 7) / 8 * 8;
    out = malloc(8 + n);
    if (!out)
        goto done;
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(out + 8, text, tlen);
    memset(out + 8 + tlen, ' ', n - tlen);
    *hdrlen = 8 + n;

done:
    free(text);
    json_decref(root);
    return out;
}

int stw_to_buffer(StWriter *w, void **buf, size_t *len)
{
    unsigned char *hdr, *out;
    size_t hlen, at;

    if (!w || !buf || !len)
        return -1;
    hdr = build_header(w, &hlen);
    if (!hdr)
        return -1;
    if (w->total > SIZE_MAX - hlen || !(out = malloc(hlen + w->total ? hlen + w->total : 1))) {
        free(hdr);
        return -1;
    }
    memcpy(out, hdr, hlen);
    at = hlen;
    for (int i = 0; i < w->count; i++) {
        if (w->data[i].nbytes > 0)
            memcpy(out + at, w->data[i].data, w->data[i].nbytes);
        at += w->data[i].nbytes;
    }
    free(hdr);
    *buf = out;
    *len = at;
    return 0;
}

int stw_write_file(StWriter *w, const char *path, char *err, size_t errlen)
{
    unsigned char *hdr;
    struct iovec *iov;
    size_t hlen;
    int rc;

    if (!w || !path || !*path) {
        util_errf(err, errlen, "no writer or no path");
        return -1;
    }
    hdr = build_header(w, &hlen);
    iov = malloc((size_t)(w->count + 1) * sizeof *iov);
    if (!hdr || !iov) {
        util_errf(err, errlen, "%s: out of memory building the header", path);
        free(hdr);
        free(iov);
        return -1;
    }
    iov[0] = (struct iovec){ hdr, hlen };
    for (int i = 0; i < w->count; i++)
        iov[i + 1] = (struct iovec){ (void *)w->data[i].data, w->data[i].nbytes };
    /* Atomic and durable: no directory scan ever sees part of a model. */
    rc = util_write_atomic_v(path, iov, w->count + 1, err, errlen);
    free(iov);
    free(hdr);
    return rc;
}
