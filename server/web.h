/* web.h: Atelier Studio, the web page under web/, compiled into the binary
 * (tools/webgen.sh writes the table at build time) and served at "/" and
 * "/ui/<file>" with its Content-Type, a strong ETag (304 on revalidation),
 * the gzip copy when the client takes it, and a strict
 * Content-Security-Policy. `--ui off` turns it off (404).
 */
#ifndef ATELIER_WEB_H
#define ATELIER_WEB_H

#include <stddef.h>
#include <stdint.h>
#include "server/request.h"

typedef struct WebAsset {
    const char *path;           /* URL path: "/" or "/ui/<file>" */
    const char *type;           /* Content-Type */
    const uint8_t *data;        /* static, NUL after the last byte */
    size_t len;
    const char *etag;           /* quoted strong ETag of data */
    const uint8_t *gz;          /* gzip copy, NULL when it is no smaller */
    size_t gzlen;
    const char *gz_etag;
} WebAsset;

/* The generated table (build/web_assets.c). */
extern const WebAsset web_assets[];
extern const size_t web_nassets;

/* The asset served at path, or NULL. */
const WebAsset *web_find(const char *path);

/* GET or HEAD of "/" or "/ui/<file>": the file (static, not copied), a
 * 304 when If-None-Match holds its ETag, or a 404 (no such file, or the
 * studio is off). */
void web_get(RoutesCtx *ctx, const Request *req, Response *resp);

/* 1 when an Accept-Encoding value accepts gzip (a "gzip" or "*" token not
 * given q=0). */
int web_accepts_gzip(const char *accept_encoding);

/* 1 when an If-None-Match value matches etag (weak comparison, "*"). */
int web_etag_matches(const char *if_none_match, const char *etag);

/* The policy sent with every studio file: scripts, styles, fonts and
 * requests only from this origin, images also from blob: (the local
 * preview of a photo) and data:, no inline script or style, no frames. */
#define WEB_CSP                                                                                  \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "     \
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "             \
    "frame-ancestors 'none'"

#endif
