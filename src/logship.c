/* logship.c — the syslog forwarder of logship.h: a byte ring of queued
 * messages and a non-blocking UDP or TCP sender driven by the loop.
 */
#include "keel/logship.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "keel/log.h"
#include "keel/proto.h"
#include "keel/util.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

/* A queued message: this record, then the app name, then the text.  The
 * record and the bytes may wrap around the end of the ring. */
struct entry {
    uint16_t len;         /* the whole entry */
    uint8_t pri;
    uint8_t app_len;
    uint32_t msg_len;
    uint64_t ts_us;       /* CLOCK_REALTIME when queued */
};

static struct {
    char *ring;
    size_t head, used, count;
    uint64_t queued, sent, dropped, unreported;

    struct loop *loop;
    char url[128];
    bool tcp;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fd;
    bool connecting, ready;
    uint32_t events;          /* registered epoll mask; 0 and fd >= 0: registered, idle */
    size_t frame_off;         /* TCP: bytes of the head message's frame already written */
    uint64_t backoff_ms;
    int64_t timer;            /* flush or retry */
    bool failing;             /* delivery failed: said once, until it works again */
    unsigned ok_run;          /* messages sent since the last failure */
    char host[256];
} q = { .fd = -1 };

/* --- pure pieces ------------------------------------------------------------ */

/* RFC 5424 HOSTNAME and APP-NAME are printable US-ASCII without spaces. */
static void printusascii(char *dst, size_t n, const char *src, size_t max)
{
    size_t i = 0;
    for (; src && src[i] && i < max && i + 1 < n; i++) {
        char c = src[i];
        if (c <= 32 || c >= 127)
            c = '_';
        dst[i] = c;
    }
    if (i == 0 && n > 1)
        dst[i++] = '-';
    dst[i] = 0;
}

size_t logship_header(char *buf, size_t n, int pri, uint64_t ts_us, const char *host, const char *app)
{
    char h[256], a[LOGSHIP_APP_MAX + 1], ts[40];
    printusascii(h, sizeof h, host, 255);
    printusascii(a, sizeof a, app, LOGSHIP_APP_MAX);
    /* Not gmtime_r + strftime: see utc_time_format (util.h). */
    utc_time_format((int64_t)(ts_us / 1000000u), ts, sizeof ts);
    if (ts[0] == '?') {
        snprintf(ts, sizeof ts, "-");
    } else {
        size_t l = strlen(ts);
        snprintf(ts + l, sizeof ts - l, ".%06uZ", (unsigned)(ts_us % 1000000u));
    }
    int r = snprintf(buf, n, "<%d>1 %s %s %s - - - ", pri, ts, h, a);
    if (r < 0)
        return 0;
    return (size_t)r < n ? (size_t)r : n - 1;
}

/* --- the ring ---------------------------------------------------------------- */

static void ring_put(size_t off, const void *src, size_t n)
{
    off %= LOGSHIP_QUEUE_BYTES;
    size_t first = LOGSHIP_QUEUE_BYTES - off < n ? LOGSHIP_QUEUE_BYTES - off : n;
    memcpy(q.ring + off, src, first);
    memcpy(q.ring, (const char *)src + first, n - first);
}

static void ring_get(size_t off, void *dst, size_t n)
{
    off %= LOGSHIP_QUEUE_BYTES;
    size_t first = LOGSHIP_QUEUE_BYTES - off < n ? LOGSHIP_QUEUE_BYTES - off : n;
    memcpy(dst, q.ring + off, first);
    memcpy((char *)dst + first, q.ring, n - first);
}

/* Up to two pieces of ring bytes [off, off+n) as iovecs; returns how many. */
static int ring_iov(size_t off, size_t n, struct iovec *iov)
{
    off %= LOGSHIP_QUEUE_BYTES;
    size_t first = LOGSHIP_QUEUE_BYTES - off < n ? LOGSHIP_QUEUE_BYTES - off : n;
    iov[0] = (struct iovec){ .iov_base = q.ring + off, .iov_len = first };
    if (first == n)
        return 1;
    iov[1] = (struct iovec){ .iov_base = q.ring, .iov_len = n - first };
    return 2;
}

static void pop_head(void)
{
    struct entry e;
    ring_get(q.head, &e, sizeof e);
    q.head = (q.head + e.len) % LOGSHIP_QUEUE_BYTES;
    q.used -= e.len;
    q.count--;
    q.frame_off = 0;
    /* Empty: start again at the front, so that while delivery keeps up
     * only the ring's first pages are ever touched (keel's RSS budget). */
    if (!q.count)
        q.head = 0;
}

static void arm(uint64_t ms);

