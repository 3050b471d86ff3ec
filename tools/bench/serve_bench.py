#!/usr/bin/python3
"""serve_bench.py: the service against the bare engine, in one run.

For each image size it measures
  - the bare engine's throughput at saturation: `atelier bench` with all
    cores on one image, and one single-threaded `atelier bench` per core
    running at once; the better of the two is the engine's images/s;
  - the service's throughput and p50/p99 latency with 1, 2, 4 and 16
    clients posting JPEGs to `atelier serve` (tools/bench/load.py);
and then the server's RSS every 200 requests over --rss-requests requests.
It prints one JSON line per measurement and a summary table, with the
service's share of the engine's throughput (the goal is >= 90%).

  tools/bench/serve_bench.py --ml5 ../shared/models/ml5/wave
  tools/bench/serve_bench.py --model models/wave/v1.safetensors --sizes 256 --rss-requests 2000

The machine should be otherwise idle: every figure is wall-clock.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOAD = os.path.join(ROOT, "tools", "bench", "load.py")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def make_image(path, size, photo):
    from PIL import Image  # Debian's python3-pil
    if photo:
        img = Image.open(photo).convert("RGB").resize((size, size))
    else:
        img = Image.linear_gradient("L").resize((size, size)).convert("RGB")
    img.save(path, quality=90)


def engine_rate(binary, model, size, cores, runs):
    """Images/s of the bare engine at saturation, and the JSON of each way."""
    def bench(threads):
        return subprocess.Popen([binary, "bench", "--model", model, "--size", str(size),
                                 "--threads", str(threads), "--runs", str(runs)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def last_json(p):
        out = p.communicate()[0]
        return json.loads(out.strip().splitlines()[-1])

    wide = last_json(bench(cores))
    procs = [bench(1) for _ in range(cores)]
    narrow = [last_json(p) for p in procs]
    rate_wide = 1000.0 / wide["ms_median"]
    rate_narrow = sum(1000.0 / j["ms_median"] for j in narrow)
    return max(rate_wide, rate_narrow), {"threads_all": wide, "threads_1_each": narrow,
                                         "rate_all_cores_one_image": rate_wide,
                                         "rate_one_image_per_core": rate_narrow}


def load(port, image, clients, requests, pid, query=""):
    out = subprocess.run([LOAD, "--port", str(port), "--image", image, "--clients", str(clients),
                          "--requests", str(requests), "--pid", str(pid), "--query", query,
                          "--warmup", "1"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="an Atelier .safetensors model")
    g.add_argument("--ml5", help="an ml5 checkpoint folder (converted first)")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "atelier"))
    ap.add_argument("--photo", help="picture to resize into the test JPEGs")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 16])
    ap.add_argument("--requests", type=int, default=64, help="per client count")
    ap.add_argument("--runs", type=int, default=5, help="atelier bench runs")
    ap.add_argument("--rss-requests", type=int, default=2000)
    ap.add_argument("--serve-args", default="", help="extra flags for atelier serve")
    a = ap.parse_args()

    cores = len(os.sched_getaffinity(0))
    tmp = tempfile.mkdtemp(prefix="atelier-bench-")
    server = None
    try:
        os.makedirs(os.path.join(tmp, "models", "bench"))
        model = os.path.join(tmp, "models", "bench", "v1.safetensors")
        if a.ml5:
            subprocess.run([a.binary, "convert", "--from", "ml5", a.ml5, model], check=True,
                           capture_output=True)
        else:
            shutil.copy(a.model, model)
        images = {}
        for s in a.sizes:
            images[s] = os.path.join(tmp, f"img{s}.jpg")
            make_image(images[s], s, a.photo)

        portfile = os.path.join(tmp, "port")
        cmd = [a.binary, "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", portfile,
               "--models", os.path.join(tmp, "models"), "--queue", "64"] + a.serve_args.split()
        server = subprocess.Popen(cmd, stderr=open(os.path.join(tmp, "server.log"), "w"))
        for _ in range(600):
            if os.path.exists(portfile):
                break
            time.sleep(0.05)
        port = int(open(portfile).read())
        log(f"serving on {port}: {' '.join(cmd[1:])}")

        summary = []
        for s in a.sizes:
            log(f"engine {s}x{s} ...")
            rate, detail = engine_rate(a.binary, model, s, cores, a.runs)
            print(json.dumps({"what": "engine", "size": s, "images_per_s": round(rate, 3),
                              **detail}), flush=True)
            for c in a.clients:
                log(f"service {s}x{s}, {c} clients ...")
                r = load(port, images[s], c, max(a.requests, 2 * c), server.pid,
                         f"max_size={s}")
                r.update({"what": "service", "size": s})
                print(json.dumps(r), flush=True)
                summary.append((s, c, r["images_per_s"], rate, r["p50_ms"], r["p99_ms"]))

        rss = []
        if a.rss_requests > 0:
            s = a.sizes[0]
            log(f"RSS over {a.rss_requests} requests at {s}x{s} ...")
            done = 0
            while done < a.rss_requests:
                n = min(200, a.rss_requests - done)
                r = load(port, images[s], 4, n, server.pid)
                done += n
                rss.append((done, r["rss_mb_after"]))
            print(json.dumps({"what": "rss", "size": s, "samples": rss}), flush=True)

        print("\nsize  clients  service img/s  engine img/s  share   p50 ms   p99 ms")
        for s, c, got, eng, p50, p99 in summary:
            print(f"{s:4d}  {c:7d}  {got:13.2f}  {eng:12.2f}  {100 * got / eng:4.0f}%  "
                  f"{p50:7.0f}  {p99:7.0f}")
        if rss:
            print("RSS MB after n requests: " +
                  ", ".join(f"{n}: {m:.0f}" for n, m in rss))
    finally:
        if server:
            server.terminate()
            server.wait(timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
