#!/usr/bin/python3
"""quality.py: four numbers per model on the held-out photos, to put beside
the eye's verdict on a sheet (tools/compare_sheet.py):

  edges   how well the picture keeps the photo's outlines: the correlation
          between the luminance gradient magnitudes of photo and picture,
          both pooled 2x2 (stroke texture finer than that does not count);
          1 = the same edges, 0 = unrelated.
  fine    how busy it is: the share of the picture's luminance variance in
          its finest detail (the picture minus its 2x2-pooled copy); a clean
          painting is low, an even grain laid over everything is high.
  spread  how much the palette follows the photo: the standard deviation,
          across the photos, of each picture's mean colour (0..255, averaged
          over R, G, B); the photos' own figure is printed first. Low means
          every photo comes out the same colour.
  style   (with --style PAINTING) the palette distance to the painting: a
          sliced Wasserstein distance between the picture's and the
          painting's RGB pixels, projected on 7 fixed unit directions (R, G,
          B, grey, three chroma axes), each compared at 32 quantiles (the
          sorted value at index floor((k + 0.5) * n / 32)); the mean absolute
          difference in 0..255 units, averaged over the photos.

The same definitions, in C, are engine/quality.h: `atelier quality MODEL
FOLDER --style PAINTING` prints them as JSON, and the promotion gate of
training jobs judges candidates by them.

Every image goes through `build/atelier stylize --max-size 512`, ml5 folders
after `atelier convert --from ml5`, exactly as compare_sheet.py does.

  tools/quality.py --ours models/starry_night \\
      --ml5 ../shared/models/ml5/wave ../shared/models/ml5/la_muse
"""

import argparse
import os
import sys
import tempfile

import numpy as np
from PIL import Image

from compare_sheet import add_model_args, held_out, resolve_models, stylize


def lum(img):
    a = np.asarray(img, dtype=np.float64)
    return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]


def pool2(x):
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = x[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def grad_mag(x):
    gy, gx = np.gradient(x)
    return np.hypot(gx, gy)


def edges(photo, pic):
    a, b = grad_mag(pool2(lum(photo))), grad_mag(pool2(lum(pic)))
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def fine(pic):
    y = lum(pic)
    p = pool2(y)
    up = np.repeat(np.repeat(p, 2, axis=0), 2, axis=1)
    y = y[:up.shape[0], :up.shape[1]]
    return float(np.var(y - up) / max(np.var(y), 1e-9))


S3, S2, S6 = 1 / np.sqrt(3), 1 / np.sqrt(2), 1 / np.sqrt(6)
DIRS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [S3, S3, S3],
                 [S2, -S2, 0], [S2, 0, -S2], [S6, S6, -2 * S6]])
NQUANT = 32


def quantiles(img):
    px = np.asarray(img, dtype=np.float64).reshape(-1, 3)
    proj = np.sort(px @ DIRS.T, axis=0)
    idx = ((np.arange(NQUANT) + 0.5) * len(px) / NQUANT).astype(np.int64)
    return proj[idx]


def style(pic, painting_q):
    return float(np.abs(quantiles(pic) - painting_q).mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.add_argument("--count", type=int, default=13)
    ap.add_argument("--style", help="the painting, for the style (palette) distance")
    args = ap.parse_args(argv)

    photos = held_out(args.content, args.every, args.count)
    if not photos:
        sys.exit("no photos in %s" % args.content)
    names = list(args.labels or [os.path.basename(os.path.normpath(m)) for m in args.ours])
    names += ["ml5 " + os.path.basename(os.path.normpath(m)) for m in args.ml5]
    with tempfile.TemporaryDirectory() as tmp:
        models = resolve_models(args, tmp)
        srcs, pics = [], [[] for _ in models]
        for k, p in enumerate(photos):
            src = os.path.join(tmp, "src_%d.png" % k)
            Image.open(p).convert("RGB").save(src)
            for j, m in enumerate(models):
                dst = os.path.join(tmp, "out_%d_%d.png" % (k, j))
                stylize(args.atelier, m, src, dst, args.max_size)
                pics[j].append(Image.open(dst).convert("RGB"))
            # The photo at the pictures' size, for the comparisons.
            srcs.append(Image.open(src).convert("RGB").resize(pics[0][-1].size, Image.LANCZOS))

    def spread(imgs):
        means = np.array([np.asarray(i, dtype=np.float64).reshape(-1, 3).mean(0) for i in imgs])
        return float(means.std(0).mean())

    print("%d held-out photos at %d px; photos' own colour spread %.1f"
          % (len(photos), args.max_size, spread(srcs)))
    painting_q = quantiles(Image.open(args.style).convert("RGB")) if args.style else None
    print("%-22s %7s %7s %7s %7s" % ("model", "edges", "fine", "spread", "style"))
    for name, ps in zip(names, pics):
        e = np.mean([edges(s, p.resize(s.size)) for s, p in zip(srcs, ps)])
        f = np.mean([fine(p) for p in ps])
        st = np.mean([style(p, painting_q) for p in ps]) if args.style else float("nan")
        print("%-22s %7.3f %7.3f %7.1f %7.2f" % (name, e, f, spread(ps), st))
    return 0


if __name__ == "__main__":
    sys.exit(main())
