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
 * 60000x60000), GET /models, /models/NAME, /healthz and /metrics.
 *
 * With --train (the job queue opens only with a token: --token T is sent
 * on the /train requests), GET /train joins the mix, and a training job
 * runs the whole time: POST /train (multipart: a style PNG, four content
 * JPEGs and a small config: model "soak", 64 px, width 8, 1 block, a
 * checkpoint every 10 steps, so versions are published and swapped in
 * while the traffic runs) at the start and again whenever the job has
 * ended; the job is polled every 5 s. At the end the soak reports the
 * jobs and the versions published (atelier_train_versions_published_total
 * from /metrics); a refused submission, a failed job or no version
 * published fails the run.
 *
 * Samples: before any traffic, after the warm-up (the first tenth of the
 * run, at least 20 s: plans and caches are made on first use), every 30 s,
 * and at the end (once the counts settle, for at most 10 s). Verdict (exit
 * 0): zero 5xx, no answer of the wrong status, RSS at the end within 10% of
 * the warm-up sample, descriptors and threads no more than after the
 * warm-up.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/image.h"
#include "engine/util.h"

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

enum { BODY_S, BODY_M, BODY_L, BODY_GARBAGE, BODY_TRUNC, BODY_BOMB, BODY_STYLE, BODY_PHOTO,
       NBODIES };

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
    {"GET /train", "GET", "/train", NULL, -1, 200},
    /* Not in the round robin: the training job's own requests. */
    {"POST /train", "POST", "/train", "multipart/form-data", -1, 202},
    {"GET /train/ID", "GET", "/train/ID", NULL, -1, 200},
};
#define NKINDS (int)(sizeof kinds / sizeof kinds[0])
#define KIND_TRAIN_SUBMIT (NKINDS - 2)
#define KIND_TRAIN_POLL (NKINDS - 1)
#define NMIX_BASE (NKINDS - 3) /* the round robin without --train */

static const char train_config[] =
    "{\"name\": \"soak\", \"overwrite\": true, \"promote\": \"each\", \"steps\": 40, \"size\": 64, \"checkpoint_every\": 10, "
    "\"width\": 8, \"blocks\": 1, \"style_title\": \"soak test pattern\"}";

/* The training job the soak keeps running. */
typedef struct TrainLoop {
    int port;
    const char *token;
    char id[40];              /* "" = none submitted or the last refused */
    double next_poll;
    long submitted, succeeded, failed;
} TrainLoop;

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

static int sample(int pid, double t0, Sample *s)
{
    char path[64], line[256];
    FILE *f;
    DIR *d;
    struct dirent *e;
    s->t = util_now_s() - t0;
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
    bodies[BODY_S].p = picture(256, 192, 0, &bodies[BODY_S].len);
    bodies[BODY_M].p = picture(640, 480, 0, &bodies[BODY_M].len);
    bodies[BODY_L].p = picture(1024, 768, 1, &bodies[BODY_L].len);
    bodies[BODY_GARBAGE].len = 5000;
    bodies[BODY_GARBAGE].p = malloc(5000);
    bodies[BODY_TRUNC].p = picture(256, 192, 0, &bodies[BODY_TRUNC].len);
    bodies[BODY_BOMB].p = picture(16, 16, 1, &bodies[BODY_BOMB].len);
    bodies[BODY_STYLE].p = picture(128, 96, 1, &bodies[BODY_STYLE].len);
    bodies[BODY_PHOTO].p = picture(160, 120, 0, &bodies[BODY_PHOTO].len);
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
    if (token && !strncmp(k->path, "/train", 6)) {
        snprintf(h, sizeof h, "Authorization: Bearer %s", token);
        s->hdrs = curl_slist_append(s->hdrs, h);
    }
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, k->method);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    s->kind = kind;
    s->t0 = util_now_s();
    curl_multi_add_handle(multi, s->easy);
}

static void count(int kind, CURLcode res, long st, double seconds, long *n5xx)
{
    Stats *k = &stats[kind];
    k->n++;
    k->seconds += seconds;
    if (res != CURLE_OK)
        k->failed++;
    else if (st >= 500)
        k->err5xx++, (*n5xx)++;
    if (res == CURLE_OK && st == kinds[kind].want)
        k->ok++;
    else if (res == CURLE_OK && st < 500)
        k->wrong++;
}

