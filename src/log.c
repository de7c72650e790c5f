/* log.c — console messages, see log.h. */
#include "keel/log.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 2048

static int log_out = 2;
static enum log_level log_max = LOG_LEVEL_INFO;
static uint64_t log_start_ns;

/* Non-blocking mode (the daemon): writes go to log_nb_fd, a private open
 * file description of log_out with O_NONBLOCK (or send(MSG_DONTWAIT) on a
 * socket).  A line that does not fit is dropped and counted; the unwritten
 * tail of a line a tty took only part of is kept and finished first, so
 * lines never interleave. */
static bool log_nb;
static int log_nb_fd = -1;
static bool log_nb_sock;
static uint64_t log_dropped;
static char log_tail[LINE_MAX_LEN + 128];
static size_t log_tail_len;
static unsigned log_patience_ms;   /* how long one write may wait for the console */
static bool log_stuck;             /* a wait ran out: no more waiting until a write works */

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error: ",
    [LOG_LEVEL_WARN] = "warning: ",
    [LOG_LEVEL_INFO] = "",
    [LOG_LEVEL_DEBUG] = "debug: ",
};

void log_setup(int fd, enum log_level max_level)
{
    if (log_nb_fd >= 0)
        close_safe(log_nb_fd);
    log_nb_fd = -1;
    log_nb = log_nb_sock = log_stuck = false;
    log_tail_len = 0;
    log_out = fd;
    log_max = max_level;
    if (!log_start_ns)
        log_start_ns = now_ns();
}

int log_fd(void)
{
    return log_out;
}

int log_nonblocking(void)
{
    struct stat st;
    if (log_nb)
        return 0;
    if (fstat(log_out, &st) < 0)
        return -errno;
    /* A file never blocks for long, and must keep sharing our file offset;
     * /dev/null (1:3, keel's stderr under many callers) never blocks: no
     * reopen through /proc/self/fd, whose entries the reap invalidates. */
    if (S_ISREG(st.st_mode) || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
        return 0;
    if (S_ISSOCK(st.st_mode)) {
        log_nb_sock = true;
        log_nb = true;
        return 0;
    }
    /* A fresh open file description of the same pipe, fifo or terminal, so
     * O_NONBLOCK does not leak to whoever shares ours (the shell's terminal
     * `keel run` was started from). */
    char path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", log_out);
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    log_nb_fd = fd;
    log_nb = true;
    return 0;
}

uint64_t log_dropped_lines(void)
{
    return log_dropped;
}

void log_patience(unsigned ms)
{
    log_patience_ms = ms;
}

/* One non-blocking write: bytes written, 0 when nothing fits now, -1 on a
 * real error. */
static ssize_t nb_write(const char *buf, size_t len)
{
    uint64_t deadline = log_patience_ms && !log_stuck ? now_ms() + log_patience_ms : 0;
    for (;;) {
        ssize_t n = log_nb_sock ? send(log_out, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL)
                                : write(log_nb_fd, buf, len);
        if (n >= 0) {
            log_stuck = false;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        uint64_t now = now_ms();
        if (now >= deadline) {
            if (deadline)
                log_stuck = true;
            return 0;
        }
        struct pollfd p = { .fd = log_nb_sock ? log_out : log_nb_fd, .events = POLLOUT };
        if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
            return 0;
    }
}

/* Writes one whole line or nothing (a tty may take a part: the rest waits
 * in log_tail and goes out before anything else).  False: not written. */
static bool nb_line(const char *buf, size_t len)
{
    if (log_tail_len) {
        ssize_t n = nb_write(log_tail, log_tail_len);
        if (n < 0) {
            log_tail_len = 0;   /* the console is gone: nothing to finish */
        } else {
            memmove(log_tail, log_tail + n, log_tail_len - (size_t)n);
            log_tail_len -= (size_t)n;
            if (log_tail_len)
                return false;
        }
    }
    ssize_t n = nb_write(buf, len);
    if (n <= 0)
        return false;
    if ((size_t)n < len && len - (size_t)n <= sizeof log_tail) {
        memcpy(log_tail, buf + n, len - (size_t)n);
        log_tail_len = len - (size_t)n;
    }
    return true;
}

static size_t stamp(char *buf, size_t size, uint64_t t)
{
    int n = snprintf(buf, size, "[%5llu.%06llu] keel: ", (unsigned long long)(t / 1000000000ull),
                     (unsigned long long)(t % 1000000000ull / 1000ull));
    return n < 0 ? 0 : (size_t)n;
}

static void emit(const char *line, size_t len)
{
    if (!log_nb) {
        log_raw(line, len);
        return;
    }
    if (log_dropped) {
        /* Output is possible again (or not): say first what was lost. */
        char note[160];
        size_t h = stamp(note, sizeof note, now_ns());
        int m = snprintf(note + h, sizeof note - h,
                         "warning: %llu log lines dropped: the console did not take them\n",
                         (unsigned long long)log_dropped);
        if (m < 0 || !nb_line(note, h + (size_t)m)) {
            log_dropped++;
            return;
        }
        log_dropped = 0;
    }
    if (!nb_line(line, len))
        log_dropped++;
}

void log_raw(const char *buf, size_t len)
{
    if (log_nb) {
        if (!nb_line(buf, len))
            log_dropped++;
        return;
    }
    while (len > 0) {
        ssize_t n = write(log_out, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static log_sink_fn log_sink;

void log_set_sink(log_sink_fn fn)
{
    log_sink = fn;
}

static void log_line(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void log_line(enum log_level level, const char *fmt, va_list ap)
{
    const char *kind = level_names[level];
    char line[LINE_MAX_LEN];
    size_t n = stamp(line, sizeof line, now_ns());
    int k = snprintf(line + n, sizeof line - n, "%s", kind);
    if (k < 0)
        return;
    n += (size_t)k;
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    if (log_sink)
        log_sink(level, line + n, len - n);
    line[len++] = '\n';
    emit(line, len);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_max)
        return;
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
    errno = saved;
}

static struct log_stage_time stages[LOG_STAGES_MAX];
static size_t n_stages;

size_t log_stage_times(const struct log_stage_time **out)
{
    *out = stages;
    return n_stages;
}

void log_stage(const char *fmt, ...)
{
    int saved = errno;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!log_start_ns)
        log_start_ns = now_ns();
    uint64_t since = now_ns() - log_start_ns;
    if (n_stages < LOG_STAGES_MAX) {
        snprintf(stages[n_stages].name, sizeof stages[n_stages].name, "%.47s", what);
        stages[n_stages++].since_ns = since;
    }
    log_msg(LOG_LEVEL_INFO, "stage: %s (+%llu.%03llu ms)", what,
            (unsigned long long)(since / 1000000ull), (unsigned long long)(since % 1000000ull / 1000ull));
    errno = saved;
}

/* --- rate limits ------------------------------------------------------------ */

bool log_ratelimit(struct log_ratelimit *rl, uint64_t now, uint64_t *suppressed)
{
    if (!rl->start || now - rl->start >= rl->interval_ms) {
        rl->start = now;
        rl->count = 0;
    }
    if (rl->count >= rl->burst) {
        rl->suppressed++;
        return false;
    }
    rl->count++;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}
