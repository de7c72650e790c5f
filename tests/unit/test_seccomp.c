/* test_seccomp.c — the custom filter parser, the default filter's table,
 * and filters really loaded in forked children. */
#include "keel/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/vm_sockets.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keel/util.h"
#include "unit.h"

#define CAPS_DEFAULT ((1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FSETID) | \
                      (1ull << CAP_FOWNER) | (1ull << CAP_SETGID) | (1ull << CAP_SETUID) | \
                      (1ull << CAP_SETFCAP) | (1ull << CAP_SETPCAP) | (1ull << CAP_NET_BIND_SERVICE) | \
                      (1ull << CAP_SYS_CHROOT) | (1ull << CAP_KILL) | (1ull << CAP_AUDIT_WRITE))

static int parse(const char *text, struct seccomp_profile *p, char ***errors)
{
    return seccomp_profile_parse("f.sc", text, strlen(text), p, errors);
}

TEST(parse_good)
{
    struct seccomp_profile p;
    char **errors = NULL;
    const char *text = "# keel seccomp filter\n"
                       "\n"
                       "default errno ENOSYS   # unknown calls fail\n"
                       "allow read\r\n"
                       "  allow\twrite\n"
                       "errno keyctl\n"
                       "errno bpf EACCES\n"
                       "errno ptrace 13\n"
                       "kill kexec_load\n"
                       "allow vm86\n";         /* i386-only names are known too */
    CHECK_INT(parse(text, &p, &errors), 0);
    CHECK(errors == NULL);
    CHECK_INT(p.default_action, SECCOMP_ERRNO);
    CHECK_INT(p.default_errno, ENOSYS);
    CHECK_INT(p.n_rules, 7);
    CHECK_STR(p.rules[0].name, "read");
    CHECK_INT(p.rules[0].action, SECCOMP_ALLOW);
    CHECK_INT(p.rules[0].line, 4);
    CHECK_STR(p.rules[1].name, "write");
    CHECK_INT(p.rules[2].action, SECCOMP_ERRNO);
    CHECK_INT(p.rules[2].errno_value, EPERM);
    CHECK_INT(p.rules[3].errno_value, EACCES);
    CHECK_INT(p.rules[4].errno_value, 13);
    CHECK_INT(p.rules[5].action, SECCOMP_KILL);
    CHECK_INT(p.rules[5].line, 9);
    seccomp_profile_free(&p);

    CHECK_INT(parse("default allow", &p, &errors), 0);   /* no trailing newline */
    CHECK_INT(p.default_action, SECCOMP_ALLOW);
    CHECK_INT(p.n_rules, 0);
    seccomp_profile_free(&p);
    CHECK_INT(parse("kill getppid\ndefault kill\n", &p, &errors), 0);  /* default anywhere */
    CHECK_INT(p.default_action, SECCOMP_KILL);
    seccomp_profile_free(&p);
}

/* Parses `text`, expects failure with exactly the given messages. */
static void expect_errors(const char *text, const char *const *want, size_t n)
{
    struct seccomp_profile p;
    char **errors = NULL;
    CHECK_INT(parse(text, &p, &errors), -EINVAL);
    CHECK(p.rules == NULL && p.n_rules == 0);
    CHECK_INT(strv_len(errors), n);
    for (size_t i = 0; i < n && i < strv_len(errors); i++)
        CHECK_STR(errors[i], want[i]);
    strv_free(errors);
}

