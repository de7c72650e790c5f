/* fuzz_superblock.c — superblock_probe() (superblock.h) reads the first bytes
 * of every block device at boot: a disk is anyone's data (a hostile image
 * attached to the VM), so no input may crash it or make it read past LEN.
 * The input is the device's start; it is also probed as if it were placed at
 * offset 0 of a zero-filled SUPERBLOCK_PROBE_BYTES buffer (so the btrfs
 * superblock at 64 KiB is reached by short inputs too).
 *
 * fuzz-requires: src/superblock.c
 *
 * Invariants: the label and uuid are NUL-terminated, hold no control byte,
 * and fit their arrays; fstype is set exactly when a file system was found;
 * SB_EMPTY only for all-zero input.
 */
#include "fuzz.h"

#include "keel/superblock.h"

static void check(const uint8_t *buf, size_t len)
{
    struct superblock_info info;
    memset(&info, 0x5a, sizeof info);
    enum superblock_kind k = superblock_probe(buf, len, &info);
    FUZZ_ASSERT(k == info.kind);
    FUZZ_ASSERT(memchr(info.label, '\0', sizeof info.label) && memchr(info.uuid, '\0', sizeof info.uuid) &&
                memchr(info.fstype, '\0', sizeof info.fstype));
    for (const char *p = info.label; *p; p++)
        FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
    bool fs = k == SB_EXT || k == SB_XFS || k == SB_VFAT || k == SB_BTRFS;
    FUZZ_ASSERT(fs == (info.fstype[0] != '\0'));
    if (k == SB_EMPTY)
        FUZZ_ASSERT(superblock_all_zero(buf, len < SUPERBLOCK_PROBE_BYTES ? len : SUPERBLOCK_PROBE_BYTES));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly SIZE bytes on the heap: ASan sees any read past the end. */
    uint8_t *exact = (uint8_t *)fuzz_exact(data, size);
    check(exact, size);
    free(exact);
    /* The input placed at 0, 1024 and 65536 of a device-sized buffer. */
    static const size_t at[] = { 0, 1024, 65536 };
    uint8_t *dev = calloc(1, SUPERBLOCK_PROBE_BYTES);
    if (!dev)
        return 0;
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        size_t n = size < SUPERBLOCK_PROBE_BYTES - at[i] ? size : SUPERBLOCK_PROBE_BYTES - at[i];
        memset(dev, 0, SUPERBLOCK_PROBE_BYTES);
        memcpy(dev + at[i], data, n);
        check(dev, SUPERBLOCK_PROBE_BYTES);
    }
    free(dev);
    return 0;
}
