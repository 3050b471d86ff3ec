/* jobq.h: the training job queue behind /train.
 *
 * A job trains one model (engine/train/trainer.h) from uploaded style images and
 * either uploaded content photos or the server's photo folder. Its state
 * lives in <data>/jobs/<id>/: job.json (written atomically: temporary file,
 * fsync, rename) and the uploads (style/, content/). Each checkpoint the
 * trainer writes is the next version of the model in the repository, as a
 * candidate (engine/repo.h): never served by ?model=NAME until promoted.
 * The promotion gate (gate.h) judges it at once; the job's "promote"
 * decides when a candidate that passed is promoted (CURRENT pins it).
 *
 * States: queued -> running -> succeeded | failed | cancelled. A job is
 * cancelled while queued at once, while running at its next step (it
 * keeps its last checkpoint). When the server stops, or dies, a running
 * job stays "running" on disk; jobq_open puts it back at the head of the
 * queue and it resumes from its last checkpoint with its optimizer state.
 */
#ifndef ATELIER_JOBQ_H
#define ATELIER_JOBQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "server/gate.h"
#include "server/metrics.h"
#include "server/registry.h"

#define JOBQ_ID_LEN 16
#define JOBQ_MAX_FILES 64          /* style or content files per job */

typedef struct Jobq Jobq;

typedef struct JobqConfig {
    const char *data_dir;     /* jobs go to <data_dir>/jobs/ */
    const char *content_dir;  /* photo folder when a job uploads none; "" = none */
    int max_queued;           /* queued jobs before JOBQ_EFULL */
    int runners;              /* jobs running at once */
    int threads;              /* engine threads of a job's networks and its gate
                                 (--engine-threads); its estimate counts them */
    int nice;                 /* nice value of the runner threads */
    int64_t mem_bytes;        /* memory one job may use (estimated at submission) */
    int max_crashes;          /* deaths mid-run before a job is failed, not resumed */
    int retention_s;          /* an ended job is forgotten (folder removed) after this */
    int64_t max_pixels;       /* one uploaded picture, width x height */
    int64_t upload_pixels;    /* all the pictures of one job */
    GateConfig gate;          /* the promotion gate's thresholds */
} JobqConfig;

enum {
    JOBQ_OK = 0,
    JOBQ_EINVAL = -1,         /* a bad config or upload (400), field named */
    JOBQ_ENOENT = -2,         /* no such job */
    JOBQ_EFULL = -3,          /* the queue is full (503) */
    JOBQ_EIO = -4,            /* the job could not be stored */
    JOBQ_ENOMEM = -5,
    JOBQ_ENOSPC = -6,         /* the disk is full: nothing was stored (507) */
    JOBQ_ETOOLARGE = -7,      /* an upload, or all of them, past the pixel limits (413) */
    JOBQ_ECONFLICT = -8       /* the name is a model the job does not fine-tune (409) */
};

/* One uploaded file (borrowed). */
typedef struct JobFile {
    const uint8_t *data;
    size_t len;
} JobFile;

/* Reads every job under <data_dir>/jobs (queued and interrupted jobs are
 * queued again, interrupted ones first), then starts the runner threads.
 * reg is borrowed and must outlive the queue; its folder is where models
 * are written. NULL with a message in err. */
Jobq *jobq_open(const JobqConfig *cfg, Registry *reg, char *err, size_t errlen);

/* Stops the runners: a running job finishes its step, writes a checkpoint
 * and stays resumable. Frees q. Accepts NULL. */
void jobq_close(Jobq *q);

/* Validates config (a JSON object, borrowed) and the uploads, stores the
 * job and queues it. On success writes the id (JOBQ_ID_LEN + 1 bytes) and
 * returns JOBQ_OK; otherwise JOBQ_EINVAL with the offending field in field
 * and a sentence in err, JOBQ_EFULL, JOBQ_EIO, JOBQ_ENOSPC or JOBQ_ENOMEM. */
int jobq_submit(Jobq *q, json_t *config, const JobFile *styles, int nstyles,
                const JobFile *content, int ncontent, char *id, char *field, size_t fieldlen,
                char *err, size_t errlen);

/* A new JSON object describing the job (the TrainJob schema), or NULL with
 * JOBQ_ENOENT / JOBQ_ENOMEM in *code. Caller decrefs. */
json_t *jobq_get(Jobq *q, const char *id, int *code);

/* A new JSON array of every job, newest first. NULL when out of memory. */
json_t *jobq_list(Jobq *q);

/* Cancels the job: at once when queued, at its next step when running;
 * a finished job is left as it is. Returns its description as jobq_get. */
json_t *jobq_cancel(Jobq *q, const char *id, int *code);

/* The preview image (JPEG) of the job's checkpoint `version` (0: its
 * newest), a new buffer, or NULL with JOBQ_ENOENT (no such job, no
 * checkpoint yet, or not one of the job's versions) or JOBQ_ENOMEM. */
uint8_t *jobq_preview(Jobq *q, const char *id, int version, size_t *len, int *code);

/* The job's loss history after step since (-1: all), as history_json in
 * jobq_history.h describes: a new object, or NULL with JOBQ_ENOENT or
 * JOBQ_ENOMEM in *code. */
json_t *jobq_history(Jobq *q, const char *id, int64_t since, int *code);

/* Fills the training fields of g (jobs by state, steps/s, steps, versions). */
void jobq_stats(Jobq *q, MetricsGauges *g);

#endif
