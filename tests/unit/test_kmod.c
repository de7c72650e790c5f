/* test_kmod.c — modules.dep parsing and load planning. */
#include "keel/kmod.h"
#include "keel/util.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Lines as Debian 12's depmod writes them (trimmed). */
static const char sample_dep[] =
    "kernel/fs/overlayfs/overlay.ko:\n"
    "kernel/drivers/net/veth.ko:\n"
    "kernel/net/llc/llc.ko:\n"
    "kernel/net/802/stp.ko: kernel/net/llc/llc.ko\n"
    "kernel/net/802/garp.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"
    "kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"
    "kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"
    "kernel/net/netfilter/nf_tables.ko: kernel/net/netfilter/nfnetlink.ko kernel/lib/libcrc32c.ko\n"
    "kernel/net/netfilter/nfnetlink.ko:\n"
    "kernel/lib/libcrc32c.ko:\n"
    "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko\n"
    "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
    "kernel/net/core/failover.ko:\n"
    "kernel/drivers/foo/dash-name.ko.xz:\n";

static struct kmod_dep *parse_ok(const char *text)
{
    struct kerr err = {0};
    struct kmod_dep *d = NULL;
    int r = kmod_dep_parse(text, &d, &err);
    if (r < 0)
        fprintf(stderr, "  parse failed: %s\n", err.msg);
    return d;
}

/* Position of path in order, -1 when absent. */
static int pos(const char **order, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(order[i], path) == 0)
            return (int)i;
    return -1;
}

TEST(normalize)
{
    char out[KMOD_NAME_MAX];
    CHECK_INT(kmod_name_normalize("nf-tables", out, sizeof out), 0);
    CHECK_STR(out, "nf_tables");
    CHECK_INT(kmod_name_normalize("kernel/net/bridge/bridge.ko", out, sizeof out), 0);
    CHECK_STR(out, "bridge");
    CHECK_INT(kmod_name_normalize("kernel/x/a-b_c.ko.zst", out, sizeof out), 0);
    CHECK_STR(out, "a_b_c");
    CHECK_INT(kmod_name_normalize("x.ko.gz", out, sizeof out), 0);
    CHECK_STR(out, "x");
    CHECK_INT(kmod_name_normalize("", out, sizeof out), -EINVAL);
    CHECK_INT(kmod_name_normalize("dir/.ko", out, sizeof out), -EINVAL);
    CHECK_INT(kmod_name_normalize("abcdef", out, 4), -ENAMETOOLONG);
}

TEST(parse_sample)
{
    struct kmod_dep *d = parse_ok(sample_dep);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_INT(kmod_dep_count(d), 14);
    kmod_dep_free(d);
}

TEST(resolve_orders_dependencies_first)
{
    struct kmod_dep *d = parse_ok(sample_dep);
    if (!d) { CHECK(0); return; }
    const char *order[16];
    size_t n = 0;
    struct kerr err = {0};
    CHECK_INT(kmod_dep_resolve(d, "bridge", order, 16, &n, &err), 0);
    CHECK_INT(n, 3);
    CHECK(pos(order, n, "kernel/net/llc/llc.ko") == 0);
    CHECK(pos(order, n, "kernel/net/802/stp.ko") == 1);
    CHECK(pos(order, n, "kernel/net/bridge/bridge.ko") == 2);

    CHECK_INT(kmod_dep_resolve(d, "br-netfilter", order, 16, &n, &err), 0);
    CHECK_INT(n, 4);
    CHECK(pos(order, n, "kernel/net/llc/llc.ko") < pos(order, n, "kernel/net/802/stp.ko"));
    CHECK(pos(order, n, "kernel/net/802/stp.ko") < pos(order, n, "kernel/net/bridge/bridge.ko"));
    CHECK_STR(order[3], "kernel/net/bridge/br_netfilter.ko");

    CHECK_INT(kmod_dep_resolve(d, "dash_name", order, 16, &n, &err), 0);
    CHECK_INT(n, 1);
    CHECK_STR(order[0], "kernel/drivers/foo/dash-name.ko.xz");

    CHECK_INT(kmod_dep_resolve(d, "bridge", order, 2, &n, &err), -ENOBUFS);
    CHECK_INT(kmod_dep_resolve(d, "nosuch", order, 16, &n, &err), -ENOENT);
    CHECK(strstr(err.msg, "nosuch") != NULL);
    kmod_dep_free(d);
}

