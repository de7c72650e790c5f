/* test_log.c — keel's own console lines must never stall PID 1: in
 * non-blocking mode a line the console cannot take is dropped and counted,
 * and the count is reported once output is possible again. */
#include "keel/log.h"
#include "keel/util.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "not ok - test_log: a log write blocked (alarm)\n";
    if (write(1, msg, sizeof msg - 1) < 0) {
        /* exiting anyway */
    }
    _exit(1);
}

/* Reads what the pipe holds now (non-blocking). */
static size_t drain(int fd, char *buf, size_t size)
{
    size_t tot = 0;
    for (;;) {
        ssize_t n = read(fd, buf + tot, size - 1 - tot);
        if (n <= 0)
            break;
        tot += (size_t)n;
        if (tot == size - 1)
            break;
    }
    buf[tot] = 0;
    return tot;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A pipe nobody reads fills after 64 KiB: with blocking writes the 2000
 * lines below would hang here (the alarm fails the test). */
TEST(full_pipe_drops_and_counts)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    int rfl = fcntl(p[0], F_GETFL);
    CHECK(fcntl(p[0], F_SETFL, rfl | O_NONBLOCK) == 0);
    log_setup(p[1], LOG_LEVEL_INFO);
    CHECK_INT(log_nonblocking(), 0);
    /* The writer's own description stays blocking: the flag went to a private one. */
    CHECK((fcntl(p[1], F_GETFL) & O_NONBLOCK) == 0);
    signal(SIGALRM, on_alarm);
    alarm(20);
    for (int i = 0; i < 2000; i++)
        log_warn("refused TLS client 192.0.2.%d:%d: handshake failed: a long enough reason to fill the pipe", i % 250,
                 40000 + i);
    /* With patience (the shutdown's), a full console costs one bounded
     * wait, then lines drop at once again: still no hang. */
    uint64_t before = log_dropped_lines();
    log_patience(100);
    for (int i = 0; i < 500; i++)   /* 25 s even if every other one waited: the alarm */
        log_warn("a shutdown line nobody reads %d", i);
    log_patience(0);
    alarm(0);
    CHECK_INT(log_dropped_lines() - before, 500);
    uint64_t dropped = log_dropped_lines();
    CHECK(dropped > 0);
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    if (!buf)
        return;
    size_t got = drain(p[0], buf, cap);
    /* Whole lines only: what got through ends with a newline. */
    CHECK(got > 0 && buf[got - 1] == '\n');
    CHECK_INT(count_lines(buf) + dropped, 2500);
    log_info("after the drain");
    got = drain(p[0], buf, cap);
    char want[96];
    snprintf(want, sizeof want, "keel: warning: %llu log lines dropped", (unsigned long long)dropped);
    CHECK(strstr(buf, want) != NULL);
    CHECK(strstr(buf, "keel: after the drain\n") != NULL);
    CHECK(strstr(buf, want) < strstr(buf, "after the drain"));
    CHECK_INT(log_dropped_lines(), 0);
    free(buf);
    log_setup(2, LOG_LEVEL_INFO);
    close(p[0]);
    close(p[1]);
}

TEST(ratelimit)
{
    struct log_ratelimit rl = { .interval_ms = 1000, .burst = 3 };
    uint64_t sup = 99;
    int logged = 0;
    for (int i = 0; i < 10; i++)
        logged += log_ratelimit(&rl, 5000, &sup);
    CHECK_INT(logged, 3);
    CHECK_INT(sup, 0);
    /* The next window: logs again and says how many were suppressed. */
    CHECK(log_ratelimit(&rl, 6000, &sup));
    CHECK_INT(sup, 7);
    CHECK(log_ratelimit(&rl, 6001, &sup));
    CHECK_INT(sup, 0);
}

/* utc_time_format (util.c) against glibc's gmtime_r + strftime, which the
 * client used before: every day boundary from 1900 to 2200 and odd seconds. */
TEST(utc_time_format_matches_gmtime)
{
    char mine[32], theirs[32];
    int bad = 0;
    for (int64_t t = -2208988800LL; t < 7258118400LL && bad < 5; t += 86400 * 7 + 3607) {
        time_t tt = (time_t)t;
        struct tm tm;
        CHECK(gmtime_r(&tt, &tm) != NULL);
        strftime(theirs, sizeof theirs, "%Y-%m-%dT%H:%M:%S", &tm);
        utc_time_format(t, mine, sizeof mine);
        if (strcmp(mine, theirs) != 0) {
            fprintf(stderr, "  %lld: %s, expected %s\n", (long long)t, mine, theirs);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    utc_time_format(0, mine, sizeof mine);
    CHECK_STR(mine, "1970-01-01T00:00:00");
    utc_time_format(951782400, mine, sizeof mine);   /* a leap day of a century year */
    CHECK_STR(mine, "2000-02-29T00:00:00");
    utc_time_format(-1, mine, sizeof mine);
    CHECK_STR(mine, "1969-12-31T23:59:59");
    utc_time_format(INT64_MAX / 2, mine, sizeof mine);
    CHECK_STR(mine, "?");
}

int main(void)
{
    RUN(full_pipe_drops_and_counts);
    RUN(ratelimit);
    RUN(utc_time_format_matches_gmtime);
    return unit_done();
}
