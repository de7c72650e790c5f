/* userns.h — a user namespace per container: the id map (the manifest's
 * `userns`), a private range of host ids for `userns = auto`, and the
 * namespace itself, which keel makes before the container's process.
 *
 * How keel uses it (container.c, mount.c): the setup child builds every
 * namespace and the root as real root, with the layers mounted through
 * idmapped mounts of this namespace, and joins the user namespace last, just
 * before it drops capabilities.  The container's root is then an unprivileged
 * host id that owns the container's files and processes and nothing else: its
 * mount, network, UTS, IPC, PID and cgroup namespaces stay owned by keel's
 * (the initial) user namespace, so no capability held inside gives power over
 * them.  The same map is used for uids and gids.
 *
 * `userns = auto`: 65536 ids, container id 0 at host id
 * USERNS_POOL_FIRST + slot * 65536, for the lowest free slot.  A slot is held
 * by an flock on USERNS_LOCK_DIR/SLOT for as long as keel keeps the namespace,
 * so keel instances sharing /run never hand out the same range, and a range is
 * free again the moment the keel holding it is gone.  A slot is free only if,
 * besides, no other user namespace with a process in it (every
 * /proc/PID/uid_map and gid_map keel can see) maps any of its ids: keels
 * with a /run of their own, and other tools, are seen there.  A holder
 * process (the child the namespace was made with, waiting on a pipe) keeps
 * each of keel's namespaces visible there while keel keeps it, and is reaped
 * when keel drops it: left to another reaper, one that never reaps (a
 * script's PID 1) kept it a zombie whose map still counted as in use, so
 * every `keel run` took a new slot and looked through more.  Explicit maps
 * may not reach into the pool, nor overlap another container's explicit map
 * (manifest.c asks idmap_overlap); one that overlaps a namespace in
 * use elsewhere is warned about at start.
 *
 * Contract: the map's syntax is idmap.h's; userns_to_host and the other
 * pure helpers touch nothing.  The rest returns 0 / negative errno with `err` filled.
 */
#ifndef KEEL_USERNS_H
#define KEEL_USERNS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "keel/err.h"
#include "keel/idmap.h"
#include "keel/manifest.h"

/* The pool and the extent limit are the map syntax's (idmap.h). */
#define USERNS_AUTO_SIZE 65536u
#define USERNS_POOL_SLOTS (IDMAP_POOL_SIZE / USERNS_AUTO_SIZE)
#define USERNS_POOL_FIRST IDMAP_POOL_FIRST
#define USERNS_POOL_END (IDMAP_POOL_FIRST + IDMAP_POOL_SIZE)
#define USERNS_MAX_EXTENTS IDMAP_MAX_EXTENTS
#define USERNS_LOCK_DIR "/run/keel-userns"
#define USERNS_PROC_MAX_EXTENTS 340               /* the kernel's limit of a map */

/* The host id of container id `inside`; -ERANGE when the map lacks it
 * (idmap_to_host, for the callers of this module). */
int userns_to_host(const struct userns_extent *map, size_t n, uint32_t inside, uint32_t *host);

/* Pure: the text of /proc/PID/uid_map or gid_map ("INSIDE OUTSIDE COUNT"
 * lines, blanks between) into out[max]; -EINVAL for a malformed line (also a
 * count of 0 or a range past 2^32), -E2BIG for more than max extents. */
int userns_parse_proc_map(const char *buf, struct userns_extent *out, size_t max, size_t *n);
/* Pure: whether host ids first..first+count-1 meet the host side (outside)
 * of any extent of map. */
bool userns_map_overlaps(const struct userns_extent *map, size_t n, uint32_t first, uint32_t count);

/* Pure: whether ids first..first+count-1 are all on the inside of map (the
 * ids a namespace made by keel may name as host ids). */
bool userns_range_mapped(const struct userns_extent *map, size_t n, uint32_t first, uint32_t count);
/* Whether c's user namespace can be made here: the host ids its map names
 * (userns = auto: the pool, USERNS_POOL_FIRST..END-1; an explicit map: each
 * extent's HOST range) must be mapped in keel's own uid_map and gid_map,
 * which they are in the initial namespace and may not be under `unshare
 * --user` (--map-root-user maps one id), where the map's write would fail
 * with a bare EPERM.  0 (also for userns = no), or -EPERM with err saying
 * what keel's map holds. */
int userns_possible(const struct container_spec *c, struct kerr *err);

/* Whether keel itself runs in a user namespace other than the initial one
 * (/proc/self/ns/user is not the initial namespace's fixed inode, also when
 * its map is the full "0 0 4294967295"), e.g. under `unshare --user`: then
 * the kernel lets it mount sysfs or proc only where one is already in full
 * sight in its mount namespace (setup.c).  Read once. */
bool userns_keel_nested(void);

/* Whether keel runs without root over /run: not root, or root of a user
 * namespace other than the initial one that may not write /run (`unshare
 * --user --map-root-user`, where /run's owner is not mapped).  Root of the
 * initial namespace never is; root of a container's user namespace with a
 * /run of its own is not either.  keel's default paths then lie under
 * userns_runtime_dir instead of /run (docs/architecture.md, Files at
 * run time). */
bool userns_rootless(void);
/* $XDG_RUNTIME_DIR into *dir when it is an absolute path of a directory (no
 * symlink) of keel's effective uid that no one else may enter (mode 0700,
 * as systemd's /run/user/UID); else -errno with err saying why. */
int userns_runtime_dir(const char **dir, struct kerr *err);

/* Whether setgroups(2) is denied in keel's user namespace (its
 * /proc/self/setgroups says "deny", as `unshare --map-root-user` writes it
 * to map a gid unprivileged).  The namespaces keel makes for containers are
 * its children and inherit the setting (keel writes only their uid_map and
 * gid_map), so it holds wherever a setup child sets its groups.  Read once,
 * and only when keel is nested: false in the initial namespace.  When it
 * is denied, keel's gid_map is read too (userns_keel_gid_mapped), so that a
 * setup child forked after this call reads neither. */
bool userns_keel_setgroups_denied(void);
/* Whether keel's user namespace maps `gid` (its /proc/self/gid_map, read
 * once; unreadable: every gid counts as mapped). */
bool userns_keel_gid_mapped(gid_t gid);

struct userns {
    int fd;                       /* the namespace; -1 when none */
    int lock_fd;                  /* auto: the claimed slot's lock; -1 otherwise */
    int hold_fd;                  /* write end of the holder's pipe; -1 when none */
    pid_t holder;                 /* the holder process; 0 when none */
    int holder_pidfd;             /* its pidfd: userns_close kills and reaps it; -1 when none */
    struct userns_extent *map;    /* the map in force (auto: one extent) */
    size_t n;
};
#define USERNS_INIT { .fd = -1, .lock_fd = -1, .hold_fd = -1, .holder_pidfd = -1 }

/* Makes the namespace of `c` (claiming a slot for auto) unless u->fd is
 * already open: the same namespace serves every restart of the container. */
int userns_open(struct userns *u, const struct container_spec *c, struct kerr *err);
void userns_close(struct userns *u);

/* keel check --plan: "  userns: ..." */
void userns_plan(const struct container_spec *c, FILE *out);

#endif
