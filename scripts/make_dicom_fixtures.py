#!/usr/bin/python3
"""Writes the DICOM test files of tests/image/test_image_dicom.c into tests/fixtures/dicom/.

Every file is written by pydicom (native syntaxes: implicit/explicit VR little endian, explicit
big endian, deflated) or transcoded by GDCM's Python module (RLE, JPEG baseline, extended and
lossless, JPEG-LS lossless and near-lossless, JPEG 2000 lossless and lossy). The expected display
image of each is computed here, in numpy, from the stored values — for the lossy syntaxes, from the
values pydicom decodes through GDCM — following PS3.3 C.11 (Modality LUT, VOI LUT sequence or
window with its VOI LUT Function, else the robust range xraycls/image.h states, MONOCHROME1
inverted): nothing here comes from xraycls. Also writes hostile and unsupported files with the
reason each must be refused for. expected.json lists them all.

Run with Debian's python (python3-pydicom, python3-gdcm, python3-numpy):
    /usr/bin/python3 scripts/make_dicom_fixtures.py [OUTDIR]
"""
import io
import json
import os
import struct
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (UID, ExplicitVRBigEndian, ExplicitVRLittleEndian,
                         ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian)
import gdcm

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "dicom")
DX = "1.2.840.10008.5.1.4.1.1.1.1"   # Digital X-Ray Image Storage - For Presentation
CR = "1.2.840.10008.5.1.4.1.1.1"     # Computed Radiography
W, H = 64, 48
rng = np.random.default_rng(14)


def radiograph(lo, hi, seed):
    """A smooth chest-like picture in [lo, hi] (integers) with some noise."""
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(float)
    img = 0.5 + 0.35 * np.cos((x - W / 2) / W * 3.0) * np.cos((y - H / 2) / H * 2.5)
    for cx in (W * 0.3, W * 0.7):  # two darker lungs
        img -= 0.3 * np.exp(-(((x - cx) / (W * 0.14)) ** 2 + ((y - H * 0.5) / (H * 0.3)) ** 2))
    img += 0.03 * r.standard_normal((H, W))
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(lo + img * (hi - lo)).astype(np.int64)


def base(sop=DX, photometric="MONOCHROME2", bits=16, stored=12, signed=0, patient="P001"):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop
    meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientID = patient
    ds.PatientName = "Test^" + patient
    ds.Rows, ds.Columns = H, W
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits
    ds.BitsStored = stored
    ds.HighBit = stored - 1
    ds.PixelRepresentation = signed
    return ds


def set_pixels(ds, stored):
    """stored: the stored values (already within BitsStored, two's complement when signed)."""
    dt = {8: np.uint8, 16: np.uint16}[ds.BitsAllocated]
    if ds.PixelRepresentation:
        dt = {8: np.int8, 16: np.int16}[ds.BitsAllocated]
    arr = np.asarray(stored).astype(dt)
    ds.PixelData = arr.tobytes()


def save(ds, name, syntax):
    ds.file_meta.TransferSyntaxUID = syntax
    ds.is_little_endian = syntax != ExplicitVRBigEndian
    ds.is_implicit_VR = syntax == ImplicitVRLittleEndian
    if syntax == ExplicitVRBigEndian and ds.BitsAllocated == 16:
        # pydicom writes PixelData bytes as given: swap them for big endian
        a = np.frombuffer(ds.PixelData, dtype="<u2").astype(">u2")
        ds.PixelData = a.tobytes()
    path = os.path.join(OUT, name)
    ds.save_as(path, write_like_original=False)
    return path


def transcode(src, name, ts, lossy=None):
    """GDCM transcodes src into a compressed syntax."""
    r = gdcm.ImageReader()
    r.SetFileName(src)
    if not r.Read():
        raise SystemExit("gdcm cannot read " + src)
    ch = gdcm.ImageChangeTransferSyntax()
    ch.SetTransferSyntax(gdcm.TransferSyntax(ts))
    if lossy == "j2k":
        c = gdcm.JPEG2000Codec()
        c.SetRate(0, 20.0)
        c.SetReversible(False)
        ch.SetUserCodec(c)
    elif lossy == "jpeg":
        c = gdcm.JPEGCodec()
        c.SetLossless(False)
        c.SetQuality(85)
        ch.SetUserCodec(c)
    elif lossy == "jpegls":
        c = gdcm.JPEGLSCodec()
        c.SetLossless(False)
        c.SetLossyError(2)
        ch.SetUserCodec(c)
    ch.SetInput(r.GetImage())
    if not ch.Change():
        raise SystemExit("gdcm cannot transcode %s to %s" % (src, name))
    w = gdcm.ImageWriter()
    path = os.path.join(OUT, name)
    w.SetFileName(path)
    w.SetFile(r.GetFile())
    w.SetImage(ch.GetOutput())
    if not w.Write():
        raise SystemExit("gdcm cannot write " + path)
    return path


