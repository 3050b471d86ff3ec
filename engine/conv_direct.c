/* conv_direct.c: direct stride-1 convolution for thin, large-kernel layers
 * (conv_direct.h).
 *
 * A task owns a band of output rows. It copies the input rows the band
 * reads into its workspace, padded left and right (zeros or reflection) and
 * out to a whole number of 32-pixel blocks, so the inner loop has no edge
 * cases. Then for every output row, 32-pixel block and group of up to 3
 * output channels it keeps 3x4 vectors of 8 accumulators in registers (12
 * of the 16 AVX2 registers) and runs over input channels and kernel taps:
 * per tap 4 unaligned loads, one broadcast weight per channel, 12 FMAs.
 * The kernel is written with GCC vector types and compiled twice (x86-64-v4
 * and the x86-64-v3 baseline), picked at run time by target_clones.
 */
#include <string.h>
#include "engine/conv_direct.h"

/* The accumulation must compile to FMAs; ISO C mode turns contraction off. */
#pragma GCC optimize("fp-contract=fast")

#define VW 8                         /* floats per vector (256-bit) */
#define NV 4                         /* vectors per block */
#define BX (NV * VW)                 /* pixels per block */
#define NCO 3                        /* output channels per block */
#define BAND_TARGET_FLOATS ((size_t)1 << 18)
#define MIN_TASKS 8

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define CD_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define CD_CLONES
#endif

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4), may_alias));

typedef struct CdDims {
    int pw;                /* padded row length */
    int rows;              /* output rows per task */
    int band_rows;         /* input rows per task: rows + k - 1 */
} CdDims;

static CdDims cd_dims(const ConvGeom *g)
{
    CdDims d;
    d.pw = (g->ow + BX - 1) / BX * BX + g->k - 1;
    size_t per_row = (size_t)g->cin * d.pw;
    long rows = (long)(BAND_TARGET_FLOATS / per_row) - (g->k - 1);
    long cap = (g->oh + MIN_TASKS - 1) / MIN_TASKS;
    if (rows > cap)
        rows = cap;
    d.rows = rows < 1 ? 1 : (int)rows;
    d.band_rows = d.rows + g->k - 1;
    return d;
}

int conv_direct_applies(const ConvGeom *g)
{
    return g->stride == 1 && g->k >= 5 && (g->cin <= 4 || g->cout <= 4) &&
           g->oh >= 1 && g->ow >= 1;
}

size_t conv_direct_work_floats(const ConvGeom *g)
{
    CdDims d = cd_dims(g);
    return (size_t)g->cin * d.band_rows * d.pw + (size_t)NCO * BX;
}

/* Padded input rows iy0 .. iy0 + band_rows - 1 of every channel. */
static void fill_band(float *band, const float *in, const ConvGeom *g, const CdDims *d,
                      int iy0)
{
    for (int c = 0; c < g->cin; c++)
        for (int r = 0; r < d->band_rows; r++) {
            float *dst = band + ((size_t)c * d->band_rows + r) * d->pw;
            int iy = iy0 + r;
            if (iy < 0 || iy >= g->h) {
                if (!g->reflect) {
                    memset(dst, 0, (size_t)d->pw * sizeof(float));
                    continue;
                }
                iy = reflect_index(iy, g->h);
            }
            const float *src = in + ((size_t)c * g->h + iy) * g->w;
            /* Reflected up to what the outputs read, zeros after. */
            int used = g->ow + g->k - 1 < d->pw ? g->ow + g->k - 1 : d->pw;
            int lo = g->pad_l < used ? g->pad_l : used;
            int hi = g->pad_l + g->w < used ? g->pad_l + g->w : used;
            for (int p = 0; p < lo; p++)
                dst[p] = g->reflect ? src[reflect_index(p - g->pad_l, g->w)] : 0.0f;
            if (hi > lo)
                memcpy(dst + lo, src + (lo - g->pad_l), (size_t)(hi - lo) * sizeof(float));
            for (int p = hi > lo ? hi : lo; p < used; p++)
                dst[p] = g->reflect ? src[reflect_index(p - g->pad_l, g->w)] : 0.0f;
            memset(dst + used, 0, (size_t)(d->pw - used) * sizeof(float));
        }
}

/* One block of nv * VW pixels (nv 1..NV) of nco (1..NCO) output channels
 * co0.. for output row at band row r; nv and nco are constants after
 * inlining. A row's last block, and the only one of a narrow image, takes
 * as few vectors as it needs: an image 5 pixels wide is not charged for 32. */
