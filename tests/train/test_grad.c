/* test_grad.c: every layer's backward against double-precision central
 * finite differences, and each optimised convolution backward against its
 * naive twin.
 *
 * For a layer y = f(x, w...) the scalar loss is L = sum(y * R) with R fixed
 * and random, so dL/dy = R. The analytic gradients come from the float
 * backward with dout = R; the numeric ones perturb each input element by
 * +-h in a double-precision re-implementation of the forward written here
 * (so rounding in float kernels does not pollute the differences). The
 * relative error max|analytic - numeric| / max(max|numeric|, 1e-3) must stay
 * under 1e-4; each check prints it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/layers.h"
#include "tests/engine/util.h"

#define MAXARG 4
#define REL_TOL 1e-4

typedef struct Case {
    const char *name;
    int nargs;
    size_t n[MAXARG];       /* element count of each argument */
    size_t nout;
    /* double forward: out (nout) from args */
    void (*fwd)(double *out, double *const *args, const void *ctx);
    /* float backward: adds into grads[i] (same sizes as args) from dout */
    void (*bwd)(float *const *grads, const float *dout, float *const *args, const void *ctx);
    const void *ctx;
    double h;
} Case;

static double loss_of(const Case *c, double *const *a, double *out, const double *r)
{
    c->fwd(out, a, c->ctx);
    double l = 0;
    for (size_t i = 0; i < c->nout; i++)
        l += out[i] * r[i];
    return l;
}

/* Runs one case with arguments filled from seeds; returns the worst
 * relative error over all arguments. `away` keeps values |x| >= away in
 * argument 0 (kinks of ReLU-like layers). */
static double check_case(const Case *c, float away)
{
    float *af[MAXARG], *gf[MAXARG];
    double *ad[MAXARG];
    float *rf = malloc(c->nout * sizeof(float));
    double *rd = malloc(c->nout * sizeof(double)), *out = malloc(c->nout * sizeof(double));
    tu_fill(rf, c->nout, 99, -1, 1);
    for (size_t i = 0; i < c->nout; i++)
        rd[i] = rf[i];
    for (int a = 0; a < c->nargs; a++) {
        af[a] = malloc(c->n[a] * sizeof(float));
        gf[a] = calloc(c->n[a], sizeof(float));
        ad[a] = malloc(c->n[a] * sizeof(double));
        tu_fill(af[a], c->n[a], (uint32_t)(17 + a), -1, 1);
        if (a == 0 && away > 0)
            for (size_t i = 0; i < c->n[a]; i++)
                if (fabsf(af[a][i]) < away)
                    af[a][i] = af[a][i] < 0 ? -away - af[a][i] : away + af[a][i];
        for (size_t i = 0; i < c->n[a]; i++)
            ad[a][i] = af[a][i];
    }
    c->bwd(gf, rf, af, c->ctx);
    double worst = 0;
    for (int a = 0; a < c->nargs; a++) {
        double maxnum = 0, maxerr = 0;
        for (size_t i = 0; i < c->n[a]; i++) {
            double x = ad[a][i];
            ad[a][i] = x + c->h;
            double lp = loss_of(c, ad, out, rd);
            ad[a][i] = x - c->h;
            double lm = loss_of(c, ad, out, rd);
            ad[a][i] = x;
            double num = (lp - lm) / (2 * c->h);
            maxnum = fmax(maxnum, fabs(num));
            maxerr = fmax(maxerr, fabs(num - gf[a][i]));
        }
        double rel = maxerr / fmax(maxnum, 1e-3);
        printf("  %-28s arg %d: %6zu elems, max |grad| %.3g, rel err %.2e\n",
               c->name, a, c->n[a], maxnum, rel);
        worst = fmax(worst, rel);
    }
    for (int a = 0; a < c->nargs; a++) {
        free(af[a]);
        free(gf[a]);
        free(ad[a]);
    }
    free(rf);
    free(rd);
    free(out);
    return worst;
}

/* ---- convolution ---------------------------------------------------------- */

static ConvGeom geom(int cin, int cout, int k, int s, int h, int w, int pt, int pb,
                     int pl, int pr, int reflect)
{
    ConvGeom g = { .cin = cin, .cout = cout, .k = k, .stride = s, .pad_t = pt,
                   .pad_l = pl, .reflect = reflect, .h = h, .w = w };
    g.oh = (h + pt + pb - k) / s + 1;
    g.ow = (w + pl + pr - k) / s + 1;
    return g;
}

