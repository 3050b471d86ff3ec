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
          painting's. The picture is cropped (top left) to sides that are
          multiples of 4 (at least 24); its luminance (-1..1) at 3 levels of
          a 2x2-mean pyramid goes through the trainer's Gabor bank
          (engine/train/style_gabor.c: 8 orientations of an 11x11 pair,
          sigma 2.5, wavelength 6, even part zero-mean, unit norm, reflect
          padding); at each level and orientation the 32 quantiles of the
          quadrature energy sqrt(e^2 + o^2 + 1e-6) are compared with the
          painting's; the mean absolute difference, averaged over levels,
          orientations and photos (those whose picture is at least 24 a
          side). The painting is first resized (as `atelier` resizes: area
          average down, bilinear up; sides rounded
          half up) so that a --train-size (256) crop covers the middle of
          --style-scale (0.15,0.4, the shipped recipe's) of its shorter
          side: its strokes at the size the trainer showed them. 0 = the
          painting's stroke statistics; a recolouring of the photo keeps the
          photo's (printed first).
  mid     new structure at the scale of strokes and swirls: the share of the
          picture's luminance variance between 4x4- and 16x16-pooled copies
          (structures of 8-32 pixels; the picture cropped top left to sides
          that are multiples of 16); the photos' own is printed first.
          (../shared/notes/quality.md's measure.)

All six, in C, are engine/train/quality.h: `atelier quality MODEL FOLDER
--style PAINTING` prints them as JSON (to 1e-4: tests/train/test_quality.c
checks the C numbers against this file's on committed images, written by
`tools/quality.py fixture`), and the promotion gate of training jobs judges
candidates by them.

Every image goes through `build/atelier stylize --max-size 512` (ml5 folders
after `atelier convert --from ml5`), as compare_sheet.py does; the photo it
is compared with is the photo as `atelier` resized it for the network.

  tools/quality.py --ours models/starry_night \\
      --ml5 ../shared/models/ml5/wave ../shared/models/ml5/la_muse
"""

import argparse
import json
import math
import os
import sys
import tempfile

import numpy as np
from PIL import Image

from compare_sheet import add_model_args, held_out, resolve_models, stylize_grid


def taps(src, dst):
    """engine/image.c's taps_make: per output sample its first source index
    and float32 weights (area coverage down, bilinear up)."""
    s = src / dst
    n = int(math.ceil(s)) + 1 if dst < src else 2
    first = np.zeros(dst, dtype=np.int64)
    w = np.zeros((dst, n), dtype=np.float32)
    for i in range(dst):
        if dst < src:
            lo, hi = i * s, (i + 1) * s
            j1 = min(int(math.ceil(hi)) - 1, src - 1)
            j0 = min(int(math.floor(lo)), j1)
            a = [max(min(hi, j + 1.0) - max(lo, float(j)), 0.0) for j in range(j0, j1 + 1)]
            total = 0.0
            for x in a:
                total += x
            w[i, :len(a)] = [x / total for x in a]
            first[i] = j0
        elif dst > src:
            x = max((i + 0.5) * s - 0.5, 0.0)
            j = int(x)
            if j >= src - 1:
                first[i], w[i, 0] = src - 1, 1
            else:
                first[i] = j
                w[i, 0], w[i, 1] = 1.0 - (x - j), x - j
        else:
            first[i], w[i, 0] = i, 1
    return first, w


def resize(img, w, h):
    """engine/image.c's image_resize to w x h, in float32 in the same
    order, rounded half up: the pixels `atelier` feeds its networks."""
    a = np.asarray(img, dtype=np.uint8).astype(np.float32)
    fx, wx = taps(a.shape[1], w)
    fy, wy = taps(a.shape[0], h)
    tmp = np.zeros((a.shape[0], w, 3), dtype=np.float32)
    for k in range(wx.shape[1]):
        tmp += wx[:, k, None] * a[:, np.minimum(fx + k, a.shape[1] - 1)]
    acc = np.zeros((h, w, 3), dtype=np.float32)
    for k in range(wy.shape[1]):
        acc += wy[:, k, None, None] * tmp[np.minimum(fy + k, a.shape[0] - 1)]
    i = np.floor(acc)
    out = np.where(acc > 0, np.minimum(i + (acc - i >= 0.5), 255), 0)
    return Image.fromarray(out.astype(np.uint8), "RGB")


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
    h, w = y.shape[0] // 4 * 4, y.shape[1] // 4 * 4
    if h < 24 or w < 24:
        raise ValueError("strokes: %dx%d is smaller than 24x24" % (img.size[0], img.size[1]))
    y = y[:h, :w]
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


def mean_strokes(pics, painting_sq):
    """strokes averaged over the pictures large enough for them (nan if none)."""
    d = [strokes(p, painting_sq) for p in pics if min(p.size) // 4 * 4 >= 24]
    return float(np.mean(d)) if d else float("nan")


def mid(img):
    y = lum(img)
    h, w = y.shape[0] // 16 * 16, y.shape[1] // 16 * 16
    y = y[:h, :w]

    def up_pool(a, k):
        p = a.reshape(h // k, k, w // k, k).mean(axis=(1, 3))
        return np.repeat(np.repeat(p, k, axis=0), k, axis=1)

    return float(np.var(up_pool(y, 4) - up_pool(y, 16)) / max(np.var(y), 1e-9))


def training_scaled(painting, scale, size=256):
    """The painting resized so that a size crop covers the middle of scale
    (LO,HI) of its shorter side."""
    lo, hi = (float(v) for v in scale.split(",")) if isinstance(scale, str) else scale
    f = size / (0.5 * (lo + hi) * min(painting.size))
    return resize(painting, max(1, math.floor(painting.size[0] * f + 0.5)),
                  max(1, math.floor(painting.size[1] * f + 0.5)))


def spread(imgs):
    means = np.array([np.asarray(i, dtype=np.float64).reshape(-1, 3).mean(0) for i in imgs])
    return float(means.std(0).mean())


def painting_targets(path, scale, size=256):
    """The painting's palette quantiles and stroke quantiles."""
    painting = Image.open(path).convert("RGB")
    return quantiles(painting), stroke_quantiles(training_scaled(painting, scale, size))


def measure(srcs, pics, targets=None):
    """The six numbers of pics (one per photo in srcs, the photos as run);
    style and strokes are nan without targets (painting_targets())."""
    nan = float("nan")
    return {
        "edges": float(np.mean([edges(s, p.resize(s.size)) for s, p in zip(srcs, pics)])),
        "fine": float(np.mean([fine(p) for p in pics])),
        "spread": spread(pics),
        "style": float(np.mean([style(p, targets[0]) for p in pics])) if targets else nan,
        "strokes": mean_strokes(pics, targets[1]) if targets else nan,
        "mid": float(np.mean([mid(p) for p in pics])),
    }


def fixture(out):
    """Writes the images tests/train/test_quality.c measures in C and the
    numbers this file gives them (quality.json), so the two definitions are
    checked against each other without Python at test time."""
    rng = np.random.default_rng(18)
    yy, xx = np.mgrid[0:86, 0:122].astype(np.float64)
    photo = np.stack([128 + 90 * np.sin(xx / 9.0 + yy / 23.0), 100 + 60 * np.cos(yy / 7.0),
                      80 + 0.8 * xx], axis=-1)
    photo[30:60, 40:80] = [200, 40, 30]                    # a red block with hard edges
    photo += rng.normal(0, 12, photo.shape)                # grain
    # The picture: the photo in diagonal stripes, recoloured.
    stripes = 70 * np.sin((xx + yy) * 2 * np.pi / 6)
    pic = np.stack([0.6 * photo[..., 0] + stripes, 0.5 * photo[..., 1] + 40,
                    0.4 * photo[..., 2] + 0.5 * stripes + 60], axis=-1)
    # The painting: swirls of strokes, larger than the fixtures (it is resized).
    py, px = np.mgrid[0:300, 0:420].astype(np.float64)
    ang = np.arctan2(py - 150, px - 210)
    paint = np.stack([120 + 100 * np.sin(ang * 6 + np.hypot(py - 150, px - 210) / 5),
                      90 + 70 * np.sin(px / 13.0), 160 + 60 * np.cos(py / 17.0)], axis=-1)
    os.makedirs(out, exist_ok=True)
    imgs = {}
    for name, a in (("photo", photo), ("pic", pic), ("painting", paint)):
        imgs[name] = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")
        imgs[name].save(os.path.join(out, name + ".png"))
    scale, size = (0.3, 0.5), 64
    targets = quantiles(imgs["painting"]), \
        stroke_quantiles(training_scaled(imgs["painting"], scale, size))
    scaled = training_scaled(imgs["painting"], scale, size)
    small = resize(imgs["photo"], 77, 54)
    nums = measure([imgs["photo"]], [imgs["pic"]], targets)
    nums.update({
        "style_scale": list(scale), "train_size": size,
        "painting_scaled": list(scaled.size),
        "painting_scaled_mean": float(np.asarray(scaled, dtype=np.float64).mean()),
        "photo_77x54_sum": int(np.asarray(small, dtype=np.int64).sum()),
        "photo_strokes": strokes(imgs["photo"], targets[1]),
        "photo_mid": mid(imgs["photo"]),
    })
    with open(os.path.join(out, "quality.json"), "w") as f:
        json.dump(nums, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps(nums, sort_keys=True))
    return 0


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["fixture"]:
        return fixture(argv[1] if len(argv) > 1 else "tests/fixtures/quality")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.add_argument("--count", type=int, default=13)
    ap.add_argument("--style", help="the painting, for the style (palette) and stroke distances")
    ap.add_argument("--style-scale", default="0.15,0.4",
                    help="LO,HI: the training patches' sides (fractions of the painting's "
                    "shorter side) the stroke distance scales the painting by")
    ap.add_argument("--train-size", type=int, default=256,
                    help="the training crop's side the stroke distance scales the painting by")
    args = ap.parse_args(argv)

    photos = held_out(args.content, args.every, args.count)
    if not photos:
        sys.exit("no photos in %s" % args.content)
    names = list(args.labels or [os.path.basename(os.path.normpath(m)) for m in args.ours])
    names += ["ml5 " + os.path.basename(os.path.normpath(m)) for m in args.ml5]
    with tempfile.TemporaryDirectory() as tmp:
        rows = stylize_grid(args.atelier, resolve_models(args, tmp), photos, tmp,
                            args.max_size)
    # The photo as the network saw it: resized by atelier's rule to the picture's size.
    srcs = [resize(r[0], *r[1].size) for r in rows]
    print("%d held-out photos at %d px; photos' own colour spread %.1f"
          % (len(photos), args.max_size, spread(srcs)))
    targets = None
    if args.style:
        targets = painting_targets(args.style, args.style_scale, args.train_size)
        print("photos' own stroke distance %.4f" % mean_strokes(srcs, targets[1]))
    print("photos' own mid %.3f" % np.mean([mid(s) for s in srcs]))
    print("%-22s %7s %7s %7s %7s %7s %7s"
          % ("model", "edges", "fine", "spread", "style", "strokes", "mid"))
    for j, name in enumerate(names):
        q = measure(srcs, [r[1 + j] for r in rows], targets)
        print("%-22s %7.3f %7.3f %7.1f %7.2f %7.4f %7.3f"
              % (name, q["edges"], q["fine"], q["spread"], q["style"], q["strokes"], q["mid"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
