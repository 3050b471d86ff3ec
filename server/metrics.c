/* metrics.c: counters and fixed-bucket histograms behind one mutex.
 *
 * The lock is held for a few additions per request and for the rendering of
 * /metrics; neither does I/O other than writing to a memory stream.
 */
#include "server/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 512

static const double second_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                       0.5, 1, 2.5, 5, 10, 30, 60};
static const double mp_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64};
#define NSEC (sizeof second_bounds / sizeof second_bounds[0])
#define NMP (sizeof mp_bounds / sizeof mp_bounds[0])
#define MAXB (NSEC > NMP ? NSEC : NMP)

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
                                      "OPTIONS", "OTHER"};
#define NMETHODS (sizeof methods / sizeof methods[0])
static const char *const stage_names[METRIC_STAGES] = {"decode", "queue", "infer", "encode"};

typedef struct Hist {
    const double *bounds;
    size_t nb;
    unsigned long long counts[MAXB + 1];   /* per bucket, not cumulative */
    unsigned long long n;
    double sum;
} Hist;

typedef struct Series {
    const char *route;
    int method;
    int status;
    unsigned long long n;
} Series;

struct Metrics {
    pthread_mutex_t lock;
    Series series[MAX_SERIES];
    int nseries;
    Hist duration;
    Hist stages[METRIC_STAGES];
    Hist mp;
};

static void hist_init(Hist *h, const double *bounds, size_t nb)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nb = nb;
}

static void hist_add(Hist *h, double v)
{
    size_t i = 0;
    while (i < h->nb && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->n++;
    h->sum += v;
}

Metrics *metrics_new(void)
{
    Metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        return NULL;
    }
    hist_init(&m->duration, second_bounds, NSEC);
    for (int s = 0; s < METRIC_STAGES; s++)
        hist_init(&m->stages[s], second_bounds, NSEC);
    hist_init(&m->mp, mp_bounds, NMP);
    return m;
}

void metrics_free(Metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int method_index(const char *method)
{
    for (size_t i = 0; i + 1 < NMETHODS; i++)
        if (method && !strcmp(method, methods[i]))
            return (int)i;
    return (int)NMETHODS - 1;
}

void metrics_request(Metrics *m, const char *route, const char *method, int status,
                     double seconds)
{
    int mi = method_index(method), i;
    if (status < 100 || status > 599)
        status = 500;
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->nseries; i++) {
        Series *s = &m->series[i];
        if (s->route == route && s->method == mi && s->status == status)
            break;
    }
    if (i == m->nseries && i < MAX_SERIES) {
        m->series[i] = (Series){route, mi, status, 0};
        m->nseries++;
    }
    if (i < m->nseries)          /* past MAX_SERIES, only the duration counts */
        m->series[i].n++;
    hist_add(&m->duration, seconds);
    pthread_mutex_unlock(&m->lock);
}

void metrics_stage(Metrics *m, MetricStage stage, double seconds)
{
    if ((int)stage < 0 || stage >= METRIC_STAGES)
        return;
    pthread_mutex_lock(&m->lock);
    hist_add(&m->stages[stage], seconds);
    pthread_mutex_unlock(&m->lock);
}

void metrics_megapixels(Metrics *m, double megapixels)
{
    pthread_mutex_lock(&m->lock);
    hist_add(&m->mp, megapixels);
    pthread_mutex_unlock(&m->lock);
}

static void hist_write(FILE *out, const char *name, const char *label, const Hist *h)
{
    unsigned long long cum = 0;
    const char *sep = *label ? "," : "";
    for (size_t i = 0; i < h->nb; i++) {
        cum += h->counts[i];
        fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label, sep, h->bounds[i], cum);
    }
    fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label, sep, h->n);
    if (*label) {
        fprintf(out, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, label, h->sum, name, label,
                h->n);
    } else {
        fprintf(out, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, h->n);
    }
}

static void gauge(FILE *out, const char *name, const char *help, long long v)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

static void counter(FILE *out, const char *name, const char *help, long long v)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", name, help, name, name, v);
}

