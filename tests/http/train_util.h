/* train_util.h: helpers of the /train tests: submitting a job with test
 * images, polling its state. Linked into every HTTP test. */
#ifndef ATELIER_TRAIN_UTIL_H
#define ATELIER_TRAIN_UTIL_H

#include <jansson.h>
#include "tests/http/server_harness.h"

#define TRAIN_TOKEN "train-test-token"

extern const char *const train_auth[];

/* POST /train with nstyles style images, ncontent content photos (made
 * here) and config (JSON text; NULL: no config field). Fills r. */
long train_submit(const Harness *h, const char *config, int nstyles, int ncontent, Reply *r);

/* GET /train/{id} as JSON (caller decrefs), or NULL. */
json_t *train_get(const Harness *h, const char *id);

/* Polls the job until its state is one of the final ones or `state`;
 * returns the job (caller decrefs), or NULL after seconds. */
json_t *train_wait(const Harness *h, const char *id, const char *state, double seconds);

/* The id in a 202 reply, copied into id (17 bytes); 0 or -1. */
int train_id(const Reply *r, char *id);

#endif
