/* train_util.c: helpers of the /train tests (train_util.h). */
#include "tests/http/train_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const train_auth[] = {"Authorization: Bearer " TRAIN_TOKEN, NULL};

long train_submit(const Harness *h, const char *config, int nstyles, int ncontent, Reply *r)
{
    Part parts[80];
    uint8_t *bufs[80];
    int n = 0, nb = 0;
    long status;
    for (int i = 0; i < nstyles && n < 78; i++) {
        size_t len;
        uint8_t *png = harness_png(120 + 8 * i, 100, &len);
        bufs[nb++] = png;
        parts[n++] = (Part){"style", png, len, "style.png", "image/png"};
    }
    for (int i = 0; i < ncontent && n < 79; i++) {
        size_t len;
        uint8_t *jpeg = harness_jpeg(96 + 4 * i, 80, 90, &len);
        bufs[nb++] = jpeg;
        parts[n++] = (Part){"content", jpeg, len, "photo.jpg", "image/jpeg"};
    }
    if (config)
        parts[n++] = (Part){"config", config, strlen(config), NULL, "application/json"};
    status = harness_post_form_headers(h, "/train", parts, n, train_auth, r);
    for (int i = 0; i < nb; i++)
        free(bufs[i]);
    return status;
}

json_t *train_get(const Harness *h, const char *id)
{
    char path[64];
    Reply r;
    json_t *j = NULL;
    snprintf(path, sizeof path, "/train/%s", id);
    if (harness_request(h, "GET", path, NULL, NULL, 0, train_auth, &r) == 200)
        j = json_loadb((const char *)r.body, r.len, 0, NULL);
    reply_free(&r);
    return j;
}

json_t *train_wait(const Harness *h, const char *id, const char *state, double seconds)
{
    double end = harness_now() + seconds;
    while (harness_now() < end) {
        json_t *j = train_get(h, id);
        const char *s = j ? json_string_value(json_object_get(j, "state")) : NULL;
        if (s && (!strcmp(s, state) || !strcmp(s, "succeeded") || !strcmp(s, "failed") ||
                  !strcmp(s, "cancelled")))
            return j;
        json_decref(j);
        usleep(50 * 1000);
    }
    return NULL;
}

int train_id(const Reply *r, char *id)
{
    json_t *j = json_loadb((const char *)r->body, r->len, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "id"));
    int rc = s && strlen(s) == 16 ? 0 : -1;
    if (!rc)
        memcpy(id, s, 17);
    json_decref(j);
    return rc;
}
