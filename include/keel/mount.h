/* mount.h — a container's root filesystem, built inside its own mount
 * namespace by the setup child and entered with pivot_root.
 *
 *   STAGE (tmpfs, private)         RUN_DIR/containers/NAME, keel's staging area
 *     root/   overlay: lowerdir = layers (leftmost on top), upperdir/workdir
 *             from `upper` (a directory, or tmpfs in STAGE), read-only without
 *     lower/N, upper/   with a user namespace: idmapped mounts of the layers
 *             and of the upper directory, which the overlay is made of
 *     files/  generated /etc/hosts, /etc/resolv.conf, /etc/hostname
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
 * Runs in the setup child only (but mount_warn_upper and mount_plan).  Contract: 0 / negative errno, err filled.
 */
#ifndef KEEL_MOUNT_H
#define KEEL_MOUNT_H

#include <stdio.h>

#include "keel/err.h"
#include "keel/manifest.h"

struct mount_inputs {
    const char *stage;        /* RUN_DIR/containers/NAME (exists) */
    const char *hosts;        /* content of /etc/hosts (NULL: default) */
    const char *resolv;       /* content of /etc/resolv.conf (NULL: leave the image's) */
    const char *hostname;     /* for /etc/hostname */
    bool cgroup_ns;           /* mount cgroup2 read-only at /sys/fs/cgroup */
    const char *notify_host;  /* a socket to bind at /dev/keel-notify, or NULL */
    int userns_fd;            /* the container's user namespace, or -1 */
    uid_t root_uid;           /* with userns_fd: the host ids of the container's root */
    gid_t root_gid;
};

/* Builds the root and pivots into it.  Masks use the /dev/null of keel's own
 * (host) tree, opened before pivoting and checked to be the 1:3 device.  On return the process's root and cwd are
 * the container's "/". */
int mount_container_root(const struct container_spec *c, const struct mount_inputs *in, struct kerr *err);

/* Opens `path` (absolute, inside the root `rootfd`) with RESOLVE_IN_ROOT; with
 * `create` = 'd' or 'f', missing components are made (directories, and the last
 * one as a directory or an empty file).  Returns an O_PATH fd or -errno. */
int mount_open_in_root(int rootfd, const char *path, char create, struct kerr *err);

/* The masked and read-only paths (NULL-terminated), for docs and plans. */
extern const char *const mount_masked_paths[];
extern const char *const mount_readonly_paths[];

/* keel itself, once at a container's first start: a warning on the console
 * when its upper directory is on a file system that honours setuid bits (or,
 * for a container with +MKNOD and no userns, device nodes): what the
 * container makes there is real on the host, reachable by root only (the
 * setup makes the directory root's, mode 0700). */
void mount_warn_upper(const struct container_spec *c);

/* keel check --plan: the mounts of a container. */
void mount_plan(const struct container_spec *c, FILE *out);

#endif