/* args: in, weight, bias */
static void conv_fwd_d(double *out, double *const *a, const void *ctx)
{
    const ConvGeom *g = ctx;
    for (int co = 0; co < g->cout; co++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                double acc = a[2][co];
                for (int ci = 0; ci < g->cin; ci++)
                    for (int ky = 0; ky < g->k; ky++)
                        for (int kx = 0; kx < g->k; kx++) {
                            int iy = oy * g->stride - g->pad_t + ky;
                            int ix = ox * g->stride - g->pad_l + kx;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) {
                                if (!g->reflect)
                                    continue;
                                iy = reflect_index(iy, g->h);
                                ix = reflect_index(ix, g->w);
                            }
                            acc += a[0][((size_t)ci * g->h + iy) * g->w + ix] *
                                   a[1][(((size_t)co * g->cin + ci) * g->k + ky) * g->k + kx];
                        }
                out[((size_t)co * g->oh + oy) * g->ow + ox] = acc;
            }
}

static void conv_bwd_f(float *const *gr, const float *dout, float *const *a, const void *ctx)
{
    const ConvGeom *g = ctx;
    float *work = malloc((conv2d_work_floats(g) + 1) * sizeof(float));
    conv2d_backward(gr[0], gr[1], gr[2], dout, a[0], a[1], g, work);
    free(work);
}

static void check_conv(const char *name, ConvGeom g)
{
    Case c = { name, 3, { (size_t)g.cin * g.h * g.w, (size_t)g.cout * g.cin * g.k * g.k,
                          (size_t)g.cout },
               (size_t)g.cout * g.oh * g.ow, conv_fwd_d, conv_bwd_f, &g, 1e-3 };
    assert_true(check_case(&c, 0) < REL_TOL);
}

static void test_conv2d_grad(void **state)
{
    (void)state;
    check_conv("conv 3x3 s1 zeros", geom(3, 4, 3, 1, 6, 7, 1, 1, 1, 1, 0));
    check_conv("conv 3x3 s2 TF same", geom(3, 4, 3, 2, 7, 8, 1, 1, 0, 1, 0));
    check_conv("conv 7x7 reflect", geom(2, 3, 7, 1, 8, 9, 3, 3, 3, 3, 1));
    check_conv("conv 3x3 s2 reflect", geom(2, 3, 3, 2, 7, 6, 1, 1, 1, 1, 1));
    check_conv("conv 4x4 s2 pad 1", geom(3, 2, 4, 2, 8, 8, 1, 1, 1, 1, 0));
    check_conv("conv 4x4 s1 pad 1 asym", geom(2, 1, 4, 1, 7, 6, 1, 2, 2, 1, 0));
    check_conv("conv 1x1", geom(4, 3, 1, 1, 5, 6, 0, 0, 0, 0, 0));
    check_conv("conv 9x9 s1", geom(2, 2, 9, 1, 10, 9, 4, 4, 4, 4, 0));
}

/* args: in, weight (cin, cout, k, k), bias */
static void convt_fwd_d(double *out, double *const *a, const void *ctx)
{
    const ConvGeom *g = ctx;
    size_t ohw = (size_t)g->oh * g->ow;
    for (int co = 0; co < g->cout; co++)
        for (size_t i = 0; i < ohw; i++)
            out[co * ohw + i] = a[2][co];
    for (int ci = 0; ci < g->cin; ci++)
        for (int iy = 0; iy < g->h; iy++)
            for (int ix = 0; ix < g->w; ix++)
                for (int co = 0; co < g->cout; co++)
                    for (int ky = 0; ky < g->k; ky++)
                        for (int kx = 0; kx < g->k; kx++) {
                            int oy = iy * g->stride + ky - g->pad_t;
                            int ox = ix * g->stride + kx - g->pad_l;
                            if (oy < 0 || oy >= g->oh || ox < 0 || ox >= g->ow)
                                continue;
                            out[(size_t)co * ohw + (size_t)oy * g->ow + ox] +=
                                a[0][((size_t)ci * g->h + iy) * g->w + ix] *
                                a[1][(((size_t)ci * g->cout + co) * g->k + ky) * g->k + kx];
                        }
}

