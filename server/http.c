/* http.c: libmicrohttpd glue between sockets and routes.c.
 *
 * DESIGN
 * ------
 * Threads: one, libmicrohttpd's internal polling thread (epoll where the
 * library has it, poll otherwise). It parses requests, runs routes_begin /
 * routes_body / routes_complete and writes answers; it never runs the
 * network. The only work it does per stylize request is reading the body
 * and probing the image header.
 *
 * Request state (Conn) is made on the first access-handler call and freed
 * only in the NOTIFY_COMPLETED callback, which also writes the log line.
 *
 * Bodies: a route whose begin handler asks for its body keeps it (its row
 * in the route table says how: raw, one multipart field, or every field);
 * other requests' bodies are read and dropped. This file names no route
 * and no field. The limit (--max-body-mb) is checked against Content-Length
 * before reading (413 at once, whatever the route) and against the bytes
 * received while reading; past it the 413 is written at once and the
 * connection closed without reading or buffering the rest (refuse_midway).
 * Other answers wait for the end of the request, so that keep-alive holds.
 * Multipart bodies go through MHD_PostProcessor; the field
 * req.body_field is the body when the route names one (/stylize's image),
 * and every other field is kept (routes_form_field): the route's form, or
 * (/stylize) its parameters, checked as the query's are, never ignored.
 *
 * Suspension: when routes_body defers, the connection is suspended FIRST
 * and the job submitted SECOND, so the worker's resume can never come
 * before the suspend. The worker (req.resume -> resume) resumes the
 * connection; the polling thread then calls the handler again, which turns
 * the result into the answer. If the pool refuses the job, the handler
 * answers 503 by resuming the connection itself. A suspended connection
 * is neither timed out nor closed by libmicrohttpd, so the request state
 * outlives the job; at shutdown the pool is stopped (cancelled jobs are
 * resumed too) before the daemon.
 *
 * Timeouts and limits: MHD_OPTION_CONNECTION_TIMEOUT (--timeout) drops idle
 * clients, and MHD_OPTION_PER_IP_CONNECTION_LIMIT what one address holds.
 * Dribbling clients are dropped by us: every connection has a Peer
 * (MHD_OPTION_NOTIFY_CONNECTION) saying whether it is sending a request
 * head, a body, or waiting for its answer; a sweeper thread closes (shutdown,
 * then libmicrohttpd sees the end of the stream) one whose head has not
 * arrived within --header-timeout of connecting or of its last answer, and
 * one whose body averages under --min-upload-kbps after that grace (a body
 * chunk that arrives that slowly is answered 408 instead). The connection
 * table keeps room for probes: libmicrohttpd may hold a few connections more
 * than --max-connections, and a connection past it evicts the one that has
 * waited longest without sending a request head (the new one itself, with a
 * 503, when every other is busy), so /healthz answers while slow clients
 * hold the table.
 *
 * Body budget: request bodies being received hold at most
 * --body-budget-mb in all. A body's declared length is reserved before a
 * byte of it is read (a chunked body's reservation grows as it arrives);
 * past the budget the answer is 503 with Retry-After, and the reservation
 * is returned when the request ends.
 *
 * What libmicrohttpd 0.9.75 parses laxly is decided here, before routing,
 * with 400 and Connection: close: Content-Length with Transfer-Encoding
 * (RFC 9112 6.1: a proxy may frame by the other), a Transfer-Encoding other
 * than chunked, a field name that is not a token (a space before the colon
 * made it ignored), a folded field line (obs-fold; 0.9.75 glues the next
 * line onto the field's name, which then lies outside the request head),
 * more than one Host (none on HTTP/1.1 is refused by the library, strict
 * mode). The raw request target is seen first (MHD_OPTION_URI_LOG_CALLBACK):
 * an encoded slash or backslash in the path is refused rather than decoded
 * into a route, and a query of more than ROUTES_MAX_QUERY parameters is cut
 * before the library stores it (hundreds used to exhaust its connection
 * memory and leave the request unanswered) and refused.
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/rng.h"
#include "server/log.h"
#include "engine/util.h"
#include "server/web.h"

#define POST_BUFFER 65536

/* Connections libmicrohttpd may hold past --max-connections, so that a new
 * one is accepted and can evict a slow one. */
