/* superblock.c — file system signatures, see superblock.h. */
#include "keel/superblock.h"

#include <strings.h>
#include <stdio.h>
#include <string.h>

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

/* A label of at most N bytes from the disk: up to its first NUL, trailing
 * blanks cut (vfat pads with spaces), bytes below 0x20 and DEL replaced by
 * '?' so a label can never put control bytes on the console. */
static void copy_label(char *dst, size_t dn, const uint8_t *src, size_t n)
{
    size_t len = 0;
    while (len < n && src[len])
        len++;
    while (len > 0 && src[len - 1] == ' ')
        len--;
    if (len >= dn)
        len = dn - 1;
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)(src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i]);
    dst[len] = '\0';
}

static void format_uuid(char *dst, size_t dn, const uint8_t *u)
{
    snprintf(dst, dn, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    if (superblock_all_zero(u, 16))
        dst[0] = '\0';
}

/* ext2/3/4: the superblock at 1024, magic 0xEF53 at its offset 56. */
#define EXT_SB 1024
#define EXT_COMPAT_HAS_JOURNAL 0x4u
#define EXT_INCOMPAT_EXTENTS 0x40u
#define EXT_INCOMPAT_64BIT 0x80u
#define EXT_INCOMPAT_FLEX_BG 0x200u
#define EXT_INCOMPAT_JOURNAL_DEV 0x8u

static bool probe_ext(const uint8_t *b, size_t len, struct superblock_info *out)
{
    if (len < EXT_SB + 1024 || le16(b + EXT_SB + 56) != 0xEF53)
        return false;
    const uint8_t *sb = b + EXT_SB;
    uint32_t compat = le32(sb + 92), incompat = le32(sb + 96);
    if (incompat & EXT_INCOMPAT_JOURNAL_DEV)
        return false;   /* an external journal, not a file system */
    const char *t = "ext2";
    if (incompat & (EXT_INCOMPAT_EXTENTS | EXT_INCOMPAT_64BIT | EXT_INCOMPAT_FLEX_BG))
        t = "ext4";
    else if (compat & EXT_COMPAT_HAS_JOURNAL)
        t = "ext3";
    out->kind = SB_EXT;
    snprintf(out->fstype, sizeof out->fstype, "%s", t);
    format_uuid(out->uuid, sizeof out->uuid, sb + 104);
    copy_label(out->label, sizeof out->label, sb + 120, 16);
    return true;
}

/* xfs: "XFSB" at 0, big-endian, uuid at 32, label (12 bytes) at 108. */
static bool probe_xfs(const uint8_t *b, size_t len, struct superblock_info *out)
{
    if (len < 512 || be32(b) != 0x58465342)
        return false;
    out->kind = SB_XFS;
    snprintf(out->fstype, sizeof out->fstype, "xfs");
    format_uuid(out->uuid, sizeof out->uuid, b + 32);
    copy_label(out->label, sizeof out->label, b + 108, 12);
    return true;
}

/* btrfs: the superblock at 64 KiB, "_BHRfS_M" at its offset 64, fsid at 32,
 * label (256 bytes) at 299. */
#define BTRFS_SB 65536

static bool probe_btrfs(const uint8_t *b, size_t len, struct superblock_info *out)
{
    if (len < BTRFS_SB + 299 + 256 || memcmp(b + BTRFS_SB + 64, "_BHRfS_M", 8) != 0)
        return false;
    out->kind = SB_BTRFS;
    snprintf(out->fstype, sizeof out->fstype, "btrfs");
    format_uuid(out->uuid, sizeof out->uuid, b + BTRFS_SB + 32);
    copy_label(out->label, sizeof out->label, b + BTRFS_SB + 299, 255);
    return true;
}

/* vfat: the boot sector's 0x55AA, a sane BIOS parameter block, and the
 * "FAT" type string (FAT32's extended block at 82, FAT12/16's at 54); the
 * volume id and label follow the drive number and boot signature 0x29. */
static bool probe_vfat(const uint8_t *b, size_t len, struct superblock_info *out)
{
    if (len < 512 || b[510] != 0x55 || b[511] != 0xAA)
        return false;
    uint16_t sector = le16(b + 11);
    uint8_t per_cluster = b[13];
    if ((sector != 512 && sector != 1024 && sector != 2048 && sector != 4096) || per_cluster == 0 ||
        (per_cluster & (per_cluster - 1)) || b[16] == 0 || le16(b + 14) == 0)
        return false;
    const uint8_t *ext;
    if (memcmp(b + 82, "FAT32   ", 8) == 0)
        ext = b + 64;
    else if (memcmp(b + 54, "FAT", 3) == 0)
        ext = b + 36;
    else
        return false;
    out->kind = SB_VFAT;
    snprintf(out->fstype, sizeof out->fstype, "vfat");
    if (ext[2] == 0x29) {
        uint32_t id = le32(ext + 3);
        snprintf(out->uuid, sizeof out->uuid, "%04X-%04X", (unsigned)(id >> 16), (unsigned)(id & 0xffff));
        copy_label(out->label, sizeof out->label, ext + 7, 11);
        if (strcmp(out->label, "NO NAME") == 0)
            out->label[0] = '\0';
    }
    return true;
}

bool superblock_all_zero(const void *buf, size_t len)
{
    const uint8_t *b = buf;
    for (size_t i = 0; i < len; i++)
        if (b[i])
            return false;
    return true;
}

enum superblock_kind superblock_probe(const void *buf, size_t len, struct superblock_info *out)
{
    const uint8_t *b = buf;
    memset(out, 0, sizeof *out);
    /* xfs and ext before vfat: a boot sector's 0x55AA can sit in front of
     * either (a disk formatted over an old FAT keeps its first sector). */
    if (probe_xfs(b, len, out) || probe_ext(b, len, out) || probe_btrfs(b, len, out) || probe_vfat(b, len, out))
        return out->kind;
    memset(out, 0, sizeof *out);
    out->kind = superblock_all_zero(b, len < SUPERBLOCK_PROBE_BYTES ? len : SUPERBLOCK_PROBE_BYTES) ? SB_EMPTY
                                                                                                 : SB_UNKNOWN;
    return out->kind;
}

bool superblock_uuid_match(const struct superblock_info *info, const char *uuid)
{
    return info->uuid[0] && strcasecmp(info->uuid, uuid) == 0;
}
