/* winograd.c: F(4x4, 3x3) Winograd convolution (winograd.h).
 *
 * Work is split into tasks of R consecutive rows of 4x4 output tiles. A
 * task, on one thread with its own workspace:
 *   1. input transform  V[e][c][n] = (B^T d B)[e] for the 6x6 input patch d
 *      of tile n (n = row-in-task * ntx + tile column), every channel c;
 *   2. 36 GEMMs         M[e] (cout, N) = U[e] (cout, cin) x V[e] (cin, N);
 *   3. output transform out tile = A^T M[.][co][n] A + bias.
 * Tasks touch disjoint output rows, so there are no barriers inside a layer.
 * The transforms run over all the task's tiles at once with the tile index
 * innermost, so they are plain vector arithmetic on contiguous arrays (the
 * rows are first spread into "phase" arrays S_ij[n] = row_i[4x + j] for
 * tile n = (r, x)); they are compiled for AVX-512 as well as the baseline
 * and picked at run time (gcc target_clones). Tiles of several rows share
 * one vector pass, and a task holds about TASK_COLS tiles whatever the
 * width, so an image 5 pixels wide costs what its pixels cost: padding
 * each row of tiles to the vector length made a 5x8192 image 16 times
 * dearer than 8192x5, and reflecting the padding past the row's end
 * (values no tile reads) took most of the rest (issue 15).
 *
 * Matrices (Lavin and Gray 2015, points 0, 1, -1, 2, -2, inf):
 *   B^T = [4  0 -5  0 1 0; 0 -4 -4  1 1 0; 0 4 -4 -1 1 0;
 *          0 -2 -1  2 1 0; 0  2 -1 -2 1 0; 0 4  0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
 *          1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 */
#include <string.h>
#include <cblas.h>
#include "engine/winograd.h"

#define VL 16              /* tiles per vector step; arrays are padded to it */
#define TASK_COLS 128      /* aim for this many tiles per GEMM */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define WG_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define WG_CLONES
#endif

typedef struct WgDims {
    int ntx, nty;          /* tiles across, tiles down */
    int rows;              /* tile rows per task (or band) */
    size_t ncols;          /* GEMM columns: rows * ntx tiles, packed row after
                            * row, padded to VL (the padding is zeros) */
} WgDims;

static size_t pad_vl(size_t n)
{
    return (n + VL - 1) / VL * VL;
}

static void set_rows(WgDims *d, int rows)
{
    d->rows = rows < 1 ? 1 : rows > d->nty ? d->nty : rows;
    d->ncols = pad_vl((size_t)d->rows * d->ntx);
}

static WgDims wg_dims(const ConvGeom *g)
{
    WgDims d;
    d.ntx = (g->ow + 3) / 4;
    d.nty = (g->oh + 3) / 4;
    set_rows(&d, TASK_COLS / d.ntx);
    return d;
}

static size_t round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

int winograd_applies(const ConvGeom *g)
{
    return g->k == 3 && g->stride == 1 && g->oh >= 1 && g->ow >= 1;
}

size_t winograd_weight_floats(const ConvGeom *g)
{
    return (size_t)36 * g->cout * g->cin;
}

/* The transforms' scratch: line (4*ntx + 2, rounded up), S/O and H/P
 * (36 * ncols each). */
static size_t scratch_floats(const WgDims *d)
{
    return round16((size_t)4 * d->ntx + VL) + (size_t)72 * d->ncols;
}

/* V and M, then the scratch. */
size_t winograd_work_floats(const ConvGeom *g)
{
    WgDims d = wg_dims(g);
    return (size_t)36 * (g->cin + g->cout) * d.ncols + scratch_floats(&d);
}

void winograd_weights(float *u, const float *weight, const ConvGeom *g)
{
    winograd_weights_rows(u, weight, g, 0, g->cout);
}

/* C (36, 9): u[a*6 + b] = sum_k C[a*6 + b][k] w[k] is (G w G^T)[a][b] for a
 * 3x3 kernel w, row-major (k = i*3 + j: C = G[a][i] G[b][j]). */
