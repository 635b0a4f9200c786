#!/usr/bin/env bash
# test_cli_basics.sh — the command line itself: --help, --version, unknown commands, finding
# libxraycls_torch.so (beside the binary, in ../lib/xraycls/, or missing), and `xraycls info` on
# a safetensors file written by Python (struct + json only), on a missing file, on corrupt
# files, and with bad arguments. Exits non-zero on the first failure.
set -euo pipefail

. "$(dirname "$0")/cmd_lib.sh"

# --help lists the commands, info among them; exit 0.
run 0 --help
has "$TMP/out" "usage: xraycls <command>"
grep -qE '^  info ' "$TMP/out" || fail "--help does not list info"

# --version: our version, libtorch's, and a CUDA line.
run 0 --version
grep -qE '^xraycls [0-9]+\.[0-9]+\.[0-9]+' "$TMP/out" || fail "--version lacks the xraycls version"
grep -qE '^libtorch [0-9]+\.[0-9]+' "$TMP/out" || fail "--version lacks the libtorch version"
grep -qE '^CUDA: ' "$TMP/out" || fail "--version lacks the CUDA line"

# No command, unknown command: usage on stderr, exit 2.
run 2
has "$TMP/err" "usage: xraycls"
run 2 frobnicate
has "$TMP/err" "unknown command 'frobnicate'"
has "$TMP/err" "usage: xraycls"

# The libtorch commands come from libxraycls_torch.so beside the binary, else from
# ../lib/xraycls/ (the install layout); without it, the torch-free commands still work and the
# others fail with one line naming the paths tried.
LIB="$(dirname "$BIN")/libxraycls_torch.so"
[ -f "$LIB" ] || fail "no $LIB beside $BIN"
mkdir -p "$TMP/alone" "$TMP/prefix/bin" "$TMP/prefix/lib/xraycls"
cp "$BIN" "$TMP/alone/xraycls"
cp "$BIN" "$TMP/prefix/bin/xraycls"
cp "$LIB" "$TMP/prefix/lib/xraycls/"
BIN_BUILD=$BIN
BIN="$TMP/prefix/bin/xraycls"
run 0 --version
grep -qE '^libtorch [0-9]+\.[0-9]+' "$TMP/out" || fail "installed layout: --version lacks the libtorch version"
run 2 train
has "$TMP/err" "usage: xraycls train"
BIN="$TMP/alone/xraycls"
run 0 --help
run 0 info --help
run 1 --version
grep -qE '^xraycls [0-9]+\.[0-9]+\.[0-9]+' "$TMP/out" || fail "--version without the library lacks the xraycls version"
ALONE=$(cd "$TMP/alone" && pwd -P) # as /proc/self/exe names it
has "$TMP/err" "cannot load the libtorch commands from '$ALONE/libxraycls_torch.so' or '$ALONE/../lib/xraycls/libxraycls_torch.so'"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || { cat "$TMP/err" >&2; fail "the load failure takes more than one line"; }
run 1 train --help
has "$TMP/err" "cannot load the libtorch commands"
BIN=$BIN_BUILD

# info: usage errors exit 2, help exits 0.
run 2 info
has "$TMP/err" "missing FILE"
has "$TMP/err" "usage: xraycls info"
run 2 info --no-such-option x.safetensors
has "$TMP/err" "unknown option '--no-such-option'"
run 2 info a.safetensors b.safetensors
run 0 info --help
has "$TMP/out" "usage: xraycls info FILE"

# info on a missing file: exit 1, the name in the message.
run 1 info "$TMP/no such file.safetensors"
has "$TMP/err" "no such file.safetensors"

# A file written by Python following the format description: 8-byte little-endian header
# length, JSON header padded with spaces, then the data.
GOOD="$TMP/model é.safetensors"
/usr/bin/python3 - "$GOOD" <<'EOF'
import json, struct, sys
cfg = json.dumps({"model": {"arch": "resnet18", "classes": 2},
                  "optim": {"lr": 0.001, "weight_decay": 0.0001},
                  "train": {"epochs": 30, "batch_size": 32, "seed": 1234, "notes": "n" * 80}}, indent=2)