#define TABLE_RESERVE 16
#define SWEEP_MS 250

typedef enum PeerState { PEER_HEAD, PEER_BODY, PEER_BUSY } PeerState;

/* One connection, from accept to close; under Http.lock. */
typedef struct Peer {
    struct Peer *prev, *next;
    int fd;
    PeerState state;
    double since;                 /* when state began */
    double last_byte;             /* PEER_BODY: when body bytes last came */
    uint64_t received;            /* PEER_BODY: body bytes so far */
    int dropped;                  /* shut down by us */
} Peer;

struct Http {
    struct MHD_Daemon *daemon;
    RoutesCtx *ctx;
    const Config *cfg;
    int port;
    int quiesced;
    uint64_t id_seed;
    atomic_ullong id_next;
    pthread_mutex_t lock;         /* peers */
    pthread_cond_t wake;
    pthread_t sweeper;
    int sweeper_started, stopping;
    Peer *peers;
    int npeers;
};

/* PH_READY: the answer is known but the request's body (if any) is still
 * arriving; it is read and dropped (within the limit) and the answer sent
 * at its end, so the connection can be kept alive. Answering before the
 * end of the request makes libmicrohttpd close the connection, which is
 * what a 413 wants and nothing else does. */
typedef enum Phase { PH_NEW, PH_READY, PH_BODY, PH_WAIT, PH_REJECTED, PH_ANSWERED } Phase;

typedef struct Conn {
    Http *http;
    struct MHD_Connection *conn;
    Request req;
    Response resp;
    Phase phase;
    double t0;
    char id[72];
    uint8_t *buf;                 /* the raw body or the image field */
    size_t len, cap;
    uint64_t received;            /* raw body bytes */
    int64_t reserved;             /* of the body budget */
    Peer *peer;
    int raw_slash;                /* the raw path has %2F or %5C */
    int query_cut;                /* the raw query had too many parameters */
    struct MHD_PostProcessor *pp;
    int form_fields;              /* fields named req.body_field seen */
    int status;                   /* answered */
    size_t bytes;
} Conn;

/* ---- request ids ------------------------------------------------------- */

/* Keeps a client's X-Request-Id when it is short and plain (so logs of a
 * proxy chain join up), otherwise makes one. */
static void request_id(Http *h, struct MHD_Connection *conn, char *out, size_t len)
{
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given && *given && strlen(given) <= 64 && len > 64 &&
        strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") ==
            strlen(given)) {
        memcpy(out, given, strlen(given) + 1);
        return;
    }
    /* splitmix64 of seed + n: one step of rng.h's generator from that state. */
    Rng r = { h->id_seed + atomic_fetch_add(&h->id_next, 1) };
    snprintf(out, len, "%016llx", (unsigned long long)rng_u64(&r));
}

/* ---- peers: head deadline, body rate, the table's reserve ---------------- */

static void peer_state(Http *h, Peer *p, PeerState st)
{
    if (!p)
        return;
    pthread_mutex_lock(&h->lock);
    p->state = st;
    p->since = p->last_byte = util_now_s();
    p->received = 0;
    pthread_mutex_unlock(&h->lock);
}

/* Under h->lock. A reason to drop p now, or NULL. A body that is too
 * slow is answered 408 by the handler when its next bytes come; the
 * sweeper (silent != 0) drops it only when it has also been silent for
 * --header-timeout, so a trickling client gets its answer. */
static const char *peer_overdue(const Http *h, const Peer *p, double now, int silent)
{
    double age = now - p->since, grace = h->cfg->header_timeout_s;
    if (p->dropped)
        return NULL;
    if (p->state == PEER_HEAD && age > grace)
        return "no request head within --header-timeout";
    if (p->state == PEER_BODY && h->cfg->min_upload_kbps > 0 && age > grace &&
        (double)p->received < h->cfg->min_upload_kbps * 1024.0 * (age - grace) &&
        (!silent || now - p->last_byte > grace))
        return "body slower than --min-upload-kbps";
    return NULL;
}

/* Under h->lock: closes p's socket for reading and writing; libmicrohttpd
 * then sees the end of the stream and closes the connection (the Peer goes
 * in on_connection). */
