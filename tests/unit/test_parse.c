/* Unit tests of parse.c: every value type of the manifest. */
#include "keel/manifest.h"
#include "keel/parse.h"
#include "keel/util.h"
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(u64_and_i64)
{
    uint64_t u;
    int64_t i;
    char why[PARSE_WHY_MAX];
    CHECK_INT(parse_u64("42", 0, 100, &u, why), 0);
    CHECK_INT(u, 42);
    CHECK_INT(parse_u64("101", 0, 100, &u, why), -ERANGE);
    CHECK_INT(parse_u64("-1", 0, 100, &u, why), -EINVAL);
    CHECK_INT(parse_u64("", 0, 100, &u, why), -EINVAL);
    CHECK_INT(parse_u64("1x", 0, 100, &u, why), -EINVAL);
    CHECK_INT(parse_u64(" 1", 0, 100, &u, why), -EINVAL);
    CHECK_INT(parse_u64("18446744073709551616", 0, UINT64_MAX, &u, why), -ERANGE);
    CHECK_INT(parse_u64("18446744073709551615", 0, UINT64_MAX, &u, why), 0);
    CHECK(u == UINT64_MAX);
    CHECK_INT(parse_i64("-1000", -1000, 1000, &i, why), 0);
    CHECK_INT(i, -1000);
    CHECK_INT(parse_i64("-1001", -1000, 1000, &i, why), -ERANGE);
    CHECK_INT(parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &i, why), 0);
    CHECK(i == INT64_MIN);
    CHECK_INT(parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &i, why), -ERANGE);
    CHECK_INT(parse_i64("--1", -10, 10, &i, why), -EINVAL);
}

TEST(bools)
{
    bool b;
    CHECK_INT(parse_bool("yes", &b, NULL), 0);
    CHECK(b);
    CHECK_INT(parse_bool("off", &b, NULL), 0);
    CHECK(!b);
    CHECK_INT(parse_bool("Yes", &b, NULL), -EINVAL);
    CHECK_INT(parse_bool("", &b, NULL), -EINVAL);
}

TEST(sizes)
{
    int64_t v;
    CHECK_INT(parse_size("256M", &v, NULL), 0);
    CHECK_INT(v, 256ll << 20);
    CHECK_INT(parse_size("1k", &v, NULL), 0);
    CHECK_INT(v, 1024);
    CHECK_INT(parse_size("2GiB", &v, NULL), 0);
    CHECK_INT(v, 2ll << 30);
    CHECK_INT(parse_size("3", &v, NULL), 0);
    CHECK_INT(v, 3);
    CHECK_INT(parse_size("max", &v, NULL), 0);
    CHECK(v == KEEL_LIMIT_MAX);
    CHECK_INT(parse_size("1.5G", &v, NULL), -EINVAL);
    CHECK_INT(parse_size("10X", &v, NULL), -EINVAL);
    CHECK_INT(parse_size("M", &v, NULL), -EINVAL);
    CHECK_INT(parse_size("-1M", &v, NULL), -EINVAL);
    CHECK_INT(parse_size("9999999999T", &v, NULL), -ERANGE);
    CHECK_INT(parse_size("99999999999999999999", &v, NULL), -ERANGE);
}

TEST(durations)
{
    uint64_t ms;
    CHECK_INT(parse_duration_ms("100ms", &ms, NULL), 0);
    CHECK_INT(ms, 100);
    CHECK_INT(parse_duration_ms("10", &ms, NULL), 0);
    CHECK_INT(ms, 10000);
    CHECK_INT(parse_duration_ms("1m", &ms, NULL), 0);
    CHECK_INT(ms, 60000);
    CHECK_INT(parse_duration_ms("2h", &ms, NULL), 0);
    CHECK_INT(ms, 7200000);
    CHECK_INT(parse_duration_ms("1d", &ms, NULL), -EINVAL);
    CHECK_INT(parse_duration_ms("s", &ms, NULL), -EINVAL);
    CHECK_INT(parse_duration_ms("1000h", &ms, NULL), -ERANGE);
}

