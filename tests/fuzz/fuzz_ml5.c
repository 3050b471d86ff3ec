/* fuzz_ml5.c: the ml5 importer's manifest.json on hostile text.
 *
 * ml5_import reads a folder; the harness makes one at start-up holding the
 * 48 variable files of the fast-style network (zeros, the right sizes,
 * named as ml5's exporter names them: "variable_N"), then for each input
 * writes it as manifest.json there and imports. A manifest that names
 * files outside the folder, the wrong shapes or the wrong files must be
 * refused; one that matches must import. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/ml5.h"
#include "tests/fuzz/fuzz.h"

static char dir[512], manifest[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* k, cin, cout of each convolution in ml5.c's order; transposed ones
     * are stored (k, k, cout, cin) but the byte count is the same. */
    static const int conv[16][3] = {
        {9, 3, 32}, {3, 32, 64}, {3, 64, 128},
        {3, 128, 128}, {3, 128, 128}, {3, 128, 128}, {3, 128, 128}, {3, 128, 128},
        {3, 128, 128}, {3, 128, 128}, {3, 128, 128}, {3, 128, 128}, {3, 128, 128},
        {3, 128, 64}, {3, 64, 32}, {9, 32, 3}};
    static float zeros[9 * 9 * 128 * 128];
    snprintf(dir, sizeof dir, "%s/ml5", fuzz_tmpdir());
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    if (mkdir(dir, 0700)) {
        perror(dir);
        abort();
    }
    for (int i = 0; i < 16; i++) {
        char path[700];
        size_t nw = (size_t)conv[i][0] * conv[i][0] * conv[i][1] * conv[i][2];
        snprintf(path, sizeof path, "%s/variable_%d", dir, 3 * i);
        fuzz_write(path, zeros, nw * sizeof(float));
        for (int j = 1; j <= 2; j++) {
            snprintf(path, sizeof path, "%s/variable_%d", dir, 3 * i + j);
            fuzz_write(path, zeros, (size_t)conv[i][2] * sizeof(float));
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *buf = NULL;
    size_t len = 0;
    char err[512];
    fuzz_write(manifest, data, size);
    err[0] = '\0';
    if (ml5_import(dir, &buf, &len, err, sizeof err) == 0) {
        if (!buf || len < 8)
            abort();
        free(buf);
    } else if (!err[0] || buf) {
        abort();            /* a refusal says why and leaves nothing */
    }
    return 0;
}