TEST(plan_each_once_and_skips_present)
{
    struct kmod_dep *d = parse_ok(sample_dep);
    if (!d) { CHECK(0); return; }
    struct kerr err = {0};
    const char **order = NULL;
    size_t n = 0;
    char *names[] = { "overlay", "veth", "bridge", "garp", "nf-tables", NULL };
    CHECK_INT(kmod_plan(d, names, NULL, NULL, &order, &n, &err), 0);
    CHECK_INT(n, 9);   /* overlay veth llc stp bridge garp nfnetlink libcrc32c nf_tables */
    CHECK_INT(pos(order, n, "kernel/fs/overlayfs/overlay.ko"), 0);
    CHECK(pos(order, n, "kernel/net/llc/llc.ko") < pos(order, n, "kernel/net/802/garp.ko"));
    CHECK(pos(order, n, "kernel/net/netfilter/nfnetlink.ko") < pos(order, n, "kernel/net/netfilter/nf_tables.ko"));
    CHECK(pos(order, n, "kernel/lib/libcrc32c.ko") < pos(order, n, "kernel/net/netfilter/nf_tables.ko"));
    free(order);

    /* llc already loaded (/proc/modules format), overlay built in (modules.builtin format). */
    const char *loaded = "llc 16384 1 stp, Live 0x0000000000000000\nfoo 1 0 - Live 0x0\n";
    const char *builtin = "kernel/fs/overlayfs/overlay.ko\nkernel/fs/ext4/ext4.ko\n";
    char *names2[] = { "overlay", "bridge", "ext4", NULL };
    CHECK_INT(kmod_plan(d, names2, loaded, builtin, &order, &n, &err), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(order[0], "kernel/net/802/stp.ko");
        CHECK_STR(order[1], "kernel/net/bridge/bridge.ko");
    }
    free(order);

    /* All present: nothing to do. */
    char *names3[] = { "llc", "ext4", NULL };
    CHECK_INT(kmod_plan(d, names3, loaded, builtin, &order, &n, &err), 0);
    CHECK_INT(n, 0);
    free(order);

    char *bad[] = { "nosuchmod", NULL };
    CHECK_INT(kmod_plan(d, bad, NULL, NULL, &order, &n, &err), -ENOENT);
    CHECK(order == NULL);
    CHECK(strstr(err.msg, "cannot load module nosuchmod") != NULL);

    char *slash[] = { "../evil", NULL };
    CHECK_INT(kmod_plan(d, slash, NULL, NULL, &order, &n, &err), -EINVAL);
    kmod_dep_free(d);
}

TEST(cycles_are_errors_not_loops)
{
    struct kerr err = {0};
    struct kmod_dep *d = parse_ok("a.ko: b.ko\nb.ko: c.ko\nc.ko: a.ko\nself.ko: self.ko\nok.ko:\n");
    if (!d) { CHECK(0); return; }
    const char *order[8];
    size_t n;
    CHECK_INT(kmod_dep_resolve(d, "a", order, 8, &n, &err), -ELOOP);
    CHECK(strstr(err.msg, "cycle") != NULL);
    CHECK_INT(kmod_dep_resolve(d, "self", order, 8, &n, &err), -ELOOP);
    CHECK_INT(kmod_dep_resolve(d, "ok", order, 8, &n, &err), 0);
    CHECK_INT(n, 1);
    const char **plan = NULL;
    char *names[] = { "ok", "b", NULL };
    CHECK_INT(kmod_plan(d, names, NULL, NULL, &plan, &n, &err), -ELOOP);
    kmod_dep_free(d);
}

TEST(diamond_is_not_a_cycle)
{
    struct kerr err = {0};
    struct kmod_dep *d = parse_ok("top.ko: l.ko r.ko base.ko\nl.ko: base.ko\nr.ko: base.ko\nbase.ko:\n");
    if (!d) { CHECK(0); return; }
    const char *order[8];
    size_t n;
    CHECK_INT(kmod_dep_resolve(d, "top", order, 8, &n, &err), 0);
    CHECK_INT(n, 4);
    CHECK_STR(order[0], "base.ko");
    CHECK_STR(order[3], "top.ko");
    kmod_dep_free(d);
}

