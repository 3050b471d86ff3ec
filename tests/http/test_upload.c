/* test_upload.c: what /stylize accepts and how it refuses the rest: raw and
 * multipart bodies, media types, JPEG and PNG variants, truncated and
 * garbage images, decompression bombs, and the body size limit enforced
 * while reading. The server must answer each with the right status and
 * keep serving. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "engine/image.h"
#include "tests/http/server_harness.h"

static Harness srv;

static int setup(void **state)
{
    const char *args[] = {"--max-body-mb", "2", "--max-pixels", "4000000", NULL};
    if (harness_start(&srv, args) || harness_wait_ready(&srv, 60))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    return harness_stop(&srv) == 0 ? 0 : -1;    /* a clean exit, no leaks */
}

static void expect_status(const Reply *r, long status, const char *what)
{
    if (r->status != status) {
        print_error("%s: status %ld (curl %d %s), want %ld: %.*s\n", what, r->status,
                    r->curl_code, r->error, status, (int)(r->len > 300 ? 300 : r->len),
                    r->body ? (char *)r->body : "");
        fail();
    }
}

static void still_serving(void)
{
    Reply r;
    harness_get(&srv, "/healthz", &r);
    expect_status(&r, 200, "healthz after");
    reply_free(&r);
}

static long post(const char *query, const char *type, const void *body, size_t len, Reply *r)
{
    char path[256];
    snprintf(path, sizeof path, "/stylize%s", query);
    return harness_request(&srv, "POST", path, type, body, len, NULL, r);
}

static void check(const char *what, const char *query, const char *type, const void *body,
                  size_t len, long status)
{
    Reply r;
    post(query, type, body, len, &r);
    expect_status(&r, status, what);
    reply_free(&r);
}

/* ---- images made here ---------------------------------------------------- */

static uint8_t *png_variant(int w, int h, png_uint_32 format, size_t *len)
{
    png_image img;
    size_t bytes;
    uint8_t *px, *out = NULL;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = format;
    bytes = PNG_IMAGE_SIZE(img);
    px = malloc(bytes);
    for (size_t i = 0; i < bytes; i++)
        px[i] = (uint8_t)(i * 7 + i / 97);
    uint8_t colormap[256 * 3];
    for (int i = 0; i < 256 * 3; i++)
        colormap[i] = (uint8_t)(i * 5);
    if (format & PNG_FORMAT_FLAG_COLORMAP)
        img.colormap_entries = 256;
    *len = 0;
    if (png_image_write_to_memory(&img, NULL, len, 0, px, 0,
                                  format & PNG_FORMAT_FLAG_COLORMAP ? colormap : NULL)) {
        out = malloc(*len);
        if (!png_image_write_to_memory(&img, out, len, 0, px, 0,
                                       format & PNG_FORMAT_FLAG_COLORMAP ? colormap : NULL)) {
            free(out);
            out = NULL;
        }
    }
    free(px);
    return out;
}

static uint8_t *jpeg_variant(int w, int h, int pf, int subsamp, int flags, size_t *len)
{
    tjhandle tj = tjInitCompress();
    int ps = tjPixelSize[pf];
    uint8_t *px = malloc((size_t)w * h * ps), *jpeg = NULL, *out = NULL;
    unsigned long jl = 0;
    for (size_t i = 0; i < (size_t)w * h * ps; i++)
        px[i] = (uint8_t)(i * 3 + i / 50);
    if (!tjCompress2(tj, px, w, 0, h, pf, &jpeg, &jl, subsamp, 85, flags)) {
        out = malloc(jl);
        memcpy(out, jpeg, jl);
        *len = jl;
    }
    tjFree(jpeg);
    tjDestroy(tj);
    free(px);
    return out;
}

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

/* A small PNG whose IHDR claims w x h (CRC fixed): a decompression bomb as
 * far as the header goes. */
static uint8_t *png_claiming(uint32_t w, uint32_t h, size_t *len)
{
    uint8_t *png = harness_png(16, 16, len);
    uint32_t be;
    /* 8 signature, 4 length, "IHDR" at 12, data at 16, CRC at 29. */
    be = htonl(w);
    memcpy(png + 16, &be, 4);
    be = htonl(h);
    memcpy(png + 20, &be, 4);
    be = htonl(crc32_of(png + 12, 17));
    memcpy(png + 29, &be, 4);
    return png;
}