typedef struct Buf {
    char *p;
    size_t len;
} Buf;

static size_t keep(char *p, size_t size, size_t n, void *arg)
{
    Buf *b = arg;
    char *np = realloc(b->p, b->len + size * n + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, p, size * n);
    b->len += size * n;
    np[b->len] = '\0';
    b->p = np;
    return size * n;
}

/* One blocking request of the training loop on c (borrowed; mime: a form
 * to POST, else a GET); the answer's body goes to body (caller frees).
 * Counted as kind. */
static long request(const TrainLoop *t, CURL *c, int kind, const char *path, curl_mime *mime,
                    Buf *body, long *n5xx)
{
    struct curl_slist *hdrs = NULL;
    char url[256], h[300];
    long st = 0;
    double t0 = util_now_s();
    CURLcode res;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", t->port, path);
    snprintf(h, sizeof h, "Authorization: Bearer %s", t->token ? t->token : "");
    hdrs = curl_slist_append(hdrs, h);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (mime)
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    res = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    count(kind, res, st, util_now_s() - t0, n5xx);
    curl_slist_free_all(hdrs);
    return res == CURLE_OK ? st : -1;
}

static void add_part(curl_mime *mime, const char *name, const void *data, size_t len,
                     const char *filename, const char *type)
{
    curl_mimepart *p = curl_mime_addpart(mime);
    curl_mime_name(p, name);
    curl_mime_data(p, data, len);
    if (filename)
        curl_mime_filename(p, filename);
    curl_mime_type(p, type);
}

/* POST /train: a new job; its id goes to t->id. */
static void train_submit(TrainLoop *t, long *n5xx)
{
    CURL *c = curl_easy_init();
    curl_mime *mime = c ? curl_mime_init(c) : NULL;
    Buf body = {NULL, 0};
    json_t *j;
    long st;
    t->id[0] = '\0';
    if (!mime) {
        curl_easy_cleanup(c);
        return;
    }
    add_part(mime, "style", bodies[BODY_STYLE].p, bodies[BODY_STYLE].len, "style.png",
             "image/png");
    for (int i = 0; i < 4; i++)
        add_part(mime, "content", bodies[BODY_PHOTO].p, bodies[BODY_PHOTO].len, "photo.jpg",
                 "image/jpeg");
    add_part(mime, "config", train_config, strlen(train_config), NULL, "application/json");
    st = request(t, c, KIND_TRAIN_SUBMIT, "/train", mime, &body, n5xx);
    t->submitted++;
    j = st == 202 && body.p ? json_loads(body.p, 0, NULL) : NULL;
    if (json_string_value(json_object_get(j, "id")))
        snprintf(t->id, sizeof t->id, "%s", json_string_value(json_object_get(j, "id")));
    else
        printf("soak: POST /train answered %ld: %s\n", st, body.p ? body.p : "");
    json_decref(j);
    free(body.p);
    curl_mime_free(mime);
    curl_easy_cleanup(c);
}

/* Every 5 s: polls the job, and submits the next one when it has ended. */
static void train_tick(TrainLoop *t, int final, long *n5xx)
{
    char path[64];
    Buf body = {NULL, 0};
    json_t *j = NULL;
    const char *st;
    CURL *c;
    if (!final && util_now_s() < t->next_poll)
        return;
    t->next_poll = util_now_s() + 5;
    if (!t->id[0]) {
        if (!final && t->submitted == 0)
            train_submit(t, n5xx);
        return;
    }
    snprintf(path, sizeof path, "/train/%s", t->id);
    if ((c = curl_easy_init()) && request(t, c, KIND_TRAIN_POLL, path, NULL, &body, n5xx) == 200 &&
        body.p)
        j = json_loads(body.p, 0, NULL);
    curl_easy_cleanup(c);
    free(body.p);
    st = json_string_value(json_object_get(j, "state"));
    if (st && (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled"))) {
        if (!strcmp(st, "succeeded")) {
            t->succeeded++;
        } else {
            t->failed++;
            printf("soak: training job %s %s: %s\n", t->id, st,
                   json_string_value(json_object_get(j, "error")));
        }
        t->id[0] = '\0';
        if (!final)
            train_submit(t, n5xx);
    } else if (final && st) {
        printf("soak: training job %s is %s at step %lld of %lld at the end\n", t->id, st,
               (long long)json_integer_value(json_object_get(j, "step")),
               (long long)json_integer_value(json_object_get(j, "steps")));
    }
    json_decref(j);
}

/* atelier_train_versions_published_total from /metrics, or -1. */
static long versions_published(const TrainLoop *t)
{
    static const char name[] = "\natelier_train_versions_published_total ";
    CURL *c = curl_easy_init();
    Buf body = {NULL, 0};
    char url[128];
    const char *p;
    long v = -1;
    if (!c)
        return -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", t->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK && body.p && (p = strstr(body.p, name)))
        v = atol(p + sizeof name - 1);
    free(body.p);
    curl_easy_cleanup(c);
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: soak --port N --pid PID [--minutes M] [--concurrency C] "
                    "[--model NAME] [--train --token T]\n");
}

