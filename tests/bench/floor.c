/* floor.c — the kernel's floor for starting a container: the least work that
 * gives a process the isolation keel, crun and runc give it in the start
 * benchmark, and nothing else.
 *
 *   floor [-v] [-t] [-i] STAGE LOWERS PROGRAM [ARG]...
 *
 * clone() into new PID, mount, UTS, IPC and network namespaces; in the child:
 * make the mount tree private, mount a tmpfs on STAGE (an existing empty
 * directory), an overlay of LOWERS (colon-separated, leftmost on top) with an
 * upper and work directory on that tmpfs, pivot_root into it, detach the old
 * root and exec PROGRAM (a path inside the overlay).  The parent waits and
 * exits with the child's status (128 + signal when killed).
 *
 * No /proc, /dev or /sys, no capability drop, no hostname, no cgroup: those
 * are what a real runtime adds on top, and the benchmark's ratios against this
 * floor show how much they cost.  -v prints the time of each step (in µs
 * since start) to stderr, for docs/performance.md's cost breakdown.
 *
 * -i, the isolated floor: the same plus exactly what a default keel container
 * gets (docs/security.md, "Defaults of every container"; the bench runs it
 * with seccomp = unconfined), done the way a careful hand-written program
 * would, with as few system calls as it takes: a cgroup namespace too; a
 * session of its own and the host name "c"; an init layer on the stage
 * tmpfs on top of LOWERS with the mount points (the floor knows its image:
 * no look at it first); /proc with keel's read-only paths and masks; keel's
 * /dev (tmpfs, the six nodes made with mknod, pts, shm, mqueue, the
 * symlinks); /etc/hostname, /etc/hosts and /etc/resolv.conf bound read-only
 * from files on the stage; after the pivot sysfs and cgroup2 read-only and the
 * /sys masks; RLIMIT_NOFILE 1024:524288; keel's default capabilities
 * (bounding, permitted, effective; the ambient set empties itself with the
 * inheritable one); no_new_privs; every fd above 2 closed.  Left out: what
 * keel's own process does for the network namespace of `network = none` (lo
 * up, IPv6 off: beside the setup, not on its path), and what a floor need not
 * undo (oom_score_adj, signal dispositions: its parent's are the defaults;
 * the parent-death signal: nothing to outlive).
 *
 * Built by tests/bench/run with gcc -O2 -static.  Not part of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int verbose, clone_time, isolated;
static struct timespec t_start;

static void mark(const char *what)
{
    if (!verbose)
        return;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long us = (t.tv_sec - t_start.tv_sec) * 1000000L + (t.tv_nsec - t_start.tv_nsec) / 1000;
    fprintf(stderr, "floor: %6ld us %s\n", us, what);
}

static __attribute__((noreturn)) void die(const char *what)
{
    fprintf(stderr, "floor: cannot %s: %s\n", what, strerror(errno));
    _exit(126);
}

/* ---- -i: keel's isolation (the paths below are relative to the new root,
 * the working directory from the overlay's mount on, before and after the
 * pivot) ---------------------------------------------------------------- */

#define HOSTNAME "c"
#define RO_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
/* Docker's default set without NET_RAW and MKNOD (src/caps.c caps_default). */
#define KEEL_CAPS ((1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FSETID) | \
                   (1ull << CAP_FOWNER) | (1ull << CAP_SETGID) | (1ull << CAP_SETUID) | (1ull << CAP_SETFCAP) | \
                   (1ull << CAP_SETPCAP) | (1ull << CAP_NET_BIND_SERVICE) | (1ull << CAP_SYS_CHROOT) | \
                   (1ull << CAP_KILL) | (1ull << CAP_AUDIT_WRITE))

/* keel's lists (src/mount.c mount_masked_paths, mount_readonly_paths); what
 * this kernel lacks is skipped, as keel skips it. */
static const char *const masked_proc[] = { "proc/acpi", "proc/asound", "proc/interrupts", "proc/kcore", "proc/keys",
                                           "proc/latency_stats", "proc/sched_debug", "proc/scsi", "proc/timer_list",
                                           "proc/timer_stats", NULL };
static const char *const masked_sys[] = { "sys/firmware", "sys/devices/virtual/powercap", NULL };
static const char *const readonly_proc[] = { "proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger",
                                             NULL };

/* A read-only bind of SRC over DST with FLAGS: one bind, one remount. */
static void bind_ro(const char *src, const char *dst, unsigned long flags)
{
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0 || mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
        die(dst);
}

