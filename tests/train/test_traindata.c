/* test_traindata.c: engine/train/traindata.c keeps a painting only as large as
 * its smallest crop needs (issue 15: twelve flat 8000x8000 paintings took
 * the process past 2 GiB), and the photos at twice the training size. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/image.h"
#include "engine/train/traindata.h"

static char root[64];

static void write_image(const char *path, int w, int h)
{
    Image *img = image_new(w, h);
    assert_non_null(img);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        img->px[i] = (uint8_t)(i * 7);
    assert_int_equal(image_save_file(img, path, 90), 0);
    image_free(img);
}

static int setup(void **state)
{
    char path[128];
    snprintf(root, sizeof root, "/tmp/atelier-traindata-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(path, sizeof path, "%s/photos", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/photos/a.jpg", root);
    write_image(path, 300, 200);
    snprintf(path, sizeof path, "%s/painting.png", root);
    write_image(path, 900, 600);
    return 0;
}

static int teardown(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/photos/a.jpg", root);
    unlink(path);
    snprintf(path, sizeof path, "%s/photos", root);
    rmdir(path);
    snprintf(path, sizeof path, "%s/painting.png", root);
    unlink(path);
    rmdir(root);
    return 0;
}

static void test_style_kept_shrunk(void **state)
{
    char photos[96], painting[96], err[256];
    const char *styles[1] = {painting};
    int w, h;
    TrainData *d;
    (void)state;
    snprintf(photos, sizeof photos, "%s/photos", root);
    snprintf(painting, sizeof painting, "%s/painting.png", root);
    /* The smallest crop at lo 0.15 and size 256 is 256 pixels of a 1707
     * shorter side; at size 32 and lo 0.32, of 100. */
    assert_int_equal(tdata_style_short(256, 0.15f), 1707);
    assert_int_equal(tdata_style_short(32, 0.32f), 100);
    d = tdata_load(photos, styles, 1, 32, 0, tdata_style_short(32, 0.32f), err, sizeof err);
    assert_non_null(d);
    assert_int_equal(tdata_style_dims(d, 0, &w, &h), 0);
    assert_int_equal(w, 150);
    assert_int_equal(h, 100);
    assert_int_equal(tdata_style_dims(d, 1, &w, &h), -1);
    tdata_free(d);
    /* 0 keeps it whole; so does a limit above its size. */
    d = tdata_load(photos, styles, 1, 32, 0, 0, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(tdata_style_dims(d, 0, &w, &h), 0);
    assert_int_equal(w, 900);
    assert_int_equal(h, 600);
    tdata_free(d);
    d = tdata_load(photos, styles, 1, 32, 0, 1000, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(tdata_style_dims(d, 0, &w, &h), 0);
    assert_int_equal(h, 600);
    tdata_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_style_kept_shrunk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
