/* test_api.c: every route of the real `atelier serve` over HTTP: probes,
 * models, metrics, the contract, /stylize and its parameters, methods,
 * request ids, and the management API with and without a token. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/image.h"
#include "tests/http/server_harness.h"

static Harness srv;

static int setup(void **state)
{
    const char *args[] = {"--workers", "2", NULL};
    if (harness_start(&srv, args) || harness_wait_ready(&srv, 60))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    return harness_stop(&srv) == 0 ? 0 : -1;    /* a clean exit, no leaks */
}

static json_t *json_of(const Reply *r)
{
    json_t *j = json_loadb((const char *)r->body, r->len, 0, NULL);
    if (!j) {
        print_error("not JSON: %.*s\n", (int)r->len, r->body ? (char *)r->body : "");
        fail();
    }
    return j;
}

/* Checks a problem+json reply: status, content type, body members. */
static void check_problem(const Reply *r, long status, const char *type_suffix, const char *param)
{
    char ct[128];
    json_t *j;
    if (r->status != status) {
        print_error("status %ld, want %ld: %.*s\n", r->status, status, (int)r->len,
                    r->body ? (char *)r->body : "");
        fail();
    }
    assert_non_null(reply_header(r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/problem+json");
    j = json_of(r);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    assert_non_null(json_string_value(json_object_get(j, "title")));
    assert_non_null(json_string_value(json_object_get(j, "detail")));
    const char *type = json_string_value(json_object_get(j, "type"));
    assert_non_null(type);
    if (type_suffix && !strstr(type, type_suffix)) {
        print_error("type %s, want ...%s\n", type, type_suffix);
        fail();
    }
    if (param) {
        const char *p = json_string_value(json_object_get(j, "param"));
        if (!p || strcmp(p, param)) {
            print_error("param %s, want %s\n", p ? p : "(none)", param);
            fail();
        }
    }
    json_decref(j);
}

static void test_probes(void **state)
{
    Reply r;
    char v[128];
    json_t *j;
    assert_int_equal(harness_get(&srv, "/healthz", &r), 200);
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "application/json");
    assert_non_null(reply_header(&r, "X-Request-Id", v, sizeof v));
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    reply_free(&r);

    assert_int_equal(harness_get(&srv, "/readyz", &r), 200);
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "default_model")), "tnet");
    json_decref(j);
    reply_free(&r);

    assert_int_equal(harness_request(&srv, "HEAD", "/healthz", NULL, NULL, 0, NULL, &r), 200);
    assert_int_equal(r.len, 0);
    reply_free(&r);
}

static json_t *find_model(json_t *list, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
        if (!strcmp(json_string_value(json_object_get(m, "name")), name))
            return m;
    return NULL;
}

static void test_models(void **state)
{
    Reply r;
    json_t *j, *list, *m;
    assert_int_equal(harness_get(&srv, "/models", &r), 200);
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "default")), "tnet");
    list = json_object_get(j, "models");
    assert_int_equal(json_array_size(list), 3);
    /* Sorted by name. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "broken");
    m = find_model(list, "tiny");
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(m, "current")), 1);   /* the pin */
    assert_int_equal(json_array_size(json_object_get(m, "versions")), 2);
    assert_true(json_is_true(json_object_get(m, "ready")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "card"), "title")),
                        "Tiny");                                            /* card.json */
    m = find_model(list, "tnet");
    assert_true(json_is_true(json_object_get(m, "default")));
    m = find_model(list, "broken");
    assert_true(json_is_false(json_object_get(m, "ready")));
    json_decref(j);
    reply_free(&r);

    assert_int_equal(harness_get(&srv, "/models/tiny", &r), 200);
    j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "loaded")), 1);
    assert_true(json_integer_value(json_object_get(j, "params")) > 0);
    json_decref(j);
    reply_free(&r);

    assert_int_equal(harness_get(&srv, "/models/broken", &r), 200);
    j = json_of(&r);
    assert_true(json_is_null(json_object_get(j, "loaded")));
    assert_non_null(json_string_value(json_object_get(j, "error")));
    json_decref(j);
    reply_free(&r);

    /* Not "/models/..": curl resolves the dot segment itself and asks for
     * "/", the studio's page. "%2e%2e" arrives as it is. */
    static const char *const missing[] = {"/models/nope", "/models/TINY", "/models/%2e%2e",
                                          "/models/tiny%00x"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        harness_get(&srv, missing[i], &r);
        check_problem(&r, 404, "", NULL);
        reply_free(&r);
    }
    /* An encoded slash never becomes a segment boundary (issue 15). */
    harness_get(&srv, "/models/..%2F..%2Fetc%2Fpasswd", &r);
    check_problem(&r, 400, "bad-request", NULL);
    reply_free(&r);
}

