/* test_stub.c — the exec stub (stub.h), run for real: it execs a command with
 * the argv and environment it was given, closes the report channel at that
 * execve, reports a failed execve as one record, and refuses to do anything
 * when its argv[0] is not a report fd (run as a `#!/proc/self/exe` script's
 * interpreter). */
#include "keel/stub.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

/* Runs ARGV through the stub (or SARGV as given) in a child; returns the
 * bytes the report channel got before EOF in BUF (at most N), the status in
 * *STATUS.  OUT, if not NULL, gets the command's stdout. */
static ssize_t run(char *const *argv, char **sargv, int *status, char *buf, size_t n, char *out, size_t out_n)
{
    struct kerr err = { 0 };
    int fd = stub_create(&err);
    if (fd < 0)
        return -1;
    int rep[2], o[2];
    if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0)
        return -1;
    char **mine = sargv ? NULL : stub_argv(rep[1], argv);
    pid_t pid = fork();
    if (pid == 0) {
        /* As container.c hands it over: inherited, not close-on-exec. */
        fcntl(rep[1], F_SETFD, 0);
        dup2(o[1], 1);
        char fds[64], memfd[64];
        snprintf(fds, sizeof fds, "KEEL_UNIT_REPORT=%d", rep[1]);
        snprintf(memfd, sizeof memfd, "KEEL_UNIT_MEMFD=%d", fd);
        char *env[] = { "KEEL_UNIT_STUB=env-passed", fds, memfd, NULL };
        stub_exec(fd, sargv ? sargv : mine, env);
        _exit(99);
    }
    free(mine);
    close(fd);
    close(rep[1]);
    close(o[1]);
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
    return got;
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
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(w >= 0);
    /* /bin/false: were the exec not blocked, the status would not be 0. */
    char *argv[] = { "/bin/false", NULL };
    char **sargv = stub_argv(1, argv);
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

int main(void)
{
    RUN(stub_runs_command);
    RUN(stub_reports_failed_exec);
    RUN(stub_refuses_without_report_fd);
    RUN(stub_sealed);
    return unit_done();
}
