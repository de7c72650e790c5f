/* control_stream.c — the control server's streams (control_conn.h): a log
 * (`logs`, which ends at the size the log had when asked, and `logs -f`,
 * woken by the server's shared inotify instance or polling without it) and
 * the supervisor's state changes (`events`).
 */
#include "keel/control_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keel/util.h"

/* --- logs ------------------------------------------------------------------- */

/* Ends the log stream (if any): its fd, poll timer and path. */
void control_logs_stop(struct conn *cn)
{
    if (cn->logs.poll_timer > 0)
        loop_cancel_timer(cn->c->loop, cn->logs.poll_timer);
    cn->logs.poll_timer = 0;
    close_safe(cn->logs.fd);
    cn->logs.fd = -1;
    if (cn->logs.dir != AT_FDCWD)
        close_safe(cn->logs.dir);
    cn->logs.dir = AT_FDCWD;
    free(cn->logs.path);
    cn->logs.path = NULL;
    cn->logs.name = NULL;
    cn->logs.partial_len = 0;
    cn->logs.scanning = false;
}

static void emit_log_line(struct conn *cn, const char *s, size_t n)
{
    json_obj_begin(&cn->out);
    json_kint(&cn->out, "keel", PROTO_VERSION);
    json_key(&cn->out, "line");
    json_strn(&cn->out, s, n);
    json_obj_end(&cn->out);
    json_raw(&cn->out, "\n", 1);
}

/* Splits data into lines; keeps an incomplete last line for later. */
static void log_feed(struct conn *cn, const char *buf, size_t n)
{
    while (n) {
        const char *nl = memchr(buf, '\n', n);
        size_t take = nl ? (size_t)(nl - buf) : n;
        if (cn->logs.partial_len + take > LOG_LINE_MAX)
            take = LOG_LINE_MAX - cn->logs.partial_len;
        memcpy(cn->logs.partial + cn->logs.partial_len, buf, take);
        cn->logs.partial_len += take;
        buf += take, n -= take;
        if (nl && n && *buf == '\n') {
            buf++, n--;
            emit_log_line(cn, cn->logs.partial, cn->logs.partial_len);
            cn->logs.partial_len = 0;
        } else if (cn->logs.partial_len == LOG_LINE_MAX) {
            emit_log_line(cn, cn->logs.partial, cn->logs.partial_len);
            cn->logs.partial_len = 0;
        }
    }
}

static void logs_end(struct conn *cn)
{
    if (cn->logs.partial_len)
        emit_log_line(cn, cn->logs.partial, cn->logs.partial_len);
    json_obj_begin(&cn->out);
    json_kint(&cn->out, "keel", PROTO_VERSION);
    json_kstr(&cn->out, "op", "logs");
    json_kbool(&cn->out, "end", true);
    json_obj_end(&cn->out);
    json_raw(&cn->out, "\n", 1);
    control_logs_stop(cn);
    cn->mode = CM_REQUEST;
}

