/* unpack.c — one layer tar into a directory, member by member (unpack.h).
 *
 * Not archive_write_disk(): it resolves paths itself with its own rules, and
 * keel must decide every one of them (a layer is hostile input).  Each member
 * goes through: clean the name -> open its parent beneath the layer with no
 * symlink on the way -> remove what an earlier member left at the last
 * component -> create it with O_EXCL|O_NOFOLLOW -> owner, then mode (chown
 * clears setuid), xattrs, times.
 */
#include "keel/unpack.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define REMOVE_DEPTH_MAX 256

int unpack_clean_path(char *path)
{
    if (path[0] == '/')
        return -EINVAL;
    char *out = path;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            p = end;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return -EINVAL;
        if (out != path)
            *out++ = '/';
        memmove(out, p, n);
        out += n;
        p = end;
    }
    *out = '\0';
    return out == path ? -EINVAL : 0;
}

/* Splits a clean path into its parent (NULL: the layer itself) and last name. */
static const char *split_last(char *path, const char **parent)
{
    char *slash = strrchr(path, '/');
    if (!slash) {
        *parent = NULL;
        return path;
    }
    *slash = '\0';
    *parent = path;
    return slash + 1;
}

/* The parent directory of a member: resolved beneath the layer with no
 * symlink anywhere on the way (a symlink member followed by a member below
 * it is the classic escape), created component by component when the tar
 * did not list it. */
static int open_parent(int dirfd, const char *parent, const char *member, struct kerr *err)
{
    const uint64_t how = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    if (!parent) {
        int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? kerr_set(err, errno, "cannot extract %s", member) : fd;
    }
    int fd = sys_openat2(dirfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, how);
    if (fd >= 0)
        return fd;
    if (errno == ELOOP || errno == EXDEV || errno == ENOTDIR)
        return kerr_msg(err, EINVAL, "member %s would be written through a symlink or a non-directory", member);
    if (errno != ENOENT)
        return kerr_set(err, errno, "cannot open the directory of %s", member);
    /* Walk and create: each component is the last one of its own open, so
     * O_NOFOLLOW refuses a symlink at any depth. */
    _cleanup_free_ char *copy = strdup(parent);
    if (!copy)
        return kerr_set(err, ENOMEM, "cannot extract %s", member);
    int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return kerr_set(err, errno, "cannot extract %s", member);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            close(cur);
            return kerr_set(err, e, "cannot create the directories of %s", member);
        }
        int next = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (next < 0) {
            if (e == ELOOP || e == ENOTDIR)
                return kerr_msg(err, EINVAL, "member %s would be written through a symlink or a non-directory", member);
            return kerr_set(err, e, "cannot open the directory of %s", member);
        }
        cur = next;
    }
    return cur;
}

/* Clears NAME in PFD for a new member: a later member replaces an earlier
 * one (tar's rule), and is never written through what was there.  A
 * directory stays when the new member is a directory too. */
static int clear_name(int pfd, const char *name, bool new_is_dir, const char *member, struct kerr *err)
{
    struct stat sb;
    if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : kerr_set(err, errno, "cannot extract %s", member);
    if (S_ISDIR(sb.st_mode)) {
        if (new_is_dir)
            return 1;
        return kerr_msg(err, EINVAL, "member %s replaces a directory", member);
    }
    if (unlinkat(pfd, name, 0) < 0)
        return kerr_set(err, errno, "cannot replace %s", member);
    return 0;
}

static bool xattr_kept(const char *name)
{
    return str_starts(name, "user.") || strcmp(name, "security.capability") == 0;
}

/* Owner, then mode (chown clears setuid and setgid), xattrs, times of a
 * member open as FD. */
