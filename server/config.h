/* config.h: `atelier serve` settings from flags, ATELIER_* environment
 * variables and defaults, in that order of precedence.
 *
 * Every setting has a flag `--name VALUE` (or `--name=VALUE`) and an
 * environment variable ATELIER_NAME (upper case, '-' as '_'); config_usage()
 * lists them with their defaults and ranges.
 */
#ifndef ATELIER_CONFIG_H
#define ATELIER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONFIG_PATH_MAX 1024
#define CONFIG_TOKEN_MAX 512
#define CONFIG_NAME_MAX 64

typedef struct Config {
    char host[256];                  /* address to bind, numeric or a name */
    int port;                        /* 0 = ephemeral */
    char port_file[CONFIG_PATH_MAX]; /* "" = none; the bound port is written here */
    char models[CONFIG_PATH_MAX];    /* model repository */
    char data[CONFIG_PATH_MAX];      /* job state (training, later issue) */
    int workers;                     /* inference worker threads */
    int engine_threads;              /* cores one forward pass may use */
    int queue;                       /* waiting jobs before 503 */
    int64_t max_body_bytes;          /* from --max-body-mb */
    int64_t max_pixels;              /* decoded image limit (w*h) */
    int64_t mem_budget_bytes;        /* per worker: plans and buffers */
    int64_t body_budget_bytes;       /* all request bodies in flight; auto resolved */
    int timeout_s;                   /* idle connection timeout */
    int header_timeout_s;            /* a request head must arrive within this */
    int min_upload_kbps;             /* slowest body average, KiB/s; 0 = none */
    int per_ip_limit;                /* connections per client address */
    int max_connections;             /* connections in all */
    int drain_s;                     /* graceful shutdown deadline */
    char cors_origin[1024];          /* "" = no CORS; "*" or a comma list */
    char default_model[CONFIG_NAME_MAX + 1]; /* "" = DEFAULT file, else the only model */
    char token[CONFIG_TOKEN_MAX];    /* "" = management API disabled */
    int rescan_ms;                   /* repository rescan period, 0 = inotify only */
    char content[CONFIG_PATH_MAX];   /* photo folder for training jobs, "" = none */
    int train_queue;                 /* training jobs waiting before 503 */
    int train_jobs;                  /* training jobs running at once */
    int train_nice;                  /* nice value of training threads */
    int64_t train_mem_bytes;         /* one job's estimated memory; auto resolved */
    int train_max_crashes;           /* deaths under a job before it is failed */
    int train_retention_s;           /* ended jobs are listed this long */
    int train_upload_mpixels;        /* all pictures of a job, millions of pixels */
    int ui;                          /* 1: the studio at "/" (web.h) */
    int gate_min_edges;              /* promotion gate thresholds, percent */
    int gate_min_spread;
    int gate_style_slack;
    int gate_strokes_slack;
    int gate_photos, gate_size;      /* held-out photos judged, and their long side */
} Config;

/* Looks up an environment variable; getenv in the binary, a table in tests. */
typedef const char *(*ConfigEnvFn)(const char *name);

enum { CONFIG_OK = 0, CONFIG_HELP = 1, CONFIG_ERROR = -1 };

/* Fills c from defaults, then env, then argv[1..argc) (argv[0] is the
 * subcommand name and skipped). Returns CONFIG_OK, CONFIG_HELP when --help
 * was given, or CONFIG_ERROR with a one-line message in err naming the flag
 * or variable. A token file is read here; its trailing whitespace is
 * dropped. On error c holds partial settings and must not be used. */
int config_parse(Config *c, int argc, char **argv, ConfigEnvFn env,
                 char *err, size_t errlen);

/* Writes the flag reference to f. */
void config_usage(FILE *f);

#endif
