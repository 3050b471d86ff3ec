/* st_fixture.h: helpers shared by the safetensors tests (st_fixture.c).
 * Each fails the running cmocka test on error, so callers need not check. */
#ifndef ATELIER_TESTS_ST_FIXTURE_H
#define ATELIER_TESTS_ST_FIXTURE_H

#include <stddef.h>

#include "engine/safetensors.h"

/* st_parse that must succeed; prints the message and fails otherwise. */
SafeTensors *stfix_parse_ok(const void *buf, size_t len);

/* A writer holding the sample: every dtype, a 0-d tensor, empty tensors,
 * tensors off their natural alignment, and three metadata entries. Caller
 * frees with stw_free(). */
StWriter *stfix_sample_writer(void);
/* Checks that st holds exactly the sample, in order, with aligned data. */
void stfix_check_sample(const SafeTensors *st);
/* The sample's byte buffer length (sum of the tensor sizes). */
size_t stfix_sample_data_bytes(void);

/* A 153-byte file known byte for byte: metadata {"k":"v"}, "a" F32 [2]
 * = {1, -2}, "b" U8 [] = 7, header padded to 136. Caller frees. */
unsigned char *stfix_exact_bytes(size_t *len);

/* A new empty directory under $TMPDIR or /tmp; free with stfix_rm_tree(),
 * which removes it and everything in it, and frees the string. */
char *stfix_tmpdir(void);
void stfix_rm_tree(char *dir);
int stfix_count_entries(const char *dir);   /* entries but . and .. */
/* The whole file at path in a new buffer; caller frees. */
unsigned char *stfix_read_whole(const char *path, size_t *len);

#endif
