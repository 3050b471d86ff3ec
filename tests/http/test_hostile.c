/* test_hostile.c: the hostile-input matrix against the real server. Every
 * route and status path is hit with bad input: empty, truncated and garbage
 * bodies, wrong and lying Content-Type and Content-Length, decompression
 * bombs, odd image variants, out-of-range and non-numeric parameters (NaN,
 * inf, -0, 1e999), names with "../", "%2e%2e" and "%00", very long names
 * and URLs, oversized multipart headers, many small parts, duplicate
 * parameters, chunked uploads. Each must get its 4xx (the server's own
 * answers as problem+json), and after each case the server must still
 * answer a good request. test_upload.c and test_api.c hold the first cases
 * of each kind; this file extends them, without repeating them.
 *
 * Answers that libmicrohttpd writes itself, before a request reaches our
 * code (a malformed request line, header or chunk), carry its own HTML
 * body; for those only the status is checked (RAW_MHD below).
 *
 * Clients that go away and bad model files are in test_faults.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/image.h"
#include "tests/http/raw_client.h"
#include "tests/http/server_harness.h"

static Harness srv;

static int setup(void **state)
{
    const char *args[] = {"--max-body-mb", "2", "--max-pixels", "4000000", "--timeout", "5",
                          NULL};
    if (harness_start(&srv, args) || harness_wait_ready(&srv, 120))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    return harness_stop(&srv) == 0 ? 0 : -1;    /* a clean exit, no leaks */
}

/* ---- bodies made here ---------------------------------------------------- */

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

typedef struct Buf {
    uint8_t *p;
    size_t len, cap;
} Buf;

