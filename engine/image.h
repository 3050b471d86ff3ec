/* image.h: decode, encode, orient, resize and convert 8-bit RGB images.
 *
 * Decoding takes bytes from anywhere (uploads are hostile): the header is
 * read first and the pixel count checked against a limit before any large
 * allocation. JPEG through libjpeg-turbo (baseline, progressive, greyscale,
 * CMYK/YCCK), PNG through libpng (1..16 bit, palette, grey, alpha: alpha is
 * composited on white). The EXIF orientation of a JPEG is applied, so the
 * decoded image is upright.
 */
#ifndef ATELIER_IMAGE_H
#define ATELIER_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct Image {
    int w, h;
    uint8_t *px;            /* h*w*3 bytes, RGB interleaved, row-major, owned */
} Image;

typedef enum ImageFormat { IMG_UNKNOWN = 0, IMG_JPEG, IMG_PNG } ImageFormat;

/* Error codes, negative; each maps to one HTTP status in the server. */
enum {
    IMG_OK = 0,
    IMG_EFORMAT = -1,     /* not a JPEG or PNG (415) */
    IMG_ECORRUPT = -2,    /* truncated or invalid data (422) */
    IMG_ETOOLARGE = -3,   /* pixel count above the limit (413) */
    IMG_ENOMEM = -4,      /* allocation failed (503) */
    IMG_EIO = -5,         /* file could not be read or written */
    IMG_EARG = -6         /* bad argument (quality out of range, ...) */
};

typedef struct ImageInfo {
    ImageFormat format;
    int w, h;               /* as stored, before orientation */
    int orientation;        /* EXIF orientation 1..8 (1 when absent) */
} ImageInfo;

ImageFormat image_sniff(const void *buf, size_t len);
/* Reads only the header. 0 or an IMG_E* code. */
int image_probe(const void *buf, size_t len, ImageInfo *info);

/* Decodes buf into a new Image (upright), refusing more than max_pixels
 * pixels (w*h) with IMG_ETOOLARGE before allocating. Returns NULL on error
 * with *code set and a message in err. Caller frees with image_free(). */
Image *image_decode(const void *buf, size_t len, int64_t max_pixels,
                    int *code, char *err, size_t errlen);
Image *image_load_file(const char *path, int64_t max_pixels,
                       int *code, char *err, size_t errlen);

Image *image_new(int w, int h);     /* zeroed; NULL on bad size or no memory */
void image_free(Image *img);        /* accepts NULL */

/* Encoders write a new malloc'd buffer to *out (caller frees with free()).
 * quality 1..100. 0 or an IMG_E* code. */
int image_encode_jpeg(const Image *img, int quality, uint8_t **out, size_t *outlen);
int image_encode_png(const Image *img, uint8_t **out, size_t *outlen);
/* Format from the extension (.jpg/.jpeg/.png, any case). 0 or IMG_E*. */
int image_save_file(const Image *img, const char *path, int quality);

/* Resamples to w x h with an area-averaging (box) filter when shrinking and
 * bilinear when enlarging. Returns a new Image or NULL. */
Image *image_resize(const Image *img, int w, int h);

/* Planar float conversion: dst is (3, h, w) floats in 0..255. */
void image_to_planar(const Image *img, float *dst);
/* src (3, h, w) floats; values are rounded and clamped to 0..255. */
void image_from_planar(Image *img, const float *src);

#endif
