/* output.c — container output capture, see output.h. */
#include "keel/output.h"
#include "keel/log.h"
#include "keel/logship.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRAIN_MAX (64 * 1024)   /* per call: other sources get their turn */
#define RELAY_REAP_MS 200       /* output_close's wait for the relay to end */

static int echo_fd = -1;
static bool echo_tty;   /* the echo goes to a terminal: control bytes are escaped */

void output_set_echo_fd(int fd)
{
    echo_fd = fd;
    echo_tty = fd >= 0 && isatty(fd);
}

int output_echo_fd(void)
{
    if (echo_fd < 0) {
        struct stat st;
        /* A pipe or terminal can block: echo through a fresh open file
         * description of it, so O_NONBLOCK does not leak to whoever shares
         * ours (a shell's terminal, say).  A regular file never blocks, and
         * must keep sharing our file offset. */
        if (fstat(1, &st) == 0 && !S_ISREG(st.st_mode))
            echo_fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (echo_fd < 0)
            echo_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
        echo_tty = echo_fd >= 0 && isatty(echo_fd);
    }
    return echo_fd;
}

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;   /* the range of the second byte */
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    uint32_t c = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    *cp = c;
    return len;
}

size_t output_escape(const char *in, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t len = s[i] >= 0x80 ? utf8_len(s + i, n - i, &cp) : 1;
        bool control = len == 0 || (len == 1 && ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)) ||
                       (len == 2 && cp < 0xa0);   /* C1 controls, U+0080..U+009F */
        if (len == 0)
            len = 1;   /* a byte that is not UTF-8: escaped alone */
        for (size_t k = 0; k < len; k++) {
            if (!control) {
                if (o + 1 > cap)
                    return o;
                out[o++] = (char)s[i + k];
            } else {
                if (o + 4 > cap)
                    return o;
                out[o++] = '\\';
                out[o++] = 'x';
                out[o++] = hex[s[i + k] >> 4];
                out[o++] = hex[s[i + k] & 15];
            }
        }
        i += len;
    }
    return o;
}

/* The log file at log_path, made or opened to append.  log_dir may be one
 * a container can write (a volume or bind mount it has rw): what it puts at
 * the path is opened only if it is a regular file, and never followed.  A
 * symlink would lead PID 1's writes to a host file; a FIFO the container
 * holds would block PID 1 in a write once its pipe is full; an open of a
 * device node does what that device does on open (a watchdog arms), and a
 * disk's would take the log.  -1 with errno set. */
static int open_log_file(int dir, const char *name)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
    if (fd >= 0 || errno != EEXIST)
        return fd;
    return open_regular_nofollow_at(dir, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
}

int output_open_log_dir(const char *log_dir, const struct mkdir_rule *rule, struct kerr *err)
{
    int fd = mkdir_p_open(log_dir, 0750, rule);
    if (fd == -ELOOP)
        return kerr_msg(err, ELOOP, "cannot open log directory %s: a symlink on its path is refused (one in a directory "
                        "a container can write, or owned by neither root nor keel's user; name the real path)", log_dir);
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open log directory %s", log_dir);
    return fd;
}

/* Whether FD's file or directory was removed: its last name is gone. */
static bool removed(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_nlink == 0;
}

/* A log opened in a removed LOG_DIR would be made nowhere (openat: ENOENT)
 * or lost with it: the directory at LOG_DIR's path again, if the owner
 * has one (dir_again). */
static void follow_log_dir(struct output *o)
{
    if (!removed(o->dir_fd) || !o->dir_again)
        return;
    int fd = o->dir_again(o->dir_again_ctx);
    int dup = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
    if (dup < 0)
        return;
    close(o->dir_fd);
    o->dir_fd = dup;
}

static int open_log(struct output *o)
{
    follow_log_dir(o);
    o->log_fd = open_log_file(o->dir_fd, o->log_name);
    if (o->log_fd < 0)
        return -errno;
    struct stat st;
    o->log_size = fstat(o->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

/* The relay: pipe in, socket out, until every writer of the pipe is gone.
 * It dies with keel (a relay outliving keel would keep the container's pipe
 * open), and it is not dumpable (no core dump, ptrace or /proc/PID/mem of a
 * copy of keel's memory for anyone but root).  Without either it
 * does not run: it says so on keel's console (before any fd is closed) and
 * exits, so keel sees the end of the container's output at once. */
static __attribute__((noreturn)) void relay(int in, int out, const char *name, pid_t keel)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
        log_error("cannot start the output relay of %s: cannot set its parent-death signal: %s", name,
                  strerror(errno));
        _exit(1);
    }
    /* keel died between the fork and the prctl (the relay is forked at any
     * time, at a container's first bytes): no signal will come, and this
     * copy of keel's fds (its nf_tables socket among them) must go now. */
    if (getppid() != keel)
        _exit(1);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        log_error("cannot start the output relay of %s: cannot make it non-dumpable: %s", name, strerror(errno));
        _exit(1);
    }
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || sys_close_range_from(3) < 0)
        _exit(1);
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0)
            _exit(0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (write_all(1, buf, (size_t)n) < 0)
            _exit(1);
    }
}

