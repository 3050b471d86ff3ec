/* soak.c: mixed traffic against a running `atelier serve` on loopback for a
 * bounded time, sampling the server's resident memory, open descriptors and
 * threads, and counting answers by kind. tools/soak/run.sh starts a server
 * on a temporary repository and runs this against it.
 *
 *   soak --port N --pid PID [--minutes M] [--concurrency C] [--model NAME]
 *        [--train --token T]
 *
 * Traffic (libcurl multi, C requests in flight, round robin over a fixed
 * mix): stylize at 256x192, 640x480 and 1024x768 (JPEG and PNG), bad
 * uploads (garbage, a truncated JPEG, a bad parameter, a PNG claiming
 * 60000x60000), GET /models, /models/NAME, /healthz and /metrics. With
 * --train, POST /train is part of the mix; a server without the job queue
 * answers 501, which fails the run with "job queue not available in this
 * server".
 *
 * Samples: before any traffic, after the warm-up (the first tenth of the
 * run, at least 20 s: plans and caches are made on first use), every 30 s,
 * and at the end. Verdict (exit 0): zero 5xx, no answer of the wrong
 * status, RSS at the end within 10% of the warm-up sample, descriptors and
 * threads no more than after the warm-up.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/image.h"

#define MAX_CONC 32

typedef struct Kind {
    const char *name;
    const char *method;
    const char *path;         /* after http://127.0.0.1:PORT; "{m}" = model */
    const char *ctype;
    int body;                 /* index into bodies[], -1 = none */
    long want;                /* expected status */
} Kind;

typedef struct Stats {
    long n, ok, wrong, err5xx, failed;
    double seconds;
} Stats;

enum { BODY_S, BODY_M, BODY_L, BODY_GARBAGE, BODY_TRUNC, BODY_BOMB, BODY_TRAIN, NBODIES };

static struct {
    uint8_t *p;
    size_t len;
} bodies[NBODIES];

static Kind kinds[] = {
    {"stylize 256x192 jpeg", "POST", "/stylize?model={m}", "image/jpeg", BODY_S, 200},
    {"stylize 640x480 jpeg", "POST", "/stylize?model={m}&max_size=640", "image/jpeg", BODY_M, 200},
    {"stylize 1024x768 png", "POST", "/stylize?model={m}&max_size=512&format=png", "image/png",
     BODY_L, 200},
    {"bad: garbage", "POST", "/stylize?model={m}", "image/jpeg", BODY_GARBAGE, 415},
    {"bad: truncated jpeg", "POST", "/stylize?model={m}", "image/jpeg", BODY_TRUNC, 422},
    {"bad: parameter", "POST", "/stylize?model={m}&strength=nan", "image/jpeg", BODY_S, 400},
    {"bad: png bomb", "POST", "/stylize?model={m}", "image/png", BODY_BOMB, 413},
    {"bad: media type", "POST", "/stylize?model={m}", "text/plain", BODY_S, 415},
    {"GET /models", "GET", "/models", NULL, -1, 200},
    {"GET /models/NAME", "GET", "/models/{m}", NULL, -1, 200},
    {"GET /healthz", "GET", "/healthz", NULL, -1, 200},
    {"GET /metrics", "GET", "/metrics", NULL, -1, 200},
    {"POST /train", "POST", "/train", "application/json", BODY_TRAIN, 202},
};
#define NKINDS (int)(sizeof kinds / sizeof kinds[0])
#define TRAIN_KIND (NKINDS - 1)

static Stats stats[NKINDS];

typedef struct Sample {
    double t;
    long rss_kb, fds, threads;
} Sample;

typedef struct Slot {
    CURL *easy;
    struct curl_slist *hdrs;
    int kind;
    double t0;
} Slot;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sample(int pid, double t0, Sample *s)
{
    char path[64], line[256];
    FILE *f;
    DIR *d;
    struct dirent *e;
    s->t = now() - t0;
    s->rss_kb = s->fds = s->threads = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", &s->rss_kb);
        sscanf(line, "Threads: %ld", &s->threads);
    }
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    if (!(d = opendir(path)))
        return -1;
    s->fds = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            s->fds++;
    closedir(d);
    return 0;
}

static void print_sample(const char *label, const Sample *s)
{
    printf("%-8s t=%6.0fs  rss %8ld KiB  fds %4ld  threads %3ld\n", label, s->t, s->rss_kb,
           s->fds, s->threads);
    fflush(stdout);
}

