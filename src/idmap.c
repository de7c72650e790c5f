/* idmap.c — the syntax of user namespace id maps, see idmap.h. */
#include "keel/idmap.h"
#include "keel/parse.h"
#include "keel/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 4294967294u     /* (uid_t)-1 is "no id" to the kernel */

#define why_fmt(why, ...) PARSE_FAIL(why, EINVAL, __VA_ARGS__)

static bool overlaps(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
    return (uint64_t)a < (uint64_t)b + nb && (uint64_t)b < (uint64_t)a + na;
}

/* INSIDE:HOST:COUNT */
static int parse_extent(const char *s, struct userns_extent *e, char *why)
{
    char buf[64];
    if (str_copy(buf, sizeof buf, s) < 0)
        return why_fmt(why, "'%.40s...' is not INSIDE:HOST:COUNT", s);
    char *f[3], *p = buf;
    size_t n = 0;
    for (char *t; n < 3 && (t = strsep(&p, ":")); )
        f[n++] = t;
    if (n != 3 || p)
        return why_fmt(why, "'%s' is not INSIDE:HOST:COUNT", s);
    uint64_t v[3];
    char inner[PARSE_WHY_MAX];
    for (size_t i = 0; i < 3; i++)
        if (parse_u64(f[i], i == 2 ? 1 : 0, i == 2 ? (uint64_t)ID_MAX + 1 : ID_MAX, &v[i], inner) < 0)
            return why_fmt(why, "'%s': %s %s", s, i == 0 ? "INSIDE" : i == 1 ? "HOST" : "COUNT", inner);
    if (v[0] + v[2] - 1 > ID_MAX || v[1] + v[2] - 1 > ID_MAX)
        return why_fmt(why, "'%s' runs past the largest id %u", s, ID_MAX);
    *e = (struct userns_extent){ (uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2] };
    return 0;
}

int idmap_parse(const char *s, enum userns_mode *mode, struct userns_extent **map_out, size_t *n_out, char *why)
{
    if (strcmp(s, "no") == 0 || strcmp(s, "none") == 0 || strcmp(s, "auto") == 0) {
        free(*map_out);
        *map_out = NULL;
        *n_out = 0;
        *mode = s[0] == 'a' ? USERNS_AUTO : USERNS_NO;
        return 0;
    }
    /* A word that is no map at all gets the whole syntax, a bad extent its own reason. */
    if (!*s || s[strspn(s, "0123456789:,")])
        return why_fmt(why, "'%s' is not no, auto or INSIDE:HOST:COUNT[,...]", s);
    struct userns_extent map[IDMAP_MAX_EXTENTS];
    size_t n = 0;
    _cleanup_free_ char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    char *p = copy;
    for (char *t; (t = strsep(&p, ",")); ) {
        if (n == IDMAP_MAX_EXTENTS)
            return why_fmt(why, "more than %d extents", IDMAP_MAX_EXTENTS);
        int r = parse_extent(t, &map[n], why);
        if (r < 0)
            return r;
        const struct userns_extent *e = &map[n];
        for (size_t i = 0; i < n; i++) {
            if (overlaps(e->inside, e->count, map[i].inside, map[i].count))
                return why_fmt(why, "container ids of '%s' overlap an earlier extent", t);
            if (overlaps(e->outside, e->count, map[i].outside, map[i].count))
                return why_fmt(why, "host ids of '%s' overlap an earlier extent", t);
        }
        if (e->outside == 0)
            return why_fmt(why, "'%s' maps the host's root (id 0) into the container", t);
        if (overlaps(e->outside, e->count, IDMAP_POOL_FIRST, IDMAP_POOL_SIZE))
            return why_fmt(why, "host ids of '%s' reach into %u..%u, the range kept for userns = auto", t,
                           IDMAP_POOL_FIRST, (IDMAP_POOL_FIRST + IDMAP_POOL_SIZE) - 1);
        n++;
    }
    uint32_t unused;
    if (idmap_to_host(map, n, 0, &unused) < 0)
        return why_fmt(why, "'%s' does not map container id 0 (the owner of the image's files)", s);
    struct userns_extent *m = malloc(n * sizeof *m);
    if (!m)
        return -ENOMEM;
    memcpy(m, map, n * sizeof *m);
    free(*map_out);
    *map_out = m;
    *n_out = n;
    *mode = USERNS_MAP;
    return 0;
}

int idmap_to_host(const struct userns_extent *map, size_t n, uint32_t inside, uint32_t *host)
{
    for (size_t i = 0; i < n; i++)
        if (inside >= map[i].inside && (uint64_t)inside < (uint64_t)map[i].inside + map[i].count) {
            *host = map[i].outside + (inside - map[i].inside);
            return 0;
        }
    return -ERANGE;
}

bool idmap_overlap(const struct userns_extent *a, size_t na, const struct userns_extent *b, size_t nb,
                   uint32_t *first)
{
    for (size_t i = 0; i < nb; i++) {
        const struct userns_extent *e = &b[i];
        for (size_t j = 0; j < na; j++) {
            const struct userns_extent *f = &a[j];
            if (overlaps(f->outside, f->count, e->outside, e->count)) {
                *first = f->outside > e->outside ? f->outside : e->outside;
                return true;
            }
        }
    }
    return false;
}
