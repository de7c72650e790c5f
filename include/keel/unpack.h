/* unpack.h — one image layer (a tar stream read by libarchive) written into
 * a directory, member by member, with every path under keel's control
 * (docs/images.md, "Hostile archives").
 *
 * Every member is created relative to the layer's directory fd: parents are
 * resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) (created when
 * the tar omits them), the last component is created with O_EXCL/O_NOFOLLOW
 * after unlinking what an earlier member left there, so nothing is ever
 * written through a symlink or an existing hard link.  Refused, with -EINVAL
 * and a sentence naming the member: absolute paths, `..`, a member below a
 * symlink, hard links whose target is outside the layer or not yet
 * extracted, device nodes (but the overlay whiteout form, char 0:0), data
 * past a member's declared size, and the caps in `struct unpack_limits`.
 * Whiteouts become overlayfs's: `.wh.NAME` -> char device 0:0 NAME,
 * `.wh..wh..opq` -> trusted.overlay.opaque=y on the directory.  Ownership
 * and modes (setuid too) are kept when running as root; xattrs in the
 * user.* namespace and security.capability are kept, trusted.* (overlayfs's
 * own) and others are skipped and counted.
 *
 * The caller owns the archive (opened with the formats it allows) and the
 * directory fd; on failure the directory holds a partial layer that the
 * caller removes (unpack_remove_tree).
 */
#ifndef KEEL_UNPACK_H
#define KEEL_UNPACK_H

#include <stdbool.h>
#include <stdint.h>

#include "keel/err.h"

struct archive;

struct unpack_limits {
    uint64_t max_bytes;      /* file data of all layers of one import */
    uint64_t max_entries;    /* members of all layers of one import */
};

struct unpack_stats {
    uint64_t bytes;          /* running totals, compared with the limits */
    uint64_t entries;
    uint64_t xattrs_skipped;
    bool owner_lost;         /* not root: files are the caller's */
};

/* Normalizes a member name in place: strips "./" and "//", a trailing '/';
 * -EINVAL when it is absolute, empty or has a ".." component.  Pure. */
int unpack_clean_path(char *path);

/* Extracts every member of A into DIRFD.  `what` names the layer in messages. */
int unpack_layer(struct archive *a, int dirfd, const char *what, const struct unpack_limits *lim,
                 struct unpack_stats *st, struct kerr *err);

/* rm -rf of NAME below DIRFD without following symlinks (depth-bounded). */
int unpack_remove_tree(int dirfd, const char *name, struct kerr *err);

#endif