static void peer_drop(Peer *p, const char *why)
{
    p->dropped = 1;
    shutdown(p->fd, SHUT_RDWR);
    log_write("info", "connection dropped", "{s:s}", "reason", why);
}

static void *sweeper_main(void *arg)
{
    Http *h = arg;
    struct timespec until;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        double now = util_now_s();
        for (Peer *p = h->peers; p; p = p->next) {
            const char *why = peer_overdue(h, p, now, 1);
            if (why)
                peer_drop(p, why);
        }
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->wake, &h->lock, &until);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* Past --max-connections: the connection that has waited longest for a
 * request head goes; if every other is busy, the new one is answered 503
 * and goes. Under h->lock. */
static void make_room(Http *h, Peer *fresh)
{
    static const char body[] =
        "{\"type\":\"urn:atelier:problem:overloaded\",\"title\":\"Service overloaded\","
        "\"status\":503,\"detail\":\"every connection is busy; retry later\"}";
    char full[512];
    int n;
    Peer *oldest = NULL;
    for (Peer *p = h->peers; p; p = p->next)
        if (p != fresh && !p->dropped && p->state == PEER_HEAD &&
            (!oldest || p->since < oldest->since))
            oldest = p;
    if (oldest) {
        peer_drop(oldest, "connection table full: the longest waiting for a request head");
        return;
    }
    n = snprintf(full, sizeof full,
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: %s\r\nRetry-After: 1\r\n"
                 "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                 PROBLEM_CONTENT_TYPE, sizeof body - 1, body);
    if (send(fresh->fd, full, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_write("warn", "connection refused", "{s:s}", "detail", strerror(errno));
    peer_drop(fresh, "connection table full and every connection busy");
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    Http *h = cls;
    Peer *p = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(p = calloc(1, sizeof *p)))
            return;         /* untracked: the idle timeout still applies */
        p->fd = ci->connect_fd;
        p->state = PEER_HEAD;
        p->since = util_now_s();
        pthread_mutex_lock(&h->lock);
        p->next = h->peers;
        if (h->peers)
            h->peers->prev = p;
        h->peers = p;
        if (++h->npeers > h->cfg->max_connections)
            make_room(h, p);
        pthread_mutex_unlock(&h->lock);
        *socket_context = p;
        return;
    }
    if (!p)
        return;
    pthread_mutex_lock(&h->lock);
    if (p->prev)
        p->prev->next = p->next;
    else
        h->peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    h->npeers--;
    pthread_mutex_unlock(&h->lock);
    free(p);
    *socket_context = NULL;
}

/* ---- the body budget ----------------------------------------------------- */

/* Raises c's reservation to total bytes. 0, or -1 when the budget has no
 * room (the reservation is unchanged). */
static int reserve(Conn *c, int64_t total)
{
    Http *h = c->http;
    int64_t add = total - c->reserved;
    if (add <= 0)
        return 0;
    if (atomic_fetch_add(&h->ctx->upload_reserved, add) + add > h->cfg->body_budget_bytes) {
        atomic_fetch_sub(&h->ctx->upload_reserved, add);
        return -1;
    }
    c->reserved = total;
    return 0;
}

static void budget_full(Conn *c)
{
    routes_problem(&c->resp, &c->req, PROBLEM_OVERLOADED, NULL,
                   "request bodies being received hold the upload budget (%lld MiB); "
                   "retry later", (long long)(c->http->cfg->body_budget_bytes >> 20));
    c->resp.retry_after = 2;
    c->resp.close = 1;
}

/* ---- answers ----------------------------------------------------------- */

static enum MHD_Result answer(Conn *c)
{
    Response *r = &c->resp;
    struct MHD_Response *mr;
    enum MHD_Result ret;
    char num[32];
    if (r->static_body) {
        mr = MHD_create_response_from_buffer(r->len, (void *)r->static_body,
                                             MHD_RESPMEM_PERSISTENT);
    } else if (!r->body) {
        /* Only when even a problem body could not be built. */
        r->status = r->status ? r->status : 500;
        r->len = 0;
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_MUST_COPY);
    } else {
        mr = MHD_create_response_from_buffer_with_free_callback(r->len, r->body, free);
        if (mr)
            r->body = NULL;       /* MHD frees it with the response */
    }
    if (!mr)
        return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(mr, "X-Request-Id", c->id);
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->asset) {
        /* Kept, but revalidated each time: the ETag makes that a 304. */
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, r->etag);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
        MHD_add_response_header(mr, "Content-Security-Policy", WEB_CSP);
        if (r->content_encoding)
            MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_ENCODING, r->content_encoding);
    } else {
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    if (r->allow[0])
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->retry_after > 0) {
        snprintf(num, sizeof num, "%d", r->retry_after);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    if (r->model[0])
        MHD_add_response_header(mr, "X-Atelier-Model", r->model);
    if (r->timing[0])
        MHD_add_response_header(mr, "Server-Timing", r->timing);
    if (r->location[0])
        MHD_add_response_header(mr, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->status == 401)         /* RFC 9110 11.6.1 */
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"atelier\"");
    if (r->cors[0]) {             /* --cors-origin (routes.c) */
        MHD_add_response_header(mr, "Access-Control-Allow-Origin", r->cors);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY, "Origin");
        MHD_add_response_header(mr, "Access-Control-Expose-Headers",
                                "X-Atelier-Model, X-Request-Id, Server-Timing, Retry-After, "
                                "Location");
    }
    if (r->preflight) {
        MHD_add_response_header(mr, "Access-Control-Allow-Methods", r->allow);
        MHD_add_response_header(mr, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, X-Request-Id");
        MHD_add_response_header(mr, "Access-Control-Max-Age", "600");
    }
    if (r->close || atomic_load(&c->http->ctx->draining))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(c->conn, (unsigned int)r->status, mr);
    MHD_destroy_response(mr);
    c->status = r->status;
    c->bytes = r->len;
    c->phase = PH_ANSWERED;
    peer_state(c->http, c->peer, PEER_BUSY);
    metrics_request(c->http->ctx->metrics, routes_label(c->req.route), c->req.method, r->status,
                    util_now_s() - c->t0);
    return ret;
}