static void convt_bwd_f(float *const *gr, const float *dout, float *const *a, const void *ctx)
{
    const ConvGeom *g = ctx;
    float *work = malloc((conv_transpose2d_work_floats(g) + 1) * sizeof(float));
    conv_transpose2d_backward(gr[0], gr[1], gr[2], dout, a[0], a[1], g, work);
    free(work);
}

static ConvGeom tgeom(int cin, int cout, int k, int s, int h, int w, int pad, int oh, int ow)
{
    ConvGeom g = { .cin = cin, .cout = cout, .k = k, .stride = s, .pad_t = pad,
                   .pad_l = pad, .h = h, .w = w, .oh = oh, .ow = ow };
    return g;
}

static void check_convt(const char *name, ConvGeom g)
{
    Case c = { name, 3, { (size_t)g.cin * g.h * g.w, (size_t)g.cout * g.cin * g.k * g.k,
                          (size_t)g.cout },
               (size_t)g.cout * g.oh * g.ow, convt_fwd_d, convt_bwd_f, &g, 1e-3 };
    assert_true(check_case(&c, 0) < REL_TOL);
}

static void test_conv_transpose2d_grad(void **state)
{
    (void)state;
    /* TF 'same' k3 s2: output 2h, crop 0; PyTorch k3 s2 p1 op1: output 2h. */
    check_convt("convT 3x3 s2 TF same", tgeom(3, 2, 3, 2, 4, 5, 0, 8, 10));
    check_convt("convT 3x3 s2 p1 op1", tgeom(3, 2, 3, 2, 4, 5, 1, 8, 10));
    check_convt("convT 4x4 s2 p1", tgeom(2, 3, 4, 2, 3, 4, 1, 6, 8));
    check_convt("convT past full size", tgeom(2, 2, 3, 2, 3, 3, 0, 8, 8));
}

/* The optimised backward against the naive twin on shapes big enough to
 * tile the workspace. */
static void test_conv_backward_vs_ref(void **state)
{
    (void)state;
    ConvGeom gs[3] = { geom(32, 3, 9, 1, 30, 200, 4, 4, 4, 4, 0),
                       geom(16, 8, 3, 2, 41, 37, 1, 1, 1, 1, 1),
                       geom(8, 8, 7, 1, 20, 24, 3, 3, 3, 3, 1) };
    for (int t = 0; t < 4; t++) {
        int transposed = t == 3;
        ConvGeom g = transposed ? tgeom(64, 32, 3, 2, 40, 120, 1, 80, 240) : gs[t];
        size_t nin = (size_t)g.cin * g.h * g.w, nout = (size_t)g.cout * g.oh * g.ow;
        size_t nw = (size_t)g.cout * g.cin * g.k * g.k;
        float *in = malloc(nin * 4), *wt = malloc(nw * 4), *dout = malloc(nout * 4);
        float *din = calloc(nin, 4), *dw = calloc(nw, 4), *db = calloc((size_t)g.cout, 4);
        float *din2 = calloc(nin, 4), *dw2 = calloc(nw, 4), *db2 = calloc((size_t)g.cout, 4);
        size_t nwork = transposed ? conv_transpose2d_work_floats(&g) : conv2d_work_floats(&g);
        float *work = malloc((nwork + 1) * 4);
        tu_fill(in, nin, 1, -1, 1);
        tu_fill(wt, nw, 2, -0.5f, 0.5f);
        tu_fill(dout, nout, 3, -1, 1);
        if (transposed) {
            conv_transpose2d_backward(din, dw, db, dout, in, wt, &g, work);
            conv_transpose2d_backward_ref(din2, dw2, db2, dout, in, wt, &g);
        } else {
            conv2d_backward(din, dw, db, dout, in, wt, &g, work);
            conv2d_backward_ref(din2, dw2, db2, dout, in, wt, &g);
        }
        printf(" %s %d:\n", transposed ? "convT" : "conv", t);
        double scale = sqrt((double)g.cin * g.k * g.k * g.oh * g.ow);
        assert_true(tu_report("din", din, din2, nin) < 1e-4 * scale);
        assert_true(tu_report("dweight", dw, dw2, nw) < 1e-4 * scale);
        assert_true(tu_report("dbias", db, db2, (size_t)g.cout) < 1e-4 * scale);
        free(in); free(wt); free(dout); free(din); free(dw); free(db);
        free(din2); free(dw2); free(db2); free(work);
    }
}