TEST(parse_errors)
{
    expect_errors("", (const char *[]){ "f.sc:1: missing \"default\" action line" }, 1);
    expect_errors("allow read\n", (const char *[]){ "f.sc:1: missing \"default\" action line" }, 1);
    expect_errors("default allow\ndefault kill\n",
                  (const char *[]){ "f.sc:2: duplicate default action (first at line 1)" }, 1);
    expect_errors("default deny\n", (const char *[]){
        "f.sc:1: expected \"default allow\", \"default errno [ERRNO]\" or \"default kill\"" }, 1);
    expect_errors("default allow EPERM\n", (const char *[]){ "f.sc:1: unexpected \"EPERM\"" }, 1);
    expect_errors("default errno 0\n", (const char *[]){ "f.sc:1: invalid errno \"0\"" }, 1);
    expect_errors("default allow\nerrno read 4096\nerrno write EWHAT\nerrno open -1\n", (const char *[]){
        "f.sc:2: invalid errno \"4096\" (a name such as EPERM or 1..4095)",
        "f.sc:3: invalid errno \"EWHAT\" (a name such as EPERM or 1..4095)",
        "f.sc:4: invalid errno \"-1\" (a name such as EPERM or 1..4095)" }, 3);
    expect_errors("default allow\nallow no_such_call\nblock read\nallow\nkill read EPERM\n", (const char *[]){
        "f.sc:2: unknown system call \"no_such_call\"",
        "f.sc:3: unknown action \"block\" (expected default, allow, errno or kill)",
        "f.sc:4: missing system call name after \"allow\"",
        "f.sc:5: unexpected \"EPERM\"" }, 4);
    expect_errors("default allow\nerrno read\nkill read\n",
                  (const char *[]){ "f.sc:3: duplicate rule for read (first at line 2)" }, 1);
    expect_errors("default allow\nerrno read EPERM extra\n",
                  (const char *[]){ "f.sc:2: too many words (expected: ACTION SYSCALL [ERRNO])" }, 1);
    char longw[200];
    snprintf(longw, sizeof longw, "default allow\nallow %0100d\n", 7);
    expect_errors(longw, (const char *[]){ "f.sc:2: word longer than 63 characters" }, 1);

    /* A NUL byte inside the buffer is reported, not a silent truncation. */
    static const char nul[] = "default allow\nallow re\0ad\n";
    struct seccomp_profile p;
    char **errors = NULL;
    CHECK_INT(seccomp_profile_parse("f.sc", nul, sizeof nul - 1, &p, &errors), -EINVAL);
    CHECK_INT(strv_len(errors), 1);
    if (errors)
        CHECK_STR(errors[0], "f.sc:2: NUL byte in line");
    strv_free(errors);
    /* errors may be NULL. */
    CHECK_INT(parse("bogus\n", &p, NULL), -EINVAL);
}

TEST(parse_garbage_never_crashes)
{
    unsigned seed = 777;
    static const char alphabet[] = "default allow errno kill read EPERM 12 # \n\t\r\0x";
    for (int round = 0; round < 2000; round++) {
        char buf[200];
        size_t len = (size_t)(round % 199);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        struct seccomp_profile p;
        char **errors = NULL;
        int r = seccomp_profile_parse("g", buf, len, &p, &errors);
        CHECK(r == 0 || r == -EINVAL);
        CHECK(r == 0 ? errors == NULL : errors != NULL);
        if (r == 0)
            seccomp_profile_free(&p);
        strv_free(errors);
    }
}

