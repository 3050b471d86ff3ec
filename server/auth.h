/* auth.h: the bearer-token check of the management API.
 *
 * Routes that change state (/train, PUT/DELETE /models/{name}/current) need
 * `Authorization: Bearer <token>`. With no token configured they are refused
 * with 403, as TorchServe and Triton disable their management APIs by
 * default; a missing or wrong token is 401.
 */
#ifndef ATELIER_AUTH_H
#define ATELIER_AUTH_H

#include <stddef.h>

typedef enum AuthResult {
    AUTH_OK = 0,
    AUTH_DISABLED = -1,     /* no token configured: 403 */
    AUTH_MISSING = -2,      /* no or malformed Authorization header: 401 */
    AUTH_WRONG = -3         /* a bearer token that does not match: 401 */
} AuthResult;

/* Checks an Authorization header value (NULL when absent) against token
 * ("" or NULL = none configured). The comparison takes the same time
 * whatever prefix of the token matches. */
AuthResult auth_check(const char *token, const char *authorization);

/* Compares a[0..alen) with b[0..blen) in time that depends only on blen.
 * Returns 1 when equal. */
int auth_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
