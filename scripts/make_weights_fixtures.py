#!/usr/bin/python3
"""Writes the torch.save fixtures of the weights reader under tests/fixtures/weights/.

Run with Debian's /usr/bin/python3 (torch 1.13) from anywhere:
    /usr/bin/python3 scripts/make_weights_fixtures.py

What it writes (all small; the total stays well under 1 MB):
  tiny_zip.pth, tiny_zip_p4.pth, tiny_legacy.pth   a tiny conv/bn/linear state dict plus extra
        entries of every dtype, a transposed (non-contiguous) tensor and views sharing storage,
        an nn.Parameter, a 0-dim scalar and an empty tensor; zip (pickle protocol 2 and 4) and
        legacy format
  tiny_zip64.pth        the zip one rewritten with zip64 extra fields and end records, plus the
        byteorder and .data/serialization_id entries of newer writers
  big_endian.pth        the same with byteorder "big" (must be refused)
  checkpoint_zip.pth.tar, checkpoint_legacy.pth.tar   {'epoch', 'state_dict' (DataParallel's
        'module.' names), 'optimizer' (Adam after a step), 'best_loss'}
  chexnet_legacy.pth.tar  written by hand as a 0.3-era file: Python 2 strings and OrderedDict
        reduction, torch._utils._rebuild_tensor (4 arguments), torch.cuda.FloatStorage,
        storage views (view_metadata), 'module.densenet121.' names with dotted DenseNet layers
  compressed.pth        tiny_zip.pth re-zipped with deflate (must be refused)
  bad_view_legacy.pth, bad_overflow_legacy.pth   a tensor view past its storage's end, plainly
        and through int64 overflow (must be refused)
  hostile_*.pth         pickles that would run a command (touch MARKER) if unpickled by Python
  expected.json         what the C test compares against: per file the format, the state-dict
        key and per tensor name, normalized name, dtype, shape, strides, contiguity, storage
        sharing, values (all, or the first 64, as float64) and the sum of the values as float32
The legacy files torch writes name storages by memory address, so they differ from run to run
(the zip ones and the hand-made ones are reproducible).
Every non-hostile fixture is loaded back with torch.load and compared to what was saved.
"""
import collections
import json
import os
import re
import struct
import zipfile

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "weights")
MARKER = "/tmp/xraycls-weights-hostile-marker"
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
          torch.uint8: "U8", torch.bool: "BOOL"}


def path(name):
    return os.path.join(OUT, name)


# ---- the tiny model ---------------------------------------------------------------------------

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.bn1(self.conv1(x)).mean((2, 3)))


def tiny_model():
    torch.manual_seed(0)
    m = Tiny()
    m.train()
    m(torch.randn(2, 3, 6, 6))  # running stats and num_batches_tracked move
    return m


