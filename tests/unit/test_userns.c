/* test_userns.c — `userns =` parsing, id translation, the plan line, and
 * (as root) a namespace made with its maps and the auto pool's slots. */
#include "keel/idmap.h"
#include "keel/parse.h"
#include "keel/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

/* `userns = s` into c's fields, as the manifest's setter does. */
static int parse_into(const char *s, struct container_spec *c, char *why)
{
    return idmap_parse(s, &c->userns, &c->userns_map, &c->n_userns_map, why);
}

static int parse(const char *s, struct container_spec *c, char *why)
{
    memset(c, 0, sizeof *c);
    why[0] = '\0';
    return parse_into(s, c, why);
}

/* Whether two containers' explicit maps share a host id, as manifest.c asks. */
static bool maps_overlap(const struct container_spec *a, const struct container_spec *b, uint32_t *first)
{
    return a->userns == USERNS_MAP && b->userns == USERNS_MAP &&
           idmap_overlap(a->userns_map, a->n_userns_map, b->userns_map, b->n_userns_map, first);
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
    CHECK_INT(parse_into("0:100000:1000,1000:300000:64536", &c, why), 0);
    CHECK_INT(c.n_userns_map, 2);
    CHECK(c.userns_map[1].inside == 1000 && c.userns_map[1].outside == 300000 && c.userns_map[1].count == 64536);
    CHECK_INT(parse_into("auto", &c, why), 0);
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

TEST(parse_proc_map)
{
    struct userns_extent e[4];
    size_t n = 99;
    /* The kernel's layout: right-aligned columns, one extent a line. */
    CHECK_INT(userns_parse_proc_map("         0          0 4294967295\n", e, 4, &n), 0);
    CHECK(n == 1 && e[0].inside == 0 && e[0].outside == 0 && e[0].count == 4294967295u);
    CHECK_INT(userns_parse_proc_map("         0     524288      65536\n      1000     300000         10\n", e, 4, &n), 0);
    CHECK(n == 2 && e[0].outside == 524288 && e[0].count == 65536 && e[1].inside == 1000 && e[1].outside == 300000);
    CHECK_INT(userns_parse_proc_map("", e, 4, &n), 0);              /* a namespace without a map yet */
    CHECK_INT(n, 0);
    CHECK_INT(userns_parse_proc_map("0 100 1", e, 4, &n), 0);        /* no newline at the end */
    CHECK_INT(n, 1);
    CHECK_INT(userns_parse_proc_map("0\t100\t1\n\n", e, 4, &n), 0);
    CHECK_INT(n, 1);
    /* Malformed, truncated, out of range. */
    const char *bad[] = { "0 100\n", "0 100 1 5\n", "0 100 0\n", "a 100 1\n", "0 -1 1\n", "0 100 1x\n",
                          "0 4294967296 1\n", "0 4294967295 2\n", "4294967295 0 2\n", "0 99999999999999999999 1\n",
                          "0 100 1\n0 200\n" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INT(userns_parse_proc_map(bad[i], e, 4, &n), -EINVAL);
    }
    CHECK_INT(userns_parse_proc_map("0 1 1\n1 2 1\n2 3 1\n", e, 2, &n), -E2BIG);
    /* Random bytes never crash it. */
    char buf[64];
    unsigned seed = 7;
    for (int r = 0; r < 20000; r++) {
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof buf);
        for (size_t i = 0; i < len; i++) {
            static const char alphabet[] = "0123456789 \t\n-x";
            buf[i] = alphabet[rand_r(&seed) % (int)(sizeof alphabet - 1)];
        }
        buf[len] = '\0';
        int rc = userns_parse_proc_map(buf, e, 4, &n);
        CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG);
        CHECK(n <= 4);
    }
}

TEST(overlaps)
{
    const struct userns_extent used[] = { { 0, 524288, 65536 }, { 0, 100, 1 } };
    CHECK(userns_map_overlaps(used, 2, 524288, 65536));
    CHECK(userns_map_overlaps(used, 2, 589823, 1));        /* the last id */
    CHECK(!userns_map_overlaps(used, 2, 589824, 65536));   /* the next slot */
    CHECK(userns_map_overlaps(used, 2, 459000, 65536));    /* reaching in from below */
    CHECK(!userns_map_overlaps(used, 2, 101, 10));
    CHECK(userns_map_overlaps(used, 2, 0, 4294967295u));
    CHECK(!userns_map_overlaps(used, 0, 0, 4294967295u));
    /* Two containers' explicit maps. */
    struct container_spec a, b;
    char why[PARSE_WHY_MAX];
    uint32_t first = 0;
    CHECK_INT(parse("0:100000:1000,1000:300000:10", &a, why), 0);
    CHECK_INT(parse("0:200000:65536", &b, why), 0);
    CHECK(!maps_overlap(&a, &b, &first));
    free(b.userns_map);
    CHECK_INT(parse("0:300005:100", &b, why), 0);
    CHECK(maps_overlap(&a, &b, &first));
    CHECK_INT(first, 300005);
    CHECK(maps_overlap(&b, &a, &first));
    CHECK_INT(first, 300005);
    free(b.userns_map);
    CHECK_INT(parse("auto", &b, why), 0);
    CHECK(!maps_overlap(&a, &b, &first));             /* auto ranges never meet explicit maps */
    free(a.userns_map);
}

