/* test_stub.c — the exec stub (stub.h), run for real: it execs a command with
 * the argv and environment it was given, closes the report channel at that
 * execve, reports a failed execve as one record, and refuses to do anything
 * when its argv[0] is not a report fd (run as a `#!/proc/self/exe` script's
 * interpreter).  As a standby's it waits for the release byte first (the
 * command does not run before it, EOF ends it unreported) and closes the
 * release pipe at the command's execve too. */
#include "keel/stub.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

/* Whether PID sleeps in a pipe read (polled, at most ~10 s), with the stub
 * as its exe and nothing on OUT_FD yet: a standby waiting in the stub. */
static bool waits_in_stub(pid_t pid, int out_fd)
{
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
    for (int i = 0; i < 10000; i++) {
        int f = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t k = f >= 0 ? read(f, buf, sizeof buf - 1) : -1;
        if (f >= 0)
            close(f);
        buf[k > 0 ? k : 0] = '\0';
        if (strstr(buf, "pipe_read") || strstr(buf, "pipe_wait"))
            break;
        if (i == 9999)
            return false;
        usleep(1000);
    }
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t k = readlink(path, buf, sizeof buf - 1);
    buf[k > 0 ? k : 0] = '\0';
    struct pollfd p = { .fd = out_fd, .events = POLLIN };
    return strncmp(buf, "/memfd:keel-stub", 16) == 0 && poll(&p, 1, 0) == 0;
}

/* Runs ARGV through the stub (or SARGV as given) in a child; returns the
 * bytes the report channel got before EOF in BUF (at most N), the status in
 * *STATUS.  OUT, if not NULL, gets the command's stdout.  RELEASE: -1 for a
 * start's stub; 1 for a standby's, released once it waits in the stub (-2
 * when it did not); 0 for a standby's discarded there (the write end
 * closed); 2 for one whose release fd is not open (fd 299). */
