/* Unit tests of caps.c: names, the default set, +/- changes. */
#include "keel/caps.h"
#include "unit.h"

#include <errno.h>
#include <linux/capability.h>

#define B(c) (1ull << (c))

TEST(default_set)
{
    uint64_t d = caps_default();
    CHECK_INT(__builtin_popcountll(d), 12);
    CHECK(d == 0xa00405fbull);
    CHECK(!(d & B(CAP_NET_RAW)));
    CHECK(!(d & B(CAP_MKNOD)));
    CHECK(!(d & B(CAP_SYS_ADMIN)));
}

TEST(names)
{
    int c;
    CHECK_INT(caps_from_name("CAP_NET_RAW", &c), 0);
    CHECK_INT(c, CAP_NET_RAW);
    CHECK_INT(caps_from_name("net_raw", &c), 0);
    CHECK_INT(c, CAP_NET_RAW);
    CHECK_INT(caps_from_name("Cap_Sys_Admin", &c), 0);
    CHECK_INT(c, CAP_SYS_ADMIN);
    CHECK_INT(caps_from_name("CAP_FLY", &c), -EINVAL);
    CHECK_INT(caps_from_name("12", &c), -EINVAL);
    CHECK_INT(caps_from_name("", &c), -EINVAL);
}

TEST(changes)
{
    char why[CAPS_WHY_MAX];
    uint64_t s = caps_default();
    CHECK_INT(caps_parse("+CAP_NET_RAW -CAP_SETFCAP", &s, why), 0);
    CHECK(s == ((caps_default() | B(CAP_NET_RAW)) & ~B(CAP_SETFCAP)));
    s = caps_default();
    CHECK_INT(caps_parse("none", &s, why), 0);
    CHECK(s == 0);
    s = caps_default();
    CHECK_INT(caps_parse("all -SYS_ADMIN", &s, why), 0);
    CHECK(s == (caps_all() & ~B(CAP_SYS_ADMIN)));
    s = caps_default();
    CHECK_INT(caps_parse("CHOWN, KILL", &s, why), 0);
    CHECK(s == (B(CAP_CHOWN) | B(CAP_KILL)));
    s = caps_default();
    CHECK_INT(caps_parse("+CHOWN KILL", &s, why), -EINVAL);
    CHECK_INT(caps_parse("-none", &s, why), -EINVAL);
    CHECK_INT(caps_parse("KILL none", &s, why), -EINVAL);
    CHECK_INT(caps_parse("", &s, why), -EINVAL);
    CHECK(s == caps_default());   /* unchanged on error */
}

TEST(format)
{
    char buf[256];
    CHECK_STR(caps_format(B(CAP_CHOWN) | B(CAP_KILL), buf, sizeof buf), "CHOWN KILL");
    CHECK_STR(caps_format(0, buf, sizeof buf), "none");
}

int main(void)
{
    RUN(default_set);
    RUN(names);
    RUN(changes);
    RUN(format);
    return unit_done();
}
