/* cli.h: the atelier subcommands, each `int cmd_X(int argc, char **argv)`
 * with argv[0] the subcommand's name, returning the process exit status. */
#ifndef ATELIER_CLI_H
#define ATELIER_CLI_H

#include "engine/net.h"

int cmd_stylize(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* `atelier healthcheck`: GET /healthz of a running server; exit 0 on 2xx
 * (server/cli/cmd_healthcheck.c). */
int cmd_healthcheck(int argc, char **argv);
/* `atelier serve`: the HTTP service (server/cli/cmd_serve.c). */
int cmd_serve(int argc, char **argv);
int cmd_train(int argc, char **argv);
/* `atelier quality`: the gate's numbers for one model (server/cli/cmd_quality.c). */
int cmd_quality(int argc, char **argv);
/* `atelier bench --train`, called by cmd_bench. */
int cmd_bench_train(int argc, char **argv);

/* The model repository to use: the flag's value, else $ATELIER_MODELS, else
 * the models/ folder that ships beside the binary (../models from build/,
 * or /models in the container image). Returns a static string. */
const char *cli_models_dir(const char *flag);

/* Loads a model given as a .safetensors path, an ml5 checkpoint folder
 * (imported in memory), or a model NAME in the repository (its current
 * version: CURRENT pin, else the highest vN). NULL name = the default model
 * (cli_default_model). On success returns the Net and writes what was loaded
 * to `what` (e.g. "wave/v3"); on failure prints why and returns NULL. */
Net *cli_load_model(const char *models_dir, const char *name, char *what, size_t whatlen);

/* Cores this process may run on (its CPU affinity). */
int cli_cores(void);

/* Parses a whole decimal integer in [lo, hi]; 0 or -1. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);
/* Sorts v[0..n) ascending (n >= 1) and returns its median. */
double cli_median(double *v, long n);

#endif
