#!/usr/bin/python3
"""torch2safetensors.py: converts PyTorch generator state dicts to Atelier
model files (safetensors + "atelier.spec" + "atelier.card", engine/net.h).

Two architectures, re-implemented here from their public descriptions with
the upstream state-dict key names, so an upstream .pth loads strictly:

  transformer_net  pytorch/examples fast_neural_style TransformerNet
                   (Johnson et al. 2016 with Ulyanov's instance norm and
                   Odena's upsample-then-conv): input 0..255, output clamped
                   to 0..255, no tanh.
  resnet9          junyanz/pytorch-CycleGAN-and-pix2pix ResnetGenerator,
                   resnet_9blocks with instance norm (affine=False): input
                   scaled to [-1, 1], tanh output mapped back to 0..255.

Every ReflectionPad2d + Conv2d(padding=0) pair becomes one conv2d layer with
pad_mode "reflect"; layer names are the torch module names, so the tensors
keep their state-dict keys. Each conversion is checked before it is written:
the spec is run by tools/atelier_spec.py and compared with the torch module.

Usage:
  torch2safetensors.py convert --arch transformer_net --pth candy.pth \\
      --name candy --title Candy --source URL --license BSD-3-Clause OUT
  torch2safetensors.py convert --arch resnet9 --random --seed 1 --ngf 8 ...
  torch2safetensors.py fixtures --out tests/fixtures/torch
"""

import argparse
import json
import os
import re
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import safetensors_io  # noqa: E402
from atelier_spec import SpecNet  # noqa: E402
from ml5_reference import synthetic_image  # noqa: E402


# --- pytorch/examples fast_neural_style/neural_style/transformer_net.py ---

class ConvLayer(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.in1(self.conv1(x)))
        out = self.in2(self.conv2(out))
        return out + x


