/* fuzz_user.c — user resolution against an image's /etc/passwd and
 * /etc/group, which are untrusted (the image may be anyone's).
 *
 * Input: the first line is the `user =` spec (a line "-" means NULL: root),
 * then the passwd text up to a line "%%", then the group text (absent
 * without "%%": the image has no /etc/group).
 *
 * Invariants beyond "no crash, no leak": on success, a numeric spec gives
 * exactly that uid (and gid for UID:GID: crun CVE-2026-30892 was a uid
 * read as 0); name and home are NUL-terminated, home is absolute;
 * supplementary groups are at most USER_MAX_GROUPS, without duplicates and
 * without the primary gid.  Failures are -ENOENT or -EINVAL.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdbool.h>

#include "keel/parse.h"
#include "keel/user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec, *passwd, *group = NULL;
    fuzz_cut(&data, &size, "\n", &spec);
    bool have_group = memmem(data, size, "\n%%\n", 4) != NULL || (size >= 3 && memcmp(data, "%%\n", 3) == 0);
    if (size >= 3 && memcmp(data, "%%\n", 3) == 0) {
        passwd = fuzz_str(data, 0);
        data += 3, size -= 3;
    } else {
        fuzz_cut(&data, &size, "\n%%\n", &passwd);
    }
    if (have_group)
        group = fuzz_str(data, size);
    const char *sp = strcmp(spec, "-") == 0 ? NULL : spec;

    struct user_ids u;
    memset(&u, 0xa5, sizeof u);   /* user_resolve must set every field it reports */
    int r = user_resolve(sp, passwd, group, &u);
    if (r < 0) {
        FUZZ_ASSERT(r == -ENOENT || r == -EINVAL);
    } else {
        FUZZ_ASSERT(r == 0);
        FUZZ_ASSERT(memchr(u.name, '\0', sizeof u.name) != NULL);
        FUZZ_ASSERT(memchr(u.home, '\0', sizeof u.home) != NULL);
        FUZZ_ASSERT(u.home[0] == '/');
        FUZZ_ASSERT(u.n_groups <= USER_MAX_GROUPS);
        for (size_t i = 0; i < u.n_groups; i++) {
            FUZZ_ASSERT(u.groups[i] != u.gid);
            for (size_t j = 0; j < i; j++)
                FUZZ_ASSERT(u.groups[i] != u.groups[j]);
        }
        if (!sp) {
            FUZZ_ASSERT(u.uid == 0 && u.gid == 0);
        } else if (strchr(sp, ':')) {
            /* UID:GID, both strictly numeric. */
            char *colon = strchr(sp, ':');
            *colon = '\0';
            uint32_t uid, gid;
            FUZZ_ASSERT(parse_id(sp, &uid, NULL) == 0 && parse_id(colon + 1, &gid, NULL) == 0);
            FUZZ_ASSERT(u.uid == uid && u.gid == gid);
        } else if (sp[0] >= '0' && sp[0] <= '9') {
            uint32_t uid;
            FUZZ_ASSERT(parse_id(sp, &uid, NULL) == 0);
            FUZZ_ASSERT(u.uid == uid);
        } else {
            /* A name resolves only through a passwd entry of that name. */
            FUZZ_ASSERT(strcmp(u.name, sp) == 0 || strlen(sp) >= sizeof u.name);
        }
    }

    gid_t gid;
    r = user_group_gid(group, spec, &gid);
    FUZZ_ASSERT(r == 0 || r == -ENOENT);
    if (r == 0)
        FUZZ_ASSERT(gid != (gid_t)-1);

    free(spec);
    free(passwd);
    free(group);
    return 0;
}
