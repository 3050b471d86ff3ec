/* util.c: the common tier (util.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "engine/util.h"

#define TEMP_SUFFIX ".tmpXXXXXX"

void util_verrf(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
}

void util_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_verrf(err, errlen, fmt, ap);
    va_end(ap);
}

double util_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int util_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    const char *digits = s && (*s == '-' || *s == '+') ? s + 1 : s;
    char *end;
    long long v;
    int saved = errno;
    if (!digits || *digits < '0' || *digits > '9')   /* strtoll would skip blanks */
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi) {
        errno = saved;
        return -1;
    }
    errno = saved;
    *out = v;
    return 0;
}

int util_is_temp_name(const char *file)
{
    size_t n = strlen(file), k = strlen(TEMP_SUFFIX);
    return file[0] == '.' && n > k + 1 && !memcmp(file + n - k, ".tmp", 4);
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (!r)
                errno = EIO;
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int util_write_atomic_v(const char *path, const struct iovec *iov, int n,
                        char *err, size_t errlen)
{
    char *tmp = NULL, *dir = NULL;
    const char *slash, *base;
    size_t plen;
    int fd = -1, dfd, rc = -1, saved;

    if (!path || !*path) {
        util_errf(err, errlen, "no path");
        errno = EINVAL;
        return -1;
    }
    plen = strlen(path);
    if (path[plen - 1] == '/') {
        util_errf(err, errlen, "%s: names a directory, not a file", path);
        errno = EISDIR;
        return -1;
    }
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    tmp = malloc(plen + sizeof TEMP_SUFFIX + 2);
    dir = malloc(plen + 2);
    if (!tmp || !dir) {
        util_errf(err, errlen, "%s: out of memory", path);
        errno = ENOMEM;
        goto done;
    }
    snprintf(tmp, plen + sizeof TEMP_SUFFIX + 2, "%.*s.%s" TEMP_SUFFIX, (int)(base - path),
             path, base);
    if (!slash)
        snprintf(dir, plen + 2, ".");
    else
        snprintf(dir, plen + 2, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        util_errf(err, errlen, "%s: cannot create a temporary file in %s: %s", path, dir,
                  strerror(errno));
        goto done;
    }
    /* mkstemp makes the file 0600; what we write are ordinary readable files. */
    if (fchmod(fd, 0644) < 0)
        goto io_fail;
    for (int i = 0; i < n; i++)
        if (iov[i].iov_len > 0 && write_all(fd, iov[i].iov_base, iov[i].iov_len) < 0)
            goto io_fail;
    if (fsync(fd) < 0)
        goto io_fail;
    if (close(fd) < 0) {
        fd = -1;
        goto io_fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto io_fail;
    /* The rename is durable only once the folder is on disk. The target is
     * already replaced if this fails, so it is reported, not undone. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0) {
        saved = errno;
        util_errf(err, errlen, "%s: written, but syncing directory %s failed: %s", path, dir,
                  strerror(errno));
        if (dfd >= 0)
            close(dfd);
        errno = saved;
        goto done;
    }
    close(dfd);
    rc = 0;
    goto done;

io_fail:
    saved = errno;
    util_errf(err, errlen, "%s: writing %s failed: %s", path, tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
done:
    free(tmp);
    free(dir);
    return rc;
}

int util_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    struct iovec one = { (void *)data, len };
    return util_write_atomic_v(path, &one, 1, err, errlen);
}

double util_peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = (double)ru.ru_maxrss;
    }
    return kb / 1024.0;
}

void util_assert_fail(const char *cond, const char *file, int line, const char *func)
{
    fprintf(stderr, "%s:%d: %s: invariant broken: %s\n", file, line, func, cond);
    abort();
}

int util_mutex_held(pthread_mutex_t *m)
{
    int rc = pthread_mutex_trylock(m);
    if (rc == 0) {
        pthread_mutex_unlock(m);
        return 0;
    }
    return rc == EBUSY;
}
