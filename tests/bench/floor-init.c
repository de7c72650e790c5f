/* floor-init.c — the floor for keel's boot work: the least an init must do to
 * run the demo appliance's container command, booted in the same TCG guest as
 * keel (tests/bench/boot.sh builds an image of the demo's files with this as
 * /init and /floor.conf beside it).
 *
 *   /floor.conf:  module=/lib/modules/VERSION/.../overlay.ko  (0 or more)
 *                 layers=/layers/web:/layers/base     (the manifest's layers)
 *                 command=/bin/httpd -f -p 80 -h /www  (split on spaces)
 *
 * Steps: mount the pseudo-filesystems keel mounts at boot (proc, sysfs,
 * devtmpfs, devpts, /dev/shm, /run, /tmp, cgroup2), move off the kernel's
 * rootfs as keel does (a bind of / moved onto / and chrooted into), mount a
 * tmpfs with the overlay of the layers on it (a tmpfs upper, as `upper =
 * tmpfs`) and /proc inside, chroot into it and exec the command.  No
 * namespaces, no modules, no network, no capability drop: what keel adds on
 * top is what the ratio shows.
 *
 * The modules (overlay: Debian's kernel has it as a module) are loaded with
 * finit_module after the pseudo-filesystems, between the lines "floor:
 * modules" and "floor: modules loaded", so that boot.sh can leave them out as
 * it leaves keel's module loading out.
 *
 * It prints "[ SECONDS.MICROS] floor: start" first and "... floor: exec" right
 * before the execve, with CLOCK_MONOTONIC as keel's console lines have it, so
 * boot.sh reads both figures the same way.  On an error it prints "floor:
 * error: ..." and sleeps forever (PID 1 must not exit: the kernel panics).
 *
 * The isolated boot floor (isolate=1 and name=NAME in /floor.conf: boot.sh's
 * floor_iso image): the same, plus what keel does at boot for the one
 * default container of tests/bench/boot-equal.ini, so that keel's boot
 * splits into that isolation (floor_iso against floor) and keel's own work
 * (keel_equal against floor_iso).  PID 1 mounts cgroup2 with nsdelegate as
 * keel does, brings lo up in the initial network namespace, makes keel's
 * cgroups (keel/containers/NAME; cpu, cpuset, memory, io and pids enabled
 * in the root, keel and keel/containers, as keel enables them; the
 * containers' pids.max reserve; the container's pids.max and
 * memory.oom.group) and clones a child with clone3 into the PID, mount,
 * UTS, IPC, network and cgroup namespaces and that cgroup.  The child turns
 * IPv6 off, sets the two sysctls keel sets and brings lo up in its network
 * namespace, then does what `floor -i` does (floor-iso.c: session and host
 * name NAME, the init layer, /proc, /dev, the /etc files, pivot_root, /sys,
 * limits, capabilities, no_new_privs, close_range), installs keel's default
 * seccomp program for the default capabilities (the one keel's build
 * compiled: build/gen/seccomp_prebuilt.h), prints "floor: exec" and execs.
 * Left out, as keel's own: its supervisor leaf and memory.min, its
 * oom_score_adj, the namespaces' pins, the user lookup, the exec stub.
 *
 * Built by tests/bench/run (and boot.sh) with gcc -O2 -static, with
 * floor-iso.c and -I build/gen.  Not part of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor-iso.h"

/* keel's default seccomp program, as keel's build wrote it (src/seccomp.c). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
struct seccomp_prebuilt {
    uint64_t caps;
    unsigned opts;
    unsigned short len;
    const struct sock_filter *insns;
};
#include "seccomp_prebuilt.h"
#if !defined(SECCOMP_PREBUILT_N) || SECCOMP_PREBUILT_N != 1
#error "build/gen/seccomp_prebuilt.h holds no default program (a cross build?)"
#endif

static void say(const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char line[512];
    int n = snprintf(line, sizeof line, "[%5ld.%06ld] floor: ", (long)ts.tv_sec, ts.tv_nsec / 1000);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    (void)!write(1, line, (size_t)n);
}

__attribute__((noreturn)) void die(const char *what)
{
    say("error: %s: %s", what, strerror(errno));
    for (;;)
        pause();
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *opts)
{
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        die(dst);
    if (mount(src, dst, type, flags, opts) < 0)
        die(dst);
}

/* --- the isolated floor (isolate=1) ------------------------------------------ */