/* A small JPEG whose SOF0 claims w x h. */
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

/* A JPEG with an EXIF APP1 segment saying orientation o. */
static uint8_t *jpeg_oriented(int w, int h, int o, size_t *len)
{
    static const uint8_t head[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
                                   'I', 'I', 0x2A, 0x00, 0x08, 0, 0, 0,
                                   0x01, 0x00,
                                   0x12, 0x01, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0, 0};
    size_t jl;
    uint8_t *j = harness_jpeg(w, h, 90, &jl), *out = malloc(jl + sizeof head);
    memcpy(out, j, 2);
    memcpy(out + 2, head, sizeof head);
    out[2 + 28] = (uint8_t)o;     /* the entry's value */
    memcpy(out + 2 + sizeof head, j + 2, jl - 2);
    *len = jl + sizeof head;
    free(j);
    return out;
}

static Image *decode_reply(const Reply *r)
{
    int code;
    char err[128];
    Image *img = image_decode(r->body, r->len, 1 << 26, &code, err, sizeof err);
    if (!img)
        fail_msg("reply does not decode: %s", err);
    return img;
}

/* ---- tests --------------------------------------------------------------- */

static void test_raw_media_types(void **state)
{
    size_t len, plen;
    uint8_t *jpeg = harness_jpeg(48, 40, 90, &len), *png = harness_png(48, 40, &plen);
    Reply r;
    char ct[64];
    check("image/jpeg", "", "image/jpeg", jpeg, len, 200);
    check("parameters in the type", "", "image/jpeg; charset=binary", jpeg, len, 200);
    check("octet-stream", "", "application/octet-stream", jpeg, len, 200);
    check("no Content-Type", "", NULL, jpeg, len, 200);
    /* The bytes decide: a PNG sent as image/jpeg is a PNG. */
    post("", "image/jpeg", png, plen, &r);
    expect_status(&r, 200, "PNG labelled JPEG");
    assert_string_equal(reply_header(&r, "Content-Type", ct, sizeof ct), "image/png");
    reply_free(&r);
    check("text/plain", "", "text/plain", jpeg, len, 415);
    check("form-urlencoded", "", "application/x-www-form-urlencoded", jpeg, len, 415);
    check("json", "", "application/json", "{}", 2, 415);
    check("gif type", "", "image/gif", jpeg, len, 415);
    check("empty body", "", "image/jpeg", "", 0, 400);
    still_serving();
    free(jpeg);
    free(png);
}

static void test_multipart(void **state)
{
    size_t len;
    uint8_t *jpeg = harness_jpeg(64, 48, 90, &len);
    Reply r;
    char ct[64];
    Part one[] = {{"image", jpeg, len, "photo.jpg", "image/jpeg"}};
    Part extra[] = {{"note", "hello", 5, NULL, NULL},
                    {"image", jpeg, len, "photo.jpg", NULL},
                    {"other", "x", 1, "x.txt", "text/plain"}};
    Part none[] = {{"photo", jpeg, len, "photo.jpg", "image/jpeg"}};
    Part two[] = {{"image", jpeg, len, "a.jpg", "image/jpeg"},
                  {"image", jpeg, len, "b.jpg", "image/jpeg"}};
    Part garbage[] = {{"image", "not an image at all", 19, "x.jpg", "image/jpeg"}};

    harness_post_form(&srv, "/stylize?format=png", one, 1, &r);
    expect_status(&r, 200, "multipart");
    assert_string_equal(reply_header(&r, "Content-Type", ct, sizeof ct), "image/png");
    Image *img = decode_reply(&r);
    assert_int_equal(img->w, 64);
    assert_int_equal(img->h, 48);
    image_free(img);
    reply_free(&r);
    /* Fields besides the image are parameters, checked as the query's are:
     * an unknown one is refused, never ignored. */
    harness_post_form(&srv, "/stylize", extra, 3, &r);
    expect_status(&r, 400, "multipart with an unknown field");
    assert_non_null(strstr((char *)r.body, "\"param\":\"note\""));
    reply_free(&r);
    harness_post_form(&srv, "/stylize", none, 1, &r);
    expect_status(&r, 400, "multipart without image");
    assert_non_null(strstr((char *)r.body, "\"param\":\"image\""));
    reply_free(&r);
    harness_post_form(&srv, "/stylize", two, 2, &r);
    expect_status(&r, 400, "two image fields");
    reply_free(&r);
    harness_post_form(&srv, "/stylize", garbage, 1, &r);
    expect_status(&r, 415, "multipart garbage image");
    reply_free(&r);
    check("multipart without boundary", "", "multipart/form-data", jpeg, len, 400);
    static const char broken[] = "--XYZ\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc";
    check("multipart cut short", "", "multipart/form-data; boundary=XYZ", broken,
          sizeof broken - 1, 400);
    still_serving();
    free(jpeg);
}