class UpsampleConvLayer(nn.Module):
    """Nearest upsampling, then reflection pad and conv (no checkerboard)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride,
                 upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):
    """width is the first layer's channels (upstream: 32); the others are
    2x and 4x it."""

    def __init__(self, width=32):
        super().__init__()
        a, b, c = width, 2 * width, 4 * width
        self.width = width
        self.conv1 = ConvLayer(3, a, kernel_size=9, stride=1)
        self.in1 = nn.InstanceNorm2d(a, affine=True)
        self.conv2 = ConvLayer(a, b, kernel_size=3, stride=2)
        self.in2 = nn.InstanceNorm2d(b, affine=True)
        self.conv3 = ConvLayer(b, c, kernel_size=3, stride=2)
        self.in3 = nn.InstanceNorm2d(c, affine=True)
        self.res1 = ResidualBlock(c)
        self.res2 = ResidualBlock(c)
        self.res3 = ResidualBlock(c)
        self.res4 = ResidualBlock(c)
        self.res5 = ResidualBlock(c)
        self.deconv1 = UpsampleConvLayer(c, b, kernel_size=3, stride=1,
                                         upsample=2)
        self.in4 = nn.InstanceNorm2d(b, affine=True)
        self.deconv2 = UpsampleConvLayer(b, a, kernel_size=3, stride=1,
                                         upsample=2)
        self.in5 = nn.InstanceNorm2d(a, affine=True)
        self.deconv3 = ConvLayer(a, 3, kernel_size=9, stride=1)
        self.relu = nn.ReLU()

    def forward(self, X):
        y = self.relu(self.in1(self.conv1(X)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


# --- junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py -------------

def instance_norm_layer(channels):
    # networks.get_norm_layer('instance')
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    def __init__(self, dim, use_dropout=False, use_bias=True):
        super().__init__()
        block = [nn.ReflectionPad2d(1),
                 nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                 instance_norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            block += [nn.Dropout(0.5)]
        block += [nn.ReflectionPad2d(1),
                  nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                  instance_norm_layer(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """ResnetGenerator(3, 3, ngf, norm_layer=instance, n_blocks) with
    reflect padding; use_bias is True as upstream sets it for instance
    norm."""

    def __init__(self, input_nc=3, output_nc=3, ngf=64, use_dropout=False,
                 n_blocks=9):
        super().__init__()
        use_bias = True
        self.ngf, self.n_blocks, self.use_dropout = ngf, n_blocks, use_dropout
        model = [nn.ReflectionPad2d(3),
                 nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0,
                           bias=use_bias),
                 instance_norm_layer(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3,
                                stride=2, padding=1, bias=use_bias),
                      instance_norm_layer(ngf * mult * 2), nn.ReLU(True)]
        mult = 4
        for i in range(n_blocks):
            model += [ResnetBlock(ngf * mult, use_dropout, use_bias)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2),
                                         kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      instance_norm_layer(int(ngf * mult / 2)), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3),
                  nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0),
                  nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


# --- spec emission ------------------------------------------------------

def _conv_spec(name, conv, pad, pad_mode):
    return {"op": "conv2d", "name": name, "in": conv.in_channels,
            "out": conv.out_channels, "k": conv.kernel_size[0],
            "stride": conv.stride[0], "pad": pad, "pad_mode": pad_mode,
            "bias": conv.bias is not None}


def _norm_spec(name, norm):
    return {"op": "instance_norm", "name": name,
            "channels": norm.num_features, "eps": norm.eps,
            "affine": bool(norm.affine)}


def _sequential_spec(prefix, seq):
    """Walks an nn.Sequential of the CycleGAN kind, fusing ReflectionPad2d
    into the Conv2d after it."""
    layers = []
    mods = list(seq.named_children())
    i = 0
    while i < len(mods):
        idx, m = mods[i]
        name = prefix + idx
        if isinstance(m, nn.ReflectionPad2d):
            nxt_idx, conv = mods[i + 1]
            if not isinstance(conv, nn.Conv2d) or conv.padding != (0, 0):
                raise ValueError("%s: ReflectionPad2d not before a "
                                 "padding=0 Conv2d" % name)
            p = m.padding           # (left, right, top, bottom)
            pad = p[0] if len(set(p)) == 1 else [p[2], p[3], p[0], p[1]]
            layers.append(_conv_spec(prefix + nxt_idx, conv, pad, "reflect"))
            i += 2
            continue
        if isinstance(m, nn.Conv2d):
            p = m.padding
            if p[0] != p[1] or m.padding_mode != "zeros":
                raise ValueError("%s: unsupported padding" % name)
            layers.append(_conv_spec(name, m, p[0], "zeros"))
        elif isinstance(m, nn.ConvTranspose2d):
            layers.append({"op": "conv_transpose2d", "name": name,
                           "in": m.in_channels, "out": m.out_channels,
                           "k": m.kernel_size[0], "stride": m.stride[0],
                           "pad": m.padding[0],
                           "output_padding": m.output_padding[0],
                           "bias": m.bias is not None})
        elif isinstance(m, nn.InstanceNorm2d):
            layers.append(_norm_spec(name, m))
        elif isinstance(m, nn.ReLU):
            layers.append({"op": "relu"})
        elif isinstance(m, nn.Tanh):
            layers.append({"op": "tanh"})
        elif isinstance(m, nn.Dropout):
            pass                    # identity at inference
        elif isinstance(m, ResnetBlock):
            layers.append(_sequential_spec(name + ".conv_block.",
                                           m.conv_block))
        else:
            raise ValueError("%s: unsupported module %s" % (name, m))
        i += 1
    return layers


def _convlayer_spec(name, layer):
    k = layer.conv2d.kernel_size[0]
    return _conv_spec(name + ".conv2d", layer.conv2d, k // 2, "reflect")


def transformer_net_spec(net):
    L = []
    relu = {"op": "relu"}
    for c, n in (("conv1", "in1"), ("conv2", "in2"), ("conv3", "in3")):
        L += [_convlayer_spec(c, getattr(net, c)),
              _norm_spec(n, getattr(net, n)), relu]
    for r in range(1, 6):
        blk = getattr(net, "res%d" % r)
        p = "res%d." % r
        L.append([_convlayer_spec(p + "conv1", blk.conv1),
                  _norm_spec(p + "in1", blk.in1), relu,
                  _convlayer_spec(p + "conv2", blk.conv2),
                  _norm_spec(p + "in2", blk.in2)])
    for c, n in (("deconv1", "in4"), ("deconv2", "in5")):
        L += [{"op": "upsample", "scale": 2, "mode": "nearest"},
              _convlayer_spec(c, getattr(net, c)),
              _norm_spec(n, getattr(net, n)), relu]
    L.append(_convlayer_spec("deconv3", net.deconv3))
    return {"version": 1, "arch": "fast-neural-style-transformer-net",
            "input": {"scale": 1.0, "offset": 0.0},
            "output": {"scale": 1.0, "offset": 0.0}, "layers": L}


def resnet_spec(net):
    return {"version": 1, "arch": "cyclegan-resnet-%dblocks" % net.n_blocks,
            "input": {"scale": 2.0 / 255.0, "offset": -1.0},
            "output": {"scale": 127.5, "offset": 127.5},
            "layers": _sequential_spec("model.", net.model)}


ARCHS = {
    "transformer_net": {"spec": transformer_net_spec,
                        "in_scale": 1.0, "in_offset": 0.0,
                        "out_scale": 1.0, "out_offset": 0.0},
    "resnet9": {"spec": resnet_spec,
                "in_scale": 2.0 / 255.0, "in_offset": -1.0,
                "out_scale": 127.5, "out_offset": 127.5},
}


# --- loading, random init, running --------------------------------------

def clean_state_dict(sd):
    """Strips a DataParallel "module." prefix and the instance-norm running
    statistics that old PyTorch versions saved (upstream drops them too)."""
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    out = {}
    for k, v in sd.items():
        if k.startswith("module."):
            k = k[len("module."):]
        if re.search(r"\.(running_mean|running_var|num_batches_tracked)$", k):
            continue
        out[k] = v
    return out


def build(arch, sd=None, width=None):
    """Makes the torch module; with a state dict, sizes it from the dict
    and loads it strictly (every key and shape must match)."""
    if arch == "transformer_net":
        if sd is not None:
            width = sd["conv1.conv2d.weight"].shape[0]
        net = TransformerNet(width or 32)
    else:
        n_blocks, dropout = 9, False
        if sd is not None:
            width = sd["model.1.weight"].shape[0]
            blocks = {int(m.group(1)) for k in sd
                      for m in [re.match(r"model\.(\d+)\.conv_block\.", k)]
                      if m}
            n_blocks = len(blocks)
            dropout = any(".conv_block.6.weight" in k for k in sd)
        net = ResnetGenerator(ngf=width or 64, n_blocks=n_blocks,
                              use_dropout=dropout)
    if sd is not None:
        net.load_state_dict(sd, strict=True)
    return net.eval()


def run_torch(arch, net, pixels):
    """Runs the torch module as its upstream inference script does, in the
    module's dtype. pixels (N, 3, H, W) 0..255; returns pixels clamped to
    0..255 and cropped at the top left to the input size."""
    a = ARCHS[arch]
    h, w = pixels.shape[2], pixels.shape[3]
    with torch.no_grad():
        y = net(pixels * a["in_scale"] + a["in_offset"])
    if y.shape[2] < h or y.shape[3] < w:
        raise ValueError("torch output %s smaller than input" % (y.shape,))
    y = (y * a["out_scale"] + a["out_offset"]).clamp(0, 255)
    return y[:, :, :h, :w]


def random_init(arch, net, seed):
    """Deterministic random weights from numpy's RandomState(seed) (whose
    stream is fixed forever): He-normal convs, small biases, instance-norm
    gains around 1. The last conv is then rescaled on a synthetic picture so
    the output spreads over 0..255 without saturating much."""
    rs = np.random.RandomState(seed)

    def fill(t, arr):
        t.copy_(torch.from_numpy(np.asarray(arr, np.float64)).to(t.dtype))

    with torch.no_grad():
        for _, m in net.named_modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                w = m.weight
                fan = (w.shape[1] if isinstance(m, nn.Conv2d)
                       else w.shape[0] / 4.0) * w.shape[2] * w.shape[3]
                fill(w, rs.normal(0, np.sqrt(2.0 / fan), w.shape))
                if m.bias is not None:
                    fill(m.bias, rs.normal(0, 0.1, m.bias.shape))
            elif isinstance(m, nn.InstanceNorm2d) and m.affine:
                fill(m.weight, rs.uniform(0.6, 1.4, m.weight.shape))
                fill(m.bias, rs.normal(0, 0.3, m.bias.shape))
        last = net.deconv3.conv2d if arch == "transformer_net" \
            else net.model[-2]
        x = torch.from_numpy(synthetic_image(64, 64, seed))[None]
        a = ARCHS[arch]
        x64 = x.double() * a["in_scale"] + a["in_offset"]
        net64 = net.double()
        feats = []
        hook = last.register_forward_hook(
            lambda mod, inp, out: feats.append(out - mod.bias.view(1, -1, 1, 1)))
        net64(x64)
        hook.remove()
        net.float()
        std = feats[0].std().item()
        # target spread of the last conv's output before the output map:
        # 55 pixel levels, or 0.9 before tanh (about 0.6 after).
        target = 55.0 if arch == "transformer_net" else 0.9
        last.weight.mul_(target / std)
        centre = 127.5 if arch == "transformer_net" else 0.0
        spread = 10.0 if arch == "transformer_net" else 0.1
        fill(last.bias, centre + rs.normal(0, spread, last.bias.shape))
    return net


def make_model(arch, pth=None, seed=None, width=None):
    if pth is not None:
        try:
            sd = torch.load(pth, map_location="cpu", weights_only=True)
        except TypeError:
            sd = torch.load(pth, map_location="cpu")
        return build(arch, clean_state_dict(sd))
    net = build(arch, width=width)
    return random_init(arch, net, seed)


def model_file(arch, net, card):
    """Returns (tensors, metadata) of the Atelier model file."""
    spec = ARCHS[arch]["spec"](net)
    tensors = {k: v.detach().to(torch.float32).contiguous().numpy()
               for k, v in net.state_dict().items()
               if not re.search(r"running_|num_batches", k)}
    meta = {"atelier.spec": json.dumps(spec), "atelier.card": json.dumps(card)}
    return tensors, meta


def verify(arch, net, tensors, meta, x):
    """Runs x through the torch module and through the emitted spec, both
    in float64; returns (torch output float64, max difference)."""
    net.double()
    try:
        ref = run_torch(arch, net, x.double())
    finally:
        net.float()
    got = SpecNet(tensors, meta).forward(x.double())
    return ref, (ref - got).abs().max().item()


# --- subcommands -----------------------------------------------------------

def cmd_convert(args):
    if (args.pth is None) == (not args.random):
        print("give exactly one of --pth FILE or --random", file=sys.stderr)
        return 2
    net = make_model(args.arch, args.pth, args.seed, args.width)
    card = {"name": args.name, "title": args.title or args.name,
            "style": args.style or args.name,
            "description": args.description or "",
            "source": args.source, "license": args.license,
            "training": args.training or ""}
    tensors, meta = model_file(args.arch, net, card)
    x = torch.from_numpy(synthetic_image(37, 29, 1))[None]
    _, diff = verify(args.arch, net, tensors, meta, x)
    if diff > 1e-6:
        print("spec and torch disagree by %.3g: not written" % diff,
              file=sys.stderr)
        return 1
    safetensors_io.save(args.out, tensors, meta)
    n = sum(v.size for v in tensors.values())
    print("wrote %s: %d tensors, %d parameters (spec vs torch %.1e)"
          % (args.out, len(tensors), n, diff))
    return 0


FIXTURES = {
    # arch: (width, seed). Widths are narrow so the files stay small; 6
    # channels (6/12/24) also exercise kernels' odd channel tails.
    "transformer_net": (6, 1),
    "resnet9": (4, 2),
}
FIXTURE_W, FIXTURE_H = 37, 29


def cmd_fixtures(args):
    torch.set_num_threads(1)
    ok = True
    for arch, (width, seed) in FIXTURES.items():
        net = make_model(arch, seed=seed, width=width)
        card = {"name": arch + "-fixture", "title": "random narrow " + arch,
                "style": "none", "description": "randomly initialised test "
                "network (width %d, seed %d)" % (width, seed),
                "source": "tools/torch2safetensors.py fixtures",
                "license": "same as Atelier", "training": "none"}
        tensors, meta = model_file(arch, net, card)
        x = torch.from_numpy(synthetic_image(FIXTURE_W, FIXTURE_H, seed))[None]
        ref, diff = verify(arch, net, tensors, meta, x)
        out = ref.to(torch.float32).numpy()
        mpath = os.path.join(args.out, arch + ".safetensors")
        ipath = os.path.join(args.out, arch + "_io.safetensors")
        safetensors_io.save(mpath, tensors, meta)
        safetensors_io.save(ipath, {"input": x.numpy(), "output": out},
                            {"model": arch})
        sat = float(np.mean((out <= 0) | (out >= 255)))
        good = diff < 1e-6 and out.std() > 20 and sat < 0.2
        ok = ok and good
        print("%s: %d params; output mean %.1f std %.1f, %.1f%% clamped; "
              "spec vs torch %.1e; %d + %d bytes%s"
              % (arch, sum(v.size for v in tensors.values()), out.mean(),
                 out.std(), 100 * sat, diff, os.path.getsize(mpath),
                 os.path.getsize(ipath), "" if good else "  BAD"))
    return 0 if ok else 1


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("Usage:"):])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="state dict -> Atelier model file")
    c.add_argument("--arch", required=True, choices=sorted(ARCHS))
    c.add_argument("--pth", help="upstream state dict (.pth)")
    c.add_argument("--random", action="store_true",
                   help="random weights instead of --pth")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--width", "--ngf", type=int, dest="width",
                   help="first layer's channels for --random "
                   "(default: upstream, 32 or 64)")
    c.add_argument("--name", required=True)
    c.add_argument("--title")
    c.add_argument("--style")
    c.add_argument("--description")
    c.add_argument("--source", required=True)
    c.add_argument("--license", required=True)
    c.add_argument("--training")
    c.add_argument("out")
    f = sub.add_parser("fixtures", help="narrow random models + golden I/O")
    f.add_argument("--out", required=True)
    args = p.parse_args(argv)
    return {"convert": cmd_convert, "fixtures": cmd_fixtures}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