parts = [("conv1.weight", "F32", [4, 3, 2, 2], struct.pack("<48f", *range(48))),
         ("fc.bias", "F64", [2], struct.pack("<2d", 0.5, -0.5)),
         ("labels", "U8", [5], bytes([0, 1, 1, 0, 1])),
         ("step", "I64", [], struct.pack("<q", 42)),
         ("empty", "BF16", [0, 7], b"")]
header, data = {}, b""
for name, dtype, shape, raw in parts:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
header["__metadata__"] = {"format": "xraycls-model", "config": cfg, "classes": "normal,pneumonia"}
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
EOF

run 0 info "$GOOD"
has "$TMP/out" "$GOOD"
has "$TMP/out" "conv1.weight"
has "$TMP/out" "[4, 3, 2, 2]"
grep -qE '^  conv1\.weight +F32 +\[4, 3, 2, 2\] +192$' "$TMP/out" || { cat "$TMP/out"; fail "conv1.weight row"; }
grep -qE '^  fc\.bias +F64 +\[2\] +16$' "$TMP/out" || fail "fc.bias row"
grep -qE '^  labels +U8 +\[5\] +5$' "$TMP/out" || fail "labels row"
grep -qE '^  step +I64 +\[\] +8$' "$TMP/out" || fail "step row (0-dim)"
grep -qE '^  empty +BF16 +\[0, 7\] +0$' "$TMP/out" || fail "empty row"
has "$TMP/out" "format = xraycls-model"
has "$TMP/out" "classes = normal,pneumonia"
has "$TMP/out" "total: 5 tensors, 56 elements, 221 bytes"
# The JSON config is shortened to one line ending in "…"; the long notes are cut.
grep -qE '^  config = \{ "model": \{ "arch": "resnet18".*…$' "$TMP/out" || { cat "$TMP/out"; fail "config not shortened to one line"; }
lacks "$TMP/out" "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"

# --json: the full metadata, parseable, with the tensors in file order.
run 0 info --json "$GOOD"
/usr/bin/python3 - "$TMP/out" "$GOOD" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["path"] == sys.argv[2], d["path"]
assert [t["name"] for t in d["tensors"]] == ["conv1.weight", "fc.bias", "labels", "step", "empty"], d["tensors"]
assert d["tensors"][0]["shape"] == [4, 3, 2, 2] and d["tensors"][0]["bytes"] == 192
assert d["tensors"][3]["shape"] == []
cfg = json.loads(d["metadata"]["config"])
assert cfg["train"]["notes"] == "n" * 80 and cfg["optim"]["lr"] == 0.001
assert d["total_bytes"] == 221
EOF

# Corrupt files exit 1 and name the file: truncated, and a header/data mismatch.
BAD="$TMP/truncated.safetensors"
head -c 100 "$GOOD" >"$BAD"
run 1 info "$BAD"
has "$TMP/err" "truncated.safetensors"
BAD2="$TMP/trailing.safetensors"
{ cat "$GOOD"; printf 'xyz'; } >"$BAD2"
run 1 info "$BAD2"
has "$TMP/err" "trailing.safetensors"
has "$TMP/err" "3 trailing bytes"
BAD3="$TMP/not json.safetensors"
/usr/bin/python3 -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<Q",8)+b"not json")' "$BAD3"
run 1 info "$BAD3"
has "$TMP/err" "not json.safetensors"
has "$TMP/err" "not valid JSON"
run 1 info "$TMP"
has "$TMP/err" "not a regular file"

# Names with terminal escapes (a tensor named to recolour the screen, a metadata key with a line
# break) are printed escaped, never raw.
ESC="$TMP/escapes.safetensors"
/usr/bin/python3 - "$ESC" <<'EOF'
import json, struct, sys
h = {"__metadata__": {"k\nforged = line": "v"}, "a\u001b[31mred": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}
t = json.dumps(h).encode(); t += b" " * (-len(t) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(t)) + t + b"\x00")
EOF
run 0 info "$ESC"
has "$TMP/out" 'a\x1b[31mred'
has "$TMP/out" 'k\x0aforged = line'
if grep -q "$(printf '\033')" "$TMP/out"; then fail "info printed an escape byte raw"; fi
if grep -q "^forged" "$TMP/out"; then fail "info printed a line break from a key raw"; fi

rm -rf "$TMP"
echo "test_cli_basics: all checks passed"
