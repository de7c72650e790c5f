/* test_output.c — what the echo to a terminal lets through (output_escape),
 * and the relay's end in keel run's last teardown. */
#include "keel/output.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
    if (output_open(&o, "t", dir, 1 << 20, 1, &err) < 0)
        return 3;
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

TEST(relay_eof_not_left_to_exit)
{
    char dir[] = "/tmp/keel-unit-output-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(relay_child(dir));
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st), 0);
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

int main(void)
{
    RUN(plain_text_and_utf8_pass);
    RUN(controls_escaped);
    RUN(c1_and_invalid_utf8_escaped);
    RUN(never_a_partial_escape);
    RUN(relay_eof_not_left_to_exit);
    return unit_done();
}
