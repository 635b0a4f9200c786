#!/usr/bin/env bash
# Installs the build and run dependencies from Debian's archive (idempotent), then configures and
# builds xraycls into build/. Run as root, or with sudo available.
#
#   scripts/setup.sh            build packages, optional feature libraries, test references
#
# The optional libraries (DICOM: DCMTK with CharLS and OpenJPEG; figures; protocol buffers) are
# detected at configure time: a
# build without one still works, and the feature that needs it says so when used. The test
# references (PyTorch, torchvision, scikit-learn, statsmodels, pydicom, onnx) are used only by
# the tests and scripts/ to compute expected values independently of xraycls.
set -euo pipefail
cd "$(dirname "$0")/.."
build=(build-essential cmake ninja-build pkg-config libtorch-dev libpng-dev libjpeg62-turbo-dev
       libcjson-dev libopenblas-dev zlib1g-dev python3)
# libgloo-dev: the headers that data-parallel training (c10d Gloo) compiles against.
optional=(libgloo-dev libdcmtk-dev libcharls-dev libopenjp2-7-dev libcairo2-dev fonts-dejavu-core
          libprotobuf-c-dev protobuf-c-compiler)
refs=(python3-torch python3-torchvision python3-numpy python3-pil python3-sklearn
      python3-statsmodels python3-pydicom python3-gdcm python3-onnx python3-protobuf)
# npm (for onnxruntime-node below) comes with the machine's Node.js; Debian's nodejs and npm
# packages conflict with that installation, so they are not installed here.
missing=()
for p in "${build[@]}" "${optional[@]}" "${refs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# ONNX Runtime for the export test (tests/export/test_export_cli.sh runs the exported model in it):
# npm's onnxruntime-node ships the Linux x64 runtime inside the package. Where npm cannot reach
# its registry the ONNX Runtime checks are skipped (the test says so); nothing else depends on it.
if command -v npm >/dev/null && [ ! -d .cache/ort/node_modules/onnxruntime-node ]; then
  mkdir -p .cache/ort
  (cd .cache/ort && npm install onnxruntime-node --ignore-scripts --no-audit --no-fund >/dev/null 2>&1) ||
    echo "setup: npm could not install onnxruntime-node; the ONNX Runtime checks will be skipped" >&2
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
