/* http.h: the libmicrohttpd front: connections, request state, bodies,
 * suspension while a worker runs a job, and the per-request log line.
 * See the DESIGN comment at the top of http.c.
 */
#ifndef ATELIER_HTTP_H
#define ATELIER_HTTP_H

#include <stddef.h>
#include "server/config.h"
#include "server/routes.h"

typedef struct Http Http;

/* Binds cfg->host:cfg->port and starts the polling thread. ctx is borrowed
 * until http_stop(). Returns NULL with a message in err (address in use,
 * bad host, ...). */
Http *http_start(RoutesCtx *ctx, const Config *cfg, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
int http_port(const Http *h);

/* Stops accepting new connections (open ones go on being served). */
void http_quiesce(Http *h);

/* Stops the daemon and closes every connection. Call only when no job is
 * queued or running (pool_free first): a suspended connection must be
 * resumed before its request state can be freed. Accepts NULL. */
void http_stop(Http *h);

#endif
