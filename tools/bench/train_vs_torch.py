#!/usr/bin/python3
"""train_vs_torch.py: one CycleGAN training step in PyTorch against
`atelier bench --train`, side by side in one run.

The pair: ResNet-9 generator (ngf 64, reflect padding, instance norm
without affine; tools/torch2safetensors.py's copy of upstream's
ResnetGenerator) and the 70x70 PatchGAN (upstream's NLayerDiscriminator,
ndf 64, n_layers 3, instance norm), LSGAN, Adam (lr 2e-4, betas 0.5,
0.999), batch 1 at 256x256 by default. One step, as upstream's
CycleGANModel.optimize_parameters does for one direction:
  fake = G(photo)
  G:  loss (D(fake) - 1)^2 with D frozen, backward, Adam on G
  D:  0.5 * ((D(real) - 1)^2 + D(fake.detach())^2), backward, Adam on D
Atelier's step does the same (tools' description in engine/train/trainer.c). The
ratio printed is atelier / torch (below 1: atelier is faster).

  tools/bench/train_vs_torch.py                      # 256, batch 1, 2 threads
  tools/bench/train_vs_torch.py --threads 1 2 --runs 5
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)


def patchgan(ndf=64, n_layers=3):
    import torch.nn as nn
    norm = lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    seq = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=True), norm(ndf * mult),
                nn.LeakyReLU(0.2, True)]
    prev, mult = mult, min(2 ** n_layers, 8)
    seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=True), norm(ndf * mult),
            nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
    return nn.Sequential(*seq)


def torch_child(size, batch, threads, runs, warmup, ndf):
    import torch
    from torch2safetensors import ResnetGenerator

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    G = ResnetGenerator(3, 3, 64, n_blocks=9)
    D = patchgan(ndf)
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
            torch.nn.init.zeros_(m.bias)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    mse = torch.nn.MSELoss()
    photo = torch.rand(batch, 3, size, size) * 2 - 1
    real = torch.rand(batch, 3, size, size) * 2 - 1

    def step():
        fake = G(photo)
        for p in D.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad()
        pf = D(fake)
        loss_g = mse(pf, torch.ones_like(pf))
        loss_g.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        opt_d.zero_grad()
        pr = D(real)
        pf = D(fake.detach())
        loss_d = 0.5 * (mse(pr, torch.ones_like(pr)) + mse(pf, torch.zeros_like(pf)))
        loss_d.backward()
        opt_d.step()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000.0)
    print(json.dumps({"ms_median": statistics.median(times), "ms_min": min(times)}))


def run_torch(args, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--sizes", str(args.sizes[0]),
           "--batch", str(args.batch), "--threads", str(threads), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--ndf", str(args.ndf)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_atelier(args, size, threads):
    cmd = [args.atelier, "bench", "--train", "--arch", "resnet9", "--size", str(size),
           "--batch", str(args.batch), "--threads", str(threads), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--ndf", str(args.ndf)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--atelier", default=os.path.join(REPO, "build", "atelier"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        torch_child(args.sizes[0], args.batch, args.threads[0], args.runs, args.warmup,
                    args.ndf)
        return 0
    print("%-6s %-7s %-6s %12s %12s %8s" % ("size", "threads", "batch", "torch ms",
                                            "atelier ms", "ratio"))
    for size in args.sizes:
        for t in args.threads:
            a = dict(vars(args))
            a["sizes"] = [size]
            ns = argparse.Namespace(**a)
            tr = run_torch(ns, t)
            at = run_atelier(ns, size, t)
            ratio = at["ms_median"] / tr["ms_median"]
            print("%-6d %-7d %-6d %12.1f %12.1f %8.3f" % (size, t, args.batch, tr["ms_median"],
                                                        at["ms_median"], ratio))
            print(json.dumps({"size": size, "threads": t, "batch": args.batch,
                              "torch_ms_median": tr["ms_median"],
                              "atelier_ms_median": at["ms_median"], "ratio": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
