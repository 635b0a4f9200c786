/* zip.c — the central directory of the stored (uncompressed) zip archives torch.save writes.
 *
 * Only what a torch file needs: one disk, zip64 end records and extra fields (torch writes the
 * zip64 end records always, and zip64 extras once a file passes 4 GiB). Each entry's local
 * header is checked against the directory and a stored entry's CRC-32 verified, so a flipped
 * byte anywhere in the data is caught. The checks that cost nothing come first: duplicate
 * names, and local records that are out of the directory's order or overlap, are refused
 * before any checksum, so the checksums read each byte of the file at most once (a directory
 * of many entries aimed at one big record cost entries × size before). Nothing is extracted: entries point into the buffer;
 * compressed ones are listed (a TorchScript archive deflates its code) for the reader to
 * refuse should it need one. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xraycls/checksum.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOC64 0x07064b50u

static uint64_t le(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const wt_zip_entry *)a)->name, ((const wt_zip_entry *)b)->name);
}

/* Fills 0xffffffff fields from a zip64 extra field (id 1): sizes and offset, in that order. */
static int zip64_extra(const uint8_t *x, size_t n, uint64_t *usize, uint64_t *csize, uint64_t *lho) {
    size_t i = 0;
    while (i + 4 <= n) {
        unsigned id = (unsigned)le(x + i, 2);
        size_t sz = (size_t)le(x + i + 2, 2);
        if (sz > n - i - 4) return -1;
        if (id == 1) {
            const uint8_t *f = x + i + 4;
            size_t k = 0;
            uint64_t *fields[3] = {usize, csize, lho};
            for (int j = 0; j < 3; j++) {
                if (*fields[j] != 0xffffffffu) continue;
                if (k + 8 > sz) return -1;
                *fields[j] = le(f + k, 8);
                k += 8;
            }
        }
        i += 4 + sz;
    }
    return 0;
}

