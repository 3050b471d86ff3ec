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
 * Bodies: POST /stylize, and after their token check PUT
 * /models/{name}/current and POST /train, keep theirs; other requests'
 * bodies are read and dropped. The limit (--max-body-mb) is checked against Content-Length
 * before reading (413 at once, whatever the route) and against the bytes
 * received while reading; past it the 413 is written at once and the
 * connection closed without reading or buffering the rest (refuse_midway).
 * Other answers wait for the end of the request, so that keep-alive holds.
 * Multipart bodies go through MHD_PostProcessor; for /stylize only the
 * field "image" is kept, for /train every field (routes_form_field).
 *
 * Suspension: when routes_body defers, the connection is suspended FIRST
 * and the job submitted SECOND, so the worker's resume can never come
 * before the suspend. The worker (StylizeJob.done -> job_done) resumes the
 * connection; the polling thread then calls the handler again, which turns
 * the result into the answer. If the pool refuses the job, the handler
 * answers 503 by resuming the connection itself. A suspended connection
 * is neither timed out nor closed by libmicrohttpd, so the request state
 * outlives the job; at shutdown the pool is stopped (cancelled jobs are
 * resumed too) before the daemon.
 *
 * Timeouts and limits: MHD_OPTION_CONNECTION_TIMEOUT (--timeout) drops idle
 * and dribbling clients, MHD_OPTION_PER_IP_CONNECTION_LIMIT and
 * MHD_OPTION_CONNECTION_LIMIT bound what one client and all clients hold.
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/log.h"
#include "engine/util.h"
#include "server/web.h"

#define POST_BUFFER 65536

struct Http {
    struct MHD_Daemon *daemon;
    RoutesCtx *ctx;
    const Config *cfg;
    int port;
    int quiesced;
    uint64_t id_seed;
    atomic_ullong id_next;
};

/* PH_READY: the answer is known but the request's body (if any) is still
 * arriving; it is read and dropped (within the limit) and the answer sent
 * at its end, so the connection can be kept alive. Answering before the
 * end of the request makes libmicrohttpd close the connection, which is
 * what a 413 wants and nothing else does. */
typedef enum Phase { PH_READY, PH_BODY, PH_WAIT, PH_REJECTED, PH_ANSWERED } Phase;

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
    struct MHD_PostProcessor *pp;
    int form_images;              /* fields named "image" seen */
    int status;                   /* answered */
    size_t bytes;
} Conn;

/* ---- request ids ------------------------------------------------------- */

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

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
    snprintf(out, len, "%016llx",
             (unsigned long long)splitmix(h->id_seed + atomic_fetch_add(&h->id_next, 1)));
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
    if (r->close || atomic_load(&c->http->ctx->draining))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(c->conn, (unsigned int)r->status, mr);
    MHD_destroy_response(mr);
    c->status = r->status;
    c->bytes = r->len;
    c->phase = PH_ANSWERED;
    metrics_request(c->http->ctx->metrics, routes_label(c->req.route), c->req.method, r->status,
                    util_now_s() - c->t0);
    return ret;
}

/* libmicrohttpd 0.9.x accepts an answer only before the body or after it,
 * so a body that passes the limit while arriving (no Content-Length, or a
 * client that lied) is answered here by writing the 413 on the socket
 * ourselves, closing our side for writing and dropping what has arrived;
 * returning MHD_NO then makes libmicrohttpd close the connection without
 * reading the rest. */
static enum MHD_Result refuse_midway(Conn *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    Response *r = &c->resp;
    char head[512], sink[4096];
    int n;
    if (ci) {
        int fd = ci->connect_fd;
        size_t off = 0;
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d Content Too Large\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nX-Request-Id: %s\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n",
                     r->status, r->content_type, r->len, c->id);
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
    if (c->req.route == ROUTE_TRAIN)
        return routes_form_field(&c->req, key, off, data, size) ? MHD_NO : MHD_YES;
    if (!key || strcmp(key, "image"))
        return MHD_YES;             /* other fields are ignored */
    if (off == 0)
        c->form_images++;
    if (c->form_images > 1)
        return MHD_YES;             /* answered 400 at the end */
    c->req.form_has_image = 1;
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

/* Counts Content-Length headers whose value differs from the first. */
typedef struct Lengths {
    const char *first;
    int conflict;
} Lengths;

static enum MHD_Result on_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    Lengths *l = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) || !value)
        return MHD_YES;
    if (!l->first)
        l->first = value;
    else if (strcmp(l->first, value))
        l->conflict = 1;
    return MHD_YES;
}

static void job_done(StylizeJob *job, void *arg)
{
    Conn *c = arg;
    /* Runs on the worker; MHD takes its own lock, so everything the worker
     * wrote into the job happens-before the polling thread reads it. */
    MHD_resume_connection(c->conn);
}

