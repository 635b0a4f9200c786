# tests/cli/lib.sh — helpers the CLI shell tests source (not a test itself).
#   check 'CONDITION' "message"   evaluates CONDITION; on failure prints FAIL and sets fail=1
#   same A B                      exits 0 when two checkpoints hold bit-identical model and
#                                 optimizer tensors (model.* and optim.*), else prints the first
#                                 differing names and exits 1
fail=0
check() { if eval "$1"; then :; else echo "FAIL: $2" >&2; fail=1; fi; }

same() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    d = b[8 + n:]
    return {k: d[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in h.items()
            if k.startswith("model.") or k.startswith("optim.")}
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
if bad or not a:
    print("differ:", len(bad), bad[:5]); sys.exit(1)
PY
}