static void test_openapi(void **state)
{
    Reply r;
    char ct[64];
    FILE *f = fopen("openapi.yaml", "rb");
    char *file = NULL;
    size_t flen = 0;
    assert_int_equal(harness_get(&srv, "/openapi.yaml", &r), 200);
    assert_string_equal(reply_header(&r, "Content-Type", ct, sizeof ct), "application/yaml");
    assert_true(r.len > 1000);
    assert_memory_equal(r.body, "openapi: 3.1", 12);
    if (f) {
        /* The binary serves the file it was built from. */
        fseek(f, 0, SEEK_END);
        flen = (size_t)ftell(f);
        rewind(f);
        file = malloc(flen);
        assert_int_equal(fread(file, 1, flen, f), flen);
        fclose(f);
        assert_int_equal(r.len, flen);
        assert_memory_equal(r.body, file, flen);
        free(file);
    }
    reply_free(&r);
}

static void test_routes_and_methods(void **state)
{
    Reply r;
    char allow[64];
    harness_get(&srv, "/nowhere", &r);
    check_problem(&r, 404, "not-found", NULL);
    reply_free(&r);
    harness_request(&srv, "DELETE", "/models", NULL, NULL, 0, NULL, &r);
    check_problem(&r, 405, "method-not-allowed", NULL);
    assert_string_equal(reply_header(&r, "Allow", allow, sizeof allow), "GET, HEAD");
    reply_free(&r);
    harness_get(&srv, "/stylize", &r);
    check_problem(&r, 405, "", NULL);
    assert_string_equal(reply_header(&r, "Allow", allow, sizeof allow), "POST");
    reply_free(&r);
    harness_request(&srv, "POST", "/metrics", "text/plain", "x", 1, NULL, &r);
    check_problem(&r, 405, "", NULL);
    reply_free(&r);
}

static void test_request_id(void **state)
{
    Reply r;
    char id[128];
    const char *mine[] = {"X-Request-Id: trace-42.abc", NULL};
    const char *bad[] = {"X-Request-Id: has space <script>", NULL};
    harness_request(&srv, "GET", "/healthz", NULL, NULL, 0, mine, &r);
    assert_string_equal(reply_header(&r, "X-Request-Id", id, sizeof id), "trace-42.abc");
    reply_free(&r);
    harness_request(&srv, "GET", "/healthz", NULL, NULL, 0, bad, &r);
    reply_header(&r, "X-Request-Id", id, sizeof id);
    assert_int_equal(strlen(id), 16);     /* replaced by one of ours */
    reply_free(&r);
    /* The problem body carries it too. */
    harness_request(&srv, "GET", "/nowhere", NULL, NULL, 0, mine, &r);
    assert_non_null(strstr((char *)r.body, "\"request_id\":\"trace-42.abc\""));
    reply_free(&r);
}

static Image *decode(const Reply *r)
{
    int code;
    char err[128];
    Image *img = image_decode(r->body, r->len, 1 << 26, &code, err, sizeof err);
    if (!img) {
        print_error("reply does not decode: %s\n", err);
        fail();
    }
    return img;
}

