/* conv.c: convolution and transposed convolution, forward and backward.
 *
 * Both run as one GEMM per tile through OpenBLAS (cblas_sgemm):
 *   conv:        out (cout, rows*ow) = W (cout, cin*k*k) x col (cin*k*k, rows*ow)
 *                where col is im2col of the input rows the tile reads;
 *   transposed:  col (cout*k*k, rows*w) = W^T (cout*k*k, cin) x in (cin, rows*w)
 *                then col2im scatters col into the output (the adjoint of im2col).
 * Tiles are bands of output rows (input rows for the transposed case) sized
 * so the column buffer stays near CONV_WORK_TARGET_FLOATS: memory does not
 * grow with the image. A 1x1, stride-1, unpadded convolution is a plain GEMM.
 */
#include <string.h>
#include <cblas.h>
#include "engine/layers.h"

static int is_pointwise(const ConvGeom *g)
{
    return g->k == 1 && g->stride == 1 && g->pad_t == 0 && g->pad_l == 0 &&
           g->oh == g->h && g->ow == g->w;
}

static int conv_tile_rows(size_t floats_per_row, int total_rows)
{
    size_t rows = CONV_WORK_TARGET_FLOATS / (floats_per_row ? floats_per_row : 1);
    if (rows < 1)
        rows = 1;
    if (rows > (size_t)total_rows)
        rows = (size_t)total_rows;
    return (int)rows;
}

size_t conv2d_work_floats(const ConvGeom *g)
{
    if (is_pointwise(g))
        return 0;
    size_t per_row = (size_t)g->cin * g->k * g->k * g->ow;
    return per_row * (size_t)conv_tile_rows(per_row, g->oh);
}

size_t conv_transpose2d_work_floats(const ConvGeom *g)
{
    size_t per_row = (size_t)g->cout * g->k * g->k * g->w;
    return per_row * (size_t)conv_tile_rows(per_row, g->h);
}

/* The output columns [lo, hi) of a row whose source positions ox*s + ix0
 * fall inside [0, w); those before lo and from hi on need the padding rule. */
static void row_span(int ow, int w, int s, int ix0, int *lo, int *hi)
{
    int a = ix0 < 0 ? (-ix0 + s - 1) / s : 0;
    int b = w - 1 - ix0 < 0 ? 0 : (w - 1 - ix0) / s + 1;
    if (a > ow)
        a = ow;
    if (b > ow)
        b = ow;
    *lo = a;
    *hi = b < a ? a : b;
}

/* One row of im2col: d[ox] = src[ox*s + ix0] for ox in [0, ow), with the
 * padding rule for positions outside [0, w). */
static void im2col_row(float *d, const float *src, int ow, int w, int s,
                       int ix0, int reflect)
{
    int lo, hi;
    row_span(ow, w, s, ix0, &lo, &hi);
    for (int ox = 0; ox < lo; ox++)
        d[ox] = reflect ? src[reflect_index(ox * s + ix0, w)] : 0.0f;
    if (s == 1) {
        memcpy(d + lo, src + lo + ix0, (size_t)(hi - lo) * sizeof(float));
    } else {
        const float *p = src + (size_t)lo * s + ix0;
        for (int ox = lo; ox < hi; ox++, p += s)
            d[ox] = *p;
    }
    for (int ox = hi; ox < ow; ox++)
        d[ox] = reflect ? src[reflect_index(ox * s + ix0, w)] : 0.0f;
}

/* col ((u1-u0)*k, rows*ow) for output rows [oy0, oy0+rows): the rows of
 * im2col's (cin*k*k, .) matrix that belong to units [u0, u1), unit
 * u = c*k + ky covering rows u*k .. u*k + k-1. */
