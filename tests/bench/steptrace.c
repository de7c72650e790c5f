/* steptrace.c — which instructions of a program's text one process executes.
 *
 *   steptrace OUT PROGRAM [ARG]...
 *
 * Runs PROGRAM under ptrace and single-steps that one process (not its
 * children: the kernel turns stepping off in a forked child), recording every
 * instruction address inside the executable mapping of PROGRAM's own file.
 * On SIGUSR1 or SIGTERM to steptrace, or when PROGRAM exits, it writes the
 * distinct addresses (hex, ascending, one a line) to OUT; on a signal it then
 * detaches, leaving PROGRAM running untraced.  It prints "steptrace: pid N"
 * on stderr once PROGRAM runs.
 *
 * Used by tests/bench/hotlist to learn which functions keel's PID 1 runs
 * with 10 idle containers (link/hot.ld).  Every instruction is one stop of
 * the tracee: a few microseconds each, so a traced keel is ~100 times slower
 * than usual; timing is meaningless here, only the set of addresses counts.
 *
 * Built by tests/bench/hotlist with gcc -O2 -static.  Not part of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_req;

static void on_signal(int sig)
{
    (void)sig;
    stop_req = 1;
}

/* The r-x mapping of the tracee's executable: [lo, hi). */
static int text_range(pid_t pid, uint64_t *lo, uint64_t *hi)
{
    char path[64], exe[4096], line[4096 + 128];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    if (n < 0)
        return -1;
    exe[n] = 0;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        char perms[8];
        int off = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &a, &b, perms, &off) < 3)
            continue;
        char *name = line + off;
        name[strcspn(name, "\n")] = 0;
        if (strcmp(perms, "r-xp") == 0 && strcmp(name, exe) == 0) {
            *lo = a;
            *hi = b;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: steptrace OUT PROGRAM [ARG]...\n");
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pid_t pid = fork();
    if (pid < 0) {
        perror("steptrace: fork");
        return 1;
    }
    if (pid == 0) {
        signal(SIGUSR1, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
            perror("steptrace: PTRACE_TRACEME");
            _exit(127);
        }
        execv(argv[2], argv + 2);
        perror("steptrace: exec");
        _exit(127);
    }
    int st;
    /* The stop at the exec: the new image is mapped. */
    if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
        fprintf(stderr, "steptrace: %s did not start\n", argv[2]);
        return 1;
    }
    if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_EXITKILL) < 0) {
        perror("steptrace: PTRACE_SETOPTIONS");
        return 1;
    }
    uint64_t lo, hi;
    if (text_range(pid, &lo, &hi) < 0) {
        fprintf(stderr, "steptrace: no executable mapping of %s\n", argv[2]);
        return 1;
    }
    size_t len = hi - lo;
    uint8_t *seen = calloc(len / 8 + 1, 1);
    if (!seen) {
        perror("steptrace: calloc");
        return 1;
    }
    fprintf(stderr, "steptrace: pid %d\n", (int)pid);
    unsigned long steps = 0;
    int sig = 0, exited = 0;
    for (;;) {
        if (stop_req)
            break;
        if (ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(long)sig) < 0) {
            if (errno == ESRCH) {
                exited = 1;
                break;
            }
            perror("steptrace: PTRACE_SINGLESTEP");
            return 1;
        }
        pid_t w = waitpid(pid, &st, __WALL);
        if (w < 0 && errno == EINTR && stop_req) {
            /* Asked to stop while the tracee sleeps in a system call (an
             * idle keel waits in epoll_wait): stop it with SIGSTOP, let
             * any step that completes first go on, and detach at the
             * SIGSTOP, swallowing it. */
            kill(pid, SIGSTOP);
            for (;;) {
                while ((w = waitpid(pid, &st, __WALL)) < 0 && errno == EINTR)
                    ;
                if (w < 0 || !WIFSTOPPED(st)) {
                    exited = 1;
                    break;
                }
                if (WSTOPSIG(st) == SIGSTOP) {
                    sig = 0;
                    break;
                }
                ptrace(PTRACE_CONT, pid, NULL,
                       (void *)(long)(WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st)));
            }
            break;
        }
        if (w < 0) {
            perror("steptrace: waitpid");
            return 1;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            exited = 1;
            break;
        }
        sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
        struct user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
            continue;
        steps++;
        if (regs.rip >= lo && regs.rip < hi) {
            size_t o = regs.rip - lo;
            seen[o / 8] |= (uint8_t)(1u << (o % 8));
        }
    }
    FILE *out = fopen(argv[1], "we");
    if (!out) {
        perror("steptrace: open OUT");
        return 1;
    }
    for (size_t o = 0; o < len; o++)
        if (seen[o / 8] & (1u << (o % 8)))
            fprintf(out, "%lx\n", (unsigned long)(lo + o));
    if (fclose(out) != 0) {
        perror("steptrace: write OUT");
        return 1;
    }
    fprintf(stderr, "steptrace: %lu steps%s\n", steps, exited ? ", program exited" : "");
    if (!exited && ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)sig) < 0) {
        perror("steptrace: PTRACE_DETACH");
        return 1;
    }
    return 0;
}
