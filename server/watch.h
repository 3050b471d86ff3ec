/* watch.h: keeps the registry in step with the model repository on disk.
 *
 * A thread watches the repository folder and each model folder with
 * inotify and calls registry_rescan when a version file, CURRENT or
 * card.json appears, changes or goes away, and also every interval as a
 * fallback (file systems without inotify events, such as NFS, or events
 * lost to a queue overflow). Temporary files (anything not named
 * v<N>.safetensors, CURRENT or card.json) wake nothing.
 */
#ifndef ATELIER_WATCH_H
#define ATELIER_WATCH_H

#include <stddef.h>
#include "server/registry.h"

typedef struct Watch Watch;

/* Starts the thread over reg (borrowed; must outlive the Watch).
 * interval_ms is the fallback rescan period (0: none; inotify only).
 * When inotify is unavailable the periodic rescan alone runs (logged).
 * Returns NULL with a message in err when the thread cannot start. */
Watch *watch_start(Registry *reg, int interval_ms, char *err, size_t errlen);

/* Asks for a rescan now (any thread); returns at once. */
void watch_poke(Watch *w);

/* Stops and joins the thread, frees w. Accepts NULL. */
void watch_stop(Watch *w);

#endif
