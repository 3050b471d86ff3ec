/* raw_client.c: HTTP over a plain socket for the tests (raw_client.h). */
#include "tests/http/raw_client.h"

#include <stdarg.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

int raw_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {20, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

void raw_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;         /* the server may answer and close first */
        p += n;
        len -= (size_t)n;
    }
}

void raw_reset(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

char *raw_exchange(int port, const char *head, const void *body, size_t len)
{
    int fd = raw_connect(port);
    size_t got = 0, cap = 65536;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    raw_send(fd, head, strlen(head));
    if (len)
        raw_send(fd, body, len);
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n = recv(fd, buf + got, cap - got, 0);
        if (n <= 0 || (got += (size_t)n) == cap)
            break;
    }
    buf[got] = '\0';
    close(fd);
    return buf;
}

long raw_status(const char *reply)
{
    long st = 0;
    return sscanf(reply, "HTTP/1.%*d %ld", &st) == 1 ? st : 0;
}