static void wg_coeffs(float C[36][9])
{
    static const double G[6][3] = {
        { 1.0 / 4, 0, 0 }, { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
        { -1.0 / 6, 1.0 / 6, -1.0 / 6 }, { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
        { 1.0 / 24, -1.0 / 12, 1.0 / 6 }, { 0, 0, 1 }
    };
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    C[a * 6 + b][i * 3 + j] = (float)(G[a][i] * G[b][j]);
}

/* One GEMM: u (36, rows co0..co1 of (cout, cin)) = C (36, 9) x w^T, w seen
 * as (cout*cin, 9). */
void winograd_weights_rows(float *u, const float *weight, const ConvGeom *g, int co0, int co1)
{
    float C[36][9];
    wg_coeffs(C);
    const size_t plane = (size_t)g->cout * g->cin, p0 = (size_t)co0 * g->cin;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 36, (co1 - co0) * g->cin, 9,
                1.0f, &C[0][0], 9, weight + p0 * 9, 9, 0.0f, u + p0, (int)plane);
}

/* o_k = (B^T i)_k for six arrays of n (a multiple of VL) values. */
static inline void bt6(float *restrict o0, float *restrict o1, float *restrict o2,
                       float *restrict o3, float *restrict o4, float *restrict o5,
                       const float *i0, const float *i1, const float *i2,
                       const float *i3, const float *i4, const float *i5, int n)
{
    for (int t0 = 0; t0 < n; t0 += VL)
        for (int k = t0; k < t0 + VL; k++) {
            float a0 = i0[k], a1 = i1[k], a2 = i2[k], a3 = i3[k], a4 = i4[k], a5 = i5[k];
            o0[k] = 4.0f * a0 - 5.0f * a2 + a4;
            o1[k] = -4.0f * (a1 + a2) + a3 + a4;
            o2[k] = 4.0f * (a1 - a2) - a3 + a4;
            o3[k] = 2.0f * (a3 - a1) - a2 + a4;
            o4[k] = 2.0f * (a1 - a3) - a2 + a4;
            o5[k] = 4.0f * a1 - 5.0f * a3 + a5;
        }
}

/* o_k = (A^T m)_k. */
static inline void at4(float *restrict o0, float *restrict o1, float *restrict o2,
                       float *restrict o3, const float *m0, const float *m1,
                       const float *m2, const float *m3, const float *m4,
                       const float *m5, int n)
{
    for (int t0 = 0; t0 < n; t0 += VL)
        for (int k = t0; k < t0 + VL; k++) {
            float s12 = m1[k] + m2[k], d12 = m1[k] - m2[k];
            float s34 = m3[k] + m4[k], d34 = m3[k] - m4[k];
            o0[k] = m0[k] + s12 + s34;
            o1[k] = d12 + 2.0f * d34;
            o2[k] = s12 + 4.0f * s34;
            o3[k] = d12 + 8.0f * d34 + m5[k];
        }
}

/* line[p] = row[p - pad_l] for p in [0, len), zero or reflected outside. */
static void load_line(float *line, const float *row, int w, int pad_l,
                      int reflect, int len)
{
    int lo = pad_l < len ? pad_l : len;                 /* first p inside */
    int hi = pad_l + w < len ? pad_l + w : len;         /* one past the last */
    for (int p = 0; p < lo; p++)
        line[p] = reflect ? row[reflect_index(p - pad_l, w)] : 0.0f;
    if (hi > lo)
        memcpy(line + lo, row + (lo - pad_l), (size_t)(hi - lo) * sizeof(float));
    for (int p = hi > lo ? hi : lo; p < len; p++)
        line[p] = reflect ? row[reflect_index(p - pad_l, w)] : 0.0f;
}

/* S[(i*nj + j)*n + r*ntx + x] = line_i(r)[4x + j] for the rows' lines; the
 * columns past rows * ntx are zeros. */
static void spread(float *S, const float *line, int i, int nj, int r, const WgDims *d, size_t n)
{
    for (int j = 0; j < nj; j++) {
        float *s = S + ((size_t)i * nj + j) * n + (size_t)r * d->ntx;
        for (int x = 0; x < d->ntx; x++)
            s[x] = line[4 * x + j];
    }
}

static void zero_tail(float *S, int arrays, size_t used, size_t n)
{
    for (int k = 0; k < arrays; k++)
        memset(S + (size_t)k * n + used, 0, (n - used) * sizeof(float));
}

/* Input transform of channel c for tile rows ty0..ty0+nrows into columns
 * 0..pad_vl(nrows * ntx) of V (36, cin, ncols). */
WG_CLONES
static void input_tiles(float *V, const float *in, const ConvGeom *g, const WgDims *d,
                        int c, int ty0, int nrows, float *line, float *S, float *H)
{
    const size_t used = (size_t)nrows * d->ntx, n = pad_vl(used);
    const int len = 4 * d->ntx + 2;      /* what the tiles read */
    const float *plane = in + (size_t)c * g->h * g->w;
    for (int r = 0; r < nrows; r++)
        for (int i = 0; i < 6; i++) {
            int iy = 4 * (ty0 + r) - g->pad_t + i;
            if (iy < 0 || iy >= g->h) {
                if (!g->reflect) {
                    for (int j = 0; j < 6; j++)
                        memset(S + ((size_t)i * 6 + j) * n + (size_t)r * d->ntx, 0,
                               (size_t)d->ntx * sizeof(float));
                    continue;
                }
                iy = reflect_index(iy, g->h);
            }
            load_line(line, plane + (size_t)iy * g->w, g->w, g->pad_l, g->reflect, len);
            spread(S, line, i, 6, r, d, n);
        }
    zero_tail(S, 36, used, n);
    /* H[i][b] = (B^T S[i][.])_b along each input row, then V[a][b] down. */
    for (int i = 0; i < 6; i++) {
        float *Hi = H + (size_t)i * 6 * n;
        const float *Si = S + (size_t)i * 6 * n;
        bt6(Hi, Hi + n, Hi + 2 * n, Hi + 3 * n, Hi + 4 * n, Hi + 5 * n,
            Si, Si + n, Si + 2 * n, Si + 3 * n, Si + 4 * n, Si + 5 * n, (int)n);
    }
    const size_t es = (size_t)g->cin * d->ncols, rs = (size_t)6 * n;
    float *v = V + (size_t)c * d->ncols;
    for (int j = 0; j < 6; j++) {
        const float *h = H + (size_t)j * n;
        bt6(v + (0 * 6 + j) * es, v + (1 * 6 + j) * es, v + (2 * 6 + j) * es,
            v + (3 * 6 + j) * es, v + (4 * 6 + j) * es, v + (5 * 6 + j) * es,
            h, h + rs, h + 2 * rs, h + 3 * rs, h + 4 * rs, h + 5 * rs, (int)n);
    }
}

/* Output transform of channel co for tile rows ty0..ty0+nrows from columns
 * 0.. of M (36, cout, ncols). */
WG_CLONES
static void output_tiles(float *out, const float *M, const ConvGeom *g, const WgDims *d,
                         int co, int ty0, int nrows, float bias, float *P, float *O)
{
    const size_t n = pad_vl((size_t)nrows * d->ntx);
    const size_t es = (size_t)g->cout * d->ncols;
    const float *m = M + (size_t)co * d->ncols;
    for (int b = 0; b < 6; b++) {
        float *p = P + (size_t)b * n;          /* P[a][b] at (a*6 + b) * n */
        at4(p, p + 6 * n, p + 12 * n, p + 18 * n,
            m + (0 * 6 + b) * es, m + (1 * 6 + b) * es, m + (2 * 6 + b) * es,
            m + (3 * 6 + b) * es, m + (4 * 6 + b) * es, m + (5 * 6 + b) * es, (int)n);
    }
    float *dst = out + (size_t)co * g->oh * g->ow;
    const int full = g->ow / 4;
    for (int a = 0; a < 4; a++) {
        const float *p = P + (size_t)a * 6 * n;
        at4(O, O + n, O + 2 * n, O + 3 * n, p, p + n, p + 2 * n, p + 3 * n,
            p + 4 * n, p + 5 * n, (int)n);
        for (int r = 0; r < nrows; r++) {
            int oy = 4 * (ty0 + r) + a;
            if (oy >= g->oh)
                break;
            float *row = dst + (size_t)oy * g->ow;
            const float *o = O + (size_t)r * d->ntx;
            for (int t = 0; t < full; t++)
                for (int c = 0; c < 4; c++)
                    row[4 * t + c] = o[(size_t)c * n + t] + bias;
            for (int x = 4 * full; x < g->ow; x++)
                row[x] = o[(size_t)(x & 3) * n + (x >> 2)] + bias;
        }
    }
}

typedef struct WgJob {
    float *out;
    const float *in, *u, *bias;
    const ConvGeom *g;
    WgDims d;
    float *work;
    size_t work_stride;
} WgJob;

/* The scratch of one thread after its V and M (if any): line, then S
 * (also O), then H (also P). */
static float *scratch_s(float *line, const WgDims *d)
{
    return line + round16((size_t)4 * d->ntx + VL);
}

static void wg_task(void *ctx, int task, int thread)
{
    const WgJob *j = ctx;
    const ConvGeom *g = j->g;
    const WgDims *d = &j->d;
    int ty0 = task * d->rows;
    int nrows = d->nty - ty0 < d->rows ? d->nty - ty0 : d->rows;
    float *V = j->work + (size_t)thread * j->work_stride;
    float *M = V + (size_t)36 * g->cin * d->ncols;
    float *line = M + (size_t)36 * g->cout * d->ncols;
    float *S = scratch_s(line, d), *H = S + (size_t)36 * d->ncols;
    for (int c = 0; c < g->cin; c++)
        input_tiles(V, j->in, g, d, c, ty0, nrows, line, S, H);
    const int ncol = (int)pad_vl((size_t)nrows * d->ntx);
    const size_t plane = (size_t)g->cout * g->cin;
    for (int e = 0; e < 36; e++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, ncol, g->cin,
                    1.0f, j->u + e * plane, g->cin,
                    V + (size_t)e * g->cin * d->ncols, (int)d->ncols, 0.0f,
                    M + (size_t)e * g->cout * d->ncols, (int)d->ncols);
    for (int co = 0; co < g->cout; co++)
        output_tiles(j->out, M, g, d, co, ty0, nrows, j->bias ? j->bias[co] : 0.0f, H, S);
}

void winograd_conv3x3_forward(float *out, const float *in, const float *u,
                              const float *bias, const ConvGeom *g,
                              float *work, size_t work_stride, ThreadPool *tp)
{
    WgJob j = { out, in, u, bias, g, wg_dims(g), work, work_stride };
    /* At least two tasks per thread when there are rows enough, so a thread
     * that is descheduled for a while does not hold the layer up. */
    int per = (j.d.nty + 2 * threadpool_size(tp) - 1) / (2 * threadpool_size(tp));
    if (j.d.rows > per)
        set_rows(&j.d, per);
    int ntasks = (j.d.nty + j.d.rows - 1) / j.d.rows;
    threadpool_run(tp, wg_task, &j, ntasks);
}

/* ---- weight gradient --------------------------------------------------------
 * The forward is y_t = A^T (U . V_t) A per tile t, U = G w G^T, so for an
 * output gradient dy the weight gradient is G^T dU G with
 *   dU = sum_t (A dy_t A^T) . V_t,
 * dy_t the 4x4 tile of dy (zero past the output). Per band of tile rows:
 * the input transform V (36, cin, cols) as in the forward and Y (36, cout,
 * cols) of dy, then 36 GEMMs dU[e] (cout, cin) += Y[e] V[e]^T over the
 * band's tiles; at the end dweight += dU folded by C^T (one GEMM). */

#define WGRAD_TARGET_FLOATS ((size_t)4 << 20)

/* o_k = (A i)_k: six values from four (A = (A^T)^T, the rows above). */
static inline void a6(float *restrict o0, float *restrict o1, float *restrict o2,
                      float *restrict o3, float *restrict o4, float *restrict o5,
                      const float *i0, const float *i1, const float *i2, const float *i3,
                      int n)
{
    for (int t0 = 0; t0 < n; t0 += VL)
        for (int k = t0; k < t0 + VL; k++) {
            float v0 = i0[k], v1 = i1[k], v2 = i2[k], v3 = i3[k];
            float s02 = v0 + v2, s13 = v1 + v3;
            float p = v0 + 4.0f * v2, q = 2.0f * v1 + 8.0f * v3;
            o0[k] = v0;
            o1[k] = s02 + s13;
            o2[k] = s02 - s13;
            o3[k] = p + q;
            o4[k] = p - q;
            o5[k] = v3;
        }
}

/* Transform of output-gradient channel co for tile rows ty0..ty0+nrows
 * into columns 0.. of Y (36, cout, ncols). */
WG_CLONES
static void dout_tiles(float *Y, const float *dy, const ConvGeom *g, const WgDims *d,
                       int co, int ty0, int nrows, float *line, float *S, float *H)
{
    const size_t used = (size_t)nrows * d->ntx, n = pad_vl(used);
    const float *plane = dy + (size_t)co * g->oh * g->ow;
    for (int r = 0; r < nrows; r++)
        for (int i = 0; i < 4; i++) {
            int oy = 4 * (ty0 + r) + i;
            if (oy >= g->oh) {
                for (int j = 0; j < 4; j++)
                    memset(S + ((size_t)i * 4 + j) * n + (size_t)r * d->ntx, 0,
                           (size_t)d->ntx * sizeof(float));
                continue;
            }
            memcpy(line, plane + (size_t)oy * g->ow, (size_t)g->ow * sizeof(float));
            memset(line + g->ow, 0, (size_t)(4 * d->ntx - g->ow) * sizeof(float));
            spread(S, line, i, 4, r, d, n);
        }
    zero_tail(S, 16, used, n);
    for (int i = 0; i < 4; i++) {
        float *Hi = H + (size_t)i * 6 * n;
        const float *Si = S + (size_t)i * 4 * n;
        a6(Hi, Hi + n, Hi + 2 * n, Hi + 3 * n, Hi + 4 * n, Hi + 5 * n, Si, Si + n, Si + 2 * n,
           Si + 3 * n, (int)n);
    }
    const size_t es = (size_t)g->cout * d->ncols, rs = (size_t)6 * n;
    float *y = Y + (size_t)co * d->ncols;
    for (int b = 0; b < 6; b++) {
        const float *h = H + (size_t)b * n;
        a6(y + (0 * 6 + b) * es, y + (1 * 6 + b) * es, y + (2 * 6 + b) * es,
           y + (3 * 6 + b) * es, y + (4 * 6 + b) * es, y + (5 * 6 + b) * es,
           h, h + rs, h + 2 * rs, h + 3 * rs, (int)n);
    }
}

/* Bands of tile rows whose V and Y fit WGRAD_TARGET_FLOATS, evened out. */
static WgDims wgrad_dims(const ConvGeom *g)
{
    WgDims d = wg_dims(g);
    size_t per_row = (size_t)36 * (g->cin + g->cout) * d.ntx;
    size_t rows = WGRAD_TARGET_FLOATS / (per_row ? per_row : 1);
    if (rows < 1)
        rows = 1;
    if (rows > (size_t)d.nty)
        rows = (size_t)d.nty;
    int bands = (d.nty + (int)rows - 1) / (int)rows;
    set_rows(&d, (d.nty + bands - 1) / bands);
    return d;
}

size_t winograd_wgrad_work_floats(const ConvGeom *g)
{
    WgDims d = wgrad_dims(g);
    return scratch_floats(&d);
}

size_t winograd_wgrad_shared_floats(const ConvGeom *g)
{
    WgDims d = wgrad_dims(g);
    return (size_t)36 * (g->cin + g->cout) * d.ncols + (size_t)36 * g->cout * g->cin;
}

typedef struct WgGradJob {
    float *dweight, *V, *Y, *dU;
    const float *dout, *in;
    const ConvGeom *g;
    WgDims d;
    int ty0, nrows, first, ntasks;
    float *work;
    size_t work_stride;
} WgGradJob;

static void wgrad_transform_task(void *ctx, int c, int thread)
{
    const WgGradJob *j = ctx;
    const WgDims *d = &j->d;
    float *line = j->work + (size_t)thread * j->work_stride;
    float *S = scratch_s(line, d), *H = S + (size_t)36 * d->ncols;
    if (c < j->g->cin)
        input_tiles(j->V, j->in, j->g, d, c, j->ty0, j->nrows, line, S, H);
    else
        dout_tiles(j->Y, j->dout, j->g, d, c - j->g->cin, j->ty0, j->nrows, line, S, H);
}

static void wgrad_gemm_task(void *ctx, int e, int thread)
{
    const WgGradJob *j = ctx;
    const ConvGeom *g = j->g;
    (void)thread;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->cout, g->cin, j->nrows * j->d.ntx,
                1.0f, j->Y + (size_t)e * g->cout * j->d.ncols, (int)j->d.ncols,
                j->V + (size_t)e * g->cin * j->d.ncols, (int)j->d.ncols,
                j->first ? 0.0f : 1.0f, j->dU + (size_t)e * g->cout * g->cin, g->cin);
}

