#!/usr/bin/python3
"""engine_vs_torch.py: the ml5 network (default style wave) in PyTorch
against `atelier bench`, same weights, same sizes, same thread counts.

For each size N (an N x N image) and thread count T:
  torch eager  Ml5Net (tools/ml5_reference.py) under torch.no_grad()
  torch jit    the same traced with torch.jit.trace, then torch.jit.freeze
               (with --jit-optimize also torch.jit.optimize_for_inference,
               the faster of the two is reported)
  atelier      `build/atelier bench --model M --size N --threads T --runs R`,
               whose last stdout line is JSON with at least "ms_median"
               (and optionally "peak_rss_mb")
Each torch variant runs --warmup times, then --runs times; the median is
reported. Torch runs in a child process per (N, T), so its peak RSS (which
includes the Python interpreter and libtorch, about 200 MB at idle) is that
configuration's alone. GFLOP/s counts the convolutions: 252288 FLOP per
pixel (SOURCE.md). The ratio is atelier / the faster torch variant, so
below 1 means atelier is faster.

  tools/bench/engine_vs_torch.py --torch-only --sizes 256 512
  tools/bench/engine_vs_torch.py --model models/wave/v1.safetensors
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

FLOP_PER_PIXEL = 252288


def _median_ms(fn, x, warmup, runs):
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def torch_child(size, threads, runs, warmup, ml5_dir, jit, jit_optimize):
    """Measures one configuration in this process; prints one JSON line."""
    import warnings
    import torch
    from ml5_reference import Ml5Net, load_ml5

    warnings.simplefilter("ignore")     # tracer warnings about shape maths

    torch.set_num_threads(threads)
    net = Ml5Net(load_ml5(ml5_dir)).eval()

    class Stylize(torch.nn.Module):
        def __init__(self, inner, h, w):
            super().__init__()
            self.inner, self.h, self.w = inner, h, w

        def forward(self, x):
            return self.inner(x).clamp(0, 255)[:, :, :self.h, :self.w]

    model = Stylize(net, size, size).eval()
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (1, 3, size, size), generator=gen).float()
    out = {"size": size, "threads": threads}
    with torch.no_grad():
        out["eager_ms"] = _median_ms(model, x, warmup, runs)
        if jit:
            traced = torch.jit.trace(model, x)
            frozen = torch.jit.freeze(traced.eval())
            out["jit_ms"] = _median_ms(frozen, x, warmup, runs)
            out["jit_variant"] = "freeze"
        if jit and jit_optimize:
            try:
                opt = torch.jit.optimize_for_inference(
                    torch.jit.freeze(torch.jit.trace(model, x).eval()))
                ms_opt = _median_ms(opt, x, warmup, runs)
                diff = (opt(x) - model(x)).abs().max().item()
                if ms_opt < out["jit_ms"] and diff < 0.5:
                    out["jit_ms"] = ms_opt
                    out["jit_variant"] = "freeze+optimize"
            except RuntimeError as e:
                out["optimize_error"] = str(e).splitlines()[0]
    out["peak_rss_mb"] = resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


def run_torch(args, size, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--_torch-child",
           str(size), str(threads), "--runs", str(args.runs), "--warmup",
           str(args.warmup), "--ml5", args.ml5]
    if args.no_jit:
        cmd.append("--no-jit")
    if args.jit_optimize:
        cmd.append("--jit-optimize")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit("torch run failed (size %d, threads %d):\n%s"
                 % (size, threads, p.stderr))
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_atelier(args, size, threads):
    cmd = [args.atelier, "bench", "--model", args.model, "--size", str(size),
           "--threads", str(threads), "--runs", str(args.runs)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    if p.returncode != 0 or not lines:
        sys.exit("atelier bench failed (exit %d): %s\n%s"
                 % (p.returncode, " ".join(cmd), p.stderr.strip()))
    try:
        res = json.loads(lines[-1])
        float(res["ms_median"])
    except (ValueError, KeyError, TypeError):
        sys.exit("atelier bench: last stdout line is not JSON with "
                 "ms_median: %r" % lines[-1])
    return res


def gflops(size, ms):
    if ms is None or ms <= 0:
        return None
    return FLOP_PER_PIXEL * size * size / (ms / 1000.0) / 1e9


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main(argv=None):
    from ml5_reference import default_models_dir
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("For each"):])
    p.add_argument("--sizes", nargs="+", type=int, default=[256, 512, 1024])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--style", default="wave")
    p.add_argument("--ml5", help="ml5 folder torch runs (default: the "
                   "shared models' --style folder)")
    p.add_argument("--model", help="what atelier runs: a converted "
                   ".safetensors or an ml5 folder (default: --ml5)")
    p.add_argument("--atelier", default=os.path.join(REPO, "build",
                                                     "atelier"))
    p.add_argument("--torch-only", action="store_true",
                   help="skip atelier")
    p.add_argument("--no-jit", action="store_true", help="skip torch jit")
    p.add_argument("--jit-optimize", action="store_true",
                   help="also try torch.jit.optimize_for_inference (was no "
                   "faster here) and keep the faster jit variant")
    p.add_argument("--json", action="store_true",
                   help="also print all results as one JSON line")
    p.add_argument("--_torch-child", nargs=2, type=int, dest="child",
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.ml5 is None:
        args.ml5 = os.path.join(default_models_dir(), args.style)
    if args.child:
        torch_child(args.child[0], args.child[1], args.runs, args.warmup,
                    args.ml5, not args.no_jit, args.jit_optimize)
        return 0
    if args.model is None:
        args.model = args.ml5
    if not os.path.isfile(os.path.join(args.ml5, "manifest.json")):
        sys.exit("no ml5 model at %s (pass --ml5 DIR)" % args.ml5)
    if not args.torch_only and not os.access(args.atelier, os.X_OK):
        sys.exit("%s not found or not executable: build it with `make`, "
                 "pass --atelier PATH, or use --torch-only" % args.atelier)

    print("ml5 %s, warmup %d, median of %d runs; torch from %s"
          % (os.path.basename(os.path.normpath(args.ml5)), args.warmup,
             args.runs, sys.executable))
    head = ("%6s %3s %10s %10s %10s %7s %8s %8s %8s %9s %9s"
            % ("size", "T", "eager ms", "jit ms", "atelier", "ratio",
               "GF/s eg", "GF/s jit", "GF/s at", "torch MB", "atel MB"))
    print(head)
    print("-" * len(head))
    results = []
    for size in args.sizes:
        for t in args.threads:
            at = None if args.torch_only else run_atelier(args, size, t)
            tr = run_torch(args, size, t)
            eager, jit = tr["eager_ms"], tr.get("jit_ms")
            best = min(v for v in (eager, jit) if v is not None)
            ams = float(at["ms_median"]) if at else None
            arss = at.get("peak_rss_mb") if at else None
            ratio = ams / best if ams else None
            print("%6d %3d %10s %10s %10s %7s %8s %8s %8s %9s %9s"
                  % (size, t, fmt(eager, ".1f"), fmt(jit, ".1f"),
                     fmt(ams, ".1f"), fmt(ratio, ".2f"),
                     fmt(gflops(size, eager), ".1f"),
                     fmt(gflops(size, jit), ".1f"),
                     fmt(gflops(size, ams), ".1f"),
                     fmt(tr["peak_rss_mb"], ".0f"),
                     fmt(float(arss) if arss is not None else None, ".0f")),
                  flush=True)
            results.append({"torch": tr, "atelier": at, "ratio": ratio})
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
