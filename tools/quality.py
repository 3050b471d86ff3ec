#!/usr/bin/python3
"""quality.py: six numbers per model on the held-out photos, to put beside
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
  strokes (with --style) the stroke distance to the painting: how much
          stroke energy runs in which direction at which scale, against the
          painting's. The luminance (-1..1) at 3 levels of a 2x2-mean
          pyramid goes through the trainer's Gabor bank (engine/train/style_gabor.c:
          8 orientations of an 11x11 pair, sigma 2.5, wavelength 6, even part
          zero-mean, unit norm, reflect padding); at each level and
          orientation the quadrature energy's 32 quantiles are compared
          with the painting's; the mean absolute difference, averaged over
          levels, orientations and photos. The painting is first scaled so
          that a 256-pixel training crop covers the middle of --style-scale
          (default 0.15,0.4, the shipped recipe's) of its shorter side: its
          strokes at the size the trainer showed them. 0 = the painting's
          stroke statistics; a recolouring of the photo keeps the photo's.
  mid     new structure at the scale of strokes and swirls: the share of the
          picture's luminance variance between 4x4- and 16x16-pooled copies
          (structures of 8-32 pixels); the photos' own is printed first.
          (../shared/notes/quality.md's measure.)

The first four, in C, are engine/train/quality.h: `atelier quality MODEL
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


def gabor_bank():
    """(16, 11, 11): the 8 even filters, then the 8 odd ones, as the trainer's."""
    r = np.arange(-5, 6)
    y, x = np.meshgrid(r, r, indexing="ij")
    env = np.exp(-(x * x + y * y) / (2 * 2.5 ** 2))
    even, odd = [], []
    for k in range(8):
        u = x * np.cos(k * np.pi / 8) + y * np.sin(k * np.pi / 8)
        e = env * np.cos(2 * np.pi * u / 6)
        e -= e.mean()
        o = env * np.sin(2 * np.pi * u / 6)
        even.append(e / np.linalg.norm(e))
        odd.append(o / np.linalg.norm(o))
    return np.array(even + odd)


BANK = gabor_bank()
STROKE_LEVELS = 3


def correlate(y, k):
    from scipy.signal import fftconvolve
    p = np.pad(y, 5, mode="reflect")
    return fftconvolve(p, k[::-1, ::-1], mode="valid")


def stroke_quantiles(img):
    """(levels, 8, NQUANT): the energies' quantiles at each level and orientation."""
    y = lum(img) / 127.5 - 1
    out = []
    for level in range(STROKE_LEVELS):
        if level:
            y = pool2(y)
        e = np.array([correlate(y, BANK[k]) for k in range(8)])
        o = np.array([correlate(y, BANK[8 + k]) for k in range(8)])
        en = np.sort(np.sqrt(e * e + o * o + 1e-6).reshape(8, -1), axis=1)
        idx = ((np.arange(NQUANT) + 0.5) * en.shape[1] / NQUANT).astype(np.int64)
        out.append(en[:, idx])
    return np.array(out)


def strokes(pic, painting_sq):
    return float(np.abs(stroke_quantiles(pic) - painting_sq).mean())


def mid(img):
    y = lum(img)
    h, w = y.shape[0] // 16 * 16, y.shape[1] // 16 * 16
    y = y[:h, :w]

    def up_pool(a, k):
        p = a.reshape(h // k, k, w // k, k).mean(axis=(1, 3))
        return np.repeat(np.repeat(p, k, axis=0), k, axis=1)

    return float(np.var(up_pool(y, 4) - up_pool(y, 16)) / max(np.var(y), 1e-9))


def training_scaled(painting, scale):
    """The painting scaled so that a 256 crop covers the middle of scale of its shorter side."""
    lo, hi = (float(v) for v in scale.split(","))
    f = 256.0 / (0.5 * (lo + hi) * min(painting.size))
    return painting.resize((round(painting.size[0] * f), round(painting.size[1] * f)),
                           Image.LANCZOS)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.add_argument("--count", type=int, default=13)
    ap.add_argument("--style", help="the painting, for the style (palette) and stroke distances")
    ap.add_argument("--style-scale", default="0.15,0.4",
                    help="LO,HI: the training patches' sides (fractions of the painting's "
                    "shorter side) the stroke distance scales the painting by")
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
    painting_q = painting_sq = None
    if args.style:
        painting = Image.open(args.style).convert("RGB")
        painting_q = quantiles(painting)
        painting_sq = stroke_quantiles(training_scaled(painting, args.style_scale))
        print("photos' own stroke distance %.4f" % np.mean([strokes(s, painting_sq) for s in srcs]))
    print("photos' own mid %.3f" % np.mean([mid(s) for s in srcs]))
    print("%-22s %7s %7s %7s %7s %7s %7s"
          % ("model", "edges", "fine", "spread", "style", "strokes", "mid"))
    nan = float("nan")
    for name, ps in zip(names, pics):
        e = np.mean([edges(s, p.resize(s.size)) for s, p in zip(srcs, ps)])
        f = np.mean([fine(p) for p in ps])
        st = np.mean([style(p, painting_q) for p in ps]) if args.style else nan
        sk = np.mean([strokes(p, painting_sq) for p in ps]) if args.style else nan
        md = np.mean([mid(p) for p in ps])
        print("%-22s %7.3f %7.3f %7.1f %7.2f %7.4f %7.3f"
              % (name, e, f, spread(ps), st, sk, md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
