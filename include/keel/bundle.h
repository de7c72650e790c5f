/* bundle.h — payload bundles: one file holding a manifest and its layers.
 *
 * A bundle is a POSIX ustar archive read by a small strict reader (no
 * libarchive: PID 1 reads bundles from a network client, so the reader is
 * the attack surface and must stay small enough to read in one sitting).
 * Its members, in this order:
 *
 *     index          text: "keel-bundle 1\n" then one line per member below,
 *                    "SHA256HEX SIZE NAME\n", in archive order
 *     index.sig      optional: the 64-byte detached Ed25519 signature of
 *                    the index's exact bytes
 *     manifest       the manifest; its layers are named
 *                    /run/keel/slot/layers/N.(erofs|squashfs), a path that
 *                    points into the slot it was installed in (BUNDLE_SLOT_LINK)
 *     layers/N.erofs one image file per layer (directories are packed with
 *                    mkfs.erofs at bundle time)
 *
 * Nothing else is accepted: no other member names, types, links, prefixes,
 * PAX headers, duplicates, or members missing from (or absent in) the index.
 * The reader is a push parser: it is fed bytes in chunks of any size and
 * never holds more than the index (BUNDLE_INDEX_MAX) and one tar header in
 * memory, so PID 1 can stream a bundle straight into a slot.
 */
#ifndef KEEL_BUNDLE_H
#define KEEL_BUNDLE_H

#include "keel/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUNDLE_MAGIC        "keel-bundle 1\n"
#define BUNDLE_INDEX_MAX    16384
#define BUNDLE_MAX_MEMBERS  130          /* the manifest and up to 129 layers */
#define BUNDLE_NAME_MAX     64
#define BUNDLE_SIG_BYTES    64
#define BUNDLE_PUBKEY_BYTES 32
#define BUNDLE_SLOT_LINK    "/run/keel/slot"

struct bundle_entry {
    char name[BUNDLE_NAME_MAX];
    uint64_t size;
    unsigned char sha256[32];
};

struct bundle_index {
    size_t n;
    struct bundle_entry e[BUNDLE_MAX_MEMBERS];
};

/* True when NAME is a member name a bundle may carry besides index and
 * index.sig: "manifest" or "layers/DIGITS.erofs|.squashfs". */
bool bundle_member_name_ok(const char *name);

/* Parses an index (exact bytes, not NUL-terminated).  0, or -EINVAL with
 * "index line N: what is wrong" in err.  Requires exactly one "manifest". */
int bundle_index_parse(const char *buf, size_t len, struct bundle_index *out, struct kerr *err);

/* The index's text; malloc'd, caller frees; NULL on ENOMEM. */
char *bundle_index_format(const struct bundle_index *ix);

const struct bundle_entry *bundle_index_find(const struct bundle_index *ix, const char *name);

/* Ed25519 detached-signature check of MSG against PUBKEY: 0 or -EBADMSG. */
int bundle_sig_verify(const unsigned char *sig, const unsigned char *msg, size_t len,
                      const unsigned char *pubkey, struct kerr *err);

/* Reads a public key file: 32 raw bytes or 64 hex digits (+ newline). */
int bundle_pubkey_load(const char *path, unsigned char key[BUNDLE_PUBKEY_BYTES], struct kerr *err);

/* --- streaming reader --------------------------------------------------- */

struct bundle_sink {
    /* A member listed in the index starts / has DATA / ended with its digest
     * verified.  Returning < 0 (with err filled) stops the reader. */
    int (*begin)(void *ctx, const struct bundle_entry *e, struct kerr *err);
    int (*data)(void *ctx, const void *buf, size_t n, struct kerr *err);
    int (*end)(void *ctx, const struct bundle_entry *e, struct kerr *err);
    void *ctx;
};

struct bundle_reader;

/* PUBKEY NULL: a signature is not required (one present is still checked
 * against nothing and ignored: it cannot be trusted without a key).
 * PUBKEY set: the index must be signed by it, checked before the first
 * member's data reaches the sink.  Returns NULL on ENOMEM. */
struct bundle_reader *bundle_reader_new(const unsigned char *pubkey, const struct bundle_sink *sink);
void bundle_reader_free(struct bundle_reader *r);

/* Feeds N bytes.  0 or negative errno with err filled; after an error the
 * reader refuses everything. */
int bundle_reader_feed(struct bundle_reader *r, const void *buf, size_t n, struct kerr *err);

/* The stream ended: 0 when the archive was complete (every index member
 * read and verified, end-of-archive blocks seen), else -EBADMSG. */
int bundle_reader_finish(struct bundle_reader *r, struct kerr *err);

/* The index, once read (NULL before). */
const struct bundle_index *bundle_reader_index(const struct bundle_reader *r);

/* --- writing (keel bundle) ---------------------------------------------- */

/* Writes a bundle to OUT from MANIFEST: every layer of every container is
 * packed (directories with mkfs.erofs, image files as they are), the
 * manifest's layer paths are rewritten under BUNDLE_SLOT_LINK, and the
 * index is signed with the Ed25519 private key file KEY when not NULL
 * (64 raw bytes or 128 hex digits: libsodium's secret key, seed + public). */
int bundle_write(const char *manifest, const char *out, const char *key, struct kerr *err);

/* Writes a new Ed25519 key pair as hex: PREFIX.key (secret, mode 0600,
 * refused if it exists) and PREFIX.pub. */
int bundle_keygen(const char *prefix, struct kerr *err);

#endif
