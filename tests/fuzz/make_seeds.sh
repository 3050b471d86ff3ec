#!/bin/sh
# Regenerates the seed corpora in tests/fuzz/corpus/ (small, committed):
# images made with Pillow, safetensors files written byte by byte, model
# specs taken from the committed fixtures, ml5 manifests, stylize queries
# and multipart requests. Needs Debian's python3 with Pillow.
cd "$(dirname "$0")" || exit 1
exec /usr/bin/python3 - <<'PY'
import io, json, os, struct, zlib
from PIL import Image

def put(target, name, data):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def picture(w, h, mode="RGB"):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 40) % 256, (y * 60) % 256, (x * y * 7) % 256)
                for y in range(h) for x in range(w)])
    return im.convert(mode)

def jpeg(im, **kw):
    b = io.BytesIO(); im.save(b, "JPEG", **kw); return b.getvalue()

def png(im, **kw):
    b = io.BytesIO(); im.save(b, "PNG", **kw); return b.getvalue()

# JPEG: baseline, progressive, subsamplings, grey, CMYK, EXIF orientations,
# restart markers, odd sizes.
put("fuzz_jpeg", "baseline_7x5.jpg", jpeg(picture(7, 5), quality=75))
put("fuzz_jpeg", "progressive_9x6.jpg", jpeg(picture(9, 6), progressive=True))
put("fuzz_jpeg", "s444_5x3.jpg", jpeg(picture(5, 3), subsampling=0))
put("fuzz_jpeg", "s422_17x9.jpg", jpeg(picture(17, 9), subsampling=1))
put("fuzz_jpeg", "grey_8x8.jpg", jpeg(picture(8, 8, "L")))
put("fuzz_jpeg", "cmyk_6x4.jpg", jpeg(picture(6, 4, "CMYK")))
put("fuzz_jpeg", "one_1x1.jpg", jpeg(picture(1, 1)))
for o in (3, 6, 8):
    ex = Image.Exif(); ex[0x0112] = o; ex[0x010F] = "atelier"
    put("fuzz_jpeg", "exif_o%d_6x4.jpg" % o, jpeg(picture(6, 4), exif=ex.tobytes()))
# EXIF in big-endian (Motorola) byte order, written by hand: APP1 after SOI.
tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 1) + \
       struct.pack(">HHIHH", 0x0112, 3, 1, 5, 0) + b"\x00\x00\x00\x00"
app1 = b"Exif\x00\x00" + tiff
base = jpeg(picture(6, 4))
put("fuzz_jpeg", "exif_be_o5.jpg", base[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) +
    app1 + base[2:])
put("fuzz_jpeg", "truncated.jpg", base[: len(base) // 2])

# PNG: every colour type, bit depths, palette with transparency, text.
put("fuzz_png", "rgb_7x5.png", png(picture(7, 5)))
put("fuzz_png", "rgba_5x4.png", png(picture(5, 4, "RGBA")))
put("fuzz_png", "grey_6x3.png", png(picture(6, 3, "L")))
put("fuzz_png", "greyalpha_3x3.png", png(picture(3, 3, "LA")))
put("fuzz_png", "bits1_9x2.png", png(picture(9, 2, "1")))
put("fuzz_png", "grey16_4x4.png", png(picture(4, 4, "L").convert("I")))
pal = picture(8, 4, "P"); pal.info["transparency"] = 0
put("fuzz_png", "palette_trns_8x4.png", png(pal))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\x00" + bytes(range(y, y + 6)) for y in range(2))
put("fuzz_png", "hand_rgb16_1x2.png", b"\x89PNG\r\n\x1a\n" +
    chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 2, 16, 2, 0, 0, 0)) +
    chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
raw = b"".join(b"\x00" + bytes([y] * 3 * 4) for y in range(4))
put("fuzz_png", "hand_interlaced_4x4.png", b"\x89PNG\r\n\x1a\n" +
    chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 1)) +
    chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

# safetensors, written here byte by byte.
def st(tensors, meta=None, pad=True):
    header, blob = {}, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob
f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
put("fuzz_safetensors", "f32.st", st([("w", "F32", [2, 3], f32)], {"k": "v"}))
put("fuzz_safetensors", "mixed.st", st([("a", "U8", [3], b"abc"), ("b", "F32", [1], f32[:4]),
                                        ("c", "F16", [2], b"\x00\x3c\x00\xc0"),
                                        ("d", "BF16", [], b"\x80\x3f"),
                                        ("e", "I64", [1, 1], struct.pack("<q", -5)),
                                        ("f", "BOOL", [0], b"")], None, pad=False))
put("fuzz_safetensors", "empty.st", st([], {}))
put("fuzz_safetensors", "dims8.st", st([("x", "I8", [1] * 8, b"\x07")]))