static void im2col_units(float *col, const float *in, const ConvGeom *g,
                         int oy0, int rows, int u0, int u1)
{
    const int k = g->k, s = g->stride, ow = g->ow;
    const size_t ncol = (size_t)rows * ow;
    for (int u = u0; u < u1; u++) {
        const int c = u / k, ky = u % k;
        const float *src = in + (size_t)c * g->h * g->w;
        for (int kx = 0; kx < k; kx++) {
            float *dst = col + ((size_t)(u - u0) * k + kx) * ncol;
            for (int r = 0; r < rows; r++) {
                float *d = dst + (size_t)r * ow;
                int iy = (oy0 + r) * s - g->pad_t + ky;
                if (iy < 0 || iy >= g->h) {
                    if (!g->reflect) {
                        memset(d, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    iy = reflect_index(iy, g->h);
                }
                im2col_row(d, src + (size_t)iy * g->w, ow, g->w, s,
                           kx - g->pad_l, g->reflect);
            }
        }
    }
}

void conv2d_im2col_units(float *col, const float *in, const ConvGeom *g, int oy0, int rows,
                         int u0, int u1)
{
    im2col_units(col, in, g, oy0, rows, u0, u1);
}

/* All of im2col: col (cin*k*k, rows*ow). */
static void im2col_rows(float *col, const float *in, const ConvGeom *g,
                        int oy0, int rows)
{
    im2col_units(col, in, g, oy0, rows, 0, g->cin * g->k);
}

static void add_bias(float *out, const float *bias, int c, size_t hw)
{
    if (!bias)
        return;
    for (int i = 0; i < c; i++) {
        float b = bias[i];
        float *p = out + (size_t)i * hw;
        for (size_t j = 0; j < hw; j++)
            p[j] += b;
    }
}

void conv2d_forward_rows(float *out, const float *in, const float *weight,
                         const float *bias, const ConvGeom *g, float *work,
                         int oy0, int n, int tile_rows)
{
    const int K = g->cin * g->k * g->k;
    const size_t ohw = (size_t)g->oh * g->ow;
    for (int y = oy0; y < oy0 + n; y += tile_rows) {
        int m = oy0 + n - y < tile_rows ? oy0 + n - y : tile_rows;
        int ncol = m * g->ow;
        float *dst = out + (size_t)y * g->ow;
        if (is_pointwise(g)) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, ncol,
                        g->cin, 1.0f, weight, g->cin, in + (size_t)y * g->ow, (int)ohw,
                        0.0f, dst, (int)ohw);
        } else {
            im2col_rows(work, in, g, y, m);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, ncol, K,
                        1.0f, weight, K, work, ncol, 0.0f, dst, (int)ohw);
        }
        if (bias)
            for (int c = 0; c < g->cout; c++)
                for (int i = 0; i < ncol; i++)
                    dst[(size_t)c * ohw + i] += bias[c];
    }
}

void conv2d_forward(float *out, const float *in, const float *weight,
                    const float *bias, const ConvGeom *g, float *work)
{
    int rows = is_pointwise(g) ? g->oh
                               : conv_tile_rows((size_t)g->cin * g->k * g->k * g->ow, g->oh);
    conv2d_forward_rows(out, in, weight, bias, g, work, 0, g->oh, rows);
}

void conv2d_forward_ref(float *out, const float *in, const float *weight,
                        const float *bias, const ConvGeom *g)
{
    for (int co = 0; co < g->cout; co++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                double acc = bias ? bias[co] : 0.0;
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
                            acc += (double)in[((size_t)ci * g->h + iy) * g->w + ix] *
                                   weight[(((size_t)co * g->cin + ci) * g->k + ky) * g->k + kx];
                        }
                out[((size_t)co * g->oh + oy) * g->ow + ox] = (float)acc;
            }
}

/* Scatters col (cout*k*k, rows*w), computed from input rows [iy0, iy0+rows),
 * into out (cout, oh, ow). */
static void col2im_rows(float *out, const float *col, const ConvGeom *g,
                        int iy0, int rows, int co0, int co1)
{
    const int k = g->k, s = g->stride, w = g->w;
    const size_t ncol = (size_t)rows * w;
    for (int co = co0; co < co1; co++) {
        float *dst = out + (size_t)co * g->oh * g->ow;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *src = col + ((size_t)((co - co0) * k + ky) * k + kx) * ncol;
                int ox0 = kx - g->pad_l;   /* ox = ix*s + ox0 */
                int lo = ox0 < 0 ? (-ox0 + s - 1) / s : 0;
                int hi = g->ow - 1 - ox0 < 0 ? 0 : (g->ow - 1 - ox0) / s + 1;
                if (hi > w)
                    hi = w;
                for (int r = 0; r < rows; r++) {
                    int oy = (iy0 + r) * s + ky - g->pad_t;
                    if (oy < 0 || oy >= g->oh)
                        continue;
                    float *drow = dst + (size_t)oy * g->ow + ox0;
                    const float *srow = src + (size_t)r * w;
                    for (int ix = lo; ix < hi; ix++)
                        drow[(size_t)ix * s] += srow[ix];
                }
            }
    }
}

