/* log.h — keel's own messages on its console (stderr).
 *
 * One grammar for every line:
 *     [    0.123456] keel: error: cannot mount overlay for web at /x: reason
 * The bracket is CLOCK_MONOTONIC (the same clock as the kernel's log), so a
 * serial console shows boot timings next to the kernel's own lines.
 * Logging never fails the caller: a write error is ignored.
 */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* fd to write to (default 2); level threshold (default INFO). */
void log_setup(int fd, enum log_level max_level);
int log_fd(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* A boot-stage line: "[ t ] keel: stage: NAME (+X.XXX ms since keel start)". */
void log_stage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes raw bytes to the log fd (container output echo); never blocks for long. */
void log_raw(const char *buf, size_t len);

#endif