int main(int argc, char **argv)
{
    int port = 0, pid = 0, conc = 3, train = 0, next = 0, running, fail = 0, nmix;
    double minutes = 5, t0, end, warm_at, next_sample;
    const char *model = "wave", *token = NULL;
    Slot slots[MAX_CONC];
    Sample first, warm, last, s;
    CURLM *multi;
    long total = 0, n5xx = 0, published = 0;
    TrainLoop tl = {0};
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
    nmix = train ? NMIX_BASE + 1 : NMIX_BASE;
    tl.port = port;
    tl.token = token;
    multi = curl_multi_init();
    t0 = util_now_s();
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
        start(multi, &slots[i], next++ % nmix, port, model, token);
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
            curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &st);
            curl_multi_remove_handle(multi, sl->easy);
            count(sl->kind, m->data.result, st, util_now_s() - sl->t0, &n5xx);
            if (util_now_s() < end) {
                start(multi, sl, next++ % nmix, port, model, token);
            } else {
                running--;
            }
        }
        if (util_now_s() >= warm_at && warm_at > 0) {
            sample(pid, t0, &warm);
            print_sample("warm", &warm);
            warm_at = -1;
        }
        if (util_now_s() >= next_sample) {
            sample(pid, t0, &s);
            print_sample("sample", &s);
            next_sample += 30;
        }
        if (train && util_now_s() < end)
            train_tick(&tl, 0, &n5xx);
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    if (train) {
        train_tick(&tl, 1, &n5xx);
        published = versions_published(&tl);
    }
    sample(pid, t0, &last);
    /* A connection the server has yet to see closed, or a checkpoint being
     * written, is not a leak: a leak is still there 10 s later. */
    for (int i = 0; i < 10 && (last.fds > warm.fds || last.threads > warm.threads); i++) {
        sleep(1);
        sample(pid, t0, &last);
    }
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
        total += k->n;
    }
    double growth = warm.rss_kb > 0 ? 100.0 * (double)(last.rss_kb - warm.rss_kb) /
                                          (double)warm.rss_kb : 0;
    printf("\n%ld requests in %.0f s; 5xx: %ld\n", total, util_now_s() - t0, n5xx);
    printf("rss    start %ld KiB, warm %ld KiB, end %ld KiB (%+.1f%% since warm)\n",
           first.rss_kb, warm.rss_kb, last.rss_kb, growth);
    printf("fds    start %ld, warm %ld, end %ld\n", first.fds, warm.fds, last.fds);
    printf("threads start %ld, warm %ld, end %ld\n", first.threads, warm.threads, last.threads);
    if (n5xx || growth > 10 || last.fds > warm.fds || last.threads > warm.threads)
        fail = 1;
    if (train) {
        printf("training: %ld jobs submitted, %ld succeeded, %ld failed; %ld versions "
               "published\n", tl.submitted, tl.succeeded, tl.failed, published);
        if (tl.failed || published <= 0 || stats[KIND_TRAIN_SUBMIT].ok != tl.submitted) {
            printf("soak: --train: %s\n", published <= 0 ? "no version was published"
                                                        : "a training job failed or was refused");
            fail = 1;
        }
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