int metrics_render(Metrics *m, FILE *out, const MetricsGauges *g, const MetricsModel *models,
                   int nmodels)
{
    char label[64];
    pthread_mutex_lock(&m->lock);
    fputs("# HELP atelier_http_requests_total HTTP requests answered, by route pattern, "
          "method and status.\n# TYPE atelier_http_requests_total counter\n", out);
    for (int i = 0; i < m->nseries; i++) {
        const Series *s = &m->series[i];
        fprintf(out, "atelier_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
                s->route, methods[s->method], s->status, s->n);
    }
    fputs("# HELP atelier_http_request_duration_seconds Time from a request's arrival to "
          "its answer being queued.\n"
          "# TYPE atelier_http_request_duration_seconds histogram\n", out);
    hist_write(out, "atelier_http_request_duration_seconds", "", &m->duration);
    fputs("# HELP atelier_stage_seconds Time of each stage of a stylize request.\n"
          "# TYPE atelier_stage_seconds histogram\n", out);
    for (int s = 0; s < METRIC_STAGES; s++) {
        snprintf(label, sizeof label, "stage=\"%s\"", stage_names[s]);
        hist_write(out, "atelier_stage_seconds", label, &m->stages[s]);
    }
    fputs("# HELP atelier_image_megapixels Size of the images stylized, as inferred.\n"
          "# TYPE atelier_image_megapixels histogram\n", out);
    hist_write(out, "atelier_image_megapixels", "", &m->mp);
    pthread_mutex_unlock(&m->lock);

    if (g) {
        gauge(out, "atelier_queue_depth", "Stylize jobs waiting for a worker.", g->queue_depth);
        gauge(out, "atelier_queue_capacity", "Jobs the queue holds before answering 503.",
              g->queue_capacity);
        gauge(out, "atelier_inflight_requests", "Requests received and not yet answered.",
              g->inflight);
        gauge(out, "atelier_upload_bytes_reserved",
              "Bytes of request bodies being received (the body budget in use).",
              g->upload_reserved);
        gauge(out, "atelier_upload_bytes_budget", "The most request bodies may hold in all.",
              g->upload_budget);
        gauge(out, "atelier_workers", "Inference worker threads.", g->workers);
        gauge(out, "atelier_workers_busy", "Workers running a job.", g->workers_busy);
        gauge(out, "atelier_ready", "1 when /readyz answers 200.", g->ready);
        counter(out, "atelier_model_swaps_total", "Served versions replaced by another.",
                g->swaps);
        counter(out, "atelier_model_rollbacks_total",
                "Served versions replaced by an older one.", g->rollbacks);
        counter(out, "atelier_model_load_failures_total",
                "Model files that failed to load (and were not served).", g->load_failures);
    }
    if (g && g->jobs_known) {
        fputs("# HELP atelier_train_jobs Training jobs by state.\n"
              "# TYPE atelier_train_jobs gauge\n", out);
        for (int i = 0; i < JOB_STATE_COUNT; i++)
            fprintf(out, "atelier_train_jobs{state=\"%s\"} %d\n", job_state_name(i),
                    g->jobs[i]);
        fprintf(out, "# HELP atelier_train_steps_per_second Training steps per second of the "
                     "running jobs.\n# TYPE atelier_train_steps_per_second gauge\n"
                     "atelier_train_steps_per_second %.4g\n", g->train_steps_per_s);
        counter(out, "atelier_train_steps_total", "Training steps done.", g->train_steps);
        counter(out, "atelier_train_versions_published_total",
                "Checkpoints published as model versions by training jobs.",
                g->versions_published);
    }
    fputs("# HELP atelier_model_loaded Model versions loaded and served (1 per version).\n"
          "# TYPE atelier_model_loaded gauge\n", out);
    for (int i = 0; i < nmodels; i++)
        fprintf(out, "atelier_model_loaded{model=\"%s\",version=\"%d\"} 1\n", models[i].name,
                models[i].version);
    return ferror(out) ? -1 : 0;
}