static int apply_meta(int fd, struct archive_entry *e, const char *member, struct unpack_stats *st,
                      struct kerr *err)
{
    if (geteuid() != 0)
        st->owner_lost = true;
    else if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
        return kerr_set(err, errno, "cannot set the owner of %s", member);
    if (fchmod(fd, archive_entry_mode(e) & 07777) < 0)
        return kerr_set(err, errno, "cannot set the mode of %s", member);
    const char *xname;
    const void *xval;
    size_t xlen;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &xname, &xval, &xlen) == ARCHIVE_OK) {
        if (!xattr_kept(xname)) {
            st->xattrs_skipped++;
            continue;
        }
        if (fsetxattr(fd, xname, xval, xlen, 0) < 0)
            return kerr_set(err, errno, "cannot set xattr %s of %s", xname, member);
    }
    if (!archive_entry_mtime_is_set(e))
        return 0;
    struct timespec ts[2] = {
        { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
        { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
    };
    if (futimens(fd, ts) < 0)
        return kerr_set(err, errno, "cannot set the times of %s", member);
    return 0;
}

/* The same for a symlink NAME in PFD: owner and times (a symlink has no mode
 * of its own, and the kept xattr namespaces cannot be set on one). */
static int apply_link_meta(int pfd, const char *name, struct archive_entry *e, const char *member,
                           struct unpack_stats *st, struct kerr *err)
{
    if (geteuid() != 0)
        st->owner_lost = true;
    else if (fchownat(pfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return kerr_set(err, errno, "cannot set the owner of %s", member);
    const char *xname;
    const void *xval;
    size_t xlen;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &xname, &xval, &xlen) == ARCHIVE_OK)
        st->xattrs_skipped++;
    if (!archive_entry_mtime_is_set(e))
        return 0;
    struct timespec ts[2] = {
        { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
        { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
    };
    if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return kerr_set(err, errno, "cannot set the times of %s", member);
    return 0;
}

/* The data a member declares, charged to the import's size limit whether
 * keel writes it (a regular file) or libarchive only reads past it (a hard
 * link or a whiteout with data, as pax allows): skipped data costs no disk
 * but must be decompressed, and a few hundred KiB of zstd declare many GiB. */
static int charge_data(struct archive_entry *e, const char *member, const struct unpack_limits *lim,
                       struct unpack_stats *st, struct kerr *err)
{
    int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (declared < 0)
        return kerr_msg(err, EINVAL, "member %s has a negative size", member);
    if (st->bytes + (uint64_t)declared > lim->max_bytes)
        return kerr_msg(err, EFBIG, "member %s passes the size limit of %llu bytes (--max-size)", member,
                        (unsigned long long)lim->max_bytes);
    st->bytes += (uint64_t)declared;
    return 0;
}

static int write_data(struct archive *a, int fd, struct archive_entry *e, const char *member, struct kerr *err)
{
    int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK)
            return kerr_msg(err, EINVAL, "cannot read member %s: %s", member, archive_error_string(a));
        if (off < 0 || (uint64_t)off + len > (uint64_t)declared)
            return kerr_msg(err, EINVAL, "member %s holds more data than its declared size", member);
        for (size_t done = 0; done < len;) {
            ssize_t w = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return kerr_set(err, errno, "cannot write %s", member);
            done += (size_t)w;
        }
    }
    /* A sparse tail: the file is as long as the tar says. */
    if (ftruncate(fd, declared) < 0)
        return kerr_set(err, errno, "cannot write %s", member);
    return 0;
}

static int whiteout(int pfd, const char *name, const char *member, struct unpack_stats *st, struct kerr *err)
{
    if (strcmp(name, WH_OPAQUE) == 0) {
        if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
            return kerr_set(err, errno, "cannot mark the directory of %s opaque (trusted.* xattrs need root)",
                            member);
        return 0;
    }
    const char *target = name + strlen(WH_PREFIX);
    if (!target[0] || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
        return kerr_msg(err, EINVAL, "member %s is not a valid whiteout", member);
    int r = clear_name(pfd, target, false, member, err);
    if (r < 0)
        return r;
    if (mknodat(pfd, target, S_IFCHR, makedev(0, 0)) < 0)
        return kerr_set(err, errno, "cannot make the whiteout of %s", member);
    return 0;
}

static int one_member(struct archive *a, struct archive_entry *e, int dirfd, const struct unpack_limits *lim,
                      struct unpack_stats *st, struct kerr *err)
{
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        return kerr_msg(err, EINVAL, "a member has no name");
    int r0 = charge_data(e, raw, lim, st, err);
    if (r0 < 0)
        return r0;
    _cleanup_free_ char *path = strdup(raw);
    if (!path)
        return kerr_set(err, ENOMEM, "cannot extract %s", raw);
    if (unpack_clean_path(path) < 0) {
        if (strcmp(raw, "./") == 0 || strcmp(raw, ".") == 0)
            return 0;   /* the layer's root itself */
        return kerr_msg(err, EINVAL, "member %s has an absolute path or '..'", raw);
    }
    if (strlen(path) >= PATH_MAX)
        return kerr_msg(err, EINVAL, "member %.64s... has a name longer than PATH_MAX", raw);
    if (++st->entries > lim->max_entries)
        return kerr_msg(err, EFBIG, "the layers have more than %llu members (--max-entries)",
                        (unsigned long long)lim->max_entries);
    _cleanup_free_ char *member = strdup(path);
    if (!member)
        return kerr_set(err, ENOMEM, "cannot extract %s", raw);
    const char *parent;
    const char *name = split_last(path, &parent);
    _cleanup_close_ int pfd = open_parent(dirfd, parent, member, err);
    if (pfd < 0)
        return pfd;
    if (str_starts(name, WH_PREFIX))
        return whiteout(pfd, name, member, st, err);

    const char *hard = archive_entry_hardlink(e);
    if (hard) {
        _cleanup_free_ char *tpath = strdup(hard);
        if (!tpath)
            return kerr_set(err, ENOMEM, "cannot extract %s", member);
        if (unpack_clean_path(tpath) < 0)
            return kerr_msg(err, EINVAL, "hard link %s points outside the layer (%s)", member, hard);
        const char *tparent;
        const char *tname = split_last(tpath, &tparent);
        _cleanup_close_ int tfd = open_parent(dirfd, tparent, member, err);
        if (tfd < 0)
            return tfd;
        struct stat sb;
        if (fstatat(tfd, tname, &sb, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(sb.st_mode))
            return kerr_msg(err, EINVAL, "hard link %s points to %s, which is not an extracted file of the layer",
                            member, hard);
        int r = clear_name(pfd, name, false, member, err);
        if (r < 0)
            return r;
        if (linkat(tfd, tname, pfd, name, 0) < 0)
            return kerr_set(err, errno, "cannot link %s", member);
        return 0;
    }

    mode_t type = archive_entry_filetype(e);
    switch (type) {
    case AE_IFDIR: {
        int r = clear_name(pfd, name, true, member, err);
        if (r < 0)
            return r;
        if (r == 0 && mkdirat(pfd, name, 0700) < 0)
            return kerr_set(err, errno, "cannot create directory %s", member);
        _cleanup_close_ int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return kerr_set(err, errno, "cannot open directory %s", member);
        return apply_meta(fd, e, member, st, err);
    }
    case AE_IFREG: {
        int r = clear_name(pfd, name, false, member, err);
        if (r < 0)
            return r;
        _cleanup_close_ int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return kerr_set(err, errno, "cannot create %s", member);
        r = write_data(a, fd, e, member, err);
        if (r < 0)
            return r;
        return apply_meta(fd, e, member, st, err);
    }
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target || !target[0])
            return kerr_msg(err, EINVAL, "symlink %s has no target", member);
        int r = clear_name(pfd, name, false, member, err);
        if (r < 0)
            return r;
        /* The target is only text here: it is resolved inside the container's
         * root at run time, never by the extraction (no member goes below it). */
        if (symlinkat(target, pfd, name) < 0)
            return kerr_set(err, errno, "cannot create symlink %s", member);
        return apply_link_meta(pfd, name, e, member, st, err);
    }
    case AE_IFCHR:
        if (archive_entry_rdev(e) == 0) {
            int r = clear_name(pfd, name, false, member, err);
            if (r < 0)
                return r;
            if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
                return kerr_set(err, errno, "cannot make the whiteout %s", member);
            return 0;
        }
        return kerr_msg(err, EINVAL, "member %s is a device node (images may not carry devices)", member);
    case AE_IFBLK:
        return kerr_msg(err, EINVAL, "member %s is a device node (images may not carry devices)", member);
    case AE_IFIFO: {
        int r = clear_name(pfd, name, false, member, err);
        if (r < 0)
            return r;
        if (mknodat(pfd, name, S_IFIFO | 0600, 0) < 0)
            return kerr_set(err, errno, "cannot create fifo %s", member);
        _cleanup_close_ int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return kerr_set(err, errno, "cannot open fifo %s", member);
        if (geteuid() == 0 && fchownat(pfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                                       AT_SYMLINK_NOFOLLOW) < 0)
            return kerr_set(err, errno, "cannot set the owner of %s", member);
        if (fchmodat(pfd, name, archive_entry_mode(e) & 07777, 0) < 0)
            return kerr_set(err, errno, "cannot set the mode of %s", member);
        return 0;
    }
    default:
        return kerr_msg(err, EINVAL, "member %s is of a type images may not carry (socket or unknown)", member);
    }
}

int unpack_layer(struct archive *a, int dirfd, const char *what, const struct unpack_limits *lim,
                 struct unpack_stats *st, struct kerr *err)
{
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return kerr_msg(err, EINVAL, "cannot read layer %s: %s", what, archive_error_string(a));
        r = one_member(a, e, dirfd, lim, st, err);
        if (r < 0)
            return kerr_prefix(err, "layer %s", what);
    }
}

