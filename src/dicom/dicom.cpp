/* dicom.cpp — xraycls/dicom.h over DCMTK and OpenJPEG: one DICOM frame to modality values.
 *
 * Why DCMTK (and not GDCM): DCMTK's parser (dcmdata) is fuzzed continuously by OSS-Fuzz and
 * checks element lengths against the data left, it is packaged for Debian with its JPEG (IJG 8,
 * 12 and 16 bit: baseline, extended, lossless), JPEG-LS (CharLS) and RLE codecs, and dcmimgle
 * implements the Modality LUT (rescale or LUT sequence) and the BitsStored / HighBit /
 * PixelRepresentation unpacking exactly as the standard states. What it lacks in its free
 * edition is JPEG 2000; GDCM has it, but would bring a second, less defensive parser for one
 * syntax. JPEG 2000 frames (1.2.840.10008.1.2.4.90 and .91) are therefore decoded here with
 * OpenJPEG — the library GDCM itself uses — and put back into the dataset as native pixel data
 * before dcmimgle runs, so every syntax goes through the same Modality stage.
 *
 * This file is C++ because DCMTK is; it exposes C only, catches every exception at the entry
 * point, and is the only C++ outside src/shim. The display pipeline (VOI, inversion, 8 bits)
 * is C, in src/image/image_dicom.c. */
#include "xraycls/dicom.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "xraycls/error.h"

extern "C" int xc_dicom_sniff(const void *buf, size_t len) {
    const unsigned char *b = static_cast<const unsigned char *>(buf);
    if (len >= 132 && std::memcmp(b + 128, "DICM", 4) == 0) return 1;
    if (len < 12) return 0;
    /* No preamble: the first element must be (0002,xxxx) or (0008,xxxx), little or big endian,
     * with either two upper-case VR letters (explicit) or a 32-bit length that fits the file
     * (implicit). JPEG (FF D8) and PNG (89 50) never match. */
    unsigned g_le = b[0] | (b[1] << 8), g_be = (b[0] << 8) | b[1];
    int le = g_le == 0x0002 || g_le == 0x0008, be = g_be == 0x0008;
    if (!le && !be) return 0;
    int explicit_vr = b[4] >= 'A' && b[4] <= 'Z' && b[5] >= 'A' && b[5] <= 'Z';
    if (explicit_vr) return 1;
    if (!le) return 0;
    unsigned long n = b[4] | (b[5] << 8) | ((unsigned long)b[6] << 16) | ((unsigned long)b[7] << 24);
    unsigned e = b[2] | (b[3] << 8);
    return n <= len - 8 && e < 0x2000;
}

extern "C" int xc_jpeg_scan_limit(int64_t pixels) {
    /* Real progressive JPEGs have about 10 scans; libjpeg-turbo's own tools stop at 500. Each
     * scan costs time in proportion to the image's size, so big images get fewer: at most 1e10
     * scan-pixels (a 100-megapixel image gets 100 scans), never under 32. */
    const double work = 1e10;
    const int most = 500, least = 32;
    double px = pixels > 0 ? (double)pixels : 1.0;
    if (px * most <= work) return most;
    return work / px < least ? least : (int)(work / px);
}

extern "C" void xc_dicom_frame_free(xc_dicom_frame *f) {
    if (!f) return;
    std::free(f->values);
    std::free(f->rgb);
    std::free(f->voi_lut);
    std::memset(f, 0, sizeof *f);
}

#if !XRAYCLS_HAVE_DCMTK

extern "C" int xc_dicom_available(void) { return 0; }

extern "C" int xc_dicom_patient_id(const char *path, char *id, size_t cap) {
    if (cap) id[0] = '\0';
    return xc_errorf("cannot read '%s': xraycls was built without DCMTK (DICOM support)", path);
}

extern "C" int xc_dicom_decode(const void *, size_t, const char *what, int, int64_t, int, xc_dicom_frame *out) {
    std::memset(out, 0, sizeof *out);
    return xc_errorf("cannot decode '%s': xraycls was built without DCMTK (DICOM support): install "
                     "libdcmtk-dev libcharls-dev libopenjp2-7-dev (scripts/setup.sh) and configure again",
                     what ? what : "(memory)");
}

#else

#include <dcmtk/config/osconfig.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h> /* colour images (RGB, YBR, palette) in DicomImage */
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>
#include <openjpeg.h>

#include <mutex>
#include <string>
#include <vector>

/* DCMTK allocates element values with new (std::nothrow) Uint8[length]. While this thread
 * parses a file, such allocations above alloc_cap fail (DCMTK then reports the element as
 * unreadable) instead of reserving gigabytes for a header's claim: a file's elements cannot be
 * longer than the file, except in a deflated data set (cap 1 GiB). The throwing new that
 * libtorch and everything else use is untouched. */
