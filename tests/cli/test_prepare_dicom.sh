#!/usr/bin/env bash
# test_prepare_dicom.sh — `xraycls prepare` on clinical data through the CLI: DICOM files without
# extension in a folder source, gray and --rgb, refused files named and skipped under
# --on-corrupt skip, audit.json/dataset.json recording window, inversion and PatientID; a CSV
# with --patient-column whose given splits share a patient (exit 1 naming it, or --allow-leak);
# the coronahack source reporting patients and near duplicates; the new flags in --help.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/prepdicom
FX=${XRAYCLS_SOURCE_DIR:?}/tests/fixtures/dicom
PY=/usr/bin/python3
rm -rf "$T" && mkdir -p "$T"
source "$XRAYCLS_SOURCE_DIR/tests/cli/lib.sh"

"$B" prepare --help >"$T/help" 2>&1
for f in --patient-column --patient-regex --allow-leak --near-distance; do
  check 'grep -q -- "$f" "$T/help"' "prepare --help lacks $f"
done

mkdir -p "$T/d/Normal" "$T/d/Pneumonia"
cp "$FX/mono1_window_implicit_le.dcm" "$T/d/Normal/a"
cp "$FX/j2k_lossless_12in16.dcm" "$T/d/Normal/b"
cp "$FX/rle_12in16.dcm" "$T/d/Normal/c"
cp "$FX/voi_lut_sequence.dcm" "$T/d/Pneumonia/d"
cp "$FX/jpeg_baseline_u8_mono1.dcm" "$T/d/Pneumonia/e"
cp "$FX/no_pixel_data.dcm" "$T/d/Pneumonia/f"
"$B" prepare folder --root "$T/d" -o "$T/out" --size 32 >"$T/p1.out" 2>"$T/p1.err"; rc=$?
if grep -q "built without DCMTK" "$T/p1.err"; then
  check '[ $rc -eq 1 ]' "without DCMTK a DICOM file is an error"
  [ $fail -eq 0 ] && echo "test_prepare_dicom: ok (built without DCMTK)"
  exit $fail
fi
check '[ $rc -eq 1 ] && grep -q "Pneumonia/f" "$T/p1.err" && grep -q "no pixel data" "$T/p1.err"' "refusal names the file and reason: $(cat "$T/p1.err")"
check '[ ! -e "$T/out/dataset.json" ]' "a refused run writes no dataset"
for rgb in "" --rgb; do
  "$B" prepare folder --root "$T/d" -o "$T/out$rgb" --size 32 --val-fraction 0 --on-corrupt skip $rgb >"$T/p2.out" 2>"$T/p2.err"; rc=$?
  check '[ $rc -eq 0 ]' "prepare $rgb with --on-corrupt skip: $(cat "$T/p2.err")"
  check '$PY - "$T/out$rgb" "$rgb" <<PY
import json, sys
d, rgb = sys.argv[1], sys.argv[2]
a = json.load(open(d + "/audit.json")); ds = json.load(open(d + "/dataset.json"))
assert a["splits"]["train"] == {"Normal": 3, "Pneumonia": 2}, a["splits"]
assert "Pneumonia/f" in a["unreadable"]["files"], a["unreadable"]
disp = a["display"]
assert disp["Normal/a"]["inverted"] is True and disp["Normal/a"]["window"] == [2000, 3000], disp["Normal/a"]
assert disp["Normal/a"]["patient_id"] == "P002" and disp["Normal/b"]["patient_id"] == "P011"
assert disp["Pneumonia/e"]["source"] == "robust range" and disp["Pneumonia/e"]["window"] is not None
assert "VOI LUT" in disp["Pneumonia/d"]["mapping"]
assert ds["display"] == disp and ds["patient_key"] == "DICOM PatientID"
assert ds["channels"] == (3 if rgb else 1)
assert a["patients"]["per_split"]["train"]["patients"] == 4  # b and c share P011
PY' "audit/dataset records ($rgb)"
done

# CSV with a patient column and given splits that share a patient
mkdir -p "$T/c"
for i in 1 2 3 4 5 6; do cp "$FX/mono1_window_implicit_le.dcm.pgm" "$T/c/x$i.pgm"; done
$PY -c "
from PIL import Image
for i in range(1, 7):
    im = Image.open('$T/c/x%d.pgm' % i); im.point(lambda v: (v * i) % 256).save('$T/c/x%d.png' % i)
"
printf 'path,label,split,pid\nx1.png,A,train,p1\nx2.png,B,train,p2\nx3.png,A,test,p1\nx4.png,B,test,p4\nx5.png,A,train,p5\nx6.png,B,train,p6\n' >"$T/c/list.csv"
"$B" prepare csv --csv "$T/c/list.csv" -o "$T/cout" --size 16 --patient-column pid >"$T/c1.out" 2>"$T/c1.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "p1" "$T/c1.err" && grep -q -- "--allow-leak" "$T/c1.err"' "shared patient refused: $(cat "$T/c1.err")"
"$B" prepare csv --csv "$T/c/list.csv" -o "$T/cout" --size 16 --patient-column pid --allow-leak >"$T/c2.out" 2>"$T/c2.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "warning: the given splits share 1 patient" "$T/c2.err"' "--allow-leak warns: $(cat "$T/c2.err")"

# coronahack: patients reported, TRAIN/TEST taken as given
"$B" prepare synthetic -o "$T/syn" --n 60 --size 32 >"$T/s.out" 2>"$T/s.err"; rc=$?
check '[ $rc -eq 0 ]' "synthetic: $(tail -3 "$T/s.err")"
check '$PY -c "import json,sys; p=json.load(open(sys.argv[1]))[\"patients\"]; assert p[\"key\"]==\"coronahack file names\" and p[\"per_split\"][\"train\"][\"patients\"]>0, p" "$T/syn/audit.json"' "coronahack patients in audit.json"
"$B" prepare synthetic -o "$T/syn2" --n 60 --size 32 --near-distance 99 >/dev/null 2>"$T/s2.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "near-distance" "$T/s2.err"' "--near-distance 99 is a usage error"

[ $fail -eq 0 ] && echo "test_prepare_dicom: ok"
exit $fail
