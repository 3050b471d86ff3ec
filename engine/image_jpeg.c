/* image_jpeg.c: JPEG decode and encode through libjpeg-turbo, and the EXIF
 * orientation parser.
 *
 * Why the libjpeg API (jpeglib.h) rather than TurboJPEG: TurboJPEG hides
 * the things a hostile-upload decoder needs. With jpeglib we keep the APP1
 * segments (jpeg_save_markers) to read EXIF, see whether an Adobe APP14
 * marker was present (saw_Adobe_marker) to know if CMYK samples are
 * inverted, classify each warning ourselves (emit_message), and cap the
 * number of progressive scans with a progress monitor.
 *
 * Errors: libjpeg's default error_exit() calls exit(). We install an error
 * manager that formats the message and longjmps back to the one setjmp in
 * jpeg_run() / jpeg_encode_run(). Everything those functions allocate hangs
 * off a struct owned by their caller, so nothing relies on a local variable
 * surviving the longjmp.
 *
 * Truncated or damaged data: libjpeg only warns (it pads a short stream with
 * a fake EOI and paints the missing rows grey). We make those warnings
 * errors. "Premature end of JPEG file" is IMG_ECORRUPT "JPEG data is
 * truncated", also for a stream that lacks only its final EOI marker, since
 * jpeg_finish_decompress() reads up to EOI. The corrupt-entropy warnings
 * (bad Huffman or arithmetic code, premature end of segment, lost restart
 * marker, bad progression) are IMG_ECORRUPT too: a half-grey decode is not
 * an image to stylise. Harmless warnings (extraneous bytes before a marker,
 * an unknown JFIF or Adobe revision, a bad ICC chunk) are tolerated, as
 * browsers do.
 *
 * CMYK: libjpeg converts YCCK to CMYK but not CMYK to RGB. Adobe Photoshop
 * writes CMYK and YCCK inverted (255 = no ink) and marks those files with an
 * APP14 "Adobe" segment; so with that marker the samples are read as
 * inverted, without it as plain ink amounts. R = (255-C)(255-K)/255, and
 * likewise G from M and B from Y (naive, no colour management).
 */
#include "engine/image_codec.h"
#include "engine/util.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* A progressive JPEG may carry thousands of tiny scans, each walking the
 * whole coefficient buffer again: a CPU bomb in a few kilobytes. Real files
 * have about ten; libjpeg-turbo's own TJFLAG_LIMITSCANS allows 500. */
#define JPEG_MAX_SCANS 500

typedef struct JpegErr {
    struct jpeg_error_mgr pub;   /* first: libjpeg only sees this part */
    jmp_buf jmp;
    int code;                    /* IMG_E* to return after the longjmp */
    char msg[JMSG_LENGTH_MAX + 64];
} JpegErr;

/* Records code and a message (what, or libjpeg's own text) and unwinds. */
_Noreturn static void jpeg_fail(j_common_ptr cinfo, int code, const char *what)
{
    JpegErr *e = (JpegErr *)cinfo->err;
    char m[JMSG_LENGTH_MAX];

    e->code = code;
    if (what) {
        snprintf(e->msg, sizeof e->msg, "%s", what);
    } else {
        e->pub.format_message(cinfo, m);
        snprintf(e->msg, sizeof e->msg, "JPEG data is corrupt: %s", m);
    }
    longjmp(e->jmp, 1);
}

static void jpeg_on_error(j_common_ptr cinfo)
{
    char m[128];

    switch (cinfo->err->msg_code) {
    case JERR_OUT_OF_MEMORY:
        jpeg_fail(cinfo, IMG_ENOMEM, "out of memory in libjpeg");
    case JERR_IMAGE_TOO_BIG:
        if (cinfo->is_decompressor) {
            j_decompress_ptr d = (j_decompress_ptr)cinfo;

            snprintf(m, sizeof m, "image is %ux%u, more than %ld pixels on a side",
                     d->image_width, d->image_height, JPEG_MAX_DIMENSION);
            jpeg_fail(cinfo, IMG_ETOOLARGE, m);
        }
        jpeg_fail(cinfo, IMG_EARG, NULL);
    default:
        /* An encoder error means we misused libjpeg, not bad data. */
        jpeg_fail(cinfo, cinfo->is_decompressor ? IMG_ECORRUPT : IMG_EARG, NULL);
    }
}

