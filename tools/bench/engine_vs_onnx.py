#!/usr/bin/python3
"""engine_vs_onnx.py: the ml5 generator on ONNX Runtime, PyTorch and the
Atelier engine, side by side in one run, on the same weights and sizes.

  ONNX Runtime  npm onnxruntime-node (CPU), driven by ort_bench.js; the
                model is exported from tools/ml5_reference.py's Ml5Net with
                Debian's python3-torch (one fixed-shape .onnx per size, cached
                in build/bench/)
  PyTorch       the same Ml5Net, eager and torch.jit frozen; the best of the
                two is reported
  Atelier       `atelier bench` on the ml5 folder

For each size and thread count the engines run in turn, --rounds times
over (ONNX Runtime, PyTorch, atelier, ONNX Runtime, ...; each time a fresh
process, warm-up, then --runs timed runs), so a change in the machine's load
falls on all of them alike. Reported: each engine's median over all its
timed runs, the engine's GFLOP/s, the ratio atelier/onnx as the median of
the per-round ratios of medians (< 1: we are faster), the same ratio of the
best runs (min/min, the least disturbed), atelier/torch, and the ratio of
CPU time per run (cpu/cpu: on one thread the work each engine does, which
another process's load barely changes; on two, spinning counts too). The machine is
shared, so peers are always measured in the same run.

Setup once: cd tools/bench && ONNXRUNTIME_NODE_INSTALL=skip npm ci
usage: tools/bench/engine_vs_onnx.py [--style wave] [--sizes 256,512,1024]
                                     [--threads 1,2] [--runs 3] [--rounds 3]
                                     [--no-torch] [--json F]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

import torch  # noqa: E402
import ml5_reference as ml5  # noqa: E402

FLOP_PER_PIXEL = 252288


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def export_onnx(net, style, size, cache):
    path = os.path.join(cache, "%s_%d.onnx" % (style, size))
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        x = torch.rand(1, 3, size, size) * 255
        tmp = path + ".tmp"
        torch.onnx.export(net, (x,), tmp, opset_version=13,
                          input_names=["input"], output_names=["output"])
        os.replace(tmp, path)
    return path


def run_json(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), p.stderr))
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench_ort(onnx_path, size, threads, runs, warmup):
    return run_json(["node", os.path.join(HERE, "ort_bench.js"), onnx_path,
                     str(size), str(size), str(threads), str(runs), str(warmup)])


def bench_atelier(atelier, model, size, threads, runs, warmup, extra):
    return run_json([atelier, "bench", "--model", model, "--size", str(size),
                     "--threads", str(threads), "--runs", str(runs),
                     "--warmup", str(warmup)] + extra)


@torch.no_grad()
def bench_torch(net, frozen, size, threads, runs, warmup):
    torch.set_num_threads(threads)
    x = torch.rand(1, 3, size, size) * 255
    out = {}
    for name, f in (("eager", net), ("jit", frozen)):
        ms = []
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            f(x)
            dt = (time.perf_counter() - t0) * 1e3
            if i >= warmup:
                ms.append(dt)
        out[name] = median(ms)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--style", default="wave")
    ap.add_argument("--models", default=ml5.default_models_dir())
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--atelier", default=os.path.join(REPO, "build", "atelier"))
    ap.add_argument("--atelier-args", default="",
                    help="extra flags for atelier bench, space separated")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json", help="also write all results to this file")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")  # tracer chatter from the ONNX export

    folder = os.path.join(args.models, args.style)
    net = ml5.Ml5Net(ml5.load_ml5(folder)).eval()
    sizes = [int(s) for s in args.sizes.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    cache = os.path.join(REPO, "build", "bench")
    extra = args.atelier_args.split()
    rows = []
    print("%-5s %2s %9s %9s %9s %8s %7s %8s %8s %8s %8s" % (
        "size", "t", "onnx_ms", "torch_ms", "atel_ms", "atel_GF", "rss_MB",
        "at/onnx", "min/min", "cpu/cpu", "at/torch"), flush=True)
    for size in sizes:
        onnx_path = export_onnx(net, args.style, size, cache)
        frozen = None
        if not args.no_torch:
            with torch.no_grad():
                x = torch.rand(1, 3, size, size) * 255
                frozen = torch.jit.freeze(torch.jit.trace(net, (x,)).eval())
        for t in threads:
            runs = args.runs
            ort_ms, torch_ms, at_ms, ratios, ort_min, at_min = [], [], [], [], [], []
            cpu_ratios = []
            rss = 0
            for _ in range(args.rounds):
                ort = bench_ort(onnx_path, size, t, runs, args.warmup)
                th = bench_torch(net, frozen, size, t, runs, args.warmup) \
                    if frozen is not None else {}
                at = bench_atelier(args.atelier, folder, size, t, runs,
                                   args.warmup, extra)
                ort_ms.append(ort["ms_median"])
                ort_min.append(ort["ms_min"])
                at_ms.append(at["ms_median"])
                at_min.append(at["ms_min"])
                ratios.append(at["ms_median"] / ort["ms_median"])
                cpu_ratios.append(at["cpu_ms_median"] / ort["cpu_ms_median"])
                if th:
                    torch_ms.append(min(th.values()))
                rss = max(rss, at["peak_rss_mb"])
            row = {"size": size, "threads": t, "rounds": args.rounds, "runs": runs,
                   "onnx_ms": median(ort_ms), "onnx_min_ms": min(ort_min),
                   "torch_ms": median(torch_ms) if torch_ms else None,
                   "atelier_ms": median(at_ms), "atelier_min_ms": min(at_min),
                   "atelier_gflops": FLOP_PER_PIXEL * size * size / 1e6 / median(at_ms),
                   "atelier_rss_mb": rss, "ratio_onnx": median(ratios),
                   "ratio_onnx_min": min(at_min) / min(ort_min),
                   "ratio_onnx_cpu": median(cpu_ratios),
                   "ratio_torch": median(at_ms) / median(torch_ms) if torch_ms else None,
                   "per_round": {"onnx_ms": ort_ms, "atelier_ms": at_ms,
                                 "torch_ms": torch_ms}}
            rows.append(row)
            print("%-5d %2d %9.1f %9.1f %9.1f %8.1f %7.0f %8.3f %8.3f %8.3f %8.3f" % (
                size, t, row["onnx_ms"], row["torch_ms"] or float("nan"),
                row["atelier_ms"], row["atelier_gflops"], rss, row["ratio_onnx"],
                row["ratio_onnx_min"], row["ratio_onnx_cpu"],
                row["ratio_torch"] or float("nan")), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