static void test_stylize(void **state)
{
    size_t jlen, plen;
    uint8_t *jpeg = harness_jpeg(200, 100, 92, &jlen), *png = harness_png(96, 64, &plen);
    Reply r;
    char v[256];
    Image *img, *in;
    int code;
    char err[128];

    assert_int_equal(harness_request(&srv, "POST", "/stylize", "image/jpeg", jpeg, jlen, NULL, &r),
                     200);
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "image/jpeg");
    assert_string_equal(reply_header(&r, "X-Atelier-Model", v, sizeof v), "tnet/v1");
    reply_header(&r, "Server-Timing", v, sizeof v);
    for (const char *const *s = (const char *const[]){"decode;dur=", "queue;dur=", "infer;dur=",
                                                        "encode;dur=", NULL}; *s; s++)
        if (!strstr(v, *s)) {
            print_error("Server-Timing '%s' lacks %s\n", v, *s);
            fail();
        }
    img = decode(&r);
    assert_int_equal(img->w, 200);
    assert_int_equal(img->h, 100);
    image_free(img);
    reply_free(&r);

    /* The pinned version of another model, resized, as PNG. */
    harness_request(&srv, "POST", "/stylize?model=tiny&max_size=64&format=png", "image/jpeg", jpeg,
                    jlen, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(reply_header(&r, "X-Atelier-Model", v, sizeof v), "tiny/v1");
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "image/png");
    img = decode(&r);
    assert_int_equal(img->w, 64);
    assert_int_equal(img->h, 32);
    image_free(img);
    reply_free(&r);

    /* PNG in, PNG out by default. */
    harness_request(&srv, "POST", "/stylize?preserve_colors=true&quality=50", "image/png", png,
                    plen, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "image/png");
    reply_free(&r);

    /* strength=0 gives the photo back (a lossless round trip in PNG). */
    harness_request(&srv, "POST", "/stylize?strength=0", "image/png", png, plen, NULL, &r);
    assert_int_equal(r.status, 200);
    img = decode(&r);
    in = image_decode(png, plen, 1 << 20, &code, err, sizeof err);
    double diff = 0;
    for (size_t i = 0; i < (size_t)in->w * in->h * 3; i++)
        diff = fmax(diff, fabs((double)img->px[i] - in->px[i]));
    if (diff > 1) {
        print_error("strength=0: max difference %g from the photo\n", diff);
        fail();
    }
    image_free(img);
    image_free(in);
    reply_free(&r);

    /* Metrics saw it. */
    harness_get(&srv, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr((char *)r.body, "atelier_http_requests_total{route=\"/stylize\","
                                           "method=\"POST\",status=\"200\"}"));
    assert_non_null(strstr((char *)r.body, "atelier_model_loaded{model=\"tnet\",version=\"1\"} 1"));
    assert_non_null(strstr((char *)r.body, "atelier_stage_seconds_count{stage=\"infer\"}"));
    assert_non_null(strstr((char *)r.body, "atelier_image_megapixels_count"));
    assert_non_null(strstr((char *)r.body, "atelier_queue_depth 0"));
    assert_non_null(strstr((char *)r.body, "atelier_ready 1"));
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v),
                        "text/plain; version=0.0.4; charset=utf-8");
    reply_free(&r);
    free(jpeg);
    free(png);
}