void conv_transpose2d_forward_channels(float *out, const float *in, const float *weight,
                                       const float *bias, const ConvGeom *g, float *work,
                                       int co0, int co1, int tile_rows)
{
    const int kk = g->k * g->k, M = g->cout * kk, m = (co1 - co0) * kk;
    const size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    memset(out + (size_t)co0 * ohw, 0, (size_t)(co1 - co0) * ohw * sizeof(float));
    for (int iy0 = 0; iy0 < g->h; iy0 += tile_rows) {
        int n = g->h - iy0 < tile_rows ? g->h - iy0 : tile_rows;
        int ncol = n * g->w;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, ncol, g->cin,
                    1.0f, weight + (size_t)co0 * kk, M, in + (size_t)iy0 * g->w, (int)hw,
                    0.0f, work, ncol);
        col2im_rows(out, work, g, iy0, n, co0, co1);
    }
    if (bias)
        add_bias(out + (size_t)co0 * ohw, bias + co0, co1 - co0, ohw);
}

void conv_transpose2d_forward(float *out, const float *in, const float *weight,
                              const float *bias, const ConvGeom *g, float *work)
{
    int rows = conv_tile_rows((size_t)g->cout * g->k * g->k * g->w, g->h);
    conv_transpose2d_forward_channels(out, in, weight, bias, g, work, 0, g->cout, rows);
}

void conv_transpose2d_forward_ref(float *out, const float *in, const float *weight,
                                  const float *bias, const ConvGeom *g)
{
    size_t ohw = (size_t)g->oh * g->ow;
    for (int co = 0; co < g->cout; co++)
        for (size_t i = 0; i < ohw; i++)
            out[co * ohw + i] = bias ? bias[co] : 0.0f;
    for (int ci = 0; ci < g->cin; ci++)
        for (int iy = 0; iy < g->h; iy++)
            for (int ix = 0; ix < g->w; ix++) {
                float v = in[((size_t)ci * g->h + iy) * g->w + ix];
                for (int co = 0; co < g->cout; co++)
                    for (int ky = 0; ky < g->k; ky++)
                        for (int kx = 0; kx < g->k; kx++) {
                            int oy = iy * g->stride + ky - g->pad_t;
                            int ox = ix * g->stride + kx - g->pad_l;
                            if (oy < 0 || oy >= g->oh || ox < 0 || ox >= g->ow)
                                continue;
                            out[(size_t)co * ohw + (size_t)oy * g->ow + ox] += v *
                                weight[(((size_t)ci * g->cout + co) * g->k + ky) * g->k + kx];
                        }
            }
}

/* ---- backward ------------------------------------------------------------
 * conv:       dW (cout, K) += dout (cout, ncol) x col^T (ncol, K)
 *             dcol (K, ncol) = W^T (K, cout) x dout (cout, ncol), then the
 *             adjoint of im2col (col2im, reflect-aware) adds dcol into din.
 * transposed: the adjoint of col2im is im2col of dout, so with
 *             dcol (cout*k*k, rows*w) = im2col(dout):
 *             dW (cin, M) += in (cin, ncol) x dcol^T, din += W (cin, M) x dcol.
 * Same row tiling and workspace size as the forwards. */

/* Adds the column band d (one im2col row) back into src, the adjoint of
 * im2col_row. */
static void col2im_row_add(float *src, const float *d, int ow, int w, int s,
                           int ix0, int reflect)
{
    int lo, hi;
    row_span(ow, w, s, ix0, &lo, &hi);
    if (reflect) {
        for (int ox = 0; ox < lo; ox++)
            src[reflect_index(ox * s + ix0, w)] += d[ox];
        for (int ox = hi; ox < ow; ox++)
            src[reflect_index(ox * s + ix0, w)] += d[ox];
    }
    if (s == 1) {
        float *p = src + lo + ix0;   /* contiguous: lets the compiler vectorise */
        const float *q = d + lo;
        for (int j = 0; j < hi - lo; j++)
            p[j] += q[j];
        return;
    }
    float *p = src + (size_t)lo * s + ix0;
    for (int ox = lo; ox < hi; ox++, p += s)
        *p += d[ox];
}

/* Adds col ((c1-c0)*k*k, rows*ow), the im2col rows of input channels
 * [c0, c1) for output rows [oy0, oy0+rows), into din. */
