/* cgroup-harness — a minimal PID 1 for tests/vm/test_cgroupmod.sh: drives
 * src/cgroup.c directly on Debian's kernel (cgroup2 with every controller),
 * without keel's supervisor.  Each child is cloned straight into its cgroup
 * with clone3(CLONE_INTO_CGROUP) through the fd cgroup_container_create
 * returns.  Prints "harness: ..." lines, then powers off. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keel/cgroup.h"
#include "keel/log.h"
#include "keel/util.h"

static void spec_init(struct container_spec *c, const char *name)
{
    memset(c, 0, sizeof *c);
    c->name = (char *)name;
    c->memory_max = c->memory_high = c->memory_swap = KEEL_LIMIT_UNSET;
    c->cpu_quota_us = c->cpu_period_us = c->cpu_weight = KEEL_LIMIT_UNSET;
    c->pids_max = c->io_weight = KEEL_LIMIT_UNSET;
}

static void msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void reap(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

/* Clones a child into the cgroup `cgfd`; the child runs fn. */
static pid_t spawn_into(int cgfd, void (*fn)(void))
{
    struct clone_args args = { 0 };
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgfd;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
        /* Children inherit keel's -1000, which makes them unkillable by the
         * OOM killer: an OOM in their cgroup would then hang instead of
         * killing.  Exactly what keel's container setup must reset. */
        struct kerr err = { 0 };
        if (cgroup_set_oom_score_adj(0, 0, &err) < 0)
            printf("harness: %s\n", err.msg);
        fn();
        _exit(0);
    }
    return (pid_t)pid;
}

static void do_spin(void)
{
    volatile unsigned long x = 0;
    for (;;)
        x++;
}

static void do_bomb(void)
{
    for (;;)
        fork();
}

static void do_hog(void)
{
    for (int i = 0; i < 1024; i++) {
        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            break;
        memset(p, 1, 1 << 20);
    }
    _exit(3);
}

static void do_forker(void)
{
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        if (fork() == 0) {
            if (fork() == 0) {
                msleep(300);
                _exit(0);
            }
            msleep(200);
            _exit(0);
        }
        msleep(5);
    }
}

/* Waits until the cgroup is empty; returns ms waited or -1. */
static int wait_empty(struct cgroup_root *root, const char *name, int max_ms)
{
    for (int ms = 0; ms <= max_ms; ms += 10) {
        struct cgroup_events ev;
        struct kerr err = { 0 };
        reap();
        if (cgroup_container_events(root, name, &ev, &err) == 0 && !ev.populated)
            return ms;
        msleep(10);
    }
    return -1;
}

static void show(const char *label, const char *path)
{
    char *buf = NULL;
    if (read_file_at(AT_FDCWD, path, 1 << 16, &buf, NULL) == 0) {
        buf[strcspn(buf, "\n")] = '\0';
        printf("harness: %s %s\n", label, buf);
        free(buf);
    } else {
        printf("harness: %s (unreadable)\n", label);
    }
}

