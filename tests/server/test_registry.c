/* test_registry.c: server/registry.c: scanning, loading, the default model,
 * reference counts and the version swap under load. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/log.h"
#include "server/registry.h"
#include "tests/engine/st_fixture.h"
#include "tests/http/server_harness.h"

static void put(const char *dir, const char *rel, const char *text)
{
    char p[1024];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void tiny(const char *dir, const char *rel, int seed)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    assert_int_equal(harness_write_tiny_model(p, seed), 0);
}

static void sub(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(mkdir(p, 0755), 0);
}

/* tiny: v1, v2 (served: v2); pinned: v1, v3 + CURRENT 1; broken: garbage;
 * and folders that are not models. */
static char *make_repo(void)
{
    char *dir = stfix_tmpdir();
    sub(dir, "tiny");
    sub(dir, "pinned");
    sub(dir, "broken");
    sub(dir, "empty");
    sub(dir, "Bad Name");
    tiny(dir, "tiny/v1.safetensors", 1);
    tiny(dir, "tiny/v2.safetensors", 2);
    put(dir, "tiny/card.json", "{\"title\": \"From card.json\"}");
    tiny(dir, "pinned/v1.safetensors", 3);
    tiny(dir, "pinned/v3.safetensors", 4);
    put(dir, "pinned/CURRENT", "1\n");
    put(dir, "pinned/v2.safetensors.tmp", "half a file");
    put(dir, "broken/v1.safetensors", "not safetensors");
    tiny(dir, "Bad Name/v1.safetensors", 5);
    return dir;
}

static void test_scan_and_load(void **state)
{
    char *dir = make_repo(), err[256];
    Registry *r;
    ModelRef *a, *b;
    RegistryInfo *list = NULL, info;
    int code, n;
    (void)state;
    assert_null(registry_open(dir, "nope", err, sizeof err));
    assert_non_null(strstr(err, "nope"));
    assert_null(registry_open("/nonexistent/repo", NULL, err, sizeof err));

    /* Several models and nothing chosen: no default, never the first by
     * name; the DEFAULT file chooses, a flag over it. */
    r = registry_open(dir, NULL, err, sizeof err);
    assert_non_null(r);
    assert_null(registry_default(r));
    assert_string_equal(registry_default_from(r), "none");
    assert_int_equal(registry_set_default(r, "nope", err, sizeof err), REGISTRY_ENOENT);
    assert_int_equal(registry_set_default(r, "../x", err, sizeof err), REGISTRY_EINVAL);
    assert_int_equal(registry_set_default(r, "pinned", err, sizeof err), 0);
    assert_string_equal(registry_default(r), "pinned");
    assert_string_equal(registry_default_from(r), "file");
    registry_free(r);
    r = registry_open(dir, NULL, err, sizeof err);          /* read back from DEFAULT */
    assert_non_null(r);
    assert_string_equal(registry_default(r), "pinned");
    registry_free(r);
    put(dir, "DEFAULT", "nope\n");                          /* names no model: none */
    r = registry_open(dir, NULL, err, sizeof err);
    assert_non_null(r);
    assert_null(registry_default(r));
    registry_free(r);

    r = registry_open(dir, "tiny", err, sizeof err);
    assert_non_null(r);
    assert_string_equal(registry_default(r), "tiny");
    assert_string_equal(registry_default_from(r), "flag");
    assert_false(registry_ready(r));
    assert_null(registry_acquire(r, NULL, &code));
    assert_int_equal(code, REGISTRY_ENOTREADY);
    assert_int_equal(registry_load_all(r), 1);            /* broken fails */
    assert_true(registry_ready(r));

    a = registry_acquire(r, NULL, &code);
    assert_non_null(a);
    assert_string_equal(a->name, "tiny");
    assert_int_equal(a->version, 2);
    assert_int_equal(atomic_load(&a->refs), 2);
    b = registry_acquire(r, "pinned", &code);
    assert_non_null(b);
    assert_int_equal(b->version, 1);
    assert_true(a->id != b->id);
    registry_release(b);

    assert_null(registry_acquire(r, "../tiny", &code));
    assert_int_equal(code, REGISTRY_EINVAL);
    assert_null(registry_acquire(r, "Bad Name", &code));
    assert_int_equal(code, REGISTRY_EINVAL);
    assert_null(registry_acquire(r, "empty", &code));
    assert_int_equal(code, REGISTRY_ENOENT);
    assert_null(registry_acquire(r, "broken", &code));
    assert_int_equal(code, REGISTRY_ENOTREADY);

    n = registry_list(r, &list);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "broken");
    assert_int_equal(list[0].loaded, 0);
    assert_non_null(list[0].error);
    assert_string_equal(list[1].name, "pinned");
    assert_int_equal(list[1].nversions, 2);
    assert_int_equal(list[1].versions[1], 3);
    assert_int_equal(list[1].current, 1);
    assert_string_equal(list[2].name, "tiny");
    assert_non_null(strstr(list[2].card, "From card.json"));
    assert_true(list[2].params > 0);
    registry_list_free(list, n);

    assert_int_equal(registry_info(r, "pinned", &info), 0);
    assert_non_null(strstr(info.card, "seed 3"));          /* the file's own card */
    registry_info_clear(&info);
    assert_int_equal(registry_info(r, "nope", &info), REGISTRY_ENOENT);
    assert_int_equal(registry_info(r, "../..", &info), REGISTRY_EINVAL);

    /* a is held across the registry's end: it stays valid. */
    registry_free(r);
    assert_int_equal(a->version, 2);
    assert_non_null(a->net);
    registry_release(a);
    stfix_rm_tree(dir);
}