void logship_add(int facility, int severity, const char *app, const char *msg, size_t len)
{
    if (!q.ring)
        return;
    size_t app_len = strnlen(app, LOGSHIP_APP_MAX);
    if (len > LOGSHIP_TEXT_MAX)
        len = LOGSHIP_TEXT_MAX;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct entry e = { .pri = (uint8_t)(facility * 8 + severity), .app_len = (uint8_t)app_len,
                       .msg_len = (uint32_t)len,
                       .ts_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u };
    size_t total = sizeof e + app_len + len;
    e.len = (uint16_t)total;
    while (q.used + total > LOGSHIP_QUEUE_BYTES) {
        /* The head half-written on TCP must stay whole: the new one goes. */
        if (!q.count || q.frame_off) {
            q.dropped++;
            q.unreported++;
            return;
        }
        pop_head();
        q.dropped++;
        q.unreported++;
    }
    size_t tail = q.head + q.used;
    ring_put(tail, &e, sizeof e);
    ring_put(tail + sizeof e, app, app_len);
    ring_put(tail + sizeof e + app_len, msg, len);
    q.used += total;
    q.count++;
    q.queued++;
    if (q.loop && q.ready && !q.timer && !(q.events & EPOLLOUT))
        arm(0);
}

int logship_queue_init(void)
{
    if (q.ring)
        return 0;
    q.ring = malloc(LOGSHIP_QUEUE_BYTES);
    return q.ring ? 0 : -ENOMEM;
}

void logship_get_stats(struct logship_stats *st)
{
    memset(st, 0, sizeof *st);
    st->enabled = q.loop != NULL;
    st->queued = q.queued;
    st->sent = q.sent;
    st->dropped = q.dropped;
    st->pending = q.count;
    st->connected = q.ready;
}

/* --- the sender ------------------------------------------------------------- */

static void connect_now(void);
static void flush(void);

static void on_timer(struct loop *l, void *data)
{
    q.timer = 0;
    if (q.fd < 0)
        connect_now();
    else if (q.ready)
        flush();
}

static void arm(uint64_t ms)
{
    if (q.timer)
        loop_cancel_timer(q.loop, q.timer);
    int64_t id = loop_add_timer(q.loop, ms, on_timer, NULL);
    q.timer = id > 0 ? id : 0;
}

static void set_events(uint32_t ev)
{
    if (q.fd >= 0 && ev != q.events && loop_mod_fd(q.loop, q.fd, ev) == 0)
        q.events = ev;
}

static void close_sock(void)
{
    if (q.fd >= 0) {
        loop_del_fd(q.loop, q.fd);
        close_safe(q.fd);
    }
    q.fd = -1;
    q.events = 0;
    q.connecting = q.ready = false;
    q.frame_off = 0;   /* a new connection gets the whole message again */
}

/* Delivery failed: say so once per outage, and try again after the backoff.
 * (The warning itself is queued like any line of keel's.) */
static void trouble(int e, bool reconnect)
{
    q.ok_run = 0;
    if (!q.failing)
        log_warn("cannot send to the syslog collector %s: %s; queueing (%zu messages held), retrying", q.url,
                 strerror(e), q.count);
    q.failing = true;
    if (reconnect)
        close_sock();
    arm(q.backoff_ms);
    q.backoff_ms = q.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : q.backoff_ms * 2;
}

static void delivered(void)
{
    q.backoff_ms = BACKOFF_MIN_MS;
    /* UDP: a send "works" even to a closed port (the refusal comes back
     * with the next one): delivery counts as back after two in a row. */
    if (++q.ok_run < (q.tcp ? 1u : 2u))
        return;
    if (q.failing)
        log_info("syslog: delivering to %s again", q.url);
    q.failing = false;
    if (q.unreported) {
        char msg[128];
        int n = snprintf(msg, sizeof msg,
                         "warning: %llu syslog messages dropped: the queue was full while the collector was "
                         "unreachable", (unsigned long long)q.unreported);
        q.unreported = 0;
        if (n > 0)
            logship_add(LOGSHIP_FAC_DAEMON, LOGSHIP_SEV_WARNING, "keel", msg, (size_t)n);
    }
}

