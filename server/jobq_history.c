/* jobq_history.c: a training job's loss history (jobq_history.h). */
#include "server/jobq_history.h"

#include <stdlib.h>
#include <string.h>

/* Keeps every other point (and every checkpoint) and doubles the stride. */
static void thin(JobHistory *h)
{
    int w = 0;
    h->stride *= 2;
    for (int i = 0; i < h->n; i++)
        if (h->points[i].version > 0 || h->points[i].step % h->stride == 0)
            h->points[w++] = h->points[i];
    h->n = w;
}

static int append(JobHistory *h, const JobPoint *pt)
{
    if (!h->stride)
        h->stride = 1;
    /* A resumed run repeats the steps after its checkpoint: they go. */
    while (h->n && h->points[h->n - 1].step >= pt->step)
        h->n--;
    if (!pt->version && pt->step % h->stride)
        return 0;
    if (h->n >= JOBQ_HISTORY_MAX)
        thin(h);
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 256;
        JobPoint *np = realloc(h->points, (size_t)cap * sizeof *np);
        if (!np)
            return -1;
        h->points = np;
        h->cap = cap;
    }
    h->points[h->n++] = *pt;
    return 0;
}

int history_add(JobHistory *h, const TrainProgress *p)
{
    JobPoint pt = {p->step,         (float)p->elapsed_s, (float)p->d_loss, (float)p->g_adv,
                   (float)p->content, (float)p->style,   (float)p->tv,     p->version};
    return append(h, &pt);
}

json_t *history_json(const JobHistory *h, int64_t since)
{
    json_t *points = json_array(), *cps = json_array();
    for (int i = 0; points && cps && i < h->n; i++) {
        const JobPoint *p = &h->points[i];
        if (p->step <= since)
            continue;
        if (p->version > 0)
            json_array_append_new(cps, json_pack("{s:I, s:i}", "step", (json_int_t)p->step,
                                                 "version", p->version));
        json_array_append_new(points,
                                  json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "step",
                                            (json_int_t)p->step, "elapsed_s", p->elapsed_s, "d",
                                            p->d, "g_adv", p->g_adv, "content", p->content,
                                            "style", p->style, "tv", p->tv));
    }
    if (!points || !cps) {
        json_decref(points);
        json_decref(cps);
        return NULL;
    }
    return json_pack("{s:I, s:o, s:o}", "stride", (json_int_t)(h->stride ? h->stride : 1),
                     "points", points, "checkpoints", cps);
}

static float num(const json_t *o, const char *key)
{
    return (float)json_number_value(json_object_get(o, key));
}

void history_load(JobHistory *h, const json_t *doc)
{
    const json_t *points = json_object_get(doc, "points"), *cps = json_object_get(doc, "checkpoints");
    size_t k = 0, nc = json_array_size(cps);
    for (size_t i = 0; i < json_array_size(points); i++) {
        const json_t *p = json_array_get(points, i);
        JobPoint pt = {json_integer_value(json_object_get(p, "step")), num(p, "elapsed_s"),
                       num(p, "d"), num(p, "g_adv"), num(p, "content"), num(p, "style"),
                       num(p, "tv"), 0};
        /* Both lists ascend; a checkpoint's step is one of the points'. */
        while (k < nc && json_integer_value(json_object_get(json_array_get(cps, k), "step")) <
                             pt.step)
            k++;
        if (k < nc && json_integer_value(json_object_get(json_array_get(cps, k), "step")) ==
                          pt.step)
            pt.version = (int)json_integer_value(json_object_get(json_array_get(cps, k), "version"));
        if (append(h, &pt))
            return;
    }
}

void history_free(JobHistory *h)
{
    free(h->points);
    memset(h, 0, sizeof *h);
}
