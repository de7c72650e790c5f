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
 * the parent-death signal: nothing to outlive).  That code is in floor-iso.c,
 * shared with the isolated boot floor (floor-init.c, isolate=1).
 *
 * Built by tests/bench/run with gcc -O2 -static, with floor-iso.c.  Not part of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor-iso.h"

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

__attribute__((noreturn)) void die(const char *what)
{
    fprintf(stderr, "floor: cannot %s: %s\n", what, strerror(errno));
    _exit(126);
}

#define HOSTNAME "c"   /* the bench's container's name */

static __attribute__((noreturn)) void child(const char *stage, const char *lowers, char **argv)
{
    char root[4096], upper[4096], work[4096], init[4096], opts[8192];
    mark("child running");
    if (isolated) {
        iso_session(HOSTNAME);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");
    if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
        die("mount the stage tmpfs");
    if (isolated)
        iso_stage(stage, HOSTNAME, true, init);
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
        iso_root(stage, true);
        mark("/proc, /dev, /etc mounted");
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        die("detach the old root");
    if (chdir("/") < 0)
        die("chdir /");
    if (isolated)
        iso_process();
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
