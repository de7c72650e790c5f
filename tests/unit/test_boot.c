/* test_boot.c — the pure parts of boot mode: command line, sysctl paths,
 * resolv.conf, mountinfo, evdev capability bitmaps, signal mapping, fstab entries. */
#include "keel/boot.h"
#include "keel/fstab.h"
#include "keel/util.h"
#include "keel/parse.h"
#include "unit.h"

#include <errno.h>
#include <linux/input.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <stdlib.h>

/* The first of: command line, fw_cfg, config disk, image; each probed only
 * when everything before it is absent. */
TEST(manifest_source)
{
    const enum boot_probe U = BOOT_PROBE_UNKNOWN, A = BOOT_PROBE_ABSENT, F = BOOT_PROBE_FOUND;
    /* The command line wins without probing anything. */
    CHECK_INT(boot_manifest_source("/etc/x.ini", U, U), BOOT_SRC_CMDLINE);
    CHECK_INT(boot_manifest_source("/etc/x.ini", F, F), BOOT_SRC_CMDLINE);
    /* Empty or absent keel.manifest= is no choice: fw_cfg is looked at next. */
    CHECK_INT(boot_manifest_source(NULL, U, U), BOOT_SRC_PROBE_FWCFG);
    CHECK_INT(boot_manifest_source("", U, U), BOOT_SRC_PROBE_FWCFG);
    /* fw_cfg found: the disk is never probed. */
    CHECK_INT(boot_manifest_source(NULL, F, U), BOOT_SRC_FWCFG);
    CHECK_INT(boot_manifest_source(NULL, F, F), BOOT_SRC_FWCFG);
    CHECK_INT(boot_manifest_source(NULL, A, U), BOOT_SRC_PROBE_DISK);
    CHECK_INT(boot_manifest_source(NULL, A, F), BOOT_SRC_DISK);
    CHECK_INT(boot_manifest_source(NULL, A, A), BOOT_SRC_IMAGE);
    CHECK_STR(boot_source_name(BOOT_SRC_DISK), "config disk KEELCFG");
    CHECK_STR(boot_source_name(BOOT_SRC_FWCFG), "fw_cfg opt/keel/manifest");
}

TEST(cmdline_value)
{
    char *v = boot_cmdline_value("console=ttyS0 keel.manifest=/etc/a.ini quiet", "keel.manifest");
    CHECK_STR(v, "/etc/a.ini");
    free(v);
    /* Last one wins, as for the kernel's own parameters. */
    v = boot_cmdline_value("keel.manifest=/a keel.manifest=/b\n", "keel.manifest");
    CHECK_STR(v, "/b");
    free(v);
    /* Quotes keep blanks; a key that is only a prefix does not match. */
    v = boot_cmdline_value("x keel.manifest=\"/my dir/k.ini\" y", "keel.manifest");
    CHECK_STR(v, "/my dir/k.ini");
    free(v);
    CHECK(boot_cmdline_value("keel.manifestx=/a xkeel.manifest=/b keel.manifest", "keel.manifest") == NULL);
    CHECK(boot_cmdline_value("", "keel.manifest") == NULL);
    v = boot_cmdline_value("keel.manifest=", "keel.manifest");
    CHECK_STR(v, "");
    free(v);
    v = boot_cmdline_value("\tfoo=1\t\tbar=2  ", "bar");
    CHECK_STR(v, "2");
    free(v);
    /* An unterminated quote runs to the end without reading past it. */
    v = boot_cmdline_value("a=\"x y", "a");
    CHECK_STR(v, "x y");
    free(v);
}

TEST(sysctl_path)
{
    char buf[256];
    CHECK_INT(boot_sysctl_path("net.ipv4.ip_forward", buf, sizeof buf), 0);
    CHECK_STR(buf, "/proc/sys/net/ipv4/ip_forward");
    CHECK_INT(boot_sysctl_path("kernel/printk", buf, sizeof buf), 0);
    CHECK_STR(buf, "/proc/sys/kernel/printk");
    /* With slashes, dots stay (VLAN interface names). */
    CHECK_INT(boot_sysctl_path("net/ipv4/conf/eth0.10/forwarding", buf, sizeof buf), 0);
    CHECK_STR(buf, "/proc/sys/net/ipv4/conf/eth0.10/forwarding");
    CHECK_INT(boot_sysctl_path("", buf, sizeof buf), -EINVAL);
    CHECK_INT(boot_sysctl_path("net..ipv4", buf, sizeof buf), -EINVAL);
    CHECK_INT(boot_sysctl_path(".net", buf, sizeof buf), -EINVAL);
    CHECK_INT(boot_sysctl_path("net.", buf, sizeof buf), -EINVAL);
    CHECK_INT(boot_sysctl_path("/kernel/x", buf, sizeof buf), -EINVAL);
    CHECK_INT(boot_sysctl_path("kernel/../../etc/passwd", buf, sizeof buf), -EINVAL);
    CHECK_INT(boot_sysctl_path("kernel/./x", buf, sizeof buf), -EINVAL);
    CHECK_INT(boot_sysctl_path("kernel.x y", buf, sizeof buf), -EINVAL);
    CHECK_INT(boot_sysctl_path("kernel.hostname", buf, 12), -EINVAL);
}

