/* calltrace.c — which functions of a static program one process runs.
 *
 *   calltrace ADDRS OUT PROGRAM [ARG]...
 *   calltrace            (as a VM's rdinit: /calltrace.funcs - /init, see below)
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
 * OUT "-" prints the addresses on stderr as "calltrace: hit ADDR" lines.
 * When PROGRAM execs (keel at boot re-executes itself), the breakpoints are
 * set again in the new image; the hits of both count.
 *
 * Without arguments calltrace is a VM's first process (rdinit=/calltrace,
 * tests/bench/hotlist-vm): it runs /init (keel) as PID 1 of a new PID
 * namespace, so that keel boots as it does as the machine's PID 1 while
 * being traced, stops after CALLTRACE_SECONDS (60) seconds, prints the hits
 * on the console, and then only reaps, as an init must never exit.
 *
 * Used by tests/bench/hotlist to learn which functions keel's PID 1 runs
 * with 10 idle containers (link/hot.ld).  A stop per function, not per
 * instruction: a traced keel is only a little slower.  The breakpoints are
 * written with PTRACE_POKETEXT, so the traced process's text pages become
 * private copies: measure memory in another, untraced run.
 *
 * Built by tests/bench/hotlist with gcc -O2 -static.  x86-64 only.  Not part
 * of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_req;

static void on_signal(int sig)
{
    (void)sig;
    stop_req = 1;
}

/* The breakpoints of the (new) image of pid: the original bytes read again. */
static int arm_all(pid_t pid);

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

/* One byte of the stopped tracee's memory, read or written a word at a time
 * (PTRACE_PEEKTEXT/POKETEXT: no /proc needed, which a VM's first process
 * does not have). */
static int peek(pid_t pid, uint64_t addr, uint8_t *byte)
{
    errno = 0;
    long w = ptrace(PTRACE_PEEKTEXT, pid, (void *)addr, NULL);
    if (errno)
        return -1;
    *byte = (uint8_t)(w & 0xff);
    return 0;
}

static int poke(pid_t pid, uint64_t addr, uint8_t byte)
{
    errno = 0;
    long w = ptrace(PTRACE_PEEKTEXT, pid, (void *)addr, NULL);
    if (errno)
        return -1;
    w = (long)(((unsigned long)w & ~0xffUL) | byte);
    return ptrace(PTRACE_POKETEXT, pid, (void *)addr, (void *)w) < 0 ? -1 : 0;
}

/* Every original byte back, in a process that inherited the main one's
 * breakpoints (or the main one before it is let go). */
static void disarm_all(pid_t pid, int only_armed)
{
    for (size_t i = 0; i < nbps; i++)
        if (!only_armed || bps[i].armed)
            poke(pid, bps[i].addr, bps[i].orig);
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
    static char *vm_argv[] = { "calltrace", "/calltrace.funcs", "-", "/init", NULL };
    int vm = argc == 1 && getpid() == 1;
    if (vm) {
        argv = vm_argv;
        argc = 4;
    }
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
    if (vm) {
        sigaction(SIGALRM, &sa, NULL);
        const char *secs = getenv("CALLTRACE_SECONDS");
        alarm(secs ? (unsigned)atoi(secs) : 60);
    }

    /* In a VM, keel must be PID 1 (of a new PID namespace) to boot. */
    pid_t pid = vm ? (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) : fork();
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
    long opts = PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                PTRACE_O_TRACEEXEC;
    if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)opts) < 0) {
        perror("calltrace: PTRACE_SETOPTIONS");
        return 1;
    }
    if (arm_all(pid) < 0)
        return 1;
    fprintf(stderr, "calltrace: pid %d, %zu breakpoints\n", (int)pid, nbps);

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
        if (sig == SIGTRAP && (st >> 16) == PTRACE_EVENT_EXEC) {
            /* A new image: its memory has none of the breakpoints. */
            if (arm_all(pid) < 0)
                return 1;
            ptrace(PTRACE_CONT, pid, NULL, NULL);
            continue;
        }
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
                poke(pid, b->addr, b->orig);
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
    int to_err = strcmp(argv[2], "-") == 0;
    FILE *out = to_err ? stderr : fopen(argv[2], "we");
    if (!out) {
        perror("calltrace: OUT");
        return 1;
    }
    for (size_t i = 0; i < nbps; i++)
        if (bps[i].hit)
            fprintf(out, "%s%lx\n", to_err ? "calltrace: hit " : "", (unsigned long)bps[i].addr);
    if (!to_err && fclose(out) != 0) {
        perror("calltrace: write OUT");
        return 1;
    }
    fprintf(stderr, "calltrace: %zu functions run, %zu children let go%s\n", hits, children,
            exited ? ", program exited" : "");
    if (vm) {
        /* The machine's init: never exit; reap what is left to it. */
        for (;;)
            if (wait(NULL) < 0 && errno == ECHILD)
                pause();
    }
    return 0;
}

static int arm_all(pid_t pid)
{
    for (size_t i = 0; i < nbps; i++) {
        if (peek(pid, bps[i].addr, &bps[i].orig) < 0 || poke(pid, bps[i].addr, 0xcc) < 0) {
            fprintf(stderr, "calltrace: cannot set a breakpoint at %lx: %s\n", (unsigned long)bps[i].addr,
                    strerror(errno));
            return -1;
        }
        bps[i].armed = 1;
    }
    return 0;
}
