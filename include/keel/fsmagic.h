/* fsmagic.h — which file system an image file holds, from its superblock.
 *
 * keel mounts image files as container layers (layerimg.h) and never lets
 * the kernel guess a type: the magic number decides, and a file that is not
 * an erofs or squashfs image is refused by name before anything is attached.
 * ext2/3/4 is recognised only to say what the file is in that refusal.
 *
 *   erofs     le32 0xE0F5E1E2 at byte 1024, block size bits at 1036
 *   squashfs  le32 0x73717368 ("hsqs") at byte 0, le16 major version 4 at 28
 *             (the only version Linux mounts)
 *   ext2/3/4  le16 0xEF53 at byte 1080
 *
 * fsmagic_identify() is pure (unit-tested: it reads only within LEN);
 * fsmagic_probe_fd() reads the bytes it needs with
 * pread, so the caller's file offset is untouched and the same fd can be
 * handed on (to LOOP_CONFIGURE): what was checked is what gets attached.
 */
#ifndef KEEL_FSMAGIC_H
#define KEEL_FSMAGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "keel/err.h"

enum fsmagic_kind {
    FSMAGIC_UNKNOWN,    /* none of the below */
    FSMAGIC_EROFS,
    FSMAGIC_SQUASHFS,
    FSMAGIC_SQUASHFS_OLD, /* squashfs before version 4: Linux cannot mount it */
    FSMAGIC_EXT,        /* ext2, ext3 or ext4: not a layer format */
};

/* The bytes fsmagic_identify() looks at: the file's first FSMAGIC_PROBE_SIZE. */
#define FSMAGIC_PROBE_SIZE 2048

/* The kind of image whose first LEN bytes are BUF (LEN may be short: a
 * short file is simply not an image). */
enum fsmagic_kind fsmagic_identify(const unsigned char *buf, size_t len);

/* "erofs", "squashfs", ...: the kernel's type name for the mountable kinds. */
const char *fsmagic_name(enum fsmagic_kind kind);

/* True for the kinds a layer may be (erofs, squashfs 4). */
bool fsmagic_is_layer(enum fsmagic_kind kind);

/* Looks at PATH without side effects on whatever it turns out to be: it is
 * opened O_PATH first (a device node is never opened: opening some arms a
 * watchdog or rewinds a tape, a FIFO blocks), and only a regular file is
 * then reopened read-only, through /proc/self/fd, so the fd is of the inode
 * that was looked at.  0 with *ST filled (symlinks followed, as stat(2))
 * and *FD a read-only O_CLOEXEC fd of it (caller closes) when it is a
 * regular file, else *FD = -1; -errno with err filled ("cannot open PATH"). */
int fsmagic_open(const char *path, struct stat *st, int *fd, struct kerr *err);

/* Reads the head of the open file FD (pread, from offset 0) and identifies
 * it.  0 with *kind set, or -errno with err filled ("cannot read PATH"). */
int fsmagic_probe_fd(int fd, const char *path, enum fsmagic_kind *kind, struct kerr *err);

#endif