TEST(rates)
{
    uint64_t r;
    CHECK_INT(parse_rate_bits("10mbit", &r, NULL), 0);
    CHECK_INT(r, 10000000);
    CHECK_INT(parse_rate_bits("1mbps", &r, NULL), 0);
    CHECK_INT(r, 8000000);
    CHECK_INT(parse_rate_bits("500kbit", &r, NULL), 0);
    CHECK_INT(r, 500000);
    CHECK_INT(parse_rate_bits("0mbit", &r, NULL), -ERANGE);
    CHECK_INT(parse_rate_bits("10 mbit", &r, NULL), -EINVAL);
    CHECK_INT(parse_rate_bits("10mb", &r, NULL), -EINVAL);
}

TEST(cpus)
{
    int64_t q, p;
    CHECK_INT(parse_cpus("0.5", &q, &p, NULL), 0);
    CHECK_INT(q, 50000);
    CHECK_INT(p, 100000);
    CHECK_INT(parse_cpus("2", &q, &p, NULL), 0);
    CHECK_INT(q, 200000);
    CHECK_INT(parse_cpus(".25", &q, &p, NULL), 0);
    CHECK_INT(q, 25000);
    CHECK_INT(parse_cpus("0", &q, &p, NULL), -ERANGE);
    CHECK_INT(parse_cpus("0.001", &q, &p, NULL), -ERANGE);
    CHECK_INT(parse_cpus("1.", &q, &p, NULL), -EINVAL);
    CHECK_INT(parse_cpus("-1", &q, &p, NULL), -EINVAL);
    CHECK_INT(parse_cpus("99999", &q, &p, NULL), -ERANGE);
    CHECK_INT(parse_cpus("1.2345678", &q, &p, NULL), -EINVAL);
}

TEST(signals)
{
    int s;
    CHECK_INT(parse_signal("SIGTERM", &s, NULL), 0);
    CHECK_INT(s, SIGTERM);
    CHECK_INT(parse_signal("HUP", &s, NULL), 0);
    CHECK_INT(s, SIGHUP);
    CHECK_INT(parse_signal("9", &s, NULL), 0);
    CHECK_INT(s, 9);
    CHECK_INT(parse_signal("SIGRTMIN+3", &s, NULL), 0);
    CHECK_INT(s, SIGRTMIN + 3);
    CHECK_INT(parse_signal("SIGFOO", &s, NULL), -EINVAL);
    CHECK_INT(parse_signal("0", &s, NULL), -EINVAL);
    CHECK_INT(parse_signal("65", &s, NULL), -EINVAL);
    CHECK_INT(parse_signal("sigterm", &s, NULL), -EINVAL);
    CHECK_STR(signal_name(SIGKILL), "SIGKILL");
}

TEST(addresses)
{
    struct in_addr a;
    unsigned p;
    CHECK_INT(parse_ipv4("172.30.0.1", &a, NULL), 0);
    CHECK_INT(ntohl(a.s_addr), 0xac1e0001);
    CHECK_INT(parse_ipv4("1.2.3", &a, NULL), -EINVAL);
    CHECK_INT(parse_ipv4("256.1.1.1", &a, NULL), -EINVAL);
    CHECK_INT(parse_cidr("10.0.0.0/8", &a, &p, NULL), 0);
    CHECK_INT(p, 8);
    CHECK_INT(parse_cidr("10.0.0.0/33", &a, &p, NULL), -EINVAL);
    CHECK_INT(parse_cidr("10.0.0.0", &a, &p, NULL), -EINVAL);
}

TEST(ids)
{
    uint32_t id;
    CHECK_INT(parse_id("1", &id, NULL), 0);
    CHECK_INT(id, 1);
    CHECK_INT(parse_id("4294967295", &id, NULL), -EINVAL);
    CHECK_INT(parse_id("-1", &id, NULL), -EINVAL);
    CHECK_INT(parse_id("1 ", &id, NULL), -EINVAL);
    CHECK_INT(parse_id("", &id, NULL), -EINVAL);
}

