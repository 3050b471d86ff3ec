/* test_ml5.c: the ml5 importer and the engine against PyTorch reference
 * outputs (tools/ml5_reference.py) of the real ml5 models. The models live
 * in ../shared/models/ml5 and are never committed: without them the tests
 * skip, saying so. $ATELIER_ML5_FIXTURES may name a folder of further
 * fixtures (tools/ml5_reference.py fixtures --all) to check all nine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "engine/ml5.h"
#include "engine/net.h"
#include "tests/engine/util.h"

#define TOLERANCE 1e-2   /* max abs difference on the 0..255 scale */

static Net *import_model(const char *shared, const char *name)
{
    char dir[1024], err[512];
    void *buf = NULL;
    size_t len = 0;
    snprintf(dir, sizeof(dir), "%s/models/ml5/%s", shared, name);
    if (ml5_import(dir, &buf, &len, err, sizeof(err))) {
        print_error("import %s: %s\n", dir, err);
        return NULL;
    }
    SafeTensors *st = st_parse(buf, len, err, sizeof(err));
    free(buf);
    Net *net = st ? net_from_safetensors(st, err, sizeof(err)) : NULL;
    if (!net)
        print_error("load %s: %s\n", name, err);
    st_free(st);
    return net;
}

/* Runs every fixture in dir; returns how many were checked. */
static int check_fixture_dir(const char *shared, const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int checked = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 13 || strcmp(e->d_name + n - 12, ".safetensors"))
            continue;
        char path[2048], err[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        SafeTensors *fx = st_load_file(path, err, sizeof(err));
        assert_non_null(fx);
        const StTensor *in = st_find(fx, "input"), *out = st_find(fx, "output");
        const char *model = st_meta(fx, "model");
        assert_non_null(in);
        assert_non_null(out);
        assert_non_null(model);
        assert_int_equal(in->ndim, 4);
        int h = (int)in->shape[2], w = (int)in->shape[3];
        Net *net = import_model(shared, model);
        assert_non_null(net);
        NetPlan *plan = net_plan(net, h, w, 1);
        assert_non_null(plan);
        float *y = malloc((size_t)3 * h * w * sizeof(float));
        assert_int_equal(net_forward(net, plan, st_f32(in), y), 0);
        char label[512];
        snprintf(label, sizeof(label), "%s (%s, %dx%d)", e->d_name, model, w, h);
        double diff = tu_report(label, y, st_f32(out), (size_t)3 * h * w);
        assert_true(diff < TOLERANCE);
        free(y);
        net_plan_free(plan);
        net_free(net);
        st_free(fx);
        checked++;
    }
    closedir(d);
    return checked;
}

static void test_committed_fixtures(void **state)
{
    (void)state;
    const char *shared = tu_shared_dir();
    if (!shared) {
        printf("  skipped: ../shared/models/ml5 is absent (the ml5 models are never committed)\n");
        skip();
    }
    assert_true(check_fixture_dir(shared, "tests/fixtures/ml5") >= 4);
}

static void test_extra_fixtures(void **state)
{
    (void)state;
    const char *shared = tu_shared_dir(), *dir = getenv("ATELIER_ML5_FIXTURES");
    if (!shared || !dir) {
        printf("  skipped: set ATELIER_ML5_FIXTURES (tools/ml5_reference.py fixtures --all)\n");
        skip();
    }
    assert_true(check_fixture_dir(shared, dir) >= 1);
}

static void test_import_rejects(void **state)
{
    (void)state;
    char err[512];
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(ml5_import("/nonexistent/ml5", &buf, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "manifest.json"));
    char tmpl[] = "/tmp/atelier-ml5-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char path[256];
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"Variable\": {\"filename\": \"../etc/passwd\", \"shape\": [9, 9, 3, 32]}}", f);
    fclose(f);
    assert_int_equal(ml5_import(dir, &buf, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad filename"));
    f = fopen(path, "w");
    fputs("{\"Variable\": {\"filename\": \"Variable\", \"shape\": [9, 9, 3, 33]}}", f);
    fclose(f);
    assert_int_equal(ml5_import(dir, &buf, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "shape"));
    f = fopen(path, "w");
    fputs("{\"Variable\": {\"filename\": \"Variable\", \"shape\": [9, 9, 3, 32]}}", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/Variable", dir);
    f = fopen(path, "w");
    fputs("short", f);
    fclose(f);
    assert_int_equal(ml5_import(dir, &buf, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "regular file of 31104 bytes"));
    remove(path);
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    remove(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_fixtures),
        cmocka_unit_test(test_extra_fixtures),
        cmocka_unit_test(test_import_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