static const char *reason(int status)
{
    switch (status) {
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

/* libmicrohttpd 0.9.x accepts an answer only before the body or after it,
 * so a body that must be refused while arriving (past the limit with no
 * Content-Length or a lying one: 413; past the budget: 503; too slow: 408)
 * is answered here by writing the answer on the socket ourselves, closing
 * our side for writing and dropping what has arrived; returning MHD_NO then
 * makes libmicrohttpd close the connection without reading the rest. */
static enum MHD_Result refuse_midway(Conn *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    Response *r = &c->resp;
    char head[512], sink[4096], retry[32] = "";
    int n;
    if (ci) {
        int fd = ci->connect_fd;
        size_t off = 0;
        if (r->retry_after > 0)
            snprintf(retry, sizeof retry, "Retry-After: %d\r\n", r->retry_after);
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nX-Request-Id: %s\r\nCache-Control: no-store\r\n"
                     "%sConnection: close\r\n\r\n",
                     r->status, reason(r->status), r->content_type, r->len, c->id, retry);
        /* Small enough for an empty socket buffer; a client that does not
         * read its answer gets what fits. */
        if (send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
            while (off < r->len) {
                ssize_t k = send(fd, r->body + off, r->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k <= 0)
                    break;
                off += (size_t)k;
            }
        shutdown(fd, SHUT_WR);
        while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
            ;
    }
    c->status = r->status;
    c->bytes = r->len;
    c->phase = PH_ANSWERED;
    metrics_request(c->http->ctx->metrics, routes_label(c->req.route), c->req.method, r->status,
                    util_now_s() - c->t0);
    return MHD_NO;
}

/* ---- bodies ------------------------------------------------------------ */

/* Appends to c->buf; the total is already known to be within the limit. */
static int append(Conn *c, const char *data, size_t size)
{
    if (size > c->cap - c->len) {
        size_t want = c->cap ? c->cap : 64 * 1024;
        uint8_t *nb;
        while (want - c->len < size)
            want *= 2;
        if (want > (size_t)c->http->cfg->max_body_bytes)
            want = (size_t)c->http->cfg->max_body_bytes;
        /* Not past the declared length: the memory held is what was
         * reserved. */
        if (c->req.content_length > 0 && (uint64_t)c->req.content_length >= c->len + size &&
            want > (size_t)c->req.content_length)
            want = (size_t)c->req.content_length;
        if (want - c->len < size)
            return -1;
        if (!(nb = realloc(c->buf, want)))
            return -1;
        c->buf = nb;
        c->cap = want;
    }
    memcpy(c->buf + c->len, data, size);
    c->len += size;
    return 0;
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *filename, const char *content_type,
                                const char *transfer_encoding, const char *data, uint64_t off,
                                size_t size)
{
    Conn *c = cls;
    if (!c->req.body_field || !key || strcmp(key, c->req.body_field))
        return routes_form_field(&c->req, key, off, data, size) ? MHD_NO : MHD_YES;
    if (off == 0)
        c->form_fields++;
    if (c->form_fields > 1)
        return MHD_YES;             /* answered 400 at the end */
    c->req.form_has_field = 1;
    return size && append(c, data, size) ? MHD_NO : MHD_YES;
}

/* ---- the handler ------------------------------------------------------- */

static enum MHD_Result on_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    Request *req = cls;
    if (req->nquery == ROUTES_MAX_QUERY) {
        req->query_overflow = 1;
        return MHD_NO;
    }
    req->query[req->nquery++] = (HttpKV){key, value};
    return MHD_YES;
}

/* What the request head says about framing and form, beyond what
 * libmicrohttpd checks (the DESIGN comment). */
typedef struct HeadScan {
    const char *length;           /* the first Content-Length */
    int lengths_differ, hosts, bad_name, folded, tes;
    const char *te;
} HeadScan;

/* RFC 9110 5.6.2 token characters. */
static int is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
            !strchr(extra, *s))
            return 0;
    return 1;
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    HeadScan *hs = cls;
    if (!is_token(key))
        hs->bad_name = 1;
    /* A name and its value lie in the request head in that order; 0.9.75
     * copies a name elsewhere only to glue a folded line onto it. */
    if (value && (uintptr_t)key > (uintptr_t)value)
        hs->folded = 1;
    if (!strcasecmp(key, MHD_HTTP_HEADER_HOST))
        hs->hosts++;
    else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        hs->te = value ? value : "", hs->tes++;
    else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) && value) {
        if (!hs->length)
            hs->length = value;
        else if (strcmp(hs->length, value))
            hs->lengths_differ = 1;
    }
    return MHD_YES;
}