static thread_local size_t alloc_cap = 0; /* 0: no cap */

void *operator new[](std::size_t n, const std::nothrow_t &) noexcept {
    if (alloc_cap && n > alloc_cap) return nullptr;
    try {
        return ::operator new[](n);
    } catch (...) {
        return nullptr;
    }
}

namespace {

/* Sets the cap for the current scope. */
struct alloc_cap_scope {
    explicit alloc_cap_scope(size_t cap) { alloc_cap = cap; }
    ~alloc_cap_scope() { alloc_cap = 0; }
};

std::once_flag codecs_once;

void register_codecs() {
    /* DCMTK logs parser warnings to stderr by default; xraycls reports through xc_error(). */
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
}

struct failure {
    std::string msg;
};

[[noreturn]] void fail(const std::string &m) { throw failure{m}; }

bool is_j2k(E_TransferSyntax x) { return x == EXS_JPEG2000LosslessOnly || x == EXS_JPEG2000; }

/* The syntaxes DCMTK decodes with its IJG codecs. */
bool is_jpeg(E_TransferSyntax x) {
    return x == EXS_JPEGProcess1 || x == EXS_JPEGProcess2_4 || x == EXS_JPEGProcess14 || x == EXS_JPEGProcess14SV1;
}

bool supported(E_TransferSyntax x) {
    switch (x) {
    case EXS_LittleEndianImplicit:
    case EXS_LittleEndianExplicit:
    case EXS_BigEndianExplicit:
    case EXS_DeflatedLittleEndianExplicit:
    case EXS_JPEGProcess1:
    case EXS_JPEGProcess2_4:
    case EXS_JPEGProcess14:
    case EXS_JPEGProcess14SV1:
    case EXS_JPEGLSLossless:
    case EXS_JPEGLSLossy:
    case EXS_RLELossless:
    case EXS_JPEG2000LosslessOnly:
    case EXS_JPEG2000:
        return true;
    default:
        return false;
    }
}

std::string get_str(DcmItem *ds, const DcmTagKey &tag) {
    OFString s;
    if (ds->findAndGetOFString(tag, s).bad()) return "";
    return std::string(s.c_str());
}

long get_long(DcmItem *ds, const DcmTagKey &tag, long def) {
    Uint16 u;
    if (ds->findAndGetUint16(tag, u).good()) return u;
    Sint32 s;
    if (ds->findAndGetSint32(tag, s).good()) return s;
    OFString str;
    if (ds->findAndGetOFString(tag, str).good() && !str.empty()) return std::atol(str.c_str());
    return def;
}

void copy_str(char *dst, size_t cap, const std::string &s) { std::snprintf(dst, cap, "%s", s.c_str()); }

/* ---- JPEG 2000 through OpenJPEG ---------------------------------------------------------- */

struct mem_stream {
    const Uint8 *p;
    size_t n, pos;
};

OPJ_SIZE_T j2k_read(void *dst, OPJ_SIZE_T n, void *user) {
    mem_stream *m = static_cast<mem_stream *>(user);
    if (m->pos >= m->n) return (OPJ_SIZE_T)-1;
    size_t k = n < m->n - m->pos ? n : m->n - m->pos;
    std::memcpy(dst, m->p + m->pos, k);
    m->pos += k;
    return k;
}

OPJ_OFF_T j2k_skip(OPJ_OFF_T n, void *user) {
    mem_stream *m = static_cast<mem_stream *>(user);
    if (n < 0) {
        if ((size_t)(-n) > m->pos) n = -(OPJ_OFF_T)m->pos;
    } else if ((size_t)n > m->n - m->pos) {
        n = (OPJ_OFF_T)(m->n - m->pos);
    }
    m->pos += n;
    return n;
}

OPJ_BOOL j2k_seek(OPJ_OFF_T n, void *user) {
    mem_stream *m = static_cast<mem_stream *>(user);
    if (n < 0 || (size_t)n > m->n) return OPJ_FALSE;
    m->pos = (size_t)n;
    return OPJ_TRUE;
}

void j2k_error(const char *msg, void *user) {
    std::string *s = static_cast<std::string *>(user);
    if (s->empty()) {
        *s = msg;
        while (!s->empty() && (s->back() == '\n' || s->back() == ' ')) s->pop_back();
    }
}

void j2k_quiet(const char *, void *) {}

/* RAII for OpenJPEG's three objects. */
struct j2k_objects {
    opj_stream_t *stream = nullptr;
    opj_codec_t *codec = nullptr;
    opj_image_t *image = nullptr;
    ~j2k_objects() {
        if (image) opj_image_destroy(image);
        if (codec) opj_destroy_codec(codec);
        if (stream) opj_stream_destroy(stream);
    }
};

/* The compressed frame of ds: its Pixel Data fragments joined (item 0, the basic offset table,
 * left out); *first (when not null) receives the first fragment's length. `kind` names the
 * compression in messages. */
std::vector<Uint8> fragments(DcmDataset *ds, E_TransferSyntax xfer, const char *kind, size_t *first = nullptr) {
    DcmElement *el = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el) fail("no pixel data");
    DcmPixelData *pd = OFstatic_cast(DcmPixelData *, el);
    DcmPixelSequence *seq = nullptr;
    const DcmRepresentationParameter *rp = nullptr;
    if (pd->getEncapsulatedRepresentation(xfer, rp, seq).bad() || !seq)
        fail(std::string(kind) + " pixel data is not encapsulated");
    std::vector<Uint8> code;
    for (unsigned long i = 1; i < seq->card(); i++) {
        DcmPixelItem *item = nullptr;
        Uint8 *frag = nullptr;
        if (seq->getItem(item, i).bad() || !item) fail(std::string("damaged ") + kind + " fragment");
        Uint32 n = item->getLength();
        if (n == 0) continue;
        if (item->getUint8Array(frag).bad() || !frag) fail(std::string("damaged ") + kind + " fragment");
        if (first && code.empty()) *first = n;
        code.insert(code.end(), frag, frag + n);
    }
    return code;
}