static void col2im_add_rows(float *din, const float *col, const ConvGeom *g,
                            int oy0, int rows, int c0, int c1)
{
    const int k = g->k, s = g->stride, ow = g->ow;
    const size_t ncol = (size_t)rows * ow;
    for (int c = c0; c < c1; c++) {
        float *dst = din + (size_t)c * g->h * g->w;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *src = col + ((size_t)((c - c0) * k + ky) * k + kx) * ncol;
                for (int r = 0; r < rows; r++) {
                    int iy = (oy0 + r) * s - g->pad_t + ky;
                    if (iy < 0 || iy >= g->h) {
                        if (!g->reflect)
                            continue;
                        iy = reflect_index(iy, g->h);
                    }
                    col2im_row_add(dst + (size_t)iy * g->w, src + (size_t)r * ow, ow,
                                   g->w, s, kx - g->pad_l, g->reflect);
                }
            }
    }
}

void conv_bias_backward(float *dbias, const float *dout, int c, size_t hw)
{
    if (!dbias)
        return;
    for (int i = 0; i < c; i++) {
        const float *p = dout + (size_t)i * hw;
        float acc = 0.0f;
        for (size_t j = 0; j < hw; j++)
            acc += p[j];
        dbias[i] += acc;
    }
}

int conv_backward_tile_rows(size_t floats_per_row, int total_rows, size_t work_floats)
{
    size_t rows = work_floats / (floats_per_row ? floats_per_row : 1);
    if (rows < 1)
        rows = 1;
    if (rows > (size_t)total_rows)
        rows = (size_t)total_rows;
    return (int)rows;
}

void conv2d_backward_weight_units(float *dweight, const float *dout, const float *in,
                                  const ConvGeom *g, float *work, int u0, int u1,
                                  int tile_rows)
{
    const int K = g->cin * g->k * g->k, nk = (u1 - u0) * g->k;
    const size_t ohw = (size_t)g->oh * g->ow;
    for (int oy0 = 0; oy0 < g->oh; oy0 += tile_rows) {
        int n = g->oh - oy0 < tile_rows ? g->oh - oy0 : tile_rows;
        int ncol = n * g->ow;
        im2col_units(work, in, g, oy0, n, u0, u1);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->cout, nk, ncol,
                    1.0f, dout + (size_t)oy0 * g->ow, (int)ohw, work, ncol, 1.0f,
                    dweight + (size_t)u0 * g->k, K);
    }
}

void conv2d_backward_data_channels(float *din, const float *dout, const float *weight,
                                   const ConvGeom *g, float *work, int c0, int c1,
                                   int tile_rows)
{
    const int kk = g->k * g->k, K = g->cin * kk, m = (c1 - c0) * kk;
    const size_t ohw = (size_t)g->oh * g->ow;
    for (int oy0 = 0; oy0 < g->oh; oy0 += tile_rows) {
        int n = g->oh - oy0 < tile_rows ? g->oh - oy0 : tile_rows;
        int ncol = n * g->ow;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, ncol, g->cout,
                    1.0f, weight + (size_t)c0 * kk, K, dout + (size_t)oy0 * g->ow, (int)ohw,
                    0.0f, work, ncol);
        col2im_add_rows(din, work, g, oy0, n, c0, c1);
    }
}

void conv2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                     const float *in, const float *weight, const ConvGeom *g, float *work)
{
    const int K = g->cin * g->k * g->k;
    const size_t ohw = (size_t)g->oh * g->ow;
    conv_bias_backward(dbias, dout, g->cout, ohw);
    if (is_pointwise(g)) {
        if (dweight)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->cout, g->cin, (int)ohw,
                        1.0f, dout, (int)ohw, in, (int)ohw, 1.0f, dweight, g->cin);
        if (din)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->cin, (int)ohw, g->cout,
                        1.0f, weight, g->cin, dout, (int)ohw, 1.0f, din, (int)ohw);
        return;
    }
    int rows = conv_tile_rows((size_t)K * g->ow, g->oh);
    if (dweight)
        conv2d_backward_weight_units(dweight, dout, in, g, work, 0, g->cin * g->k, rows);
    if (din)
        conv2d_backward_data_channels(din, dout, weight, g, work, 0, g->cin, rows);
}