/* userns = auto's pool must be on the inside of keel's own map. */
TEST(range_mapped)
{
    const struct userns_extent initial[] = { { 0, 0, 4294967295u } };
    const struct userns_extent root_only[] = { { 0, 1000, 1 } };
    const struct userns_extent split[] = { { 0, 0, 600000 }, { 600000, 700000, 4294967295u - 600000 } };
    const struct userns_extent hole[] = { { 0, 0, 600000 }, { 600001, 700000, 100000000 } };
    CHECK(userns_range_mapped(initial, 1, USERNS_POOL_FIRST, IDMAP_POOL_SIZE));
    CHECK(!userns_range_mapped(root_only, 1, USERNS_POOL_FIRST, IDMAP_POOL_SIZE));
    CHECK(userns_range_mapped(root_only, 1, 0, 1));
    CHECK(userns_range_mapped(split, 2, USERNS_POOL_FIRST, IDMAP_POOL_SIZE));   /* two extents end to end */
    CHECK(!userns_range_mapped(hole, 2, USERNS_POOL_FIRST, IDMAP_POOL_SIZE));   /* one id missing */
    CHECK(!userns_range_mapped(initial, 0, 0, 1));
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

/* The first line of /proc/PID/uid_map, blanks squeezed. */
static void read_map_of(pid_t pid, char *out, size_t n)
{
    char path[64], buf[256] = "";
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    FILE *f = fopen(path, "re");
    out[0] = '\0';
    if (!f)
        return;
    unsigned a, b, c;
    if (fgets(buf, sizeof buf, f) && sscanf(buf, "%u %u %u", &a, &b, &c) == 3)
        snprintf(out, n, "%u %u %u", a, b, c);
    fclose(f);
}

/* As root: an auto namespace stays visible through its holder, and a range
 * that another user namespace maps is skipped even when its slot's lock is
 * free (that namespace belongs to a keel with another /run, say). */
TEST(auto_skips_used)
{
    if (geteuid() != 0) {
        printf("skip - test_userns: auto_skips_used: needs root\n");
        return;
    }
    struct container_spec c;
    char why[PARSE_WHY_MAX], want[64], got[64];
    CHECK_INT(parse("auto", &c, why), 0);
    c.name = "t";
    struct kerr err = { 0 };
    struct userns u = USERNS_INIT;
    CHECK_INT(userns_open(&u, &c, &err), 0);
    CHECK(u.n == 1 && u.holder > 0 && u.lock_fd >= 0);
    uint32_t first = u.map[0].outside;
    snprintf(want, sizeof want, "0 %u 65536", first);
    read_map_of(u.holder, got, sizeof got);
    CHECK_STR(got, want);
    pid_t holder = u.holder;
    CHECK_INT(waitpid(holder, NULL, WNOHANG), 0);   /* control: alive, a child of ours */
    userns_close(&u);
    /* The holder goes with the namespace, reaped by userns_close itself (left
     * to keel run's caller it could stay a zombie whose map holds the range). */
    errno = 0;
    CHECK(waitpid(holder, NULL, WNOHANG) == -1 && errno == ECHILD);

    /* A foreign namespace on that range (an explicit map built by hand: the
     * parser keeps explicit maps out of the pool), then auto again. */
    struct container_spec f = { .name = "foreign", .userns = USERNS_MAP, .n_userns_map = 1 };
    struct userns_extent fmap = { 0, first, USERNS_AUTO_SIZE };
    f.userns_map = &fmap;
    struct userns foreign = USERNS_INIT;
    CHECK_INT(userns_open(&foreign, &f, &err), 0);
    CHECK_INT(userns_open(&u, &c, &err), 0);
    CHECK(u.map[0].outside != first);
    CHECK(u.map[0].outside >= USERNS_POOL_FIRST && u.map[0].outside < USERNS_POOL_END);
    userns_close(&u);
    userns_close(&foreign);
    errno = 0;
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);   /* both holders reaped */
}

int main(void)
{
    RUN(parse_good);
    RUN(parse_bad);
    RUN(to_host);
    RUN(plan);
    RUN(parse_proc_map);
    RUN(overlaps);
    RUN(range_mapped);
    RUN(open_map);
    RUN(auto_skips_used);
    return unit_done();
}
