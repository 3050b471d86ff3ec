/* auth.c: parsing of "Bearer <token>" and a constant-time comparison. */
#include "server/auth.h"

#include <string.h>
#include <strings.h>

int auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Walk b (the client's bytes) whole, comparing with a cyclically, so
     * the time depends on what the client sent, not on where a differs. */
    volatile unsigned char diff = (unsigned char)(alen != blen);
    if (alen == 0)
        return blen == 0;
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)(a[i % alen] ^ b[i]);
    return diff == 0;
}

AuthResult auth_check(const char *token, const char *authorization)
{
    const char *p;
    if (!token || !*token)
        return AUTH_DISABLED;
    if (!authorization)
        return AUTH_MISSING;
    p = authorization;
    while (*p == ' ' || *p == '\t')
        p++;
    /* RFC 9110 11.1: the scheme is case-insensitive. */
    if (strncasecmp(p, "Bearer", 6) || (p[6] != ' ' && p[6] != '\t'))
        return AUTH_MISSING;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t len = strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (!len)
        return AUTH_MISSING;
    return auth_equal(token, strlen(token), p, len) ? AUTH_OK : AUTH_WRONG;
}
