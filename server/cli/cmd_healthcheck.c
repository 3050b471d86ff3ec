/* cmd_healthcheck.c: `atelier healthcheck`, one HTTP/1.1 GET against a
 * running `atelier serve` over a plain socket: the container HEALTHCHECK,
 * so that the image needs no curl and the binary no libcurl.
 *
 * Exit 0 on a 2xx answer; 1 on anything else (refused, timed out, not HTTP,
 * a non-2xx status, or a bad flag), with one line on stderr saying why.
 * A bad flag is 1 and not 2 as in the other subcommands because Docker
 * reserves a HEALTHCHECK exit status of 2.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include "server/cli/cli.h"
#include "engine/util.h"

static const char healthcheck_usage[] =
    "usage: atelier healthcheck [--host H] [--port P] [--path /P] [--timeout S]\n"
    "\n"
    "GETs http://H:P/P from a running `atelier serve` and exits 0 on a 2xx\n"
    "answer, 1 otherwise with the reason on stderr. Defaults: --host is\n"
    "$ATELIER_HOST, or 127.0.0.1 when that is unset or a wildcard (0.0.0.0,\n"
    "::); --port is $ATELIER_PORT, else 8080; --path /healthz (liveness;\n"
    "/readyz for readiness); --timeout 3 seconds for the whole exchange.\n";

/* The status line is all we read; anything longer than this before its end
 * is not an HTTP answer. */
#define HC_LINE_MAX 512

/* Waits for events on fd until deadline; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - (long long)(util_now_s() * 1e3);
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Connects to the first address of host:port that accepts before the
 * deadline. Returns the socket, or -1 with the reason in err. */
static int connect_to(const char *host, const char *port, long long deadline,
                      char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res, *ai;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    snprintf(err, errlen, "no address for %s", host);
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            snprintf(err, errlen, "socket: %s", strerror(errno));
            continue;
        }
        int e = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            e = errno;
            if (e == EINPROGRESS) {
                socklen_t len = sizeof(e);
                int w = wait_fd(fd, POLLOUT, deadline);
                if (w == 0)
                    e = ETIMEDOUT;
                else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
                    e = errno;
            }
        }
        if (!e)
            break;
        snprintf(err, errlen, "connect: %s", strerror(e));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Sends all of buf before the deadline; 0 or -1 with err. */
static int send_all(int fd, const char *buf, size_t len, long long deadline,
                    char *err, size_t errlen)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) <= 0) {
                snprintf(err, errlen, "timed out sending the request");
                return -1;
            }
        } else {
            snprintf(err, errlen, "send: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Reads up to the end of the status line into line (NUL-terminated, without
 * the line break). 0, or -1 with err. */
static int read_status_line(int fd, char *line, size_t cap, long long deadline,
                            char *err, size_t errlen)
{
    size_t have = 0;
    for (;;) {
        char *eol = memchr(line, '\n', have);
        if (eol) {
            *eol = '\0';
            if (eol > line && eol[-1] == '\r')
                eol[-1] = '\0';
            /* It goes to stderr: no terminal control bytes from a peer. */
            for (char *p = line; *p; p++)
                if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
                    *p = '?';
            return 0;
        }
        if (have + 1 >= cap) {
            snprintf(err, errlen, "answer is not HTTP (no status line in %zu bytes)", have);
            return -1;
        }
        ssize_t n = recv(fd, line + have, cap - 1 - have, 0);
        if (n > 0) {
            have += (size_t)n;
        } else if (n == 0) {
            snprintf(err, errlen, have ? "connection closed inside the status line"
                                       : "connection closed without an answer");
            return -1;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(fd, POLLIN, deadline) <= 0) {
                snprintf(err, errlen, "no answer in time");
                return -1;
            }
        } else {
            snprintf(err, errlen, "recv: %s", strerror(errno));
            return -1;
        }
    }
}