# ---- the expected display image, independently of xraycls ---------------------------------

def modality(ds, stored):
    v = stored.astype(np.float64)
    if "ModalityLUTSequence" in ds:
        it = ds.ModalityLUTSequence[0]
        n, first, _ = [int(x) for x in it.LUTDescriptor]
        lut = np.array(it.LUTData, dtype=np.float64)
        return lut[np.clip(v - first, 0, (n or 65536) - 1).astype(int)]
    slope = float(ds.get("RescaleSlope", 1) or 1)
    icpt = float(ds.get("RescaleIntercept", 0) or 0)
    return v * slope + icpt


def voi(ds, x):
    """Returns (levels 0..255 as float, kind)."""
    if "VOILUTSequence" in ds:
        it = ds.VOILUTSequence[0]
        n, first, bits = [int(v) for v in it.LUTDescriptor]
        n = n or 65536
        lut = np.array(it.LUTData, dtype=np.float64)
        return lut[np.clip(x - first, 0, n - 1).astype(int)] * 255.0 / (2 ** bits - 1), "VOI LUT"
    if "WindowCenter" in ds:
        c = float(ds.WindowCenter[0] if ds["WindowCenter"].VM > 1 else ds.WindowCenter)
        w = float(ds.WindowWidth[0] if ds["WindowWidth"].VM > 1 else ds.WindowWidth)
        fn = str(ds.get("VOILUTFunction", "LINEAR")).upper()
        if fn == "SIGMOID":
            return 255.0 / (1.0 + np.exp(-4.0 * (x - c) / w)), "window"
        if fn == "LINEAR_EXACT":
            y = ((x - c) / w + 0.5) * 255.0
            y = np.where(x <= c - w / 2, 0.0, np.where(x > c + w / 2, 255.0, y))
            return y, "window"
        y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
        y = np.where(x <= c - 0.5 - (w - 1) / 2, 0.0, np.where(x > c - 0.5 + (w - 1) / 2, 255.0, y))
        return y, "window"
    s = np.sort(x.ravel())
    k = int(np.floor(0.005 * (s.size - 1)))
    lo, hi = s[k], s[s.size - 1 - k]
    if hi <= lo:
        hi = lo + 1
    return np.clip((x - lo) / (hi - lo) * 255.0, 0, 255), "robust range"


def display(ds, stored):
    y, kind = voi(ds, modality(ds, stored))
    y = np.floor(np.clip(y, 0, 255) + 0.5).astype(np.uint8)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 255 - y
    return y, kind


def stored_values(ds, raw):
    """The stored values as the standard reads them: the BitsStored bits ending at HighBit,
    sign-extended when PixelRepresentation is 1 (independent of pydicom's own masking)."""
    bs, hb = ds.BitsStored, ds.HighBit
    v = (raw.astype(np.int64) >> (hb - bs + 1)) & ((1 << bs) - 1)
    if ds.PixelRepresentation:
        v = np.where(v >= (1 << (bs - 1)), v - (1 << bs), v)
    return v


cases, refused = [], []


def pgm(name, img):
    p = os.path.join(OUT, name)
    with open(p, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (img.shape[1], img.shape[0]))
        f.write(img.astype(np.uint8).tobytes())


def add(path, ds, stored, syntax, tol=0, lossy=False, rgb=None):
    name = os.path.basename(path)
    if rgb is not None:
        exp, kind, inv = rgb, "rgb", False
    else:
        exp, kind = display(ds, stored)
        inv = ds.PhotometricInterpretation == "MONOCHROME1"
    pgm(name + ".pgm", exp if rgb is None else rgb)
    cases.append({"file": name, "expect": name + ".pgm", "tolerance": tol, "syntax": syntax, "kind": kind,
                  "inverted": inv, "patient": str(ds.get("PatientID", "")), "lossy": lossy,
                  "photometric": str(ds.PhotometricInterpretation)})


def gray_jpeg(side_h, side_w, value, **save):
    """A flat gray JPEG written by Pillow (save: its JPEG options)."""
    from PIL import Image
    b = io.BytesIO()
    Image.fromarray(np.full((side_h, side_w), value, np.uint8)).save(b, "JPEG", quality=90, **save)
    return b.getvalue()