/* Two checks of a JPEG frame before DCMTK's IJG codecs see it, for two ways a small hostile
 * file keeps DCMTK busy without end:
 * - Before decoding, DCMTK finds the sample precision by walking the markers of the first
 *   fragment up to the frame header (DJCodecDecoder::scanJpegDataForBitDepth), and that walk
 *   does not move past a TEM marker (FF 01): it loops forever. The same walk is made here and a
 *   TEM before the frame header refused.
 * - The codecs decode every scan of a progressive stream, each at the cost of the whole image,
 *   with no way to stop them: a file of a few kilobytes repeating one scan thousands of times
 *   keeps a core busy for minutes. The scans are counted as the SOS markers (FF DA) of the
 *   stream — in entropy-coded data FF is always followed by 00 or a marker, so each such pair
 *   is a marker — and a frame with more than xc_jpeg_scan_limit() is refused, as the JPEG
 *   decoders of src/image refuse it. */
void check_jpeg(DcmDataset *ds, E_TransferSyntax xfer, long rows, long cols) {
    size_t first = 0;
    std::vector<Uint8> code = fragments(ds, xfer, "JPEG", &first);
    for (size_t off = 0; off + 4 < first;) {
        unsigned m = (unsigned)code[off] << 8 | code[off + 1];
        bool sof = m >= 0xFFC0 && m <= 0xFFCF && m != 0xFFC4 && m != 0xFFC8 && m != 0xFFCC;
        if (sof) break; /* DCMTK stops at the frame header */
        if (m == 0xFF01) fail("JPEG stream with a TEM marker (FF 01) before its frame header");
        if (m >= 0xFFD0 && m <= 0xFFD9) /* RSTn, SOI, EOI */
            off += 2;
        else if (m == 0xFFC4 || m == 0xFFC8 || m == 0xFFCC || m >= 0xFFDA) /* segments with a length */
            off += m == 0xFFFF ? 1 : ((size_t)code[off + 2] << 8 | code[off + 3]) + 2;
        else if (code[off] == 0xFF && code[off + 1] > 2 && code[off + 1] <= 0xBF) /* reserved */
            off += 2;
        else
            break; /* DCMTK refuses the stream itself */
    }
    int limit = xc_jpeg_scan_limit((int64_t)rows * cols), scans = 0;
    for (size_t i = 0; i + 1 < code.size(); i++)
        if (code[i] == 0xFF && code[i + 1] == 0xDA && ++scans > limit)
            fail("JPEG frame with over " + std::to_string(limit) + " scans (the most decoded for a " + std::to_string(cols) +
                 "x" + std::to_string(rows) + " image)");
}

/* Replaces the encapsulated JPEG 2000 Pixel Data of ds by the decoded native samples. When
 * min_side_hint > 0 the wavelet is decoded only down to the resolution 1/2^r (the largest r the
 * code stream has, at most 3, that keeps both sides >= twice the hint), which skips the code
 * blocks of the finer levels — most of the work; Rows/Columns of ds then describe the reduced
 * image and *reduce receives r. */
