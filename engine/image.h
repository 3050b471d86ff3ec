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

/* By magic bytes: FF D8 FF is JPEG, the 8-byte PNG signature is PNG. */
ImageFormat image_sniff(const void *buf, size_t len);
/* Reads only the header. 0 or an IMG_E* code. A PNG's orientation is 1. */
int image_probe(const void *buf, size_t len, ImageInfo *info);

/* Decodes buf into a new Image (upright), refusing more than max_pixels
 * pixels (w*h) with IMG_ETOOLARGE before allocating. Returns NULL on error
 * with *code set and a message in err. Caller frees with image_free().
 * max_pixels must be > 0 (else IMG_EARG); code and err may be NULL. Data
 * cut short anywhere, even just before the end marker (EOI, IEND), is
 * IMG_ECORRUPT, as is a JPEG libjpeg can only decode with damage. */
Image *image_decode(const void *buf, size_t len, int64_t max_pixels,
                    int *code, char *err, size_t errlen);
/* image_decode() of a whole file; a file over 512 MiB is IMG_ETOOLARGE,
 * one that cannot be opened or read (or is not a regular file) IMG_EIO. */
Image *image_load_file(const char *path, int64_t max_pixels,
                       int *code, char *err, size_t errlen);

Image *image_new(int w, int h);     /* zeroed; NULL on bad size or no memory */
void image_free(Image *img);        /* accepts NULL */

/* Encoders write a new malloc'd buffer to *out (caller frees with free()).
 * quality 1..100. 0 or an IMG_E* code. */
int image_encode_jpeg(const Image *img, int quality, uint8_t **out, size_t *outlen);
int image_encode_png(const Image *img, uint8_t **out, size_t *outlen);
/* Format from the extension (.jpg/.jpeg/.png, any case; another is
 * IMG_EFORMAT); quality is for JPEG and ignored for PNG. 0 or IMG_E*; a
 * failed write removes the partial file. */
int image_save_file(const Image *img, const char *path, int quality);

/* Resamples to w x h with an area-averaging (box) filter when shrinking and
 * bilinear when enlarging, each axis on its own (one may shrink while the
 * other grows). Returns a new Image, or NULL on a size outside 1..65535 or
 * no memory. Scratch memory is two rows, whatever the size. */
Image *image_resize(const Image *img, int w, int h);

/* Planar float conversion: dst is (3, h, w) floats in 0..255. */
void image_to_planar(const Image *img, float *dst);
/* src (3, h, w) floats; values are rounded to nearest (halves up) and
 * clamped to 0..255; NaN becomes 0. */
void image_from_planar(Image *img, const float *src);

#endif
