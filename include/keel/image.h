/* image.h — the `.image` file that `keel import` writes and a manifest's
 * `image =` key reads (docs/images.md): what a container takes from an OCI or
 * Docker image — its layers (top first), Entrypoint, Cmd, Env, WorkingDir,
 * User, ExposedPorts and StopSignal.
 *
 * The format is INI (the manifest's syntax): an `[image]` header, then
 * `KEY = VALUE` lines; `#` starts a comment line.  Every value is written as
 * shell words (parse.h's split_words), so any byte but NUL and newline
 * round-trips; a single-valued key takes exactly one word.  Keys:
 *   name, digest, workdir, user, stop_signal     once
 *   layer, env, expose                           repeatable, in order
 *   entrypoint, cmd                              once, a list of words
 * A relative `layer` is relative to the directory of the .image file, so an
 * import directory can be moved whole.
 *
 * Pure: image_parse() reads a buffer, image_load() reads one file; nothing
 * else touches the system.  Errors: -EINVAL with "FILE:LINE: what is wrong"
 * in `err`, -ENOMEM, or -errno of reading the file.  The struct owns all it
 * points to; image_free() releases it (and may be called on a zeroed or
 * partly filled one).
 */
#ifndef KEEL_IMAGE_H
#define KEEL_IMAGE_H

#include <stddef.h>

#include "keel/err.h"

#define IMAGE_FILE_MAX (1024 * 1024)   /* bytes of a .image file */
#define IMAGE_LAYERS_MAX 128           /* the manifest's bound of `layers` */
#define IMAGE_SUFFIX ".image"

struct image {
    char *name;
    char *digest;        /* "sha256:HEX" of the image's manifest (or config), NULL when not recorded */
    char **layers;       /* top first; absolute after image_parse() (NULL when none) */
    char **entrypoint;   /* NULL: none */
    char **cmd;          /* NULL: none */
    char **env;          /* "NAME=VALUE", in the image's order */
    char **expose;       /* "PORT/PROTO" (informational) */
    char *workdir;       /* NULL: not set */
    char *user;          /* as the image says; NULL: not set */
    int stop_signal;     /* 0: not set */
};

/* Parses buf[0..len) (need not be NUL-terminated).  FILE names it in messages;
 * DIR (may be NULL: then relative layers are an error) resolves relative
 * `layer` values. */
int image_parse(const char *file, const char *dir, const char *buf, size_t len, struct image *img, struct kerr *err);
/* Reads and parses PATH (at most IMAGE_FILE_MAX bytes). */
int image_load(const char *path, struct image *img, struct kerr *err);
/* The text of IMG in the format above (layers written as given); heap,
 * caller frees; NULL on out of memory, or -EINVAL (errno) when a value holds
 * a newline or NUL that the format cannot carry. */
char *image_format(const struct image *img);
void image_free(struct image *img);

#endif
