/* Unit tests of user.c: resolving users from an image's own files. */
#include "keel/user.h"
#include "unit.h"

#include <errno.h>

static const char passwd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "broken line without fields\n"
    "www:x:33:34:www:/var/www:/bin/false\n"
    "evil:x:-1:0::/:\n"
    "nohome:x:40:40::relative:/bin/sh\n";
static const char group[] =
    "root:x:0:\n"
    "www:x:34:\n"
    "staff:x:50:www,other\n"
    "audio:x:29:www\n"
    "dup:x:50:www\n";

TEST(by_name)
{
    struct user_ids u;
    CHECK_INT(user_resolve("www", passwd, group, &u), 0);
    CHECK_INT(u.uid, 33);
    CHECK_INT(u.gid, 34);
    CHECK_STR(u.home, "/var/www");
    CHECK_INT(u.n_groups, 2);   /* staff and audio; 50 listed twice counts once */
    CHECK_INT(u.groups[0], 50);
    CHECK_INT(u.groups[1], 29);
    CHECK_INT(user_resolve("nobody", passwd, group, &u), -ENOENT);
    CHECK_INT(user_resolve("evil", passwd, group, &u), -ENOENT);   /* malformed entry skipped */
    CHECK_INT(user_resolve("nohome", passwd, group, &u), 0);
    CHECK_STR(u.home, "/");
}

TEST(by_number)
{
    struct user_ids u;
    CHECK_INT(user_resolve("1", passwd, group, &u), 0);
    CHECK_INT(u.uid, 1);    /* uid 1 is uid 1, never 0 */
    CHECK_INT(u.gid, 1);
    CHECK_INT(user_resolve("33", passwd, group, &u), 0);
    CHECK_INT(u.gid, 34);
    CHECK_INT(user_resolve("1000:2000", passwd, group, &u), 0);
    CHECK_INT(u.uid, 1000);
    CHECK_INT(u.gid, 2000);
    CHECK_INT(user_resolve("1:", passwd, group, &u), -EINVAL);
    CHECK_INT(user_resolve(":1", passwd, group, &u), -EINVAL);
    CHECK_INT(user_resolve("4294967295", passwd, group, &u), -EINVAL);
    CHECK_INT(user_resolve(NULL, passwd, group, &u), 0);
    CHECK_INT(u.uid, 0);
    CHECK_STR(u.home, "/root");
    CHECK_INT(user_resolve("www", NULL, NULL, &u), -ENOENT);
    CHECK_INT(user_resolve("7", NULL, NULL, &u), 0);
    CHECK_INT(u.uid, 7);
}

TEST(group_lookup)
{
    gid_t g;
    CHECK_INT(user_group_gid(group, "staff", &g), 0);
    CHECK_INT(g, 50);
    CHECK_INT(user_group_gid(group, "nope", &g), -ENOENT);
}

/* control_group is resolved with the same function (control.c). */
TEST(group_file)
{
    const char *g = "root:x:0:\nwheel:x:10:root\nkeel:x:990:alice,bob\nbad:x:zz:\nnonl:x:77:";
    gid_t gid = 1;
    CHECK_INT(user_group_gid(g, "keel", &gid), 0);
    CHECK_INT(gid, 990);
    CHECK_INT(user_group_gid(g, "root", &gid), 0);
    CHECK_INT(gid, 0);
    CHECK_INT(user_group_gid(g, "nonl", &gid), 0);
    CHECK_INT(gid, 77);
    CHECK_INT(user_group_gid(g, "kee", &gid), -ENOENT);
    CHECK_INT(user_group_gid(g, "alice", &gid), -ENOENT);
    CHECK(user_group_gid(g, "bad", &gid) < 0);
    CHECK_INT(user_group_gid("", "x", &gid), -ENOENT);
}

int main(void)
{
    RUN(by_name);
    RUN(by_number);
    RUN(group_lookup);
    RUN(group_file);
    return unit_done();
}
