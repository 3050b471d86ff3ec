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
    """The photos `atelier train --holdout every` never trains on, the
    first count of them: engine/train/traindata.c's rule to the byte. Of
    the folder's names that do not start with '.' and end in .jpg, .jpeg or
    .png (any case, after the last dot), sorted as strcmp sorts (by bytes),
    indices every-1, 2*every-1, ..."""
    def is_image(n):
        dot = n.rfind(b".")
        return not n.startswith(b".") and dot >= 0 and n[dot:].lower() in (b".jpg", b".jpeg",
                                                                           b".png")
    names = sorted(n for n in os.listdir(os.fsencode(content)) if is_image(n))
    return [os.path.join(content, os.fsdecode(n)) for i, n in enumerate(names)
            if every > 0 and i % every == every - 1][:count]


def stylize(atelier, model, src, dst, max_size, threads=None):
    cmd = [atelier, "stylize", "--model", model, "--max-size", str(max_size)]
    if threads:
        cmd += ["--threads", str(threads)]
    subprocess.run(cmd + [src, dst], check=True, capture_output=True)


def stylize_grid(atelier, models, photos, tmp, max_size, threads=None):
    """Each photo, then its picture by each model (a file, a NAME or an ml5
    folder, as `atelier stylize --model` takes them): one row of PIL images
    per photo."""
    rows = []
    for k, p in enumerate(photos):
        src = os.path.join(tmp, "src_%d.png" % k)
        Image.open(p).convert("RGB").save(src)
        cells = [src]
        for j, m in enumerate(models):
            dst = os.path.join(tmp, "out_%d_%d.png" % (k, j))
            stylize(atelier, m, src, dst, max_size, threads)
            cells.append(dst)
        rows.append([Image.open(c).convert("RGB") for c in cells])
        print("%s done" % os.path.basename(p), file=sys.stderr)
    return rows


def draw_sheet(rows, labels, tile, font=None, head=22):
    """rows of images side by side, each tile wide (the row's height from
    its first image's aspect), under a head of labels (one per column; a
    label may hold several lines)."""
    heights = [int(round(r[0].height * tile / r[0].width)) for r in rows]
    sheet = Image.new("RGB", (tile * len(labels), head + sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, lab in enumerate(labels):
        draw.multiline_text((j * tile + 6, 4), lab, fill="black", font=font, spacing=2)
    y = head
    for r, h in zip(rows, heights):
        for j, im in enumerate(r):
            sheet.paste(im.resize((tile, h), Image.LANCZOS), (j * tile, y))
        y += h
    return sheet


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


def versions(folder):
    """A model folder's version numbers, ascending (engine/repo.h: vN with
    N a canonical decimal)."""
    out = []
    for f in os.listdir(folder):
        n = f[1:-len(".safetensors")]
        if f.startswith("v") and f.endswith(".safetensors") and n.isdigit() and \
                n == str(int(n)) and int(n) > 0:
            out.append(int(n))
    return sorted(out)


def served_version(folder):
    """The path of the version a model folder serves: CURRENT's pin ("N" or
    "vN"), else the newest; None when it has no version."""
    vs = versions(folder)
    try:
        with open(os.path.join(folder, "CURRENT")) as f:
            text = f.read()
    except FileNotFoundError:
        text = None
    if text is not None:
        pin = text.strip()
        pin = pin[1:] if pin.startswith("v") else pin
        if not (pin.isdigit() and int(pin) in vs):
            sys.exit("%s/CURRENT pins %r, not a version in the folder" % (folder, text.strip()))
        vs = [int(pin)]
    return os.path.join(folder, "v%d.safetensors" % vs[-1]) if vs else None


def resolve_models(args, tmp):
    """--ours as files (a NAME dir's newest version), then --ml5 converted
    into tmp by `atelier convert --from ml5`."""
    if args.labels and len(args.labels) != len(args.ours):
        sys.exit("--labels needs one label per --ours model")
    models = []
    for m in args.ours:
        if os.path.isdir(m):
            m = served_version(m)
            if not m:
                sys.exit("no vN.safetensors in %s" % args.ours[len(models)])
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
        rows = stylize_grid(args.atelier, models, photos, tmp, args.max_size)
    sheet = draw_sheet(rows, labels, args.tile)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sheet.save(args.out, quality=85)
    print("wrote %s (%dx%d), photos: %s" % (args.out, sheet.width, sheet.height,
                                           ", ".join(os.path.basename(p) for p in photos)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