TEST(resolv_conf)
{
    char *dns[] = { "10.0.2.3", "1.1.1.1", NULL };
    char *t = boot_resolv_conf(dns);
    CHECK(t && strstr(t, "nameserver 10.0.2.3\nnameserver 1.1.1.1\n") != NULL);
    free(t);
    t = boot_resolv_conf(NULL);
    CHECK(t && strstr(t, "nameserver") == NULL);
    free(t);
}

static const char initramfs_mountinfo[] =
    "1 1 0:2 / / rw - rootfs rootfs rw,size=233040k,nr_inodes=58260\n"
    "17 1 0:5 / /proc rw,nosuid,nodev,noexec - proc proc rw\n";

static const char moved_mountinfo[] =
    "24 1 0:21 / / rw,relatime shared:1 master:2 - tmpfs tmpfs rw,mode=755\n"
    "25 24 0:22 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "26 24 0:23 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw\n"
    "27 24 0:6 / /dev rw,nosuid - devtmpfs devtmpfs rw,size=4k,mode=755\n"
    "28 27 0:24 / /dev/pts rw,nosuid,noexec - devpts devpts rw,gid=5,mode=620,ptmxmode=666\n"
    "29 26 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n"
    "30 24 0:26 / /run/keel/web\\040root rw - overlay overlay rw,lowerdir=/a\n";

TEST(mountinfo)
{
    char fstype[64];
    bool parentless = false;
    CHECK_INT(boot_mountinfo_root(initramfs_mountinfo, fstype, sizeof fstype, &parentless), 0);
    CHECK_STR(fstype, "rootfs");
    CHECK(parentless);
    CHECK_INT(boot_mountinfo_root(moved_mountinfo, fstype, sizeof fstype, &parentless), 0);
    CHECK_STR(fstype, "tmpfs");
    CHECK(!parentless);
    /* keel's bind mount of rootfs after the move: same type, but it has a parent. */
    CHECK_INT(boot_mountinfo_root("23 1 0:2 / / rw - rootfs rootfs rw\n", fstype, sizeof fstype, &parentless), 0);
    CHECK_STR(fstype, "rootfs");
    CHECK(!parentless);
    /* Something mounted over / later is what is visible. */
    char stacked[512];
    snprintf(stacked, sizeof stacked, "%s40 1 0:30 / / rw - ext4 /dev/vda rw\n", initramfs_mountinfo);
    CHECK_INT(boot_mountinfo_root(stacked, fstype, sizeof fstype, &parentless), 0);
    CHECK_STR(fstype, "ext4");
    CHECK(!parentless);
    CHECK_INT(boot_mountinfo_root("", fstype, sizeof fstype, &parentless), -ENOENT);
    CHECK_INT(boot_mountinfo_root("garbage\n1 2 3\n1 1 0:2 / / rw no separator\nx y 0:2 / / rw - a b\n", fstype,
                                  sizeof fstype, &parentless), -ENOENT);

    char **pts = NULL;
    CHECK_INT(boot_mountinfo_points(moved_mountinfo, &pts), 0);
    CHECK_INT(strv_len(pts), 7);
    if (strv_len(pts) == 7) {
        CHECK_STR(pts[0], "/");
        CHECK_STR(pts[4], "/dev/pts");
        CHECK_STR(pts[6], "/run/keel/web root");
    }
    strv_free(pts);
    CHECK_INT(boot_mountinfo_points("x\n\n- -\n", &pts), 0);
    CHECK_INT(strv_len(pts), 0);
    strv_free(pts);
}

TEST(caps_has_key)
{
    /* The ACPI power button: only KEY_POWER (116 = word 1, bit 52). */
    CHECK(boot_caps_has_key("10000000000000 0\n", KEY_POWER));
    CHECK(!boot_caps_has_key("10000000000000 0\n", KEY_SLEEP));
    CHECK(!boot_caps_has_key("0\n", KEY_POWER));
    CHECK(!boot_caps_has_key("", KEY_POWER));
    /* An AT keyboard (trimmed): has KEY_ESC (1) and KEY_POWER. */
    const char *kbd = "402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe\n";
    CHECK(boot_caps_has_key(kbd, KEY_ESC));
    CHECK(boot_caps_has_key(kbd, KEY_POWER));
    CHECK(!boot_caps_has_key(kbd, 0));
    CHECK(!boot_caps_has_key(kbd, 4000));
    CHECK(!boot_caps_has_key("zz yy\n", 1));
}

