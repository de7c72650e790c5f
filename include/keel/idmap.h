/* idmap.h — the syntax of a user namespace's id map, the manifest's
 * `userns = no | auto | INSIDE:HOST:COUNT[,...]`, and pure questions about
 * maps.  Making the namespace is userns.h's (an executor); this module is
 * below the manifest and touches nothing.
 *
 * An explicit map is the same for uids and gids: at most IDMAP_MAX_EXTENTS
 * extents, container and host ranges that do not overlap each other, no
 * extent mapping the host's root, none reaching into the pool of host ids
 * kept for `userns = auto` (IDMAP_POOL_FIRST..), and container id 0 mapped
 * (the owner of the image's files).
 *
 * Contract: 0 / -EINVAL with the reason in `why` (PARSE_WHY_MAX bytes) /
 * -ENOMEM.
 */
#ifndef KEEL_IDMAP_H
#define KEEL_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum userns_mode { USERNS_NO, USERNS_AUTO, USERNS_MAP };

/* One line of a user namespace's id map: container ids INSIDE.. are host ids
 * OUTSIDE.. (COUNT of them); the same map serves uids and gids. */
struct userns_extent {
    uint32_t inside, outside, count;
};

#define IDMAP_MAX_EXTENTS 100                    /* keeps a map under the kernel's one-page write */
#define IDMAP_POOL_FIRST 524288u                 /* 0x80000, as systemd-nspawn's pool */
#define IDMAP_POOL_SIZE (1024u * 65536u)         /* userns = auto: 1024 ranges of 65536 ids */

/* `s` into *mode and, for an explicit map, *map (heap, replacing and freeing
 * what was there; NULL for no and auto) and *n.  On failure nothing changes. */
int idmap_parse(const char *s, enum userns_mode *mode, struct userns_extent **map, size_t *n, char *why);

/* The host id of container id `inside`; -ERANGE when the map lacks it. */
int idmap_to_host(const struct userns_extent *map, size_t n, uint32_t inside, uint32_t *host);

/* Whether two maps share a host id (*first: the lowest shared id of the first
 * overlapping pair of extents). */
bool idmap_overlap(const struct userns_extent *a, size_t na, const struct userns_extent *b, size_t nb,
                   uint32_t *first);

#endif
