#!/usr/bin/python3
"""compare_sheet.py: a side-by-side sheet of held-out photos: the photo, our
trained model, and two ml5 models, each row one photo.

The photos are the ones `atelier train` holds out of training with its
default --holdout 7: of the content folder's .jpg/.jpeg/.png files sorted by
name, indices 6, 13, 20, ... (every 7th), the first --count of them. Every
image goes through `build/atelier stylize` (ml5 folders are converted with
`atelier convert --from ml5` into a temporary directory first).

  tools/compare_sheet.py --ours models/starry_night \\
      --ml5 ../shared/models/ml5/wave ../shared/models/ml5/la_muse \\
      --out docs/sheet.jpg

Several --ours (with --labels) and no --ml5 make an ablation sheet:

  tools/compare_sheet.py --ours runA/v3.safetensors runB/v3.safetensors \\
      --labels "A: swd" "B: gram" --count 4 --out docs/ablation.jpg
"""

import argparse
import os
import subprocess
import sys
import tempfile

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def held_out(content, every, count):
    names = sorted(n for n in os.listdir(content)
                   if not n.startswith(".") and n.lower().endswith((".jpg", ".jpeg", ".png")))
    return [os.path.join(content, n) for i, n in enumerate(names) if i % every == every - 1][:count]


def stylize(atelier, model, src, dst, max_size):
    subprocess.run([atelier, "stylize", "--model", model, "--max-size", str(max_size), src, dst],
                   check=True, capture_output=True)


def add_model_args(ap):
    """The options compare_sheet.py and quality.py share."""
    ap.add_argument("--ours", nargs="+", required=True,
                    help="our models: NAME dirs (newest version), files or repo names")
    ap.add_argument("--labels", nargs="+", help="column labels for --ours")
    ap.add_argument("--ml5", nargs="*", default=[], help="ml5 checkpoint folders")
    ap.add_argument("--content", default=os.path.join(REPO, "..", "shared", "data", "content"))
    ap.add_argument("--every", type=int, default=7)
    ap.add_argument("--max-size", type=int, default=512, help="stylize at this longest side")
    ap.add_argument("--atelier", default=os.path.join(REPO, "build", "atelier"))


def resolve_models(args, tmp):
    """--ours as files (a NAME dir's newest version), then --ml5 converted
    into tmp by `atelier convert --from ml5`."""
    if args.labels and len(args.labels) != len(args.ours):
        sys.exit("--labels needs one label per --ours model")
    models = []
    for m in args.ours:
        if os.path.isdir(m):
            vs = sorted((int(f[1:-12]), f) for f in os.listdir(m)
                        if f.startswith("v") and f.endswith(".safetensors") and f[1:-12].isdigit())
            if not vs:
                sys.exit("no vN.safetensors in %s" % m)
            m = os.path.join(m, vs[-1][1])
        models.append(m)
    for i, m in enumerate(args.ml5):
        out = os.path.join(tmp, "ml5_%d.safetensors" % i)
        subprocess.run([args.atelier, "convert", "--from", "ml5", m, out], check=True,
                       capture_output=True)
        models.append(out)
    return models


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--tile", type=int, default=224, help="tile width in the sheet")
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "sheet.jpg"))
    args = ap.parse_args(argv)

    photos = held_out(args.content, args.every, args.count)
    if not photos:
        sys.exit("no photos in %s" % args.content)
    with tempfile.TemporaryDirectory() as tmp:
        models = resolve_models(args, tmp)
        ours = models[:len(args.ours)]
        labels = ["photo"]
        labels += (args.labels if args.labels else
                   ["ours: " + os.path.basename(os.path.dirname(os.path.abspath(m)))
                    for m in ours])
        labels += ["ml5: " + os.path.basename(os.path.normpath(m)) for m in args.ml5]
        rows = []
        for k, p in enumerate(photos):
            src = os.path.join(tmp, "src_%d.png" % k)
            Image.open(p).convert("RGB").save(src)
            cells = [src]
            for j, m in enumerate(models):
                dst = os.path.join(tmp, "out_%d_%d.png" % (k, j))
                stylize(args.atelier, m, src, dst, args.max_size)
                cells.append(dst)
            rows.append([Image.open(c).convert("RGB") for c in cells])
            print("%s done" % os.path.basename(p), file=sys.stderr)
    T = args.tile
    heights = [int(round(r[0].height * T / r[0].width)) for r in rows]
    head = 22
    sheet = Image.new("RGB", (T * len(labels), head + sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, lab in enumerate(labels):
        draw.text((j * T + 6, 5), lab, fill="black")
    y = head
    for r, h in zip(rows, heights):
        for j, im in enumerate(r):
            sheet.paste(im.resize((T, h), Image.LANCZOS), (j * T, y))
        y += h
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sheet.save(args.out, quality=85)
    print("wrote %s (%dx%d), photos: %s" % (args.out, sheet.width, sheet.height,
                                           ", ".join(os.path.basename(p) for p in photos)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
