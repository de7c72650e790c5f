/* mount.h — a container's root filesystem, built inside its own mount
 * namespace by the setup child and entered with pivot_root.
 *
 *   STAGE (tmpfs, private)         RUN_DIR/containers/NAME, keel's staging area
 *     init/   keel's init layer: the mount points the set-up needs (mount_init_layer)
 *     root/   overlay: lowerdir = init:layers (leftmost on top), upperdir/workdir
 *             from `upper` (a directory, or tmpfs in STAGE), read-only without
 *     lower/N, upper/   with a user namespace: idmapped mounts of the layers
 *             and of the upper directory, which the overlay is made of
 *     files/  generated /etc/hosts, /etc/resolv.conf, /etc/hostname
 *     secrets/  a tmpfs of its own: the copies of `secret =` files
 *   inside root: /proc (fresh, masked paths), /sys (ro), /sys/fs/cgroup (ro),
 *   /dev (keel's nodev tmpfs: the host's null zero full random urandom tty
 *   as read-only binds, pts, ptmx, shm),
 *   bind mounts; then pivot_root(".", ".") and the old root detached.
 *
 * Every path inside the container root is resolved with openat2(RESOLVE_IN_ROOT)
 * (RESOLVE_NO_SYMLINKS for the system mount points) and every mount targets a
 * file descriptor through /proc/self/fd, never a string re-resolved later: a
 * symlink planted in an image cannot redirect a mount outside the root.
 *
 * With a user namespace, the layers (and an upper directory) enter the overlay
 * through idmapped mounts of it: a file that is uid 0 on disk is the
 * container's root inside, and what the container writes is stored with its
 * container ids.  A tmpfs upper belongs to the container's root instead.
 * Everything the setup creates inside the root is created as the container's
 * root (fsuid), so it is owned by it and representable in the idmapped upper.
 *
 * Runs in the setup child only (but mount_warn_upper).  Contract: 0 / negative errno, err filled.
 */
#ifndef KEEL_MOUNT_H
#define KEEL_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

#include "keel/err.h"
#include "keel/manifest.h"

/* A mount point of the init layer (setup.h plans them): PATH absolute inside
 * the root; KIND 'd' a directory, 'f' an empty regular file, 's' as the host
 * path SOURCE is (a directory for a directory, else a file).  SHADOW: made
 * even where the image has something at PATH (a symlink, a file where a
 * directory is wanted), which the init layer then hides; without it, PATH is
 * resolved inside the root as the image has it (symlinks followed, as binds
 * are) and made only where nothing is. */
struct mount_point {
    const char *path;
    const char *source;
    char kind;
    bool shadow;
};

/* What the overlay needs besides the spec. */
struct mount_inputs {
    const char *stage;        /* RUN_DIR/containers/NAME (exists) */
    char *const *layers;      /* lower directories, top first; NULL: the spec's layers */
    char *const *layer_names; /* the same as messages name them (LAYERS may be /proc/self/fd/N), or NULL */
    int userns_fd;            /* the container's user namespace, or -1 */
    uid_t root_uid;           /* with userns_fd: the host ids of the container's root */
    gid_t root_gid;
};

/* The steps of the root, in the order the setup list (setup.h) runs them:
 * each is one SETUP_* operation.  ROOTFD is mount_open_root()'s O_PATH fd of
 * STAGE/root; DEVFD is mount_dev()'s directory fd of the container's /dev. */

/* The whole mount tree made private (nothing propagates back to the host),
 * and the staging tmpfs (mode 0700) mounted at STAGE. */
int mount_stage(const char *stage, struct kerr *err);
/* STAGE/init, keel's init layer (Docker's): a directory on the staging tmpfs,
 * the top lower layer of the root, holding the N mount points PTS as empty
 * directories and files, so they exist in every root, read-only or not,
 * without writing to the image.  The image is looked at through a read-only
 * probe overlay of its layers (left in the stage, detached with the old root at
 * mount_pivot); the init layer's directories
 * take the owner and mode of the image's (the top layer's attributes are the
 * merged directory's), new ones are the container root's, 0755.  Made with
 * mkdirat/openat below an fd of STAGE/init, never following a symlink.  With a
 * user namespace, the idmapped layers (STAGE/lower/N) are mounted here.
 * Refused: a mount point below something that is not a directory in the
 * image, or below or at a symlink to a missing path.  *PROBE (on success):
 * an O_PATH fd of the probe overlay's root for the caller to close, or -1
 * (one layer: no overlay of its own); whoever holds the last reference to it
 * after the old root's detach pays for the overlay's teardown. */
int mount_init_layer(const struct container_spec *c, const struct mount_inputs *in, const struct mount_point *pts,
                     size_t n, int *probe, struct kerr *err);
/* STAGE/root: the overlay of the init layer, the layers (idmapped with a
 * user namespace: mount_init_layer(), which comes first, mounted them) and
 * the upper (a directory made root's and 0700 at every start, or a tmpfs);
 * read-only without an upper.  With a user namespace, the setup goes on as the
 * container's root (fsuid) until mount_pivot(). */
int mount_overlay(const struct container_spec *c, const struct mount_inputs *in, struct kerr *err);
/* The paths C names on volumes (upper = volume:NAME/SUB, mount =
 * volume:NAME/SUB:...) made inside MANIFEST_VOLUMES_DIR/NAME, component by
 * component, never following a symlink (one a container planted in a volume
 * it shares is refused); what keel creates is owned by UID:GID (the
 * container's root with userns, else 0) so a userns container can write it.
 * Runs before the overlay, with keel's full privileges. */