static void wgrad_fold_task(void *ctx, int t, int thread)
{
    const WgGradJob *j = ctx;
    const ConvGeom *g = j->g;
    (void)thread;
    int co0 = (int)((long long)t * g->cout / j->ntasks);
    int co1 = (int)((long long)(t + 1) * g->cout / j->ntasks);
    if (co1 <= co0)
        return;
    float C[36][9];
    wg_coeffs(C);
    const size_t plane = (size_t)g->cout * g->cin, p0 = (size_t)co0 * g->cin;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (co1 - co0) * g->cin, 9, 36,
                1.0f, j->dU + p0, (int)plane, &C[0][0], 9, 1.0f, j->dweight + p0 * 9, 9);
}

void winograd_conv3x3_weight_grad(float *dweight, const float *dout, const float *in,
                                  const ConvGeom *g, float *shared, float *work,
                                  size_t work_stride, ThreadPool *tp)
{
    WgGradJob j = { .dweight = dweight, .dout = dout, .in = in, .g = g, .d = wgrad_dims(g),
                    .work = work, .work_stride = work_stride, .first = 1 };
    j.V = shared;
    j.Y = j.V + (size_t)36 * g->cin * j.d.ncols;
    j.dU = j.Y + (size_t)36 * g->cout * j.d.ncols;
    for (j.ty0 = 0; j.ty0 < j.d.nty; j.ty0 += j.d.rows) {
        j.nrows = j.d.nty - j.ty0 < j.d.rows ? j.d.nty - j.ty0 : j.d.rows;
        threadpool_run(tp, wgrad_transform_task, &j, g->cin + g->cout);
        threadpool_run(tp, wgrad_gemm_task, &j, 36);
        j.first = 0;
    }
    j.ntasks = 2 * threadpool_size(tp);
    if (j.ntasks > g->cout)
        j.ntasks = g->cout;
    threadpool_run(tp, wgrad_fold_task, &j, j.ntasks);
}

