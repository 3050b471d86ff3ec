#!/usr/bin/python3
"""atelier_spec.py: the Python twin of engine/net.c, in PyTorch.

Runs an Atelier model file (safetensors with an "atelier.spec" JSON network
spec in __metadata__, see engine/net.h) exactly as net.h documents it. The
converters use it to prove that the spec they emit computes what the source
network computes; it is also a quick way to run a model file from Python:

    tools/atelier_spec.py MODEL.safetensors [IO.safetensors]

with an IO file (tensors "input" and "output", as the fixtures hold) it
runs "input" through the model and prints the largest difference from
"output".
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


def tf_same_pads(size, k, stride):
    """TensorFlow 'SAME': output ceil(size / stride); returns the padding
    (before, after), the smaller half before."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _conv2d(x, layer, w, b):
    k, s = layer["k"], layer.get("stride", 1)
    pad = layer.get("pad", 0)
    if pad == "same":
        t, bo = tf_same_pads(x.shape[2], k, s)
        le, r = tf_same_pads(x.shape[3], k, s)
    elif isinstance(pad, int):
        t = bo = le = r = pad
    else:
        t, bo, le, r = pad
    mode = layer.get("pad_mode", "zeros")
    if mode not in ("zeros", "reflect"):
        raise ValueError("%s: pad_mode %r" % (layer["name"], mode))
    if t or bo or le or r:
        x = F.pad(x, (le, r, t, bo),
                  mode="constant" if mode == "zeros" else "reflect")
    return F.conv2d(x, w, b, stride=s)


def _conv_transpose2d(x, layer, w, b):
    k, s = layer["k"], layer.get("stride", 1)
    pad = layer.get("pad", 0)
    if pad == "same":
        h, wd = x.shape[2], x.shape[3]
        y = F.conv_transpose2d(x, w, b, stride=s)
        c = max(k - s, 0) // 2
        return y[:, :, c:c + h * s, c:c + wd * s]
    return F.conv_transpose2d(x, w, b, stride=s, padding=pad,
                              output_padding=layer.get("output_padding", 0))


def _run_layers(x, layers, weights):
    for layer in layers:
        if isinstance(layer, list):
            x = x + _run_layers(x, layer, weights)
            continue
        op = layer["op"]
        if op in ("conv2d", "conv_transpose2d"):
            n = layer["name"]
            w = weights[n + ".weight"]
            b = weights[n + ".bias"] if layer.get("bias") else None
            fn = _conv2d if op == "conv2d" else _conv_transpose2d
            x = fn(x, layer, w, b)
        elif op == "instance_norm":
            n = layer["name"]
            mean = x.mean(dim=(2, 3), keepdim=True)
            var = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
            x = (x - mean) / torch.sqrt(var + layer["eps"])
            if layer.get("affine"):
                c = layer["channels"]
                x = x * weights[n + ".weight"].view(1, c, 1, 1) \
                    + weights[n + ".bias"].view(1, c, 1, 1)
        elif op == "relu":
            x = torch.relu(x)
        elif op == "leaky_relu":
            x = F.leaky_relu(x, layer["slope"])
        elif op == "tanh":
            x = torch.tanh(x)
        elif op == "upsample":
            if layer.get("mode", "nearest") != "nearest":
                raise ValueError("upsample mode %r" % layer.get("mode"))
            x = F.interpolate(x, scale_factor=layer["scale"], mode="nearest")
        else:
            raise ValueError("unknown op %r" % op)
    return x


class SpecNet:
    """A model file loaded for running: spec (dict), card (dict), weights
    (name -> torch tensor of the chosen dtype)."""

    def __init__(self, tensors, metadata, dtype=torch.float64):
        self.spec = json.loads(metadata["atelier.spec"])
        self.card = json.loads(metadata.get("atelier.card", "{}"))
        self.weights = {k: torch.from_numpy(np.asarray(v, np.float32))
                        .to(dtype) for k, v in tensors.items()}
        self.dtype = dtype
        if self.spec.get("version") != 1:
            raise ValueError("spec version %r" % self.spec.get("version"))

    @classmethod
    def load(cls, path, dtype=torch.float64):
        tensors, metadata = safetensors_io.load(path)
        return cls(tensors, metadata, dtype)

    @torch.no_grad()
    def forward(self, pixels):
        """pixels: (N, 3, H, W) 0..255. Returns (N, 3, H, W) pixels,
        clamped to 0..255 and cropped to the input size at the top left."""
        h, w = pixels.shape[2], pixels.shape[3]
        i, o = self.spec["input"], self.spec["output"]
        x = pixels.to(self.dtype) * i["scale"] + i["offset"]
        y = _run_layers(x, self.spec["layers"], self.weights)
        if y.shape[2] < h or y.shape[3] < w:
            raise ValueError("network output %s is smaller than the input"
                             % (tuple(y.shape),))
        y = (y * o["scale"] + o["offset"]).clamp(0, 255)
        return y[:, :, :h, :w]


def spec_flops(spec, h, w):
    """Multiply-adds x2 of the convolutions for an h x w input (the count
    net_flops() documents), found by walking the spec's shapes."""
    total = 0.0

    def walk(layers, ch, hh, ww):
        nonlocal total
        for layer in layers:
            if isinstance(layer, list):
                ch, hh, ww = walk(layer, ch, hh, ww)
                continue
            op = layer["op"]
            if op == "conv2d":
                k, s, pad = layer["k"], layer.get("stride", 1), \
                    layer.get("pad", 0)
                if pad == "same":
                    oh, ow = math.ceil(hh / s), math.ceil(ww / s)
                else:
                    t, b, le, r = [pad] * 4 if isinstance(pad, int) else pad
                    oh = (hh + t + b - k) // s + 1
                    ow = (ww + le + r - k) // s + 1
                total += 2.0 * k * k * layer["in"] * layer["out"] * oh * ow
                ch, hh, ww = layer["out"], oh, ow
            elif op == "conv_transpose2d":
                k, s, pad = layer["k"], layer.get("stride", 1), \
                    layer.get("pad", 0)
                total += 2.0 * k * k * layer["in"] * layer["out"] * hh * ww
                if pad == "same":
                    hh, ww = hh * s, ww * s
                else:
                    op_ = layer.get("output_padding", 0)
                    hh = (hh - 1) * s - 2 * pad + k + op_
                    ww = (ww - 1) * s - 2 * pad + k + op_
                ch = layer["out"]
            elif op == "upsample":
                hh, ww = hh * layer["scale"], ww * layer["scale"]
        return ch, hh, ww

    walk(spec["layers"], 3, h, w)
    return total


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    net = SpecNet.load(argv[1])
    print("arch %s, %d tensors, card %s" % (net.spec.get("arch"),
                                             len(net.weights),
                                             json.dumps(net.card)))
    if len(argv) == 3:
        io, _ = safetensors_io.load(argv[2])
        x = torch.from_numpy(io["input"])
        y = net.forward(x).to(torch.float32).numpy()
        d = np.abs(y - io["output"])
        print("max |diff| %.3g, mean %.3g over %s" % (d.max(), d.mean(),
                                                      list(y.shape)))
        return 0 if d.max() < 1e-2 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
