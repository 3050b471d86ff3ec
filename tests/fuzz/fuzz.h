/* fuzz.h: helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Each fuzz_*.c defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize). It is linked two ways: with -fsanitize=fuzzer into
 * build-fuzz/fuzz/NAME to search, and with replay.c into BUILD/replay/NAME,
 * which runs the committed corpus and regression inputs once each, so the
 * normal and sanitizer builds replay every finding.
 */
#ifndef ATELIER_FUZZ_H
#define ATELIER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A new private directory under $TMPDIR (or /tmp), removed at exit with
 * what is in it (one level of files, and one level of subdirectories).
 * Aborts when it cannot be made: a harness without it tests nothing. */
const char *fuzz_tmpdir(void);

/* Writes len bytes to path (truncating). Aborts on failure. */
void fuzz_write(const char *path, const void *data, size_t len);

/* Writes a model repository under root: tiny/v1.safetensors, a 3->3 3x3
 * convolution + tanh with fixed weights. Aborts on failure. */
void fuzz_write_models(const char *root);

#endif
