/* import.h — `keel import`: an OCI image layout, an OCI archive (a tar of a
 * layout) or `docker save` output turned into layers and a .image file
 * (docs/images.md).
 *
 * Client side only: runs as the invoking user, never in the daemon, and may
 * fork (mkfs.erofs for --erofs).  Every blob's sha256 is checked against its
 * digest (the layer's while it is extracted, from the same bytes); a layer
 * is extracted into DEST/layers/.tmp-* and renamed to its final name
 * DEST/layers/sha256-HEX (HEX: the digest of the layer blob as stored) only
 * once complete and verified, so a final name always holds a whole layer and
 * an existing one is reused, never rewritten.  Nothing is written outside
 * DEST.  Contract: 0 / negative errno with `err` filled.
 */
#ifndef KEEL_IMPORT_H
#define KEEL_IMPORT_H

#include <stdbool.h>

#include "keel/err.h"
#include "keel/unpack.h"

#define IMPORT_MAX_BYTES_DEFAULT (16ULL << 30)    /* file data of all layers, --max-size */
#define IMPORT_MAX_ENTRIES_DEFAULT 1000000ULL     /* members of all layers, --max-entries */

struct import_opts {
    const char *source;
    const char *dest;
    const char *name;              /* NULL: from the image's tag, else its digest */
    bool erofs;                    /* also write DEST/layers/sha256-HEX.erofs and list those */
    struct unpack_limits limits;
};

/* Imports; on success *image_path (heap, caller frees) is DEST/NAME.image. */
int import_run(const struct import_opts *o, char **image_path, struct kerr *err);

struct image;
struct json_value;
/* Pure: fills img's entrypoint, cmd, env, workdir, user, expose and
 * stop_signal from an image config document (its "config" object; absent
 * or null: nothing).  Every value it accepts is one the .image file can
 * carry (image_format): one line, no NUL.  -EINVAL with err filled for a
 * value of the wrong type or form; what was filled before stays for
 * image_free(). */
int import_read_config(const struct json_value *root, struct image *img, struct kerr *err);

#endif
