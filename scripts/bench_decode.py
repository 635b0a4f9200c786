#!/usr/bin/python3
"""bench_decode.py — decode + resize throughput: Pillow (the Python baseline) vs `xraycls prepare`.

  bench_decode.py make-images DIR [--n 400] [--seed 0] [--rgb-every 5]
      writes DIR/normal/*.jpeg and DIR/pneumonia/*.jpeg: 1-2 megapixel chest-X-ray-like images
      (smooth noise, a body outline, lung fields, ribs, fine grain), JPEG quality 90, every
      third one progressive, every --rgb-every-th one stored as 3-channel YCbCr 4:2:0 — sizes
      and codings like the CoronaHack files.

  bench_decode.py bench DIR [--size 224] [--procs N] [--channels 1|3] [--repeat 3]
                            [--xraycls BIN]
      decodes + resizes every JPEG/PNG under DIR with Pillow in a Pool of N processes, the way
      a Python loader does it fast: img.draft(mode, (size, size)) (DCT-domain downscaling),
      convert, resize((size, size), BILINEAR); prints images/s. With --xraycls, also times
      `BIN prepare folder --root DIR -o OUT --size S --threads N` on the same files (its output
      goes to a temporary folder), once as it is and once with XRAYCLS_JPEG_DECODER=libjpeg
      (every file through libjpeg, no fast path), and prints the rates and their ratios. Each
      measurement is repeated --repeat times, alternating, and the median is reported. The
      xraycls times are whole commands (start-up, listing, decoding, resizing, hashing, writing
      the dataset); Pillow's are its decode loop alone, with the pool already started.

Run with /usr/bin/python3 (Pillow 9.4, numpy).
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
    path, seed, progressive, rgb = job
    rng = np.random.default_rng(seed)
    w = int(rng.integers(1000, 1300))
    h = int(rng.integers(1100, 1500))
    im = Image.fromarray(synth_xray(rng, w, h), 'L')
    if rgb:  # a gray film stored as a colour JPEG, as some of the real files are
        im = im.convert('RGB')
    im.save(path, quality=90, progressive=progressive)
    return path


def cmd_make_images(a):
    jobs = []
    for i in range(a.n):
        cls = 'normal' if i % 2 == 0 else 'pneumonia'
        os.makedirs(os.path.join(a.dir, cls), exist_ok=True)
        rgb = a.rgb_every > 0 and i % a.rgb_every == a.rgb_every - 1
        jobs.append((os.path.join(a.dir, cls, f'img_{i:05d}.jpeg'), a.seed * 1000003 + i, i % 3 == 2, rgb))
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


def time_pillow(pool, files):
    t = time.perf_counter()
    n = sum(1 for _ in pool.imap_unordered(decode_one, files, chunksize=8))
    return time.perf_counter() - t if n == len(files) else float('nan')


def time_xraycls(binary, root, size, procs, channels, env):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'prepared')
        cmd = [binary, 'prepare', 'folder', '--root', root, '-o', out, '--size', str(size),
               '--threads', str(procs)] + (['--rgb'] if channels == 3 else [])
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f'{" ".join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}')
    return dt


def cmd_bench(a):
    files = list_images(a.dir)
    if not files:
        sys.exit(f'no .jpeg/.jpg/.png files under {a.dir}')
    mode = 'L' if a.channels == 1 else 'RGB'
    fast_env = {k: v for k, v in os.environ.items() if k != 'XRAYCLS_JPEG_DECODER'}
    lib_env = dict(fast_env, XRAYCLS_JPEG_DECODER='libjpeg')
    times = {'pillow': [], 'xraycls': [], 'libjpeg': []}
    with mp.Pool(a.procs, initializer=_init, initargs=(a.size, mode)) as pool:
        pool.map(decode_one, files[:a.procs])  # warm the workers
        time_pillow(pool, files)  # and the page cache
        for _ in range(a.repeat):
            times['pillow'].append(time_pillow(pool, files))
            if a.xraycls:
                times['xraycls'].append(time_xraycls(a.xraycls, a.dir, a.size, a.procs, a.channels, fast_env))
                times['libjpeg'].append(time_xraycls(a.xraycls, a.dir, a.size, a.procs, a.channels, lib_env))
    n = len(files)
    rate = {k: n / statistics.median(v) for k, v in times.items() if v}
    spread = {k: f'{min(v):.2f}-{max(v):.2f} s' for k, v in times.items() if v}
    print(f'{n} images, size {a.size}, {mode}, {a.procs} processes/threads, median of {a.repeat}')
    print(f'pillow            : {rate["pillow"]:7.1f} images/s  ({spread["pillow"]})')
    if a.xraycls:
        print(f'xraycls prepare   : {rate["xraycls"]:7.1f} images/s  ({spread["xraycls"]}, whole command)')
        print(f'  libjpeg only    : {rate["libjpeg"]:7.1f} images/s  ({spread["libjpeg"]}, '
              f'XRAYCLS_JPEG_DECODER=libjpeg)')
        print(f'ratio xraycls / pillow = {rate["xraycls"] / rate["pillow"]:.2f}  '
              f'(libjpeg only: {rate["libjpeg"] / rate["pillow"]:.2f})')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make-images', help='write a folder of synthetic chest-X-ray-like JPEGs')
    m.add_argument('dir')
    m.add_argument('--n', type=int, default=400)
    m.add_argument('--seed', type=int, default=0)
    m.add_argument('--rgb-every', type=int, default=5,
                   help='store every K-th image as a 3-channel JPEG (0: none)')
    m.add_argument('--procs', type=int, default=os.cpu_count() or 1)
    b = sub.add_parser('bench', help='time decode + resize with Pillow (and xraycls prepare)')
    b.add_argument('dir')
    b.add_argument('--size', type=int, default=224)
    b.add_argument('--procs', type=int, default=os.cpu_count() or 1)
    b.add_argument('--channels', type=int, choices=(1, 3), default=1)
    b.add_argument('--repeat', type=int, default=3, help='runs of each measurement (median)')
    b.add_argument('--xraycls', help='path of the xraycls binary to time as well')
    a = p.parse_args()
    if a.cmd == 'make-images':
        cmd_make_images(a)
    else:
        cmd_bench(a)


if __name__ == '__main__':
    main()