void conv2d_backward_ref(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, const ConvGeom *g)
{
    for (int co = 0; co < g->cout; co++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float d = dout[((size_t)co * g->oh + oy) * g->ow + ox];
                if (dbias)
                    dbias[co] += d;
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
                            size_t ii = ((size_t)ci * g->h + iy) * g->w + ix;
                            size_t wi = (((size_t)co * g->cin + ci) * g->k + ky) * g->k + kx;
                            dweight[wi] += d * in[ii];
                            if (din)
                                din[ii] += d * weight[wi];
                        }
            }
}

/* dout seen as the input of a convolution whose output is in's grid. */
static ConvGeom convt_adjoint(const ConvGeom *g)
{
    ConvGeom a = { .cin = g->cout, .cout = g->cin, .k = g->k, .stride = g->stride,
                   .pad_t = g->pad_t, .pad_l = g->pad_l, .reflect = 0,
                   .h = g->oh, .w = g->ow, .oh = g->h, .ow = g->w };
    return a;
}

void conv_transpose2d_backward_weight_units(float *dweight, const float *dout,
                                            const float *in, const ConvGeom *g,
                                            float *work, int u0, int u1, int tile_rows)
{
    const int M = g->cout * g->k * g->k, nk = (u1 - u0) * g->k;
    const size_t hw = (size_t)g->h * g->w;
    const ConvGeom a = convt_adjoint(g);
    for (int iy0 = 0; iy0 < g->h; iy0 += tile_rows) {
        int n = g->h - iy0 < tile_rows ? g->h - iy0 : tile_rows;
        int ncol = n * g->w;
        im2col_units(work, dout, &a, iy0, n, u0, u1);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->cin, nk, ncol,
                    1.0f, in + (size_t)iy0 * g->w, (int)hw, work, ncol, 1.0f,
                    dweight + (size_t)u0 * g->k, M);
    }
}

void conv_transpose2d_backward_data_rows(float *din, const float *dout, const float *weight,
                                         const ConvGeom *g, float *work, int iy0, int n,
                                         int tile_rows)
{
    const int M = g->cout * g->k * g->k;
    const size_t hw = (size_t)g->h * g->w;
    const ConvGeom a = convt_adjoint(g);
    for (int y = iy0; y < iy0 + n; y += tile_rows) {
        int m = iy0 + n - y < tile_rows ? iy0 + n - y : tile_rows;
        int ncol = m * g->w;
        im2col_rows(work, dout, &a, y, m);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cin, ncol, M,
                    1.0f, weight, M, work, ncol, 1.0f, din + (size_t)y * g->w, (int)hw);
    }
}

void conv_transpose2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                               const float *in, const float *weight, const ConvGeom *g,
                               float *work)
{
    const int M = g->cout * g->k * g->k;
    conv_bias_backward(dbias, dout, g->cout, (size_t)g->oh * g->ow);
    int rows = conv_tile_rows((size_t)M * g->w, g->h);
    if (dweight)
        conv_transpose2d_backward_weight_units(dweight, dout, in, g, work, 0,
                                               g->cout * g->k, rows);
    if (din)
        conv_transpose2d_backward_data_rows(din, dout, weight, g, work, 0, g->h, rows);
}

void conv_transpose2d_backward_ref(float *din, float *dweight, float *dbias,
                                   const float *dout, const float *in, const float *weight,
                                   const ConvGeom *g)
{
    size_t ohw = (size_t)g->oh * g->ow;
    if (dbias)
        for (int co = 0; co < g->cout; co++)
            for (size_t i = 0; i < ohw; i++)
                dbias[co] += dout[co * ohw + i];
    for (int ci = 0; ci < g->cin; ci++)
        for (int iy = 0; iy < g->h; iy++)
            for (int ix = 0; ix < g->w; ix++) {
                size_t ii = ((size_t)ci * g->h + iy) * g->w + ix;
                for (int co = 0; co < g->cout; co++)
                    for (int ky = 0; ky < g->k; ky++)
                        for (int kx = 0; kx < g->k; kx++) {
                            int oy = iy * g->stride + ky - g->pad_t;
                            int ox = ix * g->stride + kx - g->pad_l;
                            if (oy < 0 || oy >= g->oh || ox < 0 || ox >= g->ow)
                                continue;
                            float d = dout[(size_t)co * ohw + (size_t)oy * g->ow + ox];
                            size_t wi = (((size_t)ci * g->cout + co) * g->k + ky) * g->k + kx;
                            dweight[wi] += d * in[ii];
                            if (din)
                                din[ii] += d * weight[wi];
                        }
            }
}
