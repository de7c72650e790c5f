/* fsmagic.c — identifying image files by their superblock (fsmagic.h). */
#include "keel/fsmagic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
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

int fsmagic_open(const char *path, struct stat *st, int *fd, struct kerr *err)
{
    *fd = -1;
    int opath = open(path, O_PATH | O_CLOEXEC);
    if (opath < 0)
        return kerr_set(err, errno, "cannot open %s", path);
    if (fstat(opath, st) < 0) {
        int e = errno;
        close(opath);
        return kerr_set(err, e, "cannot open %s", path);
    }
    if (!S_ISREG(st->st_mode)) {
        close(opath);
        return 0;
    }
    char again[64];
    snprintf(again, sizeof again, "/proc/self/fd/%d", opath);
    int f = open(again, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st2;
    if (f < 0 && errno == ENOENT)   /* no /proc: the path again, checked to be the same file below */
        f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int e = errno;
    close(opath);
    if (f < 0)
        return kerr_set(err, e, "cannot open %s", path);
    if (fstat(f, &st2) < 0 || st2.st_dev != st->st_dev || st2.st_ino != st->st_ino || !S_ISREG(st2.st_mode)) {
        close(f);
        return kerr_msg(err, ESTALE, "cannot open %s: it changed while it was opened", path);
    }
    /* O_NONBLOCK was for the open only. */
    if (fcntl(f, F_SETFL, 0) < 0) {
        e = errno;
        close(f);
        return kerr_set(err, e, "cannot open %s", path);
    }
    *fd = f;
    return 0;
}