TEST(default_table)
{
    uint64_t caps = CAPS_DEFAULT;
    const char *blocked[] = { "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
                              "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
                              "open_by_handle_at", "name_to_handle_at", "mount", "umount2", "pivot_root",
                              "unshare", "setns", "clone3", "acct", "swapon", "swapoff", "reboot",
                              "settimeofday", "clock_settime", "adjtimex", "lookup_dcookie", "quotactl",
                              "ioperm", "iopl", "nfsservctl", "vm86", "io_uring_setup", "fsopen",
                              "move_mount", "open_tree", "kcmp", "syslog" };
    for (size_t i = 0; i < ARRAY_SIZE(blocked); i++)
        if (!seccomp_default_blocks(blocked[i], caps, 0)) {
            fprintf(stderr, "  not blocked: %s\n", blocked[i]);
            CHECK(0);
        }
    const char *allowed[] = { "read", "ptrace", "process_vm_readv", "chroot", "getpid",
                              "sethostname_is_not_a_call" };
    for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
        CHECK(!seccomp_default_blocks(allowed[i], caps, 0));
    /* Capabilities open their group, as in Docker's profile. */
    uint64_t admin = caps | (1ull << CAP_SYS_ADMIN);
    CHECK(!seccomp_default_blocks("mount", admin, 0));
    CHECK(!seccomp_default_blocks("setns", admin, 0));
    CHECK(!seccomp_default_blocks("bpf", caps | (1ull << CAP_BPF), 0));
    CHECK(!seccomp_default_blocks("reboot", caps | (1ull << CAP_SYS_BOOT), 0));
    CHECK(!seccomp_default_blocks("settimeofday", caps | (1ull << CAP_SYS_TIME), 0));
    CHECK(!seccomp_default_blocks("init_module", caps | (1ull << CAP_SYS_MODULE), 0));
    CHECK(seccomp_default_blocks("chroot", 0, 0));
    /* ... but not to user namespaces, unless nested_userns = yes (which alone
     * opens nothing). */
    CHECK(seccomp_default_blocks("unshare", admin, 0));
    CHECK(seccomp_default_blocks("clone3", admin, 0));
    CHECK(seccomp_default_blocks("clone", admin, 0));
    CHECK(!seccomp_default_blocks("unshare", admin, SECCOMP_NESTED_USERNS));
    CHECK(!seccomp_default_blocks("clone3", admin, SECCOMP_NESTED_USERNS));
    CHECK(seccomp_default_blocks("unshare", caps, SECCOMP_NESTED_USERNS));
    /* Never, whatever the capabilities. */
    CHECK(seccomp_default_blocks("kexec_load", ~0ull, SECCOMP_NESTED_USERNS));
    CHECK(seccomp_default_blocks("keyctl", ~0ull, 0));
    CHECK(seccomp_default_blocks("socket", ~0ull, 0));        /* AF_VSOCK */
    CHECK(seccomp_default_blocks("socketcall", ~0ull, 0));    /* i386 */
    CHECK(seccomp_default_blocks("personality", ~0ull, 0));   /* other personas */
}

/* In a child: no_new_privs, load `prog`, run `body`; the exit status says
 * which check failed (0 = all passed). */
static int run_filtered(const struct seccomp_prog *prog, int (*body)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        struct kerr err = { 0 };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(100);
        if (seccomp_install(prog, &err) < 0)
            _exit(101);
        /* exit_group directly: the sanitizers' _exit interceptor makes
         * system calls a strict filter refuses. */
        syscall(SYS_exit_group, body());
    }
    int status = -1;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static int eperm(long r)
{
    return r == -1 && errno == EPERM;
}

static int enosys(long r)
{
    return r == -1 && errno == ENOSYS;
}

/* System calls newer than the libseccomp 2.5.4 tables (Linux 6.8-6.15). */
#define NR_LISTMOUNT 458
#define NR_MSEAL 462
#define NR_OPEN_TREE_ATTR 467
#define X32_BIT 0x40000000L