static int remove_in(int dfd, int depth, struct kerr *err)
{
    if (depth > REMOVE_DEPTH_MAX)
        return kerr_msg(err, ELOOP, "cannot remove a tree deeper than %d", REMOVE_DEPTH_MAX);
    int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0)
        return kerr_set(err, errno, "cannot remove a tree");
    DIR *d = fdopendir(dup);
    if (!d) {
        close(dup);
        return kerr_set(err, errno, "cannot remove a tree");
    }
    /* A directory the layer made read-only must become writable to be
     * emptied by a caller who is not root; when this fails, the unlinks
     * below say why. */
    (void)fchmod(dfd, 0700);
    int ret = 0;
    struct dirent *de;
    while (ret == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dfd, de->d_name, 0) == 0)
            continue;
        if (errno != EISDIR && errno != EPERM) {
            ret = kerr_set(err, errno, "cannot remove %s", de->d_name);
            break;
        }
        int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            ret = kerr_set(err, errno, "cannot remove %s", de->d_name);
            break;
        }
        ret = remove_in(sub, depth + 1, err);
        close(sub);
        if (ret == 0 && unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0)
            ret = kerr_set(err, errno, "cannot remove %s", de->d_name);
    }
    closedir(d);
    return ret;
}

int unpack_remove_tree(int dirfd, const char *name, struct kerr *err)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR || errno == ELOOP)
            return unlinkat(dirfd, name, 0) < 0 ? kerr_set(err, errno, "cannot remove %s", name) : 0;
        return kerr_set(err, errno, "cannot remove %s", name);
    }
    int r = remove_in(fd, 0, err);
    close(fd);
    if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
        r = kerr_set(err, errno, "cannot remove %s", name);
    return r;
}
