/* test_container.c — the exec helper's report channel (container_exec_start):
 * the executor of setup lists with its one failure path, run for real into
 * the test's own namespaces (pinned from /proc/self/ns, as keel pins a
 * container's).  A step or the execve that fails arrives as a record that
 * container_setup_result() reads, as for a container's start; a command that
 * runs closes the channel (EOF, result 0). */
#include "keel/container.h"
#include "keel/stub.h"
#include "keel/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

static char *layers[] = { "/", NULL };

static int pin_self(struct container_ns *ns)
{
    container_ns_init(ns);
    for (int i = 0; i < CNS_USER; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/ns/%s", setup_ns_name(i));
        if ((ns->fd[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return -1;
    }
    return 0;
}

/* Runs ARGV through container_exec_start; returns the pid's exit status and
 * container_setup_result()'s value, message in ERR. */
static int run(char **argv, const char *workdir, int *status, struct kerr *err)
{
    struct container_spec c = { .name = "t", .layers = layers, .argv = argv, .no_new_privs = true,
                                .workdir = (char *)workdir };
    struct container_ns ns;
    if (pin_self(&ns) < 0)
        return -999;
    struct container_exec_req req = {
        .spec = &c, .ns = &ns, .cgroup_fd = -1, .argv = argv, .stdio = { -1, -1, -1 },
    };
    pid_t pid;
    int fd = -1;
    int r = container_exec_start(&req, &pid, &fd, err);
    container_ns_close(&ns);
    if (r < 0)
        return r;
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    r = container_setup_result(fd, err);
    close(fd);
    return r;
}

TEST(exec_reports)
{
    if (geteuid() != 0) {
        printf("skip - exec_reports: needs root (setns into the test's own namespaces)\n");
        return;
    }
    struct kerr err = { 0 };
    int status = -1;
    char *ok_argv[] = { "/bin/true", NULL };
    CHECK_INT(run(ok_argv, NULL, &status, &err), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    char *missing[] = { "/nonexistent/keel-unit", NULL };
    memset(&err, 0, sizeof err);
    CHECK_INT(run(missing, NULL, &status, &err), -ENOENT);
    CHECK_STR(err.msg, "cannot execute /nonexistent/keel-unit: No such file or directory");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127);

    /* A step of the list that fails: its record, status 126, no execve. */
    memset(&err, 0, sizeof err);
    CHECK_INT(run(ok_argv, "/nonexistent/keel-unit-wd", &status, &err), -ENOENT);
    CHECK_STR(err.msg, "cannot enter workdir /nonexistent/keel-unit-wd: No such file or directory");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 126);
}

TEST(exec_needs_pinned_namespaces)
{
    struct container_spec c = { .name = "t", .layers = layers };
    struct container_ns ns;
    container_ns_init(&ns);
    char *argv[] = { "/bin/true", NULL };
    struct container_exec_req req = { .spec = &c, .ns = &ns, .cgroup_fd = -1, .argv = argv, .stdio = { -1, -1, -1 } };
    struct kerr err = { 0 };
    pid_t pid = 0;
    int fd = -1;
    CHECK_INT(container_exec_start(&req, &pid, &fd, &err), -ESRCH);
    CHECK_STR(err.msg, "the namespaces of t are not pinned");
    CHECK(pid == 0 && fd == -1);
}

/* An exec or health-check helper's report pipe is open in its exec stub,
 * where the container's root can reopen it (/proc/PID/fd/N), keep it and
 * write to it.  A held, empty channel is no report (keel never waits on it:
 * the read end is non-blocking), and a forged record puts no control byte
 * into the message keel logs.  Before, the first read failed (EAGAIN; the
 * health check's blocking read waited for ever) and the escapes came
 * through. */
TEST(setup_result_from_a_container)
{
    int p[2];
    CHECK_INT(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    struct kerr err = { 0 };
    CHECK_INT(container_setup_result(p[0], &err), 0);
    char rec[8 + 11];
    int32_t head[2] = { STUB_STEP_EXEC, ENOENT };
    memcpy(rec, head, sizeof head);
    memcpy(rec + 8, "\033]2;x\007\033[2J\177", 11);
    CHECK(write(p[1], rec, sizeof rec) == (ssize_t)sizeof rec);
    CHECK_INT(container_setup_result(p[0], &err), -ENOENT);
    CHECK_STR(err.msg, "cannot execute ?]2;x??[2J?: No such file or directory");
    close(p[1]);
    CHECK_INT(container_setup_result(p[0], &err), 0);
    close(p[0]);
}

/* The setup child resets only the signals keel has away from the default,
 * read from /proc/self/status in keel (sys_signals_not_default). */
TEST(signal_status_parse)
{
    uint64_t m = 0;
    CHECK_INT(sys_parse_signal_status("Name:\tkeel\nSigPnd:\t0000000000000000\nSigBlk:\t0000000000010000\n"
                                      "SigIgn:\t0000000000001001\nSigCgt:\t0000000180000400\nCapInh:\t0\n", &m), 0);
    CHECK(m == UINT64_C(0x0000000180001401));
    CHECK_INT(sys_parse_signal_status("SigIgn:\t0000000000000000\n", &m), -EINVAL);            /* no SigCgt */
    CHECK_INT(sys_parse_signal_status("SigIgn:\tzz\nSigCgt:\t0\n", &m), -EINVAL);
    CHECK_INT(sys_parse_signal_status("SigIgn:\t00000000000000001\nSigCgt:\t0\n", &m), -EINVAL);   /* 17 digits */
    /* This process: whatever it has, SIGPIPE ignored shows. */
    signal(SIGPIPE, SIG_IGN);
    CHECK(sys_signals_not_default() & (UINT64_C(1) << (SIGPIPE - 1)));
    signal(SIGPIPE, SIG_DFL);
}

/* container_hand_over's /etc/hosts text (the fallback when keel's live copy
 * cannot be attached) travels in one SEQPACKET record, which the kernel
 * refuses whole (EMSGSIZE) when it is longer than the socket's send buffer
 * (net.core.wmem_default, ~208 KiB): a text up to the documented bound
 * (1 MiB with its NUL) must arrive whole.  This test is the setup child's
 * end of the channel. */
TEST(hand_over_large_hosts)
{
    if (geteuid() != 0) {
        printf("skip - hand_over_large_hosts: needs root (SO_SNDBUFFORCE, as keel has it)\n");
        return;
    }
    static const size_t sizes[] = { 100, 300u << 10, (1u << 20) - 1 };   /* the first: the positive control */
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int sv[2];
        CHECK_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        size_t len = sizes[k];
        char *text = malloc(len + 1);
        CHECK(text != NULL);
        for (size_t i = 0; i < len; i++)
            text[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
        text[len] = '\0';
        struct container_proc p = { .pid = 0, .pidfd = -1, .setup_fd = -1, .handover_fd = sv[0], .hold_fd = -1, .release_fd = -1 };
        container_ns_init(&p.ns);
        struct container_handover h = { .netns_fd = -1, .hosts = text, .hosts_tree = -1 };
        struct kerr err = { 0 };
        CHECK_INT(container_hand_over(&p, &h, &err), 0);
        CHECK(p.handover_fd == -1);
        container_hold_close(&p.hold_fd);
        size_t cap = len + 64;
        char *buf = malloc(cap);
        CHECK(buf != NULL);
        ssize_t n = recv(sv[1], buf, cap, MSG_DONTWAIT);
        /* The flags word (HANDOVER_HOSTS_TEXT), then the text with its NUL. */
        CHECK(n == (ssize_t)(sizeof(uint32_t) + len + 1));
        CHECK(n > 0 && memcmp(buf + sizeof(uint32_t), text, len + 1) == 0);
        if (n != (ssize_t)(sizeof(uint32_t) + len + 1))
            printf("# %zu bytes of hosts: received %zd, %s\n", len, n, err.msg);
        free(buf);
        free(text);
        close(sv[1]);
    }
}

/* container_abort kills the child and closes its channels but never waits
 * for it: a setup child in uninterruptible sleep (a bind source on a hung
 * FUSE or NFS server) outlives SIGKILL until that sleep ends, and PID 1 must
 * not sit in waitpid meanwhile.  The pid stays the caller's to reap (the
 * supervisor's loop does).  Before, it was reaped inside and p.pid zeroed. */
TEST(abort_never_waits)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        for (;;)
            pause();
    }
    struct container_proc p = { .pid = child, .pidfd = sys_pidfd_open(child), .setup_fd = -1,
                                .handover_fd = sv[0], .hold_fd = -1, .release_fd = -1 };
    container_ns_init(&p.ns);
    container_abort(&p);
    CHECK(p.pid == child);
    CHECK(p.pidfd == -1 && p.handover_fd == -1 && p.hold_fd == -1 && p.setup_fd == -1 && p.release_fd == -1);
    /* Still ours to reap, and killed: bounded poll, 10 s at most. */
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 1000 && got == 0; i++) {
        got = waitpid(child, &status, WNOHANG);
        if (got == 0)
            usleep(10000);
    }
    CHECK(got == child);
    CHECK(got == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(sv[1]);
}

int main(void)
{
    RUN(exec_reports);
    RUN(exec_needs_pinned_namespaces);
    RUN(setup_result_from_a_container);
    RUN(signal_status_parse);
    RUN(hand_over_large_hosts);
    RUN(abort_never_waits);
    return unit_done();
}
