/* volume.h — block devices found by what is on them, and the [volume]
 * sections mounted at boot.
 *
 * The scanner lists /sys/class/block (whole disks and partitions), skips
 * devices of size 0, opens each /dev/NAME O_RDONLY|O_CLOEXEC and hands its
 * first SUPERBLOCK_PROBE_BYTES to superblock_probe(): no udev, no libblkid.
 * A device that cannot be opened or read (an empty CD drive) is skipped.
 *
 * Devices may appear late at boot (a driver probing after its module was
 * loaded): a lookup by label or uuid scans again every 100 ms, a lookup by
 * path waits for the node, both for at most VOLUME_WAIT_MS, then fail with a
 * message that says what was found.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).  Boot mode
 * only (PID 1): `keel run` refuses manifests with volumes (daemon.c).
 */
#ifndef KEEL_VOLUME_H
#define KEEL_VOLUME_H

#include <stddef.h>

#include "keel/err.h"
#include "keel/manifest.h"
#include "keel/superblock.h"

#define VOLUME_WAIT_MS 10000

/* The first device whose file system has LABEL (or, with LABEL NULL, UUID):
 * its /dev path into PATH, what it holds into *INFO.  Waits up to WAIT_MS
 * (scanning every 100 ms; with WAIT_MS 0 one scan, plus up to 1 s for
 * devices the kernel lists whose /dev node is not there yet).  -ENOENT when none appeared; -EEXIST when two
 * devices carry it (keel never guesses which). */
int volume_find(const char *label, const char *uuid, unsigned wait_ms, char *path, size_t n,
                struct superblock_info *info, struct kerr *err);

/* Every [volume] of M, in order: found, formatted when `mkfs` says so and the
 * disk is empty, mounted at MANIFEST_VOLUMES_DIR/NAME (nosuid, nodev and the
 * volume's options).  Logs a line per volume and the stage line. */
int volume_mount_all(const struct manifest *m, struct kerr *err);

/* At shutdown, after every container stopped: each volume synced (syncfs)
 * and unmounted, retried for up to 2 s while busy, then detached lazily
 * (MNT_DETACH) with a warning; boot_final's sync and unmount follow. */
void volume_unmount_all(const struct manifest *m);

#endif
