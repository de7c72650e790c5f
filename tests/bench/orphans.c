/* orphans.c — the orphan generator of the reaping benchmark.
 *
 *   orphans N
 *
 * Makes N orphans and lets them all exit at once, then measures how long the
 * reaper (whoever adopts orphans here: the PID 1 of this PID namespace, or
 * the nearest child subreaper) takes to reap them.
 *
 *  1. For each of the N: fork an intermediate child, which forks the orphan
 *     and exits at once; this process reaps the intermediate, so the orphan is
 *     re-parented to the reaper.  Each orphan blocks reading a pipe.
 *  2. All N exist and belong to the reaper: close the pipe's write end; every
 *     orphan reads EOF and exits (t0).
 *  3. Poll until every orphan's pid is gone: kill(pid, 0) succeeds on a
 *     zombie and fails with ESRCH once it is reaped (t1).  Nothing else forks
 *     in the namespace meanwhile, so a pid cannot be reused in between.
 *
 * Prints "create_ms=C reap_ms=R" on stdout: C the time to make the N orphans,
 * R = t1 - t0, the time from the release until the last one is reaped (it
 * includes the orphans' own exits, the same work under every reaper).
 * Exit status 0, or 1 with a message when something failed, or when the
 * orphans were not all reaped within 60 s (a reaper that does not reap).
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
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    int release[2], report[2];
    if (!pids || pipe2(release, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
        perror("orphans: setup");
        return 1;
    }
    double tc = now_ms();
    for (int i = 0; i < n; i++) {
        pid_t mid = fork();
        if (mid < 0) {
            fprintf(stderr, "orphans: cannot fork (after %d orphans): %s\n", i, strerror(errno));
            return 1;
        }
        if (mid == 0) {
            pid_t o = fork();
            if (o == 0) {
                char c;
                close(release[1]);
                close(report[0]);
                close(report[1]);
                while (read(release[0], &c, 1) < 0 && errno == EINTR)
                    ;
                _exit(0);
            }
            (void)!write(report[1], &o, sizeof o);
            _exit(o < 0 ? 1 : 0);
        }
        int status;
        while (waitpid(mid, &status, 0) < 0)
            if (errno != EINTR) {
                perror("orphans: waitpid");
                return 1;
            }
        if (read(report[0], &pids[i], sizeof pids[i]) != (ssize_t)sizeof pids[i] || pids[i] <= 0 ||
            !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "orphans: the intermediate child %d could not fork\n", i);
            return 1;
        }
    }
    double t0 = now_ms();
    close(release[1]);

    int left = n;
    struct timespec pause = { 0, 100000 };   /* 0.1 ms between scans */
    while (left > 0) {
        int k = 0;
        for (int i = 0; i < left; i++)
            if (kill(pids[i], 0) == 0 || errno != ESRCH)
                pids[k++] = pids[i];
        left = k;
        if (left == 0)
            break;
        if (now_ms() - t0 > 60000) {
            fprintf(stderr, "orphans: %d of %d orphans still not reaped after 60 s\n", left, n);
            return 1;
        }
        nanosleep(&pause, NULL);
    }
    double t1 = now_ms();
    printf("create_ms=%.3f reap_ms=%.3f\n", t0 - tc, t1 - t0);
    return 0;
}