TEST(words)
{
    char **v = NULL;
    CHECK_INT(split_words("/bin/sh -c \"exec sleep 1000\"", &v, NULL), 0);
    CHECK_INT(strv_len(v), 3);
    CHECK_STR(v[2], "exec sleep 1000");
    strv_free(v);
    CHECK_INT(split_words("a\\ b 'c d'\"e\" \"q\\\"x\" 'x\\y'", &v, NULL), 0);
    CHECK_INT(strv_len(v), 4);
    CHECK_STR(v[0], "a b");
    CHECK_STR(v[1], "c de");
    CHECK_STR(v[2], "q\"x");
    CHECK_STR(v[3], "x\\y");
    strv_free(v);
    CHECK_INT(split_words("   ", &v, NULL), 0);
    CHECK_INT(strv_len(v), 0);
    strv_free(v);
    CHECK_INT(split_words("\"\"", &v, NULL), 0);
    CHECK_INT(strv_len(v), 1);
    CHECK_STR(v[0], "");
    strv_free(v);
    v = NULL;
    CHECK_INT(split_words("'open", &v, NULL), -EINVAL);
    CHECK_INT(split_words("\"open", &v, NULL), -EINVAL);
    CHECK_INT(split_words("trailing\\", &v, NULL), -EINVAL);
    CHECK(v == NULL);
}

struct envs {
    char *got[8];
    size_t n;
    int stop_at;   /* return 7 at this call (1-based), 0: never */
};

static int collect(void *arg, const char *kv)
{
    struct envs *e = arg;
    if (e->n < 8)
        e->got[e->n] = strdup(kv);
    e->n++;
    return e->stop_at && (int)e->n == e->stop_at ? 7 : 0;
}

static void envs_free(struct envs *e)
{
    for (size_t i = 0; i < e->n && i < 8; i++)
        free(e->got[i]);
    *e = (struct envs){ 0 };
}

static int env_file(const char *text, struct envs *e, int *line, char *why)
{
    *e = (struct envs){ 0 };
    return parse_env_file(text, strlen(text), collect, e, line, why);
}

/* Docker's --env-file syntax: comments, blank lines, leading blanks dropped,
 * the value kept as written; a bare KEY is refused (no client environment). */
TEST(env_files)
{
    struct envs e;
    int line;
    char why[PARSE_WHY_MAX];
    const char *text = "\xef\xbb\xbf# a comment\n\nA=1\n  \t B_2=two words  \r\n   # indented comment\n"
                       "C=\"quoted\" =x\n_D=\nE=last";
    CHECK_INT(env_file(text, &e, &line, why), 0);
    CHECK_INT((int)e.n, 5);
    CHECK_STR(e.got[0], "A=1");
    CHECK_STR(e.got[1], "B_2=two words  ");
    CHECK_STR(e.got[2], "C=\"quoted\" =x");
    CHECK_STR(e.got[3], "_D=");
    CHECK_STR(e.got[4], "E=last");
    envs_free(&e);

    CHECK_INT(env_file("", &e, &line, why), 0);
    CHECK_INT((int)e.n, 0);
    CHECK_INT(env_file("A=1\nBARE\n", &e, &line, why), -EINVAL);
    CHECK_INT(line, 2);
    CHECK(strstr(why, "'BARE' has no value") != NULL);
    envs_free(&e);
    CHECK_INT(env_file("A=1\n\n# c\nFOO BAR=1\n", &e, &line, why), -EINVAL);
    CHECK_INT(line, 4);
    CHECK_STR(why, "'FOO BAR' is not a variable name");
    envs_free(&e);
    CHECK_INT(env_file("=x\n", &e, &line, why), -EINVAL);
    CHECK_INT(line, 1);
    CHECK_INT(env_file("1A=x\n", &e, &line, why), -EINVAL);
    CHECK_INT(env_file("A-B=x\n", &e, &line, why), -EINVAL);
    CHECK_INT((int)e.n, 0);
    CHECK_INT(parse_env_file("A=1\nB=\0x\n", 8, collect, &e, &line, why), -EINVAL);
    CHECK_INT(line, 2);
    CHECK_STR(why, "a NUL byte");
    CHECK_INT((int)e.n, 0);
    /* The callback's result stops the parse. */
    e = (struct envs){ .stop_at = 2 };
    CHECK_INT(parse_env_file("A=1\nB=2\nC=3\n", 12, collect, &e, &line, why), 7);
    CHECK_INT((int)e.n, 2);
    envs_free(&e);
    /* No newline at the end, CRLF throughout. */
    CHECK_INT(env_file("A=1\r\nB=2\r\n", &e, &line, why), 0);
    CHECK_STR(e.got[1], "B=2");
    envs_free(&e);
}

