/* test_modplan.c — which modules load before the first container's start and
 * which after it (modplan.h), and the grouping of the late ones for loading
 * in parallel (kmod_plan_bins). */
#include "keel/kmod.h"
#include "keel/modplan.h"
#include "keel/util.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct manifest *load(const char *text)
{
    struct manifest *m = NULL;
    struct diag d = { 0 };
    int r = manifest_load_buffer("t.ini", text, strlen(text), MANIFEST_NO_FS_CHECKS, &m, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "  %s\n", d.msgs[i]);
    diag_free(&d);
    return r < 0 ? NULL : m;
}

static bool has(char *const *v, const char *s)
{
    return strv_contains(v, s);
}

/* The demo appliance: one container on the bridge publishing a port. */
static const char demo[] =
    "[system]\n"
    "modules = overlay e1000 button evdev\n"
    "modules = veth bridge nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_inet nf_conntrack_netlink\n"
    "modules_split = yes\n"
    "[container web]\n"
    "layers = /layers/web\n"
    "command = /bin/httpd\n"
    "network = bridge\n"
    "ports = 80:80/tcp\n";

TEST(roles)
{
    CHECK_INT(modplan_role("overlay"), MODROLE_ROOT);
    CHECK_INT(modplan_role("nf-tables"), MODROLE_NETWORKS);
    CHECK_INT(modplan_role("nft_nat"), MODROLE_PORTS);
    CHECK_INT(modplan_role("veth"), MODROLE_VETH);
    CHECK_INT(modplan_role("evdev"), MODROLE_NO_START);
    CHECK_INT(modplan_role("gpio-keys"), MODROLE_NO_START);
    CHECK_INT(modplan_role("erofs"), MODROLE_IMAGE);
    CHECK_INT(modplan_role("e1000"), MODROLE_OTHER);
    CHECK_INT(modplan_role(""), MODROLE_OTHER);
}

TEST(demo_split)
{
    struct manifest *m = load(demo);
    CHECK(m != NULL);
    if (!m)
        return;
    struct modplan p;
    CHECK_INT(modplan_build(m, NULL, &p), 0);
    CHECK_INT(p.first, 0);
    /* Its root, its network and its port: before; the driver keel does not know: before. */
    static const char *const before[] = { "overlay", "e1000", "veth", "bridge", "nf_tables", "nft_chain_nat",
                                          "nft_nat", "nft_masq", "nft_ct", "nft_fib_inet" };
    for (size_t i = 0; i < ARRAY_SIZE(before); i++) {
        CHECK(has(p.before, before[i]));
        CHECK(!has(p.after, before[i]));
    }
    CHECK_INT(strv_len(p.after), 3);
    CHECK(has(p.after, "button"));
    CHECK(has(p.after, "evdev"));
    CHECK(has(p.after, "nf_conntrack_netlink"));
    CHECK(p.button_after);
    CHECK(!p.held[0]);
    modplan_free(&p);
    manifest_free(m);
}

TEST(no_split_keeps_everything_before)
{
    struct manifest *m = load("[system]\nmodules = overlay button evdev nf_conntrack_netlink\n"
                              "[container a]\nlayers = /l\ncommand = /bin/true\n");
    CHECK(m != NULL);
    if (!m)
        return;
    struct modplan p;
    char *img[] = { "loop", "erofs", NULL };
    char *const *const images[] = { img };
    CHECK_INT(modplan_build(m, images, &p), 0);
    CHECK_INT(strv_len(p.before), 6);
    CHECK(has(p.before, "evdev"));
    CHECK(has(p.before, "erofs"));
    CHECK(p.after == NULL);
    CHECK(!p.button_after);
    CHECK(!p.held[0]);
    modplan_free(&p);
    manifest_free(m);
}

