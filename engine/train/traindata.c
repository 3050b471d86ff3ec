/* traindata.c: loading and sampling content photos and style images
 * (traindata.h). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include "engine/train/traindata.h"

#define TDATA_MAX_PHOTOS 100000
#define TDATA_MAX_PIXELS ((int64_t)64 << 20)

struct TrainData {
    Image **photos;
    int nphotos;
    Image **held;
    char **held_names;
    int nheld;
    Image **styles;
    int nstyles;
    int size;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return n[0] != '.' && dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                                  !strcasecmp(dot, ".png"));
}

/* Decodes path and scales it so its shorter side is at most max_short. */
static Image *load_scaled(const char *path, int max_short, char *err, size_t errlen)
{
    int code;
    char e[256];
    Image *img = image_load_file(path, TDATA_MAX_PIXELS, &code, e, sizeof(e));
    if (!img) {
        snprintf(err, errlen, "%s: %s", path, e);
        return NULL;
    }
    int s = img->w < img->h ? img->w : img->h;
    if (max_short > 0 && s > max_short) {
        int w = (int)((double)img->w * max_short / s + 0.5);
        int h = (int)((double)img->h * max_short / s + 0.5);
        Image *r = image_resize(img, w < 1 ? 1 : w, h < 1 ? 1 : h);
        image_free(img);
        if (!r)
            snprintf(err, errlen, "%s: out of memory resizing", path);
        return r;
    }
    return img;
}

static void free_images(Image **v, int n)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++)
        image_free(v[i]);
    free(v);
}

void tdata_free(TrainData *d)
{
    if (!d)
        return;
    free_images(d->photos, d->nphotos);
    free_images(d->held, d->nheld);
    free_images(d->styles, d->nstyles);
    if (d->held_names)
        for (int i = 0; i < d->nheld; i++)
            free(d->held_names[i]);
    free(d->held_names);
    free(d);
}

