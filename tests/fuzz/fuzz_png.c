/* fuzz_png.c: image_probe and image_decode on hostile PNG bytes, then resize of what decoded.
 * The corpus holds PNG seeds; the decoder sniffs the format itself, so
 * the mutator may reach the other format too. */
#include <stdlib.h>

#include "engine/image.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ImageInfo info;
    char err[256];
    int code;
    Image *img;
    if (image_probe(data, size, &info) == 0 &&
        (info.w <= 0 || info.h <= 0 || info.orientation < 1 || info.orientation > 8))
        abort();            /* a probe that succeeds gives a usable header */
    /* 4 Mpx: bombs are refused by the limit, not by running out of memory */
    img = image_decode(data, size, 1 << 22, &code, err, sizeof err);
    if (img) {
        Image *small = image_resize(img, 7, 5);
        if (img->w <= 0 || img->h <= 0 || !img->px)
            abort();
        image_free(small);
    } else if (code >= 0) {
        abort();            /* a failure always says why */
    }
    image_free(img);
    return 0;
}
