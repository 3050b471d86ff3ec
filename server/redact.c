/* redact.c: absolute paths out of what open routes show (redact.h). */
#include "server/redact.h"

#include <stdlib.h>
#include <string.h>

static int separator(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '=' || c == ':' || c == ',' ||
           c == '(' || c == ')' || c == '"' || c == '\'';
}

char *redact_paths(const char *s)
{
    size_t n = strlen(s), w = 0;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (s[i] == '/' && (i == 0 || separator(s[i - 1]))) {
            size_t end = i, last = i;
            while (end < n && !separator(s[end]))
                end++;
            /* the last non-empty component: after the last '/' that has
             * something after it before the end */
            for (size_t k = i; k < end; k++)
                if (s[k] == '/' && k + 1 < end && s[k + 1] != '/')
                    last = k + 1;
            if (last == i)        /* "/" alone or "///": nothing to keep */
                last = end;
            memcpy(out + w, s + last, end - last);
            w += end - last;
            /* a trailing slash of a folder is dropped with the rest */
            while (w > 0 && out[w - 1] == '/' && end - last > 0)
                w--;
            i = end;
        } else {
            out[w++] = s[i++];
        }
    }
    out[w] = '\0';
    return out;
}

void redact_json(json_t *v)
{
    const char *key;
    json_t *x;
    size_t i;
    if (json_is_string(v)) {
        char *r = redact_paths(json_string_value(v));
        if (r && strcmp(r, json_string_value(v)))
            json_string_set(v, r);
        free(r);
    } else if (json_is_object(v)) {
        json_object_foreach(v, key, x) {
            redact_json(x);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            redact_json(x);
        }
    }
}
