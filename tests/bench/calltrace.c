/* calltrace.c — which functions of a static program one process runs.
 *
 *   calltrace ADDRS OUT PROGRAM [ARG]...
 *
 * ADDRS lists the entry addresses of PROGRAM's functions (hex, one a line:
 * tests/bench/hotlist.py takes them from the unstripped binary's symbol
 * table).  calltrace runs PROGRAM under ptrace with a one-shot breakpoint
 * (int3) on each: the first call of a function stops the process, calltrace
 * records the address, puts the original byte back and lets it go on.  Only
 * that one process is traced: a child it forks (which inherits the armed
 * breakpoints) is attached by the kernel, has every original byte put back
 * and is let go, untraced.  On SIGUSR1 or SIGTERM to calltrace, or when
 * PROGRAM exits, calltrace writes the addresses hit (hex, ascending, one a
 * line) to OUT; on a signal it then puts every byte back and detaches,
 * leaving PROGRAM running.
 *
 * Used by tests/bench/hotlist to learn which functions keel's PID 1 runs
 * with 10 idle containers (link/hot.ld).  A stop per function, not per
 * instruction: a traced keel is only a little slower.  The breakpoints are
 * written through /proc/PID/mem, so the traced process's text pages become
 * private copies: measure memory in another, untraced run.
 *
 * Built by tests/bench/hotlist with gcc -O2 -static.  x86-64 only.  Not part
 * of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

struct bp {
    uint64_t addr;
    uint8_t orig;
    uint8_t armed;   /* in the main process */
    uint8_t hit;
};

static struct bp *bps;
static size_t nbps;

static int cmp_bp(const void *a, const void *b)
{
    uint64_t x = ((const struct bp *)a)->addr, y = ((const struct bp *)b)->addr;
    return x < y ? -1 : x > y;
}

static struct bp *find_bp(uint64_t addr)
{
    struct bp key = { .addr = addr };
    return bsearch(&key, bps, nbps, sizeof *bps, cmp_bp);
}

static int mem_open(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    return open(path, O_RDWR | O_CLOEXEC);
}

static int poke(int mem, uint64_t addr, uint8_t byte)
{
    return pwrite(mem, &byte, 1, (off_t)addr) == 1 ? 0 : -1;
}

/* Every original byte back, in a process that inherited the main one's
 * breakpoints (or the main one before it is let go). */
static void disarm_all(pid_t pid, int only_armed)
{
    int mem = mem_open(pid);
    if (mem < 0)
        return;
    for (size_t i = 0; i < nbps; i++)
        if (!only_armed || bps[i].armed)
            poke(mem, bps[i].addr, bps[i].orig);
    close(mem);
}

/* A process other than the main one stopped: a new child (its first stop)
 * or one we already let go.  Clean it and let it go. */
static void release_child(pid_t pid, int st)
{
    int sig = WIFSTOPPED(st) ? WSTOPSIG(st) : 0;
    if (!WIFSTOPPED(st))
        return;
    disarm_all(pid, 0);
    ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)(sig == SIGSTOP || sig == SIGTRAP ? 0 : sig));
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: calltrace ADDRS OUT PROGRAM [ARG]...\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "re");
    if (!in) {
        perror("calltrace: ADDRS");
        return 1;
    }
    size_t cap = 0;
    unsigned long a;
    while (fscanf(in, "%lx", &a) == 1) {
        if (nbps == cap) {
            cap = cap ? 2 * cap : 4096;
            bps = realloc(bps, cap * sizeof *bps);
            if (!bps) {
                perror("calltrace: realloc");
                return 1;
            }
        }
        bps[nbps++] = (struct bp){ .addr = a };
    }
    fclose(in);
    qsort(bps, nbps, sizeof *bps, cmp_bp);
    size_t n = 0;
    for (size_t i = 0; i < nbps; i++)
        if (!n || bps[i].addr != bps[n - 1].addr)
            bps[n++] = bps[i];
    nbps = n;

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pid_t pid = fork();
    if (pid < 0) {
        perror("calltrace: fork");
        return 1;
    }
    if (pid == 0) {
        signal(SIGUSR1, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
            perror("calltrace: PTRACE_TRACEME");
            _exit(127);
        }
        execv(argv[3], argv + 3);
        perror("calltrace: exec");
        _exit(127);
    }
    int st;
    /* The stop at the exec: the new image is mapped, nothing of it ran. */
    if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
        fprintf(stderr, "calltrace: %s did not start\n", argv[3]);
        return 1;
    }
    long opts = PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;
    if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)opts) < 0) {
        perror("calltrace: PTRACE_SETOPTIONS");
        return 1;
    }
    int mem = mem_open(pid);
    if (mem < 0) {
        perror("calltrace: /proc/PID/mem");
        return 1;
    }
    size_t armed = 0;
    for (size_t i = 0; i < nbps; i++) {
        if (pread(mem, &bps[i].orig, 1, (off_t)bps[i].addr) != 1 || poke(mem, bps[i].addr, 0xcc) < 0) {
            fprintf(stderr, "calltrace: cannot set a breakpoint at %lx: %s\n", (unsigned long)bps[i].addr,
                    strerror(errno));
            return 1;
        }
        bps[i].armed = 1;
        armed++;
    }
    fprintf(stderr, "calltrace: pid %d, %zu breakpoints\n", (int)pid, armed);

    size_t hits = 0, children = 0;
    int exited = 0, stopping = 0;
    if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0) {
        perror("calltrace: PTRACE_CONT");
        return 1;
    }
    for (;;) {
        if (stop_req && !stopping) {
            /* Stop the main process wherever it is (an idle keel sleeps in
             * epoll_wait) and let it go at that stop. */
            stopping = 1;
            kill(pid, SIGSTOP);
        }
        pid_t w = waitpid(-1, &st, __WALL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD) {
                exited = 1;
                break;
            }
            perror("calltrace: waitpid");
            return 1;
        }
        if (w != pid) {
            if (WIFSTOPPED(st))
                children++;
            release_child(w, st);
            continue;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            exited = 1;
            break;
        }
        int sig = WSTOPSIG(st);
        if (sig == SIGTRAP && (st >> 16) != 0) {
            /* A fork, vfork or clone event: the child is released at its
             * own first stop above. */
            ptrace(PTRACE_CONT, pid, NULL, NULL);
            continue;
        }
        if (sig == SIGSTOP && stopping) {
            disarm_all(pid, 1);
            if (ptrace(PTRACE_DETACH, pid, NULL, NULL) < 0)
                perror("calltrace: PTRACE_DETACH");
            break;
        }
        if (sig == SIGTRAP) {
            struct user_regs_struct regs;
            struct bp *b;
            if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) == 0 && (b = find_bp(regs.rip - 1)) && b->armed) {
                poke(mem, b->addr, b->orig);
                b->armed = 0;
                b->hit = 1;
                hits++;
                regs.rip--;
                ptrace(PTRACE_SETREGS, pid, NULL, &regs);
                sig = 0;
            }
        }
        ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
    }
    FILE *out = fopen(argv[2], "we");
    if (!out) {
        perror("calltrace: OUT");
        return 1;
    }
    for (size_t i = 0; i < nbps; i++)
        if (bps[i].hit)
            fprintf(out, "%lx\n", (unsigned long)bps[i].addr);
    if (fclose(out) != 0) {
        perror("calltrace: write OUT");
        return 1;
    }
    fprintf(stderr, "calltrace: %zu functions run, %zu children let go%s\n", hits, children,
            exited ? ", program exited" : "");
    return 0;
}
