/* layers.c: the element-wise and normalisation layers, forward and backward. */
#include <math.h>
#include "engine/layers.h"

void instance_norm_forward(float *x, const float *gamma, const float *beta,
                           float eps, int c, size_t hw, int relu)
{
    for (int i = 0; i < c; i++) {
        float *p = x + (size_t)i * hw;
        double sum = 0.0;
        for (size_t j = 0; j < hw; j++)
            sum += p[j];
        double mean = sum / (double)hw;
        double ss = 0.0;
        for (size_t j = 0; j < hw; j++) {
            double d = p[j] - mean;
            ss += d * d;
        }
        double rstd = 1.0 / sqrt(ss / (double)hw + eps);
        float scale = (float)(rstd * (gamma ? gamma[i] : 1.0f));
        float shift = (float)((beta ? beta[i] : 0.0f) - mean * scale);
        if (relu) {
            for (size_t j = 0; j < hw; j++) {
                float v = p[j] * scale + shift;
                p[j] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (size_t j = 0; j < hw; j++)
                p[j] = p[j] * scale + shift;
        }
    }
}

void relu_forward(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void leaky_relu_forward(float *x, float slope, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

void tanh_forward(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = tanhf(x[i]);
}

void upsample_nearest_forward(float *out, const float *in, int c, int h, int w, int s)
{
    const int ow = w * s;
    for (int i = 0; i < c; i++)
        for (int y = 0; y < h; y++) {
            const float *src = in + ((size_t)i * h + y) * w;
            float *row = out + ((size_t)i * h * s + (size_t)y * s) * ow;
            for (int x = 0; x < w; x++)
                for (int r = 0; r < s; r++)
                    row[x * s + r] = src[x];
            for (int r = 1; r < s; r++)
                for (int x = 0; x < ow; x++)
                    row[(size_t)r * ow + x] = row[x];
        }
}

void add_forward(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* ---- training forward and backward ----------------------------------------
 * Backward functions add into their gradients (llm.c): the caller zeroes
 * them once per step. */

void instance_norm_train_forward(float *out, float *mean, float *rstd, const float *in,
                                 const float *gamma, const float *beta, float eps,
                                 int c, size_t hw, int relu)
{
    for (int i = 0; i < c; i++) {
        const float *p = in + (size_t)i * hw;
        float *q = out + (size_t)i * hw;
        double sum = 0.0;
        for (size_t j = 0; j < hw; j++)
            sum += p[j];
        double m = sum / (double)hw;
        double ss = 0.0;
        for (size_t j = 0; j < hw; j++) {
            double d = p[j] - m;
            ss += d * d;
        }
        double r = 1.0 / sqrt(ss / (double)hw + eps);
        mean[i] = (float)m;
        rstd[i] = (float)r;
        float scale = (float)(r * (gamma ? gamma[i] : 1.0f));
        float shift = (float)((beta ? beta[i] : 0.0f) - m * scale);
        for (size_t j = 0; j < hw; j++) {
            float v = p[j] * scale + shift;
            q[j] = relu && v < 0.0f ? 0.0f : v;
        }
    }
}

void instance_norm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                            const float *in, const float *out, const float *gamma,
                            const float *mean, const float *rstd, int c, size_t hw, int relu)
{
    for (int i = 0; i < c; i++) {
        const float *x = in + (size_t)i * hw, *y = out + (size_t)i * hw;
        const float *dy = dout + (size_t)i * hw;
        float *dx = din + (size_t)i * hw;
        const float m = mean[i], r = rstd[i], gm = gamma ? gamma[i] : 1.0f;
        double sdy = 0.0, sdyx = 0.0;
        for (size_t j = 0; j < hw; j++) {
            float d = relu && y[j] <= 0.0f ? 0.0f : dy[j];
            sdy += d;
            sdyx += (double)d * ((x[j] - m) * r);
        }
        if (dbeta)
            dbeta[i] += (float)sdy;
        if (dgamma)
            dgamma[i] += (float)sdyx;
        /* dx = g*r*(dy - mean(dy) - xhat*mean(dy*xhat)) */
        const float a = gm * r, mdy = (float)(sdy / (double)hw), mdyx = (float)(sdyx / (double)hw);
        for (size_t j = 0; j < hw; j++) {
            float d = relu && y[j] <= 0.0f ? 0.0f : dy[j];
            dx[j] += a * (d - mdy - (x[j] - m) * r * mdyx);
        }
    }
}

void relu_backward(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void leaky_relu_backward(float *din, const float *dout, const float *in, float slope, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] += in[i] > 0.0f ? dout[i] : dout[i] * slope;
}

void tanh_backward(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] += dout[i] * (1.0f - out[i] * out[i]);
}

void upsample_nearest_backward(float *din, const float *dout, int c, int h, int w, int s)
{
    const int ow = w * s;
    for (int i = 0; i < c; i++)
        for (int y = 0; y < h; y++) {
            float *d = din + ((size_t)i * h + y) * w;
            for (int r = 0; r < s; r++) {
                const float *row = dout + ((size_t)i * h * s + (size_t)y * s + r) * ow;
                for (int x = 0; x < w; x++)
                    for (int q = 0; q < s; q++)
                        d[x] += row[x * s + q];
            }
        }
}

void add_backward(float *dx, float *dy, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dx[i] += dout[i];
        dy[i] += dout[i];
    }
}

void affine_forward(float *out, const float *in, float scale, float offset, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] * scale + offset;
}

void affine_backward(float *din, const float *dout, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] += dout[i] * scale;
}

void avg_pool2_forward(float *out, const float *in, int c, int h, int w)
{
    const int oh = h / 2, ow = w / 2;
    for (int i = 0; i < c; i++)
        for (int y = 0; y < oh; y++) {
            const float *r0 = in + ((size_t)i * h + 2 * y) * w, *r1 = r0 + w;
            float *o = out + ((size_t)i * oh + y) * ow;
            for (int x = 0; x < ow; x++)
                o[x] = 0.25f * (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]);
        }
}

void avg_pool2_backward(float *din, const float *dout, int c, int h, int w)
{
    const int oh = h / 2, ow = w / 2;
    for (int i = 0; i < c; i++)
        for (int y = 0; y < oh; y++) {
            float *r0 = din + ((size_t)i * h + 2 * y) * w, *r1 = r0 + w;
            const float *d = dout + ((size_t)i * oh + y) * ow;
            for (int x = 0; x < ow; x++) {
                float g = 0.25f * d[x];
                r0[2 * x] += g;
                r0[2 * x + 1] += g;
                r1[2 * x] += g;
                r1[2 * x + 1] += g;
            }
        }
}