/* A problem with the request head itself (into c->resp, which then asks
 * to close), or 0. */
static int head_refused(Conn *c, const char *version)
{
    HeadScan hs = {0};
    const char *why = NULL;
    ProblemKind kind = PROBLEM_BAD_REQUEST;
    MHD_get_connection_values(c->conn, MHD_HEADER_KIND, on_header, &hs);
    if (hs.bad_name)
        why = "a header field name that is not a token (whitespace before the colon?)";
    else if (hs.folded)
        why = "a folded header line (obs-fold, RFC 9112 5.2)";
    else if (hs.hosts > 1)
        why = "more than one Host header";
    else if (hs.te && hs.length)
        why = "both Content-Length and Transfer-Encoding (RFC 9112 6.1)";
    else if (hs.tes > 1)
        why = "more than one Transfer-Encoding header";
    else if (hs.te && version && !strcmp(version, MHD_HTTP_VERSION_1_0))
        why = "Transfer-Encoding on HTTP/1.0 (RFC 9112 6.1)";
    else if (hs.te && strcasecmp(hs.te, "chunked"))
        why = "a Transfer-Encoding other than chunked", kind = PROBLEM_NOT_IMPLEMENTED;
    else if (hs.lengths_differ)
        why = "the request has Content-Length headers that disagree";
    else if (c->raw_slash)
        why = "an encoded slash or backslash (%2F, %5C) in the path";
    if (!why)
        return 0;
    routes_problem(&c->resp, &c->req, kind, NULL, "%s", why);
    c->resp.close = 1;
    return 1;
}