/* Reopens the log when it was rotated (its path names another file now). */
static bool log_rotated(struct conn *cn)
{
    struct stat a, b;
    if (cn->logs.fd < 0)
        return fstatat(cn->logs.dir, cn->logs.name, &b, AT_SYMLINK_NOFOLLOW) == 0;
    if (fstat(cn->logs.fd, &a) < 0 || fstatat(cn->logs.dir, cn->logs.name, &b, AT_SYMLINK_NOFOLLOW) < 0)
        return false;
    return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

/* The inotify watch of a follower's directory (held: cn->logs.dir; else
 * DIR, the path's), on the shared instance: the same directory gives the
 * same watch, nothing to remove when the follower leaves.  -1 without one. */
static int logs_watch(struct conn *cn, const char *dir)
{
    char held[32];
    if (cn->logs.dir != AT_FDCWD) {
        snprintf(held, sizeof held, "/proc/self/fd/%d", cn->logs.dir);   /* the directory keel holds */
        dir = held;
    }
    if (cn->c->ino_fd < 0)
        return -1;
    return inotify_add_watch(cn->c->ino_fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
}

static void logs_poll(struct loop *l, void *data);

/* Whether the directory DIR (an fd) was removed. */
static bool dir_removed(int dir)
{
    struct stat st;
    return fstat(dir, &st) == 0 && st.st_nlink == 0;
}

/* A follower whose log directory was removed (log_dir removed and made
 * again: the supervisor opens the one at its path when it notices, and the
 * container's output moves there) moves with the output: the directory
 * keel holds for the container now, its log opened there from the start, a
 * new watch.  Until the output has moved the follower polls (the old
 * directory's watch went with it).  Called at the end of the old log: the
 * output writes in this same loop, so nothing written to the old file
 * before the move is skipped.  True when it moved. */
static bool logs_follow_moved_dir(struct conn *cn)
{
    struct control *c = cn->c;
    int i = c->be.find(c->be.sup, cn->logs.cname);
    int held = i >= 0 && c->be.log_dir_fd ? c->be.log_dir_fd(c->be.sup, (size_t)i) : -1;
    int dir = held >= 0 && !dir_removed(held) ? fcntl(held, F_DUPFD_CLOEXEC, 3) : -1;
    int fd = dir >= 0 ? open_regular_nofollow_at(dir, cn->logs.name, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1;
    if (fd < 0) {
        close_safe(dir);
        if (cn->logs.poll_timer == 0) {
            int64_t id = loop_add_timer(c->loop, c->opts.log_poll_ms, logs_poll, cn);
            cn->logs.poll_timer = id > 0 ? id : 0;
        }
        return false;
    }
    close_safe(cn->logs.fd);
    close(cn->logs.dir);
    cn->logs.fd = fd;
    cn->logs.dir = dir;
    if (logs_watch(cn, NULL) >= 0 && cn->logs.poll_timer > 0) {
        loop_cancel_timer(c->loop, cn->logs.poll_timer);
        cn->logs.poll_timer = 0;
    }
    return true;
}

/* Moves log data to the client while its output is not backed up: the log
 * file itself is the buffer, so a slow reader pauses the stream, nothing
 * more (backpressure instead of unbounded buffering).  At most LOG_BUDGET
 * bytes per call, so a long log does not hold up the loop; the rest follows
 * when the socket is writable (pump_more asks for EPOLLOUT). */
#define LOG_BUDGET (256 * 1024)
static void logs_stream(struct conn *cn)
{
    char buf[LOG_CHUNK];
    size_t budget = LOG_BUDGET;
    while (!cn->dead && cn->mode == CM_LOGS) {
        if (control_out_pending(cn) >= OUT_HIGH || !budget) {
            /* More to send: EPOLLOUT resumes us.  Asked for explicitly, as
             * the flush below may send everything (the client read in the
             * meantime), and then nothing else would ask for it: the stream
             * would stop for good with the log half sent (issue 20). */
            cn->logs.pump_more = true;
            break;
        }
        size_t want = sizeof buf;
        if (!cn->logs.follow && cn->logs.left < want)
            want = (size_t)cn->logs.left;
        ssize_t n = cn->logs.fd >= 0 && want ? read(cn->logs.fd, buf, want) : 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            control_conn_fail(cn, "logs", "cannot read the log");
            return;
        }
        if (n > 0) {
            budget = (size_t)n < budget ? budget - (size_t)n : 0;
            if (!cn->logs.follow)
                cn->logs.left -= (uint64_t)n;
            log_feed(cn, buf, (size_t)n);
            if (control_out_pending(cn) >= OUT_HIGH)
                control_conn_flush(cn);   /* may make room to go on at once */
            continue;
        }
        if (!cn->logs.follow) {
            logs_end(cn);
            break;
        }
        if (cn->logs.dir != AT_FDCWD && dir_removed(cn->logs.dir)) {
            if (logs_follow_moved_dir(cn))
                continue;
            break;   /* polling until the output has moved */
        }
        if (log_rotated(cn)) {
            int fd = open_regular_nofollow_at(cn->logs.dir, cn->logs.name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
            if (fd >= 0) {
                close_safe(cn->logs.fd);
                cn->logs.fd = fd;
                continue;
            }
        }
        break;   /* at the end: wait for inotify */
    }
    if (cn->dead)
        return;
    if (cn->mode == CM_REQUEST)
        control_conn_process(cn);   /* the stream ended: pipelined requests, or EOF */
    else
        control_conn_flush(cn);
}

static void logs_scan(struct conn *cn);

void control_logs_pump(struct conn *cn)
{
    cn->logs.pump_more = false;
    if (cn->logs.scanning)
        logs_scan(cn);   /* --tail: the stream has not started yet */
    else
        logs_stream(cn);
}

/* The shared inotify instance: something changed in a watched log
 * directory; every follower reads on from where it is (which file changed
 * does not matter: a pump at the end of its file reads nothing). */
void control_logs_inotify(struct loop *l, int fd, uint32_t events, void *data)
{
    struct control *c = data;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(fd, buf, sizeof buf) > 0) {
        /* drained (an overflow of the queue needs nothing more either) */
    }
    for (struct conn *cn = c->conns, *nx; cn; cn = nx) {
        nx = cn->next;
        if (!cn->dead && cn->mode == CM_LOGS && cn->logs.follow && !cn->logs.scanning && cn->logs.poll_timer == 0)
            control_logs_pump(cn);
    }
}

/* A follower without inotify reads on every log_poll_ms. */
static void logs_poll(struct loop *l, void *data)
{
    struct conn *cn = data;
    cn->logs.poll_timer = 0;
    if (cn->dead || cn->mode != CM_LOGS || !cn->logs.follow)
        return;
    int64_t id = loop_add_timer(l, cn->c->opts.log_poll_ms, logs_poll, cn);
    cn->logs.poll_timer = id > 0 ? id : 0;
    control_logs_pump(cn);
}

/* --- logs --tail: where the last N lines begin ---------------------------- */

void tail_scan_init(struct tail_scan *t, uint64_t size, int64_t lines)
{
    *t = (struct tail_scan){ .size = size, .pos = size, .want = lines };
    if (lines < 0 || size == 0) {
        t->done = true;   /* all of it (from 0) */
    } else if (lines == 0) {
        t->done = true;
        t->from = size;
    }
}

bool tail_scan_feed(struct tail_scan *t, const char *buf, size_t n)
{
    if (t->done)
        return true;
    t->pos -= n;
    for (size_t i = n; i-- > 0;) {   /* a byte loop: memrchr would link 2.4 KiB of libc variants */
        /* The newline that ends the log does not start a line. */
        if (buf[i] != '\n' || t->pos + i == t->size - 1)
            continue;
        if (++t->seen == t->want) {
            t->from = t->pos + i + 1;
            t->done = true;
            return true;
        }
    }
    if (t->pos == 0)
        t->done = true;   /* fewer lines than asked: from 0 */
    return t->done;
}

/* At most TAIL_BUDGET bytes of the scan per loop turn (the rest when the
 * socket is writable again: pump_more, as the stream itself goes on). */
#define TAIL_BUDGET (1024 * 1024)
static void tail_step(struct conn *cn)
{
    char buf[LOG_CHUNK];
    struct tail_scan *t = &cn->logs.tail;
    for (size_t budget = TAIL_BUDGET; !t->done && budget > 0;) {
        size_t n = t->pos > sizeof buf ? sizeof buf : (size_t)t->pos;
        if (pread(cn->logs.fd, buf, n, (off_t)(t->pos - n)) != (ssize_t)n) {
            /* A failed or short read (truncated meanwhile): the whole log. */
            t->from = 0;
            t->done = true;
            break;
        }
        tail_scan_feed(t, buf, n);
        budget = n < budget ? budget - n : 0;
    }
}

/* A log request that cannot go on: its error line, and the next request. */
static void logs_refuse(struct conn *cn, const char *msg)
{
    control_error_line(&cn->out, "logs", msg);
    control_logs_stop(cn);
    cn->mode = CM_REQUEST;
}

/* The tail is found: the stream starts (its reply line, the end point, the
 * watch of a follower).  False when refused instead. */
static bool logs_ready(struct conn *cn)
{
    struct control *c = cn->c;
    off_t from = (off_t)cn->logs.tail.from;
    struct stat st = { 0 };
    cn->logs.scanning = false;
    if (cn->logs.fd >= 0 && (lseek(cn->logs.fd, from, SEEK_SET) < 0 || fstat(cn->logs.fd, &st) < 0)) {
        logs_refuse(cn, "cannot seek in the log");
        return false;
    }
    /* Without follow the stream ends where the log ended when the request
     * came: a container that writes faster than the client reads must not
     * make it a stream without end.  A rotation meanwhile changes nothing
     * (the open file is read); a truncation ends it early (EOF). */
    cn->logs.left = cn->logs.fd >= 0 && st.st_size > from ? (uint64_t)(st.st_size - from) : 0;
    if (cn->logs.follow) {
        /* The directory is watched, so a rotation (rename + new file) is seen too. */
        char dir[4096];
        if (str_copy(dir, sizeof dir, cn->logs.path) < 0) {
            logs_refuse(cn, "log path too long");
            return false;
        }
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir)
            *slash = 0;
        else if (slash)
            slash[1] = 0;
        /* Without a watch (no instance, or fs.inotify.max_user_watches used
         * up by a container under keel's uid) the follower polls: slower,
         * never refused. */
        if (logs_watch(cn, dir) < 0) {
            int64_t id = loop_add_timer(c->loop, c->opts.log_poll_ms, logs_poll, cn);
            if (id <= 0) {
                logs_refuse(cn, "cannot follow the log: out of timers");
                return false;
            }
            cn->logs.poll_timer = id;
            if (c->ino_fd >= 0)
                log_warn("control: cannot watch %.400s for logs -f: %s; the follower polls", dir, strerror(errno));
        }
    }
    control_reply_begin(&cn->out, "logs", true);
    json_kstr(&cn->out, "name", cn->logs.cname);
    json_kbool(&cn->out, "follow", cn->logs.follow);
    control_reply_end(&cn->out);
    cn->logs.partial_len = 0;
    return true;
}

/* The scan's next turn; the stream once it is done. */
static void logs_scan(struct conn *cn)
{
    tail_step(cn);
    if (!cn->logs.tail.done) {
        cn->logs.pump_more = true;   /* EPOLLOUT resumes the scan next turn */
        control_conn_flush(cn);
        return;
    }
    if (logs_ready(cn))
        control_logs_pump(cn);
    else
        control_conn_process(cn);   /* refused: pipelined requests, or EOF */
}

void control_logs_start(struct conn *cn, const struct proto_request *req)
{
    struct control *c = cn->c;
    int i = c->be.find(c->be.sup, req->name);
    if (i < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "no such container: %s", req->name);
        control_error_line(&cn->out, "logs", msg);
        return;
    }
    const char *path = c->be.log_path ? c->be.log_path(c->be.sup, (size_t)i) : NULL;
    if (!path) {
        control_error_line(&cn->out, "logs", "this container has no log");
        return;
    }
    cn->logs.path = strdup(path);
    if (!cn->logs.partial)
        cn->logs.partial = malloc(LOG_LINE_MAX);
    if (!cn->logs.path || !cn->logs.partial) {
        control_error_line(&cn->out, "logs", "out of memory");
        control_logs_stop(cn);
        return;
    }
    /* The log directory keel holds, never its path again (a container that
     * writes its parent could have swapped it for a symlink).  log_dir may
     * be one a container can write: what it puts there is not followed (a
     * symlink to a host file) nor opened (a FIFO whose read would hold
     * PID 1). */
    int held_dir = c->be.log_dir_fd ? c->be.log_dir_fd(c->be.sup, (size_t)i) : -1;
    if (held_dir >= 0) {
        const char *slash = strrchr(cn->logs.path, '/');
        cn->logs.name = slash ? slash + 1 : cn->logs.path;
        if ((cn->logs.dir = fcntl(held_dir, F_DUPFD_CLOEXEC, 3)) < 0) {
            cn->logs.dir = AT_FDCWD;
            control_error_line(&cn->out, "logs", "cannot open the log directory: out of file descriptors");
            control_logs_stop(cn);
            return;
        }
    } else {
        cn->logs.name = cn->logs.path;
    }
    cn->logs.fd = open_regular_nofollow_at(cn->logs.dir, cn->logs.name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (cn->logs.fd < 0 && (errno != ENOENT || !req->follow)) {
        char msg[600];
        if (errno == ENOENT) {
            /* Nothing logged yet: an empty log. */
            control_reply_begin(&cn->out, "logs", true);
            control_reply_end(&cn->out);
            cn->mode = CM_LOGS;
            cn->logs.follow = false;
            logs_end(cn);
            return;
        }
        snprintf(msg, sizeof msg, "cannot open %s: %s", path,
                 errno == EINVAL || errno == ELOOP ? "not a regular file" : strerror(errno));
        control_error_line(&cn->out, "logs", msg);
        control_logs_stop(cn);
        return;
    }
    /* The stream starts where the last req->lines lines begin: found by
     * logs_scan, in bounded turns (an unreadable size: the whole log). */
    struct stat st;
    bool sized = cn->logs.fd >= 0 && fstat(cn->logs.fd, &st) == 0;
    tail_scan_init(&cn->logs.tail, sized ? (uint64_t)st.st_size : 0, sized ? req->lines : -1);
    (void)str_copy(cn->logs.cname, sizeof cn->logs.cname, req->name);   /* found above: never too long */
    cn->logs.follow = req->follow;
    cn->logs.scanning = true;
    cn->mode = CM_LOGS;
    logs_scan(cn);
}

/* --- events ----------------------------------------------------------------- */

static const char *event_name(enum sup_event_kind k)
{
    switch (k) {
    case EV_STARTED: return "started";
    case EV_EXITED: return "exited";
    case EV_RESTARTING: return "restarting";
    case EV_STOPPED: return "stopped";
    case EV_FAILED: return "failed";
    case EV_OOM: return "oom";
    case EV_HEALTH: return "health";
    case EV_READY: return "ready";
    case EV_APPLY: return "apply";
    case EV_UPDATE: return "update";
    }
    return "unknown";
}

static void on_event(const struct sup_event *ev, void *data)
{
    struct conn *cn = data;
    if (cn->dead || cn->mode != CM_EVENTS)
        return;
    struct json_writer *w = &cn->out;
    json_obj_begin(w);
    json_kint(w, "keel", PROTO_VERSION);
    json_kstr(w, "event", event_name(ev->kind));
    if (ev->name && ev->name[0])   /* "" for keel's own (apply) */
        json_kstr(w, "name", ev->name);
    json_kuint(w, "time_ms", ev->time_ms);
    if (ev->pid)
        json_kint(w, "pid", ev->pid);
    if (ev->kind == EV_EXITED) {
        json_key(w, "exit");
        control_write_wait_status(w, ev->status);
    }
    if (ev->kind == EV_RESTARTING || ev->kind == EV_OOM)
        json_kuint(w, "count", ev->count);
    if (ev->detail)
        json_kstr(w, "detail", ev->detail);
    json_obj_end(w);
    json_raw(w, "\n", 1);
    /* Flushing may kill the connection (a client that stopped reading):
     * control_conn_kill defers the free, and unsubscribing from inside a callback
     * is the supervisor's to allow (see the report: it must be). */
    control_conn_flush(cn);
}

/* The supervisor has 64 subscribers (supervise.c): keel's own take up to 2
 * (daemon.c), members of control_group at most 48, so that at least 14 stay
 * root's: a member holding every `keel events` it may open must not leave
 * root without one (as for the unix listener's slots: control.c). */
#define MEMBER_EVENT_STREAMS_MAX 48

void control_events_start(struct conn *cn)
{
    struct control *c = cn->c;
    if (!c->be.subscribe) {
        control_error_line(&cn->out, "events", "events are not available");
        return;
    }
    bool member = !control_conn_is_admin(cn);
    if (member && c->member_event_streams >= MEMBER_EVENT_STREAMS_MAX) {
        control_error_line(&cn->out, "events", "busy: the event streams that members of control_group may hold "
                                               "are all taken (48; the rest are kept for root)");
        return;
    }
    int h = c->be.subscribe(c->be.sup, on_event, cn);
    if (h < 0) {
        control_error_line(&cn->out, "events", "cannot subscribe to events");
        return;
    }
    cn->ev.sub = h;
    cn->ev.member = member;
    c->member_event_streams += member;
    cn->mode = CM_EVENTS;
    control_reply_begin(&cn->out, "events", true);
    control_reply_end(&cn->out);
}

