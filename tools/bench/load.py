#!/usr/bin/python3
"""load.py: a closed-loop load client for `atelier serve`.

C clients each keep one HTTP/1.1 connection and POST the same image to
/stylize back to back, for N requests in all (after W warm-up requests per
client, not counted). Prints one JSON line: images/s, latency percentiles,
status counts, and the server's RSS before and after when --pid is given.

  tools/bench/load.py --port 8080 --image photo.jpg --clients 4 --requests 200
"""
import argparse
import http.client
import json
import os
import statistics
import threading
import time


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--query", default="", help="e.g. model=wave&max_size=512")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--requests", type=int, default=50, help="timed requests in all")
    ap.add_argument("--warmup", type=int, default=1, help="per client, not timed")
    ap.add_argument("--pid", type=int, help="server pid, to report its RSS")
    a = ap.parse_args()

    body = open(a.image, "rb").read()
    ctype = "image/png" if body[:4] == b"\x89PNG" else "image/jpeg"
    path = "/stylize" + ("?" + a.query if a.query else "")
    lock = threading.Lock()
    todo = [a.requests]
    lat, statuses = [], {}

    def one(conn):
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers={"Content-Type": ctype})
        r = conn.getresponse()
        r.read()
        return r.status, time.perf_counter() - t0

    def client():
        conn = http.client.HTTPConnection(a.host, a.port, timeout=600)
        for _ in range(a.warmup):
            one(conn)
        barrier.wait()
        while True:
            with lock:
                if todo[0] <= 0:
                    break
                todo[0] -= 1
            st, dt = one(conn)
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
                if st == 200:
                    lat.append(dt)
        conn.close()

    barrier = threading.Barrier(a.clients + 1)
    threads = [threading.Thread(target=client) for _ in range(a.clients)]
    for t in threads:
        t.start()
    rss0 = rss_mb(a.pid) if a.pid else None
    cpu0 = cpu_s(a.pid) if a.pid else None
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1e3, 1) if lat else None

    print(json.dumps({
        "clients": a.clients, "requests": a.requests, "image_bytes": len(body),
        "query": a.query, "seconds": round(wall, 3),
        "images_per_s": round(len(lat) / wall, 3) if wall > 0 else None,
        "p50_ms": pct(50), "p99_ms": pct(99),
        "mean_ms": round(statistics.mean(lat) * 1e3, 1) if lat else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "rss_mb_before": rss0, "rss_mb_after": rss_mb(a.pid) if a.pid else None,
        "server_cpu_s_per_image": round((cpu_s(a.pid) - cpu0) / len(lat), 3)
        if a.pid and lat and cpu0 is not None else None,
    }))


if __name__ == "__main__":
    main()
