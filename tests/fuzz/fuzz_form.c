/* fuzz_form.c: the fields of a POST /train form as libmicrohttpd's
 * PostProcessor hands them to routes_form_field: a field's data in pieces
 * (off counting up), an empty field as one call of size 0 whose data may be
 * NULL (issue 15: memcpy from NULL there was undefined behaviour the
 * sanitizer build aborted on), many fields past ROUTES_MAX_PARTS.
 *
 * Input: records of [name length (1 byte, % 20)][name][piece count (1
 * byte, % 8)] then per piece [size (1 byte)][size bytes]; a piece of size
 * 0 is passed with data NULL. Checked: every field kept holds exactly the
 * bytes given for it, in order, under its name cut to the kept length;
 * past ROUTES_MAX_PARTS the overflow flag is set and nothing more is kept;
 * routes_finish frees it all (ASan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Request req;
    size_t at = 0;
    /* What each kept field should hold: its bytes, concatenated. */
    static uint8_t want[ROUTES_MAX_PARTS][4096];
    static size_t want_len[ROUTES_MAX_PARTS];
    int fields = 0;
    memset(&req, 0, sizeof req);
    while (at < size) {
        char name[32];
        size_t nlen = data[at++] % 20, pieces;
        uint64_t off = 0;
        if (at + nlen + 1 > size)
            break;
        memcpy(name, data + at, nlen);
        name[nlen] = '\0';
        at += nlen;
        pieces = data[at++] % 8;
        if (!pieces)
            pieces = 1;       /* a field is at least one call */
        for (size_t k = 0; k < pieces; k++) {
            size_t n = at < size ? data[at++] : 0;
            if (at + n > size)
                n = size - at;
            if (routes_form_field(&req, name, off, n ? (const char *)data + at : NULL, n)) {
                fprintf(stderr, "fuzz_form: out of memory\n");
                abort();
            }
            if (fields < ROUTES_MAX_PARTS && want_len[fields] + n <= sizeof want[0]) {
                memcpy(want[fields] + want_len[fields], data + at, n);
                want_len[fields] += n;
            }
            at += n;
            off += n;
            if (!off)
                break;        /* an empty field is one call of size 0 */
        }
        fields++;
    }
    if ((fields > ROUTES_MAX_PARTS) != (req.parts_overflow != 0))
        abort();
    for (int i = 0; i < req.nparts; i++) {
        const FormPart *p = &req.parts[i];
        if (want_len[i] <= sizeof want[0] &&
            (p->len != want_len[i] || (p->len && memcmp(p->data, want[i], p->len))))
            abort();
    }
    routes_finish(&req);
    memset(want_len, 0, sizeof want_len);
    return 0;
}
