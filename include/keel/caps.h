/* caps.h — capability sets: parsing the manifest's `capabilities` value and
 * applying the final sets in a container's setup child through libcap.
 *
 * A set is a uint64_t bit mask indexed by capability number.  The default is
 * Docker's default set without CAP_MKNOD and CAP_NET_RAW (12 capabilities).
 * Unknown names are errors: keel fails closed where runc drops them silently.
 */
#ifndef KEEL_CAPS_H
#define KEEL_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/capability.h>
#include <sys/types.h>

#include "keel/err.h"

#define CAPS_WHY_MAX 160

/* The default set (above): what a container gets without `capabilities`. */
uint64_t caps_default(void);
/* Every capability the headers keel was built with know (CAP_LAST_CAP). */
uint64_t caps_all(void);

/* One capability name ("CAP_NET_RAW", "net_raw", any case) -> number; -EINVAL. */
int caps_from_name(const char *name, int *cap);
/* Applies `spec` to *set: "none" | "all" | [+|-]NAME ..., see docs/manifest.md.
 * With no sign on any name the list is the exact set.  0 / -EINVAL (why filled). */
int caps_parse(const char *spec, uint64_t *set, char *why);
/* "CHOWN DAC_OVERRIDE ..." into buf (for plans and status); returns buf. */
char *caps_format(uint64_t set, char *buf, size_t n);

/* Raises every permitted capability into the effective set (after a
 * setfsuid() that dropped the file capabilities).  0 / negative errno. */
int caps_raise_effective(struct kerr *err);

/* keel's bounding set, read once per process (/proc/self/status CapBnd,
 * else a prctl per capability) and
 * cached: call it in keel before forking a setup child, whose copy then
 * needs no reads. */
uint64_t caps_bounding(void);
/* The same, taken from `status` (a /proc/self/status text read by the
 * caller for other fields too) when not cached yet; NULL: read it. */
uint64_t caps_bounding_from(const char *status);

/* Drops from the bounding set every capability of BOUNDING (the process's
 * bounding set) not in KEEP: one PR_CAPBSET_DROP each (CAP_SETPCAP needed).
 * The capabilities held are unchanged: only what an execve could gain.  The
 * setup child does it before the hand-over where it can (SETUP_BOUNDING). */
int caps_drop_bounding(uint64_t keep, uint64_t bounding, struct kerr *err);
/* The capabilities that let a process read a file its mode does not: none
 * of them is effective when keel's processes exec the execute-only exec stub,
 * which is then non-dumpable (stub.h). */
#define CAPS_READ_OVERRIDE ((UINT64_C(1) << CAP_DAC_OVERRIDE) | (UINT64_C(1) << CAP_DAC_READ_SEARCH))

/* In the container's setup child, after the mounts: keeps `set` as bounding
 * and permitted set, `ambient` (within `set`) as inheritable and ambient, and
 * switches to uid/gid/groups on the way (keeping capabilities across setuid).
 * The effective set is `set` less CAPS_READ_OVERRIDE until the execve, which
 * computes the command's from the others (root: the bounding set; another
 * user: the ambient set), so the command gets exactly what it got before.
 * `set` is cut to `bounding`, the child's bounding set: caps_bounding(), or
 * every bit after joining a user namespace (the kernel gives a full one
 * there).  `groups` NULL: the supplementary groups are left as they are
 * (setgroups denied).  0 / negative errno with err filled. */
int caps_apply(uint64_t set, uint64_t ambient, uint64_t bounding, uid_t uid, gid_t gid, const gid_t *groups,
               size_t n_groups, struct kerr *err);

/* After caps_apply: the effective set becomes the permitted set less DROP
 * (0: all of it), in a capget and a capset.  0 / negative errno. */
int caps_effective(uint64_t drop, struct kerr *err);

#endif