static void test_swap(void **state)
{
    char *dir = make_repo(), err[256];
    Registry *r = registry_open(dir, "tiny", err, sizeof err);
    ModelRef *old, *now;
    int code;
    (void)state;
    assert_non_null(r);
    registry_load_all(r);
    old = registry_acquire(r, "tiny", &code);
    assert_int_equal(old->version, 2);
    assert_int_equal(registry_set_current(r, "tiny", 1, err, sizeof err), REGISTRY_OK);
    now = registry_acquire(r, "tiny", &code);
    assert_int_equal(now->version, 1);
    /* The request that started on v2 still has it, alone. */
    assert_int_equal(old->version, 2);
    assert_int_equal(atomic_load(&old->refs), 1);
    registry_release(old);
    registry_release(now);

    assert_int_equal(registry_set_current(r, "tiny", 9, err, sizeof err), REGISTRY_ENOVERSION);
    assert_int_equal(registry_set_current(r, "nope", 1, err, sizeof err), REGISTRY_ENOENT);
    assert_int_equal(registry_set_current(r, "../x", 1, err, sizeof err), REGISTRY_EINVAL);
    assert_int_equal(registry_set_current(r, "broken", 1, err, sizeof err), REGISTRY_ELOAD);
    now = registry_acquire(r, "tiny", &code);
    assert_int_equal(now->version, 1);         /* unchanged by the failures */
    registry_release(now);
    registry_free(r);
    stfix_rm_tree(dir);
}

typedef struct Hammer {
    Registry *r;
    int stop;
    long acquired;
} Hammer;

static void *hammer(void *arg)
{
    Hammer *h = arg;
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        int code;
        ModelRef *m = registry_acquire(h->r, "tiny", &code);
        if (!m || !m->net || (m->version != 1 && m->version != 2))
            return (void *)1;
        h->acquired++;
        registry_release(m);
    }
    return NULL;
}

