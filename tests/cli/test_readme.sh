#!/usr/bin/env bash
# test_readme.sh — every command block of README.md holds as written: each fenced `xraycls ...`
# line names a command whose options all exist and parse (the line is run with --help appended:
# the parser checks every option before it, names, values and numeric ranges, then prints the
# help), the configs it names exist, a trained config's data.path is a folder an earlier
# `prepare -o` in the block writes, a `--model runs/NAME/...` names a run a `train` line of the
# block makes, and each script run (`bash scripts/x.sh`, `scripts/x.sh`) exists.
# The checker is also run on copies of README.md with an option renamed, a script renamed, a
# config renamed and a run renamed, each of which must fail: a check that cannot fail is none.
set -euo pipefail

BIN=${XRAYCLS_BINARY:?XRAYCLS_BINARY must name the xraycls binary}
SRC=${XRAYCLS_SOURCE_DIR:?XRAYCLS_SOURCE_DIR must name the source tree}
mkdir -p "${XRAYCLS_TMP:?XRAYCLS_TMP must name a scratch folder}"
TMP=$(mktemp -d "$XRAYCLS_TMP/run.XXXXXX")

fail() { echo "FAIL: $*" >&2; exit 1; }

# check_readme FILE: prints one line per problem; exits 1 if any (0 lines checked is a problem).
check_readme() {
    /usr/bin/python3 - "$1" "$BIN" "$SRC" <<'PY'
import json, os, re, shlex, subprocess, sys
readme, binary, src = sys.argv[1:4]
text = open(readme, encoding="utf-8").read()
problems, checked = [], 0
blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
for block in blocks:
    lines = block.replace("\\\n", " ").splitlines()
    outputs, runs = set(), set()
    for line in lines:
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError as e:
            problems.append(f"{line}: {e}")
            continue
        # scripts run as `bash scripts/x.sh` or `scripts/x.sh`
        script = words[1] if words[0] == "bash" and len(words) > 1 else words[0]
        if script.startswith("scripts/"):
            checked += 1
            path = os.path.join(src, script)
            if not os.path.isfile(path):
                problems.append(f"{line}: no {script} in the source tree")
            elif words[0] != "bash" and not os.access(path, os.X_OK):
                problems.append(f"{line}: {script} is not executable")
            continue
        if words[0] != "xraycls":
            continue
        checked += 1
        args = words[1:]
        r = subprocess.run([binary] + args + ["--help"], capture_output=True, text=True)
        if r.returncode != 0:
            problems.append(f"{line}: exit {r.returncode}: {r.stderr.strip().splitlines()[0] if r.stderr.strip() else ''}")
            continue
        cmd = args[0] if args else ""
        def value(opt):
            for i, a in enumerate(args):
                if a == opt and i + 1 < len(args):
                    return args[i + 1]
                if a.startswith(opt + "="):
                    return a[len(opt) + 1:]
            return None
        if cmd == "prepare":
            out = value("-o") or value("--output")
            if out:
                outputs.add(os.path.normpath(out))
        if cmd == "train":
            cfg_path = value("--config")
            if not cfg_path:
                continue
            full = os.path.join(src, cfg_path)
            if not os.path.isfile(full):
                problems.append(f"{line}: no {cfg_path} in the source tree")
                continue
            cfg = json.load(open(full))
            data = os.path.normpath(cfg.get("data", {}).get("path", ""))
            if outputs and data not in outputs:
                problems.append(f"{line}: {cfg_path} reads data.path '{data}', which no prepare -o above writes ({', '.join(sorted(outputs))})")
            out = cfg.get("output", {})
            stem = os.path.splitext(os.path.basename(cfg_path))[0]
            runs.add(os.path.normpath(os.path.join(out.get("runs_dir", "runs"), out.get("name", stem))))
        model = value("--model")
        if model and runs and cmd in ("eval", "predict", "export") and model.startswith("runs/"):
            run = os.path.normpath(os.path.dirname(model))
            if run not in runs:
                problems.append(f"{line}: --model is in '{run}', which no train line above makes ({', '.join(sorted(runs))})")
        data = value("--data")
        if data and outputs and cmd == "eval" and os.path.normpath(data) not in outputs:
            problems.append(f"{line}: --data '{data}' is no prepare -o above")
if checked == 0:
    problems.append("no xraycls or scripts/ line found in any fenced block")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
}

# README.md as it is: no problem.
check_readme "$SRC/README.md" >"$TMP/problems" || { cat "$TMP/problems" >&2; fail "README.md's command blocks do not hold as written"; }

# Each breakage is caught.
grep -q -- '--format csv' "$SRC/README.md" || fail "README.md no longer shows predict --format (pick another option here)"
mutate() { # NAME SED-EXPRESSION
    sed -e "$2" "$SRC/README.md" >"$TMP/$1.md"
    cmp -s "$SRC/README.md" "$TMP/$1.md" && fail "$1: the edit changed nothing"
    if check_readme "$TMP/$1.md" >"$TMP/$1.out"; then fail "$1: a broken README.md passes"; fi
    [ -s "$TMP/$1.out" ] || fail "$1: failed without naming the problem"
}
mutate option 's/--format csv/--formats csv/'
grep -q "unknown option '--formats' (did you mean '--format'?)" "$TMP/option.out" || { cat "$TMP/option.out" >&2; fail "renamed option: wrong problem"; }
mutate value 's/--format csv -o/--format csv --batch 0 -o/'
mutate command 's/^xraycls table /xraycls tables /'
mutate script 's|bash scripts/demo.sh|bash scripts/demo2.sh|'
grep -q "no scripts/demo2.sh" "$TMP/script.out" || fail "renamed script: wrong problem"
mutate config 's|--config configs/4class_resnet50_imagenet_ce.json|--config configs/4class_resnet50_imagenet.json|'
mutate run 's|--model runs/4class_resnet50_imagenet_ce/best|--model runs/4class_resnet50_ce/best|'
mutate data 's|-o data/prepared/four_class|-o data/prepared/4class|'

rm -rf "$TMP"
echo "test_readme: all checks passed"
