/* mount.c — a container's root filesystem, see mount.h. */
#include "keel/mount.h"
#include "keel/caps.h"
#include "keel/log.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const char *const mount_masked_paths[] = {
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/firmware", "/sys/devices/virtual/powercap", NULL,
};

const char *const mount_readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

#define FD_PATH_MAX 32
static const char *fd_path(char buf[FD_PATH_MAX], int fd)
{
    snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
    return buf;
}

int mount_open_in_root(int rootfd, const char *path, char create, struct kerr *err)
{
    const uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    int fd = sys_openat2(rootfd, path, O_PATH | O_CLOEXEC, 0, resolve);
    if (fd >= 0 || errno != ENOENT || !create)
        return fd >= 0 ? fd : kerr_set(err, errno, "cannot open %s in the container root", path);

    /* Make the missing components one by one, each relative to the resolved
     * parent, so a symlink anywhere on the way stays inside the root. */
    char buf[PATH_MAX];
    if (str_copy(buf, sizeof buf, path) < 0)
        return kerr_set(err, ENAMETOOLONG, "cannot open %s in the container root", path);
    char *p = buf;
    while (*p == '/')
        p++;
    while (*p) {
        char *slash = strchr(p, '/');
        bool last = !slash || slash[strspn(slash, "/")] == '\0';
        if (slash)
            *slash = '\0';
        int cur = sys_openat2(rootfd, buf, O_PATH | O_CLOEXEC, 0, resolve);
        if (cur < 0 && errno == ENOENT) {
            /* Resolve the parent and create the component inside it. */
            char *base = strrchr(buf, '/');
            int parent;
            if (base && base != buf) {
                *base = '\0';
                parent = sys_openat2(rootfd, buf, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, resolve);
                *base = '/';
            } else {
                parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
            }
            if (parent < 0)
                return kerr_set(err, errno, "cannot open the parent of %s in the container root", buf);
            const char *name = base ? base + 1 : buf;
            int r;
            /* An empty file by mknodat (the init layer's way: one call, no fd;
             * like O_CREAT | O_EXCL, it follows no symlink). */
            if (last && create == 'f')
                r = mknodat(parent, name, S_IFREG | 0644, 0);
            else
                r = mkdirat(parent, name, 0755);
            int saved = errno;
            close(parent);
            if (r < 0 && saved != EEXIST)
                return kerr_set(err, saved, "cannot create %s in the container root", buf);
            cur = sys_openat2(rootfd, buf, O_PATH | O_CLOEXEC, 0, resolve);
        }
        if (cur < 0)
            return kerr_set(err, errno, "cannot open %s in the container root", buf);
        if (last)
            return cur;
        close(cur);
        *slash = '/';
        p = slash + 1;
        while (*p == '/')
            p++;
    }
    return kerr_set(err, EINVAL, "cannot open %s in the container root", path);
}

/* Opens a mount point for a kernel filesystem: the component must be a real
 * directory, never a symlink (an image cannot move /proc or /dev elsewhere). */
static int open_mountpoint(int rootfd, const char *path, bool may_create, struct kerr *err)
{
    const uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS;
    int fd = sys_openat2(rootfd, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, resolve);
    if (fd >= 0)
        return fd;
    if (errno == ENOENT && may_create) {
        const char *name = strrchr(path, '/');
        int parent = rootfd;
        _cleanup_close_ int pfd = -1;
        if (name != path) {
            char parent_path[PATH_MAX];
            snprintf(parent_path, sizeof parent_path, "%.*s", (int)(name - path), path);
            pfd = sys_openat2(rootfd, parent_path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, resolve);
            if (pfd < 0)
                return kerr_set(err, errno, "cannot open %s in the container root", parent_path);
            parent = pfd;
        }
        if (mkdirat(parent, name + 1, 0755) < 0 && errno != EEXIST)
            return kerr_set(err, errno, "cannot create %s in the container root", path);
        fd = sys_openat2(rootfd, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, resolve);
        if (fd >= 0)
            return fd;
    }
    if (errno == ELOOP || errno == ENOTDIR)
        return kerr_set(err, errno, "cannot use %s in the container root: it is not a plain directory", path);
    return kerr_set(err, errno, "cannot open %s in the container root", path);
}

/* Mounts on the directory TARGET_FD names through the working directory:
 * "." after fchdir is the fd's own path, as /proc/self/fd/N is, looked up
 * nowhere else, and leaves no /proc/PID entry behind for the kernel to
 * invalidate one by one at the process's reap (~1.5 us each).  The caller
 * is the setup child, whose working directory is nobody's until pivot_root
 * and SETUP_WORKDIR set it (it opens absolute paths or below fds).
 *
 * fchdir needs search permission on the directory, a mount on the magic
 * link does not: keel in a user namespace has no CAP_DAC_READ_SEARCH over an
 * inode whose owner that namespace does not map (a 0700 mount point in a
 * persistent upper made on the host), and gets EACCES.  Then, and only then,
 * the /proc/self/fd/N path, as before the fchdir. */
static int mount_at(const char *src, int target_fd, const char *fstype, unsigned long flags, const char *data,
                    const char *what, struct kerr *err)
{
    int r = fchdir(target_fd);
    if (r == 0) {
        r = mount(src, ".", fstype, flags, data);
    } else if (errno == EACCES) {
        char tp[FD_PATH_MAX];
        r = mount(src, fd_path(tp, target_fd), fstype, flags, data);
    }
    return r < 0 ? kerr_set(err, errno, "cannot mount %s", what) : 0;
}

