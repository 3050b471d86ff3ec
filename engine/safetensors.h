/* safetensors.h: reading and writing the safetensors format.
 *
 * The format (https://github.com/huggingface/safetensors), byte by byte, is
 * documented at the top of safetensors.c. Files and uploads are hostile:
 * every length, offset, dtype and shape product is checked before use, and a
 * broken file is an error with a message, never a crash.
 */
#ifndef ATELIER_SAFETENSORS_H
#define ATELIER_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
#define ST_MAX_TENSORS 100000  /* per file; the writer refuses more too */

typedef enum StDtype {
    ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL
} StDtype;

typedef struct StTensor {
    const char *name;          /* NUL-terminated, owned by the SafeTensors */
    StDtype dtype;
    int ndim;                  /* 0..ST_MAX_DIMS */
    int64_t shape[ST_MAX_DIMS];
    const void *data;          /* points into the file buffer, 8-byte aligned
                                  relative to the buffer start is NOT promised */
    size_t nbytes;             /* == numel * dtype size, checked */
} StTensor;

typedef struct SafeTensors SafeTensors;

/* Reads and validates a whole file (a regular file of at most 4 GiB).
 * Returns a new SafeTensors; caller frees with st_free(). Tensors are in
 * header order. On error returns NULL and writes a message, starting with
 * the path, to err (which may be NULL). */
SafeTensors *st_load_file(const char *path, char *err, size_t errlen);

/* Validates buf[0..len) and copies it. Same contract as st_load_file. */
SafeTensors *st_parse(const void *buf, size_t len, char *err, size_t errlen);

void st_free(SafeTensors *st);                         /* accepts NULL */
int st_count(const SafeTensors *st);
const StTensor *st_tensor(const SafeTensors *st, int i); /* 0 <= i < count */
const StTensor *st_find(const SafeTensors *st, const char *name); /* NULL if absent */
/* The __metadata__ string value for key, or NULL. Borrowed from st. */
const char *st_meta(const SafeTensors *st, const char *key);
/* Bytes per element (4 for ST_F32), 0 for a value outside StDtype. */
size_t st_dtype_size(StDtype dt);
/* The format's name ("F32", "BF16", ...), a static string; NULL for a value
 * outside StDtype. */
const char *st_dtype_name(StDtype dt);
/* Float32 data of t as an aligned pointer (the loader keeps the data area
 * 64-byte aligned in memory). NULL unless t is F32. */
const float *st_f32(const StTensor *t);

/* Writer: collects tensors and metadata, then writes one file atomically
 * (temp file in the same directory, fsync, rename, fsync of the directory).
 * Tensor data is borrowed until stw_write_file() returns. */
typedef struct StWriter StWriter;
StWriter *stw_new(void);                               /* NULL if out of memory */
void stw_free(StWriter *w);                            /* accepts NULL */
/* Appends a tensor (offsets follow insertion order). Copies name and shape,
 * borrows data (numel * dtype size bytes; may be NULL when that is 0).
 * Returns -1 and changes nothing for an empty, duplicate, non-UTF-8 or
 * "__metadata__" name, a bad dtype, ndim or dim, a size overflow, or more
 * than ST_MAX_TENSORS tensors. */
int stw_add(StWriter *w, const char *name, StDtype dtype, int ndim,
            const int64_t *shape, const void *data);   /* 0 or -1 */
/* Sets a __metadata__ entry (copied; a second call for a key replaces its
 * value). -1 for NULL or non-UTF-8 strings. */
int stw_meta(StWriter *w, const char *key, const char *value); /* 0 or -1 */
/* Serialises to a new malloc'd buffer; caller frees. 0 or -1. */
int stw_to_buffer(StWriter *w, void **buf, size_t *len);
/* Writes the file at path (mode 0644) atomically. Returns 0, or -1 with a
 * message in err; on failure before the rename the target is untouched and
 * the temporary file removed. If only the final directory fsync fails, the
 * new file is in place and -1 says it may not yet be durable. */
int stw_write_file(StWriter *w, const char *path, char *err, size_t errlen);

#endif