static size_t discard(char *p, size_t size, size_t n, void *unused)
{
    return size * n;
}

static uint8_t *picture(int w, int h, int png, size_t *len)
{
    Image *img = image_new(w, h);
    uint8_t *out = NULL;
    if (!img)
        return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / w);
            p[1] = (uint8_t)(y * 255 / h);
            p[2] = (uint8_t)((x ^ y) & 0xFF);
        }
    if (png ? image_encode_png(img, &out, len) : image_encode_jpeg(img, 90, &out, len))
        out = NULL;
    image_free(img);
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

static int make_bodies(void)
{
    static const char train[] = "{\"style\": \"soak\", \"steps\": 10}";
    bodies[BODY_S].p = picture(256, 192, 0, &bodies[BODY_S].len);
    bodies[BODY_M].p = picture(640, 480, 0, &bodies[BODY_M].len);
    bodies[BODY_L].p = picture(1024, 768, 1, &bodies[BODY_L].len);
    bodies[BODY_GARBAGE].len = 5000;
    bodies[BODY_GARBAGE].p = malloc(5000);
    bodies[BODY_TRUNC].p = picture(256, 192, 0, &bodies[BODY_TRUNC].len);
    bodies[BODY_BOMB].p = picture(16, 16, 1, &bodies[BODY_BOMB].len);
    bodies[BODY_TRAIN].p = (uint8_t *)strdup(train);
    bodies[BODY_TRAIN].len = sizeof train - 1;
    for (int i = 0; i < NBODIES; i++)
        if (!bodies[i].p)
            return -1;
    for (int i = 0; i < 5000; i++)
        bodies[BODY_GARBAGE].p[i] = (uint8_t)(i * 131 + 7);
    bodies[BODY_TRUNC].len /= 2;
    /* IHDR width and height at 16..23: 60000 x 60000, CRC at 29. */
    uint8_t *b = bodies[BODY_BOMB].p;
    uint32_t crc;
    memcpy(b + 16, "\x00\x00\xea\x60\x00\x00\xea\x60", 8);
    crc = crc32_of(b + 12, 17);
    b[29] = (uint8_t)(crc >> 24), b[30] = (uint8_t)(crc >> 16), b[31] = (uint8_t)(crc >> 8);
    b[32] = (uint8_t)crc;
    return 0;
}

static void start(CURLM *multi, Slot *s, int kind, int port, const char *model,
                  const char *token)
{
    Kind *k = &kinds[kind];
    char url[512], path[256], h[600];
    const char *m = strstr(k->path, "{m}");
    if (m)
        snprintf(path, sizeof path, "%.*s%s%s", (int)(m - k->path), k->path, model, m + 3);
    else
        snprintf(path, sizeof path, "%s", k->path);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_reset(s->easy);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http");
    s->hdrs = curl_slist_append(s->hdrs, "Expect:");
    if (k->body >= 0) {
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, bodies[k->body].p);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodies[k->body].len);
        snprintf(h, sizeof h, "Content-Type: %s", k->ctype);
        s->hdrs = curl_slist_append(s->hdrs, h);
    }
    if (token && kind == TRAIN_KIND) {
        snprintf(h, sizeof h, "Authorization: Bearer %s", token);
        s->hdrs = curl_slist_append(s->hdrs, h);
    }
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, k->method);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    s->kind = kind;
    s->t0 = now();
    curl_multi_add_handle(multi, s->easy);
}

static void usage(void)
{
    fprintf(stderr, "usage: soak --port N --pid PID [--minutes M] [--concurrency C] "
                    "[--model NAME] [--train --token T]\n");
}