static void test_variants(void **state)
{
    static const struct {
        const char *name;
        png_uint_32 format;
    } pngs[] = {{"grey", PNG_FORMAT_GRAY},       {"grey+alpha", PNG_FORMAT_GA},
                {"rgba", PNG_FORMAT_RGBA},        {"16-bit rgb", PNG_FORMAT_LINEAR_RGB},
                {"16-bit grey", PNG_FORMAT_LINEAR_Y}, {"palette", PNG_FORMAT_RGB_COLORMAP}};
    static const struct {
        const char *name;
        int pf, subsamp, flags;
    } jpegs[] = {{"grey", TJPF_GRAY, TJSAMP_GRAY, 0},
                 {"4:2:0", TJPF_RGB, TJSAMP_420, 0},
                 {"4:4:4 progressive", TJPF_RGB, TJSAMP_444, TJFLAG_PROGRESSIVE},
                 {"4:2:2", TJPF_RGB, TJSAMP_422, 0},
                 {"cmyk", TJPF_CMYK, TJSAMP_444, 0}};
    for (size_t i = 0; i < sizeof pngs / sizeof pngs[0]; i++) {
        size_t len;
        uint8_t *p = png_variant(37, 29, pngs[i].format, &len);
        char what[64];
        assert_non_null(p);
        snprintf(what, sizeof what, "PNG %s", pngs[i].name);
        check(what, "", "image/png", p, len, 200);
        free(p);
    }
    for (size_t i = 0; i < sizeof jpegs / sizeof jpegs[0]; i++) {
        size_t len = 0;
        uint8_t *j = jpeg_variant(41, 33, jpegs[i].pf, jpegs[i].subsamp, jpegs[i].flags, &len);
        char what[64];
        assert_non_null(j);
        snprintf(what, sizeof what, "JPEG %s", jpegs[i].name);
        check(what, "", "image/jpeg", j, len, 200);
        free(j);
    }
    /* EXIF orientation 6: the answer is upright, so width and height swap. */
    size_t len;
    uint8_t *o = jpeg_oriented(60, 36, 6, &len);
    Reply r;
    post("", "image/jpeg", o, len, &r);
    expect_status(&r, 200, "EXIF orientation 6");
    Image *img = decode_reply(&r);
    assert_int_equal(img->w, 36);
    assert_int_equal(img->h, 60);
    image_free(img);
    reply_free(&r);
    free(o);
    still_serving();
}

