/* jobq_history.h: a training job's loss history, the curve GET
 * /train/{id}/history serves (so a page opened mid-run draws the whole
 * run), bounded: past JOBQ_HISTORY_MAX points every other point is dropped
 * and only every `stride`-th step kept from then on; checkpoint points are
 * always kept. Not thread-safe: jobq.c calls it under its lock.
 */
#ifndef ATELIER_JOBQ_HISTORY_H
#define ATELIER_JOBQ_HISTORY_H

#include <jansson.h>
#include <stdint.h>
#include "engine/train/trainer.h"

#define JOBQ_HISTORY_MAX 20000

typedef struct JobPoint {
    int64_t step;
    float elapsed_s;
    float d, g_adv, content, style, tv;
    int version;                  /* > 0: the checkpoint published here */
} JobPoint;

typedef struct JobHistory {
    JobPoint *points;             /* ascending steps */
    int n, cap;
    int64_t stride;               /* steps between kept points, 1 at first */
} JobHistory;

/* Adds a progress report (version > 0: a checkpoint). A report at or
 * before the last step kept (a resumed run repeats the steps after its
 * checkpoint) replaces the points from there on. 0, or -1 when out of
 * memory (the point is dropped). */
int history_add(JobHistory *h, const TrainProgress *p);

/* {"stride": S, "points": [{step, elapsed_s, d, g_adv, content, style,
 * tv}...], "checkpoints": [{step, version}...]} (a checkpoint's step is
 * also a point), only what came after step `since` (-1: all). New object,
 * NULL when out of memory. */
json_t *history_json(const JobHistory *h, int64_t since);

/* Restores from history_json's output (job folder's history.json); what
 * does not parse is skipped. */
void history_load(JobHistory *h, const json_t *doc);

void history_free(JobHistory *h);

#endif