int main(void)
{
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_setup(1, LOG_LEVEL_INFO);
    /* keel run's shortcut past /proc/self/mountinfo (cgroup_mount_is_root)
     * on this kernel's values: the mount of the hierarchy's root, seen from
     * the initial cgroup namespace. */
    struct stat cst, nst;
    struct statfs csf, nsf;
    if (stat("/sys/fs/cgroup", &cst) == 0 && statfs("/sys/fs/cgroup", &csf) == 0 &&
        stat("/proc/self/ns/cgroup", &nst) == 0 && statfs("/proc/self/ns/cgroup", &nsf) == 0)
        printf("harness: cgroup2 root ino=%llu mount_is_root=%d\n", (unsigned long long)cst.st_ino,
               cgroup_mount_is_root((unsigned long)csf.f_type, cst.st_ino, (unsigned long)nsf.f_type, nst.st_ino));
    else
        printf("harness: cgroup2 root: cannot stat: %s\n", strerror(errno));

    struct cgroup_root root;
    struct kerr err = { 0 };
    if (cgroup_setup(&root, "/sys/fs/cgroup", true, &err) < 0) {
        printf("harness: setup failed: %s\n", err.msg);
        goto off;
    }
    printf("harness: setup available=%d path=%s controllers=0x%x\n", root.available, root.keel_path,
           root.controllers);
    /* Boot mode leaves keel in the root cgroup until cgroup_enter_leaf (after the first start). */
    show("self cgroup at setup", "/proc/self/cgroup");
    cgroup_enter_leaf(&root);
    show("self cgroup", "/proc/self/cgroup");
    show("oom_score_adj", "/proc/self/oom_score_adj");
    show("subtree_control", "/sys/fs/cgroup/keel/cgroup.subtree_control");
    show("supervisor memory.min", "/sys/fs/cgroup/keel/supervisor/memory.min");

    /* cpu */
    struct container_spec c;
    spec_init(&c, "spin");
    c.cpu_quota_us = 25000;
    c.cpu_period_us = 100000;
    c.cpu_weight = 50;
    c.cpuset = "0";
    int fd;
    if (cgroup_container_create(&root, &c, &fd, &err) < 0) {
        printf("harness: create spin: %s\n", err.msg);
    } else {
        pid_t pid = spawn_into(fd, do_spin);
        close(fd);
        show("spin cpu.max", "/sys/fs/cgroup/keel/containers/spin/cpu.max");
        show("spin cpuset.cpus", "/sys/fs/cgroup/keel/containers/spin/cpuset.cpus");
        msleep(300);
        struct cgroup_stats s0, s1;
        cgroup_container_stats(&root, "spin", &s0, &err);
        uint64_t t0 = now_ns();
        msleep(2000);
        cgroup_container_stats(&root, "spin", &s1, &err);
        uint64_t t1 = now_ns();
        printf("harness: cpu ratio=%.3f pid=%d throttled=%llu psi=%d\n",
               (double)(s1.cpu_usage_us - s0.cpu_usage_us) * 1000.0 / (double)(t1 - t0), (int)pid,
               (unsigned long long)s1.cpu_nr_throttled, s1.has_psi);
        cgroup_container_kill(&root, "spin", &err);
        printf("harness: spin empty after %d ms\n", wait_empty(&root, "spin", 2000));
        printf("harness: spin remove %d\n", cgroup_container_remove(&root, "spin", &err));
    }

    /* pids */
    spec_init(&c, "bomb");
    c.pids_max = 64;
    c.pids_line = 1;   /* as if given in a manifest */
    if (cgroup_container_create(&root, &c, &fd, &err) < 0) {
        printf("harness: create bomb: %s\n", err.msg);
    } else {
        spawn_into(fd, do_bomb);
        close(fd);
        uint64_t max = 0;
        for (int i = 0; i < 150; i++) {
            struct cgroup_stats s;
            if (cgroup_container_stats(&root, "bomb", &s, &err) == 0 && s.pids_current > max)
                max = s.pids_current;
            msleep(10);
        }
        show("bomb pids.events", "/sys/fs/cgroup/keel/containers/bomb/pids.events");
        printf("harness: pids max_seen=%llu\n", (unsigned long long)max);
        cgroup_container_kill(&root, "bomb", &err);
        printf("harness: bomb empty after %d ms\n", wait_empty(&root, "bomb", 3000));
        printf("harness: bomb remove %d\n", cgroup_container_remove(&root, "bomb", &err));
    }

    /* memory */
    spec_init(&c, "hog");
    c.memory_max = 32 << 20;
    /* No memory.high: without swap, anonymous memory above it cannot be
     * reclaimed and the kernel throttles the hog for a long time before
     * memory.max is reached. */
    c.memory_swap = 0;
    if (cgroup_container_create(&root, &c, &fd, &err) < 0) {
        printf("harness: create hog: %s\n", err.msg);
    } else {
        int efd = cgroup_container_events_fd(&root, "hog", "memory.events", &err);
        pid_t pid = spawn_into(fd, do_hog);
        close(fd);
        int status = 0;
        waitpid(pid, &status, 0);
        struct cgroup_events ev;
        cgroup_container_events(&root, "hog", &ev, &err);
        struct cgroup_stats s;
        cgroup_container_stats(&root, "hog", &s, &err);
        printf("harness: hog status signaled=%d sig=%d oom_kill=%llu group_kill=%llu peak=%llu efd=%d\n",
               WIFSIGNALED(status), WIFSIGNALED(status) ? WTERMSIG(status) : 0,
               (unsigned long long)ev.oom_kill, (unsigned long long)ev.oom_group_kill,
               (unsigned long long)s.memory_peak, efd >= 0);
        close_safe(efd);
        wait_empty(&root, "hog", 2000);
        printf("harness: hog remove %d\n", cgroup_container_remove(&root, "hog", &err));
    }

    /* kill of a continuously forking container */
    spec_init(&c, "forker");
    if (cgroup_container_create(&root, &c, &fd, &err) < 0) {
        printf("harness: create forker: %s\n", err.msg);
    } else {
        spawn_into(fd, do_forker);
        close(fd);
        msleep(500);
        struct cgroup_stats s;
        cgroup_container_stats(&root, "forker", &s, &err);
        printf("harness: forker pids=%llu\n", (unsigned long long)s.pids_current);
        int r = cgroup_container_kill(&root, "forker", &err);
        printf("harness: forker kill %d, empty after %d ms\n", r, wait_empty(&root, "forker", 2000));
        printf("harness: forker remove %d\n", cgroup_container_remove(&root, "forker", &err));
    }

    /* a limit on a controller keel's subtree lacks: hugetlb is not ours, so
     * take one away and ask for it */
    root.controllers &= ~CG_IO;
    spec_init(&c, "io");
    c.io_weight = 200;
    printf("harness: io refused %d: %s\n", cgroup_container_create(&root, &c, &fd, &err), err.msg);

    printf("harness: done\n");
off:
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}
