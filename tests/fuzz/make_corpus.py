#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets: tests/fuzz/corpus/<target>/, small valid and
near-valid inputs (a few hundred kB in all). Run with Debian's /usr/bin/python3 (torch, Pillow):

    /usr/bin/python3 tests/fuzz/make_corpus.py

Deterministic; the output is committed. Valid seeds give the fuzzer the structure to mutate,
near-valid ones (truncated, one field wrong) start it next to the error paths."""
import io
import json
import os
import shutil
import struct
import sys

import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors --------------------------------------------------------------------------
def st_bytes(tensors, meta=None, pad=True, header=None):
    """tensors: [(name, dtype, shape, raw bytes)] laid out in order."""
    h = {}
    if meta is not None:
        h["__metadata__"] = meta
    data = b""
    for name, dt, shape, raw in tensors:
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = header if header is not None else json.dumps(h, separators=(",", ":"))
    hb = text.encode()
    if pad:
        hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + data


def safetensors():
    f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    good = [("w", "F32", [2, 3], f32), ("b", "I64", [2], struct.pack("<2q", 7, -1)),
            ("s", "U8", [], b"\x05"), ("e", "F16", [0, 4], b"")]
    put("safetensors", "valid_basic", st_bytes(good, {"format": "pt", "arch": "resnet18"}))
    put("safetensors", "valid_empty", st_bytes([]))
    put("safetensors", "valid_meta_null", st_bytes([("x", "BF16", [1], b"\x80\x3f")], None,
                                                    header='{"__metadata__":null,"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}'))
    put("safetensors", "valid_all_dtypes", st_bytes(
        [(dt, dt, [2], b"\x01" * (2 * n)) for dt, n in
         [("U8", 1), ("I8", 1), ("I16", 2), ("I32", 4), ("I64", 8), ("F16", 2), ("BF16", 2),
          ("F32", 4), ("F64", 8), ("BOOL", 1)]], {"k": "v"}))
    put("safetensors", "valid_unpadded", st_bytes(good, pad=False))
    full = st_bytes(good, {"format": "pt"})
    put("safetensors", "bad_truncated", full[:-3])
    put("safetensors", "bad_trailing", full + b"\0")
    put("safetensors", "bad_header_len", struct.pack("<Q", 1 << 40) + full[8:])
    put("safetensors", "bad_dtype", st_bytes([("x", "F8", [1], b"\0")]))
    put("safetensors", "bad_shape", st_bytes([("x", "F32", [3], b"\0" * 8)]))
    put("safetensors", "bad_overlap", st_bytes([], header='{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
                                                          '"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}') + b"\0" * 6)
    put("safetensors", "bad_extra_key", st_bytes([], header='{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}') + b"\0")
    put("safetensors", "bad_dup_name", st_bytes([], header='{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                                           '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}') + b"\0\0")
    put("safetensors", "bad_meta_number", st_bytes([], header='{"__metadata__":{"k":1}}'))
    put("safetensors", "bad_big_dim", st_bytes([], header='{"a":{"dtype":"F64","shape":[9007199254740993,2],"data_offsets":[0,16]}}') + b"\0" * 16)


# ---- torch.save files ---------------------------------------------------------------------
def torchfile():
    fixtures = os.path.join(ROOT, "tests", "fixtures", "weights")
    for name in sorted(os.listdir(fixtures)):
        if name.endswith((".pth", ".tar", ".pt")):
            shutil.copy(os.path.join(fixtures, name), os.path.join(OUT, "torchfile", "fixture_" + name))
    torch.manual_seed(0)
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    sd = {
        "conv.weight": torch.randn(2, 1, 2, 2),
        "fc.weight": base.t(),                       # a transposed view
        "fc.bias": base[1],                          # a view at an offset of a shared storage
        "bn.num_batches_tracked": torch.tensor(3),   # scalar int64
        "half": torch.ones(3, dtype=torch.float16),
        "bf": torch.ones(2, dtype=torch.bfloat16),
        "flags": torch.tensor([True, False]),
        "empty": torch.zeros(0, 3),
        "bcast": torch.ones(1, 3).expand(4, 3),      # stride 0
    }
    for proto in (2, 4):
        for zipped in (True, False):
            b = io.BytesIO()
            torch.save(sd, b, pickle_protocol=proto, _use_new_zipfile_serialization=zipped)
            put("torchfile", "gen_views_p%d_%s.pth" % (proto, "zip" if zipped else "legacy"), b.getvalue())
    b = io.BytesIO()
    torch.save({"epoch": 3, "state_dict": {"module.fc.weight": torch.ones(2, 2)},
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]}}, b)
    put("torchfile", "gen_checkpoint.pth.tar", b.getvalue())
    # Near-valid: a zip cut short, and one with a byte flipped inside the pickle.
    z = io.BytesIO()
    torch.save({"w": torch.ones(4)}, z)
    zb = z.getvalue()
    put("torchfile", "bad_zip_truncated.pth", zb[: len(zb) // 2])
    i = zb.find(b"data.pkl") + 40
    put("torchfile", "bad_zip_flipped.pth", zb[:i] + bytes([zb[i] ^ 0x55]) + zb[i + 1:])
    # A stride-0 view far larger than its one-element storage.
    b = io.BytesIO()
    torch.save({"w": torch.ones(1).expand(2 ** 38)}, b, _use_new_zipfile_serialization=False)
    put("torchfile", "gen_broadcast_bomb_legacy.pth", b.getvalue())


# ---- JSON (the strict helpers) ------------------------------------------------------------
def json_docs():
    put("json", "valid_config", '{"data": {"path": "d", "batch_size": 8}, "model": {"arch": "resnet50"},'
                                ' "train": {"epochs": 3, "lr": 0.001}, "lr": 1e-3, "epochs": 2}')
    put("json", "valid_types", '{"lr": 0.5, "epochs": [1, 2.5, -3, 1e308, true, null, "x"],'
                               ' "model": "densenet121", "data": {"a": {"b": [[], {}]}}}')
    put("json", "valid_unicode", b'{"train": "r\\u00e9sultats \\ud83d\\ude00 \\" \\\\ \\/", "x": "\xc3\xa9"}')
    put("json", "valid_scalar", '  -0.0e-5 ')
    put("json", "valid_array", '[0, 1, 100, 101, -1, 0.5, "s", false]')
    put("json", "bad_trailing", '{"a": 1} x')
    put("json", "bad_dup", '{"lr": 1, "lr": 2}')
    put("json", "bad_nul", b'{"a": "\0"}\0')
    put("json", "bad_open", '{"a": [1, 2')


# ---- CSV (first byte: '1' = with header, '0' = without) -----------------------------------
def csv():
    meta = ("1,X_ray_image_name,Label,Dataset_type,Label_2_Virus_category,Label_1_Virus_category\n"
            "0,IM-0128-0001.jpeg,Normal,TRAIN,,\n"
            "1,person1_virus_6.jpeg,Pnemonia,TEST,,Virus\n"
            "2,1-s2.0-S0140673620303706-fx1_lrg.jpg,Pnemonia,TRAIN,COVID-19,Virus\n")
    put("csv", "valid_metadata", "1" + meta)
    put("csv", "valid_quoted_crlf", "1\xef\xbb\xbfname, Label \r\n\"a,b.png\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",x\r\n\r\n")
    put("csv", "valid_no_header", "0a,b,c\nd\n\ne,f\n")
    put("csv", "valid_no_newline", "1a,b\n1,2")
    put("csv", "bad_stray_quote", "1a,b\nx\"y,2\n")
    put("csv", "bad_after_quote", "1a,b\n\"x\"y,2\n")
    put("csv", "bad_unterminated", "1a,b\n\"x,2\n")
    put("csv", "bad_width", "1a,b\n1,2,3\n")
    put("csv", "bad_nul", b"1a,b\n1,\x002\n")


# ---- training configs (pieces after NUL bytes are key=value overrides) -------------------
def config():
    cdir = os.path.join(ROOT, "configs")
    for name in ("demo.json", "4class_densenet121_chexnet_focal.json", "binary_resnet50_imagenet_ce_class_weights.json"):
        p = os.path.join(cdir, name)
        if os.path.exists(p):
            shutil.copy(p, os.path.join(OUT, "config", "configs_" + name))
    put("config", "valid_minimal", '{"data": {"path": "d"}}')
    put("config", "valid_full", json.dumps({
        "data": {"path": "prepared/x", "batch_size": 8, "sampler": "shuffle",
                 "augment": {"hflip": 0.5, "vflip": 0, "rotate": 0.3, "rotate_deg": 10},
                 "val_split": ""},
        "model": {"arch": "densenet121", "weights": "chexnet", "weights_dir": "w",
                  "freeze_backbone_epochs": 1, "channels_last": "off"},
        "loss": {"type": "focal", "gamma": 2.0, "alpha": [0.25, 0.75], "class_weights": [1, 2]},
        "optim": {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0},
        "schedule": {"type": "cosine", "step_size": 5, "gamma": 0.1, "min_lr": 1e-6},
        "train": {"epochs": 3, "seed": 7, "device": "cpu", "best_metric": "val_loss",
                  "precision": "fp32", "on_nonfinite": "skip", "log_every": 10,
                  "max_steps_per_epoch": 2},
        "output": {"runs_dir": "runs", "name": "x"}}, indent=1))
    put("config", "valid_with_sets", b'{"data": {"path": "d"}}\0train.epochs=3\0model.arch=resnet18\0optim.betas=[0.5,0.6]\0output.name=x')
    put("config", "bad_unknown_key", '{"data": {"path": "d"}, "train": {"epoch": 3}}')
    put("config", "bad_type", '{"data": {"path": "d"}, "optim": {"lr": "fast"}}')
    put("config", "bad_json", '{"data": {"path": "d"},\n "optim": {"lr": }}')
    put("config", "bad_set", b'{"data": {"path": "d"}}\0train.nope=1\0=')


# ---- images -------------------------------------------------------------------------------
def gradient(mode, w, h):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 37) % 256, (y * 53) % 256, ((x + y) * 11) % 256) for y in range(h) for x in range(w)])
    return im.convert(mode)


def save(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def jpeg():
    put("jpeg", "gray_16x16.jpg", save(gradient("L", 16, 16), "JPEG", quality=80))
    put("jpeg", "rgb420_33x17.jpg", save(gradient("RGB", 33, 17), "JPEG", quality=75))
    put("jpeg", "rgb444_24x24.jpg", save(gradient("RGB", 24, 24), "JPEG", quality=90, subsampling=0))
    put("jpeg", "progressive_40x30.jpg", save(gradient("RGB", 40, 30), "JPEG", quality=70, progressive=True))
    put("jpeg", "cmyk_16x8.jpg", save(gradient("CMYK", 16, 8), "JPEG", quality=80))
    put("jpeg", "big_for_dct_160x130.jpg", save(gradient("L", 160, 130), "JPEG", quality=30))
    put("jpeg", "restart_32x32.jpg", save(gradient("RGB", 32, 32), "JPEG", quality=60, restart_marker_blocks=1))
    full = save(gradient("RGB", 32, 24), "JPEG", quality=80)
    put("jpeg", "bad_truncated.jpg", full[: len(full) * 2 // 3])
    mid = len(full) // 2
    put("jpeg", "bad_flipped.jpg", full[:mid] + bytes([full[mid] ^ 0xFF]) + full[mid + 1:])
    sof = full.find(b"\xff\xc0")
    put("jpeg", "bad_huge_header.jpg", full[:sof + 5] + b"\xff\xff\xff\xff" + full[sof + 9:])


def png():
    put("png", "gray_8x8.png", save(gradient("L", 8, 8), "PNG"))
    put("png", "rgb_13x7.png", save(gradient("RGB", 13, 7), "PNG"))
    put("png", "rgba_9x9.png", save(gradient("RGBA", 9, 9), "PNG"))
    put("png", "la_6x5.png", save(gradient("LA", 6, 5), "PNG"))
    put("png", "palette_10x10.png", save(gradient("RGB", 10, 10).convert("P", palette=Image.ADAPTIVE, colors=16), "PNG"))
    put("png", "palette_trns_8x8.png", save(gradient("RGB", 8, 8).convert("P", palette=Image.ADAPTIVE, colors=4), "PNG", transparency=0))
    put("png", "bilevel_17x9.png", save(gradient("L", 17, 9).convert("1"), "PNG"))
    put("png", "gray16_7x7.png", save(gradient("L", 7, 7).convert("I").point(lambda v: v * 257).convert("I;16"), "PNG"))
    put("png", "bits2_12x4.png", save(gradient("RGB", 12, 4).convert("P", palette=Image.ADAPTIVE, colors=4), "PNG", bits=2))
    full = save(gradient("RGB", 16, 16), "PNG")
    put("png", "bad_truncated.png", full[: len(full) - 20])
    put("png", "bad_crc.png", full[:29] + bytes([full[29] ^ 1]) + full[30:])
    put("png", "bad_huge_header.png", full[:16] + struct.pack(">II", 100000, 100000) + full[24:])


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for t in ("safetensors", "json", "torchfile", "csv", "config", "jpeg", "png"):
        os.makedirs(os.path.join(OUT, t), exist_ok=True)
    safetensors()
    json_docs()
    torchfile()
    csv()
    config()
    jpeg()
    png()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print("corpus: %d bytes under %s" % (total, OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
