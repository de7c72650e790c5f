/* stopwatch.c — times one benchmark run from the outside, the same way for
 * every tool.
 *
 *   stopwatch [--log FILE] [--mntns PATH] [--seq N | --par N] -- PROGRAM [ARG]...
 *
 * Starts the clock, fork+execs PROGRAM (N times one after another with --seq,
 * N at once with --par; "{}" in an argument becomes the instance number
 * 0..N-1), waits for every instance, stops the clock and prints the elapsed
 * time in nanoseconds on stdout.  The children's stdout and stderr go to FILE
 * (appended; default /dev/null).  With --mntns the children first join the
 * mount namespace PATH (e.g. /proc/PID/ns/mnt): the peers run where the
 * host's cgroup v2 mount is hidden, without a wrapper process of their own.
 *
 * Exit status: 0 when every instance exited 0; 1 otherwise (the first bad
 * status is reported on stderr); 2 on a usage or system error.
 *
 * The driver (bench.py) pays for its own fork/exec of this program outside
 * the measured interval, so a figure holds only what the tool itself costs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* argv with "{}" replaced by i, in storage owned by the caller. */
static char **instance_argv(char **argv, int argc, int i, char *buf, size_t bufsz)
{
    char **out = calloc((size_t)argc + 1, sizeof *out);
    if (!out)
        return NULL;
    size_t used = 0;
    for (int k = 0; k < argc; k++) {
        char *p = strstr(argv[k], "{}");
        if (!p) {
            out[k] = argv[k];
            continue;
        }
        int n = snprintf(buf + used, bufsz - used, "%.*s%d%s", (int)(p - argv[k]), argv[k], i, p + 2);
        if (n < 0 || (size_t)n >= bufsz - used) {
            free(out);
            return NULL;
        }
        out[k] = buf + used;
        used += (size_t)n + 1;
    }
    return out;
}

static pid_t spawn(char **argv, int argc, int i, int logfd, int nsfd)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char buf[8192];
    char **av = instance_argv(argv, argc, i, buf, sizeof buf);
    if (!av)
        _exit(125);
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWNS) < 0) {
        dprintf(logfd, "stopwatch: cannot join the mount namespace: %s\n", strerror(errno));
        _exit(125);
    }
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
        _exit(125);
    execvp(av[0], av);
    dprintf(2, "stopwatch: cannot execute %s: %s\n", av[0], strerror(errno));
    _exit(127);
}

static int bad_status(int status, const char *prog)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "stopwatch: %s exited with status %d\n", prog, WEXITSTATUS(status));
    else
        fprintf(stderr, "stopwatch: %s was killed by signal %d\n", prog, WTERMSIG(status));
    return 1;
}

int main(int argc, char **argv)
{
    const char *log = "/dev/null", *mntns = NULL;
    int n = 1, parallel = 0, a = 1;
    for (; a < argc && strcmp(argv[a], "--") != 0; a++) {
        if (strcmp(argv[a], "--log") == 0 && a + 1 < argc)
            log = argv[++a];
        else if (strcmp(argv[a], "--mntns") == 0 && a + 1 < argc)
            mntns = argv[++a];
        else if ((strcmp(argv[a], "--seq") == 0 || strcmp(argv[a], "--par") == 0) && a + 1 < argc) {
            parallel = strcmp(argv[a], "--par") == 0;
            n = atoi(argv[++a]);
        } else
            break;
    }
    if (a >= argc || strcmp(argv[a], "--") != 0 || a + 1 >= argc || n < 1) {
        fprintf(stderr, "usage: stopwatch [--log FILE] [--mntns PATH] [--seq N | --par N] -- PROGRAM [ARG]...\n");
        return 2;
    }
    char **prog = argv + a + 1;
    int progc = argc - a - 1;
    int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "stopwatch: cannot open %s: %s\n", log, strerror(errno));
        return 2;
    }
    int nsfd = -1;
    if (mntns && (nsfd = open(mntns, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "stopwatch: cannot open %s: %s\n", mntns, strerror(errno));
        return 2;
    }
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids)
        return 2;

    int failed = 0;
    long long t0 = now_ns();
    if (parallel) {
        for (int i = 0; i < n; i++)
            if ((pids[i] = spawn(prog, progc, i, logfd, nsfd)) < 0) {
                perror("stopwatch: fork");
                return 2;
            }
        for (int i = 0; i < n; i++) {
            int status;
            while (waitpid(pids[i], &status, 0) < 0)
                if (errno != EINTR) {
                    perror("stopwatch: waitpid");
                    return 2;
                }
            failed |= bad_status(status, prog[0]);
        }
    } else {
        for (int i = 0; i < n; i++) {
            pid_t pid = spawn(prog, progc, i, logfd, nsfd);
            if (pid < 0) {
                perror("stopwatch: fork");
                return 2;
            }
            int status;
            while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                    perror("stopwatch: waitpid");
                    return 2;
                }
            failed |= bad_status(status, prog[0]);
        }
    }
    long long t1 = now_ns();
    printf("%lld\n", t1 - t0);
    free(pids);
    return failed;
}
