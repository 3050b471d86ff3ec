#!/usr/bin/python3
"""gallery.py: docs/gallery.jpg, held-out photos through every style of a
models folder and, beside them, two ml5 generators.

Rows: the first --count (12) photos `atelier train` holds out of the
content folder (its default --holdout 7: compare_sheet.held_out, the
trainer's rule). Columns: the photo; each model of each --models argument
(a repository: every model folder in it, by name; a model folder; or a
vN.safetensors file), at the version the folder serves (CURRENT's pin, else
the newest); then each --ml5 checkpoint folder. Every picture is made by
`build/atelier stylize --max-size 512`, which runs ml5 folders as they are.
A column's label says the model, its version and its training steps (its
card; "a+b" when it was fine-tuned from a model of a steps). A model whose
card says it was trained on another content folder, or held out other
photos, is named on stderr: the sheet's photos may not be unseen by it.

The JPEG's quality steps down from 85 until the file fits --max-bytes.

  make gallery                  # = tools/gallery.py --out docs/gallery.jpg
  tools/gallery.py --models models /work/runs/style/g2/models --out /tmp/g.jpg
"""

import argparse
import json
import os
import sys
import tempfile

from PIL import ImageFont

from compare_sheet import REPO, draw_sheet, held_out, served_version, stylize_grid, versions
from safetensors_io import load as load_safetensors

ML5 = os.path.join(REPO, "..", "shared", "models", "ml5")


def model_files(arg):
    """The model files one --models argument stands for, in name order."""
    if os.path.isfile(arg):
        return [arg]
    if not os.path.isdir(arg):
        sys.exit("--models %s: no such file or folder" % arg)
    if versions(arg):
        return [served_version(arg)]
    found = [served_version(os.path.join(arg, n)) for n in sorted(os.listdir(arg))
             if not n.startswith(".") and os.path.isdir(os.path.join(arg, n))
             and versions(os.path.join(arg, n))]
    if not found:
        sys.exit("--models %s: no model folder (NAME/vN.safetensors) in it" % arg)
    return found


def card_of(path):
    """The version's card: its own vN.card.json beside it, else the folder's
    card.json when that card names this version (a shipped model's card,
    engine/repo.h), else the one in its metadata; {} when none parses."""
    own = path[:-len(".safetensors")] + ".card.json"
    try:
        with open(own) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(os.path.dirname(path), "card.json")) as f:
            card = json.load(f)
        version = (card.get("training") or {}).get("version")
        if "v%s.safetensors" % version == os.path.basename(path):
            return card
    except (OSError, ValueError, AttributeError):
        pass
    try:
        return json.loads(load_safetensors(path)[1].get("atelier.card", "{}"))
    except (OSError, ValueError):
        return {}


def with_init(training, key, fmt):
    """A card's training[key] through fmt, "init's+own" when the run was
    fine-tuned from a model that has the figure too (init_from); "?" when
    absent."""
    v = training.get(key)
    init = (training.get("init_from") or {}).get(key)
    if v is None:
        return "?"
    return fmt(init) + "+" + fmt(v) if init else fmt(v)


def steps_text(training):
    return with_init(training, "steps", lambda n: "%d" % n) + " steps"


def label(path, card):
    name = card.get("name") or os.path.basename(os.path.dirname(os.path.abspath(path)))
    training = card.get("training") or {}
    version = training.get("version")
    v = ("v%d" % version) if version else os.path.basename(path)[:-len(".safetensors")]
    return "%s\n%s, %s" % (name, v, steps_text(training))


def check_unseen(path, card, content, every):
    """Says on stderr when the card's training data is not ours to hold out."""
    training = card.get("training") or {}
    config = training.get("config") or {}
    held = config.get("holdout", training.get("holdout_every"))
    seen = training.get("content")
    if held is not None and held != every:
        print("warning: %s held out every %s-th photo, the sheet every %d-th"
              % (path, held, every), file=sys.stderr)
    if seen and os.path.basename(os.path.normpath(seen)) != \
            os.path.basename(os.path.normpath(content)):
        print("warning: %s trained on %s, the sheet's photos are from %s"
              % (path, seen, content), file=sys.stderr)


def font(size):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default()


def save_within(sheet, out, max_bytes):
    """Saves sheet as JPEG at the highest quality (85, 80, ... 40) that fits."""
    for q in range(85, 35, -5):
        sheet.save(out, quality=q, optimize=True)
        if os.path.getsize(out) <= max_bytes:
            return q
    sys.exit("%s: %d bytes even at quality 40; use a smaller --tile or --count"
             % (out, os.path.getsize(out)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=[os.path.join(REPO, "models")],
                    help="repositories, model folders or files (default: models/)")
    ap.add_argument("--ml5", nargs="*", default=[os.path.join(ML5, "wave"),
                                                 os.path.join(ML5, "la_muse")],
                    help="ml5 checkpoint folders (default: wave, la_muse)")
    ap.add_argument("--content", default=os.path.join(REPO, "..", "shared", "data", "content"))
    ap.add_argument("--every", type=int, default=7, help="the trainer's --holdout")
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--tile", type=int, default=224, help="cell width in pixels")
    ap.add_argument("--max-size", type=int, default=512, help="stylize at this longest side")
    ap.add_argument("--threads", type=int, default=2, help="atelier stylize --threads")
    ap.add_argument("--max-bytes", type=int, default=3000000)
    ap.add_argument("--atelier", default=os.path.join(REPO, "build", "atelier"))
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "gallery.jpg"))
    args = ap.parse_args(argv)

    photos = held_out(args.content, args.every, args.count)
    if len(photos) < args.count:
        sys.exit("%s holds %d photos out by the trainer's rule, fewer than --count %d"
                 % (args.content, len(photos), args.count))
    for m in args.ml5:
        if not os.path.isdir(m):
            sys.exit("--ml5 %s: no such folder" % m)
    ours = [f for arg in args.models for f in model_files(arg)]
    labels = ["photo\n(held out)"]
    cards = [card_of(path) for path in ours]
    names = [label(p, c).split("\n")[0] for p, c in zip(ours, cards)]
    for path, card in zip(ours, cards):
        check_unseen(path, card, args.content, args.every)
        text = label(path, card)
        if names.count(text.split("\n")[0]) > 1:
            # The same name from two folders: say which (the repository's
            # last two components).
            repo = os.path.dirname(os.path.dirname(os.path.abspath(path)))
            text = text.replace("\n", " (%s)\n" % "/".join(repo.split(os.sep)[-2:]), 1)
        labels.append(text)
    labels += ["ml5 %s\n(not ours)" % os.path.basename(os.path.normpath(m)) for m in args.ml5]
    with tempfile.TemporaryDirectory() as tmp:
        rows = stylize_grid(args.atelier, ours + args.ml5, photos, tmp, args.max_size,
                            args.threads)
    sheet = draw_sheet(rows, labels, args.tile, font(12), head=36)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    q = save_within(sheet, args.out, args.max_bytes)
    print("wrote %s (%dx%d, %d bytes, JPEG quality %d): %d photos x %d models + %d ml5;"
          " photos: %s" % (args.out, sheet.width, sheet.height, os.path.getsize(args.out), q,
                           len(photos), len(ours), len(args.ml5),
                           ", ".join(os.path.basename(p) for p in photos)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
