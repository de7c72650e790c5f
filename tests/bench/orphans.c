/* orphans.c — the orphan generator of the reaping benchmark.
 *
 *   orphans N
 *
 * Hands N orphans that have already exited to the reaper at once (whoever
 * adopts orphans here: the PID 1 of this PID namespace, or the nearest child
 * subreaper) and measures how long it takes to reap them all: the reaper's
 * own work, after the last orphan exited.
 *
 *  1. A spawner child forks the N orphans, which exit at once, and waits
 *     until each is a zombie without reaping it (waitid with WNOWAIT).
 *  2. The spawner exits: the kernel re-parents all N zombies to the reaper
 *     and sends it SIGCHLD.  That is done before the spawner itself becomes
 *     a zombie, so when this process has reaped the spawner (t0) the reaper
 *     holds all N.
 *  3. Wait until every orphan's pid is gone: kill(pid, 0) succeeds on a
 *     zombie and fails with ESRCH once it is reaped (t1).  waitpid(-1) reaps
 *     in the order children joined the reaper, so the last-made orphan is
 *     polled alone, then all are checked (and polled again if any is left).
 *     Nothing else forks in the namespace meanwhile: no pid is reused.
 *
 * Prints "create_ms=C reap_ms=R" on stdout: C the time to make the N
 * orphans, R = t1 - t0.  Exit status 0, or 1 with a message when something
 * failed, or when the orphans were not all reaped within 60 s.
 *
 * Built by tests/bench/run with gcc -O2 -static.  Not part of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 2 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: orphans N\n");
        return 2;
    }
    int n = atoi(argv[1]);
    /* Shared with the spawner, which fills in the orphans' pids. */
    pid_t *pids = mmap(NULL, (size_t)n * sizeof *pids, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pids == MAP_FAILED) {
        perror("orphans: setup");
        return 1;
    }
    double tc = now_ms();
    pid_t spawner = fork();
    if (spawner < 0) {
        perror("orphans: fork");
        return 1;
    }
    if (spawner == 0) {
        for (int i = 0; i < n; i++) {
            pid_t o = fork();
            if (o < 0) {
                fprintf(stderr, "orphans: cannot fork (after %d orphans): %s\n", i, strerror(errno));
                _exit(1);
            }
            if (o == 0)
                _exit(0);
            pids[i] = o;
        }
        /* Each one a zombie before we go, none reaped. */
        for (int i = 0; i < n; i++) {
            siginfo_t si;
            while (waitid(P_PID, (id_t)pids[i], &si, WEXITED | WNOWAIT) < 0)
                if (errno != EINTR)
                    _exit(1);
        }
        _exit(0);
    }
    int status;
    while (waitpid(spawner, &status, 0) < 0)
        if (errno != EINTR) {
            perror("orphans: waitpid");
            return 1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    double t0 = now_ms(), t1 = 0;

    /* The last one first, without pausing: it is the last to be reaped. */
    while (kill(pids[n - 1], 0) == 0 || errno != ESRCH) {
        if (now_ms() - t0 > 60000)
            break;
    }
    t1 = now_ms();
    int left = n;
    struct timespec pause = { 0, 100000 };   /* 0.1 ms between full scans */
    for (;;) {
        int k = 0;
        for (int i = 0; i < left; i++)
            if (kill(pids[i], 0) == 0 || errno != ESRCH)
                pids[k++] = pids[i];
        left = k;
        if (left == 0)
            break;
        t1 = 0;   /* not in the order assumed: time the full scans instead */
        if (now_ms() - t0 > 60000) {
            fprintf(stderr, "orphans: %d of %d orphans still not reaped after 60 s\n", left, n);
            return 1;
        }
        nanosleep(&pause, NULL);
    }
    if (t1 == 0)
        t1 = now_ms();
    printf("create_ms=%.3f reap_ms=%.3f\n", t0 - tc, t1 - t0);
    return 0;
}
