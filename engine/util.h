/* util.h: the small common tier every layer uses (engine, trainer, server,
 * command line): the one error formatter, the one monotonic clock, the one
 * atomic file writer with its one temporary-name rule, the one reader of an
 * integer written as text, and peak memory.
 * Nothing here keeps state; every function is safe from any thread.
 */
#ifndef ATELIER_UTIL_H
#define ATELIER_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/uio.h>

/* Formats a message into the caller's err buffer (errlen bytes, always
 * terminated). err may be NULL or errlen 0: then nothing is written. The
 * convention everywhere: a fallible call returns -1 or NULL and says why
 * here; library code never prints and never exits. */
__attribute__((format(printf, 3, 4)))
void util_errf(char *err, size_t errlen, const char *fmt, ...);
/* The same with a va_list, for formatters of their own (a problem's
 * detail, a log line). */
__attribute__((format(printf, 3, 0)))
void util_verrf(char *err, size_t errlen, const char *fmt, va_list ap);

/* Seconds on the monotonic clock (CLOCK_MONOTONIC), for intervals and
 * deadlines, never for dates. */
double util_now_s(void);

/* The integer s writes in full: an optional sign and decimal digits, with
 * nothing before or after them (no blanks, no exponent), within lo..hi (a
 * value past the long long range is out of it). 0 with the value in *out,
 * or -1 with *out unchanged; s may be NULL (-1). */
int util_parse_int(const char *s, long long lo, long long hi, long long *out);

/* Writes the n buffers of iov, one after the other, to path atomically: a
 * temporary sibling named by util_temp_name's rule, fsync, rename, fsync of
 * the folder. A reader sees the old file or the new one, never a part, and
 * once this returns 0 the new one survives a crash. The file is mode 0644.
 * 0, or -1 with a message naming path (the temporary file is removed; errno
 * is kept from the failing call). */
int util_write_atomic_v(const char *path, const struct iovec *iov, int n,
                        char *err, size_t errlen);
int util_write_atomic(const char *path, const void *data, size_t len,
                      char *err, size_t errlen);

/* The temporary-name rule: the temporary file for folder/NAME is
 * folder/.NAME.tmpXXXXXX (hidden, same folder so the rename is atomic, six
 * random characters from mkstemp). util_is_temp_name says whether a file
 * name follows it, e.g. to sweep what a killed writer left. */
int util_is_temp_name(const char *file);

/* Peak resident memory of this process image in MB: VmHWM, which unlike
 * getrusage's ru_maxrss does not count a parent's memory from before exec
 * (ru_maxrss where /proc is absent). */
double util_peak_rss_mb(void);

/* Invariants the comments state ("one thread at a time per plan", "lock
 * held", "not reentrant"), checked where ATELIER_ASSERTS is defined: the
 * sanitizer build (make asan) and debug builds. A failed check prints the
 * condition and where, then aborts. Off otherwise: the condition is not
 * evaluated, and library code never stops the service. */
#ifdef ATELIER_ASSERTS
#define UTIL_ASSERT(cond) ((cond) ? (void)0 : util_assert_fail(#cond, __FILE__, __LINE__, __func__))
#else
#define UTIL_ASSERT(cond) ((void)sizeof(!(cond)))
#endif
_Noreturn void util_assert_fail(const char *cond, const char *file, int line, const char *func);

/* 1 when m is locked (by this thread or another): for UTIL_ASSERT of "lock
 * held" on a default (non-recursive) mutex. */
int util_mutex_held(pthread_mutex_t *m);

#endif