/* Raw i386 system call through int 0x80 from 64-bit code. */
static long int80(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

/* i386 numbers (arch/x86/entry/syscalls/syscall_32.tbl). */
#define I386_GETPID 20
#define I386_SOCKETCALL 102
#define I386_PERSONALITY 136
#define I386_KEYCTL 288
#define I386_UNSHARE 310
#define I386_SOCKET 359

/* Whether this kernel runs i386 system calls (int 0x80) from a 64-bit
 * process (CONFIG_IA32_EMULATION, and ia32_emulation= not off).  Probed in a
 * child without a filter, with SIGSEGV at its default action: a kernel
 * without the emulation answers int 0x80 with SIGSEGV (or ENOSYS), and the
 * sanitizers' SIGSEGV handler would turn that into exit 1. */
static bool have_ia32(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        syscall(SYS_exit_group, int80(I386_GETPID, 0, 0, 0) == (long)getpid() ? 0 : 1);
    }
    int st = -1;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The i386 door, in a child of the filtered process (a kernel without ia32
 * emulation answers with a signal).  With the emulation the filter must
 * refuse keyctl, unshare(CLONE_NEWNS), socketcall, socket(AF_VSOCK), an
 * unsafe persona and a number above the table; without it every int 0x80
 * must fail (the kernel closes the door itself).  0 when as expected. */
static int i386_door(bool ia32)
{
    pid_t kid = fork();
    if (kid == 0) {
        signal(SIGSEGV, SIG_DFL);
        int bad = 0;
        if (int80(I386_KEYCTL, 0, 0, 0) != -EPERM)
            bad |= 1;
        if (int80(I386_UNSHARE, CLONE_NEWNS, 0, 0) != -EPERM)
            bad |= 2;
        if (int80(I386_SOCKETCALL, 1 /* SYS_SOCKET */, 0, 0) != -ENOSYS)
            bad |= 4;
        if (int80(I386_SOCKET, AF_VSOCK, SOCK_STREAM, 0) != -EPERM)
            bad |= 8;
        if (int80(I386_PERSONALITY, ADDR_NO_RANDOMIZE, 0, 0) != -EPERM)
            bad |= 16;
        if (int80(NR_MSEAL, 0, 0, 0) != -ENOSYS)
            bad |= 32;
        if (int80(I386_GETPID, 0, 0, 0) != (long)getpid())   /* the door itself is open */
            bad |= 64;
        syscall(SYS_exit_group, bad);
    }
    int st;
    if (kid < 0 || waitpid(kid, &st, 0) != kid)
        return 100;
    if (ia32)
        return WIFEXITED(st) ? WEXITSTATUS(st) : 101;
    /* No emulation: killed by the fault, or every call refused (the getpid
     * check, bit 64, then fails too). */
    return (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) || (WIFEXITED(st) && (WEXITSTATUS(st) & 64)) ? 0 : 102;
}

static bool ia32_present;

static int default_body(void)
{
    if (getpid() <= 0)
        return 1;
    if (!eperm(syscall(SYS_keyctl, 0, 0, 0, 0, 0)))
        return 2;
    if (!eperm(syscall(SYS_bpf, 0, NULL, 0)))
        return 3;
    if (!eperm(unshare(CLONE_NEWNS)))
        return 4;
    if (!eperm(syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0)))
        return 5;
    if (!(syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS))
        return 6;
    if (!eperm(mount("none", "/", NULL, MS_REMOUNT, NULL)))
        return 7;
    if (!eperm(syscall(SYS_kexec_load, 0, 0, NULL, 0)))
        return 8;
    if (!eperm(syscall(SYS_io_uring_setup, 1, NULL)))
        return 9;
    struct timeval tv = { 0 };
    if (!eperm(settimeofday(&tv, NULL)))
        return 10;
    if (!eperm(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0)))
        return 11;
    /* The x32 door: the same call with bit 30 set is filtered too. */
    if (!eperm(syscall(0x40000000 | SYS_keyctl, 0, 0, 0, 0, 0)))
        return 12;
    /* vsock is not namespaced: refused whatever the capabilities; other
     * families work. */
    if (!eperm(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)))
        return 20;
    int us = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (us < 0)
        return 21;
    close(us);
    /* Docker's personas only: the query and PER_LINUX32 pass, ADDR_NO_RANDOMIZE not. */
    if (!eperm(personality(ADDR_NO_RANDOMIZE)) || !eperm(personality(READ_IMPLIES_EXEC)))
        return 22;
    if (personality(0xffffffff) < 0 || personality(PER_LINUX32) < 0 || personality(PER_LINUX) < 0)
        return 23;
    /* Numbers above libseccomp's tables: ENOSYS, x86-64 and x32 (whose
     * numbers for new calls lie below its own block at 512). */
    if (!enosys(syscall(NR_LISTMOUNT, NULL, NULL, 0, 0)) || !enosys(syscall(NR_MSEAL, 0, 0, 0)) ||
        !enosys(syscall(NR_OPEN_TREE_ATTR, -1, NULL, 0, NULL, 0)) || !enosys(syscall(1000)))
        return 24;
    if (!enosys(syscall(X32_BIT | NR_MSEAL, 0, 0, 0)))
        return 25;
    /* fork (clone without namespace flags) still works. */
    pid_t kid = fork();
    if (kid < 0)
        return 13;
    if (kid == 0)
        _exit(0);
    int st;
    if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st))
        return 14;
    int door = i386_door(ia32_present);
    return door ? 30 + door : 0;
}

