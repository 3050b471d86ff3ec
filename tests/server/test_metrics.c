/* test_metrics.c: server/metrics.c: counters, histograms and the text
 * exposition format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

static char *render(Metrics *m, const MetricsGauges *g, const MetricsModel *models, int n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(metrics_render(m, f, g, models, n), 0);
    fclose(f);
    return text;
}

static void expect_line(const char *text, const char *line)
{
    const char *p = text;
    size_t n = strlen(line);
    while ((p = strstr(p, line))) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
        p += n;
    }
    print_error("missing line: %s\n--- got ---\n%s\n", line, text);
    fail();
}

static void test_counters(void **state)
{
    static const char stylize[] = "/stylize", models[] = "/models";
    Metrics *m = metrics_new();
    char *text;
    (void)state;
    assert_non_null(m);
    for (int i = 0; i < 3; i++)
        metrics_request(m, stylize, "POST", 200, 0.2);
    metrics_request(m, stylize, "POST", 503, 0.001);
    metrics_request(m, models, "GET", 200, 0.0001);
    metrics_request(m, models, "BREW", 405, 0.0001);  /* unknown method: OTHER */
    metrics_request(m, models, "GET", 9999, 0.0001);  /* absurd status: 500 */
    text = render(m, NULL, NULL, 0);
    expect_line(text, "atelier_http_requests_total{route=\"/stylize\",method=\"POST\",status=\"200\"} 3");
    expect_line(text, "atelier_http_requests_total{route=\"/stylize\",method=\"POST\",status=\"503\"} 1");
    expect_line(text, "atelier_http_requests_total{route=\"/models\",method=\"OTHER\",status=\"405\"} 1");
    expect_line(text, "atelier_http_requests_total{route=\"/models\",method=\"GET\",status=\"500\"} 1");
    expect_line(text, "# TYPE atelier_http_requests_total counter");
    expect_line(text, "atelier_http_request_duration_seconds_count 7");
    free(text);
    metrics_free(m);
    metrics_free(NULL);
}

static void test_histograms_and_gauges(void **state)
{
    Metrics *m = metrics_new();
    MetricsGauges g = {.queue_depth = 2, .queue_capacity = 16, .inflight = 5, .workers = 2,
                       .workers_busy = 1, .ready = 1};
    MetricsModel models[] = {{"wave", 3}, {"udnie", 1}};
    char *text;
    (void)state;
    metrics_stage(m, METRIC_INFER, 0.3);
    metrics_stage(m, METRIC_INFER, 0.7);
    metrics_stage(m, METRIC_INFER, 100);       /* beyond the last bound */
    metrics_stage(m, METRIC_DECODE, 0.004);
    metrics_megapixels(m, 0.26);
    text = render(m, &g, models, 2);
    /* Buckets are cumulative; +Inf equals the count. */
    expect_line(text, "atelier_stage_seconds_bucket{stage=\"infer\",le=\"0.25\"} 0");
    expect_line(text, "atelier_stage_seconds_bucket{stage=\"infer\",le=\"0.5\"} 1");
    expect_line(text, "atelier_stage_seconds_bucket{stage=\"infer\",le=\"1\"} 2");
    expect_line(text, "atelier_stage_seconds_bucket{stage=\"infer\",le=\"+Inf\"} 3");
    expect_line(text, "atelier_stage_seconds_count{stage=\"infer\"} 3");
    expect_line(text, "atelier_stage_seconds_sum{stage=\"infer\"} 101");
    expect_line(text, "atelier_stage_seconds_bucket{stage=\"decode\",le=\"0.005\"} 1");
    expect_line(text, "atelier_stage_seconds_count{stage=\"queue\"} 0");
    expect_line(text, "atelier_image_megapixels_bucket{le=\"0.25\"} 0");
    expect_line(text, "atelier_image_megapixels_bucket{le=\"0.5\"} 1");
    expect_line(text, "atelier_queue_depth 2");
    expect_line(text, "atelier_queue_capacity 16");
    expect_line(text, "atelier_inflight_requests 5");
    expect_line(text, "atelier_workers_busy 1");
    expect_line(text, "atelier_ready 1");
    expect_line(text, "atelier_model_loaded{model=\"wave\",version=\"3\"} 1");
    expect_line(text, "atelier_model_loaded{model=\"udnie\",version=\"1\"} 1");
    expect_line(text, "# TYPE atelier_stage_seconds histogram");
    free(text);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_histograms_and_gauges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
