/* test_cli.c: the offline subcommands through the real binary: exit codes,
 * messages, and the files they write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "engine/image.h"
#include "engine/ml5.h"
#include "engine/net.h"
#include "tests/engine/util.h"

#define TORCH_MODEL "tests/fixtures/torch/transformer_net.safetensors"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/atelier-cli-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs atelier with args; returns the exit status, output in *out. */
static int atelier(char **out, const char *fmt, ...)
{
    char args[2048], cmd[2600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s %s", tu_atelier(), args);
    int rc = tu_run(cmd, out);
    printf("  $ atelier %s -> %d\n", args, rc);
    return rc;
}

static void write_photo(const char *path, int w, int h)
{
    Image *img = image_new(w, h);
    assert_non_null(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / w);
            p[1] = (uint8_t)(y * 255 / h);
            p[2] = (uint8_t)((x ^ y) & 0xff);
        }
    assert_int_equal(image_save_file(img, path, 95), 0);
    image_free(img);
}

static void test_help_and_usage(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(atelier(&out, "--help"), 0);
    assert_non_null(strstr(out, "stylize"));
    free(out);
    assert_int_equal(atelier(&out, "frobnicate"), 2);
    assert_non_null(strstr(out, "unknown command"));
    free(out);
    const char *cmds[] = { "stylize", "convert", "inspect", "bench" };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(atelier(&out, "%s --help", cmds[i]), 0);
        assert_non_null(strstr(out, "usage: atelier"));
        free(out);
    }
}

static void test_stylize(void **state)
{
    (void)state;
    char in[128], outp[128], *out;
    snprintf(in, sizeof(in), "%s/photo.png", tmpdir);
    snprintf(outp, sizeof(outp), "%s/out.png", tmpdir);
    write_photo(in, 37, 29);
    assert_int_equal(atelier(&out, "stylize --model %s %s %s", TORCH_MODEL, in, outp), 0);
    free(out);
    int code;
    char err[256];
    Image *img = image_load_file(outp, 1 << 20, &code, err, sizeof(err));
    assert_non_null(img);
    assert_int_equal(img->w, 37);
    assert_int_equal(img->h, 29);
    /* The output is the network's, not the photo: compare with the engine. */
    Net *net = net_load(TORCH_MODEL, err, sizeof(err));
    Image *src = image_load_file(in, 1 << 20, &code, err, sizeof(err));
    NetPlan *plan = net_plan(net, 29, 37, 1);
    float *x = malloc((size_t)3 * 29 * 37 * sizeof(float));
    image_to_planar(src, x);
    assert_int_equal(net_forward(net, plan, x, x), 0);
    image_from_planar(src, x);
    assert_memory_equal(src->px, img->px, (size_t)3 * 29 * 37);
    free(x);
    net_plan_free(plan);
    net_free(net);
    image_free(src);
    image_free(img);
    /* --max-size shrinks the long side, keeping the aspect ratio. */
    snprintf(outp, sizeof(outp), "%s/small.jpg", tmpdir);
    assert_int_equal(atelier(&out, "stylize --model %s --max-size 20 %s %s", TORCH_MODEL, in, outp), 0);
    free(out);
    img = image_load_file(outp, 1 << 20, &code, err, sizeof(err));
    assert_non_null(img);
    assert_int_equal(img->w, 20);
    assert_int_equal(img->h, 16);
    image_free(img);
}

static Image *load(const char *path)
{
    int code;
    char err[256];
    Image *img = image_load_file(path, 1 << 20, &code, err, sizeof(err));
    assert_non_null(img);
    return img;
}

/* --strength 0 gives the photo back; --preserve-colors keeps a grey photo
 * grey (its chroma is the photo's, zero). */
static void test_stylize_blend_and_colors(void **state)
{
    (void)state;
    char in[128], outp[128], *out;
    snprintf(in, sizeof(in), "%s/photo.png", tmpdir);
    snprintf(outp, sizeof(outp), "%s/blend.png", tmpdir);
    write_photo(in, 33, 21);
    assert_int_equal(atelier(&out, "stylize --model %s --strength 0 %s %s", TORCH_MODEL, in, outp), 0);
    free(out);
    Image *a = load(in), *b = load(outp);
    assert_memory_equal(a->px, b->px, (size_t)3 * 33 * 21);
    image_free(b);
    assert_int_equal(atelier(&out, "stylize --model %s --strength 0.5 %s %s", TORCH_MODEL, in, outp), 0);
    free(out);
    b = load(outp);
    assert_memory_not_equal(a->px, b->px, (size_t)3 * 33 * 21);
    image_free(b);
    for (size_t i = 0; i < (size_t)33 * 21; i++)
        a->px[3 * i + 1] = a->px[3 * i + 2] = a->px[3 * i];
    assert_int_equal(image_save_file(a, in, 0), 0);
    assert_int_equal(atelier(&out, "stylize --model %s --preserve-colors %s %s", TORCH_MODEL, in, outp), 0);
    free(out);
    b = load(outp);
    int spread = 0;
    for (size_t i = 0; i < (size_t)33 * 21; i++) {
        const uint8_t *p = b->px + 3 * i;
        int lo = p[0] < p[1] ? (p[0] < p[2] ? p[0] : p[2]) : (p[1] < p[2] ? p[1] : p[2]);
        int hi = p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2]) : (p[1] > p[2] ? p[1] : p[2]);
        spread = hi - lo > spread ? hi - lo : spread;
    }
    printf("  preserve-colors on a grey photo: max channel spread %d\n", spread);
    assert_true(spread <= 1);
    image_free(a);
    image_free(b);
    assert_int_equal(atelier(&out, "stylize --model %s --strength 1.5 %s %s", TORCH_MODEL, in, outp), 2);
    assert_non_null(strstr(out, "--strength"));
    free(out);
    assert_int_equal(atelier(&out, "stylize --model %s --strength nan %s %s", TORCH_MODEL, in, outp), 2);
    free(out);
}

