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
#include <sys/mount.h>
#include <sys/prctl.h>
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
    /* An unreadable file is one message. */
    errors = NULL;
    CHECK(seccomp_profile_load("/nonexistent/f.sc", &p, &errors) == -ENOENT);
    CHECK(errors && strstr(errors[0], "/nonexistent/f.sc"));
    strv_free(errors);
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
        if (!seccomp_default_blocks(blocked[i], caps)) {
            fprintf(stderr, "  not blocked: %s\n", blocked[i]);
            CHECK(0);
        }
    const char *allowed[] = { "read", "ptrace", "process_vm_readv", "chroot", "getpid", "personality",
                              "sethostname_is_not_a_call" };
    for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
        CHECK(!seccomp_default_blocks(allowed[i], caps));
    /* Capabilities open their group, as in Docker's profile. */
    CHECK(!seccomp_default_blocks("mount", caps | (1ull << CAP_SYS_ADMIN)));
    CHECK(!seccomp_default_blocks("unshare", caps | (1ull << CAP_SYS_ADMIN)));
    CHECK(!seccomp_default_blocks("clone3", caps | (1ull << CAP_SYS_ADMIN)));
    CHECK(!seccomp_default_blocks("bpf", caps | (1ull << CAP_BPF)));
    CHECK(!seccomp_default_blocks("reboot", caps | (1ull << CAP_SYS_BOOT)));
    CHECK(!seccomp_default_blocks("settimeofday", caps | (1ull << CAP_SYS_TIME)));
    CHECK(!seccomp_default_blocks("init_module", caps | (1ull << CAP_SYS_MODULE)));
    CHECK(seccomp_default_blocks("chroot", 0));
    /* Never, whatever the capabilities. */
    CHECK(seccomp_default_blocks("kexec_load", ~0ull));
    CHECK(seccomp_default_blocks("keyctl", ~0ull));
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

/* Raw i386 system call through int 0x80 from 64-bit code. */
static long int80(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

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
    /* fork (clone without namespace flags) still works. */
    pid_t kid = fork();
    if (kid < 0)
        return 13;
    if (kid == 0)
        _exit(0);
    int st;
    if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st))
        return 14;
    /* The i386 door: int 0x80 keyctl (288) and unshare (310), in a child
     * since a kernel without ia32 emulation answers with a signal. */
    kid = fork();
    if (kid == 0)
        _exit(int80(288, 0, 0, 0) == -EPERM && int80(310, CLONE_NEWNS, 0, 0) == -EPERM ? 0 : 1);
    if (waitpid(kid, &st, 0) != kid)
        return 15;
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        return 16;
    if (WIFSIGNALED(st))
        printf("skip - default_filter_loaded: i386 door (no ia32 emulation in this kernel)\n");
    return 0;
}

TEST(default_filter_loaded)
{
    struct seccomp_prog prog;
    struct kerr err = { 0 };
    CHECK_INT(seccomp_build_default(CAPS_DEFAULT, &prog, &err), 0);
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

TEST(admin_filter_allows_namespaces)
{
    if (geteuid() != 0) {
        SKIP("needs root");
    }
    struct seccomp_prog prog;
    struct kerr err = { 0 };
    CHECK_INT(seccomp_build_default(CAPS_DEFAULT | (1ull << CAP_SYS_ADMIN), &prog, &err), 0);
    int status = run_filtered(&prog, admin_body);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seccomp_prog_free(&prog);
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

    char path[] = "/tmp/keel-sc-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "default allow\nerrno keyctl\n";
    CHECK_INT(write_all(fd, text, strlen(text)), 0);
    close(fd);
    c.seccomp = SECCOMP_FILE;
    c.seccomp_file = path;
    CHECK_INT(seccomp_build(&c, CAPS_DEFAULT, &prog, &err), 0);
    CHECK(prog.len > 0);
    seccomp_prog_free(&prog);
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    CHECK_INT(write_all(fd, "allow keyctl\n", 13), 0);
    close(fd);
    CHECK_INT(seccomp_build(&c, CAPS_DEFAULT, &prog, &err), -EINVAL);
    CHECK(strstr(err.msg, "web") && strstr(err.msg, ":1: missing \"default\""));
    unlink(path);
    CHECK(seccomp_build(&c, CAPS_DEFAULT, &prog, &err) == -ENOENT);
    CHECK(strstr(err.msg, path) != NULL);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    c.seccomp = SECCOMP_DEFAULT;
    seccomp_plan(&c, CAPS_DEFAULT, f);
    fclose(f);
    CHECK(strstr(buf, "    seccomp: default, EPERM for kexec_load") != NULL);
    CHECK(strstr(buf, " unshare ") != NULL && strstr(buf, "ENOSYS for clone3") != NULL);
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
    RUN(custom_filters_loaded);
    RUN(build_from_spec);
    return unit_done();
}
