#!/usr/bin/python3
"""gallery_table.py: the per-style figures of a models folder as one
markdown table, for the docs.

For each model (every model folder of each MODELS argument, at the version
it serves, as tools/gallery.py picks them; default models/):

  steps, wall   from its card ("a+b" / "a+b min" when fine-tuned from a
                model of a steps / a minutes: init_from)
  MB            the version file's size
  ms, x wave    `atelier bench --size 512 --threads 2` (5 timed runs after
                a warm-up; its ms_median), alternated with ml5 `wave` in the
                same run: model, wave, model, wave, ... (--rounds pairs);
                the medians over the rounds and their ratio (below 1: faster
                than wave), and the ratio of CPU time per run (cpu_ms_median:
                steadier than wall time when other work shares the cores)
  edges .. mid  tools/quality.py's six numbers on the held-out photos at
                512 (the trainer's rule, 13 photos), against the painting
                and style scale its card names; "photos" is the photos' own
                stroke distance to that painting (a recolouring keeps it)

A last row gives ml5 wave's own numbers (no painting of ours: no style or
strokes). The photos' own spread and mid are printed under the table, with
the command and the machine's load (the timings share the cores).

  tools/bench/gallery_table.py models              # what ships
  tools/bench/gallery_table.py models/starry_night /work/runs/style/g2/models
"""

import argparse
import os
import json
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
sys.path.insert(0, TOOLS)

from compare_sheet import REPO, held_out, stylize_grid  # noqa: E402
from gallery import ML5, card_of, model_files, with_init  # noqa: E402
from quality import mean_strokes, measure, mid, painting_targets, resize, spread  # noqa: E402


def bench(atelier, model, size, threads, runs):
    out = subprocess.run([atelier, "bench", "--model", model, "--size", str(size),
                          "--threads", str(threads), "--runs", str(runs)],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["ms_median"], r["cpu_ms_median"]


def repo_path(p):
    """A card's path (written relative to the repository root) made usable."""
    return p if os.path.isabs(p) else os.path.normpath(os.path.join(REPO, p))


def recipe(card):
    """(painting, style scale, training size) from a card; painting None when absent."""
    t = card.get("training") or {}
    c = t.get("config") or {}
    styles = t.get("styles") or []
    scale = c.get("style_scale") or t.get("style_scale") or [0.15, 0.4]
    size = c.get("size") or t.get("size") or 256
    return (repo_path(styles[0]) if styles else None), scale, size


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=[os.path.join(REPO, "models")],
                    help="repositories, model folders or files (default: models/)")
    ap.add_argument("--wave", default=os.path.join(ML5, "wave"), help="the ml5 peer")
    ap.add_argument("--size", type=int, default=512, help="bench side")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per bench call")
    ap.add_argument("--rounds", type=int, default=3, help="model/wave pairs per model")
    ap.add_argument("--count", type=int, default=13, help="held-out photos for the numbers")
    ap.add_argument("--max-size", type=int, default=512, help="the numbers' stylize size")
    ap.add_argument("--content", default=os.path.join(REPO, "..", "shared", "data", "content"))
    ap.add_argument("--every", type=int, default=7)
    ap.add_argument("--no-bench", action="store_true", help="skip the timings")
    ap.add_argument("--atelier", default=os.path.join(REPO, "build", "atelier"))
    args = ap.parse_args(argv)

    models = [f for arg in args.models for f in model_files(arg)]
    cards = [card_of(m) for m in models]
    if not os.path.isdir(args.wave):
        sys.exit("--wave %s: no such folder" % args.wave)
    photos = held_out(args.content, args.every, args.count)
    if not photos:
        sys.exit("%s: no held-out photos" % args.content)

    timing = []
    for m in models:
        ours, wave = [], []
        for _ in range(0 if args.no_bench else args.rounds):
            ours.append(bench(args.atelier, m, args.size, args.threads, args.runs))
            wave.append(bench(args.atelier, args.wave, args.size, args.threads, args.runs))
        timing.append([statistics.median(x[k] for x in v) for v in (ours, wave) for k in (0, 1)]
                      if ours else None)
        print("timed %s" % m, file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        rows = stylize_grid(args.atelier, models + [args.wave], photos, tmp, args.max_size,
                            args.threads)
    srcs = [resize(r[0], *r[1].size) for r in rows]

    print("| style | version | steps | wall | MB | ms at %d² (%d threads) | ml5 wave ms | "
          "x wave | edges | fine | spread | style | strokes | photos' strokes | mid |"
          % (args.size, args.threads))
    print("|" + " --- |" * 15)
    for j, (m, card) in enumerate(zip(models, cards)):
        t = card.get("training") or {}
        painting, scale, size = recipe(card)
        targets = painting_targets(painting, scale, size) if painting and \
            os.path.exists(painting) else None
        q = measure(srcs, [r[1 + j] for r in rows], targets)
        own = "%.3f" % mean_strokes(srcs, targets[1]) if targets else "-"
        tm = timing[j]
        ms = ("%.0f | %.0f | %.2f (CPU %.2f)" % (tm[0], tm[2], tm[0] / tm[2], tm[1] / tm[3])
              if tm else "- | - | -")
        print("| %s | v%s | %s | %s | %.1f | %s | %.3f | %.3f | %.1f | %s | %s | %s | %.3f |"
              % (card.get("name") or os.path.basename(os.path.dirname(m)), t.get("version", "?"),
                 with_init(t, "steps", lambda n: "%d" % n),
                 with_init(t, "wall_time_s", lambda x: "%.0f" % (x / 60)) + " min",
                 os.path.getsize(m) / 1e6, ms, q["edges"], q["fine"], q["spread"],
                 "%.2f" % q["style"] if targets else "-",
                 "%.3f" % q["strokes"] if targets else "-", own, q["mid"]))
    q = measure(srcs, [r[-1] for r in rows])
    print("| ml5 wave (not ours) | | | | | | | 1 | %.3f | %.3f | %.1f | - | - | - | %.3f |"
          % (q["edges"], q["fine"], q["spread"], q["mid"]))
    load = os.getloadavg()
    print("\n%d held-out photos at %d px (photos' own: spread %.1f, mid %.3f); load %.1f "
          "during the run. `%s`" % (len(photos), args.max_size, spread(srcs),
                                    statistics.mean(mid(s) for s in srcs), load[0],
                                    " ".join(["tools/bench/gallery_table.py"] +
                                             (argv if argv is not None else sys.argv[1:]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