void decode_j2k(DcmDataset *ds, E_TransferSyntax xfer, int rows, int cols, int spp, int bits_alloc, int min_side_hint,
                int *reduce) {
    *reduce = 0;
    std::vector<Uint8> code = fragments(ds, xfer, "JPEG 2000");
    if (code.size() < 12) fail("empty JPEG 2000 pixel data");
    static const Uint8 jp2_sig[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
    OPJ_CODEC_FORMAT fmt = std::memcmp(code.data(), jp2_sig, 12) == 0 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K;

    mem_stream ms = {code.data(), code.size(), 0};
    std::string err;
    j2k_objects o;
    o.stream = opj_stream_create(1 << 16, OPJ_TRUE);
    o.codec = opj_create_decompress(fmt);
    if (!o.stream || !o.codec) throw std::bad_alloc();
    opj_stream_set_user_data(o.stream, &ms, nullptr);
    opj_stream_set_user_data_length(o.stream, code.size());
    opj_stream_set_read_function(o.stream, j2k_read);
    opj_stream_set_skip_function(o.stream, j2k_skip);
    opj_stream_set_seek_function(o.stream, j2k_seek);
    opj_set_error_handler(o.codec, j2k_error, &err);
    opj_set_warning_handler(o.codec, j2k_quiet, nullptr);
    opj_set_info_handler(o.codec, j2k_quiet, nullptr);
    opj_dparameters_t prm;
    opj_set_default_decoder_parameters(&prm);
    if (!opj_setup_decoder(o.codec, &prm) || !opj_read_header(o.stream, o.codec, &o.image) || !o.image)
        fail("JPEG 2000 header: " + (err.empty() ? std::string("unreadable") : err));
    /* The code stream must describe the image the DICOM header announces (checked before the
     * tiles are decoded, so that a small header over a huge code stream allocates nothing). */
    if ((int)o.image->numcomps != spp || (long)(o.image->x1 - o.image->x0) != cols || (long)(o.image->y1 - o.image->y0) != rows)
        fail("JPEG 2000 code stream is " + std::to_string(o.image->x1 - o.image->x0) + "x" +
             std::to_string(o.image->y1 - o.image->y0) + "x" + std::to_string(o.image->numcomps) + ", the header says " +
             std::to_string(cols) + "x" + std::to_string(rows) + "x" + std::to_string(spp));
    int r = 0;
    if (min_side_hint > 0 && o.image->x0 == 0 && o.image->y0 == 0) {
        opj_codestream_info_v2_t *ci = opj_get_cstr_info(o.codec);
        int levels = ci && ci->m_default_tile_info.tccp_info ? (int)ci->m_default_tile_info.tccp_info[0].numresolutions - 1 : 0;
        for (int c = 1; ci && ci->m_default_tile_info.tccp_info && c < spp; c++)
            levels = std::min(levels, (int)ci->m_default_tile_info.tccp_info[c].numresolutions - 1);
        if (ci) opj_destroy_cstr_info(&ci);
        /* Twice the hint: the resampler then does the last reduction itself, which keeps the
         * result within a level of the full decode's on average (the wavelet's low-pass is
         * not the resampler's filter); 4x less work than the full decode on 4x-larger films. */
        int want = 2 * min_side_hint;
        while (r < levels && r < 3 && ((cols + (2 << r) - 1) >> (r + 1)) >= want && ((rows + (2 << r) - 1) >> (r + 1)) >= want)
            r++;
        if (r > 0 && !opj_set_decoded_resolution_factor(o.codec, (OPJ_UINT32)r)) r = 0;
    }
    if (!opj_decode(o.codec, o.stream, o.image) || !opj_end_decompress(o.codec, o.stream))
        fail("JPEG 2000 data: " + (err.empty() ? std::string("cannot decode") : err));
    rows = (rows + (1 << r) - 1) >> r;
    cols = (cols + (1 << r) - 1) >> r;
    for (int c = 0; c < spp; c++) {
        const opj_image_comp_t &k = o.image->comps[c];
        if (!k.data || k.w != (OPJ_UINT32)cols || k.h != (OPJ_UINT32)rows || k.dx != 1 || k.dy != 1)
            fail("JPEG 2000 component " + std::to_string(c) + " is subsampled or incomplete");
        if (k.prec > (OPJ_UINT32)bits_alloc) fail("JPEG 2000 samples are wider than BitsAllocated");
    }
    if (r > 0) {
        ds->putAndInsertUint16(DCM_Rows, (Uint16)rows);
        ds->putAndInsertUint16(DCM_Columns, (Uint16)cols);
    }
    *reduce = r;
    size_t npx = (size_t)rows * (size_t)cols;
    if (bits_alloc == 8) {
        std::vector<Uint8> v(npx * spp);
        for (size_t i = 0; i < npx; i++)
            for (int c = 0; c < spp; c++) v[i * spp + c] = (Uint8)o.image->comps[c].data[i];
        delete ds->remove(DCM_PixelData);
        if (ds->putAndInsertUint8Array(DCM_PixelData, v.data(), (unsigned long)v.size()).bad()) throw std::bad_alloc();
    } else if (bits_alloc == 16) {
        std::vector<Uint16> v(npx * spp);
        for (size_t i = 0; i < npx; i++) /* signed samples: their two's complement, as stored natively */
            for (int c = 0; c < spp; c++) v[i * spp + c] = (Uint16)(o.image->comps[c].data[i] & 0xFFFF);
        delete ds->remove(DCM_PixelData);
        if (ds->putAndInsertUint16Array(DCM_PixelData, v.data(), (unsigned long)v.size()).bad()) throw std::bad_alloc();
    } else {
        fail("JPEG 2000 with BitsAllocated " + std::to_string(bits_alloc) + " (8 or 16 supported)");
    }
    if (spp == 3) { /* OpenJPEG has undone the colour transform: the samples are RGB */
        ds->putAndInsertString(DCM_PhotometricInterpretation, "RGB");
        ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);
    }
}

