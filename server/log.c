/* log.c: JSON lines on stderr. */
#include "server/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_fd = 2;

void log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000));
}

json_t *log_str(const char *s)
{
    json_t *j;
    char *copy;
    if (!s)
        return NULL;
    if ((j = json_string(s)))
        return j;
    if (!(copy = strdup(s)))
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

void log_object(const char *level, const char *msg, json_t *fields)
{
    char ts[80];
    json_t *line = json_object();
    char *text;
    size_t len, off = 0;
    timestamp(ts, sizeof ts);
    if (!line)
        goto done;
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level));
    json_object_set_new(line, "msg", json_string(msg));
    if (fields && json_is_object(fields))
        json_object_update_missing(line, fields);
    text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (!text)
        goto done;
    len = strlen(text);
    text[len] = '\n';   /* json_dumps' NUL becomes the newline */
    while (off < len + 1) {
        ssize_t n = write(atomic_load(&log_fd), text + off, len + 1 - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(text);
done:
    json_decref(line);
    json_decref(fields);
}

void log_write(const char *level, const char *msg, const char *fields, ...)
{
    json_t *obj = NULL;
    if (fields) {
        va_list ap;
        va_start(ap, fields);
        obj = json_vpack_ex(NULL, 0, fields, ap);
        va_end(ap);
    }
    log_object(level, msg, obj);
}