static inline __attribute__((always_inline)) void
block(float *out, const float *band, const float *weight, const float *bias,
      const ConvGeom *g, const CdDims *d, int co0, const int nco, const int nv, int r, int oy,
      int x0, float *tmp)
{
    const int k = g->k, kk = k * k;
    const size_t cs = (size_t)d->band_rows * d->pw;
    vf acc[NCO][NV];
#pragma GCC unroll 4
    for (int c = 0; c < NCO; c++)
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            acc[c][j] = (vf){ 0 };
    for (int ci = 0; ci < g->cin; ci++) {
        const float *wc[NCO];
#pragma GCC unroll 4
        for (int c = 0; c < nco; c++)
            wc[c] = weight + ((size_t)(co0 + c) * g->cin + ci) * kk;
        for (int ky = 0; ky < k; ky++) {
            const float *row = band + ci * cs + (size_t)(r + ky) * d->pw + x0;
            for (int kx = 0; kx < k; kx++) {
                const float *p = row + kx;
                vf a[NV];
#pragma GCC unroll 4
                for (int j = 0; j < nv; j++)
                    a[j] = *(const vfu *)(p + j * VW);
#pragma GCC unroll 4
                for (int c = 0; c < nco; c++) {
                    float wv = wc[c][ky * k + kx];
#pragma GCC unroll 4
                    for (int j = 0; j < nv; j++)
                        acc[c][j] += wv * a[j];
                }
            }
        }
    }
    const int n = g->ow - x0 < nv * VW ? g->ow - x0 : nv * VW;
#pragma GCC unroll 4
    for (int c = 0; c < nco; c++) {
        float b = bias ? bias[co0 + c] : 0.0f;
        float *dst = out + ((size_t)(co0 + c) * g->oh + oy) * g->ow + x0;
        float *o = n == nv * VW ? dst : tmp;
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            *(vfu *)(o + VW * j) = acc[c][j] + b;
        if (n != nv * VW)
            memcpy(dst, tmp, (size_t)n * sizeof(float));
    }
}

CD_CLONES
static void band_rows(float *out, const float *band, const float *weight,
                      const float *bias, const ConvGeom *g, const CdDims *d,
                      int oy0, int nrows, float *tmp)
{
#define CD_BLOCK(nco, nv) \
    block(out, band, weight, bias, g, d, co, nco, nv, r, oy0 + r, x0, tmp)
#define CD_BLOCKS(nco)                                      \
    switch (nv) {                                           \
    case 1: CD_BLOCK(nco, 1); break;                        \
    case 2: CD_BLOCK(nco, 2); break;                        \
    case 3: CD_BLOCK(nco, 3); break;                        \
    default: CD_BLOCK(nco, NV); break;                      \
    }
    for (int r = 0; r < nrows; r++)
        for (int x0 = 0; x0 < g->ow; x0 += BX) {
            int left = (g->ow - x0 + VW - 1) / VW, nv = left < NV ? left : NV;
            for (int co = 0; co < g->cout; co += NCO) {
                switch (g->cout - co < NCO ? g->cout - co : NCO) {
                case 1: CD_BLOCKS(1); break;
                case 2: CD_BLOCKS(2); break;
                default: CD_BLOCKS(3); break;
                }
            }
        }
#undef CD_BLOCKS
#undef CD_BLOCK
}

typedef struct CdJob {
    float *out;
    const float *in, *w, *b;
    const ConvGeom *g;
    CdDims d;
    float *work;
    size_t work_stride;
} CdJob;

static void cd_task(void *ctx, int t, int thread)
{
    const CdJob *j = ctx;
    const ConvGeom *g = j->g;
    int oy0 = t * j->d.rows;
    int n = g->oh - oy0 < j->d.rows ? g->oh - oy0 : j->d.rows;
    float *band = j->work + (size_t)thread * j->work_stride;
    float *tmp = band + (size_t)g->cin * j->d.band_rows * j->d.pw;
    fill_band(band, j->in, g, &j->d, oy0 - g->pad_t);
    band_rows(j->out, band, j->w, j->b, g, &j->d, oy0, n, tmp);
}

void conv_direct_forward(float *out, const float *in, const float *weight,
                         const float *bias, const ConvGeom *g,
                         float *work, size_t work_stride, ThreadPool *tp)
{
    CdJob j = { out, in, weight, bias, g, cd_dims(g), work, work_stride };
    threadpool_run(tp, cd_task, &j, (g->oh + j.d.rows - 1) / j.d.rows);
}
