/* test_routes.c: server/routes.c without a socket: matching, methods,
 * parameters, the management API's token, probes, and a stylize request
 * run through a worker context in this thread. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/net.h"
#include "engine/util.h"
#include "server/log.h"
#include "server/reply.h"
#include "server/infer.h"
#include "server/routes.h"
#include "tests/engine/st_fixture.h"
#include "tests/http/server_harness.h"

typedef struct Fix {
    char *dir;
    Config cfg;
    RoutesCtx ctx;
    InferWorker *worker;
} Fix;

static const char *no_env(const char *name)
{
    return NULL;
}

static int setup(void **state)
{
    Fix *f = calloc(1, sizeof *f);
    char p[1024], err[256];
    const char *argv[] = {"serve", "--token", "t0ken", "--max-pixels", "100000"};
    f->dir = stfix_tmpdir();
    snprintf(p, sizeof p, "%s/tiny", f->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/tiny/v1.safetensors", f->dir);
    if (harness_write_tiny_model(p, 1))
        return -1;
    snprintf(p, sizeof p, "%s/tiny/v2.safetensors", f->dir);
    if (harness_write_tiny_model(p, 2))
        return -1;
    snprintf(p, sizeof p, "%s/tiny/CURRENT", f->dir);
    FILE *pin = fopen(p, "w");
    if (!pin)
        return -1;
    fputs("1\n", pin);
    fclose(pin);
    if (config_parse(&f->cfg, 5, (char **)argv, no_env, err, sizeof err))
        return -1;
    f->ctx.cfg = &f->cfg;
    f->ctx.reg = registry_open(f->dir, NULL, err, sizeof err);
    f->ctx.metrics = metrics_new();
    f->ctx.openapi = "openapi: 3.1.0\n";
    f->ctx.openapi_len = strlen(f->ctx.openapi);
    f->worker = infer_worker_new(256u << 20, 1);
    if (!f->ctx.reg || !f->ctx.metrics || !f->worker)
        return -1;
    registry_load_all(f->ctx.reg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    infer_worker_free(f->worker);
    registry_free(f->ctx.reg);
    metrics_free(f->ctx.metrics);
    stfix_rm_tree(f->dir);
    free(f);
    return 0;
}

/* Builds a request from "METHOD /path?k=v&k2" (query split naively). */
static void req_init(Request *req, char *buf, size_t len, const char *line)
{
    char *sp, *q, *tok, *save = NULL;
    memset(req, 0, sizeof *req);
    snprintf(buf, len, "%s", line);
    sp = strchr(buf, ' ');
    *sp = '\0';
    req->method = buf;
    req->path = sp + 1;
    req->content_length = -1;
    req->request_id = "test-id";
    if ((q = strchr(sp + 1, '?'))) {
        *q = '\0';
        for (tok = strtok_r(q + 1, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq = '\0';
            req->query[req->nquery++] = (HttpKV){tok, eq ? eq + 1 : NULL};
        }
    }
}

static json_t *body_json(const Response *resp)
{
    json_t *j = json_loadb((const char *)resp->body, resp->len, 0, NULL);
    assert_non_null(j);
    return j;
}

/* Runs routes_begin alone and checks the status (and param for 400). */
static void expect(Fix *f, const char *line, const char *auth, int status, const char *param)
{
    char buf[512];
    Request req;
    Response resp = {0};
    int rc;
    req_init(&req, buf, sizeof buf, line);
    req.authorization = auth;
    rc = routes_begin(&f->ctx, &req, &resp);
    if (resp.status != status || (status == 200) != (rc == ROUTES_DONE && resp.status == 200)) {
        print_error("%s: status %d (rc %d), want %d\n%.*s\n", line, resp.status, rc, status,
                    (int)resp.len, resp.body ? (const char *)resp.body : "");
        fail();
    }
    if (status >= 400) {
        json_t *j = body_json(&resp);
        assert_string_equal(resp.content_type, "application/problem+json");
        assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
        assert_string_equal(json_string_value(json_object_get(j, "request_id")), "test-id");
        if (param) {
            const char *got = json_string_value(json_object_get(j, "param"));
            if (!got || strcmp(got, param)) {
                print_error("%s: param %s, want %s\n", line, got ? got : "(none)", param);
                fail();
            }
        }
        json_decref(j);
    }
    routes_finish(&req);
    free(resp.body);
}

static void test_match(void **state)
{
    (void)state;
    assert_int_equal(routes_match("/stylize"), ROUTE_STYLIZE);
    assert_int_equal(routes_match("/models"), ROUTE_MODELS);
    assert_int_equal(routes_match("/models/wave"), ROUTE_MODEL);
    assert_int_equal(routes_match("/models/wave/current"), ROUTE_MODEL_CURRENT);
    assert_int_equal(routes_match("/models/"), ROUTE_NONE);
    assert_int_equal(routes_match("/models//current"), ROUTE_NONE);
    assert_int_equal(routes_match("/models/a/b"), ROUTE_NONE);
    assert_int_equal(routes_match("/train/7/preview"), ROUTE_TRAIN_PREVIEW);
    assert_int_equal(routes_match("/train/7"), ROUTE_TRAIN_JOB);
    assert_int_equal(routes_match("/stylize/"), ROUTE_NONE);
    assert_int_equal(routes_match(""), ROUTE_NONE);
    assert_int_equal(routes_match(NULL), ROUTE_NONE);
    assert_string_equal(routes_label(ROUTE_MODEL), "/models/{name}");
}

static void test_methods_and_probes(void **state)
{
    Fix *f = *state;
    char buf[256];
    Request req;
    Response resp = {0};
    expect(f, "GET /healthz", NULL, 200, NULL);
    expect(f, "HEAD /healthz", NULL, 200, NULL);
    expect(f, "GET /readyz", NULL, 200, NULL);
    expect(f, "GET /models", NULL, 200, NULL);
    expect(f, "GET /models/tiny", NULL, 200, NULL);
    expect(f, "GET /models/nope", NULL, 404, NULL);
    expect(f, "GET /models/..", NULL, 404, NULL);
    expect(f, "GET /nowhere", NULL, 404, NULL);
    expect(f, "GET /openapi.yaml", NULL, 200, NULL);
    expect(f, "GET /metrics", NULL, 200, NULL);
    expect(f, "POST /healthz", NULL, 405, NULL);
    expect(f, "GET /stylize", NULL, 405, NULL);
    expect(f, "POSTX /stylize", NULL, 405, NULL);
    expect(f, " /metrics", NULL, 405, NULL);        /* empty method: was an endless loop */
    expect(f, "OST /stylize", NULL, 405, NULL);

    req_init(&req, buf, sizeof buf, "DELETE /models");
    routes_begin(&f->ctx, &req, &resp);
    assert_int_equal(resp.status, 405);
    assert_string_equal(resp.allow, "GET, HEAD");
    free(resp.body);

    /* Draining: readiness goes, liveness stays. */
    atomic_store(&f->ctx.draining, 1);
    expect(f, "GET /readyz", NULL, 503, NULL);
    expect(f, "GET /healthz", NULL, 200, NULL);
    atomic_store(&f->ctx.draining, 0);
}

static void test_management(void **state)
{
    Fix *f = *state;
    static const char *const lines[] = {"POST /train", "GET /train", "GET /train/abc",
                                        "DELETE /train/abc", "GET /train/abc/preview",
                                        "PUT /models/tiny/current",
                                        "DELETE /models/tiny/current"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        expect(f, lines[i], NULL, 401, NULL);
        expect(f, lines[i], "Bearer wrong", 401, NULL);
        expect(f, lines[i], "Basic dDBrZW4=", 401, NULL);
    }
    /* With the token: /train needs a job queue, which this fixture has not
     * (503); PUT reads a body first (0: not answered yet); the DELETE of a
     * pin is tested over HTTP (tests/http/test_swap.c). */
    for (size_t i = 0; i < 5; i++)
        expect(f, lines[i], "Bearer t0ken", 503, NULL);
    expect(f, "PUT /models/tiny/current", "Bearer t0ken", 0, NULL);
    expect(f, "GET /models/tiny/current", "Bearer t0ken", 405, NULL);
    /* With no token configured the management API is off: 403. */
    char saved[CONFIG_TOKEN_MAX];
    memcpy(saved, f->cfg.token, sizeof saved);
    f->cfg.token[0] = '\0';
    expect(f, "POST /train", "Bearer t0ken", 403, NULL);
    expect(f, "PUT /models/tiny/current", NULL, 403, NULL);
    memcpy(f->cfg.token, saved, sizeof saved);
}

static void test_params(void **state)
{
    Fix *f = *state;
    static const struct {
        const char *line;
        int status;
        const char *param;
    } cases[] = {
        {"POST /stylize", 0, NULL},
        {"POST /stylize?strength=0.5&preserve_colors=true&max_size=64&format=png&quality=1", 0, NULL},
        {"POST /stylize?preserve_colors&format=JPG&model=tiny", 0, NULL},
        {"POST /stylize?strength=1.5", 400, "strength"},
        {"POST /stylize?strength=-0.1", 400, "strength"},
        {"POST /stylize?strength=nan", 400, "strength"},
        {"POST /stylize?strength=", 400, "strength"},
        {"POST /stylize?strength=0.5x", 400, "strength"},
        {"POST /stylize?max_size=63", 400, "max_size"},
        {"POST /stylize?max_size=8193", 400, "max_size"},
        {"POST /stylize?max_size=99999999999999999999", 400, "max_size"},
        {"POST /stylize?max_size=1e3", 400, "max_size"},
        {"POST /stylize?format=gif", 400, "format"},
        {"POST /stylize?format", 400, "format"},
        {"POST /stylize?quality=0", 400, "quality"},
        {"POST /stylize?quality=101", 400, "quality"},
        {"POST /stylize?quality=+90", 0, NULL},
        {"POST /stylize?quality= 90", 400, "quality"},
        {"POST /stylize?quality=90 ", 400, "quality"},
        {"POST /stylize?quality", 400, "quality"},
        {"POST /stylize?version=99999999999999999999", 400, "version"},
        {"POST /stylize?version=-1", 400, "version"},
        {"POST /stylize?preserve_colors=maybe", 400, "preserve_colors"},
        {"POST /stylize?model=../../etc/passwd", 400, "model"},
        {"POST /stylize?model=Tiny", 400, "model"},
        {"POST /stylize?model=", 400, "model"},
        {"POST /stylize?model=nope", 404, "model"},
        {"POST /stylize?strenght=0.5", 400, "strenght"},
        {"POST /stylize?strength=0.1&strength=0.2", 400, "strength"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512];
        Request req;
        Response resp = {0};
        int rc;
        req_init(&req, buf, sizeof buf, cases[i].line);
        rc = routes_begin(&f->ctx, &req, &resp);
        if (cases[i].status == 0) {
            if (rc != ROUTES_BODY) {
                print_error("%s: rc %d status %d, want a body to be read\n", cases[i].line, rc,
                            resp.status);
                fail();
            }
        } else {
            routes_finish(&req);
            free(resp.body);
            expect(f, cases[i].line, NULL, cases[i].status, cases[i].param);
            continue;
        }
        routes_finish(&req);
        free(resp.body);
    }
}

/* One answer for a bad integer parameter, whichever route reads it: the
 * parameter named, "NAME must be an integer in LO..HI, got 'VALUE'". */
static void expect_int_problem(Fix *f, const char *line, const char *param, const char *detail)
{
    char buf[512];
    Request req;
    Response resp = {0};
    req_init(&req, buf, sizeof buf, line);
    routes_begin(&f->ctx, &req, &resp);
    assert_int_equal(resp.status, 400);
    json_t *j = body_json(&resp);
    const char *got = json_string_value(json_object_get(j, "param"));
    const char *said = json_string_value(json_object_get(j, "detail"));
    if (!got || strcmp(got, param) || !said || strcmp(said, detail)) {
        print_error("%s: param %s, detail \"%s\"; want %s, \"%s\"\n", line, got, said, param,
                    detail);
        fail();
    }
    json_decref(j);
    routes_finish(&req);
    free(resp.body);
}

static void test_int_params(void **state)
{
    Fix *f = *state;
    static const struct {
        const char *line, *param, *detail;
    } shapes[] = {
        {"POST /stylize?max_size=64x", "max_size",
         "max_size must be an integer in 64..8192, got '64x'"},
        {"POST /stylize?quality=0", "quality", "quality must be an integer in 1..100, got '0'"},
        {"POST /stylize?version=", "version", "version must be an integer in 1..1000000, got ''"},
        {"GET /models/tiny/thumbnail?version=99999999999999999999", "version",
         "version must be an integer in 1..1000000, got '99999999999999999999'"},
        {"GET /models/tiny/thumbnail?version= 2", "version",
         "version must be an integer in 1..1000000, got ' 2'"},
        {"GET /models/tiny/thumbnail?size=9", "size", "the only parameter here is version, once"},
        {"GET /models/tiny/thumbnail?version=1&version=2", "version",
         "the only parameter here is version, once"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        expect_int_problem(f, shapes[i].line, shapes[i].param, shapes[i].detail);

    /* The one-parameter form /train/{id}/history and /preview read (their
     * routes need a job queue, so the function is called here alone). */
    static const struct {
        const char *line;
        int rc;
        long long want;
    } cases[] = {
        {"GET /x", 0, -5},                     /* absent: unchanged */
        {"GET /x?since=0", 0, 0},
        {"GET /x?since=9223372036854775807", 0, INT64_MAX},
        {"GET /x?since=9223372036854775808", -1, -5},
        {"GET /x?since=-3", -1, -5},
        {"GET /x?since=3junk", -1, -5},
        {"GET /x?since", -1, -5},
        {"GET /x?sinc=3", -1, -5},
        {"GET /x?since=1&since=2", -1, -5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512];
        Request req;
        Response resp = {0};
        long long v = -5;
        req_init(&req, buf, sizeof buf, cases[i].line);
        int rc = reply_query_int(&req, &resp, "since", 0, INT64_MAX, &v);
        if (rc != cases[i].rc || v != cases[i].want || (rc < 0) != (resp.status == 400)) {
            print_error("%s: rc %d, since %lld, status %d\n", cases[i].line, rc, v, resp.status);
            fail();
        }
        free(resp.body);
    }
}

/* /models/{name}/versions/{version}/preview reads {version} as the query's
 * integers are read: 2^32 + 1 is no version (a truncating read made it v1). */
static void test_version_preview(void **state)
{
    Fix *f = *state;
    char p[1024];
    snprintf(p, sizeof p, "%s/tiny/v1.preview.jpg", f->dir);
    assert_int_equal(util_write_atomic(p, "\xff\xd8\xff", 3, NULL, 0), 0);
    expect(f, "GET /models/tiny/versions/1/preview", NULL, 200, NULL);
    expect(f, "GET /models/tiny/versions/4294967297/preview", NULL, 404, NULL);
    expect(f, "GET /models/tiny/versions/99999999999999999999/preview", NULL, 404, NULL);
    expect(f, "GET /models/tiny/versions/1x/preview", NULL, 404, NULL);
    expect(f, "GET /models/tiny/versions/2/preview", NULL, 404, NULL);
    unlink(p);
}

static void test_media_types_and_limits(void **state)
{
    Fix *f = *state;
    static const struct {
        const char *type;
        int ok;
    } types[] = {{"image/jpeg", 1}, {"IMAGE/PNG; q=1", 1}, {"application/octet-stream", 1},
                 {"multipart/form-data; boundary=x", 1}, {"text/plain", 0},
                 {"application/x-www-form-urlencoded", 0}, {"image/gif", 0}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char buf[64];
        Request req;
        Response resp = {0};
        int rc;
        req_init(&req, buf, sizeof buf, "POST /stylize");
        req.content_type = types[i].type;
        rc = routes_begin(&f->ctx, &req, &resp);
        if (types[i].ok ? rc != ROUTES_BODY : resp.status != 415) {
            print_error("Content-Type %s: rc %d status %d\n", types[i].type, rc, resp.status);
            fail();
        }
        routes_finish(&req);
        free(resp.body);
    }
    char buf[64];
    Request req;
    Response resp = {0};
    req_init(&req, buf, sizeof buf, "POST /stylize");
    req.content_length = f->cfg.max_body_bytes + 1;
    assert_int_equal(routes_begin(&f->ctx, &req, &resp), ROUTES_DONE);
    assert_int_equal(resp.status, 413);
    assert_true(resp.close);
    routes_finish(&req);
    free(resp.body);
}

/* POST /stylize?line with body; runs the job here. Returns the status. */
static int stylize(Fix *f, const char *line, const uint8_t *body, size_t len, Response *resp)
{
    char buf[512];
    Request req;
    int rc;
    req_init(&req, buf, sizeof buf, line);
    memset(resp, 0, sizeof *resp);
    rc = routes_begin(&f->ctx, &req, resp);
    if (rc == ROUTES_BODY) {
        req.body = body;
        req.body_len = len;
        rc = routes_body(&f->ctx, &req, resp);
        if (rc == ROUTES_DEFER) {
            req.defer->run(req.defer, f->worker);
            routes_complete(&f->ctx, &req, resp);
        }
    }
    routes_finish(&req);
    return resp->status;
}

static void test_stylize(void **state)
{
    Fix *f = *state;
    size_t jlen, plen;
    uint8_t *jpeg = harness_jpeg(120, 80, 90, &jlen), *png = harness_png(40, 30, &plen);
    Response resp;
    Image *out;
    int code;
    char err[128];
    assert_non_null(jpeg);
    assert_non_null(png);

    assert_int_equal(stylize(f, "POST /stylize?max_size=64", jpeg, jlen, &resp), 200);
    assert_string_equal(resp.content_type, "image/jpeg");
    assert_string_equal(resp.model, "tiny/v1");
    assert_non_null(strstr(resp.timing, "infer;dur="));
    out = image_decode(resp.body, resp.len, 1 << 20, &code, err, sizeof err);
    assert_non_null(out);
    assert_int_equal(out->w, 64);             /* 120x80 fitted to 64 */
    assert_int_equal(out->h, 43);
    image_free(out);
    free(resp.body);

    assert_int_equal(stylize(f, "POST /stylize", png, plen, &resp), 200);
    assert_string_equal(resp.content_type, "image/png");   /* same as input */
    free(resp.body);

    /* Errors found while probing, and the pixel limit (100000 here). */
    assert_int_equal(stylize(f, "POST /stylize", (const uint8_t *)"hello", 5, &resp), 415);
    free(resp.body);
    assert_int_equal(stylize(f, "POST /stylize", jpeg, 0, &resp), 400);
    free(resp.body);
    assert_int_equal(stylize(f, "POST /stylize", jpeg, jlen / 2, &resp), 422);
    free(resp.body);
    free(jpeg);
    jpeg = harness_jpeg(400, 300, 90, &jlen);
    assert_int_equal(stylize(f, "POST /stylize", jpeg, jlen, &resp), 413);
    free(resp.body);

    /* A worker budget too small for the plan: 413 with advice. */
    infer_worker_free(f->worker);
    f->worker = infer_worker_new(1024, 1);
    free(jpeg);
    jpeg = harness_jpeg(100, 100, 90, &jlen);
    assert_int_equal(stylize(f, "POST /stylize", jpeg, jlen, &resp), 413);
    assert_non_null(strstr((char *)resp.body, "max_size"));
    free(resp.body);
    infer_worker_free(f->worker);
    f->worker = infer_worker_new(256u << 20, 1);
    free(jpeg);

    /* A budget just under the whole-image plan: the image runs in bands
     * and comes out as the whole-image pass did, up to rounding. */
    free(png);
    png = harness_png(100, 90, &plen);
    Image *whole, *bands;
    assert_int_equal(stylize(f, "POST /stylize", png, plen, &resp), 200);
    whole = image_decode(resp.body, resp.len, 1 << 20, &code, err, sizeof err);
    free(resp.body);
    int rc;
    ModelRef *m = registry_acquire(f->ctx.reg, "tiny", &rc);
    assert_non_null(m);
    size_t need = net_plan_estimate_bytes(m->net, 90, 100, 2) +
                  2 * (size_t)3 * 90 * 100 * sizeof(float);
    registry_release(m);
    infer_worker_free(f->worker);
    f->worker = infer_worker_new(need - 1, 2);
    assert_int_equal(stylize(f, "POST /stylize", png, plen, &resp), 200);
    bands = image_decode(resp.body, resp.len, 1 << 20, &code, err, sizeof err);
    free(resp.body);
    assert_non_null(whole);
    assert_non_null(bands);
    int maxd = 0;
    for (size_t i = 0; i < (size_t)3 * 90 * 100; i++) {
        int d = abs((int)whole->px[i] - (int)bands->px[i]);
        maxd = d > maxd ? d : maxd;
    }
    printf("  banded under a %zu-byte budget: max difference %d level(s)\n", need - 1, maxd);
    assert_true(maxd <= 1);
    assert_int_equal(infer_worker_bytes(f->worker), 0);   /* banded plans are not cached */
    image_free(whole);
    image_free(bands);
    infer_worker_free(f->worker);
    f->worker = infer_worker_new(256u << 20, 1);
    free(png);
}

static void test_plan_cache(void **state)
{
    Fix *f = *state;
    size_t len;
    uint8_t *a = harness_jpeg(64, 64, 90, &len);
    Response resp;
    size_t bytes;
    assert_int_equal(stylize(f, "POST /stylize", a, len, &resp), 200);
    free(resp.body);
    bytes = infer_worker_bytes(f->worker);
    assert_true(bytes > 0);
    /* Same size again: reused, nothing more held. */
    assert_int_equal(stylize(f, "POST /stylize", a, len, &resp), 200);
    free(resp.body);
    assert_int_equal(infer_worker_bytes(f->worker), bytes);
    assert_true(infer_worker_bytes(f->worker) <= 256u << 20);

    /* A version swap: the next request runs on v2, and the worker drops
     * its plan for v1 instead of keeping both. */
    char err[128];
    assert_int_equal(registry_set_current(f->ctx.reg, "tiny", 2, err, sizeof err), 0);
    assert_int_equal(stylize(f, "POST /stylize", a, len, &resp), 200);
    assert_string_equal(resp.model, "tiny/v2");
    free(resp.body);
    assert_int_equal(infer_worker_bytes(f->worker), bytes);
    assert_int_equal(registry_set_current(f->ctx.reg, "tiny", 1, err, sizeof err), 0);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_methods_and_probes),
        cmocka_unit_test(test_management),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_int_params),
        cmocka_unit_test(test_version_preview),
        cmocka_unit_test(test_media_types_and_limits),
        cmocka_unit_test(test_stylize),
        cmocka_unit_test(test_plan_cache),
    };
    int null = open("/dev/null", O_WRONLY);
    log_set_fd(null);
    return cmocka_run_group_tests(tests, setup, teardown);
}
