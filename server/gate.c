/* gate.c: judging a candidate version before promotion (gate.h). */
#include "server/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"
#include "engine/stylize.h"

#define GATE_MIN_HELD 3
#define GATE_HOLDOUT 7

struct Gate {
    GateConfig cfg;
    Image **photos;
    int nphotos;
    int scenes;               /* the synthetic scenes stand in */
    Image *painting;
    QualityPainting target;   /* the painting's palette (painting) and strokes */
    int threads;              /* of the plans that run a candidate */
};

void gate_free(Gate *g)
{
    if (!g)
        return;
    quality_free_images(g->photos, g->nphotos);
    image_free(g->painting);
    free(g);
}

Gate *gate_new(const GateConfig *cfg, int threads, const char *content_dir,
               const char *painting, int train_size, float lo, float hi, char *err,
               size_t errlen)
{
    Gate *g = calloc(1, sizeof *g);
    char e[256];
    int code;
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->cfg = *cfg;
    g->threads = threads;
    if (content_dir && *content_dir)
        g->nphotos = quality_holdout_photos(content_dir, GATE_HOLDOUT, cfg->photos,
                                            2 * cfg->size, &g->photos, e, sizeof e);
    if (g->nphotos < GATE_MIN_HELD) {
        int n = cfg->photos < QUALITY_SCENES ? cfg->photos : QUALITY_SCENES;
        quality_free_images(g->photos, g->nphotos > 0 ? g->nphotos : 0);
        g->nphotos = 0;
        g->scenes = 1;
        if (!(g->photos = calloc((size_t)n, sizeof *g->photos)) ||
            quality_scenes(n, cfg->size * 3 / 2, cfg->size, g->photos)) {
            snprintf(err, errlen, "out of memory");
            gate_free(g);
            return NULL;
        }
        g->nphotos = n;
    }
    if (!(g->painting = image_load_file(painting, (int64_t)1 << 26, &code, e, sizeof e))) {
        snprintf(err, errlen, "the painting %s: %s", painting, e);
        gate_free(g);
        return NULL;
    }
    if (quality_painting_init(&g->target, g->painting, train_size, lo, hi, threads, e,
                              sizeof e)) {
        snprintf(err, errlen, "the painting %s: %s", painting, e);
        gate_free(g);
        return NULL;
    }
    /* The palette's quantiles do not need every pixel of a large painting. */
    if (g->painting->w > 4 * cfg->size || g->painting->h > 4 * cfg->size) {
        int w, h;
        stylize_fit(g->painting->w, g->painting->h, 4 * cfg->size, &w, &h);
        Image *small = image_resize(g->painting, w, h);
        if (small) {
            image_free(g->painting);
            g->painting = small;
        }
    }
    g->target.img = g->painting;
    return g;
}

const char *gate_photos_from(const Gate *g)
{
    return g->scenes ? "synthetic scenes" : "held-out photos";
}

int gate_score(Gate *g, const char *path, QualityScores *out, char *err, size_t errlen)
{
    Net *net = net_load(path, err, errlen);
    int rc;
    if (!net)
        return -1;
    rc = quality_evaluate(net, (const Image *const *)g->photos, g->nphotos, &g->target,
                          g->cfg.size, g->threads, out, err, errlen);
    net_free(net);
    return rc;
}

int gate_judge(const GateConfig *cfg, const QualityScores *cand, const QualityScores *served,
               char *why, size_t whylen)
{
    size_t used = 0;
    double spread = cand->photo_spread > 0 ? cand->spread / cand->photo_spread : 0;
    why[0] = '\0';
#define REASON(...)                                                                          \
    do {                                                                                     \
        if (used < whylen)                                                                   \
            used += (size_t)snprintf(why + used, whylen - used, "%s", used ? "; " : "");     \
        if (used < whylen)                                                                   \
            used += (size_t)snprintf(why + used, whylen - used, __VA_ARGS__);                \
    } while (0)
    if (cand->finite < 1)
        REASON("%.4f%% of the weights are not finite numbers (the training diverged)",
               100 * (1 - cand->finite));
    if (cand->edges < cfg->min_edges)
        REASON("edge correlation %.3f is below %.2f: the photos' structure is lost",
               cand->edges, cfg->min_edges);
    if (spread < cfg->min_spread)
        REASON("colour spread %.1f is %.0f%% of the photos' %.1f, below %.0f%%: the colours "
               "collapse", cand->spread, 100 * spread, cand->photo_spread,
               100 * cfg->min_spread);
    if (served && served->style >= 0 && cand->style > served->style * (1 + cfg->style_slack))
        REASON("style distance %.2f is more than %.0f%% above the served version's %.2f",
               cand->style, 100 * cfg->style_slack, served->style);
    if (served && served->strokes >= 0 && cand->strokes >= 0 &&
        cand->strokes > served->strokes * (1 + cfg->strokes_slack))
        REASON("stroke distance %.3f is more than %.0f%% above the served version's %.3f: "
               "fewer of the painting's strokes", cand->strokes, 100 * cfg->strokes_slack,
               served->strokes);
#undef REASON
    return why[0] == '\0';
}

json_t *gate_json(const Gate *g, const QualityScores *cand, const QualityScores *served,
                  int passed, const char *why)
{
    return json_pack("{s:b, s:s, s:o, s:o, s:s, s:i, s:{s:f, s:f, s:f, s:f}}", "passed",
                     passed, "reasons", why, "scores", quality_json(cand),
                     "served", served ? quality_json(served) : json_null(), "photos",
                     gate_photos_from(g), "count", g->nphotos, "thresholds", "min_edges",
                     g->cfg.min_edges, "min_spread", g->cfg.min_spread, "style_slack",
                     g->cfg.style_slack, "strokes_slack", g->cfg.strokes_slack);
}
