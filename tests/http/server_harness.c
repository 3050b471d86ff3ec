/* server_harness.c: the HTTP tests' model repository, server process,
 * client and images (server_harness.h). */
#include "tests/http/server_harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/image.h"
#include "engine/safetensors.h"

#define FIXTURE "tests/fixtures/torch/transformer_net.safetensors"

double harness_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- model repository ---------------------------------------------------- */

int harness_write_tiny_model(const char *path, int seed)
{
    static const char spec[] =
        "{\"version\": 1, \"arch\": \"test-tiny\","
        " \"input\": {\"scale\": 0.00784314, \"offset\": -1.0},"
        " \"output\": {\"scale\": 127.5, \"offset\": 127.5},"
        " \"layers\": [{\"op\": \"conv2d\", \"name\": \"c\", \"in\": 3, \"out\": 3, \"k\": 3,"
        " \"stride\": 1, \"pad\": 1, \"pad_mode\": \"reflect\", \"bias\": true},"
        " {\"op\": \"tanh\"}]}";
    float w[3 * 3 * 3 * 3] = {0}, b[3] = {0};
    int64_t wshape[4] = {3, 3, 3, 3}, bshape[1] = {3};
    char err[256], card[160];
    StWriter *st = stw_new();
    int rc = -1;
    uint32_t x = 2463534242u + (uint32_t)seed;
    if (!st)
        return -1;
    /* Near identity: the centre tap of each channel, plus a little of the
     * neighbours and the other channels. */
    for (int i = 0; i < 81; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        w[i] = ((float)(x % 1000) / 1000.0f - 0.5f) * 0.1f;
    }
    for (int c = 0; c < 3; c++)
        w[((c * 3 + c) * 3 + 1) * 3 + 1] += 1.0f;
    b[seed % 3] = 0.2f;
    snprintf(card, sizeof card,
             "{\"name\": \"tiny\", \"title\": \"Tiny test network\", \"style\": \"seed %d\"}",
             seed);
    if (stw_add(st, "c.weight", ST_F32, 4, wshape, w) || stw_add(st, "c.bias", ST_F32, 1, bshape, b) ||
        stw_meta(st, "atelier.spec", spec) || stw_meta(st, "atelier.card", card))
        goto done;
    rc = stw_write_file(st, path, err, sizeof err) ? -1 : 0;
    if (rc)
        fprintf(stderr, "harness: writing %s: %s\n", path, err);
done:
    stw_free(st);
    return rc;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

int harness_copy_file(const char *from, const char *to)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(from, "rb"), *out;
    if (!in)
        return -1;
    out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out);
}

