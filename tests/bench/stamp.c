/* stamp.c — the container command of the start-latency benchmark (bench.py
 * section "startlat", tests/bench/vmbench.sh): its very first instruction
 * reads CLOCK_MONOTONIC, before any C runtime start-up (there is none: it is
 * built -nostdlib, x86-64 only, with raw system calls), so that "the
 * container's first instruction" is what every figure ends at.
 *
 *   stamp                       print "stamp start NS" and exit 0
 *   stamp crash                 print "stamp start NS", wait for SIGUSR1, then
 *                               read the clock, print "stamp exit NS" and exit
 *                               1 at once (the "crash" a restart follows)
 *   stamp request SOCKET NAME   a client of keel's control socket: connect,
 *                               read the clock, write {"op":"start","name":NAME},
 *                               read the answer; print "stamp request NS" and the
 *                               answer line; exit 0 when it says "ok":true
 *
 * NS is CLOCK_MONOTONIC in nanoseconds (no time namespace is involved, so the
 * container's clock is the host's).  Lines go to stdout with one write(2).
 * The floor (floor.c -t) execs the same program and prints the time it read
 * just before its clone, so both sides end at the same instruction.
 *
 * Built by tests/bench/run with gcc -O2 -static -nostdlib.  Not part of keel.
 */
#ifndef __x86_64__
#error "stamp.c is x86-64 only (raw system calls)"
#endif

typedef unsigned long u64;
typedef long s64;

#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_rt_sigprocmask 14
#define SYS_nanosleep 35
#define SYS_socket 41
#define SYS_connect 42
#define SYS_exit_group 231
#define SYS_clock_gettime 228
#define SYS_rt_sigtimedwait 128
#define CLOCK_MONOTONIC 1
#define SIGUSR1 10

struct ts {
    s64 sec, nsec;
};

/* Filled by _start's first instructions. */
struct ts stamp_first;

int stamp_main(long argc, char **argv);

/* _start: clock_gettime(CLOCK_MONOTONIC, &stamp_first) before anything else,
 * then stamp_main(argc, argv) on an aligned stack and exit_group with its value. */
__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "    mov $228, %eax\n"
        "    mov $1, %edi\n"
        "    lea stamp_first(%rip), %rsi\n"
        "    syscall\n"
        "    xor %ebp, %ebp\n"
        "    mov (%rsp), %rdi\n"
        "    lea 8(%rsp), %rsi\n"
        "    and $-16, %rsp\n"
        "    call stamp_main\n"
        "    mov %eax, %edi\n"
        "    mov $231, %eax\n"
        "    syscall\n"
        "    hlt\n");

static s64 sys3(s64 n, s64 a, s64 b, s64 c)
{
    s64 r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static s64 sys4(s64 n, s64 a, s64 b, s64 c, s64 d)
{
    s64 r;
    register s64 r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

static u64 ns_of(const struct ts *t)
{
    return (u64)t->sec * 1000000000ul + (u64)t->nsec;
}

static u64 now(void)
{
    struct ts t;
    sys3(SYS_clock_gettime, CLOCK_MONOTONIC, (s64)&t, 0);
    return ns_of(&t);
}

static u64 len(const char *s)
{
    u64 n = 0;
    while (s[n])
        n++;
    return n;
}

static int eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Appends s to buf at *at (bounded by cap). */
static void put(char *buf, u64 cap, u64 *at, const char *s)
{
    while (*s && *at < cap)
        buf[(*at)++] = *s++;
}

static void put_u64(char *buf, u64 cap, u64 *at, u64 v)
{
    char d[24];
    int n = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 24);
    while (n > 0 && *at < cap)
        buf[(*at)++] = d[--n];
}

/* One line "stamp WHAT NS\n" to stdout in one write. */
static void say(const char *what, u64 ns)
{
    char line[96];
    u64 at = 0;
    put(line, sizeof line, &at, "stamp ");
    put(line, sizeof line, &at, what);
    put(line, sizeof line, &at, " ");
    put_u64(line, sizeof line, &at, ns);
    put(line, sizeof line, &at, "\n");
    sys3(SYS_write, 1, (s64)line, (s64)at);
}

static int crash(void)
{
    u64 set = 1ul << (SIGUSR1 - 1);
    if (sys4(SYS_rt_sigprocmask, 0 /* SIG_BLOCK */, (s64)&set, 0, 8) < 0)
        return 2;
    /* Wait for SIGUSR1 (a timeout of a day: the bench always sends it). */
    struct ts day = { 86400, 0 };
    while (sys4(SYS_rt_sigtimedwait, (s64)&set, 0, (s64)&day, 8) != SIGUSR1)
        ;
    say("exit", now());
    return 1;
}

static int request(const char *path, const char *name)
{
    struct {
        unsigned short family;
        char path[108];
    } sa = { 1 /* AF_UNIX */, { 0 } };
    if (len(path) >= sizeof sa.path || len(name) > 200)
        return 2;
    for (u64 i = 0; path[i]; i++)
        sa.path[i] = path[i];
    s64 fd = sys3(SYS_socket, 1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | 02000000 /* SOCK_CLOEXEC */, 0);
    if (fd < 0 || sys3(SYS_connect, fd, (s64)&sa, sizeof sa) < 0)
        return 2;
    char req[256];
    u64 at = 0;
    put(req, sizeof req, &at, "{\"op\":\"start\",\"name\":\"");
    put(req, sizeof req, &at, name);
    put(req, sizeof req, &at, "\"}\n");
    u64 t0 = now();
    if (sys3(SYS_write, fd, (s64)req, (s64)at) != (s64)at)
        return 2;
    char ans[4096];
    u64 got = 0;
    while (got < sizeof ans - 1) {
        s64 n = sys3(SYS_read, fd, (s64)ans + (s64)got, (s64)(sizeof ans - 1 - got));
        if (n <= 0)
            break;
        got += (u64)n;
        if (ans[got - 1] == '\n')
            break;
    }
    sys3(SYS_close, fd, 0, 0);
    ans[got] = '\0';
    say("request", t0);
    sys3(SYS_write, 1, (s64)ans, (s64)got);
    for (u64 i = 0; i + 9 <= got; i++) {
        const char *ok = "\"ok\":true";
        u64 k = 0;
        while (k < 9 && ans[i + k] == ok[k])
            k++;
        if (k == 9)
            return 0;
    }
    return 1;
}

int stamp_main(long argc, char **argv)
{
    if (argc >= 4 && eq(argv[1], "request"))
        return request(argv[2], argv[3]);
    say("start", ns_of(&stamp_first));
    if (argc >= 2 && eq(argv[1], "crash"))
        return crash();
    return 0;
}