/* Parses "HTTP/1.x SSS reason"; the status, or -1 if line is not one. */
static int parse_status(const char *line)
{
    if (strncmp(line, "HTTP/1.", 7) || line[7] < '0' || line[7] > '9' || line[8] != ' ')
        return -1;
    const char *s = line + 9;
    for (int i = 0; i < 3; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    if (s[3] != '\0' && s[3] != ' ')
        return -1;
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* A path we can put on the request line: absolute, printable, no spaces. */
static int valid_path(const char *p)
{
    if (p[0] != '/' || strlen(p) > 1024)
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

static const char *default_host(void)
{
    const char *h = getenv("ATELIER_HOST");
    if (!h || !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, "[::]") ||
        !strcmp(h, "*"))
        return "127.0.0.1";
    return h;
}

int cmd_healthcheck(int argc, char **argv)
{
    static const struct option opts[] = {
        { "host", required_argument, 0, 'H' }, { "port", required_argument, 0, 'p' },
        { "path", required_argument, 0, 'P' }, { "timeout", required_argument, 0, 't' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    const char *host = default_host(), *path = "/healthz";
    const char *port_s = getenv("ATELIER_PORT");
    long port = 8080, timeout_s = 3;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'H') {
            host = optarg;
        } else if (c == 'p') {
            port_s = optarg;
        } else if (c == 'P') {
            path = optarg;
        } else if (c == 't') {
            if (cli_parse_int(optarg, 1, 3600, &timeout_s)) {
                fprintf(stderr, "atelier healthcheck: --timeout: expected seconds in 1..3600\n");
                return 1;
            }
        } else if (c == 'h') {
            return fputs(healthcheck_usage, stdout), 0;
        } else {
            fprintf(stderr, "atelier healthcheck: unknown option '%s' (see --help)\n",
                    argv[optind - 1]);
            return 1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "atelier healthcheck: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    if (port_s && *port_s && cli_parse_int(port_s, 1, 65535, &port)) {
        fprintf(stderr, "atelier healthcheck: port '%s' is not in 1..65535\n", port_s);
        return 1;
    }
    if (!*host || strlen(host) > 255 || strpbrk(host, " \r\n/")) {
        fprintf(stderr, "atelier healthcheck: bad host '%s'\n", host);
        return 1;
    }
    if (!valid_path(path)) {
        fprintf(stderr, "atelier healthcheck: --path must start with '/' and hold no spaces\n");
        return 1;
    }

    /* Numeric IPv6 hosts are bracketed in URLs and in the Host header. */
    int v6 = strchr(host, ':') != NULL;
    char url[1400], portbuf[8], req[1700], line[HC_LINE_MAX], err[256];
    snprintf(portbuf, sizeof(portbuf), "%ld", port);
    snprintf(url, sizeof(url), "http://%s%s%s:%ld%s", v6 ? "[" : "", host, v6 ? "]" : "",
             port, path);
    int reqlen = snprintf(req, sizeof(req),
                          "GET %s HTTP/1.1\r\nHost: %s%s%s:%ld\r\n"
                          "User-Agent: atelier-healthcheck\r\nAccept: */*\r\n"
                          "Connection: close\r\n\r\n",
                          path, v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (reqlen < 0 || (size_t)reqlen >= sizeof(req)) {
        fprintf(stderr, "atelier healthcheck: request too long\n");
        return 1;
    }

    long long deadline = (long long)(util_now_s() * 1e3) + timeout_s * 1000;
    int fd = connect_to(host, portbuf, deadline, err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "atelier healthcheck: %s: %s\n", url, err);
        return 1;
    }
    int status = -1;
    if (!send_all(fd, req, (size_t)reqlen, deadline, err, sizeof(err)) &&
        !read_status_line(fd, line, sizeof(line), deadline, err, sizeof(err))) {
        status = parse_status(line);
        if (status < 0)
            snprintf(err, sizeof(err), "answer is not HTTP: '%.60s'", line);
    }
    close(fd);
    if (status < 0) {
        fprintf(stderr, "atelier healthcheck: %s: %s\n", url, err);
        return 1;
    }
    if (status < 200 || status > 299) {
        fprintf(stderr, "atelier healthcheck: %s: %s\n", url, line + 9);
        return 1;
    }
    printf("atelier healthcheck: %s: %s\n", url, line + 9);
    return 0;
}
