/* fsmagic.c — identifying image files by their superblock (fsmagic.h). */
#include "keel/fsmagic.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#define EROFS_SB_OFFSET 1024
#define EROFS_MAGIC 0xE0F5E1E2u
#define SQUASHFS_MAGIC 0x73717368u
#define EXT_MAGIC_OFFSET 1080
#define EXT_MAGIC 0xEF53u

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

enum fsmagic_kind fsmagic_identify(const unsigned char *buf, size_t len)
{
    if (len >= 32 && le32(buf) == SQUASHFS_MAGIC)
        return le16(buf + 28) == 4 ? FSMAGIC_SQUASHFS : FSMAGIC_SQUASHFS_OLD;
    /* erofs: the magic, and a block size the format allows (512 B to 64 KiB). */
    if (len >= EROFS_SB_OFFSET + 16 && le32(buf + EROFS_SB_OFFSET) == EROFS_MAGIC) {
        unsigned bits = buf[EROFS_SB_OFFSET + 12];
        if (bits >= 9 && bits <= 16)
            return FSMAGIC_EROFS;
    }
    if (len >= EXT_MAGIC_OFFSET + 2 && le16(buf + EXT_MAGIC_OFFSET) == EXT_MAGIC)
        return FSMAGIC_EXT;
    return FSMAGIC_UNKNOWN;
}

const char *fsmagic_name(enum fsmagic_kind kind)
{
    switch (kind) {
    case FSMAGIC_EROFS:
        return "erofs";
    case FSMAGIC_SQUASHFS:
        return "squashfs";
    case FSMAGIC_SQUASHFS_OLD:
        return "squashfs before version 4";
    case FSMAGIC_EXT:
        return "ext2/3/4";
    case FSMAGIC_UNKNOWN:
        break;
    }
    return "unknown";
}

bool fsmagic_is_layer(enum fsmagic_kind kind)
{
    return kind == FSMAGIC_EROFS || kind == FSMAGIC_SQUASHFS;
}

int fsmagic_probe_fd(int fd, const char *path, enum fsmagic_kind *kind, struct kerr *err)
{
    unsigned char buf[FSMAGIC_PROBE_SIZE];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = pread(fd, buf + got, sizeof buf - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kerr_set(err, errno, "cannot read %s", path);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *kind = fsmagic_identify(buf, got);
    return 0;
}