TEST(default_filter_loaded)
{
    struct seccomp_prog prog;
    struct kerr err = { 0 };
    ia32_present = have_ia32();
    if (!ia32_present)
        printf("# ia32 emulation absent: the kernel refuses int 0x80 itself (tests/vm/test_boot.sh checks the "
               "filter's i386 rules on a kernel with it)\n");
    CHECK_INT(seccomp_build_default(CAPS_DEFAULT, 0, &prog, &err), 0);
    CHECK(prog.len > 10 && prog.len < 4096);
    int status = run_filtered(&prog, default_body);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "  default filter child: status 0x%x\n", status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seccomp_prog_free(&prog);
    CHECK(prog.insns == NULL && prog.len == 0);
}

static int admin_body(void)
{
    /* With CAP_SYS_ADMIN in the set, the filter lets unshare through to
     * the kernel (which allows it: the test runs as root). */
    if (unshare(CLONE_NEWUTS) < 0)
        return errno == EPERM ? 1 : 0;
    return 0;
}

/* With CAP_SYS_ADMIN but not nested_userns: every namespace but a user
 * namespace, by clone or unshare; clone3 stays ENOSYS (its flags are in
 * memory), so libc's fork and posix_spawn fall back to clone. */
static int admin_no_userns_body(void)
{
    if (unshare(CLONE_NEWUTS) < 0)
        return 1;
    if (!eperm(unshare(CLONE_NEWUSER)) || !eperm(unshare(CLONE_NEWUSER | CLONE_NEWNS)))
        return 2;
    if (!eperm(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)))
        return 3;
    if (!enosys(syscall(SYS_clone3, NULL, 0)))
        return 4;
    pid_t kid = syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0);
    if (kid == 0)
        syscall(SYS_exit_group, 0);
    int st;
    if (kid < 0 || waitpid(kid, &st, 0) != kid || !WIFEXITED(st))
        return 5;
    return 0;
}

/* nested_userns = yes: a user namespace is allowed (the test runs as root,
 * so the kernel allows it too) and clone3 reaches the kernel. */
static int nested_userns_body(void)
{
    if (unshare(CLONE_NEWUSER) < 0)
        return errno == EPERM ? 1 : 2;
    if (enosys(syscall(SYS_clone3, NULL, 0)))
        return 3;
    return 0;
}

TEST(admin_filter_allows_namespaces)
{
    if (geteuid() != 0) {
        SKIP("needs root");
    }
    struct seccomp_prog prog;
    struct kerr err = { 0 };
    uint64_t admin = CAPS_DEFAULT | (1ull << CAP_SYS_ADMIN);
    CHECK_INT(seccomp_build_default(admin, 0, &prog, &err), 0);
    int status = run_filtered(&prog, admin_body);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    status = run_filtered(&prog, admin_no_userns_body);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "  admin filter child: status 0x%x\n", status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seccomp_prog_free(&prog);

    /* Positive control: nested_userns = yes lets the same calls through. */
    CHECK_INT(seccomp_build_default(admin, SECCOMP_NESTED_USERNS, &prog, &err), 0);
    status = run_filtered(&prog, nested_userns_body);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "  nested_userns child: status 0x%x\n", status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seccomp_prog_free(&prog);
}

/* The calls the guard refuses exist in this kernel (else their ENOSYS under
 * the filter proves nothing): listmount and mseal answer something else than
 * ENOSYS without a filter, and socket(AF_VSOCK) is not refused with EPERM. */
