#!/usr/bin/python3
"""bench_decode.py — decode + resize throughput: Pillow (the Python baseline) vs `xraycls prepare`.

  bench_decode.py make-images DIR [--n 400] [--seed 0]
      writes DIR/normal/*.jpeg and DIR/pneumonia/*.jpeg: 1-2 megapixel grayscale chest-X-ray-like
      images (smooth noise, a body outline, lung fields, ribs, fine grain), JPEG quality 90,
      every third one progressive — sizes and codings like the CoronaHack files.

  bench_decode.py bench DIR [--size 224] [--procs N] [--channels 1|3] [--xraycls BIN]
      decodes + resizes every JPEG/PNG under DIR with Pillow in a Pool of N processes, the way
      a Python loader does it fast: img.draft(mode, (size, size)) (DCT-domain downscaling),
      convert, resize((size, size), BILINEAR); prints images/s. With --xraycls, also times
      `BIN prepare folder --root DIR -o OUT --size S --threads N` on the same files (its output
      goes to a temporary folder) and prints both rates and their ratio.

Run with /usr/bin/python3 (Pillow 9.4, numpy).
"""
import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

EXTS = ('.jpeg', '.jpg', '.png')


def synth_xray(rng, w, h):
    """A w x h uint8 image with the broad structure of a frontal chest X-ray."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = x / w, y / h
    # Low-frequency noise: a small random field upsampled smoothly.
    coarse = rng.standard_normal((12, 10)).astype(np.float32)
    smooth = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), dtype=np.float32)
    img = 40 + 12 * smooth
    body = ((u - 0.5) / 0.45) ** 2 + ((v - 0.55) / 0.6) ** 2 < 1
    img += 90 * body
    for cx in (0.32, 0.68):  # lung fields: darker ellipses
        lung = ((u - cx) / 0.15) ** 2 + ((v - 0.45) / 0.3) ** 2 < 1
        img -= 60 * lung
    ribs = (np.sin(2 * np.pi * (v * 9 + 0.8 * np.abs(u - 0.5))) > 0.85) & body
    img += 35 * ribs
    spine = np.abs(u - 0.5) < 0.04
    img += 70 * spine * body
    img += 6 * rng.standard_normal((h, w)).astype(np.float32)  # film grain
    return np.clip(img, 0, 255).astype(np.uint8)


def make_one(job):
    path, seed, progressive = job
    rng = np.random.default_rng(seed)
    w = int(rng.integers(1000, 1300))
    h = int(rng.integers(1100, 1500))
    Image.fromarray(synth_xray(rng, w, h), 'L').save(path, quality=90, progressive=progressive)
    return path


def cmd_make_images(a):
    jobs = []
    for i in range(a.n):
        cls = 'normal' if i % 2 == 0 else 'pneumonia'
        os.makedirs(os.path.join(a.dir, cls), exist_ok=True)
        jobs.append((os.path.join(a.dir, cls, f'img_{i:05d}.jpeg'), a.seed * 1000003 + i, i % 3 == 2))
    t = time.perf_counter()
    with mp.Pool(a.procs) as pool:
        for _ in pool.imap_unordered(make_one, jobs, chunksize=4):
            pass
    print(f'wrote {a.n} images under {a.dir} in {time.perf_counter() - t:.1f} s')


def list_images(root):
    out = []
    for d, _, files in os.walk(root):
        out += [os.path.join(d, f) for f in files if f.lower().endswith(EXTS)]
    return sorted(out)


_SIZE, _MODE = 224, 'L'


def _init(size, mode):
    global _SIZE, _MODE
    _SIZE, _MODE = size, mode


def decode_one(path):
    with Image.open(path) as im:
        im.draft(_MODE, (_SIZE, _SIZE))
        im = im.convert(_MODE).resize((_SIZE, _SIZE), Image.BILINEAR)
        return len(im.tobytes())


def bench_pillow(files, size, mode, procs):
    with mp.Pool(procs, initializer=_init, initargs=(size, mode)) as pool:
        pool.map(decode_one, files[:procs])  # warm the workers and the page cache
        t = time.perf_counter()
        n = sum(1 for _ in pool.imap_unordered(decode_one, files, chunksize=8))
        dt = time.perf_counter() - t
    return n / dt, dt


def bench_xraycls(binary, root, size, procs):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'prepared.safetensors')
        cmd = [binary, 'prepare', 'folder', '--root', root, '-o', out, '--size', str(size),
               '--threads', str(procs)]
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f'{" ".join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}')
    return dt


def cmd_bench(a):
    files = list_images(a.dir)
    if not files:
        sys.exit(f'no .jpeg/.jpg/.png files under {a.dir}')
    mode = 'L' if a.channels == 1 else 'RGB'
    rate, dt = bench_pillow(files, a.size, mode, a.procs)
    print(f'pillow  : {len(files)} images, size {a.size}, {mode}, {a.procs} processes: '
          f'{dt:.2f} s, {rate:.1f} images/s')
    if a.xraycls:
        dt_x = bench_xraycls(a.xraycls, a.dir, a.size, a.procs)
        rate_x = len(files) / dt_x
        print(f'xraycls : prepare folder, {a.procs} threads: {dt_x:.2f} s, {rate_x:.1f} images/s '
              f'(whole command: decode, resize, write)')
        print(f'ratio   : xraycls / pillow = {rate_x / rate:.2f}')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make-images', help='write a folder of synthetic chest-X-ray-like JPEGs')
    m.add_argument('dir')
    m.add_argument('--n', type=int, default=400)
    m.add_argument('--seed', type=int, default=0)
    m.add_argument('--procs', type=int, default=os.cpu_count() or 1)
    b = sub.add_parser('bench', help='time decode + resize with Pillow (and xraycls prepare)')
    b.add_argument('dir')
    b.add_argument('--size', type=int, default=224)
    b.add_argument('--procs', type=int, default=os.cpu_count() or 1)
    b.add_argument('--channels', type=int, choices=(1, 3), default=1)
    b.add_argument('--xraycls', help='path of the xraycls binary to time as well')
    a = p.parse_args()
    if a.cmd == 'make-images':
        cmd_make_images(a)
    else:
        cmd_bench(a)


if __name__ == '__main__':
    main()
