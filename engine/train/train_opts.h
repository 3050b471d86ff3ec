/* train_opts.h: the one table of training settings. Each row is one
 * setting of TrainConfig: its name (the JSON key of a job's config and of
 * the card; the command-line flag is --name with '-' for '_'), its type and
 * offset, its range, its default, where it may be given and its help. The
 * table drives `atelier train`'s options and --help, a POST /train config
 * (read, stored as job.json and read back after a restart), the card's
 * "config", and the one validation (ranges and the rules between settings),
 * with the server's stricter limits as a profile.
 *
 * Adding a setting: a TrainConfig field, a row in train_opts.c, and its
 * entry in openapi.yaml's TrainConfig (tests/train/test_train_opts.c
 * checks the two list the same keys).
 *
 * Strings set from a JSON object or argv are borrowed from it.
 */
#ifndef ATELIER_TRAIN_OPTS_H
#define ATELIER_TRAIN_OPTS_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include "engine/train/trainer.h"

typedef enum TrainOptType {
    TOPT_INT,       /* int */
    TOPT_I64,       /* int64_t */
    TOPT_U64,       /* uint64_t (JSON: an integer; CLI: any number, truncated) */
    TOPT_FLOAT,     /* float */
    TOPT_FLAG,      /* int: lo when off, hi when on (CLI: a flag; JSON: a boolean) */
    TOPT_ENUM,      /* int: the index of its name in names */
    TOPT_FLOATS,    /* float[], how many given at count_offset (CLI: "a,b,c") */
    TOPT_PAIR,      /* two floats, lo <= hi (CLI: "lo,hi"; JSON: [lo, hi]) */
    TOPT_STRING     /* const char * (job profile: at most job_hi bytes) */
} TrainOptType;

/* Where a setting may be given or appears. */
enum { TOPT_CLI = 1, TOPT_JOB = 2, TOPT_CARD = 4 };

typedef enum TrainProfile {
    TRAIN_PROFILE_CLI,   /* `atelier train` and the trainer's own limits */
    TRAIN_PROFILE_JOB    /* a POST /train config: TOPT_JOB rows, job_lo..job_hi */
} TrainProfile;

typedef struct TrainOpt {
    const char *name;
    TrainOptType type;
    size_t offset;              /* offsetof(TrainConfig, ...) */
    double lo, hi;              /* the range (TOPT_FLOATS: of each; TOPT_FLAG: off, on) */
    double job_lo, job_hi;      /* TRAIN_PROFILE_JOB's range */
    const char *def;            /* default, as the CLI would take it; NULL: derived */
    const char *const *names;   /* TOPT_ENUM, by value, NULL-terminated */
    size_t count_offset;        /* TOPT_FLOATS: int, how many were given (0: default) */
    int max_count;              /* TOPT_FLOATS: capacity */
    int where;                  /* TOPT_CLI | TOPT_JOB | TOPT_CARD */
    const char *arg, *help;     /* --help: the value's name and what it does */
} TrainOpt;

/* The table: *n rows. */
const TrainOpt *train_opts_table(int *n);
/* The row named name ("style_depth"; "style-depth" also matches), or NULL. */
const TrainOpt *train_opts_find(const char *name);

/* Fills c with every default (strings "", paths NULL); the derived ones
 * are settled by train_opts_finish. */
void train_opts_defaults(TrainConfig *c);

/* Sets one row from its command-line text (a TOPT_FLAG from NULL). 0, or
 * -1 with why in err (without the option's name). */
int train_opts_set_text(TrainConfig *c, const TrainOpt *o, const char *text, TrainProfile p,
                        char *err, size_t errlen);

/* Sets the profile's rows present in obj. Keys in skip (a NULL-terminated
 * list, may be NULL) are the caller's; any other unknown key is refused.
 * 0, or -1 with the offending key in field and "<key> <why>" in err. */
int train_opts_from_json(TrainConfig *c, json_t *obj, TrainProfile p,
                         const char *const *skip, char *field, size_t fieldlen,
                         char *err, size_t errlen);

/* Settles the derived defaults (width and blocks by arch, lr_d = lr,
 * checkpoint_every = min(500, steps), style_depth = 6 capped to the
 * deepest the size allows) and checks every row's range for the
 * profile and the rules between rows (size a multiple of 4 and of
 * content_pool, each depth leaving its last stage 2 pixels, as many style
 * levels as the depth has, a job's checkpoints within its steps). 0, or -1
 * with the row at fault in *bad (may be NULL) and "<key> <why>" in err. */
int train_opts_finish(TrainConfig *c, TrainProfile p, const TrainOpt **bad,
                      char *err, size_t errlen);

/* The rows with bit `where` (TOPT_JOB: a job's stored config; TOPT_CARD:
 * the card's) as a new JSON object, or NULL. Floats are written as the
 * shortest decimal that reads back as the same float. */
json_t *train_opts_to_json(const TrainConfig *c, int where);

/* `atelier train --help`'s lines for the TOPT_CLI rows. */
void train_opts_help(FILE *f);

#endif
