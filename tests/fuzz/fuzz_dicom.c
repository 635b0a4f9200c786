/* fuzz_dicom.c — libFuzzer target for DICOM decoding (xc_image_decode_mem: src/dicom over DCMTK
 * and OpenJPEG, then the display pipeline of src/image/image_dicom.c): any bytes give an image
 * or -1 with a message, never a crash, an abort or an exception escaping; see fuzz_image.h for
 * what is checked. Inputs that do not sniff as DICOM are skipped. The corpus holds small files
 * of tests/fixtures/dicom (native, deflated, RLE, JPEG, JPEG-LS, JPEG 2000, VOI and Modality LUT
 * sequences, refused kinds). */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_image_one(data, size, XC_IMAGE_DICOM);
}
