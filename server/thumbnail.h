/* thumbnail.h: GET /models/{name}/thumbnail[?version=N]: the studio's
 * sample photo (web/sample.jpg, embedded) painted by one version of a
 * model, a JPEG at most THUMBNAIL_SIZE pixels on its long side. It is
 * painted once per version file, by a pool worker like any stylize
 * request, and kept under <data>/thumbnails/<name>/ (named by the version
 * and its file's size and mtime, so a replaced file is painted again);
 * later requests read it from there.
 */
#ifndef ATELIER_THUMBNAIL_H
#define ATELIER_THUMBNAIL_H

#include "server/request.h"

#define THUMBNAIL_SIZE 320

/* The route's handlers (routes.c's table). begin: the cached file
 * (ROUTES_DONE), a problem (ROUTES_DONE), or ROUTES_BODY with a stylize
 * job (api.h) as req's state, its model and parameters set; body: paints
 * thumbnail_photo() as that job; complete: its answer, kept. */
int thumbnail_begin(RoutesCtx *ctx, Request *req, Response *resp);
int thumbnail_body(RoutesCtx *ctx, Request *req, Response *resp);
void thumbnail_complete(RoutesCtx *ctx, Request *req, Response *resp);

/* The embedded sample photo. */
const uint8_t *thumbnail_photo(size_t *len);

/* After a successful job: keeps resp's image for the next request (a
 * failure to write is logged; the answer is sent anyway). */
void thumbnail_store(RoutesCtx *ctx, const Request *req, const Response *resp);

#endif