static int make_repo(Harness *h)
{
    char p[512];
    snprintf(h->models, sizeof h->models, "%s/models", h->root);
    if (mkdir(h->models, 0755))
        return -1;
    const char *dirs[] = {"tnet", "tiny", "broken"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", h->models, dirs[i]);
        if (mkdir(p, 0755))
            return -1;
    }
    snprintf(p, sizeof p, "%s/tiny/v1.safetensors", h->models);
    if (harness_write_tiny_model(p, 1))
        return -1;
    snprintf(p, sizeof p, "%s/tiny/v2.safetensors", h->models);
    if (harness_write_tiny_model(p, 2))
        return -1;
    snprintf(p, sizeof p, "%s/tiny/CURRENT", h->models);
    if (write_text(p, "1\n"))
        return -1;
    snprintf(p, sizeof p, "%s/tiny/card.json", h->models);
    if (write_text(p, "{\"name\": \"tiny\", \"title\": \"Tiny\", \"license\": \"CC0\"}\n"))
        return -1;
    snprintf(p, sizeof p, "%s/broken/v1.safetensors", h->models);
    if (write_text(p, "this is not a safetensors file"))
        return -1;
    snprintf(p, sizeof p, "%s/tnet/v1.safetensors", h->models);
    if (harness_copy_file(FIXTURE, p) == 0)
        return 0;
    fprintf(stderr, "harness: %s absent; tnet is the tiny network\n", FIXTURE);
    return harness_write_tiny_model(p, 3);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* ---- process ------------------------------------------------------------- */

static int read_port(const char *path)
{
    FILE *f = fopen(path, "r");
    int port = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%d", &port) != 1)
        port = 0;
    fclose(f);
    return port;
}

static int spawn(Harness *h, const char *const *extra);

int harness_start(Harness *h, const char *const *extra)
{
    memset(h, 0, sizeof *h);
    h->exit_status = -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(h->root, sizeof h->root, "/tmp/atelier-http-XXXXXX");
    if (!mkdtemp(h->root)) {
        perror("harness: mkdtemp");
        return -1;
    }
    if (make_repo(h)) {
        fprintf(stderr, "harness: cannot make the model repository in %s\n", h->root);
        return -1;
    }
    return spawn(h, extra);
}

int harness_restart(Harness *h, const char *const *extra)
{
    if (h->pid > 0) {
        fprintf(stderr, "harness: restart while the server runs\n");
        return -1;
    }
    h->exit_status = -1;
    h->port = 0;
    return spawn(h, extra);
}

static int spawn(Harness *h, const char *const *extra)
{
    const char *build = getenv("BUILD");
    char bin[256], portfile[320], data[320];
    const char *argv[96];
    const char *wrapper = getenv("ATELIER_SERVER_WRAPPER");
    char wrap[1024];
    int n = 0;
    snprintf(bin, sizeof bin, "%s/atelier", build && *build ? build : "build");
    if (access(bin, X_OK)) {
        fprintf(stderr, "harness: %s not built\n", bin);
        return -1;
    }
    snprintf(portfile, sizeof portfile, "%s/port", h->root);
    unlink(portfile);
    snprintf(data, sizeof data, "%s/data", h->root);
    snprintf(h->log, sizeof h->log, "%s/server.log", h->root);
    /* ATELIER_SERVER_WRAPPER="valgrind --error-exitcode=99 ..." runs the
     * server under that command (words split at spaces). */
    snprintf(wrap, sizeof wrap, "%s", wrapper ? wrapper : "");
    for (char *save = NULL, *w = strtok_r(wrap, " ", &save); w && n < 30;
         w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    argv[n++] = bin;
    argv[n++] = "serve";
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = portfile;
    argv[n++] = "--models";
    argv[n++] = h->models;
    argv[n++] = "--default-model";
    argv[n++] = "tnet";
    argv[n++] = "--data";
    argv[n++] = data;
    for (int i = 0; extra && extra[i] && n < 94; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    h->pid = fork();
    if (h->pid < 0) {
        perror("harness: fork");
        return -1;
    }
    if (h->pid == 0) {
        int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the test */
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        unsetenv("ATELIER_TOKEN");
        unsetenv("ATELIER_PORT");
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (double end = harness_now() + 60; harness_now() < end; sleep_ms(10)) {
        if ((h->port = read_port(portfile)) > 0)
            break;
        if (harness_wait_exit(h, 0) >= 0) {
            char *log = harness_log_text(h);
            fprintf(stderr, "harness: server exited with %d before listening:\n%s\n",
                    h->exit_status, log ? log : "");
            free(log);
            return -1;
        }
    }
    if (h->port <= 0) {
        fprintf(stderr, "harness: no port file after 60 s\n");
        return -1;
    }
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", h->port);
    return 0;
}

int harness_wait_ready(Harness *h, double seconds)
{
    for (double end = harness_now() + seconds; harness_now() < end; sleep_ms(20)) {
        Reply r;
        long st = harness_get(h, "/readyz", &r);
        reply_free(&r);
        if (st == 200)
            return 0;
    }
    fprintf(stderr, "harness: /readyz not 200 after %.0f s\n", seconds);
    return -1;
}

void harness_signal(Harness *h, int sig)
{
    if (h->pid > 0)
        kill(h->pid, sig);
}

int harness_wait_exit(Harness *h, double seconds)
{
    double end = harness_now() + seconds;
    if (h->pid <= 0)
        return h->exit_status;
    for (;;) {
        int st;
        pid_t r = waitpid(h->pid, &st, WNOHANG);
        if (r == h->pid) {
            h->pid = 0;
            h->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return h->exit_status;
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (harness_now() >= end)
            return -1;
        sleep_ms(5);
    }
}

int harness_stop(Harness *h)
{
    int status = h->exit_status;
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        status = harness_wait_exit(h, 30);
        if (status < 0) {
            kill(h->pid, SIGKILL);
            harness_wait_exit(h, 10);
        }
    }
    if (status != 0 && h->root[0]) {
        char *log = harness_log_text(h);
        size_t n = log ? strlen(log) : 0;
        fprintf(stderr, "harness: the server exited with status %d; its log ends:\n%s\n", status,
                log ? log + (n > 3000 ? n - 3000 : 0) : "");
        free(log);
    }
    if (h->root[0] && !getenv("HARNESS_KEEP"))
        nftw(h->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    h->root[0] = '\0';
    return status;
}

char *harness_log_text(const Harness *h)
{
    FILE *f = fopen(h->log, "r");
    char *text = NULL;
    size_t len = 0;
    if (!f)
        return NULL;
    FILE *m = open_memstream(&text, &len);
    if (m) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, m);
        fclose(m);
    }
    fclose(f);
    return text;
}

int harness_log_count(const Harness *h, const char *a, const char *b)
{
    char *text = harness_log_text(h), *p = text, *eol;
    int n = 0;
    while (p && *p) {
        eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        n += strstr(p, a) && (!b || strstr(p, b));
        p = eol ? eol + 1 : NULL;
    }
    free(text);
    return n;
}

int harness_wait_log(const Harness *h, const char *a, const char *b, double seconds)
{
    for (double end = harness_now() + seconds; harness_now() < end; sleep_ms(10))
        if (harness_log_count(h, a, b) > 0)
            return 0;
    fprintf(stderr, "harness: no log line with %s%s%s after %.0f s\n", a, b ? " and " : "",
            b ? b : "", seconds);
    return -1;
}

/* ---- client -------------------------------------------------------------- */

typedef struct Sink {
    uint8_t *data;
    size_t len, cap;
} Sink;

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    Sink *s = arg;
    size_t n = size * nmemb;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        uint8_t *d = realloc(s->data, cap);
        if (!d)
            return 0;
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = 0;
    return n;
}

static long perform(CURL *c, struct curl_slist *hdrs, Reply *r)
{
    Sink body = {0}, head = {0};
    double t0 = harness_now();
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->error);
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    r->curl_code = (int)curl_easy_perform(c);
    r->seconds = harness_now() - t0;
    if (r->curl_code == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_off_t up = 0;
    curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
    r->uploaded = (double)up;
    r->body = body.data;
    r->len = body.len;
    r->headers = head.data ? (char *)head.data : strdup("");
    r->hlen = head.len;
    return r->status;
}

long harness_request(const Harness *h, const char *method, const char *path,
                     const char *content_type, const void *body, size_t len,
                     const char *const *headers, Reply *r)
{
    char url[2048], ct[256];
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    memset(r, 0, sizeof *r);
    if (!c)
        return 0;
    snprintf(url, sizeof url, "%s%s", h->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
    } else if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type:");   /* none at all */
    }
    for (int i = 0; headers && headers[i]; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
    perform(c, hdrs, r);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return r->status;
}

int harness_post_many(const Harness *h, int n, const char *path, const char *content_type,
                      const void *body, size_t len, Reply *replies)
{
    char url[2048], ct[256];
    CURLM *m = curl_multi_init();
    CURL **easy = calloc((size_t)n, sizeof *easy);
    Sink *bodies = calloc((size_t)n, sizeof *bodies), *heads = calloc((size_t)n, sizeof *heads);
    struct curl_slist *hdrs = NULL;
    int running = 0, answered = 0;
    double t0 = harness_now();
    snprintf(url, sizeof url, "%s%s", h->url, path);
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    hdrs = curl_slist_append(hdrs, ct);
    for (int i = 0; i < n; i++) {
        memset(&replies[i], 0, sizeof replies[i]);
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &bodies[i]);
        curl_easy_setopt(easy[i], CURLOPT_HEADERFUNCTION, sink_write);
        curl_easy_setopt(easy[i], CURLOPT_HEADERDATA, &heads[i]);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 300L);
        curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy[i], CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(easy[i], CURLOPT_ERRORBUFFER, replies[i].error);
        curl_multi_add_handle(m, easy[i]);
    }
    do {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    } while (running);
    for (CURLMsg *msg; (msg = curl_multi_info_read(m, &running));) {
        for (int i = 0; i < n; i++)
            if (msg->easy_handle == easy[i])
                replies[i].curl_code = (int)msg->data.result;
    }
    for (int i = 0; i < n; i++) {
        if (replies[i].curl_code == CURLE_OK)
            curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &replies[i].status);
        answered += replies[i].status != 0;
        replies[i].body = bodies[i].data;
        replies[i].len = bodies[i].len;
        replies[i].headers = heads[i].data ? (char *)heads[i].data : strdup("");
        replies[i].hlen = heads[i].len;
        replies[i].seconds = harness_now() - t0;
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_slist_free_all(hdrs);
    curl_multi_cleanup(m);
    free(easy);
    free(bodies);
    free(heads);
    return answered;
}

