/* test_userns.c — `userns =` parsing, id translation, the plan line, and
 * (as root) a namespace made with its maps and the auto pool's slots. */
#include "keel/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static int parse(const char *s, struct container_spec *c, char *why)
{
    memset(c, 0, sizeof *c);
    why[0] = '\0';
    return userns_parse(s, c, why);
}

TEST(parse_good)
{
    struct container_spec c;
    char why[PARSE_WHY_MAX];
    CHECK_INT(parse("no", &c, why), 0);
    CHECK_INT(c.userns, USERNS_NO);
    CHECK_INT(parse("auto", &c, why), 0);
    CHECK_INT(c.userns, USERNS_AUTO);
    CHECK_INT(parse("0:100000:65536", &c, why), 0);
    CHECK_INT(c.userns, USERNS_MAP);
    CHECK_INT(c.n_userns_map, 1);
    CHECK(c.userns_map[0].inside == 0 && c.userns_map[0].outside == 100000 && c.userns_map[0].count == 65536);
    /* A later value replaces the earlier one (the manifest refuses the
     * repeated key itself). */
    CHECK_INT(userns_parse("0:100000:1000,1000:300000:64536", &c, why), 0);
    CHECK_INT(c.n_userns_map, 2);
    CHECK(c.userns_map[1].inside == 1000 && c.userns_map[1].outside == 300000 && c.userns_map[1].count == 64536);
    CHECK_INT(userns_parse("auto", &c, why), 0);
    CHECK(c.userns == USERNS_AUTO && c.userns_map == NULL && c.n_userns_map == 0);
    /* The largest id is 4294967294: a range may end on it, not past it. */
    CHECK_INT(parse("0:4294967294:1", &c, why), 0);
    free(c.userns_map);
    CHECK_INT(parse("0:67633152:4227334143", &c, why), 0);   /* from just past the pool to the top */
    free(c.userns_map);
}

#define BAD(s, text) do { \
        struct container_spec c_; \
        char why_[PARSE_WHY_MAX]; \
        CHECK_INT(parse(s, &c_, why_), -EINVAL); \
        CHECK(strstr(why_, text) != NULL); \
        CHECK(c_.userns_map == NULL); \
    } while (0)

TEST(parse_bad)
{
    BAD("yes", "is not no, auto or INSIDE:HOST:COUNT");
    BAD("", "is not no, auto or INSIDE:HOST:COUNT");
    BAD("0:100000", "is not INSIDE:HOST:COUNT");
    BAD("0:100000:10:5", "is not INSIDE:HOST:COUNT");
    BAD("0:-1:2", "is not no, auto");
    BAD("0: 100000:2", "is not no, auto");
    BAD("0:100000:0", "COUNT");
    BAD("0:100000:", "COUNT");
    BAD("0:4294967295:1", "HOST");
    BAD("0:4294967294:2", "runs past the largest id");
    BAD("4294967290:100000:10", "runs past the largest id");
    BAD("0:99999999999:1", "HOST");
    BAD("0:0:65536", "maps the host's root");
    BAD("0:100000:1,1:0:1", "maps the host's root");
    BAD("0:524287:2", "the range kept for userns = auto");
    BAD("0:67633151:1", "the range kept for userns = auto");
    BAD("1:100000:10", "does not map container id 0");
    BAD("0:100000:10,5:300000:10", "container ids of '5:300000:10' overlap");
    BAD("0:100000:10,10:100005:10", "host ids of '10:100005:10' overlap");
    BAD("0:100000:10,", "is not INSIDE:HOST:COUNT");
    char big[4096] = "0:100000:1";
    for (int i = 1; i <= USERNS_MAX_EXTENTS; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), ",%d:%d:1", i, 100000 + i);
    BAD(big, "more than 100 extents");
}

TEST(to_host)
{
    const struct userns_extent map[] = { { 0, 100000, 1000 }, { 1000, 300000, 10 } };
    uint32_t h = 7;
    CHECK_INT(userns_to_host(map, 2, 0, &h), 0);
    CHECK_INT(h, 100000);
    CHECK_INT(userns_to_host(map, 2, 999, &h), 0);
    CHECK_INT(h, 100999);
    CHECK_INT(userns_to_host(map, 2, 1009, &h), 0);
    CHECK_INT(h, 300009);
    CHECK_INT(userns_to_host(map, 2, 1010, &h), -ERANGE);
    CHECK_INT(userns_to_host(map, 0, 0, &h), -ERANGE);
}

TEST(plan)
{
    struct container_spec c;
    char why[PARSE_WHY_MAX], *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_INT(parse("no", &c, why), 0);
    userns_plan(&c, f);
    CHECK_INT(parse("auto", &c, why), 0);
    userns_plan(&c, f);
    CHECK_INT(parse("0:100000:10,10:200000:5", &c, why), 0);
    userns_plan(&c, f);
    fclose(f);
    free(c.userns_map);
    CHECK_STR(buf, "  userns: no (container ids are host ids)\n"
                   "  userns: auto (65536 ids, a free range of 524288..67633151 claimed at start); layers idmapped, joined last\n"
                   "  userns: 0:100000:10,10:200000:5; layers idmapped, joined last\n");
    free(buf);
}

/* As root: the namespace carries the map, and nothing of it is left behind. */
TEST(open_map)
{
    if (geteuid() != 0) {
        SKIP("needs root");
    }
    struct container_spec c;
    char why[PARSE_WHY_MAX];
    CHECK_INT(parse("0:100000:1000,1000:300000:10", &c, why), 0);
    c.name = "t";
    struct userns u = USERNS_INIT;
    struct kerr err = { 0 };
    CHECK_INT(userns_open(&u, &c, &err), 0);
    CHECK(u.fd >= 0 && u.lock_fd < 0);
    CHECK_INT(fcntl(u.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    int fd = u.fd;
    CHECK_INT(userns_open(&u, &c, &err), 0);   /* kept: the same namespace */
    CHECK_INT(u.fd, fd);
    userns_close(&u);
    CHECK(u.fd == -1 && u.map == NULL);
    free(c.userns_map);
}

int main(void)
{
    RUN(parse_good);
    RUN(parse_bad);
    RUN(to_host);
    RUN(plan);
    RUN(open_map);
    return unit_done();
}