/* level < 0 is a warning, >= 0 trace output (ignored). */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
        jpeg_fail(cinfo, IMG_ECORRUPT, "JPEG data is truncated");
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        jpeg_fail(cinfo, IMG_ECORRUPT, NULL);
    default:
        cinfo->err->num_warnings++;
    }
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
    if (cinfo->is_decompressor &&
        ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS)
        jpeg_fail(cinfo, IMG_ECORRUPT, "JPEG has too many progressive scans");
}

static void jpeg_err_init(JpegErr *e)
{
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jpeg_on_error;
    e->pub.emit_message = jpeg_on_message;
}

/* ---- EXIF ---------------------------------------------------------------
 *
 * An APP1 payload, every offset below relative to the TIFF header T:
 *   payload[0..5]  "Exif\0\0"; T starts at payload + 6
 *   T[0..1]        "II" little-endian or "MM" big-endian, for all that follows
 *   T[2..3]        42
 *   T[4..7]        offset of IFD0
 *   IFD            u16 count, then count entries of 12 bytes:
 *                    u16 tag, u16 type, u32 value count, 4 bytes value or offset
 *                  then a u32 offset of the next IFD (not followed)
 * Orientation is tag 0x0112 in IFD0, type SHORT (3) with one value, stored
 * in the first two bytes of the value field (some writers use LONG, 4).
 * Only IFD0 is read (the next-IFD link is never followed), so a chain of
 * IFDs that loops cannot make this spin; every read is checked against len
 * first.
 */