static void test_stylize_parameters(void **state)
{
    size_t len;
    uint8_t *jpeg = harness_jpeg(64, 64, 90, &len);
    static const struct {
        const char *query;
        long status;
        const char *type;
        const char *param;
    } cases[] = {
        {"?strength=2", 400, "bad-parameter", "strength"},
        {"?strength=abc", 400, "bad-parameter", "strength"},
        {"?strength=inf", 400, "bad-parameter", "strength"},
        {"?max_size=10", 400, "bad-parameter", "max_size"},
        {"?max_size=9000", 400, "bad-parameter", "max_size"},
        {"?max_size=-5", 400, "bad-parameter", "max_size"},
        {"?format=gif", 400, "bad-parameter", "format"},
        {"?quality=0", 400, "bad-parameter", "quality"},
        {"?quality=1000000000000", 400, "bad-parameter", "quality"},
        {"?preserve_colors=maybe", 400, "bad-parameter", "preserve_colors"},
        {"?model=..%2F..%2Fetc", 400, "bad-parameter", "model"},
        {"?model=%00", 400, "bad-parameter", "model"},
        {"?model=nope", 404, "unknown-model", "model"},
        {"?colour=red", 400, "bad-parameter", "colour"},
        {"?strength=0.5&strength=0.6", 400, "bad-parameter", "strength"},
        {"?model=broken", 503, "not-ready", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        Reply r;
        snprintf(path, sizeof path, "/stylize%s", cases[i].query);
        harness_request(&srv, "POST", path, "image/jpeg", jpeg, len, NULL, &r);
        if (r.status != cases[i].status)
            print_error("query %s\n", cases[i].query);
        check_problem(&r, cases[i].status, cases[i].type, cases[i].param);
        if (cases[i].status == 503) {
            char ra[16];
            assert_non_null(reply_header(&r, "Retry-After", ra, sizeof ra));
        }
        reply_free(&r);
    }
    /* A large upload with a bad parameter: curl waits for "100 Continue",
     * the refusal comes first, and the body is never sent. */
    size_t big = 8u << 20;
    uint8_t *blob = calloc(1, big);
    Reply rb;
    harness_request(&srv, "POST", "/stylize?strength=9", "image/jpeg", blob, big, NULL, &rb);
    check_problem(&rb, 400, "bad-parameter", "strength");
    if (rb.uploaded >= (double)big) {
        print_error("the whole %zu-byte body was sent before the 400\n", big);
        fail();
    }
    reply_free(&rb);
    free(blob);
    /* Forty parameters: refused, not truncated. */
    char many[1024] = "/stylize?";
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "p%d=1&", i);
    Reply r;
    harness_request(&srv, "POST", many, "image/jpeg", jpeg, len, NULL, &r);
    check_problem(&r, 400, "bad-parameter", NULL);
    reply_free(&r);
    free(jpeg);
}

static void test_management(void **state)
{
    static const struct {
        const char *method, *path;
    } routes[] = {{"POST", "/train"}, {"GET", "/train"}, {"GET", "/train/abc"},
                  {"DELETE", "/train/abc"}, {"GET", "/train/abc/preview"},
                  {"PUT", "/models/tiny/current"}, {"DELETE", "/models/tiny/current"}};
    const char *right[] = {"Authorization: Bearer correct-horse-battery", NULL};
    const char *wrong[] = {"Authorization: Bearer correct-horse-batterz", NULL};
    Harness tok;
    char path[400];
    FILE *f;
    Reply r;
    /* No token configured (srv): refused, 403. */
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        harness_request(&srv, routes[i].method, routes[i].path, NULL, NULL, 0, right, &r);
        check_problem(&r, 403, "forbidden", NULL);
        reply_free(&r);
    }
    /* A server with a token file. */
    snprintf(path, sizeof path, "%s/token", srv.root);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("correct-horse-battery\n", f);
    fclose(f);
    const char *args[] = {"--token-file", path, NULL};
    assert_int_equal(harness_start(&tok, args), 0);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        char challenge[64];
        harness_request(&tok, routes[i].method, routes[i].path, NULL, NULL, 0, NULL, &r);
        check_problem(&r, 401, "unauthorized", NULL);
        /* RFC 9110 11.6.1: a 401 names the scheme it wants. */
        assert_string_equal(reply_header(&r, "WWW-Authenticate", challenge, sizeof challenge),
                            "Bearer realm=\"atelier\"");
        reply_free(&r);
        harness_request(&tok, routes[i].method, routes[i].path, NULL, NULL, 0, wrong, &r);
        check_problem(&r, 401, "unauthorized", NULL);
        assert_non_null(reply_header(&r, "WWW-Authenticate", challenge, sizeof challenge));
        reply_free(&r);
        harness_request(&tok, routes[i].method, routes[i].path, NULL, NULL, 0, right, &r);
        if (r.status == 401 || r.status == 403) {
            print_error("%s %s with the token: %ld\n", routes[i].method, routes[i].path,
                        r.status);
            fail();
        }
        reply_free(&r);
    }
    harness_signal(&tok, SIGTERM);
    assert_int_equal(harness_wait_exit(&tok, 30), 0);
    assert_int_equal(harness_stop(&tok), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_openapi),
        cmocka_unit_test(test_routes_and_methods),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_stylize),
        cmocka_unit_test(test_stylize_parameters),
        cmocka_unit_test(test_management),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