TEST(guard_positive_control)
{
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        if (enosys(syscall(NR_LISTMOUNT, NULL, NULL, 0, 0)) || enosys(syscall(NR_MSEAL, 0, 0, 0)))
            bad |= 1;
        if (eperm(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)))
            bad |= 2;
        if (personality(ADDR_NO_RANDOMIZE) < 0)
            bad |= 4;
        syscall(SYS_exit_group, bad);
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st));
    if (WIFEXITED(st) && (WEXITSTATUS(st) & 1))
        printf("# listmount/mseal are missing from this kernel (older than 6.10): their ENOSYS under the filter "
               "is the kernel's too\n");
    CHECK(WIFEXITED(st) && (WEXITSTATUS(st) & ~1) == 0);
}

static int allowlist_body(void)
{
    if (getpid() <= 0)
        return 1;
    if (!(syscall(SYS_getppid) == -1 && errno == ENOSYS))
        return 2;
    if (!(syscall(SYS_gettid) == -1 && errno == EACCES))
        return 3;
    return 0;
}

static int kill_body(void)
{
    syscall(SYS_getppid);
    return 0;
}

TEST(custom_filters_loaded)
{
    struct seccomp_profile p;
    char **errors = NULL;
    CHECK_INT(parse("default errno ENOSYS\nallow getpid\nallow exit_group\nallow exit\nerrno gettid EACCES\n",
                    &p, &errors), 0);
    struct seccomp_prog prog;
    struct kerr err = { 0 };
    CHECK_INT(seccomp_build_profile(&p, &prog, &err), 0);
    int status = run_filtered(&prog, allowlist_body);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "  allow-list child: status 0x%x\n", status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seccomp_prog_free(&prog);
    seccomp_profile_free(&p);

    CHECK_INT(parse("default allow\nkill getppid\nallow read\n", &p, &errors), 0);
    CHECK_INT(seccomp_build_profile(&p, &prog, &err), 0);
    status = run_filtered(&prog, kill_body);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
    seccomp_prog_free(&prog);
    seccomp_profile_free(&p);
}

/* The default filter for the default capability set comes from a table
 * compiled at build time (src/gen/seccomp_gen.c): it must be, byte for byte,
 * what libseccomp compiles now, for that set and for every set whose key
 * (the capabilities the filter looks at) is the same or differs by one
 * capability.  A key that ignored a capability the filter depends on would
 * hand a container another set's filter: the sets one capability away catch
 * that. */
static void check_same_as_compiled(uint64_t caps, unsigned opts)
{
    struct seccomp_prog a, b;
    struct kerr err = { 0 };
    CHECK_INT(seccomp_build_default(caps, opts, &a, &err), 0);
    CHECK_INT(seccomp_compile_default(caps, opts, &b, &err), 0);
    CHECK_INT(a.len, b.len);
    CHECK(a.len == b.len && memcmp(a.insns, b.insns, a.len * sizeof *a.insns) == 0);
    seccomp_prog_free(&a);
    seccomp_prog_free(&b);
}

TEST(prebuilt_default_filter)
{
#ifdef __x86_64__
    /* The build (not a cross build) made the table: the default set is in it. */
    CHECK(seccomp_default_prebuilt(CAPS_DEFAULT, 0));
#endif
    check_same_as_compiled(CAPS_DEFAULT, 0);
    check_same_as_compiled(CAPS_DEFAULT, SECCOMP_NESTED_USERNS);   /* no CAP_SYS_ADMIN: the same key */
    unsigned hits = 0, misses = 0;
    for (int cap = 0; cap <= CAP_LAST_CAP && cap < 64; cap++) {
        uint64_t flipped = CAPS_DEFAULT ^ (1ull << cap);
        if (seccomp_default_prebuilt(flipped, 0))
            hits++;
        else
            misses++;
        check_same_as_compiled(flipped, 0);
        if (cap == CAP_SYS_ADMIN)
            check_same_as_compiled(flipped, SECCOMP_NESTED_USERNS);
    }
#ifdef __x86_64__
    /* Positive controls: both paths ran (capabilities the filter ignores
     * reuse the table; CAP_SYS_TIME, CAP_SYS_ADMIN, ... do not). */
    CHECK(hits > 0);
    CHECK(misses > 0);
#else
    (void)hits;
    (void)misses;
#endif
}

