/* user.h — resolving `user =` against the container's own /etc/passwd and
 * /etc/group (never NSS: the static binary must not load host modules, and
 * the right database is the image's, not the host's).
 *
 * Pure functions over the files' text: the image is untrusted input, so
 * lines are parsed strictly and bounded; a malformed line is skipped.
 */
#ifndef KEEL_USER_H
#define KEEL_USER_H

#include <stddef.h>
#include <sys/types.h>

#define USER_MAX_GROUPS 64

struct user_ids {
    uid_t uid;
    gid_t gid;
    gid_t groups[USER_MAX_GROUPS];   /* supplementary groups, from /etc/group */
    size_t n_groups;
    char home[256];                  /* "/" when unknown */
    char name[64];                   /* "" when the user was given as a number without a passwd entry */
};

/* spec: NULL (root), NAME, UID or UID:GID.  passwd/group: file contents or NULL
 * when the image has none.  Returns 0, -ENOENT (unknown name) or -EINVAL. */
int user_resolve(const char *spec, const char *passwd, const char *group, struct user_ids *out);

/* Finds the gid of group `name` in /etc/group text; -ENOENT when absent. */
int user_group_gid(const char *group, const char *name, gid_t *gid);

#endif
