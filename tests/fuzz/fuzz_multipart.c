/* fuzz_multipart.c: POST /stylize with a multipart/form-data body, through
 * the real HTTP layer (http.c, libmicrohttpd's PostProcessor, routes.c).
 *
 * libmicrohttpd's PostProcessor reads the boundary from the connection, so
 * it cannot be driven without one: the harness starts the server in
 * process on 127.0.0.1 (port 0, no worker pool: a request that would run
 * is answered 503 as a stopping server answers it) and sends each input
 * over a new loopback connection.
 *
 * Input: "CONTENT-TYPE\nBODY...". The first line is the Content-Type value
 * (so the boundary parameter is fuzzed too), the rest the body, sent with
 * its true Content-Length. Checked: the server answers with a status line,
 * never a 5xx other than 503, and keeps answering. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server/config.h"
#include "server/http.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "server/registry.h"
#include "server/routes.h"
#include "tests/fuzz/fuzz.h"

static Config cfg;
static RoutesCtx ctx;
static Http *http;

static const char *no_env(const char *name)
{
    return NULL;
}

static void stop(void)
{
    http_stop(http);
    registry_free(ctx.reg);
    metrics_free(ctx.metrics);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char models[512], err[512];
    /* The connection limits are lifted: thousands of connections a second
     * from one address would otherwise meet the per-address limit while
     * closed ones are still being reaped, and be dropped unanswered. */
    char *args[] = {"serve", "--models", models, "--host", "127.0.0.1", "--port", "0",
                    "--max-body-mb", "1", "--max-pixels", "65536", "--timeout", "5",
                    "--per-ip-limit", "100000", "--max-connections", "100000"};
    snprintf(models, sizeof models, "%s/models", fuzz_tmpdir());
    fuzz_write_models(models);
    log_set_fd(open("/dev/null", O_WRONLY));
    if (config_parse(&cfg, (int)(sizeof args / sizeof args[0]), args, no_env, err, sizeof err)) {
        fprintf(stderr, "fuzz_multipart: %s\n", err);
        abort();
    }
    ctx.cfg = &cfg;
    if (!(ctx.reg = registry_open(models, NULL, err, sizeof err)) ||
        !(ctx.metrics = metrics_new())) {
        fprintf(stderr, "fuzz_multipart: %s\n", err);
        abort();
    }
    registry_load_all(ctx.reg);
    ctx.openapi = openapi_text();
    ctx.openapi_len = openapi_len();
    atomic_init(&ctx.draining, 0);
    atomic_init(&ctx.inflight, 0);
    if (!(http = http_start(&ctx, &cfg, err, sizeof err))) {
        fprintf(stderr, "fuzz_multipart: %s\n", err);
        abort();
    }
    atexit(stop);
    return 0;
}

static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;      /* the server may close early (413): not a finding */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One request on a new connection; the status of the answer, 0 for none. */
static int exchange(const char *head, size_t hlen, const uint8_t *body, size_t blen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port(http))};
    struct timeval tv = {10, 0};
    char reply[4096];
    size_t got = 0;
    int fd, status = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int tries = 0;; tries++) {
        if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv)) {
            perror("fuzz_multipart: socket");
            abort();
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            break;
        /* libFuzzer's timers interrupt system calls (EINTR): try again. */
        if (errno != EINTR || tries == 5) {
            perror("fuzz_multipart: connect");
            abort();
        }
        close(fd);
    }
    if (send_all(fd, head, hlen) == 0)
        send_all(fd, body, blen);
    shutdown(fd, SHUT_WR);
    while (got < sizeof reply - 1) {
        ssize_t r = recv(fd, reply + got, sizeof reply - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    reply[got] = '\0';
    if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - (const char *)data) : size;
    const uint8_t *body = nl ? (const uint8_t *)nl + 1 : data + size;
    size_t blen = (size_t)(data + size - body);
    char head[1024];
    int n, status;
    if (tlen > 512 || memchr(data, '\r', tlen) || memchr(data, '\0', tlen))
        return 0;           /* a header value cannot hold these; MHD's own parser is not ours */
    n = snprintf(head, sizeof head,
                 "POST /stylize?model=tiny HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
                 "Content-Type: %.*s\r\nContent-Length: %zu\r\n\r\n",
                 (int)tlen, (const char *)data, blen);
    /* No answer at all once can be the machine (a loaded host, a socket
     * still closing); twice for the same bytes is the server. */
    if (!(status = exchange(head, (size_t)n, body, blen)))
        status = exchange(head, (size_t)n, body, blen);
    if (status < 200 || (status >= 500 && status != 503)) {
        fprintf(stderr, "fuzz_multipart: answered %d\n", status);
        abort();
    }
    return 0;
}