long harness_get(const Harness *h, const char *path, Reply *r)
{
    return harness_request(h, "GET", path, NULL, NULL, 0, NULL, r);
}

long harness_post_form(const Harness *h, const char *path, const Part *parts, int nparts,
                       Reply *r)
{
    return harness_post_form_headers(h, path, parts, nparts, NULL, r);
}

long harness_post_form_headers(const Harness *h, const char *path, const Part *parts,
                               int nparts, const char *const *headers, Reply *r)
{
    char url[2048];
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    curl_mime *mime;
    memset(r, 0, sizeof *r);
    if (!c)
        return 0;
    snprintf(url, sizeof url, "%s%s", h->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    mime = curl_mime_init(c);
    for (int i = 0; i < nparts; i++) {
        curl_mimepart *p = curl_mime_addpart(mime);
        curl_mime_name(p, parts[i].name);
        curl_mime_data(p, parts[i].data, parts[i].len);
        if (parts[i].filename)
            curl_mime_filename(p, parts[i].filename);
        if (parts[i].type)
            curl_mime_type(p, parts[i].type);
    }
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    for (int i = 0; headers && headers[i]; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
    perform(c, hdrs, r);
    curl_slist_free_all(hdrs);
    curl_mime_free(mime);
    curl_easy_cleanup(c);
    return r->status;
}

const char *reply_header(const Reply *r, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    const char *p = r->headers;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t line = eol ? (size_t)(eol - p) : strlen(p);
        if (line > n && p[n] == ':' && !strncasecmp(p, name, n)) {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(p + line - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            snprintf(buf, len, "%.*s", (int)vl, v);
            return buf;
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

void reply_free(Reply *r)
{
    free(r->body);
    free(r->headers);
    r->body = NULL;
    r->headers = NULL;
}

/* ---- images -------------------------------------------------------------- */

static Image *picture(int w, int h)
{
    Image *img = image_new(w, h);
    if (!img)
        return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->px + ((size_t)y * w + x) * 3;
            int in_disc = (x - w / 3) * (x - w / 3) + (y - h / 2) * (y - h / 2) < (h / 4) * (h / 4);
            p[0] = (uint8_t)(255 * x / (w > 1 ? w - 1 : 1));
            p[1] = (uint8_t)(255 * y / (h > 1 ? h - 1 : 1));
            p[2] = in_disc ? 220 : (uint8_t)((x ^ y) & 0x3f);
        }
    return img;
}

uint8_t *harness_jpeg(int w, int h, int quality, size_t *len)
{
    Image *img = picture(w, h);
    uint8_t *out = NULL;
    if (img && image_encode_jpeg(img, quality, &out, len))
        out = NULL;
    image_free(img);
    return out;
}

uint8_t *harness_png(int w, int h, size_t *len)
{
    Image *img = picture(w, h);
    uint8_t *out = NULL;
    if (img && image_encode_png(img, &out, len))
        out = NULL;
    image_free(img);
    return out;
}
