/* watch.c: the repository watch thread (watch.h).
 *
 * DESIGN
 * ------
 * Threads: one, started by watch_start and joined by watch_stop. It blocks
 * in poll() on the inotify descriptor and a wake-up pipe, with the time to
 * the next periodic rescan as the timeout; everything it does is a call to
 * registry_rescan (which loads outside the registry's table lock, so
 * requests never wait for it) and adding inotify watches.
 *
 * Events: the repository folder is watched for folders coming and going,
 * each model folder for files moved in or out, written and closed, created
 * and deleted. A relevant event arms a short settle delay (SETTLE_MS) so
 * that a burst of events (a trainer writing a checkpoint, its preview and
 * its state) costs one rescan. New model folders get their watch after
 * each rescan; inotify_add_watch on a watched folder is a no-op.
 *
 * Wake-up: watch_poke and watch_stop write a byte to the pipe; the stop
 * flag is read by the thread after each wake-up.
 *
 * Ownership: the Watch owns its thread, the inotify descriptor and the
 * pipe; the registry is borrowed.
 */
#include "server/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"
#include "engine/repo.h"
#include "engine/util.h"

#define SETTLE_MS 30
#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)
#define MODEL_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | \
                    IN_DELETE_SELF | IN_ONLYDIR)

struct Watch {
    Registry *reg;
    int interval_ms;
    int ifd;                 /* inotify, -1 when unavailable */
    int root_wd;
    int pipe[2];
    atomic_int stop;
    atomic_int poked;
    pthread_t thread;
};

/* Adds a watch on every model folder (cheap when already watched). */
static void watch_folders(Watch *w)
{
    const char *dir = registry_dir(w->reg);
    char path[PATH_MAX];
    struct dirent *e;
    DIR *d;
    if (w->ifd < 0 || !(d = opendir(dir)))
        return;
    while ((e = readdir(d)))
        if (repo_valid_name(e->d_name) &&
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            inotify_add_watch(w->ifd, path, MODEL_MASK);
    closedir(d);
}

/* Reads the pending events; 1 when one of them matters. */
static int drain_events(Watch *w)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int hit = 0;
    ssize_t n;
    while ((n = read(w->ifd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                hit = 1;
            else if (ev->len && ev->wd == w->root_wd)
                hit |= repo_valid_name(ev->name);
            else if (ev->len)
                hit |= repo_is_served_file(ev->name);
            else if (ev->mask & (IN_DELETE_SELF | IN_IGNORED))
                hit = 1;
            p += sizeof *ev + ev->len;
        }
    }
    return hit;
}

static void rescan(Watch *w)
{
    int rc = registry_rescan(w->reg);
    if (rc < 0)
        log_write("error", "repository rescan failed", "{s:i}", "code", rc);
    watch_folders(w);
}

static void *watch_main(void *arg)
{
    Watch *w = arg;
    double next = w->interval_ms > 0 ? (util_now_s() * 1e3) + w->interval_ms : -1, due = -1;
    while (!atomic_load(&w->stop)) {
        struct pollfd p[2] = {{w->pipe[0], POLLIN, 0}, {w->ifd, POLLIN, 0}};
        double t = (util_now_s() * 1e3), until = next;
        int timeout, n;
        char sink[64];
        if (due >= 0 && (until < 0 || due < until))
            until = due;
        timeout = until < 0 ? -1 : until <= t ? 0 : (int)(until - t) + 1;
        n = poll(p, w->ifd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (p[0].revents & POLLIN))
            while (read(w->pipe[0], sink, sizeof sink) > 0)
                ;
        if (atomic_load(&w->stop))
            break;
        if (atomic_exchange(&w->poked, 0))
            due = (util_now_s() * 1e3);
        if (n > 0 && w->ifd >= 0 && (p[1].revents & POLLIN) && drain_events(w) && due < 0)
            due = (util_now_s() * 1e3) + SETTLE_MS;
        t = (util_now_s() * 1e3);
        if ((due >= 0 && t >= due) || (next >= 0 && t >= next)) {
            rescan(w);
            due = -1;
            if (w->interval_ms > 0)
                next = (util_now_s() * 1e3) + w->interval_ms;
        }
    }
    return NULL;
}

Watch *watch_start(Registry *reg, int interval_ms, char *err, size_t errlen)
{
    Watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->reg = reg;
    w->interval_ms = interval_ms;
    w->pipe[0] = w->pipe[1] = -1;
    w->ifd = -1;
    w->root_wd = -1;
    if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->ifd >= 0 && (w->root_wd = inotify_add_watch(w->ifd, registry_dir(reg), DIR_MASK)) < 0) {
        close(w->ifd);
        w->ifd = -1;
    }
    if (w->ifd < 0)
        log_write("warn", "inotify unavailable: periodic rescan only", "{s:s, s:i}", "error",
                  strerror(errno), "interval_ms", interval_ms);
    watch_folders(w);
    atomic_init(&w->stop, 0);
    atomic_init(&w->poked, 0);
    if (pthread_create(&w->thread, NULL, watch_main, w)) {
        snprintf(err, errlen, "cannot start the watch thread");
        goto fail;
    }
    return w;
fail:
    if (w->ifd >= 0)
        close(w->ifd);
    if (w->pipe[0] >= 0) {
        close(w->pipe[0]);
        close(w->pipe[1]);
    }
    free(w);
    return NULL;
}

static void wake(Watch *w)
{
    char b = 1;
    (void)!write(w->pipe[1], &b, 1);
}

void watch_poke(Watch *w)
{
    if (!w)
        return;
    atomic_store(&w->poked, 1);
    wake(w);
}

void watch_stop(Watch *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    wake(w);
    pthread_join(w->thread, NULL);
    if (w->ifd >= 0)
        close(w->ifd);
    close(w->pipe[0]);
    close(w->pipe[1]);
    free(w);
}
