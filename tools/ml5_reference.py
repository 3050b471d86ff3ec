#!/usr/bin/python3
"""ml5_reference.py: the ml5 fast-style network in PyTorch, the numerical
reference for the C engine, and the golden fixtures made from it.

The network and its weight layout are described in
/work/shared/models/ml5/SOURCE.md (lengstrom/fast-style-transfer as exported
by ml5): TensorFlow 'SAME' zero padding (for a 3x3 stride-2 conv on an even
size: 0 before, 1 after), conv2d_transpose as the full transposed conv with
indices [0, 2*in) kept, instance norm with eps 1e-3 (shift first, scale
second), output tanh(x) * 150 + 127.5, clamped to 0..255, then cropped to
the input size at the top left.

Subcommands (run with --help for flags):
  fixtures   golden input/output pairs, one safetensors file per
             (style, size): tensors "input" and "output" (1, 3, H, W) float32
             pixels 0..255 (output clamped, not rounded), metadata
             {"model": style}. Computed in float64 on one thread.
  selfcheck  checks the padding choices against independent formulations
             (stride-1 conv then subsample; transposed conv as the autograd
             adjoint of the forward conv) and the converted spec.
  stylize    runs a style on a photo and writes a PNG, to look at.
  convert    writes an ml5 folder as an Atelier model file (spec + card).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
import safetensors_io  # noqa: E402
from atelier_spec import SpecNet, spec_flops, tf_same_pads  # noqa: E402

STYLES = ["la_muse", "mathura", "matilde_perez", "matta", "rain_princess",
          "scream", "udnie", "wave", "wreck"]
IN_EPS = 1e-3
FLOP_PER_PIXEL = 252288


def default_models_dir():
    """The shared ml5 folder: $ATELIER_ML5, else ../shared/models/ml5 next to
    the repository, else /work/shared/models/ml5."""
    for d in (os.environ.get("ATELIER_ML5"),
              os.path.join(REPO, "..", "shared", "models", "ml5"),
              "/work/shared/models/ml5"):
        if d and os.path.isdir(d):
            return os.path.normpath(d)
    return "/work/shared/models/ml5"


def load_ml5(folder):
    """Reads manifest.json and the raw little-endian float32 Variable files.
    Returns name -> numpy array of the manifest's shape (TF layout)."""
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    out = {}
    for name, info in manifest.items():
        fname = info["filename"]
        if os.path.basename(fname) != fname:
            raise ValueError("%s: bad filename %r" % (name, fname))
        shape = [int(d) for d in info["shape"]]
        raw = np.fromfile(os.path.join(folder, fname), dtype="<f4")
        if raw.size != int(np.prod(shape)):
            raise ValueError("%s: %d floats for shape %s"
                             % (name, raw.size, shape))
        out[name] = raw.reshape(shape)
    return out


def _var(i):
    return "Variable" if i == 0 else "Variable_%d" % i


def ml5_layout():
    """Returns the layer table: list of dicts with keys kind, name, k,
    stride, cin, cout, w (Variable index), relu; residual blocks are lists
    of two such dicts. Instance norm follows every conv, shift at w+1 and
    scale at w+2."""
    def c(name, k, s, ci, co, w, relu=True, kind="conv"):
        return {"kind": kind, "name": name, "k": k, "stride": s, "cin": ci,
                "cout": co, "w": w, "relu": relu}
    table = [c("conv1", 9, 1, 3, 32, 0), c("conv2", 3, 2, 32, 64, 3),
             c("conv3", 3, 2, 64, 128, 6)]
    for r in range(5):
        b = 9 + 6 * r
        table.append([c("res%d.conv1" % r, 3, 1, 128, 128, b),
                      c("res%d.conv2" % r, 3, 1, 128, 128, b + 3,
                        relu=False)])
    table += [c("deconv1", 3, 2, 128, 64, 39, kind="deconv"),
              c("deconv2", 3, 2, 64, 32, 42, kind="deconv"),
              c("conv4", 9, 1, 32, 3, 45, relu=False)]
    return table


def _flat(table):
    for item in table:
        yield from (item if isinstance(item, list) else [item])


