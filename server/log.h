/* log.h: structured logging, one JSON object per line on stderr.
 *
 * Every line has "ts" (UTC, RFC 3339 with milliseconds), "level" and "msg",
 * then the caller's fields. A line is written with one write(2), so lines
 * from different threads never interleave.
 */
#ifndef ATELIER_LOG_H
#define ATELIER_LOG_H

#include <jansson.h>

/* Writes one line: fields is a json_pack() object format for the arguments
 * that follow ("{s:i, s:s}", ...) or NULL. Never fails visibly: a line that
 * cannot be built is dropped. */
void log_write(const char *level, const char *msg, const char *fields, ...);

/* Writes one line from an object the caller built: its members follow ts,
 * level and msg. Steals the reference to fields (may be NULL). */
void log_object(const char *level, const char *msg, json_t *fields);

/* A JSON string of s for a log field: s itself when it is valid UTF-8,
 * otherwise a copy with every byte outside printable ASCII as '?' (paths
 * and methods come from clients). New reference; NULL only when out of
 * memory or s is NULL. */
json_t *log_str(const char *s);

/* Sends lines to fd instead of stderr (tests). */
void log_set_fd(int fd);

#endif