void read_voi(DcmDataset *ds, xc_dicom_frame *f) {
    DcmElement *el = nullptr;
    if (ds->findAndGetElement(DCM_WindowCenter, el).good() && el) {
        Float64 c = 0, w = 0;
        if (ds->findAndGetFloat64(DCM_WindowCenter, c, 0).good() && ds->findAndGetFloat64(DCM_WindowWidth, w, 0).good() &&
            w > 0) {
            f->nwindows = (int)el->getVM();
            f->window_center = c;
            f->window_width = w;
        }
    }
    std::string fn = get_str(ds, DCM_VOILUTFunction);
    copy_str(f->voi_function, sizeof f->voi_function, fn);
    DcmItem *it = nullptr;
    if (ds->findAndGetSequenceItem(DCM_VOILUTSequence, it, 0).good() && it) {
        long d[3];
        for (int i = 0; i < 3; i++) {
            Uint16 u;
            Sint16 s;
            if (it->findAndGetUint16(DCM_LUTDescriptor, u, i).good()) d[i] = u;
            else if (it->findAndGetSint16(DCM_LUTDescriptor, s, i).good()) d[i] = s;
            else return; /* no usable descriptor: the sequence is ignored, the window decides */
        }
        long n = d[0] == 0 ? 65536 : d[0];
        const Uint16 *data = nullptr;
        unsigned long count = 0;
        if (it->findAndGetUint16Array(DCM_LUTData, data, &count).bad() || !data || (long)count < n) return;
        if (d[2] < 1 || d[2] > 16) return;
        f->voi_lut = static_cast<uint16_t *>(std::malloc((size_t)n * sizeof(uint16_t)));
        if (!f->voi_lut) throw std::bad_alloc();
        std::memcpy(f->voi_lut, data, (size_t)n * sizeof(uint16_t));
        f->voi_lut_n = (int)n;
        /* The first mapped value follows the pixel representation (PS3.3 C.11.2.1.1). */
        f->voi_lut_first = f->pixel_representation ? (int)(int16_t)(uint16_t)d[1] : (int)(uint16_t)d[1];
        f->voi_lut_bits = (int)d[2];
    }
}

template <typename T> void copy_values(const void *src, size_t n, int32_t *dst) {
    const T *s = static_cast<const T *>(src);
    for (size_t i = 0; i < n; i++) {
        long long v = (long long)s[i];
        dst[i] = v > INT32_MAX ? INT32_MAX : (int32_t)v;
    }
}

/* ---- lengths before DCMTK ------------------------------------------------------------------
 * DCMTK allocates an element's declared length before it reads the value, so a 300-byte file
 * claiming a 3.5 GB element costs a 3.5 GB allocation (found by fuzzing). This walk checks,
 * before DCMTK sees the file, that every declared length of the meta group and the data set —
 * sequences and items included, to a nesting depth of 64 — fits in the bytes that follow it.
 * It only refuses what is certainly wrong; whatever it cannot follow (a deflated data set, an
 * unknown VR) it leaves to DCMTK. */

struct walk_state {
    const unsigned char *b;
    size_t end;
    bool big, implicit_vr; /* the data set's encoding; group 0002 is explicit little endian */
    std::string err;
};

unsigned rd16(const walk_state &w, size_t at, bool big) {
    return big ? (unsigned)(w.b[at] << 8 | w.b[at + 1]) : (unsigned)(w.b[at] | w.b[at + 1] << 8);
}

unsigned long rd32(const walk_state &w, size_t at, bool big) {
    unsigned long a = w.b[at], b = w.b[at + 1], c = w.b[at + 2], d = w.b[at + 3];
    return big ? (a << 24 | b << 16 | c << 8 | d) : (a | b << 8 | c << 16 | d << 24);
}

/* Walks elements from *pos up to `end` (or an item / sequence delimiter); 1 to go on, 0 when it
 * cannot follow the encoding (DCMTK decides), -1 with w.err set when a length is impossible. */