static void test_stylize_errors(void **state)
{
    (void)state;
    char in[128], *out;
    snprintf(in, sizeof(in), "%s/photo.png", tmpdir);
    write_photo(in, 16, 16);
    assert_int_equal(atelier(&out, "stylize --model %s --max-size -3 %s /dev/null", TORCH_MODEL, in), 2);
    assert_non_null(strstr(out, "--max-size"));
    free(out);
    assert_int_equal(atelier(&out, "stylize --model %s /nonexistent.jpg %s/x.png", TORCH_MODEL, tmpdir), 1);
    assert_non_null(strstr(out, "/nonexistent.jpg"));
    free(out);
    assert_int_equal(atelier(&out, "stylize --model %s %s %s/x.gif", TORCH_MODEL, in, tmpdir), 1);
    assert_non_null(strstr(out, "x.gif"));
    free(out);
    assert_int_equal(atelier(&out, "stylize --models %s --model ../etc %s %s/x.png", tmpdir, in, tmpdir), 1);
    assert_non_null(strstr(out, "not a model name"));
    free(out);
    assert_int_equal(atelier(&out, "stylize --model %s/missing.safetensors %s %s/x.png", tmpdir, in, tmpdir), 1);
    assert_non_null(strstr(out, "cannot load"));
    free(out);
    assert_int_equal(atelier(&out, "stylize --model %s %s", TORCH_MODEL, in), 2);
    free(out);
}