/* Sends queued messages until the socket or the queue says stop. */
static void flush(void)
{
    for (unsigned budget = 256; budget && q.count && q.ready; budget--) {
        struct entry e;
        char app[LOGSHIP_APP_MAX + 1];
        char hdr[LOGSHIP_MSG_MAX];
        ring_get(q.head, &e, sizeof e);
        ring_get(q.head + sizeof e, app, e.app_len);
        app[e.app_len] = 0;
        size_t h = logship_header(hdr + 16, sizeof hdr - 16, e.pri, e.ts_us, q.host, app);
        char *start = hdr + 16;
        if (q.tcp) {
            /* RFC 6587 octet counting: "LEN SP" before the message. */
            char len[16];
            int l = snprintf(len, sizeof len, "%zu ", h + e.msg_len);
            start -= l;
            memcpy(start, len, (size_t)l);
            h += (size_t)l;
        }
        struct iovec iov[3] = { { .iov_base = start, .iov_len = h } };
        int n_iov = 1 + (e.msg_len ? ring_iov(q.head + sizeof e + e.app_len, e.msg_len, iov + 1) : 0);
        size_t frame = h + e.msg_len;
        /* TCP: skip what an earlier partial write already sent. */
        size_t skip = q.frame_off;
        int first = 0;
        while (skip && first < n_iov) {
            if (skip >= iov[first].iov_len) {
                skip -= iov[first].iov_len;
                first++;
            } else {
                iov[first].iov_base = (char *)iov[first].iov_base + skip;
                iov[first].iov_len -= skip;
                skip = 0;
            }
        }
        struct msghdr mh = { .msg_iov = iov + first, .msg_iovlen = (size_t)(n_iov - first) };
        ssize_t w = sendmsg(q.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                set_events(EPOLLOUT | (q.tcp ? EPOLLIN : 0));
                return;
            }
            /* UDP: the message stays queued (a refused datagram reports on
             * the next send, which is then not sent); TCP: reconnect. */
            trouble(errno, q.tcp);
            return;
        }
        if (q.tcp && q.frame_off + (size_t)w < frame) {
            q.frame_off += (size_t)w;
            continue;
        }
        pop_head();
        q.sent++;
        delivered();
    }
    if (q.count && q.ready)
        arm(0);   /* budget used: let the loop serve others first */
    else
        set_events(q.tcp ? EPOLLIN : 0);
}

static void on_sock(struct loop *l, int fd, uint32_t events, void *data)
{
    if (q.connecting) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(q.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
            e = errno;
        if (e == 0 && !(events & EPOLLOUT))
            return;
        if (e) {
            trouble(e, true);
            return;
        }
        q.connecting = false;
        q.ready = true;
        set_events(EPOLLIN);
        flush();
        return;
    }
    if (!q.tcp && (events & EPOLLERR)) {
        /* A datagram was refused (the collector's port is closed): reading
         * SO_ERROR clears it; the queue waits out the backoff. */
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(q.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
            e = errno;
        if (e)
            trouble(e, false);
        return;
    }
    if (q.tcp && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        /* The collector sends nothing: data is dropped, end of stream or
         * an error means the connection is gone. */
        char sink[512];
        ssize_t n = recv(q.fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (events & (EPOLLHUP | EPOLLERR))) {
            trouble(n < 0 ? errno : ECONNRESET, true);
            return;
        }
    }
    if (events & EPOLLOUT)
        flush();
}

static void connect_now(void)
{
    close_sock();
    int fd = socket(q.addr.ss_family, (q.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        trouble(errno, false);
        return;
    }
    q.fd = fd;
    int r = connect(fd, (const struct sockaddr *)&q.addr, q.addr_len);
    if (r < 0 && errno != EINPROGRESS) {
        trouble(errno, true);
        return;
    }
    uint32_t ev = r < 0 ? EPOLLOUT : (q.tcp ? EPOLLIN : 0);
    if (loop_add_fd(q.loop, fd, ev, on_sock, NULL) < 0) {
        trouble(errno, true);
        return;
    }
    q.events = ev;
    q.connecting = r < 0;
    q.ready = r == 0;
    if (q.ready)
        flush();
}

int logship_start(struct loop *l, const char *url, struct kerr *err)
{
    struct proto_url u;
    int r = proto_inet_url_parse(url, true, "syslog", &u, err);
    if (r < 0)
        return r;
    if (!q.ring && logship_queue_init() < 0)
        return kerr_set(err, ENOMEM, "cannot forward to syslog %s", url);
    q.addr_len = proto_url_sockaddr(&u, &q.addr);
    struct utsname un;
    snprintf(q.host, sizeof q.host, "%s", uname(&un) == 0 ? un.nodename : "-");
    snprintf(q.url, sizeof q.url, "%s", url);
    q.tcp = u.kind == PROTO_URL_TCP;
    q.loop = l;
    q.backoff_ms = BACKOFF_MIN_MS;
    connect_now();
    return 0;
}

void logship_stop(void)
{
    if (q.loop) {
        if (q.ready)
            flush();   /* best effort, never waiting */
        if (q.timer)
            loop_cancel_timer(q.loop, q.timer);
        q.timer = 0;
        close_sock();
    }
    q.loop = NULL;
    free(q.ring);
    q.ring = NULL;
    q.head = q.used = q.count = 0;
}
