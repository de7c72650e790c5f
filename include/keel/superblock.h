/* superblock.h — what is on a block device, from its first bytes: the file
 * system type, label and UUID of ext2/3/4, xfs, vfat and btrfs, or "empty".
 * keel finds volumes and the config disk by label or UUID this way, with no
 * udev and no libblkid.
 *
 * Pure: no I/O.  The caller reads SUPERBLOCK_PROBE_BYTES from the start of
 * the device (less when the device is smaller) and hands them over; the
 * parser never reads past LEN.  Every field it reports is checked against its
 * own magic numbers, and text fields are cut at their on-disk size and
 * cleaned of control bytes, so a hostile disk yields at worst a wrong label.
 *
 * "Empty" (SB_EMPTY) is what `mkfs =` needs before it may format a disk:
 * none of the signatures below AND every byte of the probed area zero.  The
 * probed area is the first 68 KiB: it holds the partition tables (MBR at
 * 510, GPT at 512), LVM (512), LUKS (0), swap (4086), md 1.1/1.2 (0, 4096),
 * iso9660 (32769), squashfs and erofs (0, 1024), ZFS's first label (16 KiB)
 * and btrfs's superblock (65536).  Signatures kept at the end of a device
 * (md 0.90/1.0, GPT's backup header) are checked by the caller with
 * superblock_all_zero() over the device's last SUPERBLOCK_TAIL_BYTES.
 */
#ifndef KEEL_SUPERBLOCK_H
#define KEEL_SUPERBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SUPERBLOCK_PROBE_BYTES (68 * 1024)
#define SUPERBLOCK_TAIL_BYTES (1024 * 1024)

enum superblock_kind {
    SB_UNKNOWN,   /* data keel does not recognise: never formatted, never mounted by label */
    SB_EMPTY,     /* no signature and all zero (see above) */
    SB_EXT,       /* ext2, ext3 or ext4: fstype says which */
    SB_XFS,
    SB_VFAT,
    SB_BTRFS,
};

struct superblock_info {
    enum superblock_kind kind;
    char fstype[8];    /* "ext4", "ext3", "ext2", "xfs", "vfat", "btrfs"; "" otherwise */
    char label[256];   /* "" when none */
    char uuid[40];     /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (vfat: "XXXX-XXXX"); "" when none */
};

/* Fills *out from the first LEN bytes of a device; returns out->kind. */
enum superblock_kind superblock_probe(const void *buf, size_t len, struct superblock_info *out);
/* True when all LEN bytes are zero. */
bool superblock_all_zero(const void *buf, size_t len);
/* True when a UUID as written in a manifest names INFO's (case-insensitive). */
bool superblock_uuid_match(const struct superblock_info *info, const char *uuid);

#endif
