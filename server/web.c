/* web.c: serves the studio's files from the table tools/webgen.sh
 * generates (web.h). Nothing is read from disk or copied: the answer points
 * at the embedded bytes. */
#include "server/web.h"
#include "server/reply.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const WebAsset *web_find(const char *path)
{
    for (size_t i = 0; path && i < web_nassets; i++)
        if (!strcmp(web_assets[i].path, path))
            return &web_assets[i];
    return NULL;
}

/* The next comma-separated element of a header list: its start in *item
 * and length, trimmed; returns the rest, or NULL at the end. */
static const char *next_item(const char *p, const char **item, size_t *len)
{
    size_t n;
    if (!p)
        return NULL;
    p += strspn(p, " \t,");
    if (!*p)
        return NULL;
    n = strcspn(p, ",");
    *item = p;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    *len = n;
    return p + strcspn(p, ",");
}

/* "q=0", "q=0.", "q=0.000": the coding is refused. */
static int q_zero(const char *params, size_t len)
{
    const char *q = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=' &&
            (i == 0 || params[i - 1] == ';' || params[i - 1] == ' '))
            q = params + i + 2;
    if (!q || *q != '0')
        return 0;
    for (q++; q < params + len && (*q == '.' || *q == '0'); q++)
        ;
    return q == params + len || *q == ';' || *q == ' ';
}

int web_accepts_gzip(const char *accept_encoding)
{
    const char *p = accept_encoding, *item;
    size_t len;
    while ((p = next_item(p, &item, &len))) {
        size_t name = strcspn(item, "; \t");
        if (name > len)
            name = len;
        if (((name == 4 && !strncasecmp(item, "gzip", 4)) || (name == 1 && *item == '*')) &&
            !q_zero(item + name, len - name))
            return 1;
    }
    return 0;
}

int web_etag_matches(const char *if_none_match, const char *etag)
{
    const char *p = if_none_match, *item;
    size_t len, n = strlen(etag);
    while ((p = next_item(p, &item, &len))) {
        if (len >= 2 && !strncmp(item, "W/", 2)) {
            item += 2;
            len -= 2;
        }
        if ((len == 1 && *item == '*') || (len == n && !memcmp(item, etag, n)))
            return 1;
    }
    return 0;
}

void web_get(RoutesCtx *ctx, const Request *req, Response *resp)
{
    const WebAsset *a = ctx->cfg->ui ? web_find(req->path) : NULL;
    int gz;
    if (!a) {
        routes_problem(resp, req, PROBLEM_NOT_FOUND, NULL, "%s %.200s",
                       ctx->cfg->ui ? "no file" : "the studio is off (--ui off); no page",
                       req->path);
        return;
    }
    gz = a->gz && web_accepts_gzip(req->accept_encoding);
    free(resp->body);
    resp->body = NULL;
    resp->asset = 1;
    resp->content_type = a->type;
    resp->etag = gz ? a->gz_etag : a->etag;
    resp->content_encoding = gz ? "gzip" : NULL;
    if (req->if_none_match && web_etag_matches(req->if_none_match, resp->etag)) {
        resp->status = 304;
        resp->static_body = (const uint8_t *)"";
        resp->len = 0;
        return;
    }
    resp->status = 200;
    resp->static_body = gz ? a->gz : a->data;
    resp->len = gz ? a->gzlen : a->len;
}
