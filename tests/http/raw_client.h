/* raw_client.h: HTTP over a plain socket, for the tests that must send what
 * curl will not (lying lengths, NULs, a request cut short) or go away at a
 * chosen moment. Every call asserts (cmocka) on a local failure. */
#ifndef ATELIER_RAW_CLIENT_H
#define ATELIER_RAW_CLIENT_H

#include <stddef.h>

/* A new connection to 127.0.0.1:port with 20 s send and receive timeouts. */
int raw_connect(int port);

/* Sends len bytes; stops quietly when the server has closed. */
void raw_send(int fd, const void *data, size_t len);

/* Closes fd with a reset (SO_LINGER 0) instead of a FIN, as a crashed
 * client does. */
void raw_reset(int fd);

/* Sends head (a string) then body (len bytes) on a new connection, half-
 * closes it, and reads the answer until the server closes (up to 64 KiB)
 * into a new NUL-terminated string; caller frees. */
char *raw_exchange(int port, const char *head, const void *body, size_t len);

/* The status of the first answer in reply, 0 when there is none. */
long raw_status(const char *reply);

#endif