/* util.c's mkdir_p: the whole path is tried first, the walk from the top
 * only when a parent is missing (issue 17: keel run called mkdir once per
 * component for every directory it made). */
TEST(mkdir_p_cases)
{
    char top[] = "/tmp/keel-unit-mkdirp-XXXXXX", p[512], f[256];
    if (!mkdtemp(top)) {
        CHECK(0);
        return;
    }
    struct stat st;
    snprintf(p, sizeof p, "%s/a/b/c", top);
    CHECK_INT(mkdir_p(p, 0700), 0);   /* two parents missing: the walk */
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT(mkdir_p(p, 0700), 0);   /* all there */
    snprintf(p, sizeof p, "%s/a/b/d", top);
    CHECK_INT(mkdir_p(p, 0700), 0);   /* the parent there */
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/a/x/y/z", top);
    CHECK_INT(mkdir_p(p, 0700), 0);   /* existing components on the walk */
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(f, sizeof f, "%s/a/file", top);
    FILE *fp = fopen(f, "w");
    CHECK(fp != NULL);
    if (fp)
        fclose(fp);
    CHECK_INT(mkdir_p(f, 0700), -ENOTDIR);   /* a file where the directory goes */
    snprintf(p, sizeof p, "%s/sub", f);
    CHECK_INT(mkdir_p(p, 0700), -ENOTDIR);   /* a file on the way */
    unlink(f);
    const char *made[] = { "a/x/y/z", "a/x/y", "a/x", "a/b/d", "a/b/c", "a/b", "a" };
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", top, made[i]);
        CHECK_INT(rmdir(p), 0);
    }
    CHECK_INT(rmdir(top), 0);
}

/* util.c's mkdir_p_nofollow (an upper directory's parents): a symlink on
 * the path is never followed, nothing is made behind it. */
TEST(mkdir_p_nofollow_cases)
{
    char top[] = "/tmp/keel-unit-mkdirpnf-XXXXXX", p[512], l[256], v[256];
    if (!mkdtemp(top)) {
        CHECK(0);
        return;
    }
    struct stat st;
    snprintf(p, sizeof p, "%s/a/b", top);
    CHECK_INT(mkdir_p_nofollow(p, 0700), 0);   /* parents made */
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT(mkdir_p_nofollow(p, 0700), 0);   /* all there */
    snprintf(v, sizeof v, "%s/victim", top);
    snprintf(l, sizeof l, "%s/a/link", top);
    CHECK_INT(mkdir(v, 0700), 0);
    CHECK_INT(symlink(v, l), 0);
    snprintf(p, sizeof p, "%s/deep/dir", l);
    CHECK_INT(mkdir_p_nofollow(p, 0700), -ELOOP);   /* a symlink on the way */
    snprintf(p, sizeof p, "%s/deep", v);
    CHECK(stat(p, &st) < 0 && errno == ENOENT);      /* nothing made behind it */
    CHECK_INT(mkdir_p_nofollow(l, 0700), -ELOOP);   /* the symlink is the path */
    CHECK_INT(mkdir_p(l, 0700), 0);                 /* control: mkdir_p follows it */
    unlink(l);
    snprintf(p, sizeof p, "%s/a/b", top);
    rmdir(p);
    snprintf(p, sizeof p, "%s/a", top);
    CHECK_INT(rmdir(p), 0);
    CHECK_INT(rmdir(v), 0);
    CHECK_INT(rmdir(top), 0);
}