TEST(signal_actions)
{
    CHECK_INT(boot_signal_action(SIGTERM), POWER_REBOOT);
    CHECK_INT(boot_signal_action(SIGINT), POWER_REBOOT);
    CHECK_INT(boot_signal_action(SIGUSR1), POWER_HALT);
    CHECK_INT(boot_signal_action(SIGUSR2), POWER_POWEROFF);
    CHECK_INT(boot_signal_action(SIGPWR), POWER_POWEROFF);
    CHECK_INT(boot_signal_action(SIGRTMIN + 3), POWER_HALT);
    CHECK_INT(boot_signal_action(SIGRTMIN + 4), POWER_POWEROFF);
    CHECK_INT(boot_signal_action(SIGRTMIN + 5), POWER_REBOOT);
    CHECK_INT(boot_signal_action(SIGCHLD), POWER_NONE);
    CHECK_INT(boot_signal_action(SIGHUP), POWER_NONE);
    CHECK_INT(boot_signal_action(SIGRTMIN + 6), POWER_NONE);
}

static char *fstab_line(const char *in, int *r)
{
    static char buf[600];
    struct fstab_entry e;
    char why[PARSE_WHY_MAX] = "";
    *r = fstab_parse(in, &e, why);
    if (*r < 0) {
        snprintf(buf, sizeof buf, "%s", why);
        return buf;
    }
    fstab_format(&e, buf, sizeof buf);
    fstab_free(&e);
    return buf;
}

TEST(fstab)
{
    int r;
    CHECK_STR(fstab_line("/dev/vda /data ext4", &r), "/dev/vda /data ext4 rw,nosuid,nodev");
    CHECK_INT(r, 0);
    CHECK_STR(fstab_line("/dev/vda  /data\text4 noatime,errors=remount-ro,nofail", &r),
              "/dev/vda /data ext4 rw,nosuid,nodev,noatime,errors=remount-ro,nofail");
    CHECK_STR(fstab_line("/dev/vdb1 /srv/x xfs ro,suid,dev,noexec", &r), "/dev/vdb1 /srv/x xfs ro,noexec");
    CHECK_STR(fstab_line("tmpfs /scratch tmpfs size=64M,mode=1777,defaults", &r),
              "tmpfs /scratch tmpfs rw,nosuid,nodev,size=64M,mode=1777");
    CHECK_STR(fstab_line("/dev/vda /data ext4 noatime,relatime", &r), "/dev/vda /data ext4 rw,nosuid,nodev,relatime");
    CHECK_STR(fstab_line("/dev/vda /tmp/d ext4 ro,rw", &r), "/dev/vda /tmp/d ext4 rw,nosuid,nodev");

    struct fstab_entry e;
    char why[PARSE_WHY_MAX];
    CHECK_INT(fstab_parse("/dev/vda /data ext4 noexec,nofail,uid=5", &e, why), 0);
    CHECK(e.flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC) && e.nofail);
    CHECK_STR(e.data, "uid=5");
    fstab_free(&e);
    CHECK_INT(fstab_parse("/dev/vda /data ext4", &e, why), 0);
    CHECK(e.data == NULL && !e.nofail);
    fstab_free(&e);

    const struct { const char *in, *why; } bad[] = {
        { "/dev/vda /data", "is not SOURCE TARGET FSTYPE [OPTIONS]" },
        { "/dev/vda /data ext4 rw 0 2", "is not SOURCE TARGET FSTYPE [OPTIONS]" },
        { "/dev/vda data ext4", "target 'data' is not a plain absolute path" },
        { "/dev/vda /data/../etc ext4", "is not a plain absolute path" },
        { "/dev/vda /data/ ext4", "is not a plain absolute path" },
        { "/dev/vda / ext4", "is keel's own" },
        { "/dev/vda /proc ext4", "is keel's own" },
        { "/dev/vda /dev/x ext4", "is keel's own" },
        { "/dev/vda /run ext4", "is keel's own" },
        { "/dev/vda /sys/fs/x ext4", "is keel's own" },
        { "/dev/vda /data EXT4", "is not a file system type" },
        { "/dev/vda /data ext4;rm", "is not a file system type" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *got = fstab_line(bad[i].in, &r);
        CHECK_INT(r, -EINVAL);
        if (!strstr(got, bad[i].why))
            printf("  %s: got '%s'\n", bad[i].in, got);
        CHECK(strstr(got, bad[i].why) != NULL);
    }
    /* /runner is not /run, /devices not /dev. */
    CHECK_STR(fstab_line("/dev/vda /runner ext4", &r), "/dev/vda /runner ext4 rw,nosuid,nodev");
    CHECK_STR(fstab_line("/dev/vda /devices ext4", &r), "/dev/vda /devices ext4 rw,nosuid,nodev");
}

int main(void)
{
    RUN(cmdline_value);
    RUN(manifest_source);
    RUN(sysctl_path);
    RUN(resolv_conf);
    RUN(mountinfo);
    RUN(caps_has_key);
    RUN(signal_actions);
    RUN(fstab);
    return unit_done();
}
