/* timesync.c — the SNTP client on keel's loop and the saved clock, see timesync.h. */
#include "keel/timesync.h"
#include "keel/log.h"
#include "keel/parse.h"
#include "keel/sntp.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define RETRY_MIN_MS 1000ULL
#define RETRY_MAX_MS 64000ULL
#define POLL_MIN_MS 64000ULL
#define POLL_MAX_MS 1024000ULL
/* Datagrams read per wake-up: a flood of foreign ones cannot hold the loop. */
#define READS_PER_WAKE 16
/* Saved times outside [2000, 2200) are not ours. */
#define SAVED_MIN 946684800LL
#define SAVED_MAX 7258118400LL

struct timesync {
    struct loop *loop;
    struct timesync_clock clock;
    struct sockaddr_in *servers;
    size_t n_servers, cur;
    int fd;                 /* the exchange in flight, -1 when none */
    uint64_t nonce;         /* its transmit timestamp */
    int64_t t1;             /* its send time, CLOCK_REALTIME ns */
    int64_t timer;          /* next request or the attempt's deadline; 0 none */
    uint64_t retry_ms, poll_ms;
    bool synced;
    timesync_synced_cb synced_cb;
    void *data;
};

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * NS_PER_S + t.tv_nsec;
}

/* The nonce must be unpredictable to an off-path attacker.  Early in boot the
 * kernel's pool may not be initialized yet: PID 1 must not block on it, and
 * GRND_INSECURE (5.6+) still gives the best bytes the kernel has. */
static uint64_t nonce64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
    if (getrandom(&v, sizeof v, GRND_INSECURE) == (ssize_t)sizeof v)
        return v;
    return v ^ now_ns() ^ (uint64_t)realtime_ns() << 17;
}

static const char *server_name(const struct timesync *ts, char *buf, size_t n)
{
    const struct sockaddr_in *a = &ts->servers[ts->cur];
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(buf, n, "%s:%u", ip, ntohs(a->sin_port));
    return buf;
}

static void on_timer(struct loop *l, void *data);

static void schedule(struct timesync *ts, uint64_t ms)
{
    if (ts->timer > 0)
        loop_cancel_timer(ts->loop, ts->timer);
    ts->timer = loop_add_timer(ts->loop, ms, on_timer, ts);
    if (ts->timer < 0)
        log_error("cannot arm the clock synchronization's timer: %s", strerror((int)-ts->timer));
}

static void end_exchange(struct timesync *ts)
{
    if (ts->fd >= 0) {
        loop_del_fd(ts->loop, ts->fd);
        close_safe(ts->fd);
        ts->fd = -1;
    }
    if (ts->timer > 0)
        loop_cancel_timer(ts->loop, ts->timer);
    ts->timer = 0;
}

/* An attempt failed: the next server, after the retry delay. */
static void attempt_failed(struct timesync *ts, const char *why, bool kiss)
{
    char name[40];
    log_warn("cannot synchronize the clock with %s: %s", server_name(ts, name, sizeof name), why);
    end_exchange(ts);
    ts->cur = (ts->cur + 1) % ts->n_servers;
    /* A kiss-o'-death asks the client to go away: the longest delay. */
    uint64_t delay = kiss ? RETRY_MAX_MS : ts->retry_ms;
    ts->retry_ms = ts->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ts->retry_ms * 2;
    schedule(ts, delay);
}

/* The machine's clock, the default of struct timesync_clock. */
static int64_t machine_now(void *ctx)
{
    return realtime_ns();
}

static int machine_step(void *ctx, int64_t offset_ns, struct kerr *err)
{
    /* Added to the clock read now, so the time spent since T4 is kept. */
    int64_t t = realtime_ns() + offset_ns;
    struct timespec ts = { .tv_sec = t / NS_PER_S, .tv_nsec = t % NS_PER_S };
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += NS_PER_S;
        ts.tv_sec--;
    }
    if (clock_settime(CLOCK_REALTIME, &ts) < 0)
        return kerr_set(err, errno, "cannot set the clock");
    /* A slew still running from an earlier sample would add to the step. */
    struct timex tx = { .modes = ADJ_OFFSET_SINGLESHOT, .offset = 0 };
    if (adjtimex(&tx) < 0)
        return kerr_set(err, errno, "cannot cancel the clock's slew");
    return 0;
}

static int machine_slew(void *ctx, int64_t offset_ns, struct kerr *err)
{
    struct timex tx = { .modes = ADJ_OFFSET_SINGLESHOT, .offset = (long)(offset_ns / 1000) };
    if (adjtimex(&tx) < 0)
        return kerr_set(err, errno, "cannot slew the clock");
    return 0;
}

static const struct timesync_clock machine_clock = { machine_now, machine_step, machine_slew, NULL };

