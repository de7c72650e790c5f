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
#include <stddef.h>
#include <stdint.h>

#include "keel/err.h"
#include "keel/unpack.h"

#define IMPORT_MAX_BYTES_DEFAULT (16ULL << 30)    /* file data of all layers, --max-size */
#define IMPORT_MAX_ENTRIES_DEFAULT 1000000ULL     /* members of all layers, --max-entries */

/* The platform whose images this build runs, --platform's default: the
 * binaries of an image for another one cannot run on this machine. */
#if defined(__aarch64__)
#define IMPORT_PLATFORM_NATIVE "linux/arm64/v8"
#elif defined(__x86_64__)
#define IMPORT_PLATFORM_NATIVE "linux/amd64"
#else
/* (Not #error: cppcheck walks this configuration too.) */
_Static_assert(0, "which platform's images does this build run? (IMPORT_PLATFORM_NATIVE)");
#define IMPORT_PLATFORM_NATIVE "unknown/unknown"
#endif

/* An image's platform, as an index's entries and a config name it,
 * normalised as containerd does (platforms.Normalize): aarch64 is arm64,
 * x86_64 and x86-64 are amd64, and the baseline variants (arm64's v8 or 8,
 * amd64's v1) are none. */
#define IMPORT_PLATFORM_PART 32   /* bytes of each part, its NUL too */
struct import_platform {
    char os[IMPORT_PLATFORM_PART], arch[IMPORT_PLATFORM_PART], variant[IMPORT_PLATFORM_PART];   /* variant "": none */
};

/* "OS/ARCH[/VARIANT]" (letters, digits, '.', '_', '-' each) into *p,
 * normalised.  -EINVAL with err filled. */
int import_platform_parse(const char *s, struct import_platform *p, struct kerr *err);

struct import_opts {
    const char *source;
    const char *dest;
    const char *name;              /* NULL: from the image's tag, else its digest */
    bool erofs;                    /* also write DEST/layers/sha256-HEX.erofs and list those */
    struct import_platform platform;   /* the image's to take (IMPORT_PLATFORM_NATIVE, --platform) */
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

/* --- the plan: which blobs make the image --------------------------------------
 *
 * Pure over the documents it is given: an image's index.json (an OCI layout;
 * docker save of Docker 25 and later writes one too) or docker save's
 * manifest.json, the manifests and config they name.  The image's author
 * decides every byte of them (tests/fuzz/fuzz_importplan.c). */

struct import_layer {
    char *path;        /* member path of the blob, as the image names it (not checked here) */
    char hex[65];      /* its sha256, 64 lowercase hex digits */
    int64_t size;      /* -1: not declared (docker save) */
};

struct import_plan {
    struct import_layer *layers;   /* bottom first, as images list them; at most IMAGE_LAYERS_MAX */
    size_t n;
    char digest[65];               /* of the manifest (OCI) or the config (docker save) */
    char *ref;                     /* a tag for the default name, or NULL */
    struct json_value *config;     /* the image's config document */
};

/* How the plan readers get a document: the member at PATH parsed as JSON
 * into *out (the caller of read_json frees it), its sha256 checked against
 * WANT (hex, or NULL: index.json, manifest.json) and its length against
 * SIZE (-1: not declared).  0 / negative errno with err filled.  PATH is
 * as the image names it (docker save's Config and Layers are any text): the
 * reader, like the import's source, refuses an absolute path or '..'. */
struct import_docs {
    int (*read_json)(void *ctx, const char *path, const char *want, int64_t size, struct json_value **out,
                     struct kerr *err);
    void *ctx;
};

/* Fill *p (zeroed by the caller; import_plan_free() after either result)
 * from index.json and what it names, or from manifest.json (one image; a
 * legacy HEX/layer.tar checked against the config's DiffID).  From an index
 * the first manifest whose platform is WANT's, else the first that names no
 * platform (a single-image layout), else a refusal that lists the index's
 * platforms (as docker does: never another architecture's); one nested
 * index at most.  The config's os, architecture and variant, those it
 * names, must be WANT's too.  -EINVAL with err filled for a plan keel
 * refuses; read_json's errors as they come. */
int import_plan_oci(const struct import_docs *d, const struct import_platform *want, struct import_plan *p,
                    struct kerr *err);
int import_plan_docker(const struct import_docs *d, const struct import_platform *want, struct import_plan *p,
                       struct kerr *err);
void import_plan_free(struct import_plan *p);

/* "registry/org/app:1.2" -> "app-1.2"; ":latest" is left out; heap, the
 * caller frees.  NULL when the reference gives no usable name (letters,
 * digits, '_', '.', '-', at most 128, not starting with '.' or '-'). */
char *import_name_from_ref(const char *ref);

#endif