/* A repository with versions 1 and 2 serves 2, or 1 when CURRENT pins it. */
static void test_model_repository(void **state)
{
    (void)state;
    char cmd[512], in[128], *out;
    snprintf(in, sizeof(in), "%s/photo.png", tmpdir);
    write_photo(in, 16, 16);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/repo/tnet && cp %s %s/repo/tnet/v1.safetensors && "
             "cp %s %s/repo/tnet/v2.safetensors", tmpdir, TORCH_MODEL, tmpdir, TORCH_MODEL, tmpdir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(atelier(&out, "stylize --models %s/repo %s %s/r.png", tmpdir, in, tmpdir), 0);
    assert_non_null(strstr(out, "tnet/v2"));
    free(out);
    snprintf(cmd, sizeof(cmd), "echo 1 > %s/repo/tnet/CURRENT", tmpdir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(atelier(&out, "stylize --models %s/repo --model tnet %s %s/r.png", tmpdir, in, tmpdir), 0);
    assert_non_null(strstr(out, "tnet/v1"));
    free(out);
    assert_int_equal(atelier(&out, "stylize --models %s/repo --model nope %s %s/r.png", tmpdir, in, tmpdir), 1);
    assert_non_null(strstr(out, "no model 'nope'"));
    free(out);
}

static void test_inspect_and_bench(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(atelier(&out, "inspect %s", TORCH_MODEL), 0);
    assert_non_null(strstr(out, "\"layers\""));
    assert_non_null(strstr(out, "parameters:"));
    free(out);
    assert_int_equal(atelier(&out, "inspect %s/none.safetensors", tmpdir), 1);
    free(out);
    assert_int_equal(atelier(&out, "bench --model %s --size 40x24 --threads 1 --runs 3", TORCH_MODEL), 0);
    char *last = strrchr(out, '{');
    assert_non_null(last);
    double ms = -1;
    char *p = strstr(last, "\"ms_median\":");
    assert_non_null(p);
    ms = strtod(p + 12, NULL);
    assert_true(ms > 0);
    assert_non_null(strstr(last, "\"gflops\":"));
    assert_non_null(strstr(last, "\"peak_rss_mb\":"));
    free(out);
    assert_int_equal(atelier(&out, "bench --model %s --size 0", TORCH_MODEL), 2);
    free(out);
}

static void test_convert_ml5(void **state)
{
    (void)state;
    const char *shared = tu_shared_dir();
    if (!shared) {
        printf("  skipped: ../shared/models/ml5 is absent\n");
        skip();
    }
    char path[256], dir[256], err[512], *out;
    snprintf(path, sizeof(path), "%s/wave.safetensors", tmpdir);
    snprintf(dir, sizeof(dir), "%s/models/ml5/wave", shared);
    assert_int_equal(atelier(&out, "convert --from ml5 %s %s", dir, path), 0);
    free(out);
    Net *net = net_load(path, err, sizeof(err));
    assert_non_null(net);
    assert_int_equal(net_param_count(net), 1677638);   /* 1674432 conv + 3206 norm */
    assert_non_null(strstr(net_card_json(net), "MIT"));
    net_free(net);
    assert_int_equal(atelier(&out, "convert --from onnx %s %s", dir, path), 2);
    assert_non_null(strstr(out, "unknown format"));
    free(out);
    assert_int_equal(atelier(&out, "convert --from ml5 %s %s/x.safetensors", tmpdir, tmpdir), 1);
    assert_non_null(strstr(out, "manifest.json"));
    free(out);
    /* Into a repository, where the server and --model NAME find it. */
    assert_int_equal(atelier(&out, "convert --from ml5 %s --repo %s/repo --name wave", dir,
                             tmpdir), 0);
    free(out);
    snprintf(path, sizeof(path), "%s/repo/wave/v1.safetensors", tmpdir);
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(atelier(&out, "convert --from ml5 %s --repo %s/repo --name wave", dir,
                             tmpdir), 1);
    assert_non_null(strstr(out, "--add-version"));
    free(out);
    assert_int_equal(atelier(&out, "convert --from ml5 %s --repo %s/repo --name wave "
                             "--add-version", dir, tmpdir), 0);
    free(out);
    snprintf(path, sizeof(path), "%s/repo/wave/v2.safetensors", tmpdir);
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(atelier(&out, "convert --from ml5 %s --repo %s/repo --name ../w", dir,
                             tmpdir), 1);
    assert_non_null(strstr(out, "not a model name"));
    free(out);
    assert_int_equal(atelier(&out, "convert --from ml5 %s --repo %s/repo", dir, tmpdir), 2);
    free(out);
    snprintf(path, sizeof(path), "%s/wave_in.png", tmpdir);
    write_photo(path, 40, 30);
    assert_int_equal(atelier(&out, "stylize --models %s/repo --model wave --max-size 64 "
                             "%s %s/w.png", tmpdir, path, tmpdir), 0);
    free(out);
}

/* atelier quality: the JSON it prints, a folder read by the holdout rule,
 * and the synthetic scenes without photos. */
static void test_quality(void **state)
{
    (void)state;
    char dir[256], path[300], *out;
    snprintf(dir, sizeof dir, "%s/photos", tmpdir);
    snprintf(path, sizeof path, "mkdir -p %s", dir);
    assert_int_equal(system(path), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/p%d.png", dir, i);
        write_photo(path, 40 + 8 * i, 32);
    }
    /* Three photos: none is the 7th, so none is held out. */
    assert_int_equal(atelier(&out, "quality %s %s --max-size 64", TORCH_MODEL, dir), 1);
    assert_non_null(strstr(out, "no held-out photos"));
    free(out);
    for (int i = 3; i < 7; i++) {
        snprintf(path, sizeof path, "%s/p%d.png", dir, i);
        write_photo(path, 40 + 8 * i, 32);
    }
    snprintf(path, sizeof path, "%s/p0.png", dir);
    assert_int_equal(atelier(&out, "quality %s %s %s --style %s --max-size 64 --threads 1",
                             TORCH_MODEL, dir, path, path), 0);
    json_t *j = json_loads(strrchr(out, '{'), 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "photos")), 2);   /* p6 and p0 */
    assert_true(json_real_value(json_object_get(j, "finite")) == 1.0);
    assert_true(json_real_value(json_object_get(j, "style")) > 0);
    assert_true(json_is_number(json_object_get(j, "edges")));
    /* p6 runs at 64x23, too small for the strokes: p0 (40x32) alone. */
    assert_true(json_real_value(json_object_get(j, "strokes")) > 0);
    assert_true(json_real_value(json_object_get(j, "photo_strokes")) > 0);
    assert_true(json_real_value(json_object_get(j, "mid")) > 0);
    assert_true(json_real_value(json_object_get(j, "photo_mid")) > 0);
    json_decref(j);
    free(out);
    assert_int_equal(atelier(&out, "quality %s %s --style %s --style-scale 0.5,0.2", TORCH_MODEL,
                             path, path), 2);
    assert_non_null(strstr(out, "--style-scale takes LO,HI"));
    free(out);
    assert_int_equal(atelier(&out, "quality %s --max-size 64 --threads 1", TORCH_MODEL), 0);
    assert_non_null(strstr(out, "\"photos\":6"));
    assert_non_null(strstr(out, "\"style\":-1"));
    assert_non_null(strstr(out, "\"strokes\":-1"));
    free(out);
    assert_int_equal(atelier(&out, "quality %s --style /nonexistent.png", TORCH_MODEL), 1);
    assert_non_null(strstr(out, "/nonexistent.png"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_stylize),
        cmocka_unit_test(test_stylize_blend_and_colors),
        cmocka_unit_test(test_stylize_errors),
        cmocka_unit_test(test_model_repository),
        cmocka_unit_test(test_inspect_and_bench),
        cmocka_unit_test(test_convert_ml5),
        cmocka_unit_test(test_quality),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