static uint32_t exif_u16(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8
              : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t exif_u32(const uint8_t *p, int le)
{
    return le ? exif_u16(p, 1) | exif_u16(p + 2, 1) << 16
              : exif_u16(p, 0) << 16 | exif_u16(p + 2, 0);
}

int image_exif_orientation(const uint8_t *p, size_t len)
{
    const uint8_t *t;
    size_t tlen, ifd, n, avail;
    int le;

    if (!p || len < 6 + 8 || memcmp(p, "Exif\0\0", 6) != 0)
        return 1;
    t = p + 6;
    tlen = len - 6;
    if (t[0] == 'I' && t[1] == 'I')
        le = 1;
    else if (t[0] == 'M' && t[1] == 'M')
        le = 0;
    else
        return 1;
    if (exif_u16(t + 2, le) != 42)
        return 1;
    ifd = exif_u32(t + 4, le);
    if (ifd < 8 || ifd > tlen - 2)
        return 1;
    n = exif_u16(t + ifd, le);
    avail = (tlen - ifd - 2) / 12;
    if (n > avail)              /* a short IFD: read the entries that exist */
        n = avail;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = t + ifd + 2 + 12 * i;
        uint32_t type, count, v;

        if (exif_u16(e, le) != 0x0112)
            continue;
        type = exif_u16(e + 2, le);
        count = exif_u32(e + 4, le);
        if (count != 1)
            return 1;
        if (type == 3)
            v = exif_u16(e + 8, le);
        else if (type == 4)
            v = exif_u32(e + 8, le);
        else
            return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* ---- decode -------------------------------------------------------------- */

typedef struct JpegDec {
    struct jpeg_decompress_struct cinfo;
    JpegErr err;
    struct jpeg_progress_mgr progress;
    Image *img;
    uint8_t *row;                /* one CMYK scanline, (w, 4) */
    int orientation;
} JpegDec;

static int jpeg_orientation_of(j_decompress_ptr c)
{
    for (jpeg_saved_marker_ptr m = c->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0)
            return image_exif_orientation(m->data, m->data_length);
    return 1;
}

static void cmyk_to_rgb(const uint8_t *src, uint8_t *dst, int w, int inverted)
{
    for (int x = 0; x < w; x++, src += 4, dst += 3) {
        unsigned c = src[0], m = src[1], y = src[2], k = src[3];

        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        dst[0] = (uint8_t)((c * k + 127) / 255);
        dst[1] = (uint8_t)((m * k + 127) / 255);
        dst[2] = (uint8_t)((y * k + 127) / 255);
    }
}

/* Reads the header (and with header_only clear, the pixels) of buf into d.
 * Returns 0 or an IMG_E* code; a libjpeg failure leaves its message in
 * d->err.msg, a failure of ours writes err directly. */
static int jpeg_run(JpegDec *d, const uint8_t *buf, size_t len,
                    int64_t max_pixels, int header_only, char *err, size_t errlen)
{
    j_decompress_ptr c = &d->cinfo;
    int rc, cmyk, w;

    if (setjmp(d->err.jmp))
        return d->err.code;
    jpeg_create_decompress(c);
    d->progress.progress_monitor = jpeg_on_progress;
    c->progress = &d->progress;
    jpeg_mem_src(c, buf, (unsigned long)len);
    jpeg_save_markers(c, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(c, TRUE);
    d->orientation = jpeg_orientation_of(c);
    rc = image_check_dims(c->image_width, c->image_height,
                          header_only ? INT64_MAX : max_pixels, err, errlen);
    if (rc || header_only)
        return rc;

    cmyk = c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK;
    c->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(c);
    w = (int)c->output_width;
    if (c->output_components != (cmyk ? 4 : 3) ||
        c->output_width != c->image_width || c->output_height != c->image_height)
        jpeg_fail((j_common_ptr)c, IMG_ECORRUPT, "JPEG has an unexpected layout");
    d->img = image_alloc(w, (int)c->output_height, 3);
    if (!d->img || (cmyk && !(d->row = malloc((size_t)w * 4)))) {
        util_errf(err, errlen, "out of memory for a %dx%u image",
                     w, c->output_height);
        return IMG_ENOMEM;
    }
    while (c->output_scanline < c->output_height) {
        uint8_t *dst = d->img->px + (size_t)c->output_scanline * (size_t)w * 3;
        JSAMPROW row = cmyk ? d->row : dst;

        /* With a memory source libjpeg never suspends; 0 rows is damage. */
        if (jpeg_read_scanlines(c, &row, 1) != 1)
            jpeg_fail((j_common_ptr)c, IMG_ECORRUPT, "JPEG data is truncated");
        if (cmyk)
            cmyk_to_rgb(d->row, dst, w, c->saw_Adobe_marker);
    }
    jpeg_finish_decompress(c);
    return 0;
}

static int jpeg_dec(JpegDec *d, const uint8_t *buf, size_t len,
                    int64_t max_pixels, int header_only, char *err, size_t errlen)
{
    int rc;

    memset(d, 0, sizeof *d);
    jpeg_err_init(&d->err);
    d->cinfo.err = &d->err.pub;
    rc = jpeg_run(d, buf, len, max_pixels, header_only, err, errlen);
    if (rc && d->err.msg[0])
        util_errf(err, errlen, "%s", d->err.msg);
    jpeg_destroy_decompress(&d->cinfo);
    free(d->row);
    d->row = NULL;
    if (rc) {
        image_free(d->img);
        d->img = NULL;
    }
    return rc;
}

int image_jpeg_probe(const uint8_t *buf, size_t len, ImageInfo *info,
                     char *err, size_t errlen)
{
    JpegDec d;
    int rc = jpeg_dec(&d, buf, len, INT64_MAX, 1, err, errlen);

    if (rc == 0) {
        info->format = IMG_JPEG;
        info->w = (int)d.cinfo.image_width;
        info->h = (int)d.cinfo.image_height;
        info->orientation = d.orientation;
    }
    return rc;
}

Image *image_jpeg_decode(const uint8_t *buf, size_t len, int64_t max_pixels,
                         int *orientation, int *code, char *err, size_t errlen)
{
    JpegDec d;

    *code = jpeg_dec(&d, buf, len, max_pixels, 0, err, errlen);
    *orientation = *code ? 1 : d.orientation;
    return d.img;
}

/* ---- encode -------------------------------------------------------------- */

/* A destination manager growing one malloc'd buffer (libjpeg-turbo's
 * jpeg_mem_dest leaves a dangling pointer to free when an error unwinds). */
typedef struct JpegDest {
    struct jpeg_destination_mgr pub;
    uint8_t *buf;
    size_t cap;
} JpegDest;

static void dest_init(j_compress_ptr c)
{
    JpegDest *d = (JpegDest *)c->dest;

    d->cap = (size_t)1 << 16;
    d->buf = malloc(d->cap);
    if (!d->buf)
        ERREXIT1(c, JERR_OUT_OF_MEMORY, 0);
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = d->cap;
}

/* Called when the buffer is full (free_in_buffer is then meaningless). */
static boolean dest_grow(j_compress_ptr c)
{
    JpegDest *d = (JpegDest *)c->dest;
    size_t ncap = d->cap * 2;
    uint8_t *nb = ncap > d->cap ? realloc(d->buf, ncap) : NULL;

    if (!nb)
        ERREXIT1(c, JERR_OUT_OF_MEMORY, 1);
    d->buf = nb;
    d->pub.next_output_byte = nb + d->cap;
    d->pub.free_in_buffer = ncap - d->cap;
    d->cap = ncap;
    return TRUE;
}

static void dest_term(j_compress_ptr c)
{
    (void)c;
}

typedef struct JpegEnc {
    struct jpeg_compress_struct cinfo;
    JpegErr err;
    JpegDest dest;
} JpegEnc;

static int jpeg_encode_run(JpegEnc *e, const Image *img, int quality)
{
    j_compress_ptr c = &e->cinfo;

    if (setjmp(e->err.jmp))
        return e->err.code;
    jpeg_create_compress(c);
    e->dest.pub.init_destination = dest_init;
    e->dest.pub.empty_output_buffer = dest_grow;
    e->dest.pub.term_destination = dest_term;
    c->dest = &e->dest.pub;
    c->image_width = (JDIMENSION)img->w;
    c->image_height = (JDIMENSION)img->h;
    c->input_components = 3;
    c->in_color_space = JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality, TRUE);
    /* Defaults subsample chroma 2x2 (4:2:0); at high quality keep it all. */
    if (quality >= 90) {
        c->comp_info[0].h_samp_factor = 1;
        c->comp_info[0].v_samp_factor = 1;
    }
    c->optimize_coding = TRUE;
    jpeg_start_compress(c, TRUE);
    while (c->next_scanline < c->image_height) {
        /* libjpeg takes a non-const row but only reads it. */
        JSAMPROW row = (JSAMPROW)(img->px + (size_t)c->next_scanline * (size_t)img->w * 3);

        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return 0;
}

int image_encode_jpeg(const Image *img, int quality, uint8_t **out, size_t *outlen)
{
    JpegEnc e;
    int rc;

    if (!out || !outlen)
        return IMG_EARG;
    *out = NULL;
    *outlen = 0;
    if (!image_valid(img) || quality < 1 || quality > 100)
        return IMG_EARG;
    memset(&e, 0, sizeof e);
    jpeg_err_init(&e.err);
    e.cinfo.err = &e.err.pub;
    rc = jpeg_encode_run(&e, img, quality);
    jpeg_destroy_compress(&e.cinfo);
    if (rc) {
        free(e.dest.buf);
        return rc;
    }
    *out = e.dest.buf;
    *outlen = e.dest.cap - e.dest.pub.free_in_buffer;
    return 0;
}