int output_open(struct output *o, const char *name, const char *log_dir, int dir_fd, uint64_t max_size,
                unsigned keep, struct kerr *err)
{
    o->name = name;
    o->log_path = o->line = NULL;
    o->relay = -1;
    o->read_fd = o->write_fd = o->log_fd = o->dir_fd = o->pipe_fd = o->relay_out = o->relay_pidfd = -1;
    o->log_name = NULL;
    o->log_size = 0;
    o->max_size = max_size;
    o->keep = keep;
    o->line_len = 0;
    o->echo_dropped = o->log_dropped = 0;
    o->log_errno = 0;
    o->dir_again = NULL;
    o->dir_again_ctx = NULL;
    if ((o->dir_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return kerr_set(err, errno, "cannot open the log of %s", name);
    if (!(o->log_path = xasprintf("%s/%s.log", log_dir, name)))
        return kerr_set(err, ENOMEM, "cannot open the log of %s", name);
    o->log_name = strrchr(o->log_path, '/') + 1;
    if (open_log(o) < 0)
        return kerr_set(err, errno, "cannot open log file %s", o->log_path);
    /* The container writes into a pipe, as every runtime gives it (images
     * reopen /dev/stdout, which a socket cannot be), but PID 1 never reads
     * that pipe itself: a process that splices into a pipe (sendfile from a
     * socket, as busybox cat does) holds the pipe's mutex while it waits for
     * input, and a reader of the other end sleeps on that mutex, O_NONBLOCK
     * or not.  A relay process of keel's copies the pipe into a socket pair
     * whose other end keel reads: recv() takes no lock a container can hold.
     * At worst a container freezes its own relay, and so its own logging.
     * The relay is forked at the first bytes (output_start_relay). */
    int p[2] = { -1, -1 }, sp[2] = { -1, -1 };
    if (pipe2(p, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        int saved = errno;
        close_safe(p[0]);
        close_safe(p[1]);
        output_close(o);
        return kerr_set(err, saved, "cannot create the output channel of %s", name);
    }
    o->read_fd = sp[0];
    o->relay_out = sp[1];
    o->pipe_fd = p[0];
    o->write_fd = p[1];
    if (fcntl(o->read_fd, F_SETFL, O_NONBLOCK) < 0 || shutdown(o->read_fd, SHUT_WR) < 0) {
        int saved = errno;
        output_close(o);
        return kerr_set(err, saved, "cannot set up the output socket of %s", name);
    }
    return 0;
}

int output_watch_fd(const struct output *o)
{
    return o->relay > 0 ? o->read_fd : o->pipe_fd;
}

int output_start_relay(struct output *o, struct kerr *err)
{
    if (o->relay > 0)
        return 0;
    if (o->pipe_fd < 0 || o->relay_out < 0)
        return kerr_set(err, EBADF, "cannot start the output relay of %s", o->name);
    if (!o->line && !(o->line = malloc(OUTPUT_LINE_MAX)))
        return kerr_set(err, ENOMEM, "cannot start the output relay of %s", o->name);
    pid_t keel = getpid();
    pid_t pid = fork();
    if (pid == 0)
        relay(o->pipe_fd, o->relay_out, o->name, keel);
    if (pid < 0)
        return kerr_set(err, errno, "cannot start the output relay of %s", o->name);
    o->relay = pid;
    /* Cannot fail for a child not reaped yet but for want of fds or memory:
     * then the relay is left to keel's reaper as before. */
    o->relay_pidfd = sys_pidfd_open(pid);
    close(o->pipe_fd);
    close(o->relay_out);
    o->pipe_fd = o->relay_out = -1;
    return 0;
}

void output_close(struct output *o)
{
    /* Bytes the container wrote and keel has not seen yet: the relay takes
     * them now (polling the pipe takes none of its locks). */
    if (o->relay < 0 && o->pipe_fd >= 0) {
        struct pollfd pf = { .fd = o->pipe_fd, .events = POLLIN };
        struct kerr e;
        if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN) && output_start_relay(o, &e) < 0)
            log_error("%s", e.msg);
    }
    /* The last writer gone, the relay sends what the pipe still holds and
     * exits: take it all (bounded: a frozen relay must not hold keel).  Its
     * EOFs are waited for below: these closes are never left to keel's exit
     * (close_defer_to_exit). */
    int eof_fds[] = { o->pipe_fd, o->relay_out, o->write_fd };
    for (size_t i = 0; i < ARRAY_SIZE(eof_fds); i++)
        if (o->relay > 0 && eof_fds[i] >= 0)
            close(eof_fds[i]);
        else
            close_safe(eof_fds[i]);
    o->pipe_fd = o->relay_out = o->write_fd = -1;
    bool eof = false;
    if (o->read_fd >= 0 && o->relay > 0) {
        uint64_t deadline = now_ms() + 1000;
        for (;;) {
            struct pollfd pf = { .fd = o->read_fd, .events = POLLIN };
            int left = (int)(deadline > now_ms() ? deadline - now_ms() : 0);
            if (left == 0 || poll(&pf, 1, left) <= 0)
                break;
            if (output_drain(o) == 0) {
                eof = true;
                break;
            }
        }
    }
    /* Reaped here, not left to keel's reaper: keel run's last teardown
     * would hand it to its caller's reaper, a zombie for good under one that
     * never reaps.  At EOF it has closed its socket: it is exiting; else it
     * is killed (bounded).  The pidfd, not the pid: supervisor_reap may have
     * reaped a relay that died early, and its pid be another's by now. */
    if (o->relay > 0 && o->relay_pidfd >= 0) {
        if (!eof)
            (void)sys_pidfd_send_signal(o->relay_pidfd, SIGKILL);   /* keel's own child: fails only when gone */
        /* Bounded: a relay asleep on the pipe's mutex, which a container
         * process stuck in a splice holds, outlives SIGKILL. */
        int r = sys_pidfd_reap(o->relay_pidfd, RELAY_REAP_MS, &o->relay_exit);
        if (r == -ETIMEDOUT)
            log_warn("the output relay %d of %s did not end within %d ms: left to the reaper", (int)o->relay,
                     o->name, RELAY_REAP_MS);
        close(o->relay_pidfd);
        o->relay_pidfd = -1;
    }
    close_safe(o->read_fd);
    close_safe(o->log_fd);
    close_safe(o->dir_fd);
    o->read_fd = o->write_fd = o->log_fd = o->dir_fd = -1;
    free(o->line);
    free(o->log_path);
    o->line = o->log_path = NULL;
    o->log_name = NULL;
    o->line_len = 0;
}

static void rotate(struct output *o)
{
    /* The file keel has open, not the path: what is at the path now may be
     * a container's symlink to a host file (open_log_file). */
    if (o->keep == 0 && o->log_fd >= 0 && ftruncate(o->log_fd, 0) < 0)
        log_warn("%s: cannot truncate %s: %s", o->name, o->log_path, strerror(errno));
    close_safe(o->log_fd);
    o->log_fd = -1;
    /* In a removed LOG_DIR there is nothing to rename: the next log is the
     * first in the directory open_log moves to. */
    if (o->keep > 0 && !removed(o->dir_fd)) {
        char from[300], to[300];   /* NAME.log.K: container names are short */
        for (unsigned k = o->keep; k > 1; k--) {
            snprintf(from, sizeof from, "%s.%u", o->log_name, k - 1);
            snprintf(to, sizeof to, "%s.%u", o->log_name, k);
            (void)renameat(o->dir_fd, from, o->dir_fd, to);   /* a missing older file is fine */
        }
        snprintf(to, sizeof to, "%s.1", o->log_name);
        if (renameat(o->dir_fd, o->log_name, o->dir_fd, to) < 0)
            log_warn("%s: cannot rotate %s: %s", o->name, o->log_path, strerror(errno));
    }
    if (open_log(o) < 0)
        log_warn("%s: cannot reopen %s: %s", o->name, o->log_path, strerror(errno));
}

void output_reopen_if_removed(struct output *o)
{
    if (!removed(o->log_fd))
        return;
    close(o->log_fd);
    o->log_fd = -1;
    if (open_log(o) < 0)
        log_warn("%s: cannot reopen %s: %s", o->name, o->log_path, strerror(errno));
}

/* Appends to the log.  A write that fails (ENOSPC: the log filesystem is
 * full; or a log that could not be reopened after a rotation) drops those
 * bytes, counted: keel says so once when it starts dropping, and once it can
 * write again it puts a line saying how much was lost into the log itself.
 * Supervision never waits for the log. */
static void log_bytes(struct output *o, const char *buf, size_t n)
{
    if (o->max_size && o->log_size + n > o->max_size && o->log_size > 0)
        rotate(o);
    if (o->log_fd < 0 && open_log(o) < 0 && !o->log_dropped)
        o->log_errno = errno;
    if (o->log_fd >= 0 && o->log_dropped) {
        char note[200];
        int m = snprintf(note, sizeof note, "[keel] %llu bytes of output dropped: cannot write the log: %s\n",
                         (unsigned long long)o->log_dropped, strerror(o->log_errno));
        if (m > 0 && write_all(o->log_fd, note, (size_t)m) == 0) {
            log_info("%s: writing %s again; %llu bytes of output were dropped", o->name, o->log_path,
                     (unsigned long long)o->log_dropped);
            o->log_size += (uint64_t)m;
            o->log_dropped = 0;
        }
    }
    struct stat st;
    if (o->log_fd >= 0 && !o->log_dropped && write_all(o->log_fd, buf, n) == 0) {
        o->log_size += n;
        return;
    }
    if (!o->log_dropped) {
        if (o->log_fd >= 0)
            o->log_errno = errno;
        log_warn("%s: cannot write to %s: %s; dropping output until it can (counted)", o->name, o->log_path,
                 strerror(o->log_errno));
    }
    /* What a partial write put in is not dropped: the size says what is there. */
    if (o->log_fd >= 0 && fstat(o->log_fd, &st) == 0 && (uint64_t)st.st_size >= o->log_size) {
        uint64_t in = (uint64_t)st.st_size - o->log_size;
        o->log_size = (uint64_t)st.st_size;
        n = in < n ? n - (size_t)in : 0;
    }
    o->log_dropped += n;
    if (!o->log_dropped)
        o->log_dropped = 1;   /* keep the state: something did fail */
}

static void echo_line(struct output *o, const char *line, size_t n)
{
    /* The syslog queue copies the line once (a no-op without `syslog`). */
    logship_add(LOGSHIP_FAC_USER, LOGSHIP_SEV_INFO, o->name, line, n);
    int fd = output_echo_fd();
    if (fd < 0)
        return;
    char buf[4 * OUTPUT_LINE_MAX + 96];   /* room for a line escaped whole */
    int h = snprintf(buf, sizeof buf, "%s | ", o->name);
    if (h < 0)
        return;
    if (echo_tty) {
        /* A terminal obeys what it is sent: a container's escape sequences
         * would retitle, rewrite or (on some terminals) answer back into the
         * admin's session.  The log file keeps the bytes. */
        n = output_escape(line, n, buf + h, sizeof buf - (size_t)h - 1);
    } else {
        if (n > sizeof buf - (size_t)h - 1)
            n = sizeof buf - (size_t)h - 1;
        memcpy(buf + h, line, n);
    }
    buf[(size_t)h + n] = '\n';
    size_t total = (size_t)h + n + 1;
    if (o->echo_dropped) {
        char note[128];
        int m = snprintf(note, sizeof note, "%s | [keel: %llu bytes of output not echoed: console too slow]\n",
                         o->name, (unsigned long long)o->echo_dropped);
        if (m > 0 && write(fd, note, (size_t)m) == m)
            o->echo_dropped = 0;
    }
    ssize_t w = write(fd, buf, total);
    if (w < 0)
        o->echo_dropped += total;
    else if ((size_t)w < total)
        o->echo_dropped += total - (size_t)w;
}

void output_lines(char *line, size_t *len, const char *buf, size_t n,
                  void (*emit)(void *ctx, const char *line, size_t len), void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            emit(ctx, line, *len);
            *len = 0;
        } else {
            if (*len == OUTPUT_LINE_MAX) {
                emit(ctx, line, *len);
                *len = 0;
            }
            line[(*len)++] = buf[i];
        }
    }
}

static void echo_emit(void *o, const char *line, size_t n)
{
    echo_line(o, line, n);
}

static void echo_bytes(struct output *o, const char *buf, size_t n)
{
    if (!o->line)
        return;   /* no relay, no bytes: cannot happen, the buffer comes with the relay */
    output_lines(o->line, &o->line_len, buf, n, echo_emit, o);
}

int output_drain(struct output *o)
{
    char buf[16384];
    size_t total = 0;
    while (total < DRAIN_MAX) {
        ssize_t n = read(o->read_fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return total ? (int)total : -EAGAIN;
        }
        if (n == 0) {
            if (o->line_len && o->line) {
                echo_line(o, o->line, o->line_len);
                o->line_len = 0;
            }
            return (int)total;
        }
        log_bytes(o, buf, (size_t)n);
        echo_bytes(o, buf, (size_t)n);
        total += (size_t)n;
    }
    return (int)total;
}

void output_note(struct output *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    char buf[600];
    int m = snprintf(buf, sizeof buf, "[keel] %.*s\n", n, line);
    output_reopen_if_removed(o);   /* rare lines (an exit, a health change): worth an fstat */
    if (m > 0)
        log_bytes(o, buf, (size_t)m);
}
