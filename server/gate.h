/* gate.h: the promotion gate of training jobs. Before a candidate version
 * may be served it is run on held-out photos the job never trained on and
 * judged by the numbers of engine/train/quality.h:
 *
 *   finite  every weight is a finite number;
 *   edges   the edge correlation with the photos is at least min_edges;
 *   spread  the spread of mean colour across the pictures is at least
 *           min_spread times the photos' own (no colour collapse);
 *   style   the palette distance to the job's painting is at most the served
 *           version's times (1 + style_slack), when a version is served;
 *   strokes the stroke distance to the job's painting (its Gabor energy
 *           statistics at the job's training scale) is at most the served
 *           version's times (1 + strokes_slack), when a version is served:
 *           a candidate may not fall back to recolouring the photo.
 *
 * mid (new structure at 8-32 pixels) and the photos' own strokes and mid
 * are reported beside them, never judged: more or less mid structure is a
 * look, not a fault.
 *
 * The photos: the held-out photos of the job's content folder by the
 * trainer's rule (every 7th by name), at most `photos` of them, when there
 * are at least 3; else the synthetic scenes of engine/train/quality.h. The
 * painting: the job's first style image. Thresholds are server settings
 * (--gate-*), calibrated in docs/training.md.
 */
#ifndef ATELIER_GATE_H
#define ATELIER_GATE_H

#include <jansson.h>
#include <stddef.h>
#include "engine/train/quality.h"

typedef struct GateConfig {
    double min_edges;         /* 0..1 */
    double min_spread;        /* share of the photos' own spread */
    double style_slack;       /* 0.3: up to 30% farther than the served version */
    double strokes_slack;     /* the same for the stroke distance */
    int photos;               /* at most this many held-out photos */
    int size;                 /* long side they are stylized at */
} GateConfig;

typedef struct Gate Gate;

/* Loads the photos and the painting, and measures the painting's strokes
 * as a job of crop size train_size and style scale lo..hi saw them;
 * candidates are run on `threads` engine threads. NULL with a message in
 * err. Free with gate_free(). */
Gate *gate_new(const GateConfig *cfg, int threads, const char *content_dir,
               const char *painting, int train_size, float lo, float hi, char *err,
               size_t errlen);
void gate_free(Gate *g);      /* accepts NULL */

/* "held-out photos" or "synthetic scenes": what the gate judges on. */
const char *gate_photos_from(const Gate *g);

/* The numbers of the model file at path. 0, or -1 with a message (the file
 * does not load, out of memory). */
int gate_score(Gate *g, const char *path, QualityScores *out, char *err, size_t errlen);

/* 1 when cand passes against served (NULL: nothing served to compare
 * with), else 0 with the reasons, one sentence each, in why. */
int gate_judge(const GateConfig *cfg, const QualityScores *cand, const QualityScores *served,
               char *why, size_t whylen);

/* {"passed", "reasons", "scores": {...}, "served": {...} | null,
 *  "photos", "thresholds"}: what goes into a version's card. New reference. */
json_t *gate_json(const Gate *g, const QualityScores *cand, const QualityScores *served,
                  int passed, const char *why);

#endif
