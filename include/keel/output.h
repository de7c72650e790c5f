/* output.h — a container's stdout and stderr: one pipe per container (kept
 * across restarts), copied by a relay process of keel's into a socket pair
 * that keel reads (see output_open for why PID 1 never reads the pipe), its bytes appended to LOG_DIR/NAME.log with size-capped
 * rotation, and echoed line by line as "NAME | line" to keel's output and
 * to the syslog forwarder (logship.h).
 *
 * The relay starts at the first bytes (output_start_relay): until then keel
 * watches the pipe itself for readability, which takes none of the pipe's
 * locks (pipe_poll reads its ring's indexes without the mutex; only a read
 * would sleep on it).  A container that never writes costs no process.
 *
 * Nothing here may stall PID 1: the pipe is read in bounded chunks, the echo
 * goes to a non-blocking file description and what it cannot take is dropped
 * and counted (the log file keeps every byte).
 */
#ifndef KEEL_OUTPUT_H
#define KEEL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/err.h"

struct mkdir_rule;

#define OUTPUT_LINE_MAX 4096

struct output {
    const char *name;
    int read_fd;               /* keel's end of the socket pair from the relay */
    int write_fd;              /* the pipe's write end: the container's stdout and stderr */
    int pipe_fd;               /* the pipe's read end until the relay takes it, then -1: watch, never read */
    int relay_out;             /* the relay's end of the socket pair until it starts, then -1 */
    pid_t relay;               /* the relay process; -1 (or 0) until started */
    int relay_pidfd;           /* its pidfd (output_close reaps it through it); meaningful only while relay > 0 */
    int relay_exit;            /* set by output_close when it reaped the relay: its exit status, 128+N for signal N */
    int log_fd;
    int dir_fd;                /* O_PATH fd of LOG_DIR: every log operation is relative to it */
    char *log_path;            /* heap: LOG_DIR/NAME.log, for messages and keel ps */
    const char *log_name;      /* NAME.log: the end of log_path */
    uint64_t log_size, max_size;
    unsigned keep;
    char *line;                /* OUTPUT_LINE_MAX bytes, allocated with the relay (no output, no buffer) */
    size_t line_len;
    uint64_t echo_dropped;
    uint64_t log_dropped;      /* bytes the log could not take (ENOSPC...), not yet noted in it */
    int log_errno;             /* why */
    /* Set by the owner after output_open.  LOG_DIR was removed (dir_fd's
     * st_nlink is 0: a cleanup's rm -rf, maybe a mkdir after it): the
     * directory at its path again (an fd the owner keeps; it is dup'ed),
     * or -1.  Asked before a log is opened or rotated.  NULL: none. */
    int (*dir_again)(void *ctx);
    void *dir_again_ctx;
};

/* Where echoed lines go (default: a non-blocking reopen of stdout).  When it
 * is a terminal, each line is echoed through output_escape(). */
void output_set_echo_fd(int fd);
int output_echo_fd(void);

/* Copies `n` bytes of `in` to `out` (at most `cap` bytes, never a partial
 * escape) with what a terminal would obey neutralised: C0 controls but tab,
 * DEL, C1 controls (U+0080..U+009F) and bytes that are not well-formed UTF-8
 * become \xNN; the rest, UTF-8 text included, is copied.  Returns the bytes
 * written. */
size_t output_escape(const char *in, size_t n, char *out, size_t cap);

/* The echo's (and syslog's) lines out of a stream, pure: BUF's N bytes are
 * appended to the partial line LINE (*LEN of OUTPUT_LINE_MAX bytes); each
 * whole line without its newline, and each OUTPUT_LINE_MAX bytes of a longer
 * one, go to EMIT; *LEN is left with the start of the next line.  However
 * the stream is cut into BUFs, the same lines come out. */
void output_lines(char *line, size_t *len, const char *buf, size_t n,
                  void (*emit)(void *ctx, const char *line, size_t len), void *ctx);

/* LOG_DIR, made if missing and opened O_PATH | O_DIRECTORY, component by
 * component without following a symlink but those RULE allows
 * (mkdir_p_open: an administrator's, none at or below a directory a
 * container can write), for output_open: the caller holds it from the
 * first container on, so that a container that can write LOG_DIR's parent,
 * and swaps the directory for a symlink (or another directory), leads none
 * of keel's creates, rotations or keel logs reads anywhere else: every later
 * output opens its log in the directory held.  A symlink refused is ELOOP.
 * The fd, or a negative errno with err filled. */
int output_open_log_dir(const char *log_dir, const struct mkdir_rule *rule, struct kerr *err);
/* NAME's output, its log LOG_DIR/NAME.log made or opened in DIR_FD (from
 * output_open_log_dir; duplicated, the caller keeps its own).  LOG_DIR is
 * for log_path and messages only. */
int output_open(struct output *o, const char *name, const char *log_dir, int dir_fd, uint64_t max_size,
                unsigned keep, struct kerr *err);
/* At a container's start and before keel's own lines (output_note): a log
 * file removed since it was opened (alone, or with LOG_DIR: writes to it go
 * nowhere) is made again, in the directory dir_again gives when LOG_DIR
 * went with it. */
void output_reopen_if_removed(struct output *o);
/* The fd to watch for EPOLLIN: pipe_fd until the relay runs, then read_fd. */
int output_watch_fd(const struct output *o);
/* pipe_fd became readable: forks the relay (pipe in, socket out).  From here
 * on output_watch_fd() is read_fd: the caller moves its watch.  0, or a
 * negative errno with err filled (nothing changed: pipe_fd is still there). */
int output_start_relay(struct output *o, struct kerr *err);
/* Closes everything; a relay not started yet is started first when the pipe
 * holds bytes, so none are lost.  The relay is reaped before it returns. */
void output_close(struct output *o);
/* Reads what is available (at most a bounded amount per call).  Returns the
 * number of bytes read, 0 at EOF, or -EAGAIN when nothing was there. */
int output_drain(struct output *o);
/* A line from keel itself into the container's log (and the echo). */
void output_note(struct output *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