static void write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
        die(path);
}

static long read_number(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (n <= 0 || close(fd) < 0)
        die(path);
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

/* lo up in the calling process's network namespace (keel: net_loopback_up
 * in the initial one, lo_up_with in a container's). */
__attribute__((noinline)) static void lo_up(void)
{
    struct ifreq ifr = { .ifr_name = "lo" };
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        die("find lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0 || close(s) < 0)
        die("bring lo up");
}

/* keel's cgroups for its first container (src/cgroup.c cgroup_setup,
 * cgroup_container_prepare): returns the container's cgroup, for clone3. */
__attribute__((noinline)) static int container_cgroup(const char *name)
{
    static const char *const levels[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/keel",
                                          "/sys/fs/cgroup/keel/containers" };
    char path[512];
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (i > 0 && mkdir(levels[i], 0755) < 0)
            die(levels[i]);
        snprintf(path, sizeof path, "%s/cgroup.subtree_control", levels[i]);
        write_text(path, "+cpu +cpuset +memory +io +pids");
    }
    /* The pids kept in reserve for keel (cgroup_pids_budget). */
    long pid_max = read_number("/proc/sys/kernel/pid_max"), threads = read_number("/proc/sys/kernel/threads-max");
    long limit = pid_max < threads ? pid_max : threads, reserve = limit / 8 > 512 ? limit / 8 : 512;
    if (reserve > limit / 2)
        reserve = limit / 2;
    char v[32];
    snprintf(v, sizeof v, "%ld", limit - reserve);
    write_text("/sys/fs/cgroup/keel/containers/pids.max", v);
    snprintf(path, sizeof path, "/sys/fs/cgroup/keel/containers/%s", name);
    if (mkdir(path, 0755) < 0)
        die(path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        die(path);
    /* A default container's limits (cgroup_plan_writes). */
    snprintf(path, sizeof path, "/sys/fs/cgroup/keel/containers/%s/pids.max", name);
    write_text(path, "2048");
    snprintf(path, sizeof path, "/sys/fs/cgroup/keel/containers/%s/memory.oom.group", name);
    write_text(path, "1");
    return fd;
}

/* After no_new_privs, as keel installs it (src/setup.c SETUP_SECCOMP). */
__attribute__((noinline)) static void seccomp_install(void)
{
    struct sock_fprog prog = { .len = seccomp_prebuilt[0].len, .filter = (struct sock_filter *)seccomp_prebuilt[0].insns };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        die("install the seccomp filter");
}

/* The container: its network namespace as keel makes one for network =
 * none (src/net.c new_netns, ensure_netns), then floor -i's isolation, then
 * keel's default seccomp program; floor.c's child for the rest. */
__attribute__((noinline)) static __attribute__((noreturn)) void isolated_child(const char *name, const char *layers, char **argv,
                                                     char **envp)
{
    write_text("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
    write_text("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
    write_text("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0");
    lo_up();
    iso_session(name);
    const char *stage = "/run/floor";
    char init[4096], opts[8192];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");
    if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
        die("mount the stage tmpfs");
    iso_stage(stage, name, false, init);
    if (mkdir("/run/floor/root", 0755) < 0 || mkdir("/run/floor/upper", 0755) < 0 ||
        mkdir("/run/floor/work", 0700) < 0)
        die("create root, upper and work");
    if ((size_t)snprintf(opts, sizeof opts, "lowerdir=%s:%s,upperdir=/run/floor/upper,workdir=/run/floor/work", init,
                         layers) >= sizeof opts) {
        errno = E2BIG;
        die("build the overlay options");
    }
    if (mount("overlay", "/run/floor/root", "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
        die("mount the overlay");
    if (chdir("/run/floor/root") < 0)
        die("enter the new root");
    iso_root(stage, false);
    if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        die("pivot_root");
    iso_process();
    seccomp_install();
    say("exec %s", argv[0]);
    execve(argv[0], argv, envp);
    die(argv[0]);
}

__attribute__((noinline)) static __attribute__((noreturn)) void start_isolated(const char *name, const char *layers, char **argv, char **envp)
{
    lo_up();
    int cg = container_cgroup(name);
    if (mkdir("/run/floor", 0755) < 0)
        die("/run/floor");
    struct clone_args args = {
        .flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP |
                 CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cg,
    };
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        die("clone3");
    if (pid == 0)
        isolated_child(name, layers, argv, envp);
    close(cg);
    for (;;)   /* PID 1: reap, never exit */
        if (wait(NULL) < 0 && errno == ECHILD)
            pause();
}

int main(void)
{
    say("start");
    char conf[4096];
    int fd = open("/floor.conf", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, conf, sizeof conf - 1);
    if (n <= 0)
        die("/floor.conf");
    close(fd);
    conf[n] = '\0';
    char *layers = NULL, *command = NULL, *name = "web", *modules[16];
    int n_modules = 0, isolated = 0;
    for (char *line = strtok(conf, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "module=", 7) == 0 && n_modules < 16)
            modules[n_modules++] = line + 7;
        else if (strncmp(line, "layers=", 7) == 0)
            layers = line + 7;
        else if (strncmp(line, "command=", 8) == 0)
            command = line + 8;
        else if (strncmp(line, "name=", 5) == 0)
            name = line + 5;
        else if (strcmp(line, "isolate=1") == 0)
            isolated = 1;
    }
    if (!layers || !command) {
        errno = EINVAL;
        die("/floor.conf needs layers= and command=");
    }

    mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666");
    mnt("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mnt("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    mnt("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    /* keel mounts it with nsdelegate (src/boot.c): the isolated floor too. */
    mnt("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, isolated ? "nsdelegate" : NULL);

    say("modules");
    for (int i = 0; i < n_modules; i++) {
        int m = open(modules[i], O_RDONLY | O_CLOEXEC);
        if (m < 0 || (syscall(SYS_finit_module, m, "", 0) < 0 && errno != EEXIST))
            die(modules[i]);
        close(m);
    }
    say("modules loaded");

    /* Off the kernel's rootfs, as keel does (src/boot.c move_off_rootfs). */
    mnt("/", "/newroot", NULL, MS_BIND, NULL);
    if (mount("/proc", "/newroot/proc", NULL, MS_MOVE, NULL) < 0)
        die("move /proc");
    /* The isolated floor uses the others too, as keel does (cgroup2 below /sys, /dev/null, /run). */
    static const char *const others[][2] = { { "/sys", "/newroot/sys" }, { "/dev", "/newroot/dev" },
                                             { "/run", "/newroot/run" }, { "/tmp", "/newroot/tmp" } };
    for (size_t i = 0; isolated && i < ARRAY_SIZE(others); i++)
        if (mount(others[i][0], others[i][1], NULL, MS_MOVE, NULL) < 0)
            die(others[i][0]);
    if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
        die("move the root");

    char *argv[64];
    int argc = 0;
    for (char *w = strtok(command, " "); w && argc < 63; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc] = NULL;
    char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
    if (isolated)
        start_isolated(name, layers, argv, envp);

    /* The container's root: a tmpfs with the upper, the overlay, /proc. */
    mnt("tmpfs", "/run/floor", "tmpfs", 0, "mode=0700");
    if (mkdir("/run/floor/upper", 0755) < 0 || mkdir("/run/floor/work", 0755) < 0)
        die("/run/floor");
    char opts[4096];
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=/run/floor/upper,workdir=/run/floor/work", layers);
    mnt("overlay", "/run/floor/root", "overlay", 0, opts);
    mnt("proc", "/run/floor/root/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);

    if (chroot("/run/floor/root") < 0 || chdir("/") < 0)
        die("chroot");
    say("exec %s", argv[0]);
    execve(argv[0], argv, envp);
    die(argv[0]);
}