static void resume(void *arg)
{
    Conn *c = arg;
    /* Runs on the worker; MHD takes its own lock, so everything the worker
     * wrote into the job happens-before the polling thread reads it. */
    MHD_resume_connection(c->conn);
}

static Conn *conn_new(Http *h)
{
    Conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    atomic_fetch_add(&h->ctx->inflight, 1);
    c->http = h;
    c->t0 = util_now_s();
    c->req.content_length = -1;
    return c;
}

/* The raw request target, before libmicrohttpd decodes the path or stores
 * the query: the request's Conn is made here. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    Conn *c = conn_new(cls);
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    int n = 1;
    if (!c)
        return NULL;
    for (size_t i = 0; i + 2 < plen; i++)
        if (uri[i] == '%' && ((uri[i + 1] == '2' && (uri[i + 2] | 32) == 'f') ||
                              (uri[i + 1] == '5' && (uri[i + 2] | 32) == 'c')))
            c->raw_slash = 1;
    if (q && q[1]) {
        for (const char *p = q + 1; *p; p++)
            n += *p == '&';
        if (n > ROUTES_MAX_QUERY) {
            /* libmicrohttpd parses the query from this buffer after this
             * call: an empty one costs it nothing. */
            c->query_cut = n;
            ((char *)q)[1] = '\0';
        }
    }
    return c;
}

static Peer *peer_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Adds size body bytes to the connection's count: 1 when the body is now
 * too slow (--min-upload-kbps). */
static int body_too_slow(Conn *c, size_t size)
{
    Http *h = c->http;
    Peer *p = peer_of(c->conn);
    int slow = 0;
    if (!p)
        return 0;
    pthread_mutex_lock(&h->lock);
    p->received += size;
    p->last_byte = util_now_s();
    slow = p->state == PEER_BODY && peer_overdue(h, p, p->last_byte, 0) != NULL;
    pthread_mutex_unlock(&h->lock);
    return slow;
}

static enum MHD_Result refuse_slow(Conn *c)
{
    routes_problem(&c->resp, &c->req, PROBLEM_TOO_SLOW, NULL,
                   "the body arrived slower than %d KiB/s", c->http->cfg->min_upload_kbps);
    c->resp.close = 1;
    return refuse_midway(c);
}

static enum MHD_Result start(Http *h, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, Conn *c)
{
    const char *cl;
    int rc;
    c->conn = conn;
    c->phase = PH_READY;
    peer_state(h, peer_of(conn), PEER_BODY);
    request_id(h, conn, c->id, sizeof c->id);
    c->req.method = method;
    c->req.path = url;
    c->req.request_id = c->id;
    if (head_refused(c, version))
        return answer(c);
    if (c->query_cut) {
        routes_problem(&c->resp, &c->req, PROBLEM_BAD_PARAMETER, NULL,
                       "%d query parameters, more than %d", c->query_cut, ROUTES_MAX_QUERY);
        c->resp.close = 1;
        return answer(c);
    }
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_query, &c->req);
    c->req.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
    c->req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_TYPE);
    c->req.accept_encoding = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_ACCEPT_ENCODING);
    c->req.if_none_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_IF_NONE_MATCH);
    c->req.origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    c->req.acr_method = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    "Access-Control-Request-Method");
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        c->req.content_length = *end || v > INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    /* Refused before any route acts (a DELETE unpins or cancels in
     * routes_begin): a declared length past the limit, whatever the route,
     * and a body on DELETE, which has none to give. */
    if (c->req.content_length > h->cfg->max_body_bytes) {
        routes_too_large(h->ctx, &c->req, &c->resp);
        return answer(c);
    }
    if (!strcmp(method, MHD_HTTP_METHOD_DELETE) &&
        (c->req.content_length > 0 ||
         MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))) {
        routes_problem(&c->resp, &c->req, PROBLEM_BAD_REQUEST, NULL,
                       "DELETE takes no body; nothing was done");
        c->resp.close = 1;
        return answer(c);
    }
    rc = routes_begin(h->ctx, &c->req, &c->resp);
    if (rc == ROUTES_DONE) {
        const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_EXPECT);
        /* A client waiting for "100 Continue" has not sent its body yet:
         * a refusal now saves it the upload (the connection then closes). */
        if (c->resp.status >= 400 && expect && !strcasecmp(expect, "100-continue"))
            return answer(c);
        return MHD_YES;
    }
    /* A kept body's declared length is reserved before it is read. */
    if (c->req.content_length > 0 && reserve(c, c->req.content_length)) {
        budget_full(c);
        return answer(c);
    }
    c->phase = PH_BODY;
    if (c->req.multipart) {
        c->pp = MHD_create_post_processor(conn, POST_BUFFER, on_field, c);
        if (!c->pp) {
            routes_problem(&c->resp, &c->req, PROBLEM_BAD_REQUEST, NULL,
                           "a multipart/form-data body needs a boundary parameter");
            c->phase = PH_READY;
        }
    } else if (c->req.content_length > 0) {
        /* Sized from the declared length, but only up to 1 MiB before the
         * bytes arrive: a header alone must not reserve the whole limit. */
        size_t want = c->req.content_length < (1 << 20) ? (size_t)c->req.content_length
                                                       : (size_t)1 << 20;
        if ((c->buf = malloc(want)))
            c->cap = want;
    }
    return MHD_YES;
}

