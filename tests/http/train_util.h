/* train_util.h: helpers of the /train tests: submitting a job with test
 * images, polling its state. Linked into every HTTP test. */
#ifndef ATELIER_TRAIN_UTIL_H
#define ATELIER_TRAIN_UTIL_H

#include <jansson.h>
#include "tests/http/server_harness.h"

#define TRAIN_TOKEN "train-test-token"

/* Server flags that let any finite candidate through the promotion gate,
 * for the tests about hot-swapping, crashes and full disks (their jobs say
 * "promote": "each": every checkpoint is promoted as it is published). The
 * gate itself is tested in test_gate.c. */
#define TRAIN_GATE_OPEN "--gate-min-edges", "0", "--gate-min-spread", "0", \
                        "--gate-style-slack", "100000", "--gate-strokes-slack", "100000"

extern const char *const train_auth[];

/* POST /train with nstyles style images, ncontent content photos (made
 * here) and config (JSON text; NULL: no config field). Fills r. */
long train_submit(const Harness *h, const char *config, int nstyles, int ncontent, Reply *r);

/* GET /train/{id} as JSON (caller decrefs), or NULL. */
json_t *train_get(const Harness *h, const char *id);

/* Polls the job until its state is one of the final ones or `state`;
 * returns the job (caller decrefs), or NULL after seconds (five times that
 * in a sanitizer build: a safety net, not a timing). */
json_t *train_wait(const Harness *h, const char *id, const char *state, double seconds);

/* The reply's body as JSON (caller decrefs); fails the test, printing the
 * body, when it is not JSON. */
json_t *train_json_of(const Reply *r);

/* Fails the test unless r is a problem reply with this status and, when
 * param is not NULL, this "param" member. */
void train_expect_problem(const Reply *r, long status, const char *param);

/* The id in a 202 reply, copied into id (17 bytes); 0 or -1. */
int train_id(const Reply *r, char *id);

/* The version POST /stylize?model=NAME answers with (X-Atelier-Model),
 * or -1 when it does not answer 200. */
int train_served_version(const Harness *h, const char *model);

/* Checks what a training job left in <models_dir>/<model>: every vN file
 * on disk loads (net_load), every version GET /models/NAME lists is such a
 * file, the registry reports no load error, and the newest listed version
 * is the one served; with no_temps, also that no temporary file is in the
 * folder or its .train/ (after kill -9 one may be, until the job runs
 * again). Returns the number of versions listed (0 when the model does not
 * exist yet), or -1 with the reason in msg. */
int train_check_repo(const Harness *h, const char *models_dir, const char *model, int no_temps,
                     char *msg, size_t msglen);

#endif
