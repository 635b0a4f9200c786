"""tb_check.py — reads a run's TensorBoard event files with Google's protobuf and checks them
against the run's own files (tests/train/test_tensorboard.sh; not a test itself).

    tb_check.py RUN_DIR DESCRIPTOR_SET NFILES

DESCRIPTOR_SET is proto/tensorboard/event.proto and its imports compiled by protoc (or protoc-c)
with --include_imports -o: the message classes are built from it at run time. Checks, over the
NFILES events files of RUN_DIR/tb (oldest first):
  - every record's framing: length, masked CRC-32C of the length and of the payload, recomputed
    here bit by bit; the first record of each file is file_version "brain.Event:2";
  - metrics.jsonl's train_loss, train_acc, val_*, lr: one scalar per epoch under the same name
    at step = epoch, equal to the float32 of the JSON number; null values have no scalar;
  - step/train_loss and step/train_acc: one per "epoch E step S  loss L  acc A" line of
    train.log, in order, at steps 1, 2, ..., equal to L and A to the printed digits;
  - val/confusion_matrix once per epoch, train/augmented_batch once per file: PNGs that decode
    (PIL) to the Summary's width, height and RGB, and the grid's tiles are not blank;
  - "config": TensorBoard's text plugin (plugin_name "text", a rank-0 DT_STRING tensor) holding
    config.json in a fenced code block.
Prints what it checked; exits 1 with the reasons on any mismatch.
"""
import io
import json
import math
import os
import re
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

run_dir, desc_path, nfiles = sys.argv[1], sys.argv[2], int(sys.argv[3])
# argv[4] "0": a build without cairo, which leaves the confusion-matrix image out
figures = len(sys.argv) < 5 or sys.argv[4] != "0"
bad = []


def fail(msg):
    bad.append(msg)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xFFFFFFFF


def masked(c):
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


fds = descriptor_pb2.FileDescriptorSet()
fds.ParseFromString(open(desc_path, "rb").read())
pool = descriptor_pool.DescriptorPool()
for f in fds.file:
    pool.Add(f)
ev_desc = pool.FindMessageTypeByName("tensorboard.Event")
if hasattr(message_factory, "GetMessageClass"):
    Event = message_factory.GetMessageClass(ev_desc)
else:
    Event = message_factory.MessageFactory(pool).GetPrototype(ev_desc)
DT_STRING = pool.FindEnumTypeByName("tensorboard.DataType").values_by_name["DT_STRING"].number

tbdir = os.path.join(run_dir, "tb")
files = sorted(n for n in os.listdir(tbdir) if "tfevents" in n)
if len(files) != nfiles:
    fail(f"{len(files)} events files in {tbdir}, expected {nfiles}: {files}")
host = os.uname().nodename
for n in files:
    if not re.fullmatch(r"events\.out\.tfevents\.\d{10}\." + re.escape(host) + r"(\.\d+)*", n):
        fail(f"file name {n!r} is not events.out.tfevents.<unix-time>.{host}")
files.sort(key=lambda n: os.path.getmtime(os.path.join(tbdir, n)))

scalars, images, texts, nrec = {}, {}, [], 0
for n in files:
    data = open(os.path.join(tbdir, n), "rb").read()
    off, first = 0, True
    while off < len(data):
        if len(data) - off < 16:
            fail(f"{n}: {len(data) - off} stray bytes at {off}")
            break
        (m,) = struct.unpack_from("<Q", data, off)
        (hc,) = struct.unpack_from("<I", data, off + 8)
        if hc != masked(crc32c(data[off:off + 8])):
            fail(f"{n}: record at {off}: length CRC wrong")
            break
        payload = data[off + 12:off + 12 + m]
        (pc,) = struct.unpack_from("<I", data, off + 12 + m)
        if pc != masked(crc32c(payload)):
            fail(f"{n}: record at {off}: payload CRC wrong")
        off += 16 + m
        nrec += 1
        ev = Event()
        ev.ParseFromString(payload)
        if not (1.6e9 < ev.wall_time < 4e9):
            fail(f"{n}: wall_time {ev.wall_time}")
        if first:
            if ev.WhichOneof("what") != "file_version" or ev.file_version != "brain.Event:2":
                fail(f"{n}: first record is not file_version brain.Event:2: {ev}")
            first = False
            continue
        if ev.WhichOneof("what") != "summary":
            fail(f"{n}: a record that is neither the version nor a summary")
            continue
        for v in ev.summary.value:
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                scalars.setdefault(v.tag, []).append((ev.step, v.simple_value))
            elif kind == "image":
                images.setdefault(v.tag, []).append((ev.step, v.image))
            elif kind == "tensor":
                texts.append((v.tag, ev.step, v))
            else:
                fail(f"{n}: value {v.tag!r} of kind {kind}")

f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]