static enum MHD_Result body_chunk(Conn *c, const char *data, size_t size)
{
    const int64_t max = c->http->cfg->max_body_bytes;
    c->received += size;
    if (c->received > (uint64_t)max) {
        routes_too_large(c->http->ctx, &c->req, &c->resp);
        return refuse_midway(c);
    }
    if ((int64_t)c->received > c->reserved) {
        /* A body of unknown length (chunked): its reservation grows as it
         * arrives, doubling. */
        int64_t want = c->reserved ? 2 * c->reserved : INT64_C(1) << 20;
        if (want < (int64_t)c->received)
            want = (int64_t)c->received;
        if (reserve(c, want < max ? want : max)) {
            budget_full(c);
            return refuse_midway(c);
        }
    }
    if (body_too_slow(c, size))
        return refuse_slow(c);
    if (c->pp) {
        if (MHD_post_process(c->pp, data, size) != MHD_YES) {
            routes_problem(&c->resp, &c->req, PROBLEM_BAD_REQUEST,
                           c->req.body_field ? c->req.body_field : "form",
                           "the multipart/form-data body is malformed");
            c->phase = PH_READY;
        }
    } else if (append(c, data, size)) {
        routes_problem(&c->resp, &c->req, PROBLEM_OVERLOADED, NULL, "out of memory");
        c->phase = PH_READY;
    }
    return MHD_YES;
}

