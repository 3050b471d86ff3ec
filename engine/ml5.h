/* ml5.h: importing ml5 / TensorFlow fast-style-transfer checkpoint folders.
 *
 * A folder holds manifest.json and 48 raw float32 files (Variable,
 * Variable_1 ... Variable_47) of Logan Engstrom's fast-style-transfer
 * generator, as ml5js/ml5-data-and-models ships them. The importer checks
 * every name, shape and file size, converts TF's HWIO filters to our
 * layouts, and writes a self-describing model (net.h).
 */
#ifndef ATELIER_ML5_H
#define ATELIER_ML5_H

#include <stddef.h>

/* Builds the model in memory: a new safetensors buffer in *buf (caller
 * frees with free()). 0, or -1 with a message in err. */
int ml5_import(const char *dir, void **buf, size_t *len, char *err, size_t errlen);

/* Imports dir and writes out_path atomically. 0, or -1 with a message. */
int ml5_convert(const char *dir, const char *out_path, char *err, size_t errlen);

#endif
