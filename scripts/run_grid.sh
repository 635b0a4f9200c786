#!/usr/bin/env bash
# run_grid.sh — trains and evaluates the study's grid (configs/{binary,4class,4class_covid_extra}_*.json)
# and writes the results table. Resumable: a run whose evaluations exist is skipped, a run folder
# left by an interrupted train is continued with `xraycls train --resume`. A failed run is reported
# and the others go on; the exit status is 1 when any run failed.
# What it is not: dataset preparation (run `xraycls prepare` per task first) or weight download.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    cat <<EOF
usage: scripts/run_grid.sh [--binary-data DIR] [--4class-data DIR] [--covid-data DIR]
                           [--runs DIR] [--xraycls BIN] [--configs DIR] [--set KEY=VALUE]...
                           [--only REGEX] [--dry-run]

Trains every study config in configs/ (binary_*, 4class_*, 4class_covid_extra_*; not demo.json)
on its task's prepared dataset, evaluates each run's best checkpoint on the test split (and on
the val split for the 4-class tasks: CoronaHack's test split has no COVID-19 image, so COVID-19
recall can only be read on val), then writes RUNS/results.{md,csv} (test split, every run) and
RUNS/results-val.{md,csv} (val split, the 4-class runs) with \`xraycls table\`.

  --binary-data DIR  prepared bacteria-vs-virus dataset   (\$XRAYCLS_BINARY_DATA,
                     default $ROOT/data/prepared/bacteria_virus)
  --4class-data DIR  prepared 4-class dataset              (\$XRAYCLS_4CLASS_DATA,
                     default $ROOT/data/prepared/four_class)
  --covid-data DIR   prepared 4-class dataset with the extra COVID-19 images
                     (\$XRAYCLS_COVID_DATA, default $ROOT/data/prepared/four_class_covid_extra)
  --runs DIR         where the run folders go               (\$XRAYCLS_RUNS, default $ROOT/runs)
  --xraycls BIN      the xraycls binary                     (\$XRAYCLS, default $ROOT/build/xraycls)
  --configs DIR      the config folder                      (default $ROOT/configs)
  --set KEY=VALUE    passed to every \`xraycls train\` (repeatable), e.g. --set train.epochs=5
  --only REGEX       only the configs whose name (file stem) matches this extended regex
  --dry-run          print the commands instead of running them
  -h, --help         this help

Resuming: a run with RUNS/NAME/eval-test/eval.json (and eval-val/eval.json for a 4-class task)
is skipped; a run folder without them is continued from its last.safetensors (a finished run
continues as a no-op and is evaluated). Remove a run's eval-* folders to extend it with
--set train.epochs=N. The --set values must be the same as when the run started (train refuses
a resumed run whose config differs, naming the key), except train.epochs/device/log_every.
Model weights: the study configs need imagenet / chexnet weight files in model.weights_dir
(\$XRAYCLS_WEIGHTS, else data/weights); --set model.weights=none trains from scratch.

Example (a smoke test on tiny synthetic data):
  xraycls prepare synthetic -o /tmp/g/bv --n 80 --size 32 --task bacteria-vs-virus
  xraycls prepare synthetic -o /tmp/g/4c --n 80 --size 32 --task 4class
  scripts/run_grid.sh --binary-data /tmp/g/bv --4class-data /tmp/g/4c --runs /tmp/g/runs \\
    --only 'resnet50_imagenet_ce\$' --set model.weights=none --set train.epochs=1 \\
    --set train.max_steps_per_epoch=2
EOF
}

die_usage() {
    echo "run_grid.sh: $*" >&2
    echo "(see scripts/run_grid.sh --help)" >&2
    exit 2
}

binary_data=${XRAYCLS_BINARY_DATA:-$ROOT/data/prepared/bacteria_virus}
fourclass_data=${XRAYCLS_4CLASS_DATA:-$ROOT/data/prepared/four_class}
covid_data=${XRAYCLS_COVID_DATA:-$ROOT/data/prepared/four_class_covid_extra}
runs=${XRAYCLS_RUNS:-$ROOT/runs}
xraycls=${XRAYCLS:-$ROOT/build/xraycls}
configs=$ROOT/configs
only=
dry=0
sets=()

while (($#)); do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --dry-run) dry=1; shift; continue ;;
    --binary-data | --4class-data | --covid-data | --runs | --xraycls | --configs | --set | --only)
        (($# >= 2)) || die_usage "$1 needs a value" ;;
    *) die_usage "unknown argument '$1'" ;;
    esac
    case $1 in
    --binary-data) binary_data=$2 ;;
    --4class-data) fourclass_data=$2 ;;
    --covid-data) covid_data=$2 ;;
    --runs) runs=$2 ;;
    --xraycls) xraycls=$2 ;;
    --configs) configs=$2 ;;
    --set)
        [[ $2 == *=* ]] || die_usage "--set '$2' is not KEY=VALUE"
        sets+=(--set "$2") ;;
    --only) only=$2 ;;
    esac
    shift 2
done

if [[ -n $only ]]; then
    # Check the regex once here rather than failing on every config ([[ =~ ]] returns 2 when bad).
    set +e
    [[ x =~ $only ]]
    rc=$?
    set -e
    ((rc != 2)) || die_usage "--only '$only' is not a valid extended regex"
fi
[[ -d $configs ]] || die_usage "config folder '$configs' does not exist"
if ((!dry)); then
    [[ -x $xraycls ]] || die_usage "xraycls binary '$xraycls' not found or not executable (build it, or --xraycls BIN)"
fi

# A config's task from its name: its dataset folder in $task_data, whether it is 4-class in $task_4c.
task_of() {
    case $1 in
    4class_covid_extra_*) task_data=$covid_data task_4c=1 ;;
    4class_*) task_data=$fourclass_data task_4c=1 ;;
    binary_*) task_data=$binary_data task_4c=0 ;;
    *) return 1 ;;
    esac
}

# A value as a JSON string, so a path is never read as a number or literal by --set.
json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# Prints the command (words quoted where the shell needs it), then runs it unless --dry-run.
run_cmd() {
    local w line=+
    for w in "$@"; do
        if [[ $w =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then line+=" $w"; else line+=" ${w@Q}"; fi
    done
    echo "$line"
    ((dry)) || "$@"
}

names=()
for cfg in "$configs"/*.json; do
    [[ -e $cfg ]] || continue
    name=$(basename "$cfg" .json)
    task_of "$name" || continue
    [[ -z $only || $name =~ $only ]] || continue
    names+=("$name")
done
((${#names[@]})) || die_usage "no study config in '$configs' matches${only:+ --only \"$only\"}"

if ((!dry)); then mkdir -p "$runs"; fi
echo "grid: ${#names[@]} runs into $runs"
if [[ " ${names[*]}" == *" 4class_"* ]]; then
    echo "note: the 4-class runs are also evaluated on val: CoronaHack's test split has no COVID-19"
    echo "      image, so COVID-19 recall is only measured there (results-val.md)."
fi

failed=()
done_runs=()
val_runs=()
i=0
for name in "${names[@]}"; do
    i=$((i + 1))
    task_of "$name"
    dir=$runs/$name
    splits=(test)
    if ((task_4c)); then splits+=(val); fi
    echo
    echo "== [$i/${#names[@]}] $name (data: $task_data) =="

    missing=0
    for s in "${splits[@]}"; do
        [[ -f $dir/eval-$s/eval.json ]] || missing=1
    done
    if ((!missing)); then
        echo "skip: $dir already evaluated (eval-${splits[0]}${splits[1]:+, eval-${splits[1]}})"
        done_runs+=("$dir")
        if ((task_4c)); then val_runs+=("$dir"); fi
        continue
    fi
    if [[ ! -f $task_data/dataset.json ]]; then
        echo "FAILED $name: '$task_data' is not a prepared dataset (no dataset.json): run xraycls prepare, or pass its folder" >&2
        failed+=("$name")
        continue
    fi

    train=(--config "$configs/$name.json" --set "data.path=$(json_str "$task_data")"
        --set "output.runs_dir=$(json_str "$runs")" --set "output.name=$(json_str "$name")" "${sets[@]}")
    if [[ -f $dir/last.safetensors ]]; then
        echo "resume: $dir has a checkpoint but no evaluation"
        train=(--resume "$dir" "${train[@]}")
    elif [[ -e $dir ]]; then
        # Stopped before its first checkpoint: nothing in it is worth keeping.
        echo "restart: $dir holds no checkpoint"
        train+=(--overwrite)
    fi
    if ! run_cmd "$xraycls" train "${train[@]}"; then
        echo "FAILED $name: xraycls train exited non-zero" >&2
        failed+=("$name")
        continue
    fi

    ok=1
    for s in "${splits[@]}"; do
        if ! run_cmd "$xraycls" eval --model "$dir/best.safetensors" --data "$task_data" --split "$s" -o "$dir/eval-$s"; then
            echo "FAILED $name: xraycls eval --split $s exited non-zero" >&2
            ok=0
        fi
    done
    if ((ok)); then
        done_runs+=("$dir")
        if ((task_4c)); then val_runs+=("$dir"); fi
    else
        failed+=("$name")
    fi
done

echo
table_failed=0
if ((${#done_runs[@]})); then
    echo "== results (test split): $runs/results.md =="
    run_cmd "$xraycls" table "${done_runs[@]}" --split test -o "$runs/results" || table_failed=1
fi
if ((${#val_runs[@]})); then
    echo
    echo "== results (val split, 4-class runs: the only split with COVID-19): $runs/results-val.md =="
    run_cmd "$xraycls" table "${val_runs[@]}" --split val -o "$runs/results-val" || table_failed=1
fi

echo
echo "grid: ${#done_runs[@]} of ${#names[@]} runs evaluated"
if ((${#failed[@]})); then
    echo "grid: ${#failed[@]} failed: ${failed[*]} (run the script again to resume them)" >&2
    exit 1
fi
if ((table_failed)); then
    echo "grid: xraycls table failed" >&2
    exit 1
fi
