/* openapi.h: the HTTP contract, openapi.yaml from the repository root,
 * built into the binary so that GET /openapi.yaml always matches it. */
#ifndef ATELIER_OPENAPI_H
#define ATELIER_OPENAPI_H

#include <stddef.h>

/* The document (not NUL-terminated: use openapi_len()). Static. */
const char *openapi_text(void);
size_t openapi_len(void);

#endif
