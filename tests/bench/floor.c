/* floor.c — the kernel's floor for starting a container: the least work that
 * gives a process the isolation keel, crun and runc give it in the start
 * benchmark, and nothing else.
 *
 *   floor [-v] [-t] STAGE LOWERS PROGRAM [ARG]...
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
 * Built by tests/bench/run with gcc -O2 -static.  Not part of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
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

static int verbose, clone_time;
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

static __attribute__((noreturn)) void child(const char *stage, const char *lowers, char **argv)
{
    char root[4096], upper[4096], work[4096], opts[8192];
    mark("child running");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");
    if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
        die("mount the stage tmpfs");
    snprintf(root, sizeof root, "%s/root", stage);
    snprintf(upper, sizeof upper, "%s/upper", stage);
    snprintf(work, sizeof work, "%s/work", stage);
    if (mkdir(root, 0755) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0)
        die("create root, upper and work");
    if ((size_t)snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lowers, upper, work) >= sizeof opts) {
        errno = E2BIG;
        die("build the overlay options");
    }
    mark("tmpfs mounted");
    if (mount("overlay", root, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
        die("mount the overlay");
    mark("overlay mounted");
    if (chdir(root) < 0)
        die("enter the new root");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        die("detach the old root");
    if (chdir("/") < 0)
        die("chdir /");
    mark("pivoted, exec");
    execv(argv[0], argv);
    die("exec the program");
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "-v") == 0) {
        verbose = 1;
        a++;
    }
    if (a < argc && strcmp(argv[a], "-t") == 0) {
        clone_time = 1;
        a++;
    }
    if (argc - a < 3) {
        fprintf(stderr, "usage: floor [-v] [-t] STAGE LOWERS PROGRAM [ARG]...\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    const char *stage = argv[a], *lowers = argv[a + 1];
    /* clone(2) without a stack behaves like fork(2) with namespace flags. */
    long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
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