/* ---- forward in wide bands ---------------------------------------------------
 * Per band (wgrad_dims): the input transform by channel, the 36 GEMMs one
 * per task, the output transform by channel. Each GEMM packs its U[e]
 * once per band instead of once per small task. */

size_t winograd_wide_shared_floats(const ConvGeom *g)
{
    WgDims d = wgrad_dims(g);
    return (size_t)36 * (g->cin + g->cout) * d.ncols;
}

typedef struct WgWideJob {
    float *out, *V, *M;
    const float *in, *u, *bias;
    const ConvGeom *g;
    WgDims d;
    int ty0, nrows;
    float *work;
    size_t work_stride;
} WgWideJob;

static void wide_input_task(void *ctx, int c, int thread)
{
    const WgWideJob *j = ctx;
    const WgDims *d = &j->d;
    float *line = j->work + (size_t)thread * j->work_stride;
    float *S = scratch_s(line, d), *H = S + (size_t)36 * d->ncols;
    input_tiles(j->V, j->in, j->g, d, c, j->ty0, j->nrows, line, S, H);
}

static void wide_gemm_task(void *ctx, int e, int thread)
{
    const WgWideJob *j = ctx;
    const ConvGeom *g = j->g;
    (void)thread;
    const int ncol = (int)pad_vl((size_t)j->nrows * j->d.ntx);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, ncol, g->cin,
                1.0f, j->u + (size_t)e * g->cout * g->cin, g->cin,
                j->V + (size_t)e * g->cin * j->d.ncols, (int)j->d.ncols, 0.0f,
                j->M + (size_t)e * g->cout * j->d.ncols, (int)j->d.ncols);
}

