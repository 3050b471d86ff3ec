#!/usr/bin/python3
"""safetensors_io.py: a small reader and writer of the safetensors format.

Debian has no `safetensors` package, so the tools use this instead. The
format (https://github.com/huggingface/safetensors), byte by byte:

    bytes 0..8      N, the header length, unsigned 64-bit little endian
    bytes 8..8+N    the header: UTF-8 JSON object. Each tensor is
                    "name": {"dtype": "F32", "shape": [..],
                             "data_offsets": [begin, end]}
                    with offsets relative to the start of the data area;
                    the optional "__metadata__" maps strings to strings.
                    The writer pads it with spaces to a multiple of 8.
    bytes 8+N..     the data area: every tensor's bytes, little endian,
                    row-major, contiguous, no gaps and no overlap.

save() writes float32 (and other plain numeric) arrays from numpy or torch;
load() reads them back as numpy arrays. Both check what they handle:
load() refuses out-of-range offsets, holes, overlaps and size mismatches.
Run this file to execute its self-test.
"""

import json
import os
import struct
import sys
import tempfile

import numpy as np

# safetensors dtype name -> numpy little-endian dtype. BF16 has no numpy
# type: it is read as uint16 and widened to float32 by load().
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
    "BF16": np.dtype("<u2"),
}
_NAMES = {np.dtype(v).newbyteorder("<").str: k
          for k, v in _DTYPES.items() if k != "BF16"}

MAX_HEADER = 100 * 1024 * 1024


def _to_numpy(value):
    """Returns a C-contiguous little-endian numpy copy of an array-like or
    torch tensor (torch is imported only if such an object is passed)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu().contiguous().numpy()
    arr = np.asarray(value)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr)


def to_bytes(tensors, metadata=None):
    """Serialises an ordered mapping name -> array into safetensors bytes.
    Tensors are laid out in the mapping's order, so the same input always
    gives the same bytes. metadata, if given, maps str -> str."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata must map str to str: %r" % (k,))
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__" or not name:
            raise ValueError("bad tensor name %r" % (name,))
        arr = _to_numpy(value)
        key = arr.dtype.newbyteorder("<").str if arr.dtype.itemsize > 1 \
            else arr.dtype.str
        if key not in _NAMES:
            raise TypeError("%s: unsupported dtype %s" % (name, arr.dtype))
        data = arr.tobytes(order="C")
        header[name] = {"dtype": _NAMES[key], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    raw = text.encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(chunks)


def save(path, tensors, metadata=None):
    """Writes a safetensors file atomically: a temporary file in the same
    directory, fsync, then rename over path."""
    blob = to_bytes(tensors, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def from_bytes(blob):
    """Parses safetensors bytes. Returns (tensors, metadata): a dict
    name -> numpy array (in file order; BF16 widened to float32) and a dict
    of metadata strings. Raises ValueError on any malformed input."""
    if len(blob) < 8:
        raise ValueError("file shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER or n > len(blob) - 8:
        raise ValueError("header length %d out of range" % n)
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("header is not JSON: %s" % e) from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str)
            for k, v in metadata.items()):
        raise ValueError("__metadata__ must map strings to strings")
    spans = []
    tensors = {}
    for name, info in header.items():
        if not isinstance(info, dict):
            raise ValueError("%s: entry is not an object" % name)
        dtype = info.get("dtype")
        shape = info.get("shape")
        offs = info.get("data_offsets")
        if dtype not in _DTYPES:
            raise ValueError("%s: unknown dtype %r" % (name, dtype))
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0
                for d in shape):
            raise ValueError("%s: bad shape %r" % (name, shape))
        if not isinstance(offs, list) or len(offs) != 2 or not all(
                isinstance(o, int) and not isinstance(o, bool) for o in offs):
            raise ValueError("%s: bad data_offsets %r" % (name, offs))
        begin, end = offs
        if not 0 <= begin <= end <= len(data):
            raise ValueError("%s: data_offsets %r outside the data area (%d)"
                             % (name, offs, len(data)))
        numel = 1
        for d in shape:
            numel *= d
        dt = _DTYPES[dtype]
        if numel * dt.itemsize != end - begin:
            raise ValueError("%s: %d bytes for shape %r of %s"
                             % (name, end - begin, shape, dtype))
        arr = np.frombuffer(data[begin:end], dtype=dt).reshape(shape).copy()
        if dtype == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = arr
        spans.append((begin, end, name))
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise ValueError("%s: data starts at %d, expected %d (hole or "
                             "overlap)" % (name, begin, pos))
        pos = end
    if pos != len(data):
        raise ValueError("data area has %d bytes, tensors use %d"
                         % (len(data), pos))
    return tensors, dict(metadata)


def load(path):
    """Reads a safetensors file; see from_bytes()."""
    with open(path, "rb") as f:
        return from_bytes(f.read())


def _selftest():
    rng = np.random.RandomState(0)
    a = rng.randn(2, 3, 5).astype(np.float32)
    b = np.arange(7, dtype=np.float32)
    blob = to_bytes({"a": a, "b.weight": b}, {"k": "v", "j": "{\"x\": 1}"})
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, n
    t, m = from_bytes(blob)
    assert list(t) == ["a", "b.weight"]
    assert np.array_equal(t["a"], a) and np.array_equal(t["b.weight"], b)
    assert m == {"k": "v", "j": "{\"x\": 1}"}
    assert to_bytes({"a": a, "b.weight": b}, {"k": "v", "j": "{\"x\": 1}"}) \
        == blob
    bad = bytearray(blob)
    bad[-1:] = b""
    for broken in (blob[:4], bytes(bad), blob + b"\0"):
        try:
            from_bytes(broken)
        except ValueError:
            continue
        raise AssertionError("accepted a broken file")
    try:
        import torch
        t2, _ = from_bytes(to_bytes({"t": torch.ones(2, 2)}))
        assert t2["t"].dtype == np.float32 and t2["t"].sum() == 4
    except ImportError:
        pass
    print("safetensors_io: self-test passed")


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] != "--selftest":
        tensors, meta = load(sys.argv[1])
        for k, v in meta.items():
            print("meta %s: %s" % (k, v if len(v) < 200 else v[:200] + "..."))
        for k, v in tensors.items():
            print("%s %s %s" % (k, v.dtype, list(v.shape)))
    else:
        _selftest()