int mount_volume_paths(const struct container_spec *c, uid_t uid, gid_t gid, struct kerr *err);
/* Returns an O_PATH fd of STAGE/root (caller closes), or -errno. */
int mount_open_root(const char *stage, struct kerr *err);
/* A fresh proc at /proc (nosuid, nodev, noexec); MAY_CREATE: make the mount
 * point (a writable root) when the image has none. */
int mount_proc(int rootfd, bool may_create, struct kerr *err);
/* sysfs at /sys, read-only; with CGROUP_NS, cgroup2 read-only at /sys/fs/cgroup. */
int mount_sys(int rootfd, bool may_create, bool cgroup_ns, struct kerr *err);
/* keel's tmpfs at /dev with the host's null zero full random urandom tty.
 * OWN_NODES (the container has no CAP_MKNOD in keel's user namespace, so it
 * can make no node itself): made there with mknod, with the host's numbers,
 * owners and modes, on a /dev without nodev; otherwise (or where mknod is
 * refused: keel in a user namespace) a nodev /dev with the host's nodes bound
 * read-only.  Returns an O_PATH fd of the directory (caller closes). */
int mount_dev(int rootfd, bool own_nodes, struct kerr *err);
/* `device =`: the host's node NODE->source bound read-only at NODE->target (/dev/...). */
int mount_dev_node(int devfd, const struct bind_mount *node, struct kerr *err);
/* /dev's directories and links, devpts at /dev/pts, a tmpfs at /dev/shm, mqueue (if the kernel has it). */
int mount_dev_finish(int devfd, struct kerr *err);
/* keel's sd_notify socket HOST_PATH bound read-only at /dev/keel-notify. */
int mount_notify_socket(int devfd, const char *host_path, struct kerr *err);
/* The first masks made, of each kind, which the later ones bind (-1 until
 * made): kept across the calls below (the setup child closes them with the
 * rest of its fds before its exec). */
struct mount_masks {
    int dir, file;
};
#define MOUNT_MASKS_NONE ((struct mount_masks){ -1, -1 })
/* mount_masked_paths starting with BELOW ("/proc/", "/sys/") covered: the
 * 1:3 /dev/null of keel's tree (opened in the new mount namespace) bound
 * read-only for files, an empty read-only tmpfs for directories, or a bind
 * of the first such mask in MADE. */
int mount_masks(int rootfd, const char *below, struct mount_masks *made, struct kerr *err);
/* mount_readonly_paths bound onto themselves read-only. */
int mount_readonly(int rootfd, struct kerr *err);
/* mount = SOURCE:TARGET[:ro], fd to fd (sys_bind_fd), nosuid and nodev. */
int mount_bind(int rootfd, const struct bind_mount *b, struct kerr *err);
/* secret S (INDEX of the container's N): its source copied into STAGE/secrets
 * (a tmpfs of the container's mount namespace, nosuid, nodev, noexec, sized
 * for N secrets, mounted at INDEX 0), owned by UID:GID (host ids) with S's
 * mode, bound read-only (nosuid, nodev, noexec) at S->target.  The source is
 * opened with no symlink anywhere on its path and must be a regular file of
 * at most SECRET_SIZE_MAX bytes.  No message carries the content. */
int mount_secret(int rootfd, const char *stage, size_t n, size_t index, const struct secret_spec *s, uid_t uid,
                 gid_t gid, struct kerr *err);
/* CONTENT written to STAGE/files/NAME and bound read-only over TARGET, which
 * the init layer provides (or ROOT_WRITABLE and it can be made: an upper can
 * hide it); no regular file at TARGET is an error. */
int mount_generated(int rootfd, const char *stage, const char *name, const char *content, const char *target,
                    bool root_writable, struct kerr *err);
/* The same with a file keel keeps and rewrites in place while the container
 * runs (its resolv.conf, which a DHCP lease changes; its /etc/hosts, which
 * an apply changes): TREE is a detached,
 * read-only clone of that file's mount made by mount_file_tree in keel
 * (a bind from keel's mount namespace is refused in the container's), and
 * is attached over TARGET, so a rewrite reaches every container at once. */
int mount_generated_tree(int rootfd, int tree, const char *target, bool root_writable, struct kerr *err);
/* In keel, before the clone: the detached read-only (nosuid, nodev, noexec)
 * clone of the mount of the file FD (open_tree, mount_setattr); an fd
 * (O_CLOEXEC, one use) or negative errno. */
int mount_file_tree(int fd, struct kerr *err);
/* pivot_root into ROOTFD, the old root detached, cwd "/"; RESTORE_FSIDS:
 * back to keel's own fsuid/fsgid (after mount_overlay with a user namespace). */
int mount_pivot(int rootfd, bool restore_fsids, struct kerr *err);

/* Opens `path` (absolute, inside the root `rootfd`) with RESOLVE_IN_ROOT; with
 * `create` = 'd' or 'f', missing components are made (directories, and the last
 * one as a directory or an empty file).  Returns an O_PATH fd or -errno. */
int mount_open_in_root(int rootfd, const char *path, char create, struct kerr *err);

/* The masked and read-only paths (NULL-terminated), for docs and plans. */
extern const char *const mount_masked_paths[];
extern const char *const mount_readonly_paths[];
/* The host's device nodes every container's /dev gets (bound read-only), NULL-name terminated. */
struct mount_devnode { const char *name; unsigned major, minor; };
extern const struct mount_devnode mount_devnodes[];

/* keel itself, once at a container's first start: a warning on the console
 * when its upper directory is on a file system that honours setuid bits (or,
 * for a container with +MKNOD and no userns, device nodes): what the
 * container makes there is real on the host, reachable by root only (the
 * setup makes the directory root's, mode 0700). */
void mount_warn_upper(const struct container_spec *c);

#endif