int walk(walk_state &w, size_t *pos, size_t end, int depth) {
    if (depth > 64) {
        w.err = "sequences nested deeper than 64 levels";
        return -1;
    }
    while (*pos + 8 <= end) {
        size_t at = *pos;
        unsigned g_le = rd16(w, at, false);
        bool meta = g_le == 0x0002, big = !meta && w.big, impl = !meta && w.implicit_vr;
        unsigned g = rd16(w, at, big), e = rd16(w, at + 2, big);
        if (g == 0xFFFE) { /* item, item delimiter, sequence delimiter: tag + 4-byte length */
            unsigned long n = rd32(w, at + 4, big);
            *pos = at + 8;
            if (e == 0xE00D || e == 0xE0DD) return 1;
            if (e != 0xE000) return 0;
            if (n == 0xFFFFFFFFul) {
                int r = walk(w, pos, end, depth + 1);
                if (r <= 0) return r;
                continue;
            }
            if (n > end - *pos) {
                w.err = "an item claims " + std::to_string(n) + " bytes, " + std::to_string(end - *pos) + " are left";
                return -1;
            }
            size_t item_end = *pos + n;
            int r = walk(w, pos, item_end, depth + 1);
            if (r <= 0) return r;
            *pos = item_end;
            continue;
        }
        unsigned long n;
        bool sq = false;
        size_t head;
        if (impl) {
            n = rd32(w, at + 4, big);
            head = 8;
        } else {
            char v0 = (char)w.b[at + 4], v1 = (char)w.b[at + 5];
            if (v0 < 'A' || v0 > 'Z' || v1 < 'A' || v1 > 'Z') return 0;
            std::string vr = {v0, v1};
            static const char *const long_vrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
            bool lng = false;
            for (const char *l : long_vrs) lng = lng || vr == l;
            if (lng) {
                if (at + 12 > end) break;
                n = rd32(w, at + 8, big);
                head = 12;
            } else {
                n = rd16(w, at + 6, big);
                head = 8;
            }
            sq = vr == "SQ";
        }
        *pos = at + head;
        if (n == 0xFFFFFFFFul) { /* a sequence, or encapsulated pixel data: items up to the delimiter */
            int r = walk(w, pos, end, depth + 1);
            if (r <= 0) return r;
            continue;
        }
        if (n > end - *pos) {
            char tag[16];
            std::snprintf(tag, sizeof tag, "(%04X,%04X)", g, e);
            w.err = std::string("element ") + tag + " claims " + std::to_string(n) + " bytes, " + std::to_string(end - *pos) +
                    " are left";
            return -1;
        }
        if (sq) {
            size_t sq_end = *pos + n;
            int r = walk(w, pos, sq_end, depth + 1);
            if (r < 0) return r;
            *pos = sq_end;
            continue;
        }
        if (meta && e == 0x0010) { /* the transfer syntax of the data set */
            std::string uid((const char *)w.b + *pos, n);
            while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.pop_back();
            w.implicit_vr = uid == "1.2.840.10008.1.2";
            w.big = uid == "1.2.840.10008.1.2.2";
            if (uid == "1.2.840.10008.1.2.1.99") { /* deflated: the rest is a zlib stream */
                *pos += n;
                return 0;
            }
        }
        *pos += n;
    }
    return 1;
}

void check_lengths(const void *buf, size_t len) {
    walk_state w;
    w.b = static_cast<const unsigned char *>(buf);
    w.end = len;
    size_t pos = len >= 132 && std::memcmp(w.b + 128, "DICM", 4) == 0 ? 132 : 0;
    if (pos + 8 > len) return;
    /* Without a meta group, the first element says how the data set is encoded. */
    bool explicit_vr = w.b[pos + 4] >= 'A' && w.b[pos + 4] <= 'Z' && w.b[pos + 5] >= 'A' && w.b[pos + 5] <= 'Z';
    w.big = w.b[pos] == 0 && w.b[pos + 1] != 0;
    w.implicit_vr = !explicit_vr;
    if (walk(w, &pos, len, 0) < 0) fail(w.err);
}

