#!/usr/bin/env bash
# test_options.sh — the one option parser of every command (xraycls/opt.h): the same refusal
# wording and exit code 2 for each, a short usage (the error, the synopsis, "Try 'xraycls CMD
# --help'.") instead of the whole help, "did you mean" for options and commands, --opt=value
# beside --opt value, "--" ending the options, and --help (exit 0, the whole help) after
# options that are checked first. Exits non-zero on the first failure.
set -euo pipefail

. "$(dirname "$0")/cmd_lib.sh"

# short_usage CMD: $TMP/err is the error line, the synopsis and the pointer to --help — and not
# the whole help (whose description follows the synopsis after a blank line).
short_usage() {
    local cmd=$1
    has "$TMP/err" "usage: xraycls $cmd"
    [ "$(tail -n 1 "$TMP/err")" = "Try 'xraycls $cmd --help'." ] || { cat "$TMP/err" >&2; fail "$cmd: usage error does not end with the pointer to --help"; }
    ! grep -q '^$' "$TMP/err" || { cat "$TMP/err" >&2; fail "$cmd: usage error prints more than the synopsis"; }
    [ "$(wc -l <"$TMP/err")" -le 9 ] || { cat "$TMP/err" >&2; fail "$cmd: usage error longer than the synopsis"; }
}

# Every command: a misspelt option of its own gets the same wording with the right suggestion.
while read -r cmd typo want; do
    run 2 "$cmd" "$typo" x
    [ "$(head -n 1 "$TMP/err")" = "xraycls $cmd: unknown option '$typo' (did you mean '$want'?)" ] ||
        { cat "$TMP/err" >&2; fail "$cmd $typo: wrong refusal"; }
    short_usage "$cmd"
    run 2 "$cmd" --zzzzzzzz
    [ "$(head -n 1 "$TMP/err")" = "xraycls $cmd: unknown option '--zzzzzzzz'" ] || { cat "$TMP/err" >&2; fail "$cmd: wrong refusal"; }
    # --help: the whole help on stdout, exit 0
    run 0 "$cmd" --help
    has "$TMP/out" "usage: xraycls $cmd"
    has "$TMP/out" "--help"
    [ "$(wc -l <"$TMP/out")" -gt 3 ] || fail "$cmd --help is not the whole help"
    [ ! -s "$TMP/err" ] || { cat "$TMP/err" >&2; fail "$cmd --help wrote to stderr"; }
    run 0 "$cmd" -h
done <<'LIST'
info --jsno --json
prepare --overwrit --overwrite
table --splt --split
merge --outptu --output
train --confg --config
eval --modle --model
predict --modle --model
bench --arhc --arch
import --frmo --from
export --formt --format
LIST

# A value missing, a value given to a switch, a value out of range: one wording each.
run 2 predict --batch
[ "$(head -n 1 "$TMP/err")" = "xraycls predict: option '--batch' needs a value" ] || { cat "$TMP/err" >&2; fail "needs a value"; }
short_usage predict
run 2 predict --model m.safetensors --batch 0 img.png
[ "$(head -n 1 "$TMP/err")" = "xraycls predict: '--batch 0': not in [1, 65536]" ] || { cat "$TMP/err" >&2; fail "range"; }
run 2 predict --model m.safetensors --batch=abc img.png
[ "$(head -n 1 "$TMP/err")" = "xraycls predict: '--batch abc': not a whole number" ] || { cat "$TMP/err" >&2; fail "number"; }
run 2 eval --overwrite=yes
[ "$(head -n 1 "$TMP/err")" = "xraycls eval: option '--overwrite' takes no value" ] || { cat "$TMP/err" >&2; fail "takes no value"; }
run 2 eval --model a --model b --data d
[ "$(head -n 1 "$TMP/err")" = "xraycls eval: option '--model' given twice" ] || { cat "$TMP/err" >&2; fail "given twice"; }
run 2 prepare synthetic -o "$TMP/s" --size=2
[ "$(head -n 1 "$TMP/err")" = "xraycls prepare: '--size 2': not in [8, 4096]" ] || { cat "$TMP/err" >&2; fail "prepare range"; }
run 2 prepare folder --root "$TMP" -o "$TMP/f" --n 50
has "$TMP/err" "option '--n' applies to 'xraycls prepare synthetic' only"
run 2 train --config a.json unexpected
has "$TMP/err" "xraycls train: unexpected argument 'unexpected'"
# repeatable options are: --set twice passes the parser (and then fails on the missing config)
run 1 train --config "$TMP/none.json" --set a=1 --set=b=2
lacks "$TMP/err" "given twice"
has "$TMP/err" "none.json"

# --opt=value reaches the command as --opt value does.
run 1 table --split=val "$TMP/no-run"
has "$TMP/err" "no-run"
run 1 eval --model="$TMP/m.safetensors" --data="$TMP/d" --split=val
has "$TMP/err" "$TMP/d"
run 2 table --split=a/b "$TMP/no-run"
has "$TMP/err" "--split 'a/b' is not a split name"

# "--" ends the options: what follows is a path even when it starts with "-".
run 1 info -- --json
lacks "$TMP/err" "unknown option"
has "$TMP/err" "cannot read '--json'"

# --help after options: those before it are checked, then the help is printed.
run 0 predict --model m.safetensors --batch 8 -o out.csv img/ --help
has "$TMP/out" "usage: xraycls predict"
run 2 predict --modle m.safetensors --help
has "$TMP/err" "unknown option '--modle'"
run 2 predict --batch 0 --help
has "$TMP/err" "'--batch 0': not in [1, 65536]"

# Commands: did you mean, the short usage, exit 2.
run 2 trian
[ "$(head -n 1 "$TMP/err")" = "xraycls: unknown command 'trian' (did you mean 'train'?)" ] || { cat "$TMP/err" >&2; fail "trian"; }
[ "$(tail -n 1 "$TMP/err")" = "Try 'xraycls --help'." ] || { cat "$TMP/err" >&2; fail "trian: no pointer to --help"; }
run 2 prdict
has "$TMP/err" "(did you mean 'predict'?)"
run 2 frobnicate
[ "$(head -n 1 "$TMP/err")" = "xraycls: unknown command 'frobnicate'" ] || { cat "$TMP/err" >&2; fail "frobnicate"; }

# Config keys share the suggestion: a misspelt key still gets one.
cat >"$TMP/c.json" <<'JSON'
{"data": {"path": "x"}, "trian": {}}
JSON
run 1 train --config "$TMP/c.json"
has "$TMP/err" "(did you mean 'train'?)"

rm -rf "$TMP"
echo "test_options: all checks passed"