static enum MHD_Result start(Http *h, struct MHD_Connection *conn, const char *url,
                             const char *method, void **con_cls)
{
    Conn *c = calloc(1, sizeof *c);
    const char *cl;
    int rc;
    if (!c)
        return MHD_NO;
    *con_cls = c;
    atomic_fetch_add(&h->ctx->inflight, 1);
    c->http = h;
    c->conn = conn;
    c->t0 = util_now_s();
    request_id(h, conn, c->id, sizeof c->id);
    c->req.method = method;
    c->req.path = url;
    c->req.request_id = c->id;
    c->req.content_length = -1;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_query, &c->req);
    c->req.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
    c->req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_TYPE);
    c->req.accept_encoding = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_ACCEPT_ENCODING);
    c->req.if_none_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_IF_NONE_MATCH);
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        /* libmicrohttpd frames the body by one of them; a proxy in front
         * may have used the other (RFC 9112 6.3: unrecoverable). */
        Lengths lengths = {NULL, 0};
        MHD_get_connection_values(conn, MHD_HEADER_KIND, on_length, &lengths);
        if (lengths.conflict) {
            routes_problem(&c->resp, &c->req, PROBLEM_BAD_REQUEST, NULL,
                           "the request has Content-Length headers that disagree");
            c->resp.close = 1;
            return answer(c);
        }
    }
    if (cl) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        c->req.content_length = *end || v > INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    rc = routes_begin(h->ctx, &c->req, &c->resp);
    if (c->req.content_length > h->cfg->max_body_bytes) {
        /* Whatever the route: refused before a body byte is read. */
        routes_too_large(h->ctx, &c->req, &c->resp);
        return answer(c);
    }
    if (rc == ROUTES_DONE) {
        const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_EXPECT);
        /* A client waiting for "100 Continue" has not sent its body yet:
         * a refusal now saves it the upload (the connection then closes). */
        if (c->resp.status >= 400 && expect && !strcasecmp(expect, "100-continue"))
            return answer(c);
        c->phase = PH_READY;
        return MHD_YES;
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
    c->received += size;
    if (c->received > (uint64_t)c->http->cfg->max_body_bytes) {
        routes_too_large(c->http->ctx, &c->req, &c->resp);
        return refuse_midway(c);
    }
    if (c->pp) {
        if (MHD_post_process(c->pp, data, size) != MHD_YES) {
            routes_problem(&c->resp, &c->req, PROBLEM_BAD_REQUEST, "image",
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
        if (ok != MHD_YES || c->form_images > 1) {
            routes_problem(&c->resp, &c->req, PROBLEM_BAD_REQUEST, "image", "%s",
                           c->form_images > 1 ? "more than one field 'image'"
                                              : "the multipart/form-data body is truncated");
            return answer(c);
        }
    }
    c->req.body = c->buf;
    c->req.body_len = c->len;
    if (routes_body(h->ctx, &c->req, &c->resp) == ROUTES_DONE)
        return answer(c);
    c->req.job.done = job_done;
    c->req.job.done_arg = c;
    c->phase = PH_WAIT;
    MHD_suspend_connection(c->conn);
    if (!h->ctx->pool) {
        rc = POOL_ESTOPPED;
    } else {
        rc = pool_submit(h->ctx->pool, &c->req.job.base);
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
    if (!c)
        return start(h, conn, url, method, con_cls);
    *upload_size = 0;           /* every byte is consumed or dropped */
    switch (c->phase) {
    case PH_READY:
        if (!size)
            return answer(c);
        c->received += size;
        if (c->received > (uint64_t)h->cfg->max_body_bytes) {
            routes_too_large(h->ctx, &c->req, &c->resp);
            return refuse_midway(c);
        }
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
    const StylizeJob *job;
    const char *why = termination(toe);
    json_t *f;
    if (!c)
        return;
    job = &c->req.job;
    f = json_pack("{s:s, s:o*, s:o*, s:i, s:I, s:f}", "id", c->id, "method",
                  log_str(c->req.method), "path", log_str(c->req.path), "status", c->status,
                  "bytes", (json_int_t)c->bytes, "ms", (util_now_s() - c->t0) * 1e3);
    if (f && job->model) {
        char model[REPO_NAME_MAX + 16];
        snprintf(model, sizeof model, "%s/v%d", job->model->name, job->model->version);
        json_object_set_new(f, "model", json_string(model));
    }
    if (f && job->base.t_started > 0) {
        json_object_set_new(f, "timings_ms",
                            json_pack("{s:f, s:f, s:f, s:f}", "queue",
                                      (job->base.t_started - job->base.t_queued) * 1e3,
                                      "decode", job->result.decode_s * 1e3, "infer",
                                      job->result.infer_s * 1e3, "encode",
                                      job->result.encode_s * 1e3));
    }
    if (f && why)
        json_object_set_new(f, "terminated", json_string(why));
    log_object("info", "request", f);
    if (c->pp)
        MHD_destroy_post_processor(c->pp);
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
    vsnprintf(msg, sizeof msg, fmt, ap);
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
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not permitted?)",
                 cfg->host, cfg->port);
        goto fail;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    return h;
fail:
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
    MHD_stop_daemon(h->daemon);
    free(h);
}