void decode(const void *buf, size_t len, int max_side, int64_t max_pixels, int min_side_hint, xc_dicom_frame *f) {
    std::call_once(codecs_once, register_codecs);
    check_lengths(buf, len);
    /* Native and encapsulated elements fit in the file; inflated and decompressed pixels are at
     * most the limits' pixels x 3 samples x 4 bytes. */
    size_t pix_cap = (size_t)max_pixels * 12, cap = (len + 4096) > pix_cap ? (len + 4096) : pix_cap;
    if (cap > ((size_t)1 << 30)) cap = (size_t)1 << 30;
    alloc_cap_scope cap_scope(cap);
    if (!dcmDataDict.isDictionaryLoaded()) fail("DCMTK's data dictionary is not loaded (DCMDICTPATH)");
    DcmInputBufferStream in;
    in.setBuffer(buf, (offile_off_t)len);
    in.setEos();
    DcmFileFormat ff;
    ff.transferInit();
    OFCondition c = ff.read(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
    ff.transferEnd();
    if (c.bad()) fail(std::string("not a readable DICOM file (") + c.text() + ")");
    DcmDataset *ds = ff.getDataset();
    if (!ds) fail("not a readable DICOM file");
    E_TransferSyntax xfer = ds->getOriginalXfer();
    DcmXfer xf(xfer);
    copy_str(f->transfer_syntax, sizeof f->transfer_syntax, xf.getXferName());
    if (!supported(xfer)) {
        std::string uid = get_str(ff.getMetaInfo(), DCM_TransferSyntaxUID);
        fail("unsupported transfer syntax " + (uid.empty() ? std::string(xf.getXferName()) : uid + " (" + xf.getXferName() + ")"));
    }
    std::string sop = get_str(ds, DCM_SOPClassUID);
    if (!sop.empty()) {
        bool image = false;
        for (int i = 0; i < numberOfDcmImageSOPClassUIDs && !image; i++)
            image = dcmImageSOPClassUIDs[i] && sop == dcmImageSOPClassUIDs[i];
        if (!image) {
            const char *name = dcmFindNameOfUID(sop.c_str(), nullptr);
            fail("not an image (SOP class " + sop + (name ? std::string(", ") + name : std::string()) + ")");
        }
    }
    if (!ds->tagExistsWithValue(DCM_PixelData)) fail("no pixel data");
    long frames = get_long(ds, DCM_NumberOfFrames, 1);
    if (frames > 1) fail("multi-frame image (" + std::to_string(frames) + " frames): only single images are read");
    long rows = get_long(ds, DCM_Rows, 0), cols = get_long(ds, DCM_Columns, 0);
    long spp = get_long(ds, DCM_SamplesPerPixel, 1);
    if (rows <= 0 || cols <= 0) fail("no image size (Rows/Columns)");
    if (cols > max_side || rows > max_side)
        fail("image is " + std::to_string(cols) + "x" + std::to_string(rows) + ", over the limit of " + std::to_string(max_side) +
             " a side");
    if ((int64_t)rows * cols > max_pixels)
        fail("image is " + std::to_string(cols) + "x" + std::to_string(rows) + ", over the limit of " +
             std::to_string((long long)max_pixels) + " pixels");
    if (spp != 1 && spp != 3) fail("SamplesPerPixel " + std::to_string(spp) + " (1 or 3 supported)");
    std::string pi = get_str(ds, DCM_PhotometricInterpretation);
    copy_str(f->photometric, sizeof f->photometric, pi);
    bool mono = pi == "MONOCHROME1" || pi == "MONOCHROME2";
    bool colour = pi == "RGB" || pi.rfind("YBR_", 0) == 0 || pi == "PALETTE COLOR";
    if (!mono && !colour) fail("photometric interpretation '" + pi + "' is not supported");
    f->bits_allocated = (int)get_long(ds, DCM_BitsAllocated, 0);
    f->bits_stored = (int)get_long(ds, DCM_BitsStored, f->bits_allocated);
    f->high_bit = (int)get_long(ds, DCM_HighBit, f->bits_stored - 1);
    f->pixel_representation = (int)get_long(ds, DCM_PixelRepresentation, 0);
    if (f->bits_allocated != 1 && f->bits_allocated != 8 && f->bits_allocated != 16 && f->bits_allocated != 32)
        fail("BitsAllocated " + std::to_string(f->bits_allocated));
    if (f->bits_stored < 1 || f->bits_stored > f->bits_allocated || f->high_bit < f->bits_stored - 1 ||
        f->high_bit >= f->bits_allocated)
        fail("BitsStored " + std::to_string(f->bits_stored) + " / HighBit " + std::to_string(f->high_bit) + " do not fit BitsAllocated " +
             std::to_string(f->bits_allocated));
    Float64 slope = 1, icpt = 0;
    bool has_slope = ds->findAndGetFloat64(DCM_RescaleSlope, slope).good();
    bool has_icpt = ds->findAndGetFloat64(DCM_RescaleIntercept, icpt).good();
    f->rescale_slope = has_slope ? slope : 1.0;
    f->rescale_intercept = has_icpt ? icpt : 0.0;
    f->has_rescale = (has_slope && slope != 1.0) || (has_icpt && icpt != 0.0);
    f->has_modality_lut = ds->tagExists(DCM_ModalityLUTSequence) ? 1 : 0;
    copy_str(f->patient_id, sizeof f->patient_id, get_str(ds, DCM_PatientID));
    read_voi(ds, f);

    f->full_width = (int)cols;
    f->full_height = (int)rows;
    f->scale_denom = 1;
    if (is_j2k(xfer)) {
        int r = 0;
        decode_j2k(ds, xfer, (int)rows, (int)cols, (int)spp, f->bits_allocated, min_side_hint, &r);
        f->scale_denom = 1 << r;
        rows = (rows + (1 << r) - 1) >> r;
        cols = (cols + (1 << r) - 1) >> r;
    } else if (xf.isEncapsulated()) {
        if (is_jpeg(xfer)) check_jpeg(ds, xfer, rows, cols);
        OFCondition d = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        if (d.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
            fail(std::string("cannot decompress ") + xf.getXferName() + " pixel data" + (d.bad() ? std::string(" (") + d.text() + ")" : ""));
    }
    DicomImage img(ds, is_j2k(xfer) || xf.isEncapsulated() ? EXS_LittleEndianExplicit : xfer, CIF_MayDetachPixelData, 0, 1);
    if (img.getStatus() != EIS_Normal) fail(std::string("pixel data: ") + DicomImage::getString(img.getStatus()));
    if ((long)img.getWidth() != cols || (long)img.getHeight() != rows) fail("pixel data does not match Rows/Columns");
    f->width = (int)cols;
    f->height = (int)rows;
    size_t npx = (size_t)rows * (size_t)cols;
    if (img.isMonochrome()) {
        if (!mono) fail("colour pixel data rendered as monochrome");
        const DiPixel *px = img.getInterData();
        if (!px || !px->getData() || px->getCount() < npx) fail("pixel data is shorter than Rows x Columns");
        f->samples = 1;
        f->values = static_cast<int32_t *>(std::malloc(npx * sizeof(int32_t)));
        if (!f->values) throw std::bad_alloc();
        switch (px->getRepresentation()) {
        case EPR_Uint8: copy_values<Uint8>(px->getData(), npx, f->values); break;
        case EPR_Sint8: copy_values<Sint8>(px->getData(), npx, f->values); break;
        case EPR_Uint16: copy_values<Uint16>(px->getData(), npx, f->values); break;
        case EPR_Sint16: copy_values<Sint16>(px->getData(), npx, f->values); break;
        case EPR_Uint32: copy_values<Uint32>(px->getData(), npx, f->values); break;
        case EPR_Sint32: copy_values<Sint32>(px->getData(), npx, f->values); break;
        }
        int64_t lo = f->values[0], hi = f->values[0];
        for (size_t i = 1; i < npx; i++) {
            if (f->values[i] < lo) lo = f->values[i];
            if (f->values[i] > hi) hi = f->values[i];
        }
        f->stored_min = lo;
        f->stored_max = hi;
    } else {
        const void *out = img.getOutputData(8, 0, 0);
        if (!out) fail(std::string("cannot render colour pixel data: ") + DicomImage::getString(img.getStatus()));
        f->samples = 3;
        f->rgb = static_cast<uint8_t *>(std::malloc(npx * 3));
        if (!f->rgb) throw std::bad_alloc();
        std::memcpy(f->rgb, out, npx * 3);
    }
}

} // namespace

extern "C" int xc_dicom_available(void) { return 1; }

extern "C" int xc_dicom_patient_id(const char *path, char *id, size_t cap) {
    if (cap) id[0] = '\0';
    try {
        std::call_once(codecs_once, register_codecs);
        DcmFileFormat ff;
        OFCondition c = ff.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
        if (c.bad()) return xc_errorf("cannot read '%s': %s", path, c.text());
        OFString s;
        if (ff.getDataset() && ff.getDataset()->findAndGetOFString(DCM_PatientID, s).good() && cap)
            std::snprintf(id, cap, "%s", s.c_str());
        return 0;
    } catch (...) {
        return xc_errorf("cannot read '%s': unexpected error in the DICOM library", path);
    }
}

extern "C" int xc_dicom_decode(const void *buf, size_t len, const char *what, int max_side, int64_t max_pixels,
                               int min_side_hint, xc_dicom_frame *out) {
    std::memset(out, 0, sizeof *out);
    if (!what) what = "(memory)";
    try {
        decode(buf, len, max_side, max_pixels, min_side_hint, out);
        return 0;
    } catch (const failure &e) {
        xc_dicom_frame_free(out);
        return xc_errorf("cannot decode '%s': %s", what, e.msg.c_str());
    } catch (const std::bad_alloc &) {
        xc_dicom_frame_free(out);
        return xc_errorf("cannot decode '%s': out of memory", what);
    } catch (...) {
        xc_dicom_frame_free(out);
        return xc_errorf("cannot decode '%s': unexpected error in the DICOM library", what);
    }
}

#endif
