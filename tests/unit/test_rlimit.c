/* test_rlimit.c — `rlimit = NAME=SOFT[:HARD]` parsing and application. */
#include "keel/rlimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

TEST(parse_good)
{
    struct rlimit_spec r;
    char why[PARSE_WHY_MAX];
    CHECK_INT(parse_rlimit("nofile=1024:4096", &r, why), 0);
    CHECK_INT(r.resource, RLIMIT_NOFILE);
    CHECK_INT(r.soft, 1024);
    CHECK_INT(r.hard, 4096);
    CHECK_INT(parse_rlimit("core=0", &r, why), 0);
    CHECK_INT(r.resource, RLIMIT_CORE);
    CHECK(r.soft == 0 && r.hard == 0);
    CHECK_INT(parse_rlimit("memlock=unlimited", &r, why), 0);
    CHECK(r.soft == RLIM_INFINITY && r.hard == RLIM_INFINITY);
    CHECK_INT(parse_rlimit("stack=8388608:infinity", &r, why), 0);
    CHECK(r.soft == 8388608 && r.hard == RLIM_INFINITY);
    CHECK_INT(parse_rlimit("nproc=18446744073709551614", &r, why), 0);
    CHECK(r.soft == 18446744073709551614ull);
    const char *names[] = { "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                            "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char s[64];
        snprintf(s, sizeof s, "%s=1", names[i]);
        CHECK_INT(parse_rlimit(s, &r, why), 0);
        CHECK_STR(parse_rlimit_name(r.resource), names[i]);
    }
    CHECK(parse_rlimit_name(-5) == NULL);
}

TEST(parse_bad)
{
    struct rlimit_spec r;
    char why[PARSE_WHY_MAX];
    static const struct { const char *s; int code; const char *why; } bad[] = {
        { "nofile", -EINVAL, "expected NAME=SOFT[:HARD]" },
        { "", -EINVAL, "expected NAME=SOFT[:HARD]" },
        { "files=10", -EINVAL, "unknown resource \"files\"" },
        { "NOFILE=10", -EINVAL, "unknown resource" },
        { "=10", -EINVAL, "unknown resource" },
        { "nofile=", -EINVAL, "invalid soft limit" },
        { "nofile=:10", -EINVAL, "invalid soft limit" },
        { "nofile=10:", -EINVAL, "invalid hard limit" },
        { "nofile=-1", -EINVAL, "invalid soft limit" },
        { "nofile=1k", -EINVAL, "invalid soft limit" },
        { "nofile= 10", -EINVAL, "invalid soft limit" },
        { "nofile=10:20:30", -EINVAL, "invalid hard limit" },
        { "nofile=4096:1024", -EINVAL, "soft limit above hard limit" },
        { "nofile=unlimited:10", -EINVAL, "soft limit above hard limit" },
        { "nofile=18446744073709551615", -ERANGE, "out of range" },   /* would alias RLIM_INFINITY */
        { "nofile=99999999999999999999", -ERANGE, "out of range" },
        { "nofile=1:999999999999999999999", -EINVAL, "invalid hard limit" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        int rc = parse_rlimit(bad[i].s, &r, why);
        if (rc != bad[i].code || !strstr(why, bad[i].why))
            fprintf(stderr, "  \"%s\": %d \"%s\"\n", bad[i].s, rc, why);
        CHECK_INT(rc, bad[i].code);
        CHECK(strstr(why, bad[i].why) != NULL);
    }
    CHECK_INT(parse_rlimit("nofile", &r, NULL), -EINVAL);   /* why may be NULL */
    /* A very long name is cut in the message, never overflowing `why`. */
    char longs[600];
    memset(longs, 'a', sizeof longs - 3);
    memcpy(longs + sizeof longs - 3, "=1", 3);
    CHECK_INT(parse_rlimit(longs, &r, why), -EINVAL);
    CHECK(strlen(why) < PARSE_WHY_MAX);
}

/* In a child, applies limits and reports through the exit status. */
static int apply_child(const struct rlimit_spec *r, size_t n, rlim_t want_soft, rlim_t want_hard, int res)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct kerr err = { 0 };
        if (rlimit_apply(r, n, &err) < 0)
            _exit(2);
        struct rlimit got;
        if (getrlimit(res, &got) < 0)
            _exit(3);
        _exit(got.rlim_cur == want_soft && got.rlim_max == want_hard ? 0 : 4);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

TEST(apply)
{
    /* Explicit limits lowered from the current ones never need privilege. */
    struct rlimit_spec r[] = { { RLIMIT_NOFILE, 64, 128, 1 }, { RLIMIT_CORE, 0, 0, 2 } };
    CHECK_INT(apply_child(r, 2, 64, 128, RLIMIT_NOFILE), 0);
    CHECK_INT(apply_child(r, 2, 0, 0, RLIMIT_CORE), 0);

    /* The default nofile: 1024:524288 where the hard limit may be raised,
     * else 1024 (or less) under the hard limit we have. */
    struct rlimit cur;
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &cur), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct kerr err = { 0 };
        if (rlimit_apply(NULL, 0, &err) < 0)
            _exit(2);
        struct rlimit got;
        getrlimit(RLIMIT_NOFILE, &got);
        if (got.rlim_max == RLIMIT_DEFAULT_NOFILE_HARD && got.rlim_cur == RLIMIT_DEFAULT_NOFILE_SOFT)
            _exit(0);
        if (got.rlim_max == cur.rlim_max && got.rlim_cur <= RLIMIT_DEFAULT_NOFILE_SOFT)
            _exit(0);
        _exit(5);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* An explicit limit that cannot be set is an error naming it. */
    pid = fork();
    if (pid == 0) {
        struct rlimit_spec low = { RLIMIT_NOFILE, 10, 20, 1 };
        struct kerr err = { 0 };
        if (rlimit_apply(&low, 1, &err) < 0)
            _exit(2);
        /* Now raising the hard limit above 20 needs CAP_SYS_RESOURCE;
         * soft above hard is refused by the kernel in every case. */
        struct rlimit_spec bad = { RLIMIT_NOFILE, 30, 20, 1 };
        int rc = rlimit_apply(&bad, 1, &err);
        _exit(rc == -EINVAL && strstr(err.msg, "cannot set rlimit nofile=30:20") ? 0 : 6);
    }
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(plan)
{
    struct container_spec c;
    memset(&c, 0, sizeof c);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rlimit_plan(&c, f);
    struct rlimit_spec r[] = { { RLIMIT_NOFILE, 100, RLIM_INFINITY, 3 } };
    c.rlimits = r;
    c.n_rlimits = 1;
    rlimit_plan(&c, f);
    fclose(f);
    CHECK_STR(buf, "    rlimit nofile = 1024:524288 (default)\n    rlimit nofile = 100:unlimited\n");
    free(buf);
}

int main(void)
{
    RUN(parse_good);
    RUN(parse_bad);
    RUN(apply);
    RUN(plan);
    return unit_done();
}