static void put_bytes(Buf *b, const void *data, size_t n)
{
    if (!n)
        return;             /* data may be NULL (an empty chunk) */
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_be32(Buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put_bytes(b, x, 4);
}

static void put_chunk(Buf *b, const char *type, const uint8_t *data, size_t n)
{
    size_t at;
    put_be32(b, (uint32_t)n);
    at = b->len;
    put_bytes(b, type, 4);
    put_bytes(b, data, n);
    put_be32(b, crc32_of(b->p + at, n + 4));
}

/* Deflate bits, least significant first (RFC 1951). */
typedef struct Bits {
    Buf *b;
    uint32_t acc;
    int n;
} Bits;

static void bits(Bits *w, uint32_t v, int n)
{
    w->acc |= v << w->n;
    w->n += n;
    while (w->n >= 8) {
        uint8_t byte = (uint8_t)w->acc;
        put_bytes(w->b, &byte, 1);
        w->acc >>= 8;
        w->n -= 8;
    }
}

/* Huffman codes go most significant bit first. */
static void code(Bits *w, uint32_t c, int n)
{
    for (int i = n - 1; i >= 0; i--)
        bits(w, (c >> i) & 1, 1);
}

/* A w x h RGB PNG whose IDAT inflates to `zeros` zero bytes (at least the
 * image's w*(3w+1)... rows): one fixed-Huffman block of a literal 0 and
 * then length-258 copies at distance 1, 13 bits per 258 bytes, so a few
 * hundred KiB of file inflate to tens of MiB. */
static uint8_t *png_zero_bomb(uint32_t w, uint32_t h, size_t zeros, size_t *len)
{
    Buf b = {0}, z = {0};
    Bits bw = {&z, 0, 0};
    uint8_t ihdr[13] = {0};
    size_t done = 1;
    ihdr[0] = (uint8_t)(w >> 24), ihdr[1] = (uint8_t)(w >> 16), ihdr[2] = (uint8_t)(w >> 8);
    ihdr[3] = (uint8_t)w;
    ihdr[4] = (uint8_t)(h >> 24), ihdr[5] = (uint8_t)(h >> 16), ihdr[6] = (uint8_t)(h >> 8);
    ihdr[7] = (uint8_t)h;
    ihdr[8] = 8;
    ihdr[9] = 2;                            /* RGB */
    put_bytes(&b, "\x89PNG\r\n\x1a\n", 8);
    put_chunk(&b, "IHDR", ihdr, 13);
    put_bytes(&z, "\x78\x01", 2);
    bits(&bw, 1, 1);                        /* BFINAL */
    bits(&bw, 1, 2);                        /* fixed Huffman */
    code(&bw, 0x30, 8);                     /* literal 0 */
    for (; done + 258 <= zeros; done += 258) {
        code(&bw, 0xC5, 8);                 /* length code 285: 258 */
        code(&bw, 0, 5);                    /* distance code 0: 1 */
    }
    for (; done < zeros; done++)
        code(&bw, 0x30, 8);
    code(&bw, 0, 7);                        /* end of block */
    bits(&bw, 0, 7);                        /* flush */
    put_be32(&z, (uint32_t)((zeros % 65521) << 16 | 1));   /* Adler-32 of zeros */
    put_chunk(&b, "IDAT", z.p, z.len);
    put_chunk(&b, "IEND", NULL, 0);
    free(z.p);
    *len = b.len;
    return b.p;
}

/* A small JPEG whose SOF claims w x h. */
static uint8_t *jpeg_claiming(uint16_t w, uint16_t h, size_t *len)
{
    uint8_t *j = harness_jpeg(16, 16, 90, len);
    for (size_t i = 2; i + 9 < *len; i++)
        if (j[i] == 0xFF && (j[i + 1] == 0xC0 || j[i + 1] == 0xC2)) {
            j[i + 5] = (uint8_t)(h >> 8);
            j[i + 6] = (uint8_t)h;
            j[i + 7] = (uint8_t)(w >> 8);
            j[i + 8] = (uint8_t)w;
            return j;
        }
    fail_msg("no SOF in the test JPEG");
    return NULL;
}

/* A JPEG with an APP1 "Exif" segment holding tiff (n bytes) after SOI. */
static uint8_t *jpeg_with_exif(const uint8_t *tiff, size_t n, size_t *len)
{
    size_t jl;
    uint8_t *j = harness_jpeg(40, 30, 90, &jl);
    Buf b = {0};
    uint8_t seg[4] = {0xFF, 0xE1, (uint8_t)((n + 8) >> 8), (uint8_t)(n + 8)};
    put_bytes(&b, j, 2);
    put_bytes(&b, seg, 4);
    put_bytes(&b, "Exif\0\0", 6);
    put_bytes(&b, tiff, n);
    put_bytes(&b, j + 2, jl - 2);
    free(j);
    *len = b.len;
    return b.p;
}

/* ---- checks -------------------------------------------------------------- */

static int is_problem(const Reply *r, long status, const char *type_suffix)
{
    char ct[128];
    json_t *j;
    const char *type;
    int ok;
    if (!reply_header(r, "Content-Type", ct, sizeof ct) ||
        strcmp(ct, "application/problem+json"))
        return 0;
    j = json_loadb((const char *)r->body, r->len, 0, NULL);
    type = json_string_value(json_object_get(j, "type"));
    ok = j && json_integer_value(json_object_get(j, "status")) == status && type &&
         json_string_value(json_object_get(j, "detail")) &&
         (!type_suffix || strstr(type, type_suffix));
    json_decref(j);
    return ok;
}

/* status, and for a 4xx/5xx a problem+json body whose type ends type_suffix. */
static void expect(const char *what, const Reply *r, long status, const char *type_suffix)
{
    if (r->status != status || (status >= 400 && !is_problem(r, status, type_suffix))) {
        print_error("%s: status %ld (curl %d %s), want %ld %s: %.*s\n", what, r->status,
                    r->curl_code, r->error, status, type_suffix ? type_suffix : "",
                    (int)(r->len > 300 ? 300 : r->len), r->body ? (char *)r->body : "");
        fail();
    }
}

static void still_serving(const char *after)
{
    Reply r;
    harness_get(&srv, "/healthz", &r);
    if (r.status != 200) {
        print_error("after %s: /healthz answered %ld (curl %d %s)\n", after, r.status,
                    r.curl_code, r.error);
        fail();
    }
    reply_free(&r);
}

/* ---- the curl matrix ----------------------------------------------------- */

enum Body {
    B_NONE, B_EMPTY, B_JPEG, B_PNG, B_GARBAGE, B_TEXT, B_ZEROBOMB, B_ZEROBOMB_BIG,
    B_JPEG_MAX, B_JPEG_ZERO, B_EXIF_BADOFF, B_EXIF_LOOP, B_EXIF_O9, B_JPEG_ONLY_SOI,
    B_PNG_NO_IEND, B_COUNT
};

typedef struct Case {
    const char *name;
    const char *method;
    const char *path;
    const char *ctype;          /* NULL: no Content-Type */
    enum Body body;
    long status;
    const char *type;           /* problem type suffix; NULL for 2xx */
} Case;

static const Case cases[] = {
    /* numbers */
    {"strength nan", "POST", "/stylize?model=tiny&strength=nan", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"strength NaN", "POST", "/stylize?model=tiny&strength=NaN", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"strength -inf", "POST", "/stylize?model=tiny&strength=-inf", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"strength 1e999", "POST", "/stylize?model=tiny&strength=1e999", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"strength -1e-999", "POST", "/stylize?model=tiny&strength=-1e-999", "image/jpeg", B_JPEG, 200, NULL},
    {"strength -0", "POST", "/stylize?model=tiny&strength=-0", "image/jpeg", B_JPEG, 200, NULL},
    {"strength empty", "POST", "/stylize?model=tiny&strength=", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"strength no value", "POST", "/stylize?model=tiny&strength", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"strength trailing", "POST", "/stylize?model=tiny&strength=0.5x", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"strength %00", "POST", "/stylize?model=tiny&strength=0.5%00", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"max_size 1e3", "POST", "/stylize?model=tiny&max_size=1e3", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"max_size 0x40", "POST", "/stylize?model=tiny&max_size=0x40", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"max_size 64.0", "POST", "/stylize?model=tiny&max_size=64.0", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"max_size 2^64", "POST", "/stylize?model=tiny&max_size=18446744073709551680", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"max_size -0", "POST", "/stylize?model=tiny&max_size=-0", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"quality nan", "POST", "/stylize?model=tiny&quality=nan", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"quality 101", "POST", "/stylize?model=tiny&quality=101", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"quality empty", "POST", "/stylize?model=tiny&quality=", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"format empty", "POST", "/stylize?model=tiny&format=", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"format no value", "POST", "/stylize?model=tiny&format", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"format png%00", "POST", "/stylize?model=tiny&format=png%00", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"preserve_colors 2", "POST", "/stylize?model=tiny&preserve_colors=2", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    /* duplicates and odd keys */
    {"format twice", "POST", "/stylize?model=tiny&format=png&format=jpeg", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"model twice", "POST", "/stylize?model=tiny&model=tiny", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"empty key", "POST", "/stylize?model=tiny&=1", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"encoded key", "POST", "/stylize?model=tiny&%71uality=50", "image/jpeg", B_JPEG, 200, NULL},
    {"key with %00", "POST", "/stylize?model=tiny&quality%00=50", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    /* model names */
    {"model ../", "POST", "/stylize?model=../tiny", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"model %2e%2e", "POST", "/stylize?model=%2e%2e", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"model %2e%2e%2f", "POST", "/stylize?model=%2e%2e%2ftiny", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"model tiny%00", "POST", "/stylize?model=tiny%00", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"model upper case", "POST", "/stylize?model=TINY", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"model empty", "POST", "/stylize?model=", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"model 65 chars", "POST", "/stylize?model=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "image/jpeg", B_JPEG, 400, "bad-parameter"},
    {"model 64 chars", "POST", "/stylize?model=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "image/jpeg", B_JPEG, 404, "unknown-model"},
    {"GET model ../", "GET", "/models/..%2f..%2fetc", NULL, B_NONE, 400, "bad-request"},
    {"GET model %2e%2e", "GET", "/models/%2e%2e", NULL, B_NONE, 404, NULL},
    {"GET model tiny%00", "GET", "/models/tiny%00", NULL, B_NONE, 404, NULL},
    {"GET model tiny%00x", "GET", "/models/tiny%00x", NULL, B_NONE, 404, NULL},
    {"GET model /..", "GET", "/models/tiny/..", NULL, B_NONE, 404, NULL},
    {"GET model with space", "GET", "/models/ti%20ny", NULL, B_NONE, 404, NULL},
    {"GET model 300 chars", "GET", "/models/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, B_NONE, 404, NULL},
    {"GET model broken", "GET", "/models/broken", NULL, B_NONE, 200, NULL},
    {"path //models", "GET", "//models", NULL, B_NONE, 404, "not-found"},
    {"path /models/", "GET", "/models/", NULL, B_NONE, 404, NULL},
    {"path %2fmodels", "GET", "/%2fmodels", NULL, B_NONE, 400, "bad-request"},
    /* methods */
    {"PATCH /stylize", "PATCH", "/stylize", "image/jpeg", B_JPEG, 405, "method-not-allowed"},
    {"made-up method", "BREW", "/healthz", NULL, B_NONE, 405, "method-not-allowed"},
    {"PUT /models/tiny", "PUT", "/models/tiny", "application/json", B_TEXT, 405, "method-not-allowed"},
    {"POST /healthz with body", "POST", "/healthz", "image/jpeg", B_JPEG, 405, "method-not-allowed"},
    /* media types */
    {"Content-Type without a type", "POST", "/stylize?model=tiny", "; charset=x", B_JPEG, 415, "unsupported-media-type"},
    {"type image/png, garbage", "POST", "/stylize?model=tiny", "image/png", B_GARBAGE, 415, "unsupported-media-type"},
    {"type text, JPEG", "POST", "/stylize?model=tiny", "text/plain; charset=utf-8", B_JPEG, 415, "unsupported-media-type"},
    {"type upper case", "POST", "/stylize?model=tiny", "IMAGE/JPEG", B_JPEG, 200, NULL},
    {"type image/jpegx", "POST", "/stylize?model=tiny", "image/jpegx", B_JPEG, 415, "unsupported-media-type"},
    {"type multipart/mixed", "POST", "/stylize?model=tiny", "multipart/mixed; boundary=x", B_JPEG, 415, "unsupported-media-type"},
    {"multipart, empty boundary", "POST", "/stylize?model=tiny", "multipart/form-data; boundary=", B_JPEG, 400, "bad-request"},
    {"multipart, raw JPEG body", "POST", "/stylize?model=tiny", "multipart/form-data; boundary=zz", B_JPEG, 400, "bad-request"},
    {"multipart, empty body", "POST", "/stylize?model=tiny", "multipart/form-data; boundary=zz", B_EMPTY, 400, "bad-request"},
    {"octet-stream, text", "POST", "/stylize?model=tiny", "application/octet-stream", B_TEXT, 415, "unsupported-media-type"},
    /* images */
    {"PNG IDAT of 40 MiB zeros, 64x64", "POST", "/stylize?model=tiny", "image/png", B_ZEROBOMB, 200, NULL},
    {"PNG 1900x1900 of zeros", "POST", "/stylize?model=tiny&max_size=64", "image/png", B_ZEROBOMB_BIG, 200, NULL},
    {"JPEG claiming 65535x65535", "POST", "/stylize?model=tiny", "image/jpeg", B_JPEG_MAX, 413, "image-too-large"},
    {"JPEG claiming 0x0", "POST", "/stylize?model=tiny", "image/jpeg", B_JPEG_ZERO, 422, "undecodable-image"},
    {"EXIF offsets past the end", "POST", "/stylize?model=tiny", "image/jpeg", B_EXIF_BADOFF, 200, NULL},
    {"EXIF IFD pointing at itself", "POST", "/stylize?model=tiny", "image/jpeg", B_EXIF_LOOP, 200, NULL},
    {"EXIF orientation 9", "POST", "/stylize?model=tiny", "image/jpeg", B_EXIF_O9, 200, NULL},
    {"JPEG SOI only", "POST", "/stylize?model=tiny", "image/jpeg", B_JPEG_ONLY_SOI, 422, "undecodable-image"},
    {"PNG without IEND", "POST", "/stylize?model=tiny", "image/png", B_PNG_NO_IEND, 422, "undecodable-image"},
    {"no body, no type", "POST", "/stylize?model=tiny", NULL, B_NONE, 400, "bad-request"},
};

static uint8_t *body_data[B_COUNT];
static size_t body_len[B_COUNT];

static void make_bodies(void)
{
    static uint8_t garbage[3000];
    static const uint8_t badoff[] = {'I', 'I', 0x2A, 0, 0xF0, 0xFF, 0xFF, 0x7F};
    static const uint8_t loop[] = {'M', 'M', 0, 0x2A, 0, 0, 0, 8, 0, 2,
                                   0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 8,
                                   0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 3, 0, 0,
                                   0, 0, 0, 8};
    static const uint8_t o9[] = {'I', 'I', 0x2A, 0, 8, 0, 0, 0, 1, 0,
                                 0x12, 0x01, 3, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 131 + 7);
    body_data[B_EMPTY] = (uint8_t *)strdup("");
    body_data[B_JPEG] = harness_jpeg(48, 40, 90, &body_len[B_JPEG]);
    body_data[B_PNG] = harness_png(48, 40, &body_len[B_PNG]);
    body_data[B_GARBAGE] = malloc(sizeof garbage);
    memcpy(body_data[B_GARBAGE], garbage, sizeof garbage);
    body_len[B_GARBAGE] = sizeof garbage;
    body_data[B_TEXT] = (uint8_t *)strdup("{\"version\": 1}");
    body_len[B_TEXT] = strlen((char *)body_data[B_TEXT]);
    body_data[B_ZEROBOMB] = png_zero_bomb(64, 64, 40u << 20, &body_len[B_ZEROBOMB]);
    body_data[B_ZEROBOMB_BIG] = png_zero_bomb(1900, 1900, (size_t)1900 * (3 * 1900 + 1),
                                              &body_len[B_ZEROBOMB_BIG]);
    body_data[B_JPEG_MAX] = jpeg_claiming(65535, 65535, &body_len[B_JPEG_MAX]);
    body_data[B_JPEG_ZERO] = jpeg_claiming(0, 0, &body_len[B_JPEG_ZERO]);
    body_data[B_EXIF_BADOFF] = jpeg_with_exif(badoff, sizeof badoff, &body_len[B_EXIF_BADOFF]);
    body_data[B_EXIF_LOOP] = jpeg_with_exif(loop, sizeof loop, &body_len[B_EXIF_LOOP]);
    body_data[B_EXIF_O9] = jpeg_with_exif(o9, sizeof o9, &body_len[B_EXIF_O9]);
    body_data[B_JPEG_ONLY_SOI] = (uint8_t *)strdup("\xFF\xD8\xFF");
    body_len[B_JPEG_ONLY_SOI] = 3;
    body_data[B_PNG_NO_IEND] = harness_png(30, 20, &body_len[B_PNG_NO_IEND]);
    body_len[B_PNG_NO_IEND] -= 12;
    for (int i = B_EMPTY; i < B_COUNT; i++)
        assert_non_null(body_data[i]);
}

static void free_bodies(void)
{
    for (int i = 0; i < B_COUNT; i++) {
        free(body_data[i]);
        body_data[i] = NULL;
        body_len[i] = 0;
    }
}

static void test_matrix(void **state)
{
    make_bodies();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const Case *c = &cases[i];
        Reply r;
        harness_request(&srv, c->method, c->path, c->ctype, c->body ? body_data[c->body] : NULL,
                        body_len[c->body], NULL, &r);
        expect(c->name, &r, c->status, c->type);
        reply_free(&r);
        still_serving(c->name);
    }
    print_message("hostile matrix: %zu curl cases\n", sizeof cases / sizeof cases[0]);
    free_bodies();
}

/* ---- raw sockets --------------------------------------------------------- */

/* The first answer on the connection has status (0: none at all) and, when
 * ours is wanted, a problem+json body. */
static void expect_raw(const char *what, const char *reply, long status, int ours)
{
    long st = raw_status(reply);
    if (st != status || (ours && status >= 400 &&
                         !strstr(reply, "Content-Type: application/problem+json"))) {
        print_error("%s: answered %ld, want %ld%s: %.300s\n", what, st, status,
                    ours ? " problem+json" : "", reply);
        fail();
    }
}

enum { RAW_OURS = 1, RAW_MHD = 0 };

static void test_raw_requests(void **state)
{
    size_t jl, n = 0;
    uint8_t *jpeg = harness_jpeg(48, 40, 90, &jl);
    char head[1024], *reply, *big;
    Buf b = {0};
    int ncases = 0;

    /* Content-Length lies: more declared than sent, then EOF: no answer is
     * owed, the connection is dropped. */
    snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n", jl + 5000);
    reply = raw_exchange(srv.port, head, jpeg, jl);
    expect_raw("Content-Length above the body", reply, 0, RAW_OURS);
    free(reply);
    still_serving("Content-Length above the body"), ncases++;
    /* Less declared than sent: the declared bytes are the body (a cut JPEG). */
    reply = raw_exchange(srv.port, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
                     "Content-Length: 100\r\nConnection: close\r\n\r\n", jpeg, jl);
    expect_raw("Content-Length below the body", reply, 422, RAW_OURS);
    free(reply);
    still_serving("Content-Length below the body"), ncases++;
    static const char *const bad_lengths[] = {"-5", "abc", "1e3", "0x10", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_lengths / sizeof bad_lengths[0]; i++) {
        snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
                 "Content-Type: image/jpeg\r\nContent-Length: %s\r\n\r\n", bad_lengths[i]);
        reply = raw_exchange(srv.port, head, jpeg, jl);
        if (raw_status(reply) < 400 || raw_status(reply) > 499) {
            print_error("Content-Length: %s: answered %ld: %.200s\n", bad_lengths[i],
                        raw_status(reply), reply);
            fail();
        }
        free(reply);
        still_serving(bad_lengths[i]), ncases++;
    }
    snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: image/jpeg\r\nContent-Length: %zu\r\nContent-Length: 7\r\n\r\n", jl);
    reply = raw_exchange(srv.port, head, jpeg, jl);
    expect_raw("two different Content-Lengths", reply, 400, RAW_OURS);
    free(reply);
    still_serving("two Content-Lengths"), ncases++;

    /* An empty Content-Type value. */
    snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: \r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", jl);
    reply = raw_exchange(srv.port, head, jpeg, jl);
    expect_raw("empty Content-Type", reply, 415, RAW_OURS);
    free(reply);
    still_serving("empty Content-Type"), ncases++;

    /* Chunked: a good upload in 100-byte chunks is served... */
    snprintf(head, sizeof head, "POST /stylize?model=tiny&format=png HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    for (size_t off = 0; off < jl; off += 100) {
        size_t k = jl - off < 100 ? jl - off : 100;
        char line[16];
        snprintf(line, sizeof line, "%zx\r\n", k);
        put_bytes(&b, line, strlen(line));
        put_bytes(&b, jpeg + off, k);
        put_bytes(&b, "\r\n", 2);
    }
    put_bytes(&b, "0\r\n\r\n", 5);
    reply = raw_exchange(srv.port, head, b.p, b.len);
    expect_raw("chunked upload", reply, 200, RAW_OURS);
    assert_non_null(strstr(reply, "Content-Type: image/png"));
    free(reply);
    still_serving("chunked upload"), ncases++;
    /* ... a chunk size that is not hex is refused by libmicrohttpd ... */
    reply = raw_exchange(srv.port, head, "zz\r\nabc\r\n0\r\n\r\n", 15);
    expect_raw("bad chunk size", reply, 400, RAW_MHD);
    free(reply);
    still_serving("bad chunk size"), ncases++;
    /* ... and a chunked body that stops early gets no answer. */
    reply = raw_exchange(srv.port, head, b.p, b.len / 2);
    expect_raw("chunked body cut short", reply, 0, RAW_OURS);
    free(reply);
    still_serving("chunked body cut short"), ncases++;

    /* A header line of 100 KiB and a URL of 100 KiB: libmicrohttpd's
     * connection memory is the limit. */
    big = malloc(100001);
    memset(big, 'a', 100000);
    big[100000] = '\0';
    b.len = 0;
    put_bytes(&b, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ", 38);
    put_bytes(&b, big, 100000);
    put_bytes(&b, "\r\n\r\n", 5);
    reply = raw_exchange(srv.port, (char *)b.p, NULL, 0);
    if (raw_status(reply) != 431 && raw_status(reply) != 413) {
        print_error("100 KiB header: answered %ld\n", raw_status(reply));
        fail();
    }
    free(reply);
    still_serving("100 KiB header"), ncases++;
    b.len = 0;
    put_bytes(&b, "GET /models/", 12);
    put_bytes(&b, big, 100000);
    put_bytes(&b, " HTTP/1.1\r\nHost: t\r\n\r\n", 23);
    reply = raw_exchange(srv.port, (char *)b.p, NULL, 0);
    if (raw_status(reply) != 414 && raw_status(reply) != 431) {
        print_error("100 KiB URL: answered %ld\n", raw_status(reply));
        fail();
    }
    free(reply);
    still_serving("100 KiB URL"), ncases++;
    /* A URL just under the limit: the name is refused by our code. */
    b.len = 0;
    put_bytes(&b, "GET /models/", 12);
    put_bytes(&b, big, 4000);
    put_bytes(&b, " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 42);
    reply = raw_exchange(srv.port, (char *)b.p, NULL, 0);
    expect_raw("4000-char model name", reply, 404, RAW_OURS);
    free(reply);
    still_serving("4000-char model name"), ncases++;
    /* A request line of garbage, and one with a NUL in it. */
    reply = raw_exchange(srv.port, "\x01\x02\x03 garbage\r\n\r\n", NULL, 0);
    expect_raw("garbage request line", reply, 400, RAW_MHD);
    free(reply);
    still_serving("garbage request line"), ncases++;
    static const char nul_line[] = "GET /heal\0thz HTTP/1.1\r\nHost: t\r\n\r\n";
    reply = raw_exchange(srv.port, "", nul_line, sizeof nul_line - 1);
    if (raw_status(reply) < 400 || raw_status(reply) > 499) {
        print_error("request line with a NUL: answered %ld: %.200s\n", raw_status(reply), reply);
        fail();
    }
    free(reply);
    still_serving("request line with NUL"), ncases++;

    /* Multipart: a part header of 100 KiB (past the 64 KiB PostProcessor
     * buffer), and 3000 small parts before the image. */
    b.len = 0;
    put_bytes(&b, "--zz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"", 62);
    put_bytes(&b, big, 100000);
    put_bytes(&b, "\"\r\n\r\n", 5);
    put_bytes(&b, jpeg, jl);
    put_bytes(&b, "\r\n--zz--\r\n", 10);
    snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n", b.len);
    reply = raw_exchange(srv.port, head, b.p, b.len);
    expect_raw("100 KiB part header", reply, 400, RAW_OURS);
    free(reply);
    still_serving("100 KiB part header"), ncases++;
    b.len = 0;
    for (int i = 0; i < 3000; i++) {
        char part[96];
        n = (size_t)snprintf(part, sizeof part,
                             "--zz\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n", i);
        put_bytes(&b, part, n);
    }
    n = b.len;
    put_bytes(&b, "--zz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n", 54);
    put_bytes(&b, jpeg, jl);
    put_bytes(&b, "\r\n--zz--\r\n", 10);
    snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n", b.len);
    reply = raw_exchange(srv.port, head, b.p, b.len);
    /* Fields besides the image are parameters: 3000 unknown ones are a 400
     * (bounded: past ROUTES_MAX_PARTS they are counted, not kept). */
    expect_raw("3000 parts then the image", reply, 400, RAW_OURS);
    free(reply);
    still_serving("3000 parts then the image"), ncases++;
    memcpy(b.p + n, "--zz--\r\n", 8);
    snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n", n + 8);
    reply = raw_exchange(srv.port, head, b.p, n + 8);
    expect_raw("3000 parts, no image", reply, 400, RAW_OURS);
    free(reply);
    still_serving("3000 parts, no image"), ncases++;
    print_message("hostile matrix: %d raw cases\n", ncases);
    free(big);
    free(b.p);
    free(jpeg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_raw_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