TEST(malformed_input)
{
    struct kerr err = {0};
    struct kmod_dep *d = NULL;
    CHECK_INT(kmod_dep_parse("a.ko:\nno colon here\n", &d, &err), -EINVAL);
    CHECK(d == NULL);
    CHECK(strstr(err.msg, "modules.dep:2:") != NULL);
    CHECK_INT(kmod_dep_parse(": b.ko\n", &d, &err), -EINVAL);
    CHECK_INT(kmod_dep_parse("a b.ko:\n", &d, &err), -EINVAL);
    CHECK_INT(kmod_dep_parse("a.ko:\na.ko:\n", &d, &err), -EINVAL);
    CHECK(strstr(err.msg, "duplicate") != NULL);
    CHECK_INT(kmod_dep_parse(".ko:\n", &d, &err), -EINVAL);

    /* Empty input, comments, blank lines and CRLF are fine. */
    d = parse_ok("");
    CHECK(d != NULL);
    const char *order[4];
    size_t n;
    if (d)
        CHECK_INT(kmod_dep_resolve(d, "x", order, 4, &n, &err), -ENOENT);
    kmod_dep_free(d);
    d = parse_ok("# comment\n\n  \r\nx.ko: y.ko\r\ny.ko:\r\n");
    CHECK(d != NULL);
    if (d) {
        CHECK_INT(kmod_dep_resolve(d, "x", order, 4, &n, &err), 0);
        CHECK_INT(n, 2);
        CHECK_STR(order[0], "y.ko");
    }
    kmod_dep_free(d);

    /* A dependency without an entry fails when needed, with its name. */
    d = parse_ok("x.ko: missing.ko\n");
    CHECK(d != NULL);
    if (d) {
        CHECK_INT(kmod_dep_resolve(d, "x", order, 4, &n, &err), -ENOENT);
        CHECK(strstr(err.msg, "missing.ko") != NULL);
    }
    kmod_dep_free(d);
}

TEST(long_chain_does_not_exhaust_the_stack)
{
    enum { N = 200000 };
    size_t cap = (size_t)N * 40;
    char *buf = malloc(cap), *p = buf;
    if (!buf) { CHECK(0); return; }
    for (int i = 0; i < N; i++)
        p += i + 1 < N ? sprintf(p, "m%d.ko: m%d.ko\n", i, i + 1) : sprintf(p, "m%d.ko:\n", i);
    struct kmod_dep *d = parse_ok(buf);
    free(buf);
    CHECK(d != NULL);
    if (!d)
        return;
    const char **order = calloc(N, sizeof *order);
    size_t n = 0;
    struct kerr err = {0};
    CHECK_INT(kmod_dep_resolve(d, "m0", order, N, &n, &err), 0);
    CHECK_INT(n, N);
    if (n == N) {
        CHECK_STR(order[0], "m199999.ko");
        CHECK_STR(order[N - 1], "m0.ko");
    }
    free(order);
    kmod_dep_free(d);
}

TEST(garbage_never_crashes)
{
    unsigned seed = 12345;
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (seed = seed * 1103515245u + 12345u) % (sizeof buf - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            static const char alphabet[] = "ab.ko:/ -_\n\t#";
            buf[i] = (seed >> 16) % 4 ? alphabet[(seed >> 8) % (sizeof alphabet - 1)] : (char)(seed >> 8);
            if (!buf[i])
                buf[i] = 'x';
        }
        buf[len] = '\0';
        struct kmod_dep *d = NULL;
        struct kerr err = {0};
        if (kmod_dep_parse(buf, &d, &err) == 0) {
            const char **order = NULL;
            size_t n;
            char *names[] = { "a", "b", "a_b", "ko", NULL };
            if (kmod_plan(d, names, "a 1 0 - Live 0\n", "x/b.ko\n", &order, &n, &err) == 0)
                CHECK(n <= kmod_dep_count(d));
            free(order);
            kmod_dep_free(d);
        }
    }
}

TEST(load_reports_missing_file)
{
    char dir[] = "/tmp/keel-kmod-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    char path[256];
    snprintf(path, sizeof path, "%s/modules.dep", dir);
    FILE *f = fopen(path, "w");
    if (!f) { CHECK(0); return; }
    fputs("kernel/keel_no_such_test_module.ko:\n", f);
    fclose(f);
    struct kerr err = {0};
    char *names[] = { "keel-no-such-test-module", NULL };
    int r = kmod_load(dir, names, &err);
    CHECK_INT(r, -ENOENT);
    CHECK(strstr(err.msg, "cannot load module keel_no_such_test_module") != NULL);
    CHECK(strstr(err.msg, "No such file") != NULL);
    char *unknown[] = { "keel_unknown_test_module", NULL };
    CHECK_INT(kmod_load(dir, unknown, &err), -ENOENT);
    CHECK(strstr(err.msg, "not in modules.dep") != NULL);
    CHECK_INT(kmod_load("/nonexistent-keel-dir", names, &err), -ENOENT);
    CHECK(strstr(err.msg, "/nonexistent-keel-dir") != NULL);
    char *none[] = { NULL };
    CHECK_INT(kmod_load("/nonexistent-keel-dir", none, &err), 0);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    RUN(normalize);
    RUN(parse_sample);
    RUN(resolve_orders_dependencies_first);
    RUN(plan_each_once_and_skips_present);
    RUN(cycles_are_errors_not_loops);
    RUN(diamond_is_not_a_cycle);
    RUN(malformed_input);
    RUN(long_chain_does_not_exhaust_the_stack);
    RUN(garbage_never_crashes);
    RUN(load_reports_missing_file);
    return unit_done();
}