/* What only a later container needs comes after, and holds that container. */
TEST(later_containers_wait)
{
    struct manifest *m = load("[system]\nmodules = overlay veth bridge nf_tables nft_nat\nmodules_split = yes\n"
                              "[container first]\nlayers = /l\ncommand = /bin/true\n"
                              "[container later]\nlayers = /l\ncommand = /bin/true\nnetwork = bridge\n"
                              "ports = 8080:80/tcp\n"
                              "[container images]\nlayers = /i.erofs\ncommand = /bin/true\n");
    CHECK(m != NULL);
    if (!m)
        return;
    struct modplan p;
    char *img[] = { "loop", "erofs", NULL };
    char *const *const images[] = { NULL, NULL, img };
    CHECK_INT(modplan_build(m, images, &p), 0);
    CHECK_INT(p.first, 0);
    CHECK(has(p.before, "overlay"));
    /* The table and bridge are made before any start when any container is on a bridge. */
    CHECK(has(p.before, "bridge"));
    CHECK(has(p.before, "nf_tables"));
    CHECK(has(p.after, "veth"));
    CHECK(has(p.after, "nft_nat"));
    CHECK(has(p.after, "loop"));
    CHECK(has(p.after, "erofs"));
    CHECK(!p.held[0]);
    CHECK(p.held[1]);
    CHECK(p.held[2]);
    CHECK(!p.button_after);
    modplan_free(&p);
    manifest_free(m);
}

/* No bridge anywhere: the table's modules wait; the first is the first that waits for nothing. */
TEST(first_is_the_first_that_waits_for_nothing)
{
    struct manifest *m = load("[system]\nmodules = overlay nf_tables erofs\nmodules_split = yes\n"
                              "[container b]\nlayers = /l\ncommand = /bin/true\ndepends = a\n"
                              "[container a]\nlayers = /i.erofs\ncommand = /bin/true\n");
    CHECK(m != NULL);
    if (!m)
        return;
    struct modplan p;
    char *img[] = { "loop", "erofs", NULL };
    char *const *const images[] = { NULL, img };
    CHECK_INT(modplan_build(m, images, &p), 0);
    CHECK_INT(p.first, 1);
    CHECK(has(p.before, "overlay"));
    CHECK(has(p.before, "erofs"));
    CHECK(has(p.before, "loop"));
    CHECK(has(p.after, "nf_tables"));
    CHECK(!p.held[0]);
    CHECK(!p.held[1]);
    modplan_free(&p);
    manifest_free(m);

    /* Everything waits (a condition): nothing is needed before but the unknown ones. */
    m = load("[system]\nmodules = overlay e1000\nmodules_split = yes\n"
             "[container a]\nlayers = /l\ncommand = /bin/true\ndepends = network-online\n");
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_INT(modplan_build(m, NULL, &p), 0);
    CHECK_INT(p.first, -1);
    CHECK(has(p.before, "e1000"));
    CHECK(has(p.after, "overlay"));
    CHECK(p.held[0]);
    modplan_free(&p);
    manifest_free(m);
}

/* A file system the fstab mounts is loaded before it, whatever its role. */
TEST(fstab_file_systems_first)
{
    struct manifest *m = load("[system]\nmodules = squashfs overlay erofs virtio_blk\nmodules_split = yes\n"
                              "fstab = /dev/vdb /data squashfs ro\n"
                              "[container a]\nlayers = /l\ncommand = /bin/true\n");
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(modplan_first_step(m, "squashfs"));
    CHECK(modplan_first_step(m, "virtio_blk"));
    CHECK(!modplan_first_step(m, "overlay"));
    CHECK(!modplan_first_step(m, "erofs"));
    struct modplan p;
    CHECK_INT(modplan_build(m, NULL, &p), 0);
    CHECK(has(p.before, "squashfs"));
    CHECK(has(p.before, "overlay"));
    CHECK(has(p.after, "erofs"));
    modplan_free(&p);
    manifest_free(m);
}

