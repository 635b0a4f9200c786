#!/usr/bin/env bash
# test_prepare.sh — `xraycls prepare` end to end through the CLI: synthetic (which runs the
# coronahack source), coronahack on the generated download with a config, folder and csv
# sources, refusals (non-empty output, missing image, unknown option) with their exit codes and
# messages, and `xraycls info` on the results. Small images (64 px) and few of them.
set -u
X="${XRAYCLS_BINARY:?XRAYCLS_BINARY is not set}"
T="${XRAYCLS_TMP:-/tmp/xraycls_test_prepare}/cli_prepare"
rm -rf "$T" && mkdir -p "$T" || exit 2
fail=0
check() { # check "what" command...
    local what="$1"; shift
    if "$@"; then :; else echo "FAILED: $what" >&2; fail=1; fi
}
same_summary() { # the "prepared N images (…)" lines of two runs, without timings and paths
    [ "$(grep '^prepared' "$1" | sed 's/ in .*//')" = "$(grep '^prepared' "$2" | sed 's/ in .*//')" ]
}

# synthetic: raw download + prepared dataset
"$X" prepare synthetic -o "$T/syn" --n 80 --size 64 --threads 2 --min-side 64 --max-side 128 >"$T/syn.out" 2>"$T/syn.err"
check "synthetic exits 0" test $? -eq 0
check "synthetic wrote the CSV" test -f "$T/syn/raw/Chest_xray_Corona_Metadata.csv"
for s in train val test; do check "synthetic wrote $s" test -f "$T/syn/$s.safetensors"; done
check "audit.json" test -f "$T/syn/audit.json"
check "dataset.json" test -f "$T/syn/dataset.json"
check "summary line" grep -q "^prepared 79 images" "$T/syn.out"
check "audit table" grep -q "^COVID-19 " "$T/syn.out"
check "test lacks COVID-19: warned" grep -q "split 'test' has no 'COVID-19' image" "$T/syn.err"
"$X" info "$T/syn/train.safetensors" >"$T/info.out" 2>&1
check "info exits 0" test $? -eq 0
check "info shows the images" grep -Eq "images +U8 +\[[0-9]+, 1, 64, 64\]" "$T/info.out"
check "info shows the kind" grep -q "xraycls.kind = dataset" "$T/info.out"

# the JPEG decoder is recorded: the fast path by default (images of 64-128 px prepared at 32 px
# qualify for it), libjpeg with XRAYCLS_JPEG_DECODER=libjpeg; both give the same listing
"$X" prepare coronahack --root "$T/syn/raw" -o "$T/fastdec" --size 32 >"$T/fastdec.out" 2>&1
check "fast-path prepare exits 0" test $? -eq 0
check "dataset.json: xraycls-fast" grep -q '"jpeg_decoder":[[:space:]]*"xraycls-fast"' "$T/fastdec/dataset.json"
XRAYCLS_JPEG_DECODER=libjpeg "$X" prepare coronahack --root "$T/syn/raw" -o "$T/libdec" --size 32 >"$T/libdec.out" 2>&1
check "libjpeg prepare exits 0" test $? -eq 0
check "dataset.json: libjpeg" grep -q '"jpeg_decoder":[[:space:]]*"libjpeg"' "$T/libdec/dataset.json"
check "same summary either way" same_summary "$T/fastdec.out" "$T/libdec.out"

# an output that cannot be created (a read-only file system; below a file): exit 1, named
"$X" prepare coronahack --root "$T/syn/raw" -o /proc/xraycls-prepare-out --size 32 >/dev/null 2>"$T/ro.err"
check "unwritable output: exit 1" test $? -eq 1
check "unwritable output: named" grep -q "cannot create folder '/proc/xraycls-prepare-out'" "$T/ro.err"
echo x >"$T/afile"
"$X" prepare coronahack --root "$T/syn/raw" -o "$T/afile/sub" --size 32 >/dev/null 2>"$T/nf.err"
check "output below a file: exit 1" test $? -eq 1
check "output below a file: named" grep -q "exists and is not a folder" "$T/nf.err"
check "the file is untouched" test "$(cat "$T/afile")" = x

# the same output again: refused (exit 1), nothing changed
before=$(stat -c %Y "$T/syn/train.safetensors")
"$X" prepare coronahack --root "$T/syn/raw" -o "$T/syn" --size 64 >/dev/null 2>"$T/again.err"
check "non-empty output refused" test $? -eq 1
check "refusal names the folder" grep -q "is not empty" "$T/again.err"
check "train untouched" test "$before" = "$(stat -c %Y "$T/syn/train.safetensors")"