/* The masks as keel makes them: the first directory gets an empty read-only
 * tmpfs, the first file /dev/null bound read-only; every later one is a bind
 * of the first of its kind (a bind copies its mount's read-only flag). */
static const char *first_dir, *first_file;
static void mask(const char *const *paths)
{
    for (const char *const *p = paths; *p; p++) {
        struct stat st;
        if (lstat(*p, &st) < 0) {
            if (errno == ENOENT)
                continue;
            die(*p);
        }
        const char **first = S_ISDIR(st.st_mode) ? &first_dir : &first_file;
        if (*first) {
            if (mount(*first, *p, NULL, MS_BIND, NULL) < 0)
                die(*p);
        } else if (S_ISDIR(st.st_mode)) {
            if (mount("tmpfs", *p, "tmpfs", RO_FLAGS, "size=0") < 0)
                die(*p);
        } else {
            bind_ro("/dev/null", *p, MS_RDONLY | MS_NOSUID | MS_NOEXEC);
        }
        if (!*first)
            *first = *p;
    }
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
        die(path);
}

/* Before the overlay: the generated files and the init layer on the stage
 * (umask 0 from the child's start: every mode below is the one made). */
static void isolate_stage(const char *stage, char init[4096])
{
    char path[4096];
    static const struct { const char *name, *text; } files[] = {
        { "hostname", HOSTNAME "\n" },
        { "hosts", "# generated by keel\n127.0.0.1\tlocalhost\n127.0.1.1\t" HOSTNAME "\n" },
        { "resolv.conf", "nameserver 10.255.255.53\n" },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", stage, files[i].name);
        write_file(path, files[i].text);
    }
    /* The mount points the image may lack, shadowing whatever it has there. */
    static const char *const dirs[] = { "", "/proc", "/sys", "/dev", "/etc" };
    static const char *const points[] = { "/etc/hostname", "/etc/hosts", "/etc/resolv.conf" };
    snprintf(init, 4096, "%s/init", stage);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", init, dirs[i]);
        if (mkdir(path, 0755) < 0)
            die(path);
    }
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        snprintf(path, sizeof path, "%s%s", init, points[i]);
        if (mknod(path, S_IFREG | 0644, 0) < 0)
            die(path);
    }
}

