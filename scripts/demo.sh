#!/usr/bin/env bash
# The whole job on the embedded default, on a fresh Debian 12 machine: installs the packages and
# builds (scripts/setup.sh), makes a synthetic CoronaHack-like download with class-dependent
# findings, prepares it (4 classes, 64 px), trains the demo config (configs/demo.json: ResNet-18
# from scratch, weighted sampler, the paper's augmentation, Adam + step schedule), evaluates the
# best checkpoint on the validation split (the only split with COVID-19 images, as in the real
# data), scores a folder of raw images with predict, and prints the results table.
# Outputs: data/demo/ (dataset), runs/demo/ (run folder, eval, curves), runs/demo-predictions.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
X=build/xraycls
N=${XRAYCLS_DEMO_N:-600}

echo "== prepare: synthetic CoronaHack-like images (n=$N) =="
"$X" prepare synthetic -o data/demo --n "$N" --size 64 --task 4class --overwrite

echo "== train: configs/demo.json =="
"$X" train --config configs/demo.json --overwrite

echo "== eval: best checkpoint on the validation split =="
"$X" eval --model runs/demo/best.safetensors --data data/demo --split val --overwrite

echo "== eval: best checkpoint on the test split (no COVID-19 there, as in CoronaHack) =="
"$X" eval --model runs/demo/best.safetensors --data data/demo --split test --overwrite

echo "== predict: score the raw test images =="
"$X" predict --model runs/demo/best.safetensors --format csv -o runs/demo-predictions.csv \
  data/demo/raw/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/test
head -5 runs/demo-predictions.csv

echo "== table =="
"$X" table runs/demo --split val -o runs/demo-results
echo
echo "run folder: runs/demo (metrics.csv, accuracy.png, loss.png, tb/, eval-demo-val/, eval-demo-test/: their figures; xraycls figures DIR --format pdf redraws any of them)"
