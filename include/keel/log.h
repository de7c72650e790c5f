/* log.h — keel's own messages on its console (stderr).
 *
 * One grammar for every line:
 *     [    0.123456] keel: error: cannot mount overlay for web at /x: reason
 * The bracket is CLOCK_MONOTONIC (the same clock as the kernel's log), so a
 * serial console shows boot timings next to the kernel's own lines.
 * Logging never fails the caller: a write error is ignored.
 *
 * The daemon's console must never stall PID 1 (a 115200-baud serial line
 * takes ~11 KiB/s; a pipe nobody reads takes nothing): after
 * log_nonblocking() a line the console cannot take at once is dropped and
 * counted, and the next line that gets through is preceded by
 * "warning: N log lines dropped: the console did not take them".  Lines are
 * written whole or not at all (a terminal's partial write is finished before
 * the next line).  Messages a peer can trigger at will (refused clients) go
 * through a rate limit as well (struct log_ratelimit).
 */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* fd to write to (default 2); level threshold (default INFO). */
void log_setup(int fd, enum log_level max_level);
int log_fd(void);
/* From now on writes never block: a private O_NONBLOCK open file description
 * of the log fd (through /proc/self/fd, so the flag does not reach whoever
 * shares the fd), send(MSG_DONTWAIT) on a socket; a regular file stays as it
 * is.  0, or negative errno when it could not (writes then stay blocking). */
int log_nonblocking(void);
/* Lines dropped since the last one that got through (0 once it is reported). */
uint64_t log_dropped_lines(void);
/* In non-blocking mode, how long one write may wait for the console before
 * its line is dropped: 0 (the default) while PID 1's loop runs; a bounded
 * wait once nothing else is served (the shutdown's last lines matter, and a
 * console that never drains still cannot hang the machine). */
void log_patience(unsigned ms);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* A copy of every line logged (after the level threshold) goes to `fn`
 * too: the text after "keel: LEVEL: ", without newline.  The sink must not
 * log (logship_add does not).  NULL: none. */
typedef void (*log_sink_fn)(enum log_level level, const char *text, size_t len);
void log_set_sink(log_sink_fn fn);

/* A boot-stage line: "[ t ] keel: stage: NAME (+X.XXX ms since keel start)". */
void log_stage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The stages logged so far (the first LOG_STAGES_MAX), for the metrics. */
#define LOG_STAGES_MAX 32
struct log_stage_time {
    char name[48];
    uint64_t since_ns;    /* since keel's start (its first stage) */
};
size_t log_stage_times(const struct log_stage_time **out);

/* Writes raw bytes to the log fd; in non-blocking mode all or nothing, as a line. */
void log_raw(const char *buf, size_t len);

/* At most `burst` messages per `interval_ms`: log_ratelimit() says whether
 * to log now and, when it does, how many were suppressed since the last one
 * (for "(N more suppressed)").  Zero-initialise with the two limits set. */
struct log_ratelimit {
    uint64_t interval_ms;
    unsigned burst;
    uint64_t start;       /* the current window (ms, now_ms()) */
    unsigned count;       /* logged in this window */
    uint64_t suppressed;  /* not logged since the last line that was */
};
bool log_ratelimit(struct log_ratelimit *rl, uint64_t now, uint64_t *suppressed);

#endif
