#!/usr/bin/python3
"""train_reference.py: one full generator + discriminator training step in
PyTorch from the weights of an atelier training state, written as a fixture
that tests/train/test_train_step.c checks our step against.

Input: a state file written by `atelier train` (NAME/.train/state.safetensors):
its metadata holds the generator and discriminator specs ("gspec",
"dspec"), its tensors "G.<name>" and "D.<name>" the weights. The networks
run through tools/atelier_spec.py's functional spec interpreter, in float64
for the reference values, with autograd.

The step is engine/train/trainer.c's, in CycleGAN's order:
  fake = G(photo) (output mapping applied, no clamp)
  L_G  = w_adv * mean((D(fake) - 1)^2) + w_content * content + w_tv * tv
         content: mean squared difference of the 4x4-average-pooled
                  luminance (0..1) of fake and photo
         tv: mean squared difference of neighbouring pixels (0..1)
  Adam on G (lr, betas 0.5, 0.999, eps 1e-8)
  L_D  = 0.5 * mean((D(real) - 1)^2) + 0.5 * mean(D(fake.detach())^2)
  Adam on D
Photos and style patches are seeded uniform pixels.

Output tensors (float32): photo, real; G.* and D.* (before); gradG.*,
gradD.* (gradients of this step); newG.*, newD.* (after Adam); metadata:
gspec, dspec, the loss weights, lr, and the loss values.

  tools/train_reference.py STATE OUT.safetensors [--batch 2 --size 32]
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from atelier_spec import _run_layers  # noqa: E402


def run(spec, weights, pixels):
    i, o = spec["input"], spec["output"]
    x = pixels * i["scale"] + i["offset"]
    return _run_layers(x, spec["layers"], weights) * o["scale"] + o["offset"]


def lum_pool(img, pool):
    y = (0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]) / 255.0
    return F.avg_pool2d(y.unsqueeze(1), pool)


def tv(img):
    x = img / 255.0
    dx = x[:, :, :, 1:] - x[:, :, :, :-1]
    dy = x[:, :, 1:, :] - x[:, :, :-1, :]
    n = dx.numel() + dy.numel()
    return ((dx ** 2).sum() + (dy ** 2).sum()) / n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("state")
    ap.add_argument("out")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--w-adv", type=float, default=1.0)
    ap.add_argument("--w-content", type=float, default=10.0)
    ap.add_argument("--w-tv", type=float, default=1.0)
    ap.add_argument("--pool", type=int, default=4)
    args = ap.parse_args(argv)

    tensors, meta = safetensors_io.load(args.state)
    gspec, dspec = json.loads(meta["gspec"]), json.loads(meta["dspec"])
    dt = torch.float64
    G = {k[2:]: torch.tensor(np.asarray(v), dtype=dt, requires_grad=True)
         for k, v in tensors.items() if k.startswith("G.") and not k.startswith(("G.m.", "G.v."))}
    D = {k[2:]: torch.tensor(np.asarray(v), dtype=dt, requires_grad=True)
         for k, v in tensors.items() if k.startswith("D.") and not k.startswith(("D.m.", "D.v."))
         and not k.endswith(".sn_u")}
    g0 = {k: v.detach().clone() for k, v in G.items()}
    d0 = {k: v.detach().clone() for k, v in D.items()}

    rng = np.random.default_rng(args.seed)
    shape = (args.batch, 3, args.size, args.size)
    photo = torch.tensor(rng.uniform(0, 255, shape).astype(np.float32), dtype=dt)
    real = torch.tensor(rng.uniform(0, 255, shape).astype(np.float32), dtype=dt)

    opt_g = torch.optim.Adam(list(G.values()), lr=args.lr, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(list(D.values()), lr=args.lr, betas=(0.5, 0.999), eps=1e-8)

    fake = run(gspec, G, photo)
    for v in D.values():
        v.requires_grad_(False)
    s = run(dspec, D, fake)
    adv = args.w_adv * ((s - 1) ** 2).mean()
    content = args.w_content * ((lum_pool(fake, args.pool) - lum_pool(photo, args.pool)) ** 2).mean()
    tvl = args.w_tv * tv(fake)
    loss_g = adv + content + tvl
    opt_g.zero_grad()
    loss_g.backward()
    grad_g = {k: v.grad.detach().clone() for k, v in G.items()}
    opt_g.step()
    for v in D.values():
        v.requires_grad_(True)
    opt_d.zero_grad()
    sf = run(dspec, D, fake.detach())
    sr = run(dspec, D, real)
    loss_d = 0.5 * (sr - 1).pow(2).mean() + 0.5 * sf.pow(2).mean()
    loss_d.backward()
    grad_d = {k: v.grad.detach().clone() for k, v in D.items()}
    opt_d.step()

    out = {"photo": photo, "real": real}
    for pre, dct in (("G.", g0), ("D.", d0), ("gradG.", grad_g), ("gradD.", grad_d),
                     ("newG.", {k: v.detach() for k, v in G.items()}),
                     ("newD.", {k: v.detach() for k, v in D.items()})):
        for k, v in dct.items():
            out[pre + k] = v
    out = {k: np.ascontiguousarray(v.numpy().astype(np.float32)) for k, v in out.items()}
    md = {"gspec": meta["gspec"], "dspec": meta["dspec"],
          "lr": repr(args.lr), "w_adv": repr(args.w_adv), "w_content": repr(args.w_content),
          "w_tv": repr(args.w_tv), "pool": str(args.pool),
          "loss_g_adv": repr(adv.item()), "loss_content": repr(content.item()),
          "loss_tv": repr(tvl.item()), "loss_d": repr(loss_d.item()),
          "generator": "tools/train_reference.py"}
    safetensors_io.save(args.out, out, md)
    print("wrote %s: %d tensors, G adv %.6f content %.6f tv %.6f D %.6f"
          % (args.out, len(out), adv.item(), content.item(), tvl.item(), loss_d.item()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
