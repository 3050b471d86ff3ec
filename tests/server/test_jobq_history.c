/* test_jobq_history.c: server/jobq_history.c: a training job's loss
 * history: one point a step, bounded by thinning (checkpoints kept), a
 * resumed run replacing the steps after its checkpoint, ?since=, and the
 * saved form read back equal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>

#include "server/jobq_history.h"

static TrainProgress at(int64_t step, int version)
{
    TrainProgress p = {0};
    p.step = step;
    p.d_loss = 1.0 / (double)step;
    p.style = 0.5 + (double)(step % 7);
    p.elapsed_s = (double)step * 0.25;
    p.version = version;
    return p;
}

static void test_points_and_checkpoints(void **state)
{
    JobHistory h = {0};
    json_t *j, *since;
    (void)state;
    for (int64_t s = 1; s <= 30; s++) {
        TrainProgress p = at(s, s % 10 == 0 ? (int)(s / 10) : 0);
        assert_int_equal(history_add(&h, &p), 0);
    }
    j = history_json(&h, -1);
    assert_int_equal(json_array_size(json_object_get(j, "points")), 30);
    assert_int_equal(json_array_size(json_object_get(j, "checkpoints")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "stride")), 1);
    since = history_json(&h, 25);
    assert_int_equal(json_array_size(json_object_get(since, "points")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(since, "points"), 0), "step")), 26);
    assert_int_equal(json_array_size(json_object_get(since, "checkpoints")), 1);
    json_decref(since);
    /* A resumed run goes back to step 20 (its checkpoint) and on. */
    {
        TrainProgress p = at(21, 0);
        assert_int_equal(history_add(&h, &p), 0);
    }
    assert_int_equal(h.n, 21);
    assert_int_equal(h.points[20].step, 21);
    json_decref(j);
    history_free(&h);
}

static void test_bounded(void **state)
{
    JobHistory h = {0};
    int64_t last = 0;
    int cps = 0;
    (void)state;
    for (int64_t s = 1; s <= 3 * JOBQ_HISTORY_MAX; s++) {
        TrainProgress p = at(s, s % 1000 == 0 ? (int)(s / 1000) : 0);
        assert_int_equal(history_add(&h, &p), 0);
    }
    assert_true(h.n <= JOBQ_HISTORY_MAX);
    assert_int_equal(h.stride, 4);
    for (int i = 0; i < h.n; i++) {
        assert_true(h.points[i].step > last);
        last = h.points[i].step;
        if (h.points[i].version)
            cps++;
        else
            assert_int_equal(h.points[i].step % h.stride, 0);
    }
    assert_int_equal(cps, 3 * JOBQ_HISTORY_MAX / 1000);
    assert_int_equal(last, 3 * JOBQ_HISTORY_MAX);
    history_free(&h);
}

static void test_saved_and_read_back(void **state)
{
    JobHistory h = {0}, back = {0};
    json_t *j, *k;
    char *text;
    (void)state;
    for (int64_t s = 1; s <= 50; s++) {
        TrainProgress p = at(s, s % 20 == 0 ? (int)(s / 20) : 0);
        history_add(&h, &p);
    }
    j = history_json(&h, -1);
    /* As jobq.c saves it: 9 significant digits give each float back. */
    text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
    k = json_loads(text, 0, NULL);
    history_load(&back, k);
    json_decref(k);
    k = history_json(&back, -1);
    assert_true(json_equal(j, k));
    assert_int_equal(back.n, h.n);
    json_decref(j);
    json_decref(k);
    free(text);
    history_free(&h);
    history_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_points_and_checkpoints),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_saved_and_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