/* Remounts the bind mount at target_fd with the given flags (plus MS_BIND). */
static int remount_at(int target_fd, unsigned long flags, const char *what, struct kerr *err)
{
    char tp[FD_PATH_MAX];
    /* Re-open the target: the fd taken before the bind names the covered directory. */
    if (mount(NULL, fd_path(tp, target_fd), NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
        return kerr_set(err, errno, "cannot make %s read-only", what);
    return 0;
}

/* The flags of a remount (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC) as
 * mount_setattr's: set those, clear the others of the four, as
 * mount(MS_REMOUNT | MS_BIND | FLAGS) does (the atime flags kept). */
static void remount_attr(unsigned long flags, uint64_t *set, uint64_t *clr)
{
    static const struct { unsigned long ms; uint64_t attr; } map[] = {
        { MS_RDONLY, MOUNT_ATTR_RDONLY }, { MS_NOSUID, MOUNT_ATTR_NOSUID },
        { MS_NODEV, MOUNT_ATTR_NODEV }, { MS_NOEXEC, MOUNT_ATTR_NOEXEC },
    };
    *set = *clr = 0;
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        *(flags & map[i].ms ? set : clr) |= map[i].attr;
}

/* Binds SRC (with its submounts: SUBMOUNTS) onto TGT with exactly the mount
 * flags FLAGS on the top mount, set before the bind is attached.  Returns 0,
 * or -1 with errno: ENOSYS before Linux 5.12, for the caller to mount(2). */
static int bind_with_flags(int src, int tgt, bool submounts, unsigned long flags)
{
    uint64_t set, clr;
    remount_attr(flags, &set, &clr);
    return sys_bind_fd_top(src, tgt, submounts, set, clr);
}

/* Binds SRC over PATH (opened below DIR with OFLAGS and RESOLVE, as it was
 * found) and makes that bind read-only with FLAGS: how keel gives a container
 * an inode of its own or of the host (generated files, /dev/null for masks,
 * device nodes, the notify socket) that the container must not chmod, chown
 * or touch.  A device stays readable and writable on a read-only mount. */
static int bind_readonly(int src, int dir, const char *path, int oflags, uint64_t resolve, unsigned long flags,
                         const char *what, struct kerr *err)
{
    char sp[FD_PATH_MAX], tp[FD_PATH_MAX];
    _cleanup_close_ int tgt = sys_openat2(dir, path, (uint64_t)(O_PATH | O_CLOEXEC | oflags), 0, resolve);
    if (tgt < 0)
        return kerr_set(err, errno, "cannot bind %s", what);
    /* Read-only from the moment it is there, no path looked up. */
    if (bind_with_flags(src, tgt, false, MS_RDONLY | flags) == 0)
        return 0;
    if (errno != ENOSYS || mount(fd_path(sp, src), fd_path(tp, tgt), NULL, MS_BIND, NULL) < 0)
        return kerr_set(err, errno, "cannot bind %s", what);
    /* Opened again: the fd taken before the bind names what the bind covers. */
    _cleanup_close_ int again = sys_openat2(dir, path, (uint64_t)(O_PATH | O_CLOEXEC | oflags), 0, resolve);
    if (again < 0)
        return kerr_set(err, errno, "cannot reopen %s", what);
    return remount_at(again, MS_RDONLY | flags, what, err);
}

/* The name of the filesystem holding `path`, for messages. */
static const char *fs_name(const char *path, char buf[24])
{
    static const struct { unsigned long magic; const char *name; } known[] = {
        { TMPFS_MAGIC, "tmpfs" }, { RAMFS_MAGIC, "ramfs" }, { OVERLAYFS_SUPER_MAGIC, "overlayfs" },
        { EXT4_SUPER_MAGIC, "ext4" }, { XFS_SUPER_MAGIC, "xfs" }, { BTRFS_SUPER_MAGIC, "btrfs" },
        { SQUASHFS_MAGIC, "squashfs" }, { EROFS_SUPER_MAGIC_V1, "erofs" }, { NFS_SUPER_MAGIC, "nfs" },
        { FUSE_SUPER_MAGIC, "fuse" }, { MSDOS_SUPER_MAGIC, "vfat" }, { V9FS_MAGIC, "9p" },
    };
    struct statfs st;
    if (statfs(path, &st) < 0)
        return "an unknown filesystem";
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
        if ((unsigned long)st.f_type == known[i].magic)
            return known[i].name;
    snprintf(buf, 24, "filesystem 0x%lx", (unsigned long)st.f_type);
    return buf;
}

/* Attaches an idmapped copy of the mount at `src` (the user namespace's map
 * applied to every owner) at `dst`, a directory made here.  NAME is SRC as
 * messages name it (SRC may be a /proc/self/fd path). */
static int mount_idmapped(const char *src, const char *name, int userns_fd, const char *dst, struct kerr *err)
{
    _cleanup_close_ int tree = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0)
        return kerr_set(err, errno, "cannot open %s for an idmapped mount", name);
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
    if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
        int e = errno;
        if (e == EINVAL || e == ENOSYS) {
            char buf[24];
            return kerr_msg(err, e, "cannot idmap %s: this kernel cannot make idmapped mounts of %s "
                            "(userns needs them for every layer and the upper directory)", name, fs_name(src, buf));
        }
        return kerr_set(err, e, "cannot idmap %s", name);
    }
    if (mkdir(dst, 0700) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create %s", dst);
    if (move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return kerr_set(err, errno, "cannot attach the idmapped mount of %s", name);
    return 0;
}

/* From here on, what the setup makes is made as the container's root: files
 * created in an idmapped upper must have an owner the map can store, and the
 * root's /dev should be its own.  setfsuid() drops the file capabilities from
 * the effective set; they are raised again, so host paths stay reachable. */
static int create_as_container_root(const struct mount_inputs *in, struct kerr *err)
{
    setfsgid(in->root_gid);
    setfsuid(in->root_uid);
    if ((uid_t)setfsuid((uid_t)-1) != in->root_uid || (gid_t)setfsgid((gid_t)-1) != in->root_gid)
        return kerr_msg(err, EPERM, "cannot create files as the container's root (%u:%u)",
                        (unsigned)in->root_uid, (unsigned)in->root_gid);
    return caps_raise_effective(err);
}

/* What the container writes lands in DIR/upper with real host ids: a file its
 * root makes setuid is a setuid-root file of the host (with userns too: the
 * upper is idmapped, the container's root is uid 0 on disk), and with
 * +MKNOD and no userns a device node is a host device node.  Only root may
 * reach into DIR: it is made root's and 0700 at every start, whatever it was
 * (an upper made by an older keel was 0755), before upper/ exists.
 *
 * DIR may be on a volume another container writes (upper = volume:data/app
 * beside mount = volume:data:/all): a symlink it plants at DIR, or at
 * DIR/upper or DIR/work, would turn the chmod against a host directory and
 * hand that directory to this container as its upper (or to overlayfs's
 * clean-up of work/).  So DIR is opened with no symlink on its path, and
 * upper/ and work/ are made and opened under that fd, never named again.
 * Returns the fd of DIR (O_RDONLY) or -errno with ERR set. */
static int open_upper_base(const char *base, struct kerr *err)
{
    int fd = sys_openat2(AT_FDCWD, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0,
                         RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open the upper directory %s (a directory, no symlink on its path: a "
                        "symlink is refused, name the real path)", base);
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = kerr_set(err, errno, "cannot open the upper directory %s", base);
    else if ((st.st_uid != 0 || st.st_gid != 0) && fchown(fd, 0, 0) < 0)
        r = kerr_set(err, errno, "cannot give the upper directory %s to root", base);
    else if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
        r = kerr_set(err, errno, "cannot make the upper directory %s private (0700)", base);
    else if ((mkdirat(fd, "upper", 0755) < 0 && errno != EEXIST) || (mkdirat(fd, "work", 0700) < 0 && errno != EEXIST))
        r = kerr_set(err, errno, "cannot create upper/ and work/ in %s", base);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

/* DIR/NAME as an O_PATH fd: a directory, not a symlink (refused). */
static int open_upper_sub(int dir, const char *base, const char *name, struct kerr *err)
{
    int fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kerr_set(err, errno == ENOTDIR ? ELOOP : errno, "cannot open %s/%s (it must be a directory; a "
                        "symlink is refused)", base, name);
    return fd;
}

void mount_warn_upper(const struct container_spec *c)
{
    if (!c->upper || strcmp(c->upper, "tmpfs") == 0)
        return;
    struct statvfs sv;
    if (statvfs(c->upper, &sv) < 0)
        return;
    bool suid = !(sv.f_flag & ST_NOSUID);
    /* Device nodes need CAP_MKNOD in the initial user namespace: only a
     * container without userns can make them. */
    bool dev = !(sv.f_flag & ST_NODEV) && c->userns == USERNS_NO && (c->caps & (1ull << CAP_MKNOD));
    if (!suid && !dev)
        return;
    const char *flags = suid && dev ? "nosuid,nodev" : suid ? "nosuid" : "nodev";
    log_warn("%s: the upper directory %s is on a file system mounted without %s: %s the container makes "
             "there are real ones on the host, reachable by root only (keel keeps %s root's, mode 0700); "
             "mount it %s", c->name, c->upper, flags,
             suid && dev ? "setuid files and device nodes" : suid ? "setuid files" : "device nodes",
             c->upper, flags);
}

/* The path of layer I as the overlays take it: STAGE/lower/I (idmapped,
 * mount_init_layer made it) with a user namespace, else the layer itself. */
/* The layers as directories: the spec's, or with image-file layers the
 * directories their images are mounted on (mount_inputs.layers). */
static char *const *layers_of(const struct container_spec *c, const struct mount_inputs *in)
{
    return in->layers ? in->layers : c->layers;
}

static const char *layer_path(const struct container_spec *c, const struct mount_inputs *in, size_t i,
                              char buf[PATH_MAX])
{
    if (in->userns_fd < 0)
        return layers_of(c, in)[i];
    snprintf(buf, PATH_MAX, "%s/lower/%zu", in->stage, i);
    return buf;
}

/* "lowerdir=FIRST:L0:L1..." into OPTS (FIRST may be NULL); the length it
 * needed (>= SIZE: too long for the kernel's page of mount options). */
static size_t lower_opts(const struct container_spec *c, const struct mount_inputs *in, const char *first,
                         char *opts, size_t size)
{
    char buf[PATH_MAX];
    size_t used = (size_t)snprintf(opts, size, "lowerdir=%s%s", first ? first : "", first ? ":" : "");
    char *const *layers = layers_of(c, in);
    for (size_t i = 0; layers && layers[i]; i++)
        used += (size_t)snprintf(opts + used, used < size ? size - used : 0, "%s%s", i ? ":" : "",
                                 layer_path(c, in, i, buf));
    return used;
}

/* Owner and mode of the init layer's NAME below DIR: made just now, by keel,
 * on keel's private tmpfs (nothing else can have replaced it), so it is
 * named rather than opened, chowned only when its creator (keel's fsuid
 * and fsgid) is not the owner wanted, and chmod'ed only when MADE (the mode
 * it was made with, under mount_init_layer's umask 0) is not the one wanted
 * (a chown clears the set-id bits, which MADE never has). */
static int init_attrs(uid_t fsuid, gid_t fsgid, int dir, const char *name, uid_t uid, gid_t gid, mode_t mode,
                      mode_t made, struct kerr *err)
{
    bool mine = uid == fsuid && gid == fsgid;
    if ((!mine && fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) ||
        ((mode & 07777) != made && fchmodat(dir, name, mode & 07777, 0) < 0))
        return kerr_set(err, errno, "cannot set the owner and mode of %s in the init layer", name);
    return 0;
}

struct init_ctx {
    const struct mount_inputs *in;
    uid_t fsuid;            /* keel's, the owner of what it creates */
    gid_t fsgid;
    int probe;              /* O_PATH fd of the image's root (the probe overlay, or the one layer) */
    int init;               /* O_PATH fd of STAGE/init */
    char prefix[PATH_MAX];  /* the probe's path, as /proc/self/fd names it (init_prefix) */
    bool have_prefix;
    /* The parent directory of the last mount point, looked up once for all
     * the points in it (they come in groups: /proc /dev /sys, then /etc's
     * files).  The image does not change meanwhile (the probe has no init
     * layer), and the init layer's directory only gains entries. */
    bool have_parent;
    char parent[PATH_MAX];  /* as the point names it */
    char real[PATH_MAX];    /* resolved in the image (init_resolve); "" = the root */
    int idir;               /* O_PATH fd of REAL in the image, or -1 (missing); unused for the root */
    int dir;                /* O_PATH fd of REAL in the init layer once made, or -1; unused for the root */
};

/* The directory PATH ("" = the root) of the image, if it is a plain
 * directory there (no symlink on the way: PATH is resolved already). */
static bool image_dir(const struct init_ctx *x, const char *path, struct stat *st)
{
    _cleanup_close_ int fd = sys_openat2(x->probe, path[0] ? path : "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                                         RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    return fd >= 0 && fstat(fd, st) == 0;
}

/* Makes the directories of REAL (resolved, "/a/b", "" = the root) in the
 * init layer, each a copy of the image's owner and mode where the image has
 * it (the top layer's attributes are the merged directory's), else the
 * container root's, 0755.  Returns an O_PATH fd of the innermost one. */
static int init_dirs(const struct init_ctx *x, const char *real, struct kerr *err)
{
    char buf[PATH_MAX];
    if (str_copy(buf, sizeof buf, real) < 0)
        return kerr_set(err, ENAMETOOLONG, "cannot make %s in the init layer", real);
    int cur = fcntl(x->init, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return kerr_set(err, errno, "cannot open the init layer");
    char *p = buf;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *end = p + strcspn(p, "/");
        char saved = *end;
        *end = '\0';
        if (mkdirat(cur, p, 0755) == 0) {
            struct stat st;
            bool have = image_dir(x, buf, &st);
            int r = init_attrs(x->fsuid, x->fsgid, cur, p, have ? st.st_uid : x->in->root_uid,
                               have ? st.st_gid : x->in->root_gid, have ? st.st_mode : 0755, 0755, err);
            if (r < 0) {
                close(cur);
                return r;
            }
        } else if (errno != EEXIST) {
            int e = errno;
            close(cur);
            return kerr_set(err, e, "cannot make %s in the init layer", buf);
        }
        int next = openat(cur, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (next < 0)
            return kerr_set(err, e, "cannot open %s in the init layer", buf);
        cur = next;
        *end = saved;
        p = end;
    }
    return cur;
}

/* X's prefix, asked of the kernel when a path is first resolved through a
 * symlink or ".." (most starts have none: one readlink less). */
static int init_prefix(struct init_ctx *x, const char *probe, struct kerr *err)
{
    if (x->have_prefix)
        return 0;
    char fdp[FD_PATH_MAX];
    ssize_t len = readlink(fd_path(fdp, x->probe), x->prefix, sizeof x->prefix - 1);
    if (len < 0 || (size_t)len >= sizeof x->prefix - 1)
        return kerr_set(err, len < 0 ? errno : ENAMETOOLONG, "cannot resolve %s", probe);
    x->prefix[len] = '\0';
    if (strcmp(x->prefix, "/") == 0)
        x->prefix[0] = '\0';
    x->have_prefix = true;
    return 0;
}

/* REAL := the resolved path inside the image of the directory PARENT, with
 * the missing rest appended: symlinks followed inside the root, as a bind's
 * target is.  Refused: a component that is not a directory, or a symlink to
 * a missing path (what would the mount point be made in?). */
static int init_resolve(struct init_ctx *x, const char *target, const char *parent, char real[PATH_MAX],
                        struct kerr *err)
{
    real[0] = '\0';
    char buf[PATH_MAX];
    if (str_copy(buf, sizeof buf, parent) < 0)
        return kerr_set(err, ENAMETOOLONG, "cannot make the mount point %s", target);
    for (char *save = NULL, *comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        if (strcmp(comp, ".") == 0)
            continue;
        char cand[PATH_MAX];
        if ((size_t)snprintf(cand, sizeof cand, "%s/%s", real, comp) >= sizeof cand)
            return kerr_set(err, ENAMETOOLONG, "cannot make the mount point %s", target);
        _cleanup_close_ int fd = sys_openat2(x->probe, cand, O_PATH | O_CLOEXEC, 0,
                                             RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        struct stat st;
        if (fd < 0 && errno != ENOENT)
            return kerr_set(err, errno, "cannot look up %s in the image", cand);
        if (fd < 0) {
            /* Missing, or a symlink to a missing path: which is it? */
            _cleanup_close_ int dir = sys_openat2(x->probe, real[0] ? real : "/", O_PATH | O_DIRECTORY | O_CLOEXEC,
                                                  0, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
            if (dir >= 0 && fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                return kerr_msg(err, ENOENT, "cannot make the mount point %s in the container root: %s is a "
                                "symlink to a missing path in the image", target, cand);
            memcpy(real, cand, strlen(cand) + 1);
            continue;
        }
        if (fstat(fd, &st) < 0)
            return kerr_set(err, errno, "cannot look up %s in the image", cand);
        if (!S_ISDIR(st.st_mode))
            return kerr_msg(err, ENOTDIR, "cannot make the mount point %s in the container root: %s is not a "
                            "directory in the image", target, cand);
        /* Where it resolved to: the kernel's name of the fd, below the probe. */
        int r = init_prefix(x, "the layers", err);
        if (r < 0)
            return r;
        char fdp[FD_PATH_MAX], got[PATH_MAX];
        ssize_t len = readlink(fd_path(fdp, fd), got, sizeof got - 1);
        size_t plen = strlen(x->prefix);
        if (len < 0)
            return kerr_set(err, errno, "cannot resolve %s in the image", cand);
        if ((size_t)len >= sizeof got - 1)
            return kerr_set(err, ENAMETOOLONG, "cannot resolve %s in the image", cand);
        got[len] = '\0';
        if (strncmp(got, x->prefix, plen) != 0 || (got[plen] != '/' && got[plen] != '\0'))
            return kerr_msg(err, EXDEV, "cannot resolve %s in the image: it resolved to %s", cand, got);
        memmove(real, got + plen, (size_t)len - plen + 1);
    }
    return 0;
}

/* X's parent directory := PARENT (of the mount point TARGET): resolved in
 * the image and opened there, unless it is the last one already. */
static int init_parent(struct init_ctx *x, const char *target, const char *parent, struct kerr *err)
{
    if (x->have_parent && strcmp(x->parent, parent) == 0)
        return 0;
    x->have_parent = false;
    close_safe(x->idir);
    close_safe(x->dir);
    x->idir = x->dir = -1;
    /* A directory of the image reached without a symlink (and without
     * "..") is where its path says: one open, no name to ask the kernel for. */
    bool dotdot = false;
    for (const char *c = parent; (c = strstr(c, "..")) != NULL; c += 2)
        dotdot |= (c == parent || c[-1] == '/') && (c[2] == '/' || c[2] == '\0');
    if (parent[0] && !dotdot &&
        (x->idir = sys_openat2(x->probe, parent, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0,
                               RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)) >= 0) {
        memcpy(x->real, parent, strlen(parent) + 1);
    } else {
        int r = init_resolve(x, target, parent, x->real, err);
        if (r < 0)
            return r;
        if (x->real[0])
            x->idir = sys_openat2(x->probe, x->real, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                                  RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    }
    memcpy(x->parent, parent, strlen(parent) + 1);
    x->have_parent = true;
    return 0;
}

/* One mount point of the init layer (see struct mount_point). */
static int init_point(struct init_ctx *x, const struct mount_point *pt, struct kerr *err)
{
    char kind = pt->kind;
    if (kind == 's') {
        /* As mount_bind opens it; an unusable source is mount_bind's to report. */
        _cleanup_close_ int src = sys_openat2(AT_FDCWD, pt->source, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
                                              RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        struct stat st;
        if (src < 0 || fstat(src, &st) < 0)
            return 0;
        kind = S_ISDIR(st.st_mode) ? 'd' : 'f';
    }
    char parent[PATH_MAX];
    if (str_copy(parent, sizeof parent, pt->path) < 0)
        return kerr_set(err, ENAMETOOLONG, "cannot make the mount point %s", pt->path);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/')
        parent[--len] = '\0';
    char *leaf = strrchr(parent, '/');
    if (!leaf || !leaf[1] || strcmp(leaf + 1, ".") == 0)
        return kerr_msg(err, EINVAL, "cannot make the mount point %s: not a path below /", pt->path);
    *leaf++ = '\0';
    int r = init_parent(x, pt->path, parent, err);
    if (r < 0)
        return r;
    const char *real = x->real;
    char full[PATH_MAX];
    if ((size_t)snprintf(full, sizeof full, "%s/%s", real, leaf) >= sizeof full)
        return kerr_set(err, ENAMETOOLONG, "cannot make the mount point %s", pt->path);
    struct stat st;
    int idir = real[0] ? x->idir : x->probe;
    bool present = idir >= 0 && fstatat(idir, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (present && !pt->shadow) {
        if (!S_ISLNK(st.st_mode))
            return 0;   /* the image's own, used as it is */
        _cleanup_close_ int fd = sys_openat2(x->probe, full, O_PATH | O_CLOEXEC, 0,
                                             RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (fd >= 0)
            return 0;   /* followed inside the root by the bind */
        return kerr_msg(err, ENOENT, "cannot make the mount point %s in the container root: %s is a symlink to "
                        "a missing path in the image", pt->path, full);
    }
    if (real[0] && x->dir < 0) {
        int made = init_dirs(x, real, err);
        if (made < 0)
            return made;
        x->dir = made;
    }
    int dir = real[0] ? x->dir : x->init;
    /* A directory over the image's directory: its owner and mode (the merged one's). */
    bool dir_kind = kind == 'd';
    bool copy = present && dir_kind && S_ISDIR(st.st_mode);
    uid_t uid = copy ? st.st_uid : x->in->root_uid;
    gid_t gid = copy ? st.st_gid : x->in->root_gid;
    mode_t mode = copy ? st.st_mode : dir_kind ? 0755 : 0644;
    /* An empty regular file in one call, as openat(O_CREAT | O_EXCL |
     * O_NOFOLLOW) and a close would make it: EEXIST for anything there, a
     * symlink too (never followed). */
    r = dir_kind ? mkdirat(dir, leaf, 0755) : mknodat(dir, leaf, S_IFREG | 0644, 0);
    if (r == 0)
        return init_attrs(x->fsuid, x->fsgid, dir, leaf, uid, gid, mode, dir_kind ? 0755 : 0644, err);
    if (errno != EEXIST)
        return kerr_set(err, errno, "cannot make %s in the init layer", full);
    /* A second mount point at the same path: fine if it is of the same type. */
    if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode) != dir_kind)
        return kerr_msg(err, EEXIST, "cannot make the mount point %s: it is wanted as a directory and as a file",
                        pt->path);
    return 0;
}

int mount_init_layer(const struct container_spec *c, const struct mount_inputs *in, const struct mount_point *pts,
                     size_t n, int *probe_fd, struct kerr *err)
{
    *probe_fd = -1;
    const char *stage = in->stage;
    char *const *layers = layers_of(c, in);
    size_t n_layers = strv_len(layers);
    char path[PATH_MAX];
    if (in->userns_fd >= 0) {
        snprintf(path, sizeof path, "%s/lower", stage);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return kerr_set(err, errno, "cannot create %s", path);
        for (size_t i = 0; i < n_layers; i++) {
            char buf[PATH_MAX];
            const char *name = in->layer_names ? in->layer_names[i] : layers[i];
            int r = mount_idmapped(layers[i], name, in->userns_fd, layer_path(c, in, i, buf), err);
            if (r < 0)
                return r;
        }
    }
    /* The image as the container would see it without the init layer: the
     * one layer itself, or a read-only overlay of them.  The overlay stays
     * mounted in the stage: it goes with the old root at pivot_root, in the
     * one detach (and RCU grace period) that takes the old root anyway,
     * rather than in a detach of its own here, on the way to the hand-over. */
    char probe[PATH_MAX];
    if (n_layers <= 1) {
        str_copy(probe, sizeof probe, layer_path(c, in, 0, path));
    } else {
        char opts[4096];
        snprintf(probe, sizeof probe, "%s/probe", stage);
        if (lower_opts(c, in, NULL, opts, sizeof opts) >= sizeof opts)
            return kerr_set(err, E2BIG, "cannot mount the root of %s: the layer paths are longer than the "
                            "kernel's 4096-byte mount option limit", c->name);
        if (mkdir(probe, 0700) < 0 && errno != EEXIST)
            return kerr_set(err, errno, "cannot create %s", probe);
        if (mount("overlay", probe, "overlay", MS_RDONLY | MS_NODEV | MS_NOSUID, opts) < 0)
            return kerr_set(err, errno, "cannot mount the layers of %s to look at them (%s)", c->name, opts);
    }
    struct init_ctx x = { .in = in, .fsuid = (uid_t)setfsuid((uid_t)-1), .fsgid = (gid_t)setfsgid((gid_t)-1),
                          .probe = -1, .init = -1, .idir = -1, .dir = -1 };
    snprintf(path, sizeof path, "%s/init", stage);
    int r = 0;
    struct stat st;
    /* Everything below is made with the mode it is to have, unless the
     * image's differs (init_attrs); keel run inherits its caller's umask. */
    mode_t mask = umask(0);
    bool made = mkdir(path, 0755) == 0;
    if (!made && errno != EEXIST)
        r = kerr_set(err, errno, "cannot create %s", path);
    else if ((x.init = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        r = kerr_set(err, errno, "cannot open %s", path);
    else if ((x.probe = open(probe, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(x.probe, &st) < 0)
        r = kerr_set(err, errno, "cannot open the layers of %s at %s", c->name, probe);
    else
        /* The root directory too: the top layer's owner and mode are the root's. */
        r = init_attrs(x.fsuid, x.fsgid, x.init, ".", st.st_uid, st.st_gid, st.st_mode, made ? 0755 : (mode_t)-1, err);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = init_point(&x, &pts[i], err);
    umask(mask);
    close_safe(x.dir);
    close_safe(x.idir);
    close_safe(x.init);
    if (r == 0 && n_layers > 1)
        *probe_fd = TAKE_FD(x.probe);
    close_safe(x.probe);
    return r;
}

static int volume_path(const char *volume, const char *sub, uid_t uid, gid_t gid, struct kerr *err)
{
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/%s", MANIFEST_VOLUMES_DIR, volume);
    int dfd = sys_openat2(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0,
                          RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (dfd < 0)
        return kerr_set(err, errno, "cannot open volume %s at %s", volume, root);
    _cleanup_free_ char *copy = strdup(sub);
    if (!copy) {
        close(dfd);
        return kerr_set(err, ENOMEM, "cannot make %s on volume %s", sub, volume);
    }
    for (char *save = NULL, *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        bool made = mkdirat(dfd, p, 0755) == 0;
        if (!made && errno != EEXIST) {
            int e = errno;
            close(dfd);
            return kerr_set(err, e, "cannot make %s on volume %s", sub, volume);
        }
        /* O_NOFOLLOW|O_DIRECTORY: a symlink (or a file) in the path is refused. */
        int next = openat(dfd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(dfd);
        if (next < 0)
            return kerr_set(err, e == ENOTDIR || e == ELOOP ? ELOOP : e, "cannot open %s on volume %s "
                            "(a symlink or a file on the path is refused)", sub, volume);
        dfd = next;
        if (made && (uid || gid) && fchownat(dfd, "", uid, gid, AT_EMPTY_PATH) < 0) {
            e = errno;
            close(dfd);
            return kerr_set(err, e, "cannot give %s on volume %s to the container's root", sub, volume);
        }
    }
    close(dfd);
    return 0;
}

int mount_volume_paths(const struct container_spec *c, uid_t uid, gid_t gid, struct kerr *err)
{
    int r;
    if (c->upper_volume && (r = volume_path(c->upper_volume, c->upper_volume_sub, uid, gid, err)) < 0)
        return r;
    for (size_t i = 0; i < c->n_mounts; i++)
        if (c->mounts[i].volume &&
            (r = volume_path(c->mounts[i].volume, c->mounts[i].volume_sub, uid, gid, err)) < 0)
            return r;
    return 0;
}

int mount_overlay(const struct container_spec *c, const struct mount_inputs *in, struct kerr *err)
{
    const char *stage = in->stage;
    bool idmap = in->userns_fd >= 0;
    /* A host upper directory's fds, held until the mount. */
    _cleanup_close_ int base_fd = -1, idmapped_fd = -1, upper_fd = -1, work_fd = -1;
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/root", stage);
    if (mkdir(root, 0755) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create %s", root);

    unsigned long flags = MS_NODEV | MS_NOSUID;
    /* The init layer on top (so there are two lowers even without an upper,
     * as overlayfs wants then). */
    char init[PATH_MAX];
    snprintf(init, sizeof init, "%s/init", stage);
    char opts[4096];
    size_t used = lower_opts(c, in, init, opts, sizeof opts);
    if (c->upper) {
        const char *base = c->upper;
        bool on_tmpfs = strcmp(c->upper, "tmpfs") == 0;
        char tmp[PATH_MAX], upper[PATH_MAX + 16], work[PATH_MAX + 16];
        if (on_tmpfs) {
            snprintf(tmp, sizeof tmp, "%s/rw", stage);
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return kerr_set(err, errno, "cannot create %s", tmp);
            /* The stage is this container's own tmpfs already (nosuid,
             * nodev, half of RAM, in its mount namespace only): the upper
             * needs one of its own only to have another size. */
            char opts_rw[64];
            snprintf(opts_rw, sizeof opts_rw, "mode=0755,size=%llu", (unsigned long long)c->upper_size);
            if (c->upper_size && mount("tmpfs", tmp, "tmpfs", MS_NODEV | MS_NOSUID, opts_rw) < 0)
                return kerr_set(err, errno, "cannot mount a tmpfs upper at %s", tmp);
            base = tmp;
            snprintf(upper, sizeof upper, "%s/upper", base);
            snprintf(work, sizeof work, "%s/work", base);
            if ((mkdir(upper, 0755) < 0 && errno != EEXIST) || (mkdir(work, 0700) < 0 && errno != EEXIST))
                return kerr_set(err, errno, "cannot create upper/ and work/ in %s", base);
            /* Nothing outlives the container here: its root owns the tmpfs
             * directly (idmapped tmpfs mounts need Linux 6.3). */
            if (idmap && chown(upper, in->root_uid, in->root_gid) < 0)
                return kerr_set(err, errno, "cannot give %s to the container's root", upper);
        } else {
            int r = mkdir_p_nofollow(base, 0755);
            if (r == -ELOOP)
                return kerr_set(err, ELOOP, "cannot create the upper directory %s (no symlink on its path: a "
                                "symlink is refused, name the real path)", base);
            if (r < 0)
                return kerr_set(err, -r, "cannot create the upper directory %s", base);
            if ((base_fd = open_upper_base(base, err)) < 0)
                return base_fd;
            int top = base_fd;
            if (idmap) {
                /* upper/ and work/ stay on the same mount, as overlayfs requires. */
                char fdp[FD_PATH_MAX];
                snprintf(tmp, sizeof tmp, "%s/upper", stage);
                if ((r = mount_idmapped(fd_path(fdp, base_fd), base, in->userns_fd, tmp, err)) < 0)
                    return r;
                if ((idmapped_fd = open(tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                    return kerr_set(err, errno, "cannot open the idmapped upper directory %s", tmp);
                top = idmapped_fd;
            }
            if ((upper_fd = open_upper_sub(top, base, "upper", err)) < 0)
                return upper_fd;
            if ((work_fd = open_upper_sub(top, base, "work", err)) < 0)
                return work_fd;
            /* overlayfs takes the directories by these fds, not by a path
             * that could be swapped until the mount. */
            snprintf(upper, sizeof upper, "/proc/self/fd/%d", upper_fd);
            snprintf(work, sizeof work, "/proc/self/fd/%d", work_fd);
        }
        used += (size_t)snprintf(opts + used, used < sizeof opts ? sizeof opts - used : 0,
                                 ",upperdir=%s,workdir=%s", upper, work);
    } else {
        flags |= MS_RDONLY;
    }
    if (used >= sizeof opts)
        return kerr_set(err, E2BIG, "cannot mount the root of %s: the layer paths are longer than the "
                        "kernel's 4096-byte mount option limit", c->name);
    /* overlayfs works in its layers with the credentials of its mounter:
     * those must be representable in the idmapped upper too. */
    int r;
    if (idmap && (r = create_as_container_root(in, err)) < 0)
        return r;
    if (mount("overlay", root, "overlay", flags, opts) < 0)
        return kerr_set(err, errno, "cannot mount the overlay root of %s (%s)", c->name, opts);
    return 0;
}


const struct mount_devnode mount_devnodes[] = {
    { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
    { NULL, 0, 0 },
};

static int bind_notify_socket(int devdir, const char *host_path, struct kerr *err)
{
    int f = openat(devdir, "keel-notify", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (f < 0)
        return kerr_set(err, errno, "cannot create /dev/keel-notify");
    close(f);
    _cleanup_close_ int src = open(host_path, O_PATH | O_CLOEXEC);
    if (src < 0)
        return kerr_set(err, errno, "cannot open the notify socket %s", host_path);
    /* Connecting to a socket needs no writable mount. */
    return bind_readonly(src, devdir, "keel-notify", O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
                         MS_NOSUID | MS_NODEV | MS_NOEXEC, "/dev/keel-notify", err);
}

/* Binds the host's device node HOST at DIR/NAME (NAME may have
 * subdirectories, made in keel's tmpfs): a read-only bind, so the device
 * works while the host's inode cannot be chmod'ed, chown'ed or touched from
 * inside, and so a node the container makes itself (given CAP_MKNOD) on the
 * nodev /dev is worth nothing.  WANT: the device number HOST must have, or 0
 * for any character or block device. */
static int bind_host_node(int dir, const char *host, const char *name, dev_t want, struct kerr *err)
{
    _cleanup_close_ int src = open(host, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (src < 0 || fstat(src, &st) < 0)
        return kerr_set(err, errno ? errno : ENODEV, "cannot give the container /dev/%s: cannot open %s", name, host);
    if (want ? (!S_ISCHR(st.st_mode) || st.st_rdev != want) : (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
        return want ? kerr_msg(err, ENODEV, "cannot give the container /dev/%s: %s is not the %u:%u character device",
                               name, host, major(want), minor(want))
                    : kerr_msg(err, ENODEV, "cannot give the container /dev/%s: %s is not a device node", name, host);
    /* The parent directories, one by one inside the tmpfs (never followed). */
    char path[PATH_MAX];
    if (str_copy(path, sizeof path, name) < 0)
        return kerr_set(err, ENAMETOOLONG, "cannot give the container /dev/%s", name);
    _cleanup_close_ int parent = fcntl(dir, F_DUPFD_CLOEXEC, 3);
    char *leaf = path;
    for (char *slash; parent >= 0 && (slash = strchr(leaf, '/')); leaf = slash + 1) {
        *slash = '\0';
        if (mkdirat(parent, leaf, 0755) < 0 && errno != EEXIST)
            return kerr_set(err, errno, "cannot create a directory for /dev/%s", name);
        int next = openat(parent, leaf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(parent);
        parent = next;
    }
    if (parent < 0)
        return kerr_set(err, errno, "cannot open a directory for /dev/%s", name);
    int f = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0)
        return kerr_set(err, errno, "cannot create /dev/%s", name);
    close(f);
    char what[PATH_MAX + 8];
    snprintf(what, sizeof what, "/dev/%s", name);
    return bind_readonly(src, parent, leaf, O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, MS_NOSUID | MS_NOEXEC,
                         what, err);
}

/* Makes the host's standard node /dev/NAME (checked to be the WANT character
 * device) at DIR/NAME with mknod, with the host node's owner and mode (the
 * caller has cleared the umask): the container sees what a bind of the host's
 * would show it, on an inode of its own.  -EPERM (keel in a user namespace)
 * is the caller's to fall back on. */
static int make_host_node(int dir, const char *name, dev_t want, struct kerr *err)
{
    char host[32];
    snprintf(host, sizeof host, "/dev/%s", name);
    struct stat st;
    if (fstatat(AT_FDCWD, host, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kerr_set(err, errno, "cannot give the container /dev/%s: cannot open %s", name, host);
    if (!S_ISCHR(st.st_mode) || st.st_rdev != want)
        return kerr_msg(err, ENODEV, "cannot give the container /dev/%s: %s is not the %u:%u character device",
                        name, host, major(want), minor(want));
    if (mknodat(dir, name, S_IFCHR | (st.st_mode & 0777), want) < 0)
        return errno == EPERM ? -EPERM : kerr_set(err, errno, "cannot create /dev/%s", name);
    /* Made as keel's fsuid (root): only a node the host gives another owner (tty) needs one more call. */
    if ((st.st_uid != 0 || st.st_gid != 0) && fchownat(dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return kerr_set(err, errno, "cannot set the owner of /dev/%s", name);
    return 0;
}

int mount_dev(int rootfd, bool own_nodes, struct kerr *err)
{
    int dev = open_mountpoint(rootfd, "/dev", true, err);
    if (dev < 0)
        return dev;
    /* nodev: only the nodes bound in below work here.  Without it only when
     * the container cannot make a node of its own (own_nodes: no CAP_MKNOD
     * in keel's user namespace): then nothing but keel's nodes can be there. */
    int r = mount_at("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC | (own_nodes ? 0 : MS_NODEV),
                     "mode=0755,size=65536k", "/dev", err);
    close(dev);
    if (r < 0)
        return r;
    /* Re-open: the fd above names the directory under the new tmpfs.  An
     * O_PATH fd is all the *at calls below need of a directory. */
    int d = open_mountpoint(rootfd, "/dev", false, err);
    if (d < 0)
        return d;
    if (own_nodes) {
        mode_t mask = umask(0);
        const struct mount_devnode *n = mount_devnodes;
        for (; n->name && r == 0; n++)
            r = make_host_node(d, n->name, makedev(n->major, n->minor), err);
        umask(mask);
        if (r == -EPERM && n - 1 == mount_devnodes) {
            /* Refused at the first node (keel in a user namespace): binds on a nodev /dev, as below. */
            own_nodes = false;
            r = mount_at(NULL, d, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL,
                         "the container's /dev again, nodev", err);
        } else if (r == -EPERM) {
            r = kerr_set(err, EPERM, "cannot create /dev/%s", (n - 1)->name);
        }
    }
    for (const struct mount_devnode *n = mount_devnodes; !own_nodes && n->name && r == 0; n++) {
        char host[32];
        snprintf(host, sizeof host, "/dev/%s", n->name);
        r = bind_host_node(d, host, n->name, makedev(n->major, n->minor), err);
    }
    if (r < 0) {
        close(d);
        return r;
    }
    return d;
}

int mount_dev_node(int devfd, const struct bind_mount *node, struct kerr *err)
{
    return bind_host_node(devfd, node->source, node->target + strlen("/dev/"), 0, err);
}

int mount_dev_finish(int devfd, struct kerr *err)
{
    int d = devfd;
    if (mkdirat(d, "pts", 0755) < 0 || mkdirat(d, "shm", 01777) < 0 || mkdirat(d, "mqueue", 0755) < 0)
        return kerr_set(err, errno, "cannot create directories in the container's /dev");
    static const char *const links[][2] = {
        { "pts/ptmx", "ptmx" }, { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
        { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" }, { "/proc/kcore", "core" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(links); i++)
        if (symlinkat(links[i][0], d, links[i][1]) < 0)
            return kerr_set(err, errno, "cannot create /dev/%s", links[i][1]);
    _cleanup_close_ int pts = openat(d, "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int shm = openat(d, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pts < 0 || shm < 0)
        return kerr_set(err, errno, "cannot open the container's /dev/pts or /dev/shm");
    int r = mount_at("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
                     "/dev/pts", err);
    if (r == 0)
        r = mount_at("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
                     "/dev/shm", err);
    if (r == 0) {
        _cleanup_close_ int mq = openat(d, "mqueue", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* mqueue may be missing from the kernel: not worth failing the container for. */
        if (mq >= 0 &&
            mount_at("mqueue", mq, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "/dev/mqueue", NULL) < 0)
            unlinkat(d, "mqueue", AT_REMOVEDIR);
    }
    return r;
}

int mount_notify_socket(int devfd, const char *host_path, struct kerr *err)
{
    return bind_notify_socket(devfd, host_path, err);
}

/* Masks with keel's own /dev/null (checked to be the 1:3 character device) or
 * an empty read-only tmpfs for directories; never a path inside the image.
 * The first mask of each kind is made (the tmpfs mounted, /dev/null bound and
 * remounted read-only); the others are binds of it, which copy its mount's
 * flags (read-only, nosuid, noexec): read-only from the moment they exist,
 * one mount each, and one tmpfs for all the directories.  In two calls: the
 * masks below /proc before keel's hand-over, the ones below /sys after
 * sysfs, which comes after it (and, mostly, after pivot_root: ROOTFD is
 * then "/"). */
int mount_masks(int rootfd, const char *below, struct mount_masks *made, struct kerr *err)
{
    struct stat st;
    const uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS;
    for (const char *const *p = mount_masked_paths; *p; p++) {
        if (!str_starts(*p, below))
            continue;
        _cleanup_close_ int fd = sys_openat2(rootfd, *p, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, resolve);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return kerr_set(err, errno, "cannot open %s to mask it", *p);
        }
        if (fstat(fd, &st) < 0)
            return kerr_set(err, errno, "cannot open %s to mask it", *p);
        bool dir = S_ISDIR(st.st_mode);
        int *first = dir ? &made->dir : &made->file;
        int r;
        if (*first >= 0) {
            /* A clone of the first mask's mount, its flags with it, as
             * mount(MS_BIND) makes; fd to fd, no /proc/self/fd path.  No
             * fallback: open_tree and move_mount (Linux 5.2) are older than
             * openat2 (5.6), which the open above needs. */
            r = sys_bind_fd_top(*first, fd, false, 0, 0);
        } else if (dir) {
            r = mount_at("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0", *p, err);
        } else {
            /* Opened here, in the container's new mount namespace: the kernel
             * refuses to bind a mount of another namespace (an fd the parent
             * opened).  keel's (the host's) /dev/null inode: never writable
             * through the mask. */
            _cleanup_close_ int devnull_fd = open("/dev/null", O_PATH | O_CLOEXEC);
            if (fstat(devnull_fd, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 ||
                minor(st.st_rdev) != 3)
                return kerr_set(err, EPERM, "cannot mask paths: keel's /dev/null is not the 1:3 character device");
            if ((r = bind_readonly(devnull_fd, rootfd, *p, O_NOFOLLOW, resolve, MS_NOSUID | MS_NOEXEC, *p, err)) < 0)
                return r;
        }
        if (r < 0)
            return kerr_set(err, errno, "cannot mask %s", *p);
        /* The first of its kind: opened again, to name the mask rather than what it covers. */
        if (*first < 0 && (*first = sys_openat2(rootfd, *p, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, resolve)) < 0)
            return kerr_set(err, errno, "cannot reopen %s", *p);
    }
    return 0;
}

/* The read-only paths: each bound onto itself, then remounted read-only. */
int mount_readonly(int rootfd, struct kerr *err)
{
    char tp[FD_PATH_MAX];
    for (const char *const *p = mount_readonly_paths; *p; p++) {
        _cleanup_close_ int fd = sys_openat2(rootfd, *p, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
                                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return kerr_set(err, errno, "cannot open %s to make it read-only", *p);
        }
        if (bind_with_flags(fd, fd, true, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) == 0)
            continue;
        if (errno != ENOSYS)
            return kerr_set(err, errno, "cannot bind %s", *p);
        if (mount(fd_path(tp, fd), fd_path(tp, fd), NULL, MS_BIND | MS_REC, NULL) < 0)
            return kerr_set(err, errno, "cannot bind %s", *p);
        _cleanup_close_ int again = sys_openat2(rootfd, *p, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
                                                RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (again < 0)
            return kerr_set(err, errno, "cannot reopen %s", *p);
        int r = remount_at(again, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, *p, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* mount = SOURCE:TARGET[:ro].  The source, a host path, is opened once with
 * no symlink anywhere on it (a directory the source passes through may be
 * writable by a container sharing it: a symlink planted there would swap in
 * another host tree); the target is opened once inside the root.  The bind
 * then goes fd to fd (sys_bind_fd), with its flags set on every mount of the
 * bound tree (a read-only bind of a directory with mounts below it is
 * read-only all the way down), before it is attached. */
int mount_bind(int rootfd, const struct bind_mount *b, struct kerr *err)
{
    _cleanup_close_ int src = sys_openat2(AT_FDCWD, b->source, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
                                          RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    struct stat st;
    if (src >= 0 && fstat(src, &st) < 0)
        return kerr_set(err, errno, "cannot open mount source %s", b->source);
    /* O_PATH | O_NOFOLLOW opens a last-component symlink itself. */
    if ((src < 0 && errno == ELOOP) || (src >= 0 && S_ISLNK(st.st_mode)))
        return kerr_msg(err, ELOOP, "cannot open mount source %s: a symlink on its path is refused "
                        "(name the real path)", b->source);
    if (src < 0)
        return kerr_set(err, errno, "cannot open mount source %s", b->source);
    _cleanup_close_ int tgt = mount_open_in_root(rootfd, b->target, S_ISDIR(st.st_mode) ? 'd' : 'f', err);
    if (tgt < 0)
        return kerr_prefix(err, "cannot bind %s", b->source);
    uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->readonly ? MOUNT_ATTR_RDONLY : 0);
    if (sys_bind_fd(src, tgt, attr) == 0)
        return 0;
    if (errno != ENOSYS)
        return kerr_set(err, errno, "cannot bind %s to %s", b->source, b->target);
    /* Before Linux 5.12: mount(2) on the fds, then the flags on the top
     * mount, found again by path (inside the root). */
    char sp[FD_PATH_MAX], tp[FD_PATH_MAX];
    if (mount(fd_path(sp, src), fd_path(tp, tgt), NULL, MS_BIND | MS_REC, NULL) < 0)
        return kerr_set(err, errno, "cannot bind %s to %s", b->source, b->target);
    _cleanup_close_ int again = mount_open_in_root(rootfd, b->target, 0, err);
    if (again < 0)
        return again;
    unsigned long flags = MS_NOSUID | MS_NODEV | (b->readonly ? MS_RDONLY : 0);
    if (mount(NULL, fd_path(tp, again), NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
        return kerr_set(err, errno, "cannot set the flags of bind mount %s", b->target);
    return 0;
}

/* Covers TARGET with SRC bound read-only, or with the detached read-only
 * TREE attached: the init layer made TARGET (an upper may hide that: then it
 * is made). */
static int cover_file(int rootfd, int src, int tree, const char *target, bool root_writable, struct kerr *err)
{
    _cleanup_close_ int tgt = sys_openat2(rootfd, target, O_PATH | O_CLOEXEC, 0,
                                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (tgt < 0 && errno == ENOENT && root_writable)
        tgt = mount_open_in_root(rootfd, target, 'f', NULL);
    if (tgt < 0)
        return kerr_set(err, errno, "cannot open %s in the container root", target);
    struct stat st;
    if (fstat(tgt, &st) < 0)
        return kerr_set(err, errno, "cannot open %s in the container root", target);
    if (!S_ISREG(st.st_mode))
        return kerr_msg(err, EEXIST, "cannot bind keel's %s: it is not a regular file in the container root", target);
    if (tree >= 0) {
        /* Attached on the fd itself: nothing resolved between the check and the mount. */
        if (move_mount(tree, "", tgt, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            return kerr_set(err, errno, "cannot bind %s", target);
        return 0;
    }
    /* The same for a bind: on the fd checked, read-only when attached. */
    if (bind_with_flags(src, tgt, false, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) == 0)
        return 0;
    if (errno != ENOSYS)
        return kerr_set(err, errno, "cannot bind %s", target);
    return bind_readonly(src, rootfd, target, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                         MS_NOSUID | MS_NODEV | MS_NOEXEC, target, err);
}

/* Writes a generated file into the stage and binds it read-only over `target`. */
int mount_generated(int rootfd, const char *stage, const char *name, const char *content, const char *target,
                    bool root_writable, struct kerr *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/files", stage);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create %s", path);
    snprintf(path, sizeof path, "%s/files/%s", stage, name);
    _cleanup_close_ int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f < 0 || write_all(f, content, strlen(content)) < 0)
        return kerr_set(err, errno, "cannot write %s", path);
    /* The fd written names the file the bind's source is (open_tree and
     * the /proc/self/fd path of the fallback take any fd). */
    return cover_file(rootfd, f, -1, target, root_writable, err);
}

int mount_generated_tree(int rootfd, int tree, const char *target, bool root_writable, struct kerr *err)
{
    return cover_file(rootfd, -1, tree, target, root_writable, err);
}

int mount_file_tree(int fd, struct kerr *err)
{
    int tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0)
        return kerr_set(err, errno, "cannot clone the mount of a file of keel's");
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                           MOUNT_ATTR_NOEXEC };
    if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
        int e = errno;
        close(tree);
        return kerr_set(err, e, "cannot make the clone of a file of keel's read-only");
    }
    return tree;
}

/* Copies the secret's source (no symlink anywhere on its path, a regular
 * file of at most SECRET_SIZE_MAX bytes, opened O_PATH first so that
 * nothing else is ever opened for reading) into FD. */
static int copy_secret(const struct secret_spec *s, int fd, struct kerr *err)
{
    _cleanup_close_ int path = sys_openat2(AT_FDCWD, s->source, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
                                           RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    struct stat st;
    if (path >= 0 && fstat(path, &st) < 0)
        return kerr_set(err, errno, "cannot open secret %s", s->source);
    /* O_PATH | O_NOFOLLOW opens a last-component symlink itself. */
    if ((path < 0 && errno == ELOOP) || (path >= 0 && S_ISLNK(st.st_mode)))
        return kerr_msg(err, ELOOP, "cannot open secret %s: a symlink on its path is refused (name the real path)",
                        s->source);
    if (path < 0)
        return kerr_set(err, errno, "cannot open secret %s", s->source);
    if (!S_ISREG(st.st_mode))
        return kerr_msg(err, EINVAL, "cannot use secret %s: it is not a regular file", s->source);
    char fdp[FD_PATH_MAX];
    _cleanup_close_ int src = open(fd_path(fdp, path), O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (src < 0)
        return kerr_set(err, errno, "cannot open secret %s", s->source);
    char buf[16384];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(src, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kerr_set(err, errno, "cannot read secret %s", s->source);
        if (n == 0)
            break;
        total += (size_t)n;
        if (total > SECRET_SIZE_MAX)
            return kerr_msg(err, EFBIG, "cannot use secret %s: it is larger than %u bytes", s->source,
                            SECRET_SIZE_MAX);
        if (write_all(fd, buf, (size_t)n) < 0)
            return kerr_set(err, errno, "cannot copy secret %s", s->source);
    }
    explicit_bzero(buf, sizeof buf);
    return 0;
}

int mount_secret(int rootfd, const char *stage, size_t n, size_t index, const struct secret_spec *s, uid_t uid,
                 gid_t gid, struct kerr *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/secrets", stage);
    if (index == 0) {
        /* The container's own tmpfs (in its mount namespace only, left
         * behind with the old root at pivot_root but for the binds), sized
         * for its secrets. */
        char opts[96];
        snprintf(opts, sizeof opts, "mode=0700,size=%zu,nr_inodes=%zu", n * ((size_t)SECRET_SIZE_MAX + 4096),
                 n + 16);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return kerr_set(err, errno, "cannot create %s", dir);
        if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
            return kerr_set(err, errno, "cannot mount the secrets' tmpfs at %s", dir);
    }
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return kerr_set(err, errno, "cannot open %s", dir);
    char name[24];
    snprintf(name, sizeof name, "%zu", index);
    {
        _cleanup_close_ int f = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0)
            return kerr_set(err, errno, "cannot create the copy of secret %s", s->source);
        int r = copy_secret(s, f, err);
        if (r < 0)
            return r;
        if (fchown(f, uid, gid) < 0 || fchmod(f, s->mode) < 0)
            return kerr_set(err, errno, "cannot set the owner and mode of secret %s", s->target);
    }
    _cleanup_close_ int tgt = mount_open_in_root(rootfd, s->target, 'f', err);
    if (tgt < 0)
        return kerr_prefix(err, "cannot bind secret %s", s->target);
    struct stat st;
    if (fstat(tgt, &st) < 0 || !S_ISREG(st.st_mode))
        return kerr_msg(err, EISDIR, "cannot bind secret %s: it is not a file in the container root", s->target);
    _cleanup_close_ int copy = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (copy < 0)
        return kerr_set(err, errno, "cannot open the copy of secret %s", s->source);
    return bind_readonly(copy, rootfd, s->target, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                         MS_NOSUID | MS_NODEV | MS_NOEXEC, s->target, err);
}

int mount_stage(const char *stage, struct kerr *err)
{
    /* Nothing done below may propagate back to the host's mount table. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return kerr_set(err, errno, "cannot make the mount tree private");
    if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
        return kerr_set(err, errno, "cannot mount the staging tmpfs at %s", stage);
    return 0;
}

int mount_open_root(const char *stage, struct kerr *err)
{
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/root", stage);
    int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return kerr_set(err, errno, "cannot open %s", root);
    return rootfd;
}

int mount_proc(int rootfd, bool may_create, struct kerr *err)
{
    _cleanup_close_ int proc = open_mountpoint(rootfd, "/proc", may_create, err);
    if (proc < 0)
        return proc;
    return mount_at("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "/proc", err);
}

int mount_sys(int rootfd, bool may_create, bool cgroup_ns, struct kerr *err)
{
    _cleanup_close_ int sys = open_mountpoint(rootfd, "/sys", may_create, err);
    if (sys < 0)
        return sys;
    int r = mount_at("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "/sys", err);
    if (r < 0 || !cgroup_ns)
        return r;
    _cleanup_close_ int cg = sys_openat2(rootfd, "/sys/fs/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                                        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (cg >= 0)
        return mount_at("cgroup2", cg, "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                        "/sys/fs/cgroup", err);
    return 0;
}

int mount_pivot(int rootfd, bool restore_fsids, struct kerr *err)
{
    /* pivot_root(".", ".") stacks the old root on top of the new one; detaching
     * it leaves only the container's tree (no put_old directory needed). */
    if (fchdir(rootfd) < 0)
        return kerr_set(err, errno, "cannot enter the container root");
    if (sys_pivot_root(".", ".") < 0)
        return kerr_set(err, errno, "cannot pivot_root into the container root");
    if (umount2(".", MNT_DETACH) < 0)
        return kerr_set(err, errno, "cannot detach the old root");
    if (chdir("/") < 0)
        return kerr_set(err, errno, "cannot chdir to the new root");
    if (restore_fsids) {
        /* Back to keel's own ids, which gives the file capabilities back. */
        setfsuid(geteuid());
        setfsgid(getegid());
    }
    return 0;
}