/* The late ones' groups share no module to load. */
static const char dep[] =
    "kernel/drivers/input/evdev.ko:\n"
    "kernel/drivers/acpi/button.ko:\n"
    "kernel/net/netfilter/nfnetlink.ko:\n"
    "kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko\n"
    "kernel/lib/libcrc32c.ko:\n"
    "kernel/net/netfilter/nf_conntrack_netlink.ko: kernel/net/netfilter/nf_conntrack.ko "
    "kernel/net/netfilter/nfnetlink.ko kernel/lib/libcrc32c.ko\n"
    "kernel/net/netfilter/nf_tables.ko: kernel/net/netfilter/nfnetlink.ko kernel/lib/libcrc32c.ko\n"
    "kernel/net/netfilter/nft_ct.ko: kernel/net/netfilter/nf_tables.ko kernel/net/netfilter/nf_conntrack.ko "
    "kernel/net/netfilter/nfnetlink.ko kernel/lib/libcrc32c.ko\n";

TEST(bins_share_nothing)
{
    struct kerr err = { 0 };
    struct kmod_dep *d = NULL;
    CHECK_INT(kmod_dep_parse(dep, &d, &err), 0);
    if (!d)
        return;
    char *names[] = { "evdev", "nf_conntrack_netlink", "button", "nf_tables", NULL };
    int bin[4];
    /* Two CPUs: nf_conntrack_netlink and nf_tables share nfnetlink and
     * libcrc32c: one group; evdev and button the other bin. */
    CHECK_INT(kmod_plan_bins(d, names, NULL, NULL, 2, bin, &err), 7);
    CHECK(bin[1] == bin[3]);
    CHECK(bin[0] != bin[1]);
    CHECK(bin[2] != bin[1]);
    CHECK(bin[0] >= 0 && bin[0] < 2 && bin[1] >= 0 && bin[1] < 2);
    /* With nfnetlink and libcrc32c loaded, nf_tables and nf_conntrack_netlink share nothing more. */
    const char *loaded = "nfnetlink 20480 0 - Live 0x0\nlibcrc32c 16384 0 - Live 0x0\n";
    CHECK_INT(kmod_plan_bins(d, names, loaded, NULL, 4, bin, &err), 5);
    CHECK(bin[0] != bin[1] && bin[0] != bin[2] && bin[0] != bin[3]);
    CHECK(bin[1] != bin[3]);
    /* One CPU: one bin.  Present: -1. */
    const char *all = "evdev 1 0 - Live 0x0\n";
    CHECK_INT(kmod_plan_bins(d, names, all, NULL, 1, bin, &err), 6);
    CHECK_INT(bin[0], -1);
    CHECK_INT(bin[1], 0);
    CHECK_INT(bin[2], 0);
    /* A name not in modules.dep is an error, as in kmod_plan. */
    char *bad[] = { "nope", NULL };
    CHECK_INT(kmod_plan_bins(d, bad, NULL, NULL, 2, bin, &err), -ENOENT);
    kmod_dep_free(d);
}

/* The background loader: its outcome crosses the pipe, an error with its message. */
TEST(async_reports)
{
    struct kerr err = { 0 };
    char *names[] = { "keel_no_such_test_module", NULL };
    int report = -1;
    pid_t pid = kmod_load_async(names, &report, &err);
    CHECK(pid > 0);
    int status = 0;
    CHECK_INT((int)waitpid(pid, &status, 0), (int)pid);
    CHECK_INT(kmod_load_async_result(report, status, &err), -ENOENT);
    CHECK(strstr(err.msg, "module") != NULL);
    close(report);
    char *none[] = { NULL };
    pid = kmod_load_async(none, &report, &err);
    CHECK(pid > 0);
    CHECK_INT((int)waitpid(pid, &status, 0), (int)pid);
    CHECK_INT(kmod_load_async_result(report, status, &err), 0);
    close(report);
}

int main(void)
{
    RUN(roles);
    RUN(demo_split);
    RUN(no_split_keeps_everything_before);
    RUN(later_containers_wait);
    RUN(first_is_the_first_that_waits_for_nothing);
    RUN(fstab_file_systems_first);
    RUN(bins_share_nothing);
    RUN(async_reports);
    return unit_done();
}