# Model specs: the fixtures' own, and a spec of every op.
def spec_of(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))["__metadata__"]["atelier.spec"].encode()
for p in ("../fixtures/torch/transformer_net.safetensors", "../fixtures/torch/resnet9.safetensors"):
    if os.path.exists(p):
        put("fuzz_spec", os.path.basename(p).split(".")[0] + ".json", spec_of(p))
every = {"version": 1, "arch": "every-op", "input": {"scale": 1.0, "offset": 0.0},
         "output": {"scale": 150, "offset": 127.5}, "layers": [
    {"op": "conv2d", "name": "c1", "in": 3, "out": 4, "k": 3, "stride": 2, "pad": "same",
     "pad_mode": "zeros", "bias": True},
    {"op": "instance_norm", "name": "n1", "channels": 4, "eps": 1e-5, "affine": True},
    {"op": "leaky_relu", "slope": 0.2},
    [{"op": "conv2d", "name": "r1", "in": 4, "out": 4, "k": 3, "stride": 1, "pad": [1, 1, 1, 1],
      "pad_mode": "reflect", "bias": False}, {"op": "relu"}],
    {"op": "upsample", "scale": 2, "mode": "nearest"},
    {"op": "conv_transpose2d", "name": "t1", "in": 4, "out": 3, "k": 3, "stride": 2,
     "pad": 1, "output_padding": 1, "bias": True},
    {"op": "instance_norm", "name": "n2", "channels": 3, "eps": 1e-3, "affine": False},
    {"op": "tanh"}]}
put("fuzz_spec", "every_op.json", json.dumps(every).encode())
tf = {"version": 1, "arch": "ml5-like", "input": {"scale": 1.0, "offset": 0.0},
      "output": {"scale": 150, "offset": 127.5}, "layers": [
    {"op": "conv2d", "name": "a", "in": 3, "out": 2, "k": 9, "stride": 1, "pad": "same",
     "pad_mode": "zeros", "bias": False},
    {"op": "conv2d", "name": "b", "in": 2, "out": 2, "k": 3, "stride": 2, "pad": "same",
     "pad_mode": "zeros", "bias": False},
    {"op": "conv_transpose2d", "name": "c", "in": 2, "out": 3, "k": 3, "stride": 2,
     "pad": "same", "output_padding": 0, "bias": False}, {"op": "tanh"}]}
put("fuzz_spec", "tf_same.json", json.dumps(tf).encode())

# ml5 manifests: the exporter's layout (Variable, Variable_1, ... each with
# a filename and a TF shape), and variations of it.
conv = [(9, 3, 32, 0), (3, 32, 64, 0), (3, 64, 128, 0)] + [(3, 128, 128, 0)] * 10 + \
       [(3, 128, 64, 1), (3, 64, 32, 1), (9, 32, 3, 0)]
man = {}
for i, (k, ci, co, t) in enumerate(conv):
    shapes = [[k, k, co, ci] if t else [k, k, ci, co], [co], [co]]
    for j in range(3):
        n = 3 * i + j
        man["Variable" if n == 0 else "Variable_%d" % n] = {
            "filename": "variable_%d" % n, "shape": shapes[j]}
put("fuzz_ml5", "exporter.json", json.dumps(man).encode())
bad = dict(man); bad["Variable_4"] = {"filename": "../variable_4", "shape": [64]}
put("fuzz_ml5", "dotdot.json", json.dumps(bad).encode())
bad = dict(man); bad["Variable_7"] = {"filename": "variable_7", "shape": [3, 3, 128, 129]}
put("fuzz_ml5", "shape.json", json.dumps(bad).encode())
put("fuzz_ml5", "empty.json", b"{}")

# Stylize queries and other requests for fuzz_query:
# "METHOD TARGET\nCONTENT-TYPE\nAUTHORIZATION\nBODY".
tiny_png = png(picture(4, 3))
reqs = {
    "stylize_png": b"POST /stylize?model=tiny&strength=0.5&max_size=64&format=jpeg&quality=80"
                   b"\nimage/png\n\n" + tiny_png,
    "stylize_jpeg": b"POST /stylize?preserve_colors&format=png\nimage/jpeg; q=1\n\n" +
                    jpeg(picture(5, 4)),
    "stylize_form": b"POST /stylize?preserve_colors=off\nmultipart/form-data; boundary=x\n\n" +
                    tiny_png,
    "stylize_bad": b"POST /stylize?strength=1e999&max_size=-0&quality=%00&model=..%2f"
                   b"\napplication/octet-stream\n\nGIF89a",
    "models": b"GET /models\n\n\n",
    "model": b"GET /models/tiny\n\n\n",
    "current": b"PUT /models/tiny/current?version=1\napplication/json\nBearer s3cret\n"
               b"{\"version\": 1}",
    "head": b"HEAD /stylize\n\n\n",
    "train": b"POST /train\napplication/json\nBearer s3cret\n{}",
    "metrics": b"GET /metrics\n\n\n",
    "readyz": b"GET /readyz?x=%2e%2e\n\n\n",
}
for k, v in reqs.items():
    put("fuzz_query", k + ".txt", v)