class Ml5Net(torch.nn.Module):
    """The ml5 generator. forward() takes (N, 3, H, W) pixels 0..255 and
    returns tanh(x) * 150 + 127.5 at the network's own output size (up to
    3 pixels larger than the input), neither clamped nor cropped;
    stylize() clamps and crops."""

    def __init__(self, variables, dtype=torch.float32):
        super().__init__()
        self.table = ml5_layout()
        for L in _flat(self.table):
            w = variables[_var(L["w"])]
            # conv: HWIO -> OIHW. deconv: TF [kh, kw, out, in] -> PyTorch
            # conv_transpose2d (in, out, kh, kw). The same permutation.
            w = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
            key = L["name"].replace(".", "_")
            self.register_buffer(key + "_w", w.to(dtype))
            self.register_buffer(key + "_shift", torch.from_numpy(
                variables[_var(L["w"] + 1)].copy()).to(dtype))
            self.register_buffer(key + "_scale", torch.from_numpy(
                variables[_var(L["w"] + 2)].copy()).to(dtype))

    def _layer(self, x, L):
        key = L["name"].replace(".", "_")
        w = getattr(self, key + "_w")
        k, s = L["k"], L["stride"]
        if L["kind"] == "deconv":
            h, wd = x.shape[2], x.shape[3]
            x = F.conv_transpose2d(x, w, stride=s)[:, :, :2 * h, :2 * wd]
        else:
            t, b = tf_same_pads(x.shape[2], k, s)
            le, r = tf_same_pads(x.shape[3], k, s)
            if t == b and le == r:
                x = F.conv2d(x, w, stride=s, padding=(t, le))
            else:
                x = F.conv2d(F.pad(x, (le, r, t, b)), w, stride=s)
        x = F.instance_norm(x, weight=getattr(self, key + "_scale"),
                            bias=getattr(self, key + "_shift"), eps=IN_EPS)
        return torch.relu(x) if L["relu"] else x

    def forward(self, x):
        for item in self.table:
            if isinstance(item, list):
                y = x
                for L in item:
                    y = self._layer(y, L)
                x = x + y
            else:
                x = self._layer(x, item)
        return torch.tanh(x) * 150 + 127.5

    @torch.no_grad()
    def stylize(self, pixels):
        h, w = pixels.shape[2], pixels.shape[3]
        return self.forward(pixels).clamp(0, 255)[:, :, :h, :w]


