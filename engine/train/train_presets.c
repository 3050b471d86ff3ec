/* train_presets.c: the named recipes (train_presets.h). */
#include "engine/train/train_presets.h"

#include <stdlib.h>
#include <string.h>
#include "engine/util.h"

/* Each shipped style's recipe, as its card's command gives it
 * (docs/training.md says what each setting does and why). */
/* The gallery's recipe (docs/style-trials.md, T3 and T4): the v22 terms plus
 * the Gabor filter bank, the content on Gaussian-pooled luminance at 8. The
 * gallery styles were fine-tuned from starry_night (init) in two stages (the
 * v22 content first, then this); the presets are the last stage's settings. */
#define GALLERY(scale)                                                                   \
    { { "blocks", "4" }, { "style_loss", "swd" }, { "style_scale", scale },              \
      { "style_depth", "6" }, { "style_levels", "1,0.5,0.5,1,1,1,1" },                   \
      { "w_content", "40" }, { "content_pool", "8" }, { "content_filter", "gauss" },     \
      { "w_structure", "5" }, { "w_adv", "0.3" }, { "w_gabor", "1" }, { NULL, NULL } }

static const TrainPreset presets[] = {
    { "starry_night",
      "the shipped starry_night: the gallery recipe (Gabor strokes over the v22 terms, "
      "content on Gaussian-pooled luminance), style patches 0.15-0.4 of the painting; "
      "best as a fine-tune (init: starry_night)",
      GALLERY("0.15,0.4") },
    { "the_scream",
      "the shipped the_scream: the gallery recipe with style patches 0.2-0.5 of the "
      "painting (broad bands of colour); best as a fine-tune (init: starry_night)",
      GALLERY("0.2,0.5") },
    { "composition_vii",
      "the shipped composition_vii: the gallery recipe with style patches 0.2-0.5 (many "
      "small saturated shapes); best as a fine-tune (init: starry_night)",
      GALLERY("0.2,0.5") },
    { "woman_with_a_hat",
      "the shipped woman_with_a_hat: the gallery recipe with style patches 0.2-0.5 (loose "
      "patches of bright colour); best as a fine-tune (init: starry_night)",
      GALLERY("0.2,0.5") },
    { "the_kiss",
      "the shipped the_kiss: the v22 terms plus the Gabor bank on v22's box-pooled "
      "content at 4 (the gallery's first stage), style patches 0.2-0.5; best as a "
      "fine-tune (init: starry_night)",
      { { "blocks", "4" }, { "style_loss", "swd" }, { "style_scale", "0.2,0.5" },
        { "style_depth", "6" }, { "style_levels", "1,0.5,0.5,1,1,1,1" },
        { "w_content", "40" }, { "content_pool", "4" }, { "w_structure", "5" },
        { "w_adv", "0.3" }, { "w_gabor", "1" }, { NULL, NULL } } },
    { "palette",
      "v22's recipe, the one proven from scratch (5000 steps): sliced Wasserstein on a "
      "6-stage random extractor, pooled-luminance content plus the structure term, a weak "
      "GAN; keeps the photo, paints the palette and a fine grain",
      { { "blocks", "4" }, { "style_loss", "swd" }, { "style_scale", "0.15,0.4" },
        { "style_depth", "6" }, { "style_levels", "1,0.5,0.5,1,1,1,1" },
        { "w_content", "40" }, { "content_pool", "4" }, { "w_structure", "5" },
        { "w_adv", "0.3" }, { NULL, NULL } } },
};

#define NPRESETS ((int)(sizeof presets / sizeof presets[0]))

const TrainPreset *train_presets(int *n)
{
    *n = NPRESETS;
    return presets;
}

int train_preset_count(const TrainPreset *p)
{
    int k = 0;
    while (k < TRAIN_PRESET_MAX_VALUES && p->values[k].key)
        k++;
    return k;
}

int train_preset_apply(TrainConfig *c, const char *name, TrainProfile p, char *err,
                       size_t errlen)
{
    for (int i = 0; i < NPRESETS; i++) {
        if (strcmp(name, presets[i].name))
            continue;
        for (int k = 0; k < train_preset_count(&presets[i]); k++) {
            const TrainOpt *o = train_opts_find(presets[i].values[k].key);
            /* The table test checks every value; a failure here is a bug. */
            if (!o || train_opts_set_text(c, o, presets[i].values[k].value, p, NULL, 0))
                abort();
        }
        return 0;
    }
    char list[256] = "";
    size_t n = 0;
    for (int i = 0; i < NPRESETS && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", presets[i].name);
    util_errf(err, errlen, "must be one of: %s", list);
    return -1;
}

void train_presets_help(FILE *f)
{
    fputs("Presets (--preset NAME; the settings given beside it override its values):\n", f);
    for (int i = 0; i < NPRESETS; i++) {
        fprintf(f, "  %s: %s\n   ", presets[i].name, presets[i].about);
        for (int k = 0; k < train_preset_count(&presets[i]); k++) {
            char flag[64];
            snprintf(flag, sizeof flag, "%s", presets[i].values[k].key);
            for (char *q = flag; *q; q++)
                if (*q == '_')
                    *q = '-';
            fprintf(f, " --%s %s", flag, presets[i].values[k].value);
        }
        fputc('\n', f);
    }
}
