/* floor-iso.h — what a default keel container gets (docs/security.md,
 * "Defaults of every container"), done the way a careful hand-written program
 * would, with as few system calls as it takes: the one copy of that code for
 * the two floors that give it, `floor -i` (floor.c, the start benchmark) and
 * the isolated boot floor (floor-init.c with isolate=1 in its /floor.conf).
 *
 * The steps, in a child cloned into new namespaces, in this order:
 *   iso_session   umask 0, a session of its own, the host name
 *   iso_stage     on the stage tmpfs: the /etc files and the init layer (the
 *                 mount points, to go on top of the layers; INIT gets its path)
 *   iso_root      in the new root, the working directory, before the pivot:
 *                 /proc with keel's read-only paths and masks, keel's /dev,
 *                 the /etc files bound read-only
 *   iso_process   after the pivot: sysfs and cgroup2 read-only, the /sys
 *                 masks, RLIMIT_NOFILE, keel's default capabilities,
 *                 no_new_privs, every fd above 2 closed
 * No seccomp filter here: the start benchmark's manifests are `seccomp =
 * unconfined`; the boot floor installs keel's default program itself.
 *
 * Each step calls the program's own die() on an error. */
#ifndef FLOOR_ISO_H
#define FLOOR_ISO_H

#include <stdbool.h>

__attribute__((noreturn)) void die(const char *what);

void iso_session(const char *hostname);
/* resolv: /etc/resolv.conf too (it is last in each list; keel gives none at
 * boot without an uplink). */
void iso_stage(const char *stage, const char *hostname, bool resolv, char init[4096]);
void iso_root(const char *stage, bool resolv);
void iso_process(void);

#endif