static void test_swap_under_load(void **state)
{
    char *dir = make_repo(), err[256];
    Registry *r = registry_open(dir, "tiny", err, sizeof err);
    Hammer h[3];
    pthread_t t[3];
    ModelRef *last;
    int code;
    (void)state;
    registry_load_all(r);
    for (int i = 0; i < 3; i++) {
        h[i] = (Hammer){r, 0, 0};
        pthread_create(&t[i], NULL, hammer, &h[i]);
    }
    for (int i = 0; i < 40; i++)
        assert_int_equal(registry_set_current(r, "tiny", 1 + i % 2, err, sizeof err), 0);
    for (int i = 0; i < 3; i++) {
        void *bad;
        __atomic_store_n(&h[i].stop, 1, __ATOMIC_RELEASE);
        pthread_join(t[i], &bad);
        assert_null(bad);
    }
    last = registry_acquire(r, "tiny", &code);
    assert_int_equal(last->version, 2);
    assert_int_equal(atomic_load(&last->refs), 2);   /* the registry's and ours */
    registry_release(last);
    registry_free(r);
    stfix_rm_tree(dir);
}

static void test_names(void **state)
{
    char long_name[80];
    (void)state;
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    assert_true(repo_valid_name("wave"));
    assert_true(repo_valid_name("a-b_c9"));
    assert_false(repo_valid_name(""));
    assert_false(repo_valid_name(NULL));
    assert_false(repo_valid_name(".."));
    assert_false(repo_valid_name("a/b"));
    assert_false(repo_valid_name("Wave"));
    assert_false(repo_valid_name(long_name));
    long_name[64] = '\0';
    assert_true(repo_valid_name(long_name));
}

/* A truncated newest version, an unreadable one (a dangling link: root reads
 * any mode) and a pinned version that is not a model: each is skipped and
 * the newest good version served, with the failure listed. */
static void test_bad_versions(void **state)
{
    char *dir = stfix_tmpdir(), err[256], p[1024], q[1024];
    Registry *r;
    ModelRef *ref;
    RegistryInfo info;
    FILE *f;
    long size;
    int code;
    (void)state;
    sub(dir, "m");
    sub(dir, "pin");
    sub(dir, "none");
    tiny(dir, "m/v1.safetensors", 1);
    tiny(dir, "m/v2.safetensors", 2);
    tiny(dir, "m/v3.safetensors", 3);
    snprintf(p, sizeof p, "%s/m/v3.safetensors", dir);
    f = fopen(p, "r+");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(p, size / 2), 0);
    snprintf(p, sizeof p, "%s/m/v4.safetensors", dir);
    assert_int_equal(symlink("/nonexistent/v4.safetensors", p), 0);
    tiny(dir, "pin/v1.safetensors", 4);
    put(dir, "pin/v2.safetensors", "not a model");
    put(dir, "pin/CURRENT", "2\n");
    put(dir, "none/v1.safetensors", "");
    snprintf(q, sizeof q, "%s/none/v2.safetensors", dir);
    assert_int_equal(mkdir(q, 0755), 0);

    r = registry_open(dir, "m", err, sizeof err);
    assert_non_null(r);
    assert_int_equal(registry_load_all(r), 1);   /* only "none" has nothing to serve */
    ref = registry_acquire(r, "m", &code);
    assert_non_null(ref);
    if (ref->version != 2) {
        print_error("m: serving v%d, want v2 (v4 unreadable, v3 truncated)\n", ref->version);
        fail();
    }
    registry_release(ref);
    assert_int_equal(registry_info(r, "m", &info), 0);
    assert_int_equal(info.current, 2);
    assert_non_null(info.error);
    registry_info_clear(&info);
    ref = registry_acquire(r, "pin", &code);
    assert_non_null(ref);
    assert_int_equal(ref->version, 1);
    registry_release(ref);
    assert_null(registry_acquire(r, "none", &code));
    assert_int_equal(code, REGISTRY_ENOTREADY);
    registry_free(r);
    stfix_rm_tree(dir);
}

int main(void)
{
    int null = open("/dev/null", O_WRONLY);
    log_set_fd(null);   /* the registry's log lines are not the test's output */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_and_load),
        cmocka_unit_test(test_swap),
        cmocka_unit_test(test_swap_under_load),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