static ssize_t run_release(char *const *argv, char **sargv, int release, int *status, char *buf, size_t n,
                           char *out, size_t out_n)
{
    struct kerr err = { 0 };
    int fd = stub_create(&err);
    if (fd < 0)
        return -1;
    int rep[2], o[2], rel[2] = { -1, -1 };
    if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 ||
        (release >= 0 && release < 2 && pipe2(rel, O_CLOEXEC) < 0))
        return -1;
    char **mine = sargv ? NULL : stub_argv(rep[1], release == 2 ? 299 : rel[0], argv);
    pid_t pid = fork();
    if (pid == 0) {
        /* As container.c hands them over: inherited, not close-on-exec. */
        fcntl(rep[1], F_SETFD, 0);
        if (rel[0] >= 0)
            fcntl(rel[0], F_SETFD, 0);
        dup2(o[1], 1);
        char fds[64], memfd[64], relfd[64];
        snprintf(fds, sizeof fds, "KEEL_UNIT_REPORT=%d", rep[1]);
        snprintf(memfd, sizeof memfd, "KEEL_UNIT_MEMFD=%d", fd);
        snprintf(relfd, sizeof relfd, "KEEL_UNIT_RELEASE=%d", rel[0]);
        char *env[] = { "KEEL_UNIT_STUB=env-passed", fds, memfd, relfd, NULL };
        stub_exec(fd, sargv ? sargv : mine, env);
        _exit(99);
    }
    free(mine);
    close(fd);
    close(rep[1]);
    close(o[1]);
    ssize_t ret = 0;
    if (release >= 0 && release < 2) {
        close(rel[0]);
        if (!waits_in_stub(pid, o[0]))
            ret = -2;
        else if (release == 1 && write(rel[1], "r", 1) != 1)
            ret = -3;
        close(rel[1]);
    }
    ssize_t got = 0, r;
    while ((r = read(rep[0], buf + got, n - (size_t)got)) > 0 && (size_t)(got += r) < n) {
    }
    ssize_t on = 0;
    while (out && (r = read(o[0], out + on, out_n - 1 - (size_t)on)) > 0 && (size_t)(on += r) < out_n - 1) {
    }
    if (out)
        out[on] = '\0';
    close(rep[0]);
    close(o[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    return ret < 0 ? ret : got;
}

static ssize_t run(char *const *argv, char **sargv, int *status, char *buf, size_t n, char *out, size_t out_n)
{
    return run_release(argv, sargv, -1, status, buf, n, out, out_n);
}

TEST(stub_runs_command)
{
    int status = -1;
    char buf[512], out[256];
    /* The command sees its own argv (argv[0] too) and the environment; the
     * report channel is closed by its execve (EOF, nothing written) and is
     * not among its fds. */
    char *argv[] = { "/bin/sh", "-c", "echo \"$0 $KEEL_UNIT_STUB\"; "
                     "[ -e /proc/self/fd/$KEEL_UNIT_REPORT ] && echo report-open; "
                     "[ -e /proc/self/fd/$KEEL_UNIT_MEMFD ] && echo stub-open; echo end", NULL };
    CHECK_INT(run(argv, NULL, &status, buf, sizeof buf, out, sizeof out), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_STR(out, "/bin/sh env-passed\nend\n");
}

TEST(stub_reports_failed_exec)
{
    int status = -1;
    char buf[512];
    char *argv[] = { "/nonexistent/keel-unit-stub", NULL };
    ssize_t n = run(argv, NULL, &status, buf, sizeof buf, NULL, 0);
    CHECK_INT((int)n, (int)(sizeof(struct stub_report) + strlen(argv[0])));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127);
    struct kerr err = { 0 };
    CHECK(n > 0 && stub_report_decode(buf, (size_t)n, &err));
    CHECK_STR(err.msg, "cannot execute /nonexistent/keel-unit-stub: No such file or directory");
    CHECK_INT(err.code, ENOENT);
    /* A setup child's record (a positive errno first) is not the stub's. */
    struct { int code; char msg[8]; } setup = { ENOENT, "x" };
    CHECK(!stub_report_decode(&setup, sizeof setup, &err));
}

TEST(stub_waits_for_release)
{
    int status = -1;
    char buf[512], out[256];
    /* Released: the command runs, with neither the report channel nor the
     * release pipe among its fds. */
    char *argv[] = { "/bin/sh", "-c", "echo \"$0 $KEEL_UNIT_STUB\"; "
                     "[ -e /proc/self/fd/$KEEL_UNIT_REPORT ] && echo report-open; "
                     "[ -e /proc/self/fd/$KEEL_UNIT_RELEASE ] && echo release-open; echo end", NULL };
    CHECK_INT(run_release(argv, NULL, 1, &status, buf, sizeof buf, out, sizeof out), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_STR(out, "/bin/sh env-passed\nend\n");
    /* Discarded (EOF at the wait): 127, no report, the command never ran. */
    CHECK_INT(run_release(argv, NULL, 0, &status, buf, sizeof buf, out, sizeof out), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127);
    CHECK_STR(out, "");
    /* A failed read (the release fd is not open) is reported. */
    char *t[] = { "/bin/true", NULL };
    ssize_t n = run_release(t, NULL, 2, &status, buf, sizeof buf, NULL, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127);
    struct kerr err = { 0 };
    CHECK(n > 0 && stub_report_decode(buf, (size_t)n, &err));
    CHECK_STR(err.msg, "cannot execute /bin/true: the exec stub cannot wait for its release as a standby "
                       "(the seccomp filter must allow read): Bad file descriptor");
    CHECK_INT(err.code, EBADF);
}

TEST(stub_refuses_without_report_fd)
{
    /* As a script's interpreter: argv[0] is the interpreter's path. */
    int status = -1;
    char buf[64], out[64];
    char *sargv[] = { "/proc/self/exe", "/bin/echo", "ran", NULL };
    CHECK_INT(run(NULL, sargv, &status, buf, sizeof buf, out, sizeof out), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 126);
    CHECK_STR(out, "");
    char *none[] = { "12", NULL };   /* a fd but no command */
    CHECK_INT(run(NULL, none, &status, buf, sizeof buf, NULL, 0), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 126);
    /* Two ','s, an empty number: not argv[0]s keel makes. */
    char *bad[][3] = { { "12,13,14", "/bin/echo", NULL }, { "12,", "/bin/echo", NULL }, { ",12", "/bin/echo", NULL } };
    for (size_t i = 0; i < 3; i++) {
        CHECK_INT(run(NULL, bad[i], &status, buf, sizeof buf, out, sizeof out), 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 126);
        CHECK_STR(out, "");
    }
}

TEST(stub_sealed)
{
    struct kerr err = { 0 };
    int fd = stub_create(&err), fd2 = stub_create(&err);
    CHECK(fd >= STUB_FD_MIN && fd2 >= STUB_FD_MIN);
    CHECK_INT(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* One inode per use: a writer held on one (a sealed memfd can be opened
     * for writing) blocks only that one's execve, never the next. */
    struct stat a, b;
    CHECK(fstat(fd, &a) == 0 && fstat(fd2, &b) == 0 && a.st_ino != b.st_ino);
    /* Execute-only: a process that cannot read it gets a non-dumpable stub. */
    CHECK_INT((int)(a.st_mode & 07777), 0111);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(w >= 0);
    /* /bin/false: were the exec not blocked, the status would not be 0. */
    char *argv[] = { "/bin/false", NULL };
    char **sargv = stub_argv(1, -1, argv);
    pid_t pid = fork();
    if (pid == 0)
        _exit(stub_exec(fd, sargv, NULL) == -ETXTBSY ? 0 : 2);   /* the held writer blocks it */
    int status = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(sargv);
    close(w);
    close(fd);
    close(fd2);
    size_t len;
    stub_image(&len);
    CHECK(len < 1024);
}

/* A caller that cannot read the stub (a uid other than the memfd's owner,
 * without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, as caps_apply leaves keel's
 * helpers) gets a non-dumpable stub: /proc/PID/fd of a non-dumpable process
 * belongs to root, of a dumpable one to its uid.  Readable (mode 0777
 * before), the stub was dumpable and its fds the container's to open. */
TEST(stub_not_dumpable)
{
    if (geteuid() != 0)
        SKIP("needs root (a setresuid to another uid)");
    struct kerr err = { 0 };
    int fd = stub_create(&err);
    int rep[2], rel[2];
    CHECK(fd >= 0 && pipe2(rep, O_CLOEXEC) == 0 && pipe2(rel, O_CLOEXEC) == 0);
    char *argv[] = { "/bin/true", NULL };
    char **sargv = stub_argv(rep[1], rel[0], argv);
    pid_t pid = fork();
    if (pid == 0) {
        fcntl(rep[1], F_SETFD, 0);
        fcntl(rel[0], F_SETFD, 0);
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            _exit(98);
        stub_exec(fd, sargv, NULL);
        _exit(99);
    }
    free(sargv);
    close(rep[1]);
    close(rel[0]);
    int o[2];
    CHECK(pipe2(o, O_CLOEXEC) == 0);
    CHECK(waits_in_stub(pid, o[0]));   /* the standby's wait: the stub runs */
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    CHECK(stat(path, &st) == 0);
    CHECK_INT((int)st.st_uid, 0);
    close(rel[1]);   /* EOF: the stub exits 127 */
    int status = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127);
    close(rep[0]);
    close(o[0]);
    close(o[1]);
    close(fd);
}

int main(void)
{
    RUN(stub_runs_command);
    RUN(stub_reports_failed_exec);
    RUN(stub_waits_for_release);
    RUN(stub_refuses_without_report_fd);
    RUN(stub_sealed);
    RUN(stub_not_dumpable);
    return unit_done();
}
