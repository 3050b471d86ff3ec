/* spec_net.c: the engine tests' small spec network (spec_net.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/safetensors.h"
#include "tests/engine/spec_net.h"
#include "tests/engine/util.h"

const char spec_net_text[] =
    "{\"version\": 1, \"input\": {\"scale\": 0.00784313725, \"offset\": -1},"
    " \"output\": {\"scale\": 127.5, \"offset\": 127.5}, \"layers\": ["
    "  {\"op\": \"conv2d\", \"name\": \"c1\", \"in\": 3, \"out\": 6, \"k\": 5, \"pad\": 2,"
    "   \"pad_mode\": \"reflect\", \"bias\": true},"
    "  {\"op\": \"instance_norm\", \"name\": \"n1\", \"channels\": 6, \"eps\": 1e-5},"
    "  {\"op\": \"relu\"},"
    "  {\"op\": \"conv2d\", \"name\": \"c2\", \"in\": 6, \"out\": 8, \"k\": 3, \"stride\": 2,"
    "   \"pad\": \"same\", \"bias\": false},"
    "  {\"op\": \"instance_norm\", \"name\": \"n2\", \"channels\": 8, \"eps\": 1e-5},"
    "  {\"op\": \"relu\"},"
    "  [{\"op\": \"conv2d\", \"name\": \"r1\", \"in\": 8, \"out\": 8, \"k\": 3, \"pad\": 1},"
    "   {\"op\": \"instance_norm\", \"name\": \"rn1\", \"affine\": false},"
    "   {\"op\": \"relu\"},"
    "   {\"op\": \"conv2d\", \"name\": \"r2\", \"in\": 8, \"out\": 8, \"k\": 3, \"pad\": 1,"
    "    \"pad_mode\": \"reflect\"},"
    "   {\"op\": \"instance_norm\", \"name\": \"rn2\", \"affine\": false}],"
    "  {\"op\": \"conv_transpose2d\", \"name\": \"t1\", \"in\": 8, \"out\": 6, \"k\": 3,"
    "   \"stride\": 2, \"pad\": 1, \"output_padding\": 1, \"bias\": true},"
    "  {\"op\": \"instance_norm\", \"name\": \"n3\", \"channels\": 6, \"eps\": 1e-5},"
    "  {\"op\": \"relu\"},"
    "  {\"op\": \"upsample\", \"scale\": 2},"
    "  {\"op\": \"conv2d\", \"name\": \"c3\", \"in\": 6, \"out\": 3, \"k\": 3, \"stride\": 2,"
    "   \"pad\": \"same\", \"bias\": true},"
    "  {\"op\": \"tanh\"}]}";

typedef struct Param { const char *name; int ndim; int64_t shape[4]; } Param;

static const Param params[] = {
    { "c1.weight", 4, { 6, 3, 5, 5 } }, { "c1.bias", 1, { 6 } },
    { "n1.weight", 1, { 6 } }, { "n1.bias", 1, { 6 } },
    { "c2.weight", 4, { 8, 6, 3, 3 } },
    { "n2.weight", 1, { 8 } }, { "n2.bias", 1, { 8 } },
    { "r1.weight", 4, { 8, 8, 3, 3 } }, { "r2.weight", 4, { 8, 8, 3, 3 } },
    { "t1.weight", 4, { 8, 6, 3, 3 } }, { "t1.bias", 1, { 6 } },
    { "n3.weight", 1, { 6 } }, { "n3.bias", 1, { 6 } },
    { "c3.weight", 4, { 3, 6, 3, 3 } }, { "c3.bias", 1, { 3 } },
};

char *spec_without_block(void)
{
    char *s = strdup(spec_net_text);
    char *a = strchr(strchr(s, '[') + 1, '['), *b = strchr(a, ']');   /* the block */
    memmove(a, b + 2, strlen(b + 2) + 1);                             /* and its ", " */
    return s;
}

Net *spec_net(const char *text)
{
    StWriter *w = stw_new();
    float buf[8 * 8 * 9];
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        const Param *p = &params[i];
        size_t n = 1;
        for (int d = 0; d < p->ndim; d++)
            n *= (size_t)p->shape[d];
        tu_fill(buf, n, (uint32_t)i + 40, -0.5f, 0.5f);
        if (strstr(p->name, "n") == p->name && strstr(p->name, ".weight"))
            for (size_t k = 0; k < n; k++)
                buf[k] += 1.0f;
        assert_int_equal(stw_add(w, p->name, ST_F32, p->ndim, p->shape, buf), 0);
    }
    assert_int_equal(stw_meta(w, "atelier.spec", text), 0);
    void *mem;
    size_t len;
    char err[256];
    assert_int_equal(stw_to_buffer(w, &mem, &len), 0);
    stw_free(w);
    SafeTensors *st = st_parse(mem, len, err, sizeof(err));
    free(mem);
    assert_non_null(st);
    Net *net = net_from_safetensors(st, err, sizeof(err));
    if (!net)
        printf("spec net: %s\n", err);
    st_free(st);
    return net;
}

