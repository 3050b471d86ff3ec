/* redact.h: what unauthenticated answers may show of this machine.
 *
 * Model cards written by older trainers (and load errors) name files by
 * absolute path: /work/..., /tmp/atelier-.../models/x/v3.safetensors. GET
 * /models and GET /models/{name} are open to anyone, so every absolute
 * path in the strings they show is cut to its last component before it is
 * sent: "--style /data/jobs/ab12/style/0.png" becomes "--style 0.png".
 * Relative paths (what trainers write now) are kept.
 */
#ifndef ATELIER_REDACT_H
#define ATELIER_REDACT_H

#include <jansson.h>

/* s with each absolute path cut to its last component: a new string
 * (caller frees), or NULL when out of memory. A path starts with '/' at the
 * start of s or after a space, tab, '=', ':', ',', '(' or a quote, and
 * runs to the next such separator. */
char *redact_paths(const char *s);

/* Applies redact_paths to every string in v (objects and arrays, any
 * depth), in place. */
void redact_json(json_t *v);

#endif
