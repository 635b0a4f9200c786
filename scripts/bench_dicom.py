#!/usr/bin/python3
"""bench_dicom.py — DICOM decode + display + resize throughput: pydicom with GDCM (the Python
baseline) vs `xraycls prepare` (DCMTK and OpenJPEG).

  bench_dicom.py make-images DIR [--n 120] [--side 1536] [--syntax native|jpegls|j2k|rle]
      writes DIR/normal/*.dcm and DIR/pneumonia/*.dcm: chest-X-ray-like 12-bit images (those of
      bench_decode.py scaled to 0..4095) in 16-bit words, DX "for presentation" with a
      window, every third MONOCHROME1; native explicit little endian, or transcoded by GDCM.

  bench_dicom.py bench DIR [--size 224] [--procs N] [--repeat 3] [--xraycls BIN]
      decodes every .dcm under DIR with pydicom (pixel data through GDCM) in a Pool of N
      processes, applies the Modality LUT and the window (pydicom's apply_modality_lut and
      apply_voi_lut), inverts MONOCHROME1, scales to 8 bits and resizes to size x size with
      Pillow's BILINEAR: what a Python loader does. With --xraycls, also times
      `BIN prepare folder --root DIR -o OUT --size S --threads N --val-fraction 0` on the same
      files, and prints both rates and their ratio. Each measurement is repeated --repeat
      times, alternating, and the median is reported. The xraycls times are whole commands
      (start-up, listing, decoding, display, resizing, hashing, writing the dataset); pydicom's
      are its decode loop alone, with the pool already started.

Run with /usr/bin/python3 (python3-pydicom, python3-gdcm, numpy, Pillow).
"""
import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_decode import synth_xray  # noqa: E402


def make_one(job):
    path, seed, side, syntax = job
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    rng = np.random.default_rng(seed)
    w, h = side, side * 6 // 5
    img = synth_xray(rng, w, h).astype(np.uint16) * 16 + rng.integers(0, 16, (h, w)).astype(np.uint16)
    mono1 = seed % 3 == 0
    if mono1:
        img = 4095 - img
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "DX", "B%05d" % seed
    ds.Rows, ds.Columns, ds.SamplesPerPixel = h, w, 1
    ds.PhotometricInterpretation = "MONOCHROME1" if mono1 else "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2048, 3600
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = img.tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)
    if syntax != "native":
        import gdcm
        ts = {"jpegls": gdcm.TransferSyntax.JPEGLSLossless, "j2k": gdcm.TransferSyntax.JPEG2000Lossless,
              "rle": gdcm.TransferSyntax.RLELossless}[syntax]
        r = gdcm.ImageReader()
        r.SetFileName(path)
        r.Read()
        ch = gdcm.ImageChangeTransferSyntax()
        ch.SetTransferSyntax(gdcm.TransferSyntax(ts))
        ch.SetInput(r.GetImage())
        if not ch.Change():
            raise SystemExit("GDCM cannot transcode %s to %s" % (path, syntax))
        wr = gdcm.ImageWriter()
        wr.SetFileName(path + ".tmp")
        wr.SetFile(r.GetFile())
        wr.SetImage(ch.GetOutput())
        if not wr.Write():
            raise SystemExit("GDCM cannot transcode %s to %s" % (path, syntax))
        os.replace(path + ".tmp", path)


def make_images(args):
    jobs = []
    for i in range(args.n):
        cls = "normal" if i % 2 == 0 else "pneumonia"
        os.makedirs(os.path.join(args.dir, cls), exist_ok=True)
        jobs.append((os.path.join(args.dir, cls, "img%05d.dcm" % i), args.seed + i, args.side, args.syntax))
    with mp.Pool() as pool:
        pool.map(make_one, jobs)
    print("wrote %d DICOM files (%s) to %s" % (args.n, args.syntax, args.dir))


SIZE = 224


def decode_one(path):
    import pydicom
    from pydicom.pixel_data_handlers import gdcm_handler, numpy_handler
    from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
    pydicom.config.pixel_data_handlers = [numpy_handler, gdcm_handler]  # GDCM decodes compressed data
    ds = pydicom.dcmread(path)
    a = ds.pixel_array
    a = apply_modality_lut(a, ds)
    a = apply_voi_lut(a, ds, index=0)
    lo, hi = float(np.min(a)), float(np.max(a))
    if "WindowCenter" in ds:  # apply_voi_lut maps a window onto the input's range
        bits = int(ds.BitsStored)
        lo, hi = 0.0, float(2 ** bits - 1)
    y = np.clip((a - lo) * (255.0 / max(hi - lo, 1)), 0, 255).astype(np.uint8)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 255 - y
    im = Image.fromarray(y).resize((SIZE, SIZE), Image.BILINEAR)
    return im.size[0]


def files_of(d):
    out = []
    for root, _, names in os.walk(d):
        out += [os.path.join(root, n) for n in names if n.endswith(".dcm")]
    return sorted(out)


def bench(args):
    global SIZE
    SIZE = args.size
    files = files_of(args.dir)
    n = len(files)
    procs = args.procs or os.cpu_count()
    py_t, xc_t = [], []
    with mp.Pool(procs) as pool:
        pool.map(decode_one, files[:procs])  # warm up: imports in every worker
        for _ in range(args.repeat):
            t = time.perf_counter()
            pool.map(decode_one, files, chunksize=4)
            py_t.append(time.perf_counter() - t)
            if args.xraycls:
                with tempfile.TemporaryDirectory() as tmp:
                    t = time.perf_counter()
                    subprocess.run([args.xraycls, "prepare", "folder", "--root", args.dir, "-o", os.path.join(tmp, "o"),
                                    "--size", str(args.size), "--threads", str(procs), "--val-fraction", "0"],
                                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    xc_t.append(time.perf_counter() - t)
    py = n / statistics.median(py_t)
    print("%d DICOM files, size %d, %d processes/threads, median of %d" % (n, args.size, procs, args.repeat))
    print("pydicom + GDCM : %8.1f images/s" % py)
    if xc_t:
        xc = n / statistics.median(xc_t)
        print("xraycls prepare: %8.1f images/s  (%.2fx pydicom + GDCM)" % (xc, xc / py))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-images")
    m.add_argument("dir")
    m.add_argument("--n", type=int, default=120)
    m.add_argument("--side", type=int, default=1536)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--syntax", choices=["native", "jpegls", "j2k", "rle"], default="native")
    b = sub.add_parser("bench")
    b.add_argument("dir")
    b.add_argument("--size", type=int, default=224)
    b.add_argument("--procs", type=int, default=0)
    b.add_argument("--repeat", type=int, default=3)
    b.add_argument("--xraycls")
    a = p.parse_args()
    make_images(a) if a.cmd == "make-images" else bench(a)


if __name__ == "__main__":
    main()