int tdata_list_photos(const char *dir_path, char ***out, char *err, size_t errlen)
{
    char **names = NULL;
    int n = 0, cap = 0;
    DIR *dir = opendir(dir_path);
    struct dirent *de;
    *out = NULL;
    if (!dir) {
        snprintf(err, errlen, "%s: cannot open the content folder", dir_path);
        return -1;
    }
    while ((de = readdir(dir)) && n < TDATA_MAX_PHOTOS) {
        if (!is_image_name(de->d_name))
            continue;
        if (n == cap) {
            char **nn = realloc(names, (size_t)(cap = cap ? 2 * cap : 64) * sizeof(char *));
            if (!nn)
                goto oom;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            goto oom;
        n++;
    }
    closedir(dir);
    if (n == 0) {
        free(names);
        snprintf(err, errlen, "%s: no .jpg or .png photos", dir_path);
        return -1;
    }
    qsort(names, (size_t)n, sizeof(char *), cmp_str);
    *out = names;
    return n;
oom:
    closedir(dir);
    tdata_free_names(names, n);
    snprintf(err, errlen, "out of memory listing %s", dir_path);
    return -1;
}

void tdata_free_names(char **names, int n)
{
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int tdata_held_out(int i, int holdout)
{
    return holdout > 0 && i % holdout == holdout - 1;
}

int tdata_style_short(int size, float lo)
{
    /* lo is a float: 0.32f is 0.3199999; a hair under an integer is it */
    double s = lo > 0 ? ceil(size / (double)lo - 1e-4) : 0;
    return s > 65536 ? 0 : (int)s;
}

int tdata_style_dims(const TrainData *d, int i, int *w, int *h)
{
    if (i < 0 || i >= d->nstyles)
        return -1;
    *w = d->styles[i]->w;
    *h = d->styles[i]->h;
    return 0;
}

TrainData *tdata_load(const char *content_dir, const char *const *styles, int nstyles,
                      int size, int holdout, int style_short, char *err, size_t errlen)
{
    TrainData *d = calloc(1, sizeof(*d));
    char **names = NULL;
    int nnames = 0;
    if (!d)
        goto oom;
    d->size = size;
    if ((nnames = tdata_list_photos(content_dir, &names, err, errlen)) < 0) {
        nnames = 0;
        goto fail;
    }
    d->photos = calloc((size_t)nnames, sizeof(Image *));
    d->held = calloc((size_t)nnames, sizeof(Image *));
    d->held_names = calloc((size_t)nnames, sizeof(char *));
    d->styles = calloc((size_t)(nstyles > 0 ? nstyles : 1), sizeof(Image *));
    if (!d->photos || !d->held || !d->held_names || !d->styles)
        goto oom;
    for (int i = 0; i < nnames; i++) {
        char path[4096];
        if (snprintf(path, sizeof(path), "%s/%s", content_dir, names[i]) >= (int)sizeof(path))
            continue;
        Image *img = load_scaled(path, 2 * size, err, errlen);
        if (!img)
            goto fail;
        if (tdata_held_out(i, holdout)) {
            d->held_names[d->nheld] = names[i];
            names[i] = NULL;
            d->held[d->nheld++] = img;
        } else {
            d->photos[d->nphotos++] = img;
        }
    }
    if (d->nphotos == 0) {
        snprintf(err, errlen, "%s: every photo is held out", content_dir);
        goto fail;
    }
    for (int i = 0; i < nstyles; i++) {
        if (!(d->styles[i] = load_scaled(styles[i], style_short, err, errlen)))
            goto fail;
        d->nstyles++;
    }
    if (d->nstyles == 0) {
        snprintf(err, errlen, "no style image");
        goto fail;
    }
    tdata_free_names(names, nnames);
    return d;
oom:
    snprintf(err, errlen, "out of memory loading the training data");
fail:
    tdata_free_names(names, nnames);
    tdata_free(d);
    return NULL;
}

int tdata_count(const TrainData *d) { return d->nphotos; }
int tdata_holdout_count(const TrainData *d) { return d->nheld; }
const char *tdata_holdout_name(const TrainData *d, int i) { return d->held_names[i]; }

/* Crops (x, y, side) of img, resizes to size x size, writes planar pixels
 * (flipped left-right when flip). */
static int crop_to(const Image *img, int x0, int y0, int side, int size, int flip, float *dst)
{
    Image *c = image_new(side, side);
    if (!c)
        return -1;
    for (int y = 0; y < side; y++)
        memcpy(c->px + (size_t)y * side * 3, img->px + ((size_t)(y0 + y) * img->w + x0) * 3,
               (size_t)side * 3);
    Image *r = side == size ? c : image_resize(c, size, size);
    if (!r) {
        image_free(c);
        return -1;
    }
    image_to_planar(r, dst);
    if (r != c)
        image_free(r);
    image_free(c);
    if (flip)
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < size; y++) {
                float *row = dst + ((size_t)ch * size + y) * size;
                for (int x = 0; x < size / 2; x++) {
                    float t = row[x];
                    row[x] = row[size - 1 - x];
                    row[size - 1 - x] = t;
                }
            }
    return 0;
}

static int random_crop(const Image *img, Rng *r, int lo, int hi, int size, float *dst)
{
    int s = img->w < img->h ? img->w : img->h;
    if (hi > s)
        hi = s;
    if (lo > hi)
        lo = hi;
    int side = lo + rng_int(r, hi - lo + 1);
    int x0 = rng_int(r, img->w - side + 1), y0 = rng_int(r, img->h - side + 1);
    int flip = rng_int(r, 2);
    return crop_to(img, x0, y0, side, size, flip, dst);
}

int tdata_content_batch(const TrainData *d, Rng *r, int b, float *dst)
{
    size_t per = (size_t)3 * d->size * d->size;
    for (int i = 0; i < b; i++) {
        const Image *img = d->photos[rng_int(r, d->nphotos)];
        if (random_crop(img, r, d->size, d->size * 3 / 2, d->size, dst + (size_t)i * per))
            return -1;
    }
    return 0;
}

int tdata_style_batch(const TrainData *d, Rng *r, int b, float lo, float hi, float *dst)
{
    size_t per = (size_t)3 * d->size * d->size;
    for (int i = 0; i < b; i++) {
        const Image *img = d->styles[rng_int(r, d->nstyles)];
        int s = img->w < img->h ? img->w : img->h;
        int a = (int)(lo * s), z = (int)(hi * s);
        if (a < 8)
            a = 8;
        if (random_crop(img, r, a, z, d->size, dst + (size_t)i * per))
            return -1;
    }
    return 0;
}

int tdata_holdout_square(const TrainData *d, int i, int size, float *dst)
{
    if (i < 0 || i >= d->nheld)
        return -1;
    const Image *img = d->held[i];
    int s = img->w < img->h ? img->w : img->h;
    return crop_to(img, (img->w - s) / 2, (img->h - s) / 2, s, size, 0, dst);
}