# Multipart bodies for fuzz_multipart: "CONTENT-TYPE\nBODY".
def form(boundary, parts, ctype=None):
    b = boundary.encode()
    out = b""
    for name, data, filename, ptype in parts:
        out += b"--" + b + b"\r\nContent-Disposition: form-data; name=\"" + name.encode() + b"\""
        if filename:
            out += b"; filename=\"" + filename.encode() + b"\""
        out += b"\r\n"
        if ptype:
            out += b"Content-Type: " + ptype.encode() + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + b + b"--\r\n"
    return (ctype or "multipart/form-data; boundary=" + boundary).encode() + b"\n" + out
put("fuzz_multipart", "image_png.txt", form("xYz", [("image", tiny_png, "a.png", "image/png")]))
put("fuzz_multipart", "image_jpeg.txt", form("----b0", [("note", b"hi", None, None),
    ("image", jpeg(picture(5, 4)), "a.jpg", "image/jpeg")]))
put("fuzz_multipart", "two_images.txt", form("q", [("image", tiny_png, None, None),
    ("image", tiny_png, None, None)]))
put("fuzz_multipart", "no_image.txt", form("q", [("other", b"x" * 40, None, None)]))
put("fuzz_multipart", "quoted.txt", form("a b", [("image", tiny_png, "x", None)],
    'multipart/form-data; charset=utf-8; boundary="a b"'))
put("fuzz_multipart", "truncated.txt", form("zz", [("image", tiny_png, None, None)])[:-30])
# Training configs for fuzz_train: the POST /train `config` field, and with
# a leading 'J' a stored job.json as the server writes it.
def dump(o):
    return json.dumps(o, indent=2).encode()
configs = {
    "tiny": {"name": "painted", "steps": 6, "size": 64, "checkpoint_every": 2, "width": 8,
             "blocks": 1},
    "name_only": {"name": "x"},
    "all": {"name": "all-fields_1", "steps": 4000, "size": 256, "batch": 2,
            "checkpoint_every": 500, "seed": 9007199254740992, "lr": 0.0002, "w_adv": 1,
            "w_content": 10, "w_style": 1.5e3, "w_tv": 0, "width": 32, "blocks": 5,
            "style_title": "Starry Night", "style_license": "public domain"},
    "init": {"name": "painted2", "steps": 2, "init": "painted"},
    "edges": {"name": "e", "steps": 1000000, "size": 1024, "batch": 16, "lr": 1e-7,
              "w_style": 1e6, "width": 4, "blocks": 0, "seed": 0},
    "unknown": {"name": "x", "stepz": 5},
    "init_version": {"name": "x", "init_version": 3},
    "style": {"name": "sn", "size": 128, "style_loss": "swd", "style_scale": [0.15, 0.4],
              "content_pool": 2},
    "style_bad": {"name": "sn", "style_loss": "vgg", "style_scale": [0.6, 0.1, 2],
                  "content_pool": 3},
}
for k, v in configs.items():
    put("fuzz_train", k + ".json", dump(v))
put("fuzz_train", "bad_size.json", b'{"name": "x", "size": 66, "lr": -1}')
put("fuzz_train", "not_object.json", b'[1, {"name": "x"}]')
def job(state, **kw):
    o = {"id": "0123456789abcdef", "state": state, "model": "painted", "step": 4, "steps": 6,
         "losses": {"d": 0.5, "g_adv": 0.7, "content": 3.2, "style": 1.1, "tv": 0},
         "steps_per_s": 0, "eta_s": None, "versions": [1, 2], "created": 1763700000.5,
         "started": 1763700001.25, "finished": None, "error": None, "cancel_requested": False,
         "config": {"name": "painted", "steps": 6, "size": 64, "batch": 1,
                    "checkpoint_every": 2, "seed": 1, "lr": 0.0002, "w_adv": 1,
                    "w_content": 10, "w_style": 1, "w_tv": 0, "width": 8, "blocks": 1,
                    "style_title": "", "style_license": ""},
         "seq": 3, "uploaded_content": True, "has_run": True, "elapsed_s": 1.5}
    o.update(kw)
    return b"J" + dump(o)
put("fuzz_train", "job_running.txt", job("running"))
put("fuzz_train", "job_queued.txt", job("queued", step=0, versions=[], has_run=False))
put("fuzz_train", "job_succeeded.txt", job("succeeded", step=6, versions=[1, 2, 3],
                                            finished=1763700009.0))
put("fuzz_train", "job_failed.txt", job("failed", error="cannot read the style images"))
put("fuzz_train", "job_bad_config.txt", job("queued", config={"name": "Bad Name"}))
PY
