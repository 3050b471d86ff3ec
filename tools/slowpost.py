#!/usr/bin/python3
"""slowpost.py: many slow uploads against a local `atelier serve`, with the
server's memory and /healthz watched throughout (issue 15, finding 1).

  tools/slowpost.py --port P --pid PID [--clients 200] [--mib 8]
                    [--seconds 40] [--addresses 1] [--path /stylize]

Each client connects from 127.0.0.k (k = 1..--addresses, round robin),
declares a body of --mib MiB and sends it evenly over --seconds; /healthz is
asked every half second from 127.0.0.250. At the end: how the uploads were
answered, the server's peak RSS (sampled every 0.1 s from /proc/PID/status,
and its VmHWM), and /healthz's answers and slowest answer.

Bounded on purpose: loopback only, at most 1000 clients, 64 MiB each,
300 seconds. Run it only against a server you started.
"""
import argparse
import selectors
import socket
import sys
import threading
import time


def rss_kib(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def status_of(reply):
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


class Client:
    def __init__(self, idx, args, start):
        self.addr = "127.0.0.%d" % (1 + idx % args.addresses)
        self.total = args.mib << 20
        self.sent = 0
        self.start = start
        self.seconds = args.seconds
        self.reply = b""
        self.done = False
        self.outcome = None
        self.sock = socket.socket()
        self.sock.bind((self.addr, 0))
        self.sock.setblocking(False)
        try:
            self.sock.connect(("127.0.0.1", args.port))
        except BlockingIOError:
            pass
        self.head = ("POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                     "Content-Length: %d\r\n\r\n" % (args.path, self.total)).encode()

    def due(self, now):
        """Bytes of body this client should have sent by now."""
        frac = min(1.0, (now - self.start) / self.seconds)
        return int(self.total * frac)

    def step(self, now, chunk):
        if self.done:
            return
        try:
            if self.head:
                n = self.sock.send(self.head)
                self.head = self.head[n:]
                if self.head:
                    return
            want = self.due(now) - self.sent
            while want > 0:
                n = self.sock.send(chunk[:min(want, len(chunk))])
                self.sent += n
                want -= n
        except BlockingIOError:
            pass
        except OSError as e:
            # The server answered and closed (a 503 before the body): read
            # what it sent before giving up.
            try:
                self.reply += self.sock.recv(65536)
            except OSError:
                pass
            self.finish("send: " + e.__class__.__name__)
            return
        try:
            data = self.sock.recv(65536)
            if data:
                self.reply += data
            else:
                self.finish(None)
        except BlockingIOError:
            pass
        except OSError as e:
            self.finish("recv: " + e.__class__.__name__)

    def finish(self, err):
        self.done = True
        st = status_of(self.reply)
        self.outcome = str(st) if st else ("closed without an answer" if not err else
                                           err + ", no answer read")
        self.sock.close()


def prober(port, stop, results):
    while not stop.is_set():
        t = time.monotonic()
        try:
            s = socket.socket()
            s.bind(("127.0.0.250", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = s.recv(4096)
            s.close()
            results.append((status_of(data), time.monotonic() - t))
        except OSError:
            results.append((0, time.monotonic() - t))
        stop.wait(0.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server's process id")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--mib", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--addresses", type=int, default=1, help="127.0.0.1 .. 127.0.0.N")
    ap.add_argument("--path", default="/stylize")
    args = ap.parse_args()
    if not (1 <= args.clients <= 1000 and 1 <= args.mib <= 64 and
            1 <= args.seconds <= 300 and 1 <= args.addresses <= 200):
        sys.exit("slowpost: out of bounds (clients 1..1000, mib 1..64, seconds 1..300, "
                 "addresses 1..200)")
    stop = threading.Event()
    probes = []
    th = threading.Thread(target=prober, args=(args.port, stop, probes), daemon=True)
    th.start()
    base_rss = rss_kib(args.pid)
    start = time.monotonic()
    clients = []
    for i in range(args.clients):
        try:
            clients.append(Client(i, args, start))
        except OSError as e:
            sys.exit("slowpost: cannot open client %d: %s" % (i, e))
    chunk = b"\0" * 65536
    peak = base_rss
    deadline = start + args.seconds + 30
    while time.monotonic() < deadline and not all(c.done for c in clients):
        now = time.monotonic()
        for c in clients:
            c.step(now, chunk)
        peak = max(peak, rss_kib(args.pid))
        time.sleep(0.1)
    for c in clients:
        if not c.done:
            c.finish("no answer by the end")
    stop.set()
    th.join()
    outcomes = {}
    for c in clients:
        outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
    ok = sum(1 for st, _ in probes if st == 200)
    print("clients %d x %d MiB over %.0f s from %d address(es)" %
          (args.clients, args.mib, args.seconds, args.addresses))
    print("answers: " + ", ".join("%s x%d" % (k, v) for k, v in sorted(outcomes.items())))
    print("server RSS: before %d MiB, peak sampled %d MiB, VmHWM %d MiB" %
          (base_rss >> 10, peak >> 10, rss_kib(args.pid, "VmHWM") >> 10))
    print("/healthz: %d of %d answered 200, slowest %.3f s" %
          (ok, len(probes), max((t for _, t in probes), default=0)))


if __name__ == "__main__":
    main()
