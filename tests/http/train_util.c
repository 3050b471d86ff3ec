/* train_util.c: helpers of the /train tests (train_util.h). */
#include "tests/http/train_util.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/net.h"

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

/* The caps below are safety nets, not timings: a sanitizer build runs the
 * trainer and the gate several times slower (test_swap's job, 6 steps and
 * three gated candidates beside four busy clients, passes plainly and
 * missed its 120 s under ASan in CI on two loaded cores). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRAIN_WAIT_SCALE 5
#endif
#endif
#if !defined(TRAIN_WAIT_SCALE) && defined(__SANITIZE_ADDRESS__)
#define TRAIN_WAIT_SCALE 5
#endif
#ifndef TRAIN_WAIT_SCALE
#define TRAIN_WAIT_SCALE 1
#endif

json_t *train_wait(const Harness *h, const char *id, const char *state, double seconds)
{
    double end = harness_now() + seconds * TRAIN_WAIT_SCALE;
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

json_t *train_json_of(const Reply *r)
{
    json_t *j = json_loadb((const char *)r->body, r->len, 0, NULL);
    if (!j)
        print_error("not JSON (%ld): %.*s\n", r->status, (int)r->len,
                    r->body ? (char *)r->body : "");
    assert_non_null(j);
    return j;
}

void train_expect_problem(const Reply *r, long status, const char *param)
{
    json_t *j;
    if (r->status != status) {
        print_error("status %ld, want %ld: %.*s\n", r->status, status, (int)r->len,
                    r->body ? (char *)r->body : "");
        fail();
    }
    j = train_json_of(r);
    if (param) {
        const char *p = json_string_value(json_object_get(j, "param"));
        if (!p || strcmp(p, param)) {
            print_error("param %s, want %s (%s)\n", p ? p : "(none)", param,
                        json_string_value(json_object_get(j, "detail")));
            fail();
        }
    }
    json_decref(j);
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

int train_served_version(const Harness *h, const char *model)
{
    size_t len;
    uint8_t *jpeg = harness_jpeg(64, 48, 90, &len);
    char path[128], v[96];
    const char *slash;
    Reply r;
    int version = -1;
    snprintf(path, sizeof path, "/stylize?model=%s", model);
    if (jpeg && harness_request(h, "POST", path, "image/jpeg", jpeg, len, NULL, &r) == 200 &&
        reply_header(&r, "X-Atelier-Model", v, sizeof v) && (slash = strstr(v, "/v")))
        version = atoi(slash + 2);
    if (jpeg)
        reply_free(&r);
    free(jpeg);
    return version;
}

static int complain(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* The vN.safetensors files of dir as a bit set over 1..max-1 in seen;
 * -1 with msg when no_temps and a temporary file is there. */
static int scan_folder(const char *dir, unsigned char *seen, int max, int no_temps, char *msg,
                       size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (!d)
        return 0;
    while (rc == 0 && (e = readdir(d))) {
        int v;
        char tail[32];
        if (no_temps && strstr(e->d_name, ".tmp"))
            rc = complain(msg, len, "%s/%s: a temporary file is left", dir, e->d_name);
        else if (seen && sscanf(e->d_name, "v%d.%31s", &v, tail) == 2 &&
                 !strcmp(tail, "safetensors") && v > 0 && v < max)
            seen[v] = 1;
    }
    closedir(d);
    return rc;
}

/* GET /models/NAME's versions into v (up to max) and their count; 0 when
 * the model is unknown; -1 with msg on a load error or a bad answer. */
static int listed_versions(const Harness *h, const char *model, int *v, int max, char *msg,
                           size_t msglen)
{
    char path[128];
    Reply r;
    json_t *m, *vs;
    int n = 0;
    snprintf(path, sizeof path, "/models/%s", model);
    if (harness_get(h, path, &r) == 404) {
        reply_free(&r);
        return 0;
    }
    m = r.status == 200 ? json_loadb((const char *)r.body, r.len, 0, NULL) : NULL;
    reply_free(&r);
    if (!m)
        return complain(msg, msglen, "GET /models/%s answered %ld", model, r.status);
    if (json_object_get(m, "error")) {
        complain(msg, msglen, "%s: %s", model, json_string_value(json_object_get(m, "error")));
        json_decref(m);
        return -1;
    }
    vs = json_object_get(m, "versions");
    for (size_t i = 0; i < json_array_size(vs) && n < max; i++)
        v[n++] = (int)json_integer_value(json_array_get(vs, i));
    /* A candidate or refused version is listed but not served: marked
     * negative, so the newest servable one is what is compared. */
    vs = json_object_get(m, "versions_detail");
    for (size_t i = 0; i < json_array_size(vs) && (int)i < n; i++) {
        const char *st = json_string_value(json_object_get(json_array_get(vs, i), "state"));
        if (st && (!strcmp(st, "candidate") || !strcmp(st, "refused")))
            v[i] = -v[i];
    }
    json_decref(m);
    return n;
}

int train_check_repo(const Harness *h, const char *models_dir, const char *model, int no_temps,
                     char *msg, size_t msglen)
{
    enum { MAXV = 4096 };
    char path[512], err[256];
    unsigned char seen[MAXV] = {0};
    int listed[256], n, newest = 0, served, found = 0;
    snprintf(path, sizeof path, "%s/%s/.train", models_dir, model);
    if (scan_folder(path, NULL, 0, no_temps, msg, msglen))
        return -1;
    snprintf(path, sizeof path, "%s/%s", models_dir, model);
    if (scan_folder(path, seen, MAXV, no_temps, msg, msglen))
        return -1;
    /* Every version file on disk loads: the registry lists each one it
     * finds (a file its watch has yet to see is listed at its next look). */
    for (int v = 1; v < MAXV; v++) {
        Net *net;
        if (!seen[v])
            continue;
        snprintf(path, sizeof path, "%s/%s/v%d.safetensors", models_dir, model, v);
        if (!(net = net_load(path, err, sizeof err)))
            return complain(msg, msglen, "v%d on disk does not load: %s", v, err);
        net_free(net);
    }
    if ((n = listed_versions(h, model, listed, 256, msg, msglen)) <= 0)
        return n;
    for (int i = 0; i < n; i++) {
        int v = listed[i] < 0 ? -listed[i] : listed[i];
        if (v <= 0 || v >= MAXV || !seen[v])
            return complain(msg, msglen, "v%d is listed but not on disk", v);
        newest = listed[i] > newest ? listed[i] : newest;
    }
    if (!newest)
        return n;           /* candidates only: nothing is served yet */
    /* The newest listed is served (a job still running may publish one
     * more in between: then that one, listed by now). */
    served = train_served_version(h, model);
    if (served != newest) {
        int again[256], m = listed_versions(h, model, again, 256, msg, msglen);
        for (int i = 0; i < m; i++)
            found |= again[i] == served;    /* a servable one, listed by now */
        if (!found || served < newest)
            return complain(msg, msglen, "serves v%d, the newest listed is v%d", served, newest);
    }
    return n;
}
