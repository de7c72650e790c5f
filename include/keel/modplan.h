/* modplan.h — which kernel modules a boot loads before the first container's
 * start and which after it, in the background (issue 17; docs/boot.md).
 *
 * Under emulation a module costs ~100 ms, and a demo appliance lists twenty:
 * most of a boot.  Not all of them are needed before the first container
 * runs.  keel knows what some modules are for (the role table below) and
 * which container needs which role; a module it does not know (a network or
 * disk driver, a file system for the fstab, a watchdog driver) is always
 * loaded before: the [interface], fstab, [volume] and watchdog steps come
 * before any start, and a container may need a device keel cannot see.
 *
 * [system] modules_split = no (the default): everything the manifest lists,
 * and the image-file layers' modules, before the first start, as always.
 * modules_split = yes: before the first start only the unknown ones and those
 * the first container (or keel's own set-up before it) needs; the rest after
 * it, and every other container that needs one of them waits for them.
 *
 * Pure: the manifest and what the image layers need (layerimg, which reads
 * the files) come in; two lists and a flag per container go out.
 * Contract: 0 / -ENOMEM.  The plan owns its vectors (modplan_free).
 */
#ifndef KEEL_MODPLAN_H
#define KEEL_MODPLAN_H

#include <stdbool.h>

#include "keel/manifest.h"

enum modplan_role {
    MODROLE_OTHER,      /* not known to keel: before */
    MODROLE_ROOT,       /* overlay: every container's root */
    MODROLE_IMAGE,      /* loop, erofs, squashfs: a container with image-file layers */
    MODROLE_NETWORKS,   /* bridge and the nf_tables pieces of keel's table (nat chains, masq, ct,
                         * fib): made before any start when a container is on a bridge network */
    MODROLE_VETH,       /* veth: the start of a container on a bridge network */
    MODROLE_PORTS,      /* nft_nat: the start of a container publishing ports (its DNAT rules) */
    MODROLE_NO_START,   /* button, evdev, gpio_keys (the power button) and nf_conntrack_netlink
                         * (connections forgotten when an address is freed): no start needs them */
};

/* The role of a module name ('-' and '_' alike). */
enum modplan_role modplan_role(const char *name);

/* True for a module the boot loads at the `modules` step, before the fstab
 * and the volumes, even with modules_split: one keel does not know, or the
 * file system of an fstab entry or a [volume] (squashfs, overlay, ...). */
bool modplan_first_step(const struct manifest *m, const char *name);

struct modplan {
    char **before;      /* NULL-terminated (NULL when empty): loaded before the first start */
    char **after;       /* loaded after it, in the background */
    int first;          /* index in m->containers of the first container to start, -1 when none
                         * starts at once (all wait for something) */
    bool *held;         /* one per container: it needs a module of `after` and waits for them */
    bool button_after;  /* the power button's modules are in `after`: its watcher waits for them */
};

/* images[i] (or images NULL): the image modules container i's layers need
 * (layerimg_container_modules).  *p is zeroed first. */
int modplan_build(const struct manifest *m, char *const *const *images, struct modplan *p);
void modplan_free(struct modplan *p);

#endif