/* util.c's mkdir_p_open with a rule (log_dir): an administrator's symlink
 * is followed, relative or absolute; one in (or below) a directory a
 * container can write is refused however the path reaches it, and so is
 * one owned by another user; nothing is made behind a refused one. */
TEST(mkdir_p_open_rule)
{
    char top[] = "/tmp/keel-unit-mkdirpo-XXXXXX", p[512], q[512];
    if (!mkdtemp(top)) {
        CHECK(0);
        return;
    }
    struct stat st;
    snprintf(p, sizeof p, "%s/real", top);
    CHECK_INT(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/admin", top);
    CHECK_INT(symlink("real", p), 0);                 /* relative: top/admin -> real */
    snprintf(p, sizeof p, "%s/vol", top);
    CHECK_INT(mkdir(p, 0700), 0);
    CHECK_INT(stat(p, &st), 0);
    struct file_id vol = { st.st_dev, st.st_ino };
    struct mkdir_rule rule = { &vol, 1 };
    snprintf(p, sizeof p, "%s/vol/planted", top);
    snprintf(q, sizeof q, "%s/victim", top);
    CHECK_INT(symlink(q, p), 0);                      /* the container's */
    snprintf(p, sizeof p, "%s/real/tovol", top);
    CHECK_INT(symlink("../vol", p), 0);               /* an admin's into the volume */

    snprintf(p, sizeof p, "%s/admin/log", top);
    int fd = mkdir_p_open(p, 0700, &rule);
    CHECK(fd >= 0);
    snprintf(q, sizeof q, "%s/real/log", top);
    CHECK(stat(q, &st) == 0 && S_ISDIR(st.st_mode));  /* made behind the admin's symlink */
    close_safe(fd);
    CHECK_INT(mkdir_p_open(p, 0700, NULL), -ELOOP);   /* no rule: none followed */
    snprintf(p, sizeof p, "%s/vol/planted/log", top);
    CHECK_INT(mkdir_p_open(p, 0700, &rule), -ELOOP);
    snprintf(p, sizeof p, "%s/admin/tovol/planted/log", top);
    CHECK_INT(mkdir_p_open(p, 0700, &rule), -ELOOP);  /* the volume reached through a symlink */
    snprintf(q, sizeof q, "%s/victim", top);
    CHECK(stat(q, &st) < 0 && errno == ENOENT);       /* nothing made behind them */
    struct mkdir_rule none = { NULL, 0 };
    fd = mkdir_p_open(p, 0700, &none);                /* control: the volume is what refuses it */
    CHECK(fd >= 0);
    close_safe(fd);
    snprintf(q, sizeof q, "%s/victim/log", top);
    CHECK(stat(q, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/admin", top);
    if (geteuid() == 0) {
        CHECK_INT(lchown(p, 65534, 65534), 0);
        snprintf(p, sizeof p, "%s/admin/log", top);
        CHECK_INT(mkdir_p_open(p, 0700, &rule), -ELOOP);   /* another user's symlink */
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    CHECK_INT(system(cmd), 0);
}

int main(void)
{
    RUN(u64_and_i64);
    RUN(mkdir_p_cases);
    RUN(mkdir_p_nofollow_cases);
    RUN(mkdir_p_open_rule);
    RUN(bools);
    RUN(sizes);
    RUN(durations);
    RUN(rates);
    RUN(cpus);
    RUN(signals);
    RUN(addresses);
    RUN(ids);
    RUN(words);
    RUN(env_files);
    return unit_done();
}