static void sample(struct timesync *ts, const struct sntp_reply *r, int64_t t4)
{
    char why[PARSE_WHY_MAX] = "", name[40];
    int64_t t2 = sntp_to_unix_ns(r->receive, t4), t3 = sntp_to_unix_ns(r->transmit, t4);
    int64_t offset, delay;
    if (sntp_offset(ts->t1, t2, t3, t4, (int64_t)TIMESYNC_ATTEMPT_MS * 1000000, &offset, &delay, why) < 0) {
        attempt_failed(ts, why, false);
        return;
    }
    struct kerr err = { 0 };
    bool stepped = offset > TIMESYNC_STEP_NS || offset < -TIMESYNC_STEP_NS;
    if ((stepped ? ts->clock.step : ts->clock.slew)(ts->clock.ctx, offset, &err) < 0) {
        attempt_failed(ts, err.msg, false);
        return;
    }
    server_name(ts, name, sizeof name);
    if (stepped || !ts->synced) {
        int64_t mag = offset < 0 ? -offset : offset;
        log_info("clock %s by %c%lld.%03lld s from %s (stratum %u, round trip %lld ms)", stepped ? "stepped" : "slewed",
                 offset < 0 ? '-' : '+', (long long)(mag / NS_PER_S), (long long)(mag % NS_PER_S / 1000000), name,
                 r->stratum, (long long)(delay / 1000000));
    }
    end_exchange(ts);
    ts->retry_ms = RETRY_MIN_MS;
    ts->poll_ms = ts->poll_ms == 0 ? POLL_MIN_MS : ts->poll_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS : ts->poll_ms * 2;
    schedule(ts, ts->poll_ms);
    if (!ts->synced) {
        ts->synced = true;
        if (ts->synced_cb)
            ts->synced_cb(ts->data);
    }
}

static void on_readable(struct loop *l, int fd, uint32_t events, void *data)
{
    struct timesync *ts = data;
    for (int i = 0; i < READS_PER_WAKE && ts->fd == fd; i++) {
        uint8_t pkt[128];
        ssize_t n = recv(fd, pkt, sizeof pkt, MSG_DONTWAIT);
        int64_t t4 = ts->clock.now(ts->clock.ctx);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            /* ECONNREFUSED: an ICMP port unreachable for our connected socket. */
            attempt_failed(ts, strerror(errno), false);
            return;
        }
        struct sntp_reply r;
        char why[PARSE_WHY_MAX] = "";
        int rc = sntp_parse_reply(pkt, (size_t)n, ts->nonce, &r, why);
        if (rc == -EBADMSG)
            continue;   /* not an answer to this request: keep waiting */
        if (rc < 0) {
            attempt_failed(ts, why, rc == -ECONNREFUSED);
            return;
        }
        sample(ts, &r, t4);
        return;
    }
}

static void send_request(struct timesync *ts)
{
    end_exchange(ts);
    /* A new socket for each request: a new random source port, and a
     * connected socket takes datagrams from the server's address only. */
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        attempt_failed(ts, strerror(errno), false);
        return;
    }
    int r = 0;
    if (connect(fd, (const struct sockaddr *)&ts->servers[ts->cur], sizeof ts->servers[ts->cur]) < 0)
        r = -errno;
    else
        r = loop_add_fd(ts->loop, fd, EPOLLIN, on_readable, ts);
    if (r < 0) {
        close_safe(fd);   /* not in the loop: end_exchange must not remove it */
        attempt_failed(ts, strerror(-r), false);
        return;
    }
    ts->fd = fd;
    uint8_t pkt[SNTP_PACKET_SIZE];
    ts->nonce = nonce64();
    sntp_request(pkt, ts->nonce);
    ts->t1 = ts->clock.now(ts->clock.ctx);
    if (send(fd, pkt, sizeof pkt, MSG_DONTWAIT) != (ssize_t)sizeof pkt) {
        attempt_failed(ts, strerror(errno), false);
        return;
    }
    ts->timer = loop_add_timer(ts->loop, TIMESYNC_ATTEMPT_MS, on_timer, ts);
    if (ts->timer < 0)
        attempt_failed(ts, "cannot arm the reply's deadline", false);
}

static void on_timer(struct loop *l, void *data)
{
    struct timesync *ts = data;
    ts->timer = 0;
    if (ts->n_servers == 0)
        return;
    if (ts->fd >= 0)
        attempt_failed(ts, "no reply within 2 s", false);
    else
        send_request(ts);
}

int timesync_set_servers(struct timesync *ts, char *const *servers, struct kerr *err)
{
    size_t n = strv_len(servers);
    struct sockaddr_in *a = NULL;
    if (n > 0 && !(a = calloc(n, sizeof *a)))
        return kerr_set(err, ENOMEM, "cannot keep the NTP servers");
    for (size_t i = 0; i < n; i++) {
        char why[PARSE_WHY_MAX] = "";
        if (sntp_parse_server(servers[i], &a[i], why) < 0) {
            free(a);
            return kerr_msg(err, EINVAL, "cannot use the NTP server %s: %s", servers[i], why);
        }
    }
    if (n == ts->n_servers && (n == 0 || memcmp(a, ts->servers, n * sizeof *a) == 0)) {
        free(a);
        return 0;
    }
    end_exchange(ts);
    free(ts->servers);
    ts->servers = a;
    ts->n_servers = n;
    ts->cur = 0;
    ts->retry_ms = RETRY_MIN_MS;
    if (n > 0)
        schedule(ts, 0);
    return 0;
}