static enum MHD_Result body_end(Conn *c)
{
    Http *h = c->http;
    int rc;
    if (c->pp) {
        enum MHD_Result ok = MHD_destroy_post_processor(c->pp);
        c->pp = NULL;
        if (ok != MHD_YES || c->form_fields > 1) {
            const char *field = c->req.body_field ? c->req.body_field : "form";
            if (c->form_fields > 1)
                routes_problem(&c->resp, &c->req, PROBLEM_BAD_REQUEST, field,
                               "more than one field '%s'", field);
            else
                routes_problem(&c->resp, &c->req, PROBLEM_BAD_REQUEST, field,
                               "the multipart/form-data body is truncated");
            return answer(c);
        }
    }
    c->req.body = c->buf;
    c->req.body_len = c->len;
    if (routes_body(h->ctx, &c->req, &c->resp) == ROUTES_DONE)
        return answer(c);
    c->req.resume = resume;
    c->req.resume_arg = c;
    c->phase = PH_WAIT;
    peer_state(h, peer_of(c->conn), PEER_BUSY);
    MHD_suspend_connection(c->conn);
    if (!h->ctx->pool) {
        rc = POOL_ESTOPPED;
    } else {
        rc = pool_submit(h->ctx->pool, c->req.defer);
    }
    if (rc != POOL_OK) {
        routes_rejected(h->ctx, &c->req, &c->resp, rc);
        c->phase = PH_REJECTED;
        MHD_resume_connection(c->conn);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    Http *h = cls;
    Conn *c = *con_cls;
    size_t size = *upload_size;
    if (!c && !(*con_cls = c = conn_new(h)))
        return MHD_NO;
    if (c->phase == PH_NEW)
        return start(h, conn, url, method, version, c);
    *upload_size = 0;           /* every byte is consumed or dropped */
    switch (c->phase) {
    case PH_NEW:
        break;
    case PH_READY:
        if (!size)
            return answer(c);
        c->received += size;
        if (c->received > (uint64_t)h->cfg->max_body_bytes) {
            routes_too_large(h->ctx, &c->req, &c->resp);
            return refuse_midway(c);
        }
        if (body_too_slow(c, size))
            return refuse_slow(c);
        return MHD_YES;
    case PH_BODY:
        return size ? body_chunk(c, upload, size) : body_end(c);
    case PH_WAIT:
        routes_complete(h->ctx, &c->req, &c->resp);
        return answer(c);
    case PH_REJECTED:
        return answer(c);
    case PH_ANSWERED:
        break;                  /* the rest of a refused body: dropped */
    }
    return MHD_YES;
}

/* ---- completion and log ------------------------------------------------ */

static const char *termination(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return NULL;
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client closed";
    default:
        return "error";
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    Http *h = cls;
    Conn *c = *con_cls;
    const char *why = termination(toe);
    json_t *f;
    if (!c)
        return;
    f = json_pack("{s:s, s:o*, s:o*, s:i, s:I, s:f}", "id", c->id, "method",
                  log_str(c->req.method), "path", log_str(c->req.path), "status", c->status,
                  "bytes", (json_int_t)c->bytes, "ms", (util_now_s() - c->t0) * 1e3);
    routes_log(&c->req, f);
    if (f && why)
        json_object_set_new(f, "terminated", json_string(why));
    log_object("info", "request", f);
    if (c->pp)
        MHD_destroy_post_processor(c->pp);
    atomic_fetch_sub(&h->ctx->upload_reserved, c->reserved);
    peer_state(h, peer_of(conn), PEER_HEAD);
    routes_finish(&c->req);
    free(c->resp.body);
    free(c->buf);
    free(c);
    *con_cls = NULL;
    atomic_fetch_sub(&h->ctx->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;
    util_verrf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    log_write("warn", "libmicrohttpd", "{s:s}", "detail", msg);
}

/* libmicrohttpd's unescaper, replaced by routes_unescape (which keeps
 * "%00" literal). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    return routes_unescape(s);
}

/* ---- start and stop ---------------------------------------------------- */

Http *http_start(RoutesCtx *ctx, const Config *cfg, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char port[16];
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    Http *h = calloc(1, sizeof *h);
    int rc;
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->ctx = ctx;
    h->cfg = cfg;
    pthread_mutex_init(&h->lock, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&h->wake, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (getrandom(&h->id_seed, sizeof h->id_seed, 0) != sizeof h->id_seed)
        h->id_seed = (uint64_t)getpid() ^ (uint64_t)(util_now_s() * 1e9);
    snprintf(port, sizeof port, "%d", cfg->port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if ((rc = getaddrinfo(cfg->host, port, &hints, &ai))) {
        snprintf(err, errlen, "--host %s: %s", cfg->host, gai_strerror(rc));
        goto fail;
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_UNESCAPE_CALLBACK, unescape, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->timeout_s,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->per_ip_limit,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections + TABLE_RESERVE,
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not permitted?)",
                 cfg->host, cfg->port);
        goto fail;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    if ((rc = pthread_create(&h->sweeper, NULL, sweeper_main, h))) {
        snprintf(err, errlen, "cannot start the connection sweeper: %s", strerror(rc));
        MHD_stop_daemon(h->daemon);
        goto fail;
    }
    h->sweeper_started = 1;
    return h;
fail:
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return NULL;
}

int http_port(const Http *h)
{
    return h->port;
}

void http_quiesce(Http *h)
{
    MHD_socket fd;
    if (!h || h->quiesced)
        return;
    fd = MHD_quiesce_daemon(h->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    h->quiesced = 1;
}

void http_stop(Http *h)
{
    if (!h)
        return;
    if (h->sweeper_started) {
        pthread_mutex_lock(&h->lock);
        h->stopping = 1;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->sweeper, NULL);
    }
    MHD_stop_daemon(h->daemon);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
