/* test_gate_judge.c: server/gate.c's verdict on given numbers: the checks
 * against the served version (palette and strokes, each with its slack),
 * and the strokes check skipped when either side has none. The whole gate,
 * on a real job, is tests/http/test_gate.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/gate.h"

static const GateConfig cfg = {0.4, 0.12, 0.3, 0.3, 6, 256};

static QualityScores sound(double style, double strokes)
{
    QualityScores q = {.photos = 6, .finite = 1, .edges = 0.65, .fine = 0.02, .spread = 6,
                       .photo_spread = 30, .style = style, .strokes = strokes,
                       .photo_strokes = 0.14, .mid = 0.25, .photo_mid = 0.21};
    return q;
}

static void test_strokes_against_served(void **state)
{
    (void)state;
    char why[512];
    QualityScores served = sound(12, 0.100);
    QualityScores cand = sound(12, 0.129);     /* 29% farther: within the slack */
    assert_int_equal(gate_judge(&cfg, &cand, &served, why, sizeof why), 1);
    assert_string_equal(why, "");
    cand.strokes = 0.141;                      /* the photos' own: a recolouring */
    assert_int_equal(gate_judge(&cfg, &cand, &served, why, sizeof why), 0);
    printf("  %s\n", why);
    assert_non_null(strstr(why, "stroke distance 0.141 is more than 30% above the served "
                                "version's 0.100"));
    assert_null(strstr(why, "style distance"));
    /* Both distances too far: two reasons. */
    cand.style = 16;
    assert_int_equal(gate_judge(&cfg, &cand, &served, why, sizeof why), 0);
    assert_non_null(strstr(why, "style distance 16.00"));
    assert_non_null(strstr(why, "; stroke distance"));
    /* Closer to the painting's strokes always passes. */
    cand = sound(12, 0.05);
    assert_int_equal(gate_judge(&cfg, &cand, &served, why, sizeof why), 1);
}

static void test_strokes_unmeasured(void **state)
{
    (void)state;
    char why[512];
    QualityScores served = sound(12, -1), cand = sound(12, 0.5);
    /* Nothing served, or no strokes on either side: not judged. */
    assert_int_equal(gate_judge(&cfg, &cand, NULL, why, sizeof why), 1);
    assert_int_equal(gate_judge(&cfg, &cand, &served, why, sizeof why), 1);
    served.strokes = 0.1;
    cand.strokes = -1;
    assert_int_equal(gate_judge(&cfg, &cand, &served, why, sizeof why), 1);
    /* mid is reported, never judged. */
    cand = sound(12, 0.1);
    cand.mid = 0.9;
    assert_int_equal(gate_judge(&cfg, &cand, &served, why, sizeof why), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strokes_against_served),
        cmocka_unit_test(test_strokes_unmeasured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
