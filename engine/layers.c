/* layers.c: the element-wise and normalisation layers, forward. */
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