TEST(build_from_spec)
{
    struct container_spec c;
    memset(&c, 0, sizeof c);
    c.name = "web";
    struct seccomp_prog prog;
    struct kerr err = { 0 };
    c.seccomp = SECCOMP_UNCONFINED;
    CHECK_INT(seccomp_build(&c, CAPS_DEFAULT, &prog, &err), 0);
    CHECK_INT(prog.len, 0);
    CHECK_INT(seccomp_install(&prog, &err), 0);   /* nothing to load */
    c.seccomp = SECCOMP_DEFAULT;
    CHECK_INT(seccomp_build(&c, CAPS_DEFAULT, &prog, &err), 0);
    CHECK(prog.len > 0);
    seccomp_prog_free(&prog);

    /* Compiled from the text read with the manifest, never from the file:
     * a spec without the text (not read) is refused, naming the file. */
    char text[] = "default allow\nerrno keyctl\n";
    c.seccomp = SECCOMP_FILE;
    c.seccomp_file = "/nonexistent/web.sc";
    c.seccomp_text = text;
    c.seccomp_text_len = strlen(text);
    CHECK_INT(seccomp_build(&c, CAPS_DEFAULT, &prog, &err), 0);
    CHECK(prog.len > 0);
    seccomp_prog_free(&prog);
    char bad[] = "allow keyctl\n";
    c.seccomp_text = bad;
    c.seccomp_text_len = strlen(bad);
    CHECK_INT(seccomp_build(&c, CAPS_DEFAULT, &prog, &err), -EINVAL);
    CHECK(strstr(err.msg, "web") && strstr(err.msg, "/nonexistent/web.sc:1: missing \"default\""));
    c.seccomp_text = NULL;
    c.seccomp_text_len = 0;
    CHECK(seccomp_build(&c, CAPS_DEFAULT, &prog, &err) == -ENOENT);
    CHECK(strstr(err.msg, "/nonexistent/web.sc was not read with the manifest") != NULL);
    /* Read after the load (an fstab file system) and failed: why. */
    c.seccomp_read_err = ENOENT;
    CHECK(seccomp_build(&c, CAPS_DEFAULT, &prog, &err) == -ENOENT);
    CHECK(strstr(err.msg, "cannot read seccomp profile /nonexistent/web.sc: No such file or directory") != NULL);
    c.seccomp_read_err = ETIMEDOUT;
    CHECK(seccomp_build(&c, CAPS_DEFAULT, &prog, &err) == -ETIMEDOUT);
    CHECK(strstr(err.msg, "web.sc: no answer from its file system in time") != NULL);
    c.seccomp_read_err = 0;

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    c.seccomp = SECCOMP_DEFAULT;
    seccomp_plan(&c, CAPS_DEFAULT, f);
    fclose(f);
    CHECK(strstr(buf, "    seccomp: default, EPERM for kexec_load") != NULL);
    CHECK(strstr(buf, " unshare ") != NULL && strstr(buf, "ENOSYS for clone3") != NULL);
    CHECK(strstr(buf, " socket(AF_VSOCK) ") != NULL && strstr(buf, " socketcall(i386) ") != NULL);
    free(buf);
}

int main(void)
{
    RUN(parse_good);
    RUN(parse_errors);
    RUN(parse_garbage_never_crashes);
    RUN(default_table);
    RUN(default_filter_loaded);
    RUN(admin_filter_allows_namespaces);
    RUN(guard_positive_control);
    RUN(custom_filters_loaded);
    RUN(build_from_spec);
    RUN(prebuilt_default_filter);
    return unit_done();
}
