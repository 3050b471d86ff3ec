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

/* Reads and validates a whole file. Returns a new SafeTensors; caller frees
 * with st_free(). On error returns NULL and writes a message to err. */
SafeTensors *st_load_file(const char *path, char *err, size_t errlen);

/* Validates buf[0..len) and copies it. Same contract as st_load_file. */
SafeTensors *st_parse(const void *buf, size_t len, char *err, size_t errlen);

void st_free(SafeTensors *st);                         /* accepts NULL */
int st_count(const SafeTensors *st);
const StTensor *st_tensor(const SafeTensors *st, int i); /* 0 <= i < count */
const StTensor *st_find(const SafeTensors *st, const char *name); /* NULL if absent */
/* The __metadata__ string value for key, or NULL. Borrowed from st. */
const char *st_meta(const SafeTensors *st, const char *key);
size_t st_dtype_size(StDtype dt);
const char *st_dtype_name(StDtype dt);
/* Float32 data of t as an aligned pointer (the loader keeps the data area
 * 64-byte aligned in memory). NULL unless t is F32. */
const float *st_f32(const StTensor *t);

/* Writer: collects tensors and metadata, then writes one file atomically
 * (temp file in the same directory, fsync, rename, fsync of the directory).
 * Tensor data is borrowed until stw_write_file() returns. */
typedef struct StWriter StWriter;
StWriter *stw_new(void);
void stw_free(StWriter *w);                            /* accepts NULL */
int stw_add(StWriter *w, const char *name, StDtype dtype, int ndim,
            const int64_t *shape, const void *data);   /* 0 or -1 */
int stw_meta(StWriter *w, const char *key, const char *value); /* 0 or -1 */
/* Serialises to a new malloc'd buffer; caller frees. 0 or -1. */
int stw_to_buffer(StWriter *w, void **buf, size_t *len);
int stw_write_file(StWriter *w, const char *path, char *err, size_t errlen);

#endif
