/* server_harness.h: helpers for the HTTP tests: a temporary model
 * repository, the real `atelier serve` as a child process on port 0, a
 * libcurl client, and test images made with the engine's encoders.
 *
 * The repository the harness makes holds:
 *   tnet/v1.safetensors   tests/fixtures/torch/transformer_net.safetensors
 *                         (a narrow random TransformerNet); when the
 *                         fixture is absent, a copy of tiny's v1
 *   tiny/v1, tiny/v2      a 3->3 3x3 convolution + tanh, written here with
 *                         the safetensors writer; CURRENT pins v1;
 *                         card.json beside them
 *   broken/v1             not a safetensors file: fails to load
 * and the server is started with --default-model tnet and --data
 * <root>/data.
 *
 * ATELIER_SERVER_WRAPPER, when set, is a command line the server is run
 * under (tools/valgrind-http.sh sets it to valgrind); its words are split at
 * spaces and put before the binary.
 */
#ifndef ATELIER_SERVER_HARNESS_H
#define ATELIER_SERVER_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct Harness {
    pid_t pid;                /* 0 when not running */
    int port;
    int exit_status;          /* after harness_wait_exit: the status, or -1 */
    char root[256];           /* temporary directory, removed by harness_stop */
    char models[320];
    char log[320];            /* the server's stderr */
    char url[64];             /* "http://127.0.0.1:PORT" */
} Harness;

/* Makes the model repository and starts `$BUILD/atelier serve` (BUILD
 * defaults to "build") with --port 0, a port file, the repository and the
 * extra arguments (NULL-terminated list, may be NULL); waits for the port.
 * Returns 0, or -1 with a message printed. */
int harness_start(Harness *h, const char *const *extra);

/* Starts the server again in h's directory (same repository, --data and
 * log, which grows) after it exited or was killed (harness_wait_exit
 * saw it go). 0, or -1 with a message printed. */
int harness_restart(Harness *h, const char *const *extra);

/* Polls GET /readyz until 200. 0, or -1 after seconds. */
int harness_wait_ready(Harness *h, double seconds);

/* Sends sig to the server. */
void harness_signal(Harness *h, int sig);

/* Waits for the server to exit: its exit status (128+N for signal N), or
 * -1 when it is still running after seconds. */
int harness_wait_exit(Harness *h, double seconds);

/* Stops the server (SIGTERM, then SIGKILL after 30 s) if it still runs and
 * removes the temporary directory. Returns the server's exit status (0
 * after a clean SIGTERM; under AddressSanitizer a leak or error makes it
 * non-zero), printing the log's tail when it is not 0. */
int harness_stop(Harness *h);

/* The server's log so far, a new string (caller frees), or NULL. */
char *harness_log_text(const Harness *h);

/* How many lines of the server's log hold a (and b, unless NULL). */
int harness_log_count(const Harness *h, const char *a, const char *b);

/* Waits until a line of the server's log holds a (and b, unless NULL):
 * 0, or -1 with a message after seconds. */
int harness_wait_log(const Harness *h, const char *a, const char *b, double seconds);
/* Copies the file from to the path to. 0 or -1. */
int harness_copy_file(const char *from, const char *to);

/* Writes the tiny test model (3->3 conv + tanh; seed varies the weights)
 * to path. 0 or -1. */
int harness_write_tiny_model(const char *path, int seed);

typedef struct Reply {
    long status;              /* 0 when the transfer failed */
    uint8_t *body;
    size_t len;
    char *headers;            /* raw header block, NUL-terminated */
    size_t hlen;
    double seconds;
    double uploaded;          /* body bytes curl sent */
    int curl_code;
    char error[256];
} Reply;

typedef struct Part {
    const char *name;
    const void *data;
    size_t len;
    const char *filename;     /* may be NULL */
    const char *type;         /* may be NULL */
} Part;

/* One request to the server. method "GET", "POST", ...; path with query;
 * content_type and body may be NULL; headers a NULL-terminated list of
 * "Name: value" or NULL. Fills r (reply_free it). Returns r->status. */
long harness_request(const Harness *h, const char *method, const char *path,
                     const char *content_type, const void *body, size_t len,
                     const char *const *headers, Reply *r);
/* A multipart/form-data POST of nparts parts. */
long harness_post_form(const Harness *h, const char *path, const Part *parts, int nparts,
                       Reply *r);
/* The same with extra headers (NULL-terminated "Name: value" list). */
long harness_post_form_headers(const Harness *h, const char *path, const Part *parts,
                               int nparts, const char *const *headers, Reply *r);
long harness_get(const Harness *h, const char *path, Reply *r);

/* n identical requests at once over n connections (libcurl multi);
 * replies[0..n) filled as harness_request does. Returns how many got an
 * HTTP answer. */
int harness_post_many(const Harness *h, int n, const char *path, const char *content_type,
                      const void *body, size_t len, Reply *replies);

/* A header's value (first occurrence, name case-insensitive) copied to
 * buf, or NULL when absent. */
const char *reply_header(const Reply *r, const char *name, char *buf, size_t len);
void reply_free(Reply *r);

/* A w x h test picture (gradients and a few shapes) encoded as JPEG or PNG;
 * a new buffer, caller frees. NULL on failure. */
uint8_t *harness_jpeg(int w, int h, int quality, size_t *len);
uint8_t *harness_png(int w, int h, size_t *len);

/* Monotonic seconds. */
double harness_now(void);

#endif