def tiny_state_dict(m):
    sd = m.state_dict()  # an OrderedDict with _metadata (written through BUILD)
    g = torch.Generator().manual_seed(1)
    sd["extra.f64"] = torch.randn(2, 3, dtype=torch.float64, generator=g)
    sd["extra.f16"] = torch.randn(5, generator=g).half()
    sd["extra.bf16"] = torch.randn(2, 2, generator=g).bfloat16()
    sd["extra.i32"] = torch.tensor([-7, 0, 123456], dtype=torch.int32)
    sd["extra.i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    sd["extra.i8"] = torch.tensor([-128, 5, 127], dtype=torch.int8)
    sd["extra.u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["extra.bool"] = torch.tensor([True, False, True])
    sd["extra.fc_t"] = sd["fc.weight"].t()           # (4, 3), strides (1, 4), shares fc.weight
    sd["extra.view"] = sd["conv1.weight"][1]         # offset 27, contiguous, shares conv1.weight
    sd["extra.slice"] = sd["conv1.weight"][:, 1]     # offset 9, strides (27, 3, 1)
    sd["extra.param"] = nn.Parameter(torch.randn(2, generator=g))  # _rebuild_parameter
    sd["extra.scalar"] = torch.tensor(2.5)
    sd["extra.empty"] = torch.zeros(0, 3)
    return sd


# ---- the expected description -----------------------------------------------------------------

def normalize(name):
    """The rules of xc_weights_normalize_name, for the expected file."""
    while name.startswith("module."):
        name = name[len("module."):]
    for w in ("densenet121.", "densenet161.", "densenet169.", "densenet201.", "resnet18.",
              "resnet34.", "resnet50.", "resnet101.", "resnet152."):
        if name.startswith(w):
            name = name[len(w):]
            break
    m = re.match(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|"
                 r"running_var|num_batches_tracked))$", name)
    return m.group(1) + m.group(2) if m else name


def describe(sd, fmt, key):
    tensors, first_of_storage = [], {}
    for name, t in sd.items():
        t = t.detach()
        ptr = t.storage().data_ptr() if t.numel() else None
        share = first_of_storage.setdefault(ptr, name) if ptr is not None else name
        exact = t.reshape(-1).double()  # every dtype here converts to float64 exactly
        tensors.append({
            "name": name, "norm_name": normalize(name), "dtype": DTYPES[t.dtype],
            "shape": list(t.shape), "strides": list(t.stride()), "contiguous": t.is_contiguous(),
            "shares": share, "values": exact[:64].tolist(),
            "sum": float(t.reshape(-1).float().double().sum()),  # of the float32 values
        })
    return {"format": fmt, "state_dict_key": key, "tensors": tensors}


def check_same(a, b, what):
    assert list(a.keys()) == list(b.keys()), what
    for k in a:
        x, y = a[k], b[k]
        assert x.dtype == y.dtype and x.shape == y.shape and x.stride() == y.stride(), (what, k)
        assert torch.equal(x, y), (what, k)


# ---- a pickle writer for the hand-made files ----------------------------------------------------

class Pickle:
    """Protocol-2 opcodes, Python 2 style (str as SHORT_BINSTRING/BINSTRING)."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")

    def s(self, x):  # a Python 2 str
        x = x.encode()
        self.b += (b"U" + bytes([len(x)]) if len(x) < 256 else b"T" + struct.pack("<i", len(x))) + x

    def u(self, x):  # a unicode string
        x = x.encode()
        self.b += b"X" + struct.pack("<I", len(x)) + x

    def i(self, x):
        if 0 <= x < 256:
            self.b += b"K" + bytes([x])
        elif 0 <= x < 65536:
            self.b += b"M" + struct.pack("<H", x)
        elif -2**31 <= x < 2**31:
            self.b += b"J" + struct.pack("<i", x)
        else:
            n = (x.bit_length() + 8) // 8
            self.b += b"\x8a" + bytes([n]) + x.to_bytes(n, "little", signed=True)

    def f(self, x):
        self.b += b"G" + struct.pack(">d", x)

    def g(self, mod, name):
        self.b += b"c" + mod.encode() + b"\n" + name.encode() + b"\n"

    def op(self, x):
        self.b += x

    def stop(self):
        self.b += b"."
        return bytes(self.b)


def one_value(v):
    p = Pickle()
    if isinstance(v, int):
        p.i(v)
    return p.stop()


class Tensor0_3:
    """A tensor as a 0.3-era legacy file stores it."""

    def __init__(self, key, numel, view, offset, size, stride):
        self.key, self.numel, self.view = key, numel, view
        self.offset, self.size, self.stride = offset, size, stride


def emit(p, v):
    if isinstance(v, Tensor0_3):
        p.g("torch._utils", "_rebuild_tensor")
        p.op(b"(")
        p.op(b"(")  # the persistent id
        p.s("storage")
        p.g("torch.cuda", "FloatStorage")
        p.s(v.key)
        p.s("cuda:0")
        p.i(v.numel)
        if v.view is None:
            p.op(b"N")
        else:
            p.op(b"(")
            p.s(v.view[0])
            p.i(v.view[1])
            p.i(v.view[2])
            p.op(b"t")
        p.op(b"tQ")
        p.i(v.offset)
        emit(p, tuple(v.size))
        emit(p, tuple(v.stride))
        p.op(b"tR")
    elif isinstance(v, collections.OrderedDict):
        # Python 2: OrderedDict.__reduce__ = (OrderedDict, ([[k, v], ...],), {'_metadata': ...})
        p.g("collections", "OrderedDict")
        p.op(b"](")
        for k, x in v.items():
            p.op(b"](")
            emit(p, k)
            emit(p, x)
            p.op(b"e")
        p.op(b"e\x85R")
        emit(p, {"_metadata": {}})
        p.op(b"b")
    elif isinstance(v, dict):
        p.op(b"}(")
        for k, x in v.items():
            emit(p, k)
            emit(p, x)
        p.op(b"u")
    elif isinstance(v, list):
        p.op(b"](")
        for x in v:
            emit(p, x)
        p.op(b"e")
    elif isinstance(v, tuple):
        p.op(b"(")
        for x in v:
            emit(p, x)
        p.op(b"t")
    elif isinstance(v, bool):
        p.op(b"\x88" if v else b"\x89")
    elif isinstance(v, int):
        p.i(v)
    elif isinstance(v, float):
        p.f(v)
    elif isinstance(v, str):
        p.s(v)
    elif v is None:
        p.op(b"N")
    else:
        raise TypeError(v)


def legacy_prefix():
    """Magic number, protocol version and sys_info, as torch < 1.6 wrote them."""
    out = bytearray()
    p = Pickle()
    p.i(0x1950a86a20f9469cfc6c)
    out += p.stop()
    out += one_value(1001)
    p = Pickle()
    emit(p, {"protocol_version": 1001, "little_endian": True,
             "type_sizes": {"short": 2, "int": 4, "long": 8}})
    out += p.stop()
    return out


def chexnet_like():
    """A tiny DenseNet under CheXNet's wrapper names, saved the 0.3 way."""
    g = torch.Generator().manual_seed(2)
    pre = "module.densenet121."
    shapes = collections.OrderedDict()
    shapes["features.conv0.weight"] = (4, 3, 3, 3)
    for bn in ["features.norm0"]:
        for p in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{bn}.{p}"] = (4,)
    cin = 4
    for k in (1, 2):
        L = f"features.denseblock1.denselayer{k}."
        for p in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{L}norm.1.{p}"] = (cin,)
        shapes[f"{L}conv.1.weight"] = (8, cin, 1, 1)
        for p in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{L}norm.2.{p}"] = (8,)
        shapes[f"{L}conv.2.weight"] = (2, 8, 3, 3)
        cin += 2
    for p in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"features.transition1.norm.{p}"] = (cin,)
    shapes["features.transition1.conv.weight"] = (4, cin, 1, 1)
    for p in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"features.norm5.{p}"] = (4,)
    shapes["classifier.0.weight"] = (14, 4)
    shapes["classifier.0.bias"] = (14,)

    values = collections.OrderedDict()
    for n, s in shapes.items():
        values[pre + n] = torch.randn(*s, generator=g)
    # Storages: one root per tensor, except norm5.weight and norm5.bias, two views of one root
    # of 8 elements, and classifier.0.bias, which lives at offset 2 of a root of 16.
    roots, objs, key = {}, collections.OrderedDict(), 140000000
    for n, t in values.items():
        size, stride = list(t.shape), list(t.stride())
        if n.endswith("norm5.weight") or n.endswith("norm5.bias"):
            rk = "shared_norm5"
            if rk not in roots:
                roots[rk] = torch.cat([values[pre + "features.norm5.weight"], values[pre + "features.norm5.bias"]])
            off = 0 if n.endswith("weight") else 4
            objs[n] = Tensor0_3(rk, 8, (rk + "_v" + str(off), off, 4), 0, size, stride)
        elif n.endswith("classifier.0.bias"):
            rk = str(key)
            key += 1
            roots[rk] = torch.cat([torch.full((2,), 9.0), t])
            objs[n] = Tensor0_3(rk, 16, None, 2, size, stride)
        else:
            rk = str(key)
            key += 1
            roots[rk] = t.reshape(-1)
            objs[n] = Tensor0_3(rk, t.numel(), None, 0, size, stride)
    top = {"epoch": 7, "arch": "densenet121", "state_dict": objs, "best_loss": 0.25,
           "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999),
                                                       "weight_decay": 1e-5, "params": [139, 140]}]}}
    out = legacy_prefix()
    p = Pickle()
    emit(p, top)
    out += p.stop()
    keys = sorted(roots)
    p = Pickle()
    emit(p, keys)
    out += p.stop()
    for k in keys:
        out += struct.pack("<q", roots[k].numel()) + roots[k].float().numpy().tobytes()
    return bytes(out), values


