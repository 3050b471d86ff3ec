/* rng.h: the training code's random numbers: splitmix64 (Steele et al.,
 * passes BigCrush), a normal by Box-Muller. The state is a plain value owned
 * by its user, so there is no global state to race on. */
#ifndef ATELIER_RNG_H
#define ATELIER_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct Rng { uint64_t s; } Rng;

static inline Rng rng_seed(uint64_t seed)
{
    Rng r = { seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull };
    return r;
}

static inline uint64_t rng_u64(Rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double rng_uniform(Rng *r)
{
    return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n >= 1. */
static inline int rng_int(Rng *r, int n)
{
    return (int)(rng_uniform(r) * n);
}

/* Standard normal (Box-Muller). */
static inline double rng_normal(Rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