static void test_hostile_images(void **state)
{
    size_t len, plen, blen;
    uint8_t *jpeg = harness_jpeg(300, 200, 90, &len), *png = harness_png(120, 80, &plen), *b;
    uint8_t garbage[4096], fake[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 131 + 7);
    memcpy(fake, garbage, sizeof fake);
    memcpy(fake, "\xFF\xD8\xFF\xE0", 4);
    check("garbage", "", "image/jpeg", garbage, sizeof garbage, 415);
    check("JPEG magic then garbage", "", "image/jpeg", fake, sizeof fake, 422);
    memcpy(fake, "\x89PNG\r\n\x1a\n", 8);
    check("PNG magic then garbage", "", "image/png", fake, sizeof fake, 422);
    check("truncated JPEG", "", "image/jpeg", jpeg, len / 2, 422);
    check("JPEG header only", "", "image/jpeg", jpeg, 200, 422);
    check("truncated PNG", "", "image/png", png, plen / 2, 422);
    check("PNG signature only", "", "image/png", png, 8, 422);
    png[40] ^= 0xFF;     /* inside IDAT: a CRC that no longer matches */
    check("PNG with a bad CRC", "", "image/png", png, plen, 422);
    check("one byte", "", "image/jpeg", "\xFF", 1, 415);

    /* Decompression bombs: refused from the header, before decoding. */
    b = png_claiming(60000, 60000, &blen);
    check("PNG claiming 60000x60000", "", "image/png", b, blen, 413);
    free(b);
    b = png_claiming(2001, 2000, &blen);     /* just over 4,000,000 pixels */
    check("PNG claiming 2001x2000", "", "image/png", b, blen, 413);
    free(b);
    b = png_claiming(0, 10, &blen);
    check("PNG claiming width 0", "", "image/png", b, blen, 422);
    free(b);
    b = jpeg_claiming(65000, 65000, &blen);
    check("JPEG claiming 65000x65000", "", "image/jpeg", b, blen, 413);
    free(b);

    /* Images too small for the network. */
    size_t tlen;
    uint8_t *tiny = harness_png(1, 1, &tlen);
    check("1x1", "", "image/png", tiny, tlen, 422);
    free(tiny);
    tiny = harness_png(2000, 2, &tlen);
    check("2000x2", "", "image/png", tiny, tlen, 422);
    free(tiny);
    still_serving();
    free(jpeg);
    free(png);
}

/* Sends raw bytes on a new socket and returns what came back (up to 4 KiB,
 * until the server closes or 5 s pass). */
static char *raw_exchange(const char *head, size_t body_bytes, size_t *sent)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    static char buf[4096];
    size_t got = 0;
    char chunk[65536];
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    assert_true(send(fd, head, strlen(head), MSG_NOSIGNAL) > 0);
    memset(chunk, 'x', sizeof chunk);
    *sent = 0;
    while (*sent < body_bytes) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 0) > 0)
            break;          /* an answer already: stop sending, as curl does */
        ssize_t n = send(fd, chunk, sizeof chunk < body_bytes - *sent ? sizeof chunk
                                                                      : body_bytes - *sent,
                         MSG_NOSIGNAL);
        if (n <= 0)
            break;          /* the server stopped reading and closed */
        *sent += (size_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0 || got + (size_t)n >= sizeof buf - 1)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    return buf;
}

static void test_body_limit(void **state)
{
    size_t sent;
    char *reply;
    Reply r;
    /* Declared too large: 413 before a body byte is read, even for 10 GB. */
    reply = raw_exchange("POST /stylize HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
                         "Content-Length: 10000000000\r\n\r\n", 0, &sent);
    assert_non_null(strstr(reply, "HTTP/1.1 413"));
    assert_non_null(strstr(reply, "body-too-large"));

    /* Same through curl, with Expect: 100-continue: no body is sent. */
    size_t big = 3u << 20;
    uint8_t *blob = calloc(1, big);
    post("", "image/jpeg", blob, big, &r);
    expect_status(&r, 413, "3 MiB declared");
    reply_free(&r);

    /* Chunked, no length: counted while reading; 413 once past 2 MiB, and
     * the server stops reading rather than taking the 64 MiB offered. */
    const char *chunked_head = "POST /stylize HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    char head[512];
    snprintf(head, sizeof head, "%s%x\r\n", chunked_head, 64u << 20);
    reply = raw_exchange(head, 64u << 20, &sent);
    assert_non_null(strstr(reply, "HTTP/1.1 413"));
    if (sent >= (64u << 20)) {
        print_error("the server read all %zu bytes of an over-limit body\n", sent);
        fail();
    }
    /* A GET with a body over the limit gets the same. */
    reply = raw_exchange("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\n",
                         5000000, &sent);
    assert_non_null(strstr(reply, "HTTP/1.1 413"));
    still_serving();
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_media_types),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_hostile_images),
        cmocka_unit_test(test_body_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