int wt_zip_read(wt_arena *a, const uint8_t *buf, size_t len, const char *what,
                wt_zip_entry **entries, int *count) {
    if (len < 22) return xc_errorf("cannot read '%s': truncated zip archive", what);
    /* The end record: the last place its signature sits with its comment reaching the end. */
    size_t end = 0;
    int found = 0;
    size_t lowest = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t pos = len - 22 + 1; pos-- > lowest;) {
        if (le(buf + pos, 4) == SIG_END && pos + 22 + le(buf + pos + 20, 2) == len) {
            end = pos;
            found = 1;
            break;
        }
    }
    if (!found) return xc_errorf("cannot read '%s': no zip end record (truncated file?)", what);
    const uint8_t *e = buf + end;
    uint64_t disk = le(e + 4, 2), cd_disk = le(e + 6, 2), n_disk = le(e + 8, 2), n_total = le(e + 10, 2);
    uint64_t cd_size = le(e + 12, 4), cd_off = le(e + 16, 4);
    size_t cd_limit = end; /* the directory ends before the end records */
    if (end >= 20 && le(buf + end - 20, 4) == SIG_LOC64) {
        const uint8_t *l = buf + end - 20;
        uint64_t off64 = le(l + 8, 8);
        if (le(l + 4, 4) != 0 || le(l + 16, 4) > 1) return xc_errorf("cannot read '%s': split zip archives are not supported", what);
        if (off64 > end - 20 || end - 20 - off64 < 56 || le(buf + off64, 4) != SIG_END64)
            return xc_errorf("cannot read '%s': bad zip64 end record", what);
        const uint8_t *z = buf + off64;
        disk = le(z + 16, 4);
        cd_disk = le(z + 20, 4);
        n_disk = le(z + 24, 8);
        n_total = le(z + 32, 8);
        cd_size = le(z + 40, 8);
        cd_off = le(z + 48, 8);
        cd_limit = (size_t)off64;
    }
    if (disk != 0 || cd_disk != 0 || n_disk != n_total) return xc_errorf("cannot read '%s': split zip archives are not supported", what);
    if (cd_off > cd_limit || cd_size > cd_limit - cd_off) return xc_errorf("cannot read '%s': zip directory lies outside the file", what);
    if (n_total > cd_size / 46 || n_total > XC_TORCHFILE_MAX_STACK) return xc_errorf("cannot read '%s': zip directory claims %llu entries in %llu bytes", what, (unsigned long long)n_total, (unsigned long long)cd_size);

    wt_zip_entry *ents = wt_alloc(a, (size_t)(n_total ? n_total : 1) * sizeof *ents);
    uint32_t *crcs = wt_alloc(a, (size_t)(n_total ? n_total : 1) * sizeof *crcs);
    if (!ents || !crcs) return -1;
    size_t p = (size_t)cd_off, cd_end = (size_t)(cd_off + cd_size);
    uint64_t prev_end = 0; /* where the previous entry's local record (header + data) ends */
    const char *prev_name = NULL;
    for (uint64_t i = 0; i < n_total; i++) {
        if (cd_end - p < 46 || le(buf + p, 4) != SIG_CENTRAL) return xc_errorf("cannot read '%s': bad zip directory entry %llu", what, (unsigned long long)i);
        const uint8_t *c = buf + p;
        unsigned flags = (unsigned)le(c + 8, 2), method = (unsigned)le(c + 10, 2);
        uint32_t crc = (uint32_t)le(c + 16, 4);
        uint64_t csize = le(c + 20, 4), usize = le(c + 24, 4), lho = le(c + 42, 4);
        size_t nlen = (size_t)le(c + 28, 2), elen = (size_t)le(c + 30, 2), clen = (size_t)le(c + 32, 2);
        if (46 + nlen + elen + clen > cd_end - p) return xc_errorf("cannot read '%s': bad zip directory entry %llu", what, (unsigned long long)i);
        const char *name = (const char *)c + 46;
        if (memchr(name, 0, nlen)) return xc_errorf("cannot read '%s': zip entry name with a NUL byte", what);
        char *nm = wt_strndup(a, name, nlen);
        if (!nm) return -1;
        if (zip64_extra(c + 46 + nlen, elen, &usize, &csize, &lho) < 0)
            return xc_errorf("cannot read '%s': bad zip64 extra field of entry '%s'", what, nm);
        if (flags & 1) return xc_errorf("cannot read '%s': zip entry '%s' is encrypted", what, nm);
        if (method == 0 && csize != usize) return xc_errorf("cannot read '%s': stored zip entry '%s' has two sizes", what, nm);
        /* The local header repeats the name; its extra field (torch's alignment padding) may
         * differ from the directory's. */
        if (lho > cd_off || cd_off - lho < 30 || le(buf + lho, 4) != SIG_LOCAL)
            return xc_errorf("cannot read '%s': bad local header of zip entry '%s'", what, nm);
        size_t lnlen = (size_t)le(buf + lho + 26, 2), lelen = (size_t)le(buf + lho + 28, 2);
        uint64_t data = lho + 30 + lnlen + lelen;
        if (data > cd_off || csize > cd_off - data || lnlen != nlen || memcmp(buf + lho + 30, name, nlen) != 0)
            return xc_errorf("cannot read '%s': bad local header of zip entry '%s'", what, nm);
        /* torch.save (like every zip writer) lays the records out in the directory's order, one
         * after another: a record that starts inside the previous one, or before it, is a
         * crafted overlap (one byte range counted as two entries). */
        if (i > 0 && lho < prev_end)
            return xc_errorf("cannot read '%s': zip entry '%s' overlaps or precedes entry '%s' (its local record "
                             "starts at byte %llu, before the other's ends at %llu)", what, nm, prev_name,
                             (unsigned long long)lho, (unsigned long long)prev_end);
        prev_end = data + csize;
        prev_name = nm;
        ents[i].name = nm;
        ents[i].data = buf + data;
        ents[i].size = csize;
        ents[i].method = method;
        crcs[i] = crc;
        p += 46 + nlen + elen + clen;
    }
    /* Names: sorted for lookup, duplicates are neighbours. The CRCs travel with a copy in
     * directory order, so they are checked (each byte once, thanks to the order check) only
     * once everything cheap has passed. */
    wt_zip_entry *sorted = wt_alloc(a, (size_t)(n_total ? n_total : 1) * sizeof *sorted);
    if (!sorted) return -1;
    memcpy(sorted, ents, (size_t)n_total * sizeof *ents);
    qsort(sorted, (size_t)n_total, sizeof *sorted, by_name);
    for (uint64_t i = 1; i < n_total; i++)
        if (strcmp(sorted[i - 1].name, sorted[i].name) == 0) return xc_errorf("cannot read '%s': zip entry '%s' appears twice", what, sorted[i].name);
    for (uint64_t i = 0; i < n_total; i++)
        if (ents[i].method == 0 && xc_crc32(0, ents[i].data, (size_t)ents[i].size) != crcs[i])
            return xc_errorf("cannot read '%s': zip entry '%s' fails its CRC check (corrupt file)", what, ents[i].name);
    ents = sorted;
    *entries = ents;
    *count = (int)n_total;
    return 0;
}

const wt_zip_entry *wt_zip_find(const wt_zip_entry *e, int n, const char *name) {
    wt_zip_entry key = {name, NULL, 0, 0};
    return bsearch(&key, e, (size_t)n, sizeof *e, by_name);
}