/* ---- instance norm ---------------------------------------------------------- */

typedef struct InCtx { int c; size_t hw; int relu, affine; float eps; } InCtx;

/* args: in, gamma, beta */
static void in_fwd_d(double *out, double *const *a, const void *ctx)
{
    const InCtx *p = ctx;
    for (int i = 0; i < p->c; i++) {
        const double *x = a[0] + (size_t)i * p->hw;
        double m = 0, v = 0;
        for (size_t j = 0; j < p->hw; j++)
            m += x[j];
        m /= (double)p->hw;
        for (size_t j = 0; j < p->hw; j++)
            v += (x[j] - m) * (x[j] - m);
        double r = 1 / sqrt(v / (double)p->hw + p->eps);
        for (size_t j = 0; j < p->hw; j++) {
            double y = (x[j] - m) * r;
            if (p->affine)
                y = y * a[1][i] + a[2][i];
            out[(size_t)i * p->hw + j] = p->relu && y < 0 ? 0 : y;
        }
    }
}

static void in_bwd_f(float *const *gr, const float *dout, float *const *a, const void *ctx)
{
    const InCtx *p = ctx;
    size_t n = (size_t)p->c * p->hw;
    float *out = malloc(n * 4), *mean = malloc((size_t)p->c * 4), *rstd = malloc((size_t)p->c * 4);
    const float *gm = p->affine ? a[1] : NULL, *bt = p->affine ? a[2] : NULL;
    instance_norm_train_forward(out, mean, rstd, a[0], gm, bt, p->eps, p->c, p->hw, p->relu);
    /* The training forward matches the inference one. */
    float *inplace = malloc(n * 4);
    memcpy(inplace, a[0], n * 4);
    instance_norm_forward(inplace, gm, bt, p->eps, p->c, p->hw, p->relu);
    assert_true(tu_max_abs_diff(inplace, out, n, NULL) < 1e-5);
    instance_norm_backward(gr[0], p->affine ? gr[1] : NULL, p->affine ? gr[2] : NULL, dout,
                           a[0], out, gm, mean, rstd, p->c, p->hw, p->relu);
    free(out); free(mean); free(rstd); free(inplace);
}

static void test_instance_norm_grad(void **state)
{
    (void)state;
    InCtx cases[4] = { { 3, 20, 0, 1, 1e-5f }, { 3, 20, 1, 1, 1e-5f },
                       { 2, 30, 0, 0, 1e-3f }, { 2, 30, 1, 0, 1e-3f } };
    const char *names[4] = { "instance norm affine", "instance norm affine relu",
                             "instance norm plain", "instance norm plain relu" };
    for (int i = 0; i < 4; i++) {
        Case c = { names[i], 3, { (size_t)cases[i].c * cases[i].hw, (size_t)cases[i].c,
                                  (size_t)cases[i].c },
                   (size_t)cases[i].c * cases[i].hw, in_fwd_d, in_bwd_f, &cases[i], 1e-4 };
        assert_true(check_case(&c, 0) < REL_TOL);
    }
}

/* ---- element-wise ----------------------------------------------------------- */

typedef struct EwCtx { int kind; size_t n; float slope; } EwCtx;
enum { EW_RELU, EW_LRELU, EW_TANH, EW_ADD, EW_AFFINE };

static void ew_fwd_d(double *out, double *const *a, const void *ctx)
{
    const EwCtx *p = ctx;
    for (size_t i = 0; i < p->n; i++) {
        double x = a[0][i];
        switch (p->kind) {
        case EW_RELU: out[i] = x > 0 ? x : 0; break;
        case EW_LRELU: out[i] = x > 0 ? x : x * p->slope; break;
        case EW_TANH: out[i] = tanh(x); break;
        case EW_ADD: out[i] = x + a[1][i]; break;
        default: out[i] = x * 150.0 + 127.5; break;
        }
    }
}

