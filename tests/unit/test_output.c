/* test_output.c — what the echo to a terminal lets through (output_escape),
 * and the relay's end in keel run's last teardown. */
#include "keel/output.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

static char got[256];

static const char *esc(const char *in, size_t n, size_t cap)
{
    size_t len = output_escape(in, n, got, cap);
    got[len] = '\0';
    return got;
}

#define ESC(s) esc(s, sizeof(s) - 1, sizeof got - 1)

TEST(plain_text_and_utf8_pass)
{
    CHECK_STR(ESC("hello, world\t(tab kept)"), "hello, world\t(tab kept)");
    CHECK_STR(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82 \xc2\xa0"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82 \xc2\xa0");
}

TEST(controls_escaped)
{
    CHECK_STR(ESC("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
    CHECK_STR(ESC("bell\a cr\r bs\b del\x7f nul"), "bell\\x07 cr\\x0d bs\\x08 del\\x7f nul");
    CHECK_STR(esc("a\0b", 3, sizeof got - 1), "a\\x00b");
    /* OSC 52 (clipboard write) and the title sequence, as a container would send them. */
    CHECK_STR(ESC("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
}

TEST(c1_and_invalid_utf8_escaped)
{
    /* C1 CSI as UTF-8 (U+009B) and as a raw byte (a Latin-1 terminal's CSI). */
    CHECK_STR(ESC("\xc2\x9b" "2J"), "\\xc2\\x9b2J");
    CHECK_STR(ESC("\x9b" "2J"), "\\x9b2J");
    /* Overlong ESC, a surrogate, a truncated sequence, a stray continuation byte. */
    CHECK_STR(ESC("\xc0\x9b"), "\\xc0\\x9b");
    CHECK_STR(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");
    CHECK_STR(ESC("\xe2\x82"), "\\xe2\\x82");
    CHECK_STR(ESC("a\x80z"), "a\\x80z");
}

TEST(never_a_partial_escape)
{
    CHECK_STR(esc("ab\x1b", 3, 5), "ab");
    CHECK_STR(esc("ab\x1b", 3, 6), "ab\\x1b");
    CHECK_STR(esc("\xe2\x82\xac", 3, 2), "\xe2\x82");   /* text may be cut, like any long line */
}

/* The echo's lines: "LEN:BYTES|" per line emitted. */
static void note_line(void *ctx, const char *line, size_t len)
{
    char *seen = ctx;
    size_t at = strlen(seen);
    snprintf(seen + at, 256 - at, "%zu:%.*s|", len, len > 8 ? 8 : (int)len, line);
}

TEST(lines_split)
{
    static char line[OUTPUT_LINE_MAX];
    char seen[256] = "";
    size_t len = 0;
    /* A newline cut from its line by a read, an empty line, a line left open. */
    output_lines(line, &len, "ab", 2, note_line, seen);
    output_lines(line, &len, "\n\ncd", 4, note_line, seen);
    CHECK_STR(seen, "2:ab|0:|");
    CHECK_INT(len, 2);
    /* OUTPUT_LINE_MAX bytes then a newline: one line; one byte more: two. */
    char *big = malloc(OUTPUT_LINE_MAX + 2);
    CHECK(big != NULL);
    if (!big)
        return;
    memset(big, 'x', OUTPUT_LINE_MAX + 1);
    big[OUTPUT_LINE_MAX] = '\n';
    seen[0] = '\0';
    len = 0;
    output_lines(line, &len, big, OUTPUT_LINE_MAX + 1, note_line, seen);
    CHECK_STR(seen, "4096:xxxxxxxx|");
    big[OUTPUT_LINE_MAX] = 'y';
    big[OUTPUT_LINE_MAX + 1] = '\n';
    seen[0] = '\0';
    output_lines(line, &len, big, OUTPUT_LINE_MAX + 2, note_line, seen);
    CHECK_STR(seen, "4096:xxxxxxxx|1:y|");
    CHECK_INT(len, 0);
    free(big);
}

/* keel run's last teardown leaves fds to the process's exit
 * (close_defer_to_exit), but not the relay's EOF: the relay copies until
 * every writer of the container's pipe is gone, and output_close waits for
 * it (1 s at most).  Were the pipe's write end left open, the relay would
 * never end while keel lives, and keel's exit would wait out the bound
 * first, then kill it.  output_close reaps the relay (a relay left to keel's
 * reaper was a zombie for good under a caller that does not reap, after keel
 * run's exit).  In a child: the deferral is for the whole process.  Child's
 * status: 0 the relay ended at its EOF and was reaped; 6 it did not end by
 * itself (killed); 8 output_close did not reap it. */
static int relay_child(const char *dir)
{
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0)
        return 2;
    output_set_echo_fd(devnull);
    struct output o;
    struct kerr err;
    int dir_fd = output_open_log_dir(dir, NULL, &err);
    if (dir_fd < 0 || output_open(&o, "t", dir, dir_fd, 1 << 20, 1, &err) < 0)
        return 3;
    close(dir_fd);
    if (write(o.write_fd, "last words\n", 11) != 11)
        return 4;
    close_defer_to_exit();
    o.relay_exit = -1;
    output_close(&o);   /* the pipe holds bytes: the relay starts first */
    if (o.relay <= 0)
        return 5;
    /* Positive control of the ECHILD below: an unreaped child of ours is there to wait for. */
    pid_t other = fork();
    if (other == 0)
        _exit(0);
    if (other < 0 || waitpid(other, NULL, 0) != other)
        return 9;
    if (waitpid(o.relay, NULL, WNOHANG) != -1 || errno != ECHILD)
        return 8;
    return o.relay_exit == 0 ? 0 : 6;
}

/* Runs fn(dir) in a child (keel's process-wide switches and the fds it
 * leaves stay there) with a fresh directory for the log; the child's exit
 * status, 100+N when a signal N ended it, -1 when it could not run.  The
 * directory is left for the caller to look into and remove. */
static int in_child(int (*fn)(const char *dir), char *dir)
{
    if (!mkdtemp(dir))
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(dir));
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

TEST(relay_eof_not_left_to_exit)
{
    char dir[] = "/tmp/keel-unit-output-XXXXXX";
    CHECK_INT(in_child(relay_child, dir), 0);
    /* Positive control: the relay ran and its bytes reached the log. */
    char path[sizeof dir + 8];
    snprintf(path, sizeof path, "%s/t.log", dir);
    char *text = NULL;
    CHECK(read_file_at(AT_FDCWD, path, 4096, &text, NULL) == 0);
    CHECK(text && strstr(text, "last words"));
    free(text);
    unlink(path);
    rmdir(dir);
}

static bool splicing(const char *syscall_line)
{
    char nr[16];
    int n = snprintf(nr, sizeof nr, "%d ", (int)SYS_splice);
    return strncmp(syscall_line, nr, (size_t)n) == 0;
}

static bool asleep_uninterruptibly(const char *stat_line)
{
    const char *end = strrchr(stat_line, ')');
    return end && end[1] == ' ' && end[2] == 'D';
}

/* Polls /proc/PID/FILE until is(its text) holds: 5 s at most. */
static bool proc_wait(pid_t pid, const char *file, bool (*is)(const char *))
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    for (int i = 0; i < 500; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
            close(fd);
        buf[n > 0 ? n : 0] = '\0';
        if (is(buf))
            return true;
        usleep(10000);
    }
    return false;
}

/* A container process that splices from an idle socket into its output pipe
 * holds the pipe's mutex while it waits; a relay that reads then sleeps on
 * that mutex, uninterruptibly: SIGKILL does not end it.  output_close (PID 1
 * calls it when a container's record goes) must return all the same, the
 * relay left to the reaper.  Child's status: 0 output_close returned with
 * the relay still there; 2-5 set-up failures; 6 the splicer never blocked;
 * 7 the relay was not stuck (the case was not made); killed by SIGALRM:
 * output_close hung. */
static int stuck_relay_child(const char *dir)
{
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0)
        return 2;
    output_set_echo_fd(devnull);
    (void)dup2(devnull, 2);   /* keel's warning about the relay: expected here */
    struct output o;
    struct kerr err;
    int dir_fd = output_open_log_dir(dir, NULL, &err);
    if (dir_fd < 0 || output_open(&o, "t", dir, dir_fd, 1 << 20, 1, &err) < 0)
        return 3;
    close(dir_fd);
    if (write(o.write_fd, "before\n", 7) != 7)
        return 4;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return 4;
    pid_t splicer = fork();
    if (splicer == 0) {
        /* Gone with the test's child, whatever way it ends (a hang: SIGALRM). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() == 1)
            _exit(1);
        close(sp[1]);
        (void)splice(sp[0], NULL, o.write_fd, NULL, 4096, 0);
        _exit(0);
    }
    if (splicer < 0)
        return 4;
    /* Blocked in splice, holding the pipe's mutex. */
    if (!proc_wait(splicer, "syscall", splicing))
        return 6;
    if (output_start_relay(&o, &err) < 0)
        return 5;
    /* The relay's read now waits for the mutex: state D. */
    if (!proc_wait(o.relay, "stat", asleep_uninterruptibly))
        return 7;
    alarm(30);
    pid_t relay = o.relay;
    output_close(&o);
    alarm(0);
    /* Positive control: the relay is still there (not reaped), stuck. */
    int r = waitpid(relay, NULL, WNOHANG) == 0 ? 0 : 8;
    kill(splicer, SIGKILL);
    waitpid(splicer, NULL, 0);
    return r;
}

TEST(close_returns_with_the_relay_stuck)
{
    char dir[] = "/tmp/keel-unit-output-XXXXXX";
    CHECK_INT(in_child(stuck_relay_child, dir), 0);
    char path[sizeof dir + 8];
    snprintf(path, sizeof path, "%s/t.log", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    RUN(plain_text_and_utf8_pass);
    RUN(controls_escaped);
    RUN(c1_and_invalid_utf8_escaped);
    RUN(never_a_partial_escape);
    RUN(lines_split);
    RUN(relay_eof_not_left_to_exit);
    RUN(close_returns_with_the_relay_stuck);
    return unit_done();
}