int main(int argc, char **argv)
{
    int port = 0, pid = 0, conc = 3, train = 0, next = 0, running, fail = 0, no_queue = 0;
    double minutes = 5, t0, end, warm_at, next_sample;
    const char *model = "wave", *token = NULL;
    Slot slots[MAX_CONC];
    Sample first, warm, last, s;
    CURLM *multi;
    long total = 0, n5xx = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--train")) {
            train = 1;
        } else if (!v) {
            usage();
            return 2;
        } else if (!strcmp(a, "--port")) {
            port = atoi(v), i++;
        } else if (!strcmp(a, "--pid")) {
            pid = atoi(v), i++;
        } else if (!strcmp(a, "--minutes")) {
            minutes = atof(v), i++;
        } else if (!strcmp(a, "--concurrency")) {
            conc = atoi(v), i++;
        } else if (!strcmp(a, "--model")) {
            model = v, i++;
        } else if (!strcmp(a, "--token")) {
            token = v, i++;
        } else {
            usage();
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || pid <= 0 || conc < 1 || conc > MAX_CONC ||
        !(minutes > 0 && minutes <= 24 * 60)) {
        usage();
        return 2;
    }
    if (make_bodies()) {
        fprintf(stderr, "soak: cannot make the test images\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    t0 = now();
    end = t0 + minutes * 60;
    warm_at = t0 + (minutes * 6 > 20 ? minutes * 6 : 20);
    if (warm_at > end)
        warm_at = end;
    next_sample = t0 + 30;
    if (sample(pid, t0, &first)) {
        fprintf(stderr, "soak: no process %d\n", pid);
        return 1;
    }
    warm = first;
    print_sample("start", &first);
    for (int i = 0; i < conc; i++) {
        slots[i].easy = curl_easy_init();
        slots[i].hdrs = NULL;
        start(multi, &slots[i], next++ % (train ? NKINDS : NKINDS - 1), port, model, token);
    }
    running = conc;
    while (running > 0) {
        CURLMsg *m;
        int left;
        curl_multi_perform(multi, &left);
        while ((m = curl_multi_info_read(multi, &left))) {
            Slot *sl = NULL;
            long st = 0;
            if (m->msg != CURLMSG_DONE)
                continue;
            for (int i = 0; i < conc; i++)
                if (slots[i].easy == m->easy_handle)
                    sl = &slots[i];
            Kind *kd = &kinds[sl->kind];
            Stats *k = &stats[sl->kind];
            curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &st);
            curl_multi_remove_handle(multi, sl->easy);
            k->n++;
            total++;
            k->seconds += now() - sl->t0;
            if (m->data.result != CURLE_OK)
                k->failed++;
            else if (st >= 500)
                k->err5xx++, n5xx++;
            if (sl->kind == TRAIN_KIND && st == 501)
                no_queue = 1;
            if (m->data.result == CURLE_OK && st == kd->want)
                k->ok++;
            else if (m->data.result == CURLE_OK && st < 500)
                k->wrong++;
            if (now() < end && !(no_queue && train)) {
                start(multi, sl, next++ % (train ? NKINDS : NKINDS - 1), port, model, token);
            } else {
                running--;
            }
        }
        if (now() >= warm_at && warm_at > 0) {
            sample(pid, t0, &warm);
            print_sample("warm", &warm);
            warm_at = -1;
        }
        if (now() >= next_sample) {
            sample(pid, t0, &s);
            print_sample("sample", &s);
            next_sample += 30;
        }
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    sample(pid, t0, &last);
    print_sample("end", &last);

    printf("\n%-24s %7s %7s %7s %7s %7s %9s\n", "kind", "n", "ok", "wrong", "5xx", "failed",
           "mean s");
    for (int i = 0; i < NKINDS; i++) {
        Stats *k = &stats[i];
        if (!k->n)
            continue;
        printf("%-24s %7ld %7ld %7ld %7ld %7ld %9.3f\n", kinds[i].name, k->n, k->ok, k->wrong,
               k->err5xx, k->failed, k->seconds / (double)k->n);
        if (k->wrong || k->failed)
            fail = 1;
    }
    double growth = warm.rss_kb > 0 ? 100.0 * (double)(last.rss_kb - warm.rss_kb) /
                                          (double)warm.rss_kb : 0;
    printf("\n%ld requests in %.0f s; 5xx: %ld\n", total, now() - t0, n5xx);
    printf("rss    start %ld KiB, warm %ld KiB, end %ld KiB (%+.1f%% since warm)\n",
           first.rss_kb, warm.rss_kb, last.rss_kb, growth);
    printf("fds    start %ld, warm %ld, end %ld\n", first.fds, warm.fds, last.fds);
    printf("threads start %ld, warm %ld, end %ld\n", first.threads, warm.threads, last.threads);
    if (n5xx || growth > 10 || last.fds > warm.fds || last.threads > warm.threads)
        fail = 1;
    if (train && no_queue) {
        printf("soak: --train: job queue not available in this server (POST /train answered "
               "501)\n");
        fail = 1;
    }
    printf("soak: %s\n", fail ? "FAIL" : "pass");
    for (int i = 0; i < conc; i++) {
        curl_slist_free_all(slots[i].hdrs);
        curl_easy_cleanup(slots[i].easy);
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    for (int i = 0; i < NBODIES; i++)
        free(bodies[i].p);
    return fail;
}