# Per epoch: metrics.jsonl's names, values and steps.
hist = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
keys = ["train_loss", "train_acc", "val_loss", "val_acc", "val_balanced_acc", "val_auroc", "val_macro_f1", "lr"]
nscal = 0
for k in keys:
    want = [(h["epoch"], f32(h[k])) for h in hist if h.get(k) is not None]
    got = scalars.get(k, [])
    if got != want:
        fail(f"scalar {k}: {got} != metrics.jsonl {want}")
    nscal += len(got)
if not any(h.get("val_acc") is not None for h in hist):
    fail("no validation metrics in metrics.jsonl: the test would prove little")

# Per logged step: train.log's lines.
logged = [(float(a), float(b)) for a, b in
          re.findall(r"epoch \d+ step \d+(?: of \d+)?  loss ([0-9.]+)  acc ([0-9.]+)", open(os.path.join(run_dir, "train.log")).read())]
for tag, col, tol in (("step/train_loss", 0, 5e-5), ("step/train_acc", 1, 5e-4)):
    got = scalars.get(tag, [])
    if [s for s, _ in got] != list(range(1, len(logged) + 1)):
        fail(f"{tag}: steps {[s for s, _ in got]}, expected 1..{len(logged)}")
    for (s, v), w in zip(got, logged):
        if not abs(v - w[col]) <= tol + 1e-6:
            fail(f"{tag} at step {s}: {v} vs train.log {w[col]}")

# Images.
from PIL import Image
import numpy as np

cm = images.get("val/confusion_matrix", [])
if [s for s, _ in cm] != ([h["epoch"] for h in hist] if figures else []):
    fail(f"confusion matrices at steps {[s for s, _ in cm]}, expected one per epoch" + ("" if figures else
         " (none: built without cairo)"))
grids = images.get("train/augmented_batch", [])
if len(grids) != nfiles:
    fail(f"{len(grids)} augmented-batch grids, expected one per events file")
for tag, lst in images.items():
    for s, im in lst:
        if im.encoded_image_string[:8] != b"\x89PNG\r\n\x1a\n":
            fail(f"{tag} at {s}: not a PNG")
            continue
        pic = Image.open(io.BytesIO(im.encoded_image_string))
        pic.load()
        if pic.size != (im.width, im.height) or pic.mode != "RGB" or im.colorspace != 3:
            fail(f"{tag} at {s}: PNG {pic.size} {pic.mode}, Summary says {im.width}x{im.height} colorspace {im.colorspace}")
for s, im in grids:
    a = np.asarray(Image.open(io.BytesIO(im.encoded_image_string)))
    # batch 4 of 32 px: 2 x 2 tiles, 2 px apart
    if a.shape != (70, 70, 3):
        fail(f"grid at {s}: {a.shape}, expected 70 x 70 x 3 (2 x 2 tiles of 32 px)")
        continue
    for i in range(4):
        y, x = 2 + (i // 2) * 34, 2 + (i % 2) * 34
        if a[y:y + 32, x:x + 32].std() < 1:
            fail(f"grid at {s}: tile {i} is blank")

# The config as text.
cfg = json.load(open(os.path.join(run_dir, "config.json")))
if len(texts) != nfiles:
    fail(f"{len(texts)} text values, expected one per events file")
for tag, s, v in texts:
    t = v.tensor
    if tag != "config" or v.metadata.plugin_data.plugin_name != "text" or t.dtype != DT_STRING \
            or len(t.tensor_shape.dim) != 0 or len(t.string_val) != 1:
        fail(f"text {tag!r}: plugin {v.metadata.plugin_data.plugin_name!r}, dtype {t.dtype}, "
             f"{len(t.tensor_shape.dim)} dims, {len(t.string_val)} strings")
        continue
    md = t.string_val[0].decode()
    m = re.fullmatch(r"```json\n(.*)\n```", md, re.S)
    if not m or json.loads(m.group(1)) != cfg:
        fail(f"text {tag!r} does not hold config.json: {md[:80]!r}")

# TensorBoard itself, when it is installed (it need not be).
try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    EventAccumulator = None
if EventAccumulator:
    acc = EventAccumulator(tbdir)
    acc.Reload()
    for k in keys:
        got = [(e.step, e.value) for e in acc.Scalars(k)] if k in acc.Tags()["scalars"] else []
        if got != scalars.get(k, []):
            fail(f"tensorboard reads {k} as {got}")

if bad:
    print("\n".join("FAIL: " + b for b in bad[:20]), file=sys.stderr)
    sys.exit(1)
print(f"{len(files)} files, {nrec} records, {nscal} epoch scalars, {len(logged)} logged steps, "
      f"{sum(len(l) for l in images.values())} images, {len(texts)} texts: ok"
      + (" (and tensorboard reads them)" if EventAccumulator else ""))