# coronahack with a config; flags override it (size 32 from the flag, task from the config)
cat >"$T/cfg.json" <<EOF
{"root": "$T/syn/raw", "task": "normal-vs-pneumonia", "size": 48, "val_fraction": 0.2, "seed": 3}
EOF
"$X" prepare coronahack --config "$T/cfg.json" --size 32 -o "$T/np" --threads 2 >"$T/np.out" 2>&1
check "config run exits 0" test $? -eq 0
"$X" info "$T/np/train.safetensors" >"$T/np.info" 2>&1
check "flag size wins" grep -Eq "images +U8 +\[[0-9]+, 1, 32, 32\]" "$T/np.info"
check "config task used" grep -q 'xraycls.classes = \["Normal","Pneumonia"\]' "$T/np.info"
# a misspelt config key is an error naming it (exit 1)
echo '{"roots": "x"}' >"$T/bad.json"
"$X" prepare coronahack --config "$T/bad.json" -o "$T/bad" >/dev/null 2>"$T/bad.err"
check "unknown config key: exit 1" test $? -eq 1
check "unknown config key named" grep -q "'roots'" "$T/bad.err"
# unknown option: usage error (exit 2)
"$X" prepare coronahack --root "$T/syn/raw" --sise 3 -o "$T/x" >/dev/null 2>"$T/usage.err"
check "unknown option: exit 2" test $? -eq 2
check "unknown option named" grep -q "unknown option '--sise'" "$T/usage.err"

# a missing image: an error naming it, nothing written; skipped with --on-missing skip
cp -r "$T/syn/raw" "$T/raw2"
victim=$(ls "$T/raw2/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/train" | head -1)
rm "$T/raw2/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/train/$victim"
"$X" prepare coronahack --root "$T/raw2" -o "$T/m" --size 32 >/dev/null 2>"$T/m.err"
check "missing: exit 1" test $? -eq 1
check "missing image named" grep -q "$victim" "$T/m.err"
check "missing: nothing written" test ! -e "$T/m/dataset.json"
"$X" prepare coronahack --root "$T/raw2" -o "$T/m" --size 32 --on-missing skip >"$T/m.out" 2>&1
check "missing skipped: exit 0" test $? -eq 0
check "missing skipped: one fewer" grep -q "^prepared 78 images" "$T/m.out"
check "missing recorded" grep -q "$victim" "$T/m/audit.json"

# folder source with train/test subfolders, RGB
mkdir -p "$T/fold/train/Normal" "$T/fold/train/Virus" "$T/fold/test/Normal" "$T/fold/test/Virus"
tr="$T/syn/raw/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/train"
cp $(ls "$tr"/IM-*.jpeg | head -4) "$T/fold/train/Normal/"
cp $(ls "$tr"/*virus*.jpeg | head -4) "$T/fold/train/Virus/"
cp $(ls "$tr"/IM-*.jpeg | tail -1) "$T/fold/test/Normal/"
cp $(ls "$tr"/*virus*.jpeg | tail -1) "$T/fold/test/Virus/"
"$X" prepare folder --root "$T/fold" -o "$T/f" --size 32 --rgb --val-fraction 0.25 >"$T/f.out" 2>&1
check "folder exits 0" test $? -eq 0
check "folder: 10 images" grep -q "^prepared 10 images (train 6, val 2, test 2)" "$T/f.out"
"$X" info "$T/f/val.safetensors" >"$T/f.info" 2>&1
check "folder: RGB val" grep -Eq "images +U8 +\[2, 3, 32, 32\]" "$T/f.info"

# csv source with a header and a split column
printf 'path,label,split\r\ntrain/Normal/%s,Normal,train\r\ntrain/Virus/%s,Virus,test\r\n' \
    "$(ls "$T/fold/train/Normal" | head -1)" "$(ls "$T/fold/train/Virus" | head -1)" >"$T/fold/list.csv"
"$X" prepare csv --csv "$T/fold/list.csv" -o "$T/c" --size 32 >"$T/c.out" 2>&1
check "csv exits 0" test $? -eq 0
check "csv: 2 images" grep -q "^prepared 2 images (train 1, val 0, test 1)" "$T/c.out"

if [ $fail -ne 0 ]; then cat "$T"/*.err >&2; echo "test_prepare.sh: FAILED" >&2; exit 1; fi
echo "test_prepare.sh: passed"
