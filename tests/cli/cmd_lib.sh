# tests/cli/cmd_lib.sh — the fail-fast helpers of the command-line tests that check exit codes and
# messages (sourced, not a test itself). Sets BIN (the binary, $XRAYCLS_BINARY) and TMP (a fresh
# folder under $XRAYCLS_TMP, kept when a check fails), then:
#   run RC ARGS…     runs the binary, stdout → $TMP/out, stderr → $TMP/err; fails unless it exits RC
#   has FILE TEXT    fails unless FILE holds TEXT (fixed string); lacks FILE TEXT: the reverse
#   fail MESSAGE     prints "FAIL: MESSAGE" and exits 1
BIN=${XRAYCLS_BINARY:?XRAYCLS_BINARY must name the xraycls binary}
mkdir -p "${XRAYCLS_TMP:?XRAYCLS_TMP must name a scratch folder}"
TMP=$(mktemp -d "$XRAYCLS_TMP/run.XXXXXX")

fail() { echo "FAIL: $*" >&2; exit 1; }
run() {
    local want=$1 rc=0
    shift
    "$BIN" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ "$rc" -eq "$want" ] || { cat "$TMP/out" "$TMP/err" >&2; fail "xraycls $* exited $rc, expected $want"; }
}
has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks '$2'"; }; }
lacks() { ! grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 has '$2'"; }; }