static void ew_bwd_f(float *const *gr, const float *dout, float *const *a, const void *ctx)
{
    const EwCtx *p = ctx;
    float *out = malloc(p->n * 4);
    memcpy(out, a[0], p->n * 4);
    switch (p->kind) {
    case EW_RELU:
        relu_forward(out, p->n);
        relu_backward(gr[0], dout, out, p->n);
        break;
    case EW_LRELU:
        leaky_relu_backward(gr[0], dout, a[0], p->slope, p->n);
        break;
    case EW_TANH:
        tanh_forward(out, p->n);
        tanh_backward(gr[0], dout, out, p->n);
        break;
    case EW_ADD:
        add_backward(gr[0], gr[1], dout, p->n);
        break;
    default:
        affine_backward(gr[0], dout, 150.0f, p->n);
        break;
    }
    free(out);
}

static void test_elementwise_grad(void **state)
{
    (void)state;
    const char *names[5] = { "relu", "leaky relu 0.2", "tanh", "residual add",
                             "output mapping" };
    for (int k = 0; k < 5; k++) {
        EwCtx p = { k, 50, 0.2f };
        Case c = { names[k], k == EW_ADD ? 2 : 1, { 50, 50 }, 50, ew_fwd_d, ew_bwd_f, &p, 1e-4 };
        assert_true(check_case(&c, k <= EW_LRELU ? 0.05f : 0) < REL_TOL);
    }
}

typedef struct UpCtx { int c, h, w, s; } UpCtx;

static void up_fwd_d(double *out, double *const *a, const void *ctx)
{
    const UpCtx *p = ctx;
    int ow = p->w * p->s, oh = p->h * p->s;
    for (int i = 0; i < p->c; i++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                out[((size_t)i * oh + y) * ow + x] =
                    a[0][((size_t)i * p->h + y / p->s) * p->w + x / p->s];
}

static void up_bwd_f(float *const *gr, const float *dout, float *const *a, const void *ctx)
{
    const UpCtx *p = ctx;
    float *out = malloc((size_t)p->c * p->h * p->w * p->s * p->s * 4);
    upsample_nearest_forward(out, a[0], p->c, p->h, p->w, p->s);
    upsample_nearest_backward(gr[0], dout, p->c, p->h, p->w, p->s);
    free(out);
}

static void test_upsample_grad(void **state)
{
    (void)state;
    UpCtx p[2] = { { 2, 3, 5, 2 }, { 3, 2, 3, 3 } };
    for (int i = 0; i < 2; i++) {
        size_t n = (size_t)p[i].c * p[i].h * p[i].w;
        Case c = { i ? "upsample nearest x3" : "upsample nearest x2", 1, { n },
                   n * (size_t)(p[i].s * p[i].s), up_fwd_d, up_bwd_f, &p[i], 1e-3 };
        assert_true(check_case(&c, 0) < REL_TOL);
    }
}

static void pool_fwd_d(double *out, double *const *a, const void *ctx)
{
    const UpCtx *p = ctx;
    int oh = p->h / 2, ow = p->w / 2;
    for (int i = 0; i < p->c; i++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                const double *r = a[0] + ((size_t)i * p->h + 2 * y) * p->w + 2 * x;
                out[((size_t)i * oh + y) * ow + x] = 0.25 * (r[0] + r[1] + r[p->w] + r[p->w + 1]);
            }
}

static void pool_bwd_f(float *const *gr, const float *dout, float *const *a, const void *ctx)
{
    const UpCtx *p = ctx;
    float *out = malloc((size_t)p->c * (p->h / 2) * (p->w / 2) * 4);
    avg_pool2_forward(out, a[0], p->c, p->h, p->w);
    avg_pool2_backward(gr[0], dout, p->c, p->h, p->w);
    free(out);
}

static void test_avg_pool_grad(void **state)
{
    (void)state;
    UpCtx p = { 2, 6, 7, 2 };
    Case c = { "avg pool 2x2 (odd width)", 1, { (size_t)2 * 6 * 7 }, (size_t)2 * 3 * 3,
               pool_fwd_d, pool_bwd_f, &p, 1e-3 };
    assert_true(check_case(&c, 0) < REL_TOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_grad),
        cmocka_unit_test(test_conv_transpose2d_grad),
        cmocka_unit_test(test_conv_backward_vs_ref),
        cmocka_unit_test(test_instance_norm_grad),
        cmocka_unit_test(test_elementwise_grad),
        cmocka_unit_test(test_upsample_grad),
        cmocka_unit_test(test_avg_pool_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
