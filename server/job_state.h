/* job_state.h: the states of a training job, and their names (job.json,
 * GET /train, the atelier_train_jobs metric). One list, so the job queue
 * (jobq.c) and the metrics (metrics.c) cannot drift apart.
 */
#ifndef ATELIER_JOB_STATE_H
#define ATELIER_JOB_STATE_H

typedef enum JobState {
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_CANCELLED,
    JOB_STATE_COUNT
} JobState;

/* "queued", "running", ...; NULL outside the enum. */
static inline const char *job_state_name(int state)
{
    static const char *const names[JOB_STATE_COUNT] = {"queued", "running", "succeeded",
                                                       "failed", "cancelled"};
    return state >= 0 && state < JOB_STATE_COUNT ? names[state] : NULL;
}

#endif