/* In the new root, before the pivot: /proc, /dev, the /etc files. */
static void isolate_root(const char *stage)
{
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("mount /proc");
    /* /dev without nodev: no CAP_MKNOD in the container, so only these nodes can be there. */
    if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k") < 0)
        die("mount /dev");
    static const struct { const char *name; unsigned major, minor; } nodes[] = {
        { "dev/null", 1, 3 }, { "dev/zero", 1, 5 }, { "dev/full", 1, 7 }, { "dev/random", 1, 8 },
        { "dev/urandom", 1, 9 }, { "dev/tty", 5, 0 },
    };
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        if (mknod(nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0)
            die(nodes[i].name);
    if (mkdir("dev/pts", 0755) < 0 || mkdir("dev/shm", 01777) < 0 || mkdir("dev/mqueue", 0755) < 0)
        die("make /dev's directories");
    static const char *const links[][2] = {
        { "pts/ptmx", "dev/ptmx" }, { "/proc/self/fd", "dev/fd" }, { "/proc/self/fd/0", "dev/stdin" },
        { "/proc/self/fd/1", "dev/stdout" }, { "/proc/self/fd/2", "dev/stderr" }, { "/proc/kcore", "dev/core" },
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (symlink(links[i][0], links[i][1]) < 0)
            die(links[i][1]);
    if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0 ||
        mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0 ||
        mount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("mount /dev/pts, /dev/shm and /dev/mqueue");
    for (const char *const *p = readonly_proc; *p; p++) {
        if (mount(*p, *p, NULL, MS_BIND | MS_REC, NULL) < 0) {
            if (errno == ENOENT)
                continue;
            die(*p);
        }
        if (mount(NULL, *p, NULL, MS_REMOUNT | MS_BIND | RO_FLAGS, NULL) < 0)
            die(*p);
    }
    mask(masked_proc);
    char path[4096];
    static const char *const files[] = { "hostname", "hosts", "resolv.conf" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", stage, files[i]);
        char target[32];
        snprintf(target, sizeof target, "etc/%s", files[i]);
        bind_ro(path, target, RO_FLAGS);
    }
}

/* After the pivot: /sys, then the process's own limits. */
static void isolate_process(void)
{
    if (mount("sysfs", "sys", "sysfs", RO_FLAGS, NULL) < 0)
        die("mount /sys");
    if (mount("cgroup2", "sys/fs/cgroup", "cgroup2", RO_FLAGS, NULL) < 0)
        die("mount /sys/fs/cgroup");
    mask(masked_sys);
    /* Where the hard limit cannot be raised (no CAP_SYS_RESOURCE), keel keeps it. */
    struct rlimit nofile = { 1024, 524288 };
    if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 &&
        (errno != EPERM || getrlimit(RLIMIT_NOFILE, &nofile) < 0 ||
         setrlimit(RLIMIT_NOFILE, &(struct rlimit){ nofile.rlim_max < 1024 ? nofile.rlim_max : 1024, nofile.rlim_max }) < 0))
        die("set RLIMIT_NOFILE");
    /* The bounding set one capability at a time (there is no other way),
     * up to the kernel's last (EINVAL). */
    for (int c = 0; c < 64; c++) {
        if (KEEL_CAPS & (1ull << c))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break;
            die("drop a capability from the bounding set");
        }
    }
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct data[2] = { { .effective = (__u32)KEEL_CAPS, .permitted = (__u32)KEEL_CAPS },
                                              { .effective = (__u32)(KEEL_CAPS >> 32),
                                                .permitted = (__u32)(KEEL_CAPS >> 32) } };
    if (syscall(SYS_capset, &hdr, data) < 0)
        die("set the capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("set no_new_privs");
    if (close_range(3, ~0u, 0) < 0)
        die("close the fds above 2");
}

static __attribute__((noreturn)) void child(const char *stage, const char *lowers, char **argv)
{
    char root[4096], upper[4096], work[4096], init[4096], opts[8192];
    mark("child running");
    if (isolated) {
        umask(0);
        if (setsid() < 0 || sethostname(HOSTNAME, strlen(HOSTNAME)) < 0)
            die("start a session and set the host name");
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");
    if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
        die("mount the stage tmpfs");
    if (isolated)
        isolate_stage(stage, init);
    snprintf(root, sizeof root, "%s/root", stage);
    snprintf(upper, sizeof upper, "%s/upper", stage);
    snprintf(work, sizeof work, "%s/work", stage);
    if (mkdir(root, 0755) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0)
        die("create root, upper and work");
    if ((size_t)snprintf(opts, sizeof opts, "lowerdir=%s%s%s,upperdir=%s,workdir=%s", isolated ? init : "",
                         isolated ? ":" : "", lowers, upper, work) >= sizeof opts) {
        errno = E2BIG;
        die("build the overlay options");
    }
    mark("tmpfs mounted");
    if (mount("overlay", root, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
        die("mount the overlay");
    mark("overlay mounted");
    if (chdir(root) < 0)
        die("enter the new root");
    if (isolated) {
        isolate_root(stage);
        mark("/proc, /dev, /etc mounted");
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        die("detach the old root");
    if (chdir("/") < 0)
        die("chdir /");
    if (isolated)
        isolate_process();
    mark("pivoted, exec");
    execv(argv[0], argv);
    die("exec the program");
}

int main(int argc, char **argv)
{
    int a = 1;
    for (; a < argc && argv[a][0] == '-' && argv[a][1] && !argv[a][2]; a++) {
        if (argv[a][1] == 'v')
            verbose = 1;
        else if (argv[a][1] == 't')
            clone_time = 1;
        else if (argv[a][1] == 'i')
            isolated = 1;
        else
            break;
    }
    if (argc - a < 3) {
        fprintf(stderr, "usage: floor [-v] [-t] [-i] STAGE LOWERS PROGRAM [ARG]...\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    const char *stage = argv[a], *lowers = argv[a + 1];
    /* clone(2) without a stack behaves like fork(2) with namespace flags. */
    long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
    if (isolated)
        flags |= CLONE_NEWCGROUP;
    struct timespec t_clone;
    clock_gettime(CLOCK_MONOTONIC, &t_clone);
    pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
    if (pid < 0)
        die("clone");
    if (pid == 0)
        child(stage, lowers, argv + a + 2);
    mark("cloned");
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("wait for the child");
    mark("child reaped");
    if (clone_time) {
        printf("floor clone %lld\n", (long long)t_clone.tv_sec * 1000000000LL + t_clone.tv_nsec);
        fflush(stdout);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