static void wide_output_task(void *ctx, int co, int thread)
{
    const WgWideJob *j = ctx;
    const WgDims *d = &j->d;
    float *line = j->work + (size_t)thread * j->work_stride;
    float *O = scratch_s(line, d), *P = O + (size_t)36 * d->ncols;
    output_tiles(j->out, j->M, j->g, d, co, j->ty0, j->nrows, j->bias ? j->bias[co] : 0.0f, P,
                 O);
}

void winograd_conv3x3_forward_wide(float *out, const float *in, const float *u,
                                   const float *bias, const ConvGeom *g, float *shared,
                                   float *work, size_t work_stride, ThreadPool *tp)
{
    WgWideJob j = { .out = out, .in = in, .u = u, .bias = bias, .g = g, .d = wgrad_dims(g),
                    .work = work, .work_stride = work_stride };
    j.V = shared;
    j.M = j.V + (size_t)36 * g->cin * j.d.ncols;
    for (j.ty0 = 0; j.ty0 < j.d.nty; j.ty0 += j.d.rows) {
        j.nrows = j.d.nty - j.ty0 < j.d.rows ? j.d.nty - j.ty0 : j.d.rows;
        threadpool_run(tp, wide_input_task, &j, g->cin);
        threadpool_run(tp, wide_gemm_task, &j, 36);
        threadpool_run(tp, wide_output_task, &j, g->cout);
    }
}
