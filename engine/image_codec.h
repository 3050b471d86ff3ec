/* image_codec.h: the private seam between image_io.c (dispatch,
 * orientation, files), its two codecs, image_jpeg.c and image_png.c, and
 * image.c (the Image type the codecs allocate). Users of the engine include
 * image.h, never this.
 *
 * Every decoder follows the same order: parse the header, call
 * image_check_dims() with the caller's limit, and only then allocate pixels.
 */
#ifndef ATELIER_IMAGE_CODEC_H
#define ATELIER_IMAGE_CODEC_H

#include "engine/image.h"

/* Neither side of an image may exceed this many pixels (libjpeg's own cap
 * is 65500, PNG's is 2^31-1: we keep one rule for both). */
#define IMAGE_MAX_DIM 65535

/* 0 when w x h is a decodable size under max_pixels; otherwise
 * IMG_ECORRUPT (a side <= 0) or IMG_ETOOLARGE (a side above IMAGE_MAX_DIM or
 * w*h above max_pixels), with the reason in err. Never allocates. */
int image_check_dims(int64_t w, int64_t h, int64_t max_pixels,
                     char *err, size_t errlen);

/* A new Image whose px holds w*h*bpp uninitialised bytes (bpp 3 or 4: a
 * codec may decode RGBA into it and pack it down to RGB in place, then
 * shrink it with realloc). NULL on bad size or no memory. */
Image *image_alloc(int w, int h, int bpp);

/* 1 when img is non-NULL, has pixels and sides in 1..IMAGE_MAX_DIM. */
int image_valid(const Image *img);

/* The EXIF orientation (1..8) in one APP1 payload that starts with
 * "Exif\0\0"; 1 when absent, malformed or out of range. Reads only within
 * [p, p+len). */
int image_exif_orientation(const uint8_t *p, size_t len);

/* JPEG header only: fills info (format, stored size, orientation). */
int image_jpeg_probe(const uint8_t *buf, size_t len, ImageInfo *info,
                     char *err, size_t errlen);
/* Decodes as stored (not yet oriented) into a new RGB Image; the EXIF
 * orientation goes to *orientation. NULL with *code and err on failure. */
Image *image_jpeg_decode(const uint8_t *buf, size_t len, int64_t max_pixels,
                         int *orientation, int *code, char *err, size_t errlen);

int image_png_probe(const uint8_t *buf, size_t len, ImageInfo *info,
                    char *err, size_t errlen);
Image *image_png_decode(const uint8_t *buf, size_t len, int64_t max_pixels,
                        int *code, char *err, size_t errlen);

#endif
