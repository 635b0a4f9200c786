# tests/cli/lib.sh — helpers the CLI shell tests source (not a test itself).
#   check 'CONDITION' "message"   evaluates CONDITION; on failure prints FAIL and sets fail=1
#   same A B                      exits 0 when two checkpoints hold bit-identical model and
#                                 optimizer tensors (model.* and optim.*), else prints the first
#                                 differing names and exits 1
#   close_ckpt TOL A B            the same tensors agree to TOL times each tensor's largest
#                                 magnitude; prints the worst relative difference
#   drop RUN…                     deletes the checkpoints of runs a test is done with, so a
#                                 test holds a few at a time on disk, not all it made
fail=0
check() { if eval "$1"; then :; else echo "FAIL: $2" >&2; fail=1; fi; }

# compare_ckpt TOL A B: TOL "exact" compares bytes, a number compares values (see above)
compare_ckpt() {
  /usr/bin/python3 - "$@" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    d = b[8 + n:]
    return {k: (v["dtype"], d[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items()
            if k.startswith("model.") or k.startswith("optim.")}
tol, a, b = sys.argv[1], load(sys.argv[2]), load(sys.argv[3])
if tol == "exact":
    bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if bad or not a:
        print("differ:", len(bad), bad[:5]); sys.exit(1)
    sys.exit(0)
import numpy as np
if set(a) != set(b) or not a: print("different tensors"); sys.exit(1)
dt = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "U8": np.uint8}
worst, name = 0.0, ""
for k in a:
    x = np.frombuffer(a[k][1], dt[a[k][0]]).astype(np.float64)
    y = np.frombuffer(b[k][1], dt[b[k][0]]).astype(np.float64)
    e = np.abs(x - y).max() / max(np.abs(y).max(), 1e-12) if x.size else 0.0
    if e > worst: worst, name = e, k
print(f"worst relative difference {worst:.3g} ({name})")
sys.exit(0 if worst <= float(tol) else 1)
PY
}
same() { compare_ckpt exact "$1" "$2"; }
close_ckpt() { compare_ckpt "$@"; }
drop() { local d; for d; do rm -f -- "$d"/*.safetensors; done; }
