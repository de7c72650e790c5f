/* log.c — console messages, see log.h. */
#include "keel/log.h"
#include "keel/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_out = 2;
static enum log_level log_max = LOG_LEVEL_INFO;
static uint64_t log_start_ns;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error: ",
    [LOG_LEVEL_WARN] = "warning: ",
    [LOG_LEVEL_INFO] = "",
    [LOG_LEVEL_DEBUG] = "debug: ",
};

void log_setup(int fd, enum log_level max_level)
{
    log_out = fd;
    log_max = max_level;
    if (!log_start_ns)
        log_start_ns = now_ns();
}

int log_fd(void)
{
    return log_out;
}

void log_raw(const char *buf, size_t len)
{
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

static void log_line(const char *kind, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void log_line(const char *kind, const char *fmt, va_list ap)
{
    char line[2048];
    uint64_t t = now_ns();
    int n = snprintf(line, sizeof line, "[%5llu.%06llu] keel: %s",
                     (unsigned long long)(t / 1000000000ull),
                     (unsigned long long)(t % 1000000000ull / 1000ull), kind);
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    log_raw(line, len);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_max)
        return;
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_line(level_names[level], fmt, ap);
    va_end(ap);
    errno = saved;
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
    log_msg(LOG_LEVEL_INFO, "stage: %s (+%llu.%03llu ms)", what,
            (unsigned long long)(since / 1000000ull), (unsigned long long)(since % 1000000ull / 1000ull));
    errno = saved;
}