int timesync_new(struct timesync **out, struct loop *l, char *const *servers, const struct timesync_clock *clock,
                 timesync_synced_cb synced, void *data, struct kerr *err)
{
    struct timesync *ts = calloc(1, sizeof *ts);
    if (!ts)
        return kerr_set(err, ENOMEM, "cannot start the clock synchronization");
    ts->loop = l;
    ts->clock = clock ? *clock : machine_clock;
    ts->fd = -1;
    ts->synced_cb = synced;
    ts->data = data;
    int r = timesync_set_servers(ts, servers, err);
    if (r < 0) {
        timesync_free(ts);
        return r;
    }
    *out = ts;
    return 0;
}

bool timesync_synced(const struct timesync *ts)
{
    return ts && ts->synced;
}

void timesync_free(struct timesync *ts)
{
    if (!ts)
        return;
    end_exchange(ts);
    free(ts->servers);
    free(ts);
}

/* --- the saved clock ---------------------------------------------------------------- */

int timesync_saved_parse(const char *text, int64_t *sec)
{
    char buf[24];
    size_t n = strcspn(text, "\n");
    if (n == 0 || n >= sizeof buf || (text[n] == '\n' && text[n + 1] != '\0'))
        return -EINVAL;
    memcpy(buf, text, n);
    buf[n] = '\0';
    uint64_t v;
    if (parse_u64(buf, SAVED_MIN, SAVED_MAX - 1, &v, NULL) < 0)
        return -EINVAL;
    *sec = (int64_t)v;
    return 0;
}

int timesync_restore(const char *path, struct kerr *err)
{
    _cleanup_free_ char *text = NULL;
    /* Non-blocking open, regular files only: a FIFO there must not hold PID 1 at boot. */
    int r = read_regular_file(path, 64, &text, NULL);
    if (r == -ENOENT)
        return 0;
    if (r == -EINVAL)
        return kerr_msg(err, EINVAL, "cannot read the saved clock %s: not a regular file", path);
    if (r < 0)
        return kerr_set(err, -r, "cannot read the saved clock %s", path);
    int64_t saved;
    if (timesync_saved_parse(text, &saved) < 0)
        return kerr_msg(err, EINVAL, "cannot restore the clock from %s: not a saved time", path);
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) < 0)
        return kerr_set(err, errno, "cannot read the clock");
    if (saved <= now.tv_sec)
        return 0;   /* the clock is ahead: never move it backwards */
    struct timespec t = { .tv_sec = saved, .tv_nsec = 0 };
    if (clock_settime(CLOCK_REALTIME, &t) < 0)
        return kerr_set(err, errno, "cannot set the clock to the time saved in %s", path);
    return 1;
}

bool timesync_file_volatile(const char *path)
{
    _cleanup_free_ char *dir = strdup(path);
    if (!dir)
        return false;
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = '\0';
    struct statfs st;
    if (statfs(dir, &st) < 0)
        return false;
    return st.f_type == TMPFS_MAGIC || st.f_type == RAMFS_MAGIC;
}

int timesync_save(const char *path, struct kerr *err)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    if (!tmp)
        return kerr_set(err, ENOMEM, "cannot save the clock to %s", path);
    char line[32];
    snprintf(line, sizeof line, "%lld\n", (long long)(realtime_ns() / NS_PER_S));
    /* A fresh file: clock_file's directory may be one someone else writes
     * (a volume a container shares), and what they put at PATH.tmp is
     * removed, never opened: a FIFO's open would hold PID 1, O_TRUNC would
     * empty a host file hard-linked there.  One put back meanwhile: EEXIST,
     * this save fails (the next one tries again). */
    if (unlink(tmp) < 0 && errno != ENOENT)
        return kerr_set(err, errno, "cannot save the clock to %s: cannot remove the old one", tmp);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
    if (fd < 0)
        return kerr_set(err, errno, "cannot save the clock to %s", tmp);
    int r = write_all(fd, line, strlen(line));
    if (r < 0)
        return kerr_set(err, -r, "cannot save the clock to %s", tmp);
    if (fsync(fd) < 0)
        return kerr_set(err, errno, "cannot save the clock to %s", tmp);
    if (rename(tmp, path) < 0)
        return kerr_set(err, errno, "cannot save the clock to %s", path);
    /* The rename reaches the disk with its directory. */
    _cleanup_free_ char *dir = strdup(path);
    if (!dir)
        return kerr_set(err, ENOMEM, "cannot save the clock to %s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else
        strcpy(dir, "/");
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0)
        return kerr_set(err, errno, "cannot save the clock to %s: cannot sync %s", path, dir);
    return 0;
}