class Ml5Alternative(Ml5Net):
    """The same network written differently, to check the padding choices:
    a TF 'SAME' stride-2 conv is a stride-1 'SAME' conv sampled at the
    centres TF uses (odd rows/columns for even sizes, even ones for odd
    sizes); conv2d_transpose is by definition the adjoint (gradient) of
    the forward 'SAME' conv from 2H x 2W to H x W, taken with autograd;
    instance norm is the formula written out."""

    @staticmethod
    def same_conv(x, w, stride):
        k = w.shape[2]
        y = F.conv2d(x, w, padding=k // 2)       # stride 1, centred
        if stride == 1:
            return y
        h0 = 1 if x.shape[2] % 2 == 0 else 0
        w0 = 1 if x.shape[3] % 2 == 0 else 0
        return y[:, :, h0::stride, w0::stride]

    def _layer(self, x, L):
        key = L["name"].replace(".", "_")
        w = getattr(self, key + "_w")
        if L["kind"] == "deconv":
            n, _, h, wd = x.shape
            with torch.enable_grad():
                z = torch.zeros(n, w.shape[1], 2 * h, 2 * wd, dtype=x.dtype,
                                requires_grad=True)
                # the forward conv maps w.shape[1] -> w.shape[0] channels;
                # its OIHW weight is exactly the transposed conv's weight.
                fwd = self.same_conv(z, w, 2)
                (x_,) = torch.autograd.grad(fwd, z, grad_outputs=x)
            x = x_.detach()
        else:
            x = self.same_conv(x, w, L["stride"])
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
        x = (x - mean) / torch.sqrt(var + IN_EPS)
        x = x * getattr(self, key + "_scale").view(1, -1, 1, 1) \
            + getattr(self, key + "_shift").view(1, -1, 1, 1)
        return torch.relu(x) if L["relu"] else x


class Ml5Symmetric(Ml5Net):
    """The common mistake (PyTorch padding=1, ConvTranspose2d(padding=1,
    output_padding=1)), kept only to show that the check can tell."""

    def _layer(self, x, L):
        key = L["name"].replace(".", "_")
        w = getattr(self, key + "_w")
        if L["kind"] == "deconv":
            x = F.conv_transpose2d(x, w, stride=2, padding=1,
                                   output_padding=1)
        else:
            x = F.conv2d(x, w, stride=L["stride"], padding=L["k"] // 2)
        x = F.instance_norm(x, weight=getattr(self, key + "_scale"),
                            bias=getattr(self, key + "_shift"), eps=IN_EPS)
        return torch.relu(x) if L["relu"] else x


def synthetic_image(w, h, seed=0):
    """A deterministic test picture, (3, h, w) float32 integers 0..255:
    smooth gradients (arithmetic only, no libm, so it is the same on every
    machine) under seeded rectangles, discs and stripes with hard edges and
    a little seeded noise."""
    rs = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u = x / max(w - 1, 1)
    v = y / max(h - 1, 1)
    t = (u + v) / 2
    img = np.stack([255 * u, 255 * v, 255 * 4 * t * (1 - t)])
    for _ in range(5):
        x0, x1 = sorted(rs.randint(0, w + 1, 2))
        y0, y1 = sorted(rs.randint(0, h + 1, 2))
        col = rs.randint(0, 256, 3).astype(np.float64)
        img[:, y0:y1, x0:x1] = 0.25 * img[:, y0:y1, x0:x1] \
            + 0.75 * col[:, None, None]
    for _ in range(3):
        cx, cy = rs.uniform(0, w), rs.uniform(0, h)
        rad = rs.uniform(0.1, 0.35) * min(w, h)
        m = (x - cx) ** 2 + (y - cy) ** 2 <= rad * rad
        col = rs.randint(0, 256, 3).astype(np.float64)
        img[:, m] = col[:, None]
    period = 2 + rs.randint(0, 4)
    stripes = (np.floor((x + 2 * y) / period) % 2 == 0) & (u > 0.6) & (v < 0.4)
    img[:, stripes] = 255 - img[:, stripes]
    img += rs.randint(-8, 9, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.float32)


def parse_size(s):
    w, h = s.lower().split("x")
    w, h = int(w), int(h)
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError("bad size %r" % s)
    return w, h


def make_fixture(models, style, w, h):
    """Returns (tensors, metadata) of one golden fixture."""
    net = Ml5Net(load_ml5(os.path.join(models, style)), torch.float64)
    x = torch.from_numpy(synthetic_image(w, h))[None]
    y = net.stylize(x.to(torch.float64)).to(torch.float32)
    return ({"input": x.numpy(), "output": y.numpy()}, {"model": style})


def cmd_fixtures(args):
    torch.set_num_threads(1)
    styles = STYLES if args.all else args.styles
    for style in styles:
        for w, h in args.sizes:
            tensors, meta = make_fixture(args.models, style, w, h)
            path = os.path.join(args.out, "%s_%dx%d.safetensors"
                                % (style, w, h))
            safetensors_io.save(path, tensors, meta)
            out = tensors["output"]
            print("%s: output min %.2f max %.2f mean %.2f std %.2f"
                  % (path, out.min(), out.max(), out.mean(), out.std()))
    return 0


def ml5_spec(style):
    """The Atelier spec (engine/net.h) of the ml5 network."""
    layers = []

    def conv(L):
        d = {"op": "conv2d" if L["kind"] == "conv" else "conv_transpose2d",
             "name": L["name"], "in": L["cin"], "out": L["cout"],
             "k": L["k"], "stride": L["stride"], "pad": "same"}
        if L["kind"] == "conv":
            d["pad_mode"] = "zeros"
        else:
            d["output_padding"] = 0
        d["bias"] = False
        out = [d, {"op": "instance_norm", "name": L["name"] + ".norm",
                   "channels": L["cout"], "eps": IN_EPS, "affine": True}]
        if L["relu"]:
            out.append({"op": "relu"})
        return out

    for item in ml5_layout():
        if isinstance(item, list):
            layers.append([x for L in item for x in conv(L)])
        else:
            layers += conv(item)
    layers.append({"op": "tanh"})
    return {"version": 1, "arch": "ml5-fast-style",
            "input": {"scale": 1.0, "offset": 0.0},
            "output": {"scale": 150.0, "offset": 127.5},
            "layers": layers}


def ml5_tensors(variables):
    """Weights named for ml5_spec(): OIHW convs, (Ci, Co, K, K) deconvs."""
    out = {}
    for L in _flat(ml5_layout()):
        w = variables[_var(L["w"])].transpose(3, 2, 0, 1)
        out[L["name"] + ".weight"] = np.ascontiguousarray(w, np.float32)
        out[L["name"] + ".norm.weight"] = variables[_var(L["w"] + 2)]
        out[L["name"] + ".norm.bias"] = variables[_var(L["w"] + 1)]
    return out


def cmd_convert(args):
    style = args.name or os.path.basename(os.path.normpath(args.dir))
    card = {"name": style, "title": style.replace("_", " ").title(),
            "style": style, "description": "ml5 fast style transfer, "
            "style %s (Engstrom's fast-style-transfer generator)" % style,
            "source": "github.com/ml5js/ml5-data-and-models "
            "models/style-transfer/%s" % style,
            "license": "MIT (Copyright (c) 2018 ml5)",
            "training": "trained by ml5 with ml5js/training-styletransfer"}
    meta = {"atelier.spec": json.dumps(ml5_spec(style)),
            "atelier.card": json.dumps(card)}
    safetensors_io.save(args.out, ml5_tensors(load_ml5(args.dir)), meta)
    print("wrote %s" % args.out)
    return 0


def _maxdiff(a, b):
    return (a - b).abs().max().item()


def cmd_selfcheck(args):
    torch.set_num_threads(1)
    variables = load_ml5(os.path.join(args.models, args.style))
    ref = Ml5Net(variables, torch.float64)
    alt = Ml5Alternative(variables, torch.float64)
    sym = Ml5Symmetric(variables, torch.float64)
    spec = SpecNet(ml5_tensors(variables),
                   {"atelier.spec": json.dumps(ml5_spec(args.style))})
    worst = 0.0
    print("%-8s %10s %10s %12s" % ("size", "alt", "spec", "symmetric"))
    for w, h in args.sizes:
        x = torch.from_numpy(synthetic_image(w, h))[None].to(torch.float64)
        a = ref.stylize(x)
        b = alt.stylize(x)
        c = spec.forward(x)
        d_alt, d_spec = _maxdiff(a, b), _maxdiff(a, c)
        d_sym = _maxdiff(a, sym.stylize(x))
        worst = max(worst, d_alt, d_spec)
        print("%-8s %10.2e %10.2e %12.2f" % ("%dx%d" % (w, h), d_alt,
                                             d_spec, d_sym))
    flops = spec_flops(ml5_spec(args.style), 256, 256) / (256 * 256)
    print("spec FLOP per pixel at 256x256: %.0f (SOURCE.md: %d)"
          % (flops, FLOP_PER_PIXEL))
    ok = worst < 1e-6 and abs(flops - FLOP_PER_PIXEL) < 1
    print("selfcheck %s (largest difference %.2e on the 0..255 scale)"
          % ("passed" if ok else "FAILED", worst))
    return 0 if ok else 1


def cmd_stylize(args):
    from PIL import Image
    img = Image.open(args.input).convert("RGB")
    if args.max_size and max(img.size) > args.max_size:
        img.thumbnail((args.max_size, args.max_size), Image.LANCZOS)
    x = torch.from_numpy(np.asarray(img, np.float32).transpose(2, 0, 1)
                         .copy())[None]
    net = Ml5Net(load_ml5(os.path.join(args.models, args.style)))
    y = net.stylize(x)[0].numpy().transpose(1, 2, 0)
    Image.fromarray(np.round(y).astype(np.uint8)).save(args.output)
    print("wrote %s (%dx%d)" % (args.output, img.size[0], img.size[1]))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", default=default_models_dir(),
                   help="folder with one ml5 folder per style "
                   "(default: %(default)s)")
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixtures", help="write golden fixtures")
    f.add_argument("--styles", nargs="+", default=["wave", "udnie"],
                   choices=STYLES)
    f.add_argument("--all", action="store_true", help="all nine styles")
    f.add_argument("--sizes", nargs="+", type=parse_size,
                   default=[(64, 48), (45, 35)], help="WxH ...")
    f.add_argument("--out", required=True)
    s = sub.add_parser("selfcheck", help="check padding and spec")
    s.add_argument("--style", default="wave", choices=STYLES)
    s.add_argument("--sizes", nargs="+", type=parse_size,
                   default=[(64, 48), (45, 35), (33, 50), (40, 41), (8, 8)])
    z = sub.add_parser("stylize", help="stylize a photo into a PNG")
    z.add_argument("--style", default="wave", choices=STYLES)
    z.add_argument("--max-size", type=int, default=512)
    z.add_argument("input")
    z.add_argument("output")
    c = sub.add_parser("convert", help="ml5 folder -> Atelier model file")
    c.add_argument("--name", help="model name (default: folder name)")
    c.add_argument("dir")
    c.add_argument("out")
    args = p.parse_args(argv)
    return {"fixtures": cmd_fixtures, "selfcheck": cmd_selfcheck,
            "stylize": cmd_stylize, "convert": cmd_convert}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
