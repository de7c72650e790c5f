/* layerimg.h — image files as container layers: an erofs or squashfs file
 * named in `layers =` is attached to a loop device and mounted once under
 * keel's run directory; every container that names the same file (the same
 * device and inode, whatever the path) shares that mount.
 *
 *   RUN_DIR/images/DEV-INO    the image's mount: read-only, nodev, nosuid
 *
 * Attaching: the file is opened once (O_RDONLY, O_CLOEXEC), its superblock
 * identified on that fd (fsmagic.h: a file of any other kind is refused by
 * name), and that same fd is handed to LOOP_CONFIGURE on a device from
 * LOOP_CTL_GET_FREE (retried when another process takes the device in
 * between: EBUSY) with LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR, and
 * LO_FLAGS_DIRECT_IO where the backing file system allows it (else without,
 * said in the debug log).  The file system type given to mount(2) is the one
 * the magic named, never guessed by the kernel.  keel closes the loop
 * device's fd (O_CLOEXEC) as soon as the image is mounted, before any
 * container is cloned: the mount alone holds the device, and AUTOCLEAR
 * detaches it when the last mount of it is gone.
 *
 * Why nodev,nosuid: the mount is in keel's own mount namespace, under a run
 * directory only root reaches (0700); nothing of an image should be a device
 * or a setuid program there.  Inside containers, setuid bits and device
 * nodes of images are what they are in directory layers: the overlay root
 * decides (mount.h: nodev, nosuid), so an image changes nothing for them.
 *
 * Counting: layerimg_acquire() gives a container's run one user of each of
 * its images; layerimg_release() takes them back, and an image without users
 * is unmounted (its loop device then detaches by itself once no container's
 * mount namespace holds the file system any more).  layerimg_set_free()
 * unmounts whatever is left (keel's shutdown, keel run's exit).
 *
 * Contract: 0 / negative errno, err filled (err.h).  Not thread-safe (keel
 * has one thread).
 */
#ifndef KEEL_LAYERIMG_H
#define KEEL_LAYERIMG_H

#include <stdio.h>

#include "keel/err.h"
#include "keel/manifest.h"

struct layerimg_set;

/* The images of one daemon, mounted under RUN_DIR/images (made 0700; mounts
 * a crashed keel left there are detached first).  Caller frees. */
int layerimg_set_new(const char *run_dir, struct layerimg_set **out, struct kerr *err);
/* Unmounts every image still mounted and frees the set.  NULL is allowed. */
void layerimg_set_free(struct layerimg_set *s);

/* The lower directories of a container's overlay for LAYERS (the manifest's
 * list, top first): a directory stays as it is, an image file becomes the
 * directory it is mounted at (attached and mounted now, or shared), each
 * image once more in use.  *LOWERS is a heap vector in the same order
 * (strv_free); on failure nothing is held and err names the layer. */
int layerimg_acquire(struct layerimg_set *s, char *const *layers, char ***lowers, struct kerr *err);
/* Gives back what layerimg_acquire() returned as LOWERS (the vector stays
 * the caller's): an image no container uses any more is unmounted. */
void layerimg_release(struct layerimg_set *s, char *const *lowers);

/* How many images are mounted now (for tests and status). */
size_t layerimg_count(const struct layerimg_set *s);

/* The kernel modules the manifest's image layers need at boot: "loop" and
 * "erofs" and/or "squashfs", for the files that exist now (layers on an
 * fstab disk must be mounted first).  Appended to *names (strv_free); 0, or
 * -ENOMEM. */
int layerimg_modules(const struct manifest *m, char ***names);
/* The same for one container (modplan.h: who needs which module). */
int layerimg_container_modules(const struct container_spec *c, char ***names);

/* keel check --plan: one line for each layer of C that is an image file. */
void layerimg_plan(const struct container_spec *c, FILE *out);

#endif