# ---- hostile files ------------------------------------------------------------------------------

def bad_view_legacy(size, stride, offset):
    """A legacy file with one tensor whose view does not fit its 4-element storage."""
    out = legacy_prefix()
    p = Pickle()
    emit(p, {"w": Tensor0_3("1", 4, None, offset, size, stride)})
    out += p.stop()
    p = Pickle()
    emit(p, ["1"])
    out += p.stop()
    out += struct.pack("<q", 4) + struct.pack("<4f", 1, 2, 3, 4)
    return bytes(out)


def hostile_os_system():
    """A bare pickle: os.system('touch MARKER')."""
    p = Pickle()
    p.g("os", "system")
    p.u(f"touch {MARKER}")
    p.op(b"\x85R")
    return p.stop()


def hostile_eval_legacy():
    """A legacy container whose object pickle (protocol 4) calls builtins.eval via STACK_GLOBAL."""
    code = f"__import__('os').system('touch {MARKER}')".encode()
    obj = bytearray(b"\x80\x04")
    for s in (b"builtins", b"eval"):
        obj += b"\x8c" + bytes([len(s)]) + s + b"\x94"  # SHORT_BINUNICODE, MEMOIZE
    obj += b"\x93\x94"                                   # STACK_GLOBAL, MEMOIZE
    obj += b"\x8c" + bytes([len(code)]) + code + b"\x94"
    obj += b"\x85R."                                      # TUPLE1, REDUCE, STOP
    return bytes(legacy_prefix()) + obj


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


