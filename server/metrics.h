/* metrics.h: the service's counters and histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * Families:
 *   atelier_http_requests_total{route,method,status}        counter
 *   atelier_http_request_duration_seconds                    histogram
 *   atelier_stage_seconds{stage=decode|queue|infer|encode}   histogram
 *   atelier_image_megapixels                                 histogram
 *   atelier_queue_depth, atelier_queue_capacity, atelier_inflight_requests,
 *   atelier_workers, atelier_workers_busy, atelier_ready     gauges
 *   atelier_model_loaded{model,version}                      gauge (1 per
 *                                                            served version)
 *   atelier_model_swaps_total, atelier_model_rollbacks_total,
 *   atelier_model_load_failures_total                        counters
 *   atelier_train_jobs{state}, atelier_train_steps_per_second gauges
 *   atelier_train_steps_total, atelier_train_versions_published_total
 *                                                            counters
 * Route labels are route patterns ("/models/{name}"), never raw paths, and
 * unknown methods are counted as "OTHER", so a client cannot grow the label
 * set. All functions are thread-safe.
 */
#ifndef ATELIER_METRICS_H
#define ATELIER_METRICS_H

#include <stdio.h>
#include "server/job_state.h"

typedef struct Metrics Metrics;

typedef enum MetricStage {
    METRIC_DECODE, METRIC_QUEUE, METRIC_INFER, METRIC_ENCODE, METRIC_STAGES
} MetricStage;

typedef struct MetricsGauges {
    int queue_depth, queue_capacity;
    int inflight;                 /* requests between arrival and completion */
    long long upload_reserved, upload_budget; /* request bodies: bytes reserved, the most */
    int workers, workers_busy;
    int ready;                    /* 0 or 1 */
    /* The registry (counters since start). */
    long swaps, rollbacks, load_failures;
    /* Training jobs (jobq.h): how many in each state, the running jobs'
     * steps per second summed, steps done and versions published since
     * start. jobs_known is 0 when the server has no job queue. */
    int jobs_known;
    int jobs[JOB_STATE_COUNT];    /* by JobState */
    double train_steps_per_s;
    long train_steps, versions_published;
} MetricsGauges;

typedef struct MetricsModel {
    const char *name;
    int version;
} MetricsModel;

/* Returns a new Metrics; caller frees with metrics_free(). NULL when out of
 * memory. */
Metrics *metrics_new(void);
void metrics_free(Metrics *m);                /* accepts NULL */

/* Counts one answered request. route is a static pattern string (borrowed
 * for the life of m), method any string, status 100..599. */
void metrics_request(Metrics *m, const char *route, const char *method, int status,
                     double seconds);
void metrics_stage(Metrics *m, MetricStage stage, double seconds);
void metrics_megapixels(Metrics *m, double megapixels);

/* Writes every family to out. Returns 0 or -1 on a write error. */
int metrics_render(Metrics *m, FILE *out, const MetricsGauges *g,
                   const MetricsModel *models, int nmodels);

#endif
