/* util.h: small helpers shared by the engine tests. */
#ifndef ATELIER_TEST_UTIL_H
#define ATELIER_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Fills x with reproducible values uniform in [lo, hi). */
void tu_fill(float *x, size_t n, uint32_t seed, float lo, float hi);

/* Max |a - b| over n floats; *at gets its index when not NULL. */
double tu_max_abs_diff(const float *a, const float *b, size_t n, size_t *at);

/* Prints "name: max abs diff D at i (a vs b)" and returns D. */
double tu_report(const char *name, const float *a, const float *b, size_t n);

/* A loss of x: returns its value, adds its gradient into grad. */
typedef double (*TuLossFn)(float *grad, float *x, void *ctx);

/* Checks f's gradient against central finite differences (step h) at
 * `samples` evenly spread indices of x (n floats, restored); prints and
 * returns the relative error max|analytic - numeric| / max|numeric|. */
double tu_fd_check(const char *name, TuLossFn f, float *x, size_t n, void *ctx, float h,
                   int samples);

/* The repository's shared data folder (../shared beside the checkout, or
 * $ATELIER_SHARED), or NULL when it is absent. */
const char *tu_shared_dir(void);

/* Runs a shell command, capturing stdout and stderr together in a new
 * NUL-terminated buffer (*out, caller frees). Returns the exit status, or -1
 * when the command could not be run or died from a signal. */
int tu_run(const char *cmd, char **out);

/* The built atelier binary: $BUILD/atelier (BUILD defaults to "build"). */
const char *tu_atelier(void);

#endif