# ---- a zip writer with zip64 fields -------------------------------------------------------------

def write_zip64(entries):
    """Stored entries whose sizes and offsets all go through zip64 extra fields."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        name_b, crc, off = name.encode(), zipfile.crc32(data) & 0xffffffff, len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0, crc, 0xffffffff, 0xffffffff,
                           len(name_b), len(extra)) + name_b + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0, crc, 0xffffffff,
                               0xffffffff, len(name_b), len(cextra), 0, 0, 0, 0, 0xffffffff) + name_b + cextra
    cd_off = len(out)
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064b50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
    return bytes(out)


# ---- main ---------------------------------------------------------------------------------------

def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {"marker": MARKER, "files": {}, "refused": {}, "errors": {}}

    def save(name, obj, fmt, key, sd, **kw):
        torch.save(obj, path(name), **kw)
        back = torch.load(path(name))
        check_same(back[key] if key else back, sd, name)
        expected["files"][name] = describe(sd, fmt, key)

    m = tiny_model()
    sd = tiny_state_dict(m)
    save("tiny_zip.pth", sd, "zip", "", sd)
    save("tiny_zip_p4.pth", sd, "zip", "", sd, pickle_protocol=4)
    save("tiny_legacy.pth", sd, "legacy", "", sd, _use_new_zipfile_serialization=False)

    with zipfile.ZipFile(path("tiny_zip.pth")) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    # Newer writers add byteorder and .data/serialization_id; a big-endian file must be refused.
    newer = entries + [("tiny_zip/byteorder", b"little"), ("tiny_zip/.data/serialization_id", b"1234567890")]
    with open(path("tiny_zip64.pth"), "wb") as f:
        f.write(write_zip64(newer))
    with open(path("big_endian.pth"), "wb") as f:
        f.write(write_zip64(entries + [("tiny_zip/byteorder", b"big")]))
    expected["errors"]["big_endian.pth"] = "only little-endian"
    check_same(torch.load(path("tiny_zip64.pth")), sd, "tiny_zip64.pth")
    expected["files"]["tiny_zip64.pth"] = describe(sd, "zip", "")

    with zipfile.ZipFile(path("compressed.pth"), "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in entries:
            z.writestr(zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0)), d, zipfile.ZIP_DEFLATED)
    expected["errors"]["compressed.pth"] = "is compressed"

    # A checkpoint of a DataParallel model: 'module.' names, Adam state beside.
    dp = nn.DataParallel(m)
    opt = torch.optim.Adam(dp.parameters(), lr=1e-3)
    dp(torch.randn(2, 3, 6, 6)).sum().backward()
    opt.step()
    msd = dp.state_dict()
    ck = {"epoch": 3, "state_dict": msd, "optimizer": opt.state_dict(), "best_loss": 0.1}
    save("checkpoint_zip.pth.tar", ck, "zip", "state_dict", msd)
    save("checkpoint_legacy.pth.tar", ck, "legacy", "state_dict", msd, _use_new_zipfile_serialization=False)

    data, values = chexnet_like()
    with open(path("chexnet_legacy.pth.tar"), "wb") as f:
        f.write(data)
    back = torch.load(path("chexnet_legacy.pth.tar"), map_location="cpu")
    check_same(collections.OrderedDict((k, v.contiguous()) for k, v in back["state_dict"].items()), values,
               "chexnet_legacy.pth.tar")
    assert back["epoch"] == 7 and back["best_loss"] == 0.25
    desc = describe(values, "legacy", "state_dict")
    for t in desc["tensors"]:  # the two views of one root storage
        if t["name"].endswith("features.norm5.bias"):
            t["shares"] = t["name"].replace("bias", "weight")
    expected["files"]["chexnet_legacy.pth.tar"] = desc

    with open(path("bad_view_legacy.pth"), "wb") as f:
        f.write(bad_view_legacy([3], [1], 2))
    expected["errors"]["bad_view_legacy.pth"] = "outside storage"
    with open(path("bad_overflow_legacy.pth"), "wb") as f:
        f.write(bad_view_legacy([2**40, 2**40], [2**40, 2**40], 0))
    expected["errors"]["bad_overflow_legacy.pth"] = "outside storage"

    with open(path("hostile_os_system.pth"), "wb") as f:
        f.write(hostile_os_system())
    expected["refused"]["hostile_os_system.pth"] = "os.system"
    with open(path("hostile_eval_legacy.pth"), "wb") as f:
        f.write(hostile_eval_legacy())
    expected["refused"]["hostile_eval_legacy.pth"] = "builtins.eval"
    torch.save({"w": torch.ones(2), "evil": Evil()}, path("hostile_posix_zip.pth"))
    expected["refused"]["hostile_posix_zip.pth"] = "posix.system"
    torch.save(Tiny(), path("hostile_whole_model.pth"))
    expected["refused"]["hostile_whole_model.pth"] = "__main__.Tiny"
    assert not os.path.exists(MARKER), "a hostile fixture ran while being written"

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")
    assert total < 1_000_000


if __name__ == "__main__":
    main()