def refused_jpeg_frame(refused, name, reason, stream, rows, cols, patient, uid):
    """An 8-bit DICOM file holding `stream` as its one encapsulated JPEG Baseline frame, to be
    refused for `reason`."""
    ds = base(bits=8, stored=8, patient=patient)
    ds.Rows, ds.Columns = rows, cols
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.PixelData = pydicom.encaps.encapsulate([stream])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGBaseline8Bit
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(os.path.join(OUT, name), write_like_original=False)
    refused.append({"file": name, "reason": reason})


def many_scans(refused):
    """A progressive JPEG frame whose last scan is repeated 600 times: each scan costs the whole
    image's decoding time, so a few kilobytes could keep DCMTK's decoder busy for minutes; it
    must be refused before decoding (over 500 scans)."""
    j = gray_jpeg(256, 256, 128, progressive=True)
    last = j[j.rfind(b"\xff\xda"):-2]
    refused_jpeg_frame(refused, "jpeg_many_scans.dcm", "over 500 scans", j[:-2] + last * 600 + b"\xff\xd9",
                       256, 256, "P025", "1.2.826.0.1.3680043.8.498.25")


def tem_marker(refused):
    """A baseline JPEG frame with a TEM marker (FF 01) after its SOI: DCMTK's walk to the frame
    header never moves past it (it would loop forever); it must be refused."""
    j = gray_jpeg(H, W, 100)
    refused_jpeg_frame(refused, "jpeg_tem_marker.dcm", "TEM marker", j[:2] + b"\xff\x01" + j[2:],
                       H, W, "P026", "1.2.826.0.1.3680043.8.498.26")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))

    # 1. 12-in-16, MONOCHROME2, no window (robust range), explicit little endian
    ds = base(patient="P001")
    v = radiograph(200, 3800, 1)
    set_pixels(ds, v)
    p = save(ds, "mono2_12in16_nowindow_explicit_le.dcm", ExplicitVRLittleEndian)
    add(p, ds, v, "explicit LE")
    src12 = p

    # 2. MONOCHROME1 with a window, implicit little endian
    ds = base(photometric="MONOCHROME1", patient="P002")
    v = radiograph(100, 4000, 2)
    set_pixels(ds, v)
    ds.WindowCenter, ds.WindowWidth = 2000, 3000
    p = save(ds, "mono1_window_implicit_le.dcm", ImplicitVRLittleEndian)
    add(p, ds, v, "implicit LE")

    # 3. signed CT-like values with a rescale and a multi-valued window, big endian
    ds = base(stored=16, signed=1, patient="P003")
    v = radiograph(-1000, 1500, 3)
    set_pixels(ds, v)
    ds.RescaleSlope, ds.RescaleIntercept = 1, -24
    ds.WindowCenter, ds.WindowWidth = [40, 300], [400, 1500]
    p = save(ds, "signed_rescale_window_explicit_be.dcm", ExplicitVRBigEndian)
    add(p, ds, v, "explicit BE")

    # 4. 12 bits stored at HighBit 11 with junk in the 4 upper bits (overlay planes), deflated
    ds = base(patient="P004")
    v = radiograph(0, 4095, 4)
    junk = rng.integers(0, 16, size=v.shape) << 12
    set_pixels(ds, v | junk)
    ds.WindowCenter, ds.WindowWidth = 1800, 2500
    p = save(ds, "highbit_junk_deflated.dcm", DeflatedExplicitVRLittleEndian)
    add(p, ds, stored_values(ds, v | junk), "deflated")

    # 5. 12 bits stored at HighBit 15 (left-aligned), signed, LINEAR_EXACT window
    ds = base(stored=12, signed=1, patient="P005")
    ds.HighBit = 15
    v = radiograph(-2000, 2000, 5)
    set_pixels(ds, (v.astype(np.int64) << 4) | rng.integers(0, 16, size=v.shape))
    ds.WindowCenter, ds.WindowWidth = 0, 3000
    ds.VOILUTFunction = "LINEAR_EXACT"
    p = save(ds, "signed_highbit15_linear_exact.dcm", ExplicitVRLittleEndian)
    raw = ((v.astype(np.int64) << 4) | 0).astype(np.int16).view(np.uint16).astype(np.int64)
    add(p, ds, stored_values(ds, np.frombuffer(ds.PixelData, dtype="<u2").reshape(H, W)), "explicit LE")

    # 6. SIGMOID window, 8 bits stored
    ds = base(bits=8, stored=8, patient="P006")
    v = radiograph(10, 240, 6)
    set_pixels(ds, v)
    ds.WindowCenter, ds.WindowWidth = 128, 120
    ds.VOILUTFunction = "SIGMOID"
    p = save(ds, "u8_sigmoid.dcm", ExplicitVRLittleEndian)
    add(p, ds, v, "explicit LE")

    # 7. VOI LUT sequence (and a window that it overrides)
    ds = base(patient="P007")
    v = radiograph(0, 4095, 7)
    set_pixels(ds, v)
    it = Dataset()
    it.LUTDescriptor = [4096, 0, 12]
    it.LUTData = [int(round(4095 * (i / 4095) ** 0.5)) for i in range(4096)]
    it["LUTData"].VR = "US"
    ds.VOILUTSequence = Sequence([it])
    ds.WindowCenter, ds.WindowWidth = 100, 50
    p = save(ds, "voi_lut_sequence.dcm", ExplicitVRLittleEndian)
    add(p, ds, v, "explicit LE")

    # 8. Modality LUT sequence
    ds = base(patient="P008")
    v = radiograph(0, 1023, 8)
    set_pixels(ds, v)
    it = Dataset()
    it.LUTDescriptor = [1024, 0, 12]
    it.LUTData = [4 * i for i in range(1024)]
    it["LUTData"].VR = "US"
    it.ModalityLUTType = "US"
    ds.ModalityLUTSequence = Sequence([it])
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    p = save(ds, "modality_lut_sequence.dcm", ExplicitVRLittleEndian)
    add(p, ds, v, "explicit LE")

    # 9. no preamble, no meta header, implicit little endian (old ACR-NEMA-like export)
    ds = base(patient="P009")
    v = radiograph(300, 3000, 9)
    set_pixels(ds, v)
    ds.WindowCenter, ds.WindowWidth = 1500, 2000
    path = os.path.join(OUT, "no_preamble_implicit.dcm")
    bare = Dataset()
    for el in ds:
        bare.add(el)
    bare.is_little_endian, bare.is_implicit_VR = True, True
    with open(path, "wb") as f:
        pydicom.filewriter.write_dataset(pydicom.filebase.DicomFileLike(f), bare)
    add(path, ds, v, "implicit LE, no preamble")

    # 10. RGB, explicit LE
    ds = base(bits=8, stored=8, photometric="RGB", patient="P010")
    ds.SamplesPerPixel = 3
    ds.PlanarConfiguration = 0
    rgbv = np.stack([radiograph(0, 255, 10 + c) for c in range(3)], axis=-1).astype(np.uint8)
    ds.PixelData = rgbv.tobytes()
    p = save(ds, "rgb_explicit_le.dcm", ExplicitVRLittleEndian)
    r16 = rgbv.astype(np.int64)
    luma = np.floor((r16[..., 0] * 19595 + r16[..., 1] * 38470 + r16[..., 2] * 7471 + 32768) / 65536)
    add(p, ds, None, "explicit LE", rgb=luma.astype(np.uint8))

    # ---- compressed syntaxes, transcoded by GDCM from native files ----
    # 16-bit (12 stored) sources for the lossless codecs
    ds = base(patient="P011")
    v16 = radiograph(100, 4000, 11)
    set_pixels(ds, v16)
    ds.WindowCenter, ds.WindowWidth = 2100, 3600
    n16 = save(ds, "tmp16.dcm", ExplicitVRLittleEndian)
    ds_n16 = ds
    ds = base(bits=8, stored=8, photometric="MONOCHROME1", patient="P012")
    v8 = radiograph(5, 250, 12)
    set_pixels(ds, v8)
    n8 = save(ds, "tmp8.dcm", ExplicitVRLittleEndian)
    ds_n8 = ds
    T = gdcm.TransferSyntax
    for name, src, dsx, vals, ts, lossy in [
        ("rle_12in16.dcm", n16, ds_n16, v16, T.RLELossless, None),
        ("jpeg_lossless_sv1_12in16.dcm", n16, ds_n16, v16, T.JPEGLosslessProcess14_1, None),
        ("jpeg_lossless_14_12in16.dcm", n16, ds_n16, v16, T.JPEGLosslessProcess14, None),
        ("jpegls_lossless_12in16.dcm", n16, ds_n16, v16, T.JPEGLSLossless, None),
        ("j2k_lossless_12in16.dcm", n16, ds_n16, v16, T.JPEG2000Lossless, None),
        ("rle_u8_mono1.dcm", n8, ds_n8, v8, T.RLELossless, None),
        ("j2k_lossless_u8_mono1.dcm", n8, ds_n8, v8, T.JPEG2000Lossless, None),
        ("jpeg_baseline_u8_mono1.dcm", n8, ds_n8, v8, T.JPEGBaselineProcess1, "jpeg"),
        # (GDCM writes 12-bit data into Process 2/4 with precision 16, which the standard does not
        # allow and DCMTK rightly refuses: the extended syntax is generated from 8-bit data)
        ("jpeg_extended_u8_mono1.dcm", n8, ds_n8, v8, T.JPEGExtendedProcess2_4, "jpeg"),
        ("jpegls_near_lossless_12in16.dcm", n16, ds_n16, v16, T.JPEGLSNearLossless, "jpegls"),
        ("j2k_lossy_12in16.dcm", n16, ds_n16, v16, T.JPEG2000, "j2k"),
    ]:
        p = transcode(src, name, ts, lossy)
        got = pydicom.dcmread(p)
        if lossy:
            # what GDCM decodes (through pydicom's GDCM handler): the stored values of record
            pydicom.config.pixel_data_handlers = [pydicom.pixel_data_handlers.gdcm_handler]
            vals = got.pixel_array.astype(np.int64)
        add(p, got, vals, str(got.file_meta.TransferSyntaxUID.name), tol=1 if lossy else 0, lossy=bool(lossy))
    os.unlink(n16)
    os.unlink(n8)

    # ---- refused ----
    def bad(name, data, reason):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        refused.append({"file": name, "reason": reason})

    good = open(src12, "rb").read()
    bad("truncated_header.dcm", good[:300], "cannot decode")
    bad("truncated_pixels.dcm", good[:len(good) - 1000], "cannot decode")
    # absurd length: the PixelData element claims 2 GB
    i = good.rfind(b"\xe0\x7f\x10\x00")
    absurd = bytearray(good)
    struct.pack_into("<I", absurd, i + 8, 0x7FFFFFF0)
    bad("absurd_length.dcm", bytes(absurd), "cannot decode")

    ds = base(patient="P020")
    ds.NumberOfFrames = 2
    ds.PixelData = np.zeros((2, H, W), np.uint16).tobytes()
    save(ds, "multiframe.dcm", ExplicitVRLittleEndian)
    refused.append({"file": "multiframe.dcm", "reason": "multi-frame"})

    ds = base(patient="P021")
    save(ds, "no_pixel_data.dcm", ExplicitVRLittleEndian)
    refused.append({"file": "no_pixel_data.dcm", "reason": "no pixel data"})

    ds = base(sop="1.2.840.10008.5.1.4.1.1.88.11", patient="P022")  # Basic Text SR
    set_pixels(ds, np.zeros((H, W), np.uint16))
    save(ds, "structured_report.dcm", ExplicitVRLittleEndian)
    refused.append({"file": "structured_report.dcm", "reason": "not an image"})

    ds = base(patient="P023")
    ds.Rows, ds.Columns = 60000, 60000
    ds.PixelData = b"\0" * 64
    save(ds, "huge_dimensions.dcm", ExplicitVRLittleEndian)
    refused.append({"file": "huge_dimensions.dcm", "reason": "over the limit"})

    # an unsupported syntax (MPEG-2), encapsulated garbage
    ds = base(patient="P024")
    ds.PixelData = pydicom.encaps.encapsulate([b"\0\0\1\xb3 not really MPEG-2 "])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(os.path.join(OUT, "unsupported_syntax.dcm"), write_like_original=False)
    refused.append({"file": "unsupported_syntax.dcm", "reason": "unsupported transfer syntax 1.2.840.10008.1.2.4.100"})

    # deeply nested sequences (each item holding a sequence), undefined lengths
    nest = b""
    for _ in range(3000):
        nest = (b"\x08\x00\x15\x11SQ\0\0\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\xff\xff\xff\xff" + nest +
                b"\xfe\xff\x0d\xe0\0\0\0\0" + b"\xfe\xff\xdd\xe0\0\0\0\0")
    hdr = good[:good.find(b"\x08\x00")]  # preamble + meta
    bad("nested_sequences.dcm", hdr + nest, "cannot decode")
    bad("not_dicom.dcm", b"\0" * 128 + b"DICM" + b"\xff" * 64, "cannot decode")
    many_scans(refused)
    tem_marker(refused)

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"cases": cases, "refused": refused}, f, indent=1)
    print("wrote %d decodable and %d refused files to %s" % (len(cases), len(refused), OUT))


if __name__ == "__main__":
    main()
