/* Unit tests of timesync.c's saved clock: the file's syntax, saving, and the
 * restore's refusals.  Nothing here may set the clock of the machine that
 * runs the tests: only files behind the clock, absent or damaged are given
 * to timesync_restore (the forward case is tests/vm/test_time.sh's). */
#include "keel/loop.h"
#include "keel/sntp.h"
#include "keel/timesync.h"
#include "keel/util.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

TEST(saved_parse)
{
    int64_t s = 0;
    CHECK_INT(timesync_saved_parse("1796557386\n", &s), 0);
    CHECK_INT(s, 1796557386);
    CHECK_INT(timesync_saved_parse("1796557386", &s), 0);
    CHECK_INT(timesync_saved_parse("946684800\n", &s), 0);     /* 2000-01-01 */
    CHECK_INT(timesync_saved_parse("946684799\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("7258118399\n", &s), 0);    /* the last second before 2200 */
    CHECK_INT(timesync_saved_parse("7258118400\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("-1796557386\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("1796557386\n\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("1796557386\nx", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse(" 1796557386\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("1796557386.5\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("99999999999999999999999999\n", &s), -EINVAL);
}

TEST(save_and_refusals)
{
    char dir[] = "/tmp/keel-unit-timesync.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path = xasprintf("%s/clock", dir), *tmp = xasprintf("%s/clock.tmp", dir);
    struct kerr err = { 0 };
    /* Absent: a first boot, nothing to do. */
    CHECK_INT(timesync_restore(path, &err), 0);
    time_t before = time(NULL);
    CHECK_INT(timesync_save(path, &err), 0);
    time_t after = time(NULL);
    char *text = NULL;
    int64_t s = 0;
    CHECK_INT(read_file_at(AT_FDCWD, path, 64, &text, NULL), 0);
    CHECK(text && timesync_saved_parse(text, &s) == 0);
    CHECK(s >= before && s <= after);
    CHECK(access(tmp, F_OK) < 0);   /* renamed into place */
    free(text);
    /* The saved time is not ahead of the clock (it is the clock, a second
     * later at most): nothing is set. */
    CHECK_INT(timesync_restore(path, &err), 0);
    /* Damaged: an error, never a clock change. */
    CHECK_INT(write_file_at(AT_FDCWD, path, "yesterday\n"), 0);
    CHECK_INT(timesync_restore(path, &err), -EINVAL);
    CHECK(strstr(err.msg, path) != NULL);
    /* A FIFO put there (clock_file in a directory someone else can write):
     * refused at once, not a read that waits for a writer in PID 1 at boot. */
    unlink(path);
    CHECK_INT(mkfifo(path, 0600), 0);
    CHECK_INT(timesync_restore(path, &err), -EINVAL);
    CHECK(strstr(err.msg, "not a regular file") != NULL);
    /* What someone else put at PATH.tmp is replaced, never opened: a FIFO
     * (its reader held here, else the old open would wait for ever in the
     * test too), a hard link to another file (O_TRUNC emptied it), a symlink
     * to one.  Each save succeeds and leaves the other file whole. */
    unlink(path);
    char *other = xasprintf("%s/other", dir);
    int of = open(other, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(of >= 0 && write(of, "host-data\n", 10) == 10);
    close(of);
    CHECK_INT(mkfifo(tmp, 0600), 0);
    int reader = open(tmp, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    CHECK(reader >= 0);
    CHECK_INT(timesync_save(path, &err), 0);
    close(reader);
    unlink(tmp);   /* gone after a save that worked: for the old code's failure, not a hang below */
    CHECK_INT(link(other, tmp), 0);
    CHECK_INT(timesync_save(path, &err), 0);
    unlink(tmp);
    CHECK_INT(symlink(other, tmp), 0);
    CHECK_INT(timesync_save(path, &err), 0);
    text = NULL;
    CHECK_INT(read_file_at(AT_FDCWD, other, 64, &text, NULL), 0);
    CHECK(text && strcmp(text, "host-data\n") == 0);
    free(text);
    text = NULL;
    CHECK_INT(read_file_at(AT_FDCWD, path, 64, &text, NULL), 0);
    CHECK(text && timesync_saved_parse(text, &s) == 0);
    free(text);
    unlink(other);
    free(other);
    /* A directory where the file should be: an error naming it. */
    char *sub = xasprintf("%s/nodir/clock", dir);
    CHECK(timesync_save(sub, &err) < 0);
    CHECK(strstr(err.msg, "cannot save the clock") != NULL);
    unlink(path);
    rmdir(dir);
    free(path);
    free(tmp);
    free(sub);
}

TEST(volatile_file)
{
    struct statfs st;
    if (statfs("/dev/shm", &st) < 0 || st.f_type != TMPFS_MAGIC)
        SKIP("/dev/shm is not a tmpfs here");
    CHECK(timesync_file_volatile("/dev/shm/clock"));
    CHECK(timesync_file_volatile("/dev/shm/no/such/dir/clock") == false);   /* cannot tell */
    CHECK(!timesync_file_volatile("/proc/clock"));
    CHECK(!timesync_file_volatile("/sys/clock"));
}

/* --- the client against a fake server on loopback, with a fake clock ------------- */

struct fake_clock {
    int64_t offset;       /* the fake clock = the machine's + offset */
    int steps, slews;
    int64_t last;         /* the last correction asked for */
};

static int64_t real_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int64_t fc_now(void *ctx)
{
    return real_ns() + ((struct fake_clock *)ctx)->offset;
}

static int fc_step(void *ctx, int64_t off, struct kerr *err)
{
    struct fake_clock *c = ctx;
    c->offset += off;
    c->steps++;
    c->last = off;
    return 0;
}

static int fc_slew(void *ctx, int64_t off, struct kerr *err)
{
    struct fake_clock *c = ctx;
    c->slews++;
    c->last = off;
    return 0;
}

struct fake_server {
    int fd;
    uint16_t port;
    unsigned requests;
    bool forge_first;     /* send a reply with a wrong origin (and a wild time) before the real one */
};

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void server_reply(struct loop *l, int fd, uint32_t events, void *data)
{
    struct fake_server *srv = data;
    uint8_t req[128], rep[SNTP_PACKET_SIZE];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(fd, req, sizeof req, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
    if (n < SNTP_PACKET_SIZE)
        return;
    srv->requests++;
    uint64_t nonce = 0;
    for (int i = 40; i < 48; i++)
        nonce = nonce << 8 | req[i];
    memset(rep, 0, sizeof rep);
    rep[0] = 4 << 3 | 4;
    rep[1] = 2;
    if (srv->forge_first) {
        put64(rep + 24, nonce ^ 1);
        put64(rep + 32, sntp_from_unix_ns(real_ns() + 3600LL * 1000000000LL));
        put64(rep + 40, sntp_from_unix_ns(real_ns() + 3600LL * 1000000000LL));
        CHECK(sendto(fd, rep, sizeof rep, 0, (struct sockaddr *)&from, flen) == (ssize_t)sizeof rep);
    }
    put64(rep + 24, nonce);
    put64(rep + 32, sntp_from_unix_ns(real_ns()));
    put64(rep + 40, sntp_from_unix_ns(real_ns()));
    CHECK(sendto(fd, rep, sizeof rep, 0, (struct sockaddr *)&from, flen) == (ssize_t)sizeof rep);
}

/* A UDP socket on 127.0.0.1 and a free port; 0 / -1. */
static int udp_bound(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close_safe(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int synced_count;
static void on_synced(void *data)
{
    synced_count++;
}

static bool marker_fired;
static void marker(struct loop *l, void *data)
{
    marker_fired = true;
}

/* Runs the loop until *flag is set (bounded: 20 s of real time). */
static void run_until(struct loop *l, const bool *flag, const int *count, int want)
{
    uint64_t deadline = now_ms() + 20000;
    struct kerr err = { 0 };
    while (now_ms() < deadline && !(flag && *flag) && !(count && *count >= want))
        if (loop_run_once(l, &err) < 0)
            break;
}

TEST(client_steps_after_a_dead_server)
{
    struct loop *l = NULL;
    struct kerr err = { 0 };
    CHECK_INT(loop_new(&l, &err), 0);
    struct fake_server srv = { .forge_first = true };
    uint16_t dead_port;
    int dead = udp_bound(&dead_port);
    srv.fd = udp_bound(&srv.port);
    CHECK(dead >= 0 && srv.fd >= 0);
    close_safe(dead);   /* nothing listens there now: the request is refused (ICMP) */
    CHECK_INT(loop_add_fd(l, srv.fd, EPOLLIN, server_reply, &srv), 0);
    char a[32], b[32];
    snprintf(a, sizeof a, "127.0.0.1:%u", dead_port);
    snprintf(b, sizeof b, "127.0.0.1:%u", srv.port);
    char *servers[] = { a, b, NULL };
    struct fake_clock fc = { .offset = -1000LL * 1000000000LL };
    struct timesync_clock clk = { fc_now, fc_step, fc_slew, &fc };
    struct timesync *ts = NULL;
    synced_count = 0;
    CHECK_INT(timesync_new(&ts, l, servers, &clk, on_synced, NULL, &err), 0);
    CHECK(!timesync_synced(ts));
    run_until(l, NULL, &synced_count, 1);
    /* The dead server first, then the live one; its forged reply (another
     * origin, an hour ahead) was ignored, the real one stepped the clock by
     * the 1000 s it was behind. */
    CHECK_INT(synced_count, 1);
    CHECK(timesync_synced(ts));
    CHECK_INT(srv.requests, 1);
    CHECK_INT(fc.steps, 1);
    CHECK_INT(fc.slews, 0);
    CHECK(fc.last > 999500000000LL && fc.last < 1000500000000LL);

    /* The same servers again (a lease renewed): no new request.  The marker
     * fires 300 ms later; a request scheduled by the call would be due at once. */
    CHECK_INT(timesync_set_servers(ts, servers, &err), 0);
    marker_fired = false;
    CHECK(loop_add_timer(l, 300, marker, NULL) > 0);
    run_until(l, &marker_fired, NULL, 0);
    CHECK_INT(srv.requests, 1);
    /* The positive control: another list asks at once. */
    char *live[] = { b, NULL };
    CHECK_INT(timesync_set_servers(ts, live, &err), 0);
    marker_fired = false;
    CHECK(loop_add_timer(l, 300, marker, NULL) > 0);
    run_until(l, &marker_fired, NULL, 0);
    CHECK_INT(srv.requests, 2);
    CHECK_INT(synced_count, 1);   /* the callback runs once */
    /* Not an address: refused, nothing changed. */
    char *bad[] = { "ntp.example", NULL };
    CHECK_INT(timesync_set_servers(ts, bad, &err), -EINVAL);
    CHECK(strstr(err.msg, "ntp.example") != NULL);

    timesync_free(ts);
    loop_del_fd(l, srv.fd);
    close_safe(srv.fd);
    loop_free(l);
}

TEST(client_slews_small_offsets)
{
    struct loop *l = NULL;
    struct kerr err = { 0 };
    CHECK_INT(loop_new(&l, &err), 0);
    struct fake_server srv = { 0 };
    srv.fd = udp_bound(&srv.port);
    CHECK(srv.fd >= 0);
    CHECK_INT(loop_add_fd(l, srv.fd, EPOLLIN, server_reply, &srv), 0);
    char b[32];
    snprintf(b, sizeof b, "127.0.0.1:%u", srv.port);
    char *servers[] = { b, NULL };
    struct fake_clock fc = { .offset = -200000000LL };   /* 200 ms behind */
    struct timesync_clock clk = { fc_now, fc_step, fc_slew, &fc };
    struct timesync *ts = NULL;
    synced_count = 0;
    CHECK_INT(timesync_new(&ts, l, servers, &clk, on_synced, NULL, &err), 0);
    run_until(l, NULL, &synced_count, 1);
    CHECK_INT(synced_count, 1);
    CHECK_INT(fc.steps, 0);
    CHECK_INT(fc.slews, 1);
    CHECK(fc.last > 150000000LL && fc.last < 250000000LL);
    timesync_free(ts);
    loop_del_fd(l, srv.fd);
    close_safe(srv.fd);
    loop_free(l);
}

int main(void)
{
    RUN(client_steps_after_a_dead_server);
    RUN(client_slews_small_offsets);
    RUN(volatile_file);
    RUN(saved_parse);
    RUN(save_and_refusals);
    return unit_done();
}
