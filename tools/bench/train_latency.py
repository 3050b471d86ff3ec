#!/usr/bin/python3
"""train_latency.py: /stylize latency with a training job running against
without, in one run of one server.

It converts an ml5 checkpoint, starts `atelier serve` with a token, a job
folder and a photo folder (--content), and then measures p50/p99 of
512x512 /stylize requests (tools/bench/load.py, C clients back to back):

  1. idle        no training
  2. training    while a /train job runs (submitted first, measured once it
                 has taken steps; its steps/s is reported)
  3. idle again  after the job is cancelled (DELETE /train/{id})

and reports p99(training) / p99(idle), idle being the mean of 1 and 3 (the
goal is <= 1.5). One JSON line per phase on stdout, then a summary.

  tools/bench/train_latency.py --ml5 ../shared/models/ml5/wave
  tools/bench/train_latency.py --ml5 ../shared/models/ml5/wave --clients 1 --requests 100

The machine should be otherwise idle: every figure is wall-clock.
"""
import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOAD = os.path.join(ROOT, "tools", "bench", "load.py")
SHARED = next((d for d in (os.path.join(os.path.dirname(ROOT), "shared"), "/work/shared")
               if os.path.isdir(d)), "../shared")
TOKEN = "train-latency-bench"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Authorization": "Bearer " + TOKEN}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def submit(port, style, config):
    boundary = uuid.uuid4().hex
    parts = []
    with open(style, "rb") as f:
        parts.append((b'Content-Disposition: form-data; name="style"; filename="style.jpg"\r\n'
                      b"Content-Type: image/jpeg\r\n\r\n", f.read()))
    parts.append((b'Content-Disposition: form-data; name="config"\r\n'
                  b"Content-Type: application/json\r\n\r\n", json.dumps(config).encode()))
    body = b""
    for head, data in parts:
        body += b"--" + boundary.encode() + b"\r\n" + head + data + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    status, data = request(port, "POST", "/train", body,
                           {"Content-Type": "multipart/form-data; boundary=" + boundary})
    if status != 202:
        raise SystemExit(f"POST /train: {status} {data[:300]!r}")
    return json.loads(data)["id"]


def job(port, jid):
    status, data = request(port, "GET", "/train/" + jid)
    return json.loads(data)


def load(port, image, clients, requests, pid):
    out = subprocess.run([LOAD, "--port", str(port), "--image", image, "--clients", str(clients),
                          "--requests", str(requests), "--warmup", "2", "--pid", str(pid),
                          "--query", "max_size=512"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ml5", default=os.path.join(SHARED, "models", "ml5", "wave"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "atelier"))
    ap.add_argument("--content", default=os.path.join(SHARED, "data", "content"))
    ap.add_argument("--style", default=os.path.join(SHARED, "data", "style", "great_wave.jpg"))
    ap.add_argument("--photo", help="the 512x512 request image's source (default: a content photo)")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--requests", type=int, default=40, help="timed requests per phase")
    ap.add_argument("--train-size", type=int, default=256)
    ap.add_argument("--serve-args", default="", help="extra flags for atelier serve")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so the server is stopped too
    from PIL import Image  # Debian's python3-pil

    tmp = tempfile.mkdtemp(prefix="atelier-trainlat-")
    server = None
    try:
        os.makedirs(os.path.join(tmp, "models", "wave"))
        model = os.path.join(tmp, "models", "wave", "v1.safetensors")
        subprocess.run([a.binary, "convert", "--from", "ml5", a.ml5, model], check=True,
                       stdout=subprocess.DEVNULL)
        photo = a.photo or sorted(os.path.join(a.content, f) for f in os.listdir(a.content)
                                  if f.lower().endswith(".jpg"))[0]
        image = os.path.join(tmp, "req.jpg")
        Image.open(photo).convert("RGB").resize((512, 512)).save(image, quality=90)
        portfile = os.path.join(tmp, "port")
        cmd = [a.binary, "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", portfile,
               "--models", os.path.join(tmp, "models"), "--data", os.path.join(tmp, "data"),
               "--content", a.content, "--queue", "64", "--token", TOKEN] + a.serve_args.split()
        server = subprocess.Popen(cmd, stderr=open(os.path.join(tmp, "server.log"), "w"))
        for _ in range(600):
            if os.path.exists(portfile):
                break
            time.sleep(0.05)
        port = int(open(portfile).read())
        for _ in range(600):
            try:
                if request(port, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)

        results = {}
        log("phase 1: idle")
        results["idle"] = load(port, image, a.clients, a.requests, server.pid)
        print(json.dumps({"phase": "idle", **results["idle"]}), flush=True)

        jid = submit(port, a.style, {"name": "bench", "steps": 1000000, "size": a.train_size,
                                     "checkpoint_every": 1000000})
        log("phase 2: training job", jid, "(waiting for its first steps)")
        t0 = time.time()
        while True:
            j = job(port, jid)
            if j["state"] not in ("queued", "running"):
                raise SystemExit(f"job ended: {j}")
            if j["step"] >= 2:
                break
            if time.time() - t0 > 600:
                raise SystemExit("the job took no step in 600 s")
            time.sleep(0.2)
        step0, ts0 = j["step"], time.time()
        results["training"] = load(port, image, a.clients, a.requests, server.pid)
        j = job(port, jid)
        train_rate = (j["step"] - step0) / (time.time() - ts0)
        if j["state"] != "running":
            raise SystemExit(f"the job stopped during the measurement: {j}")
        print(json.dumps({"phase": "training", "job_steps_per_s": round(train_rate, 3),
                          **results["training"]}), flush=True)

        request(port, "DELETE", "/train/" + jid)
        while job(port, jid)["state"] == "running":
            time.sleep(0.2)
        log("phase 3: idle again")
        results["idle2"] = load(port, image, a.clients, a.requests, server.pid)
        print(json.dumps({"phase": "idle2", **results["idle2"]}), flush=True)

        idle_p50 = (results["idle"]["p50_ms"] + results["idle2"]["p50_ms"]) / 2
        idle_p99 = (results["idle"]["p99_ms"] + results["idle2"]["p99_ms"]) / 2
        tr = results["training"]
        summary = {
            "clients": a.clients, "requests": a.requests, "size": 512,
            "train_size": a.train_size, "train_steps_per_s": round(train_rate, 3),
            "p50_idle_ms": round(idle_p50, 1), "p99_idle_ms": round(idle_p99, 1),
            "p50_training_ms": round(tr["p50_ms"], 1), "p99_training_ms": round(tr["p99_ms"], 1),
            "p99_ratio": round(tr["p99_ms"] / idle_p99, 3),
            "goal": "p99_ratio <= 1.5",
        }
        print(json.dumps({"summary": summary}), flush=True)
        log(f"p50 {idle_p50:.1f} -> {tr['p50_ms']:.1f} ms, p99 {idle_p99:.1f} -> "
            f"{tr['p99_ms']:.1f} ms with training ({summary['p99_ratio']:.2f}x; goal <= 1.5x), "
            f"training at {train_rate:.2f} steps/s")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=300)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
