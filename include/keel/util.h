/* util.h — small helpers shared by every module: scope-bound cleanup, string
 * vectors, whole-file I/O and clocks.
 *
 * Ownership: functions returning `char *` or `char **` return heap memory the
 * caller frees (strv_free for vectors); NULL means out of memory (errno set).
 * File helpers return 0 / negative errno.  No helper exits.
 */
#ifndef KEEL_UTIL_H
#define KEEL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Scope-bound cleanup (GCC/Clang attribute).  Move ownership out with TAKE_FD /
 * TAKE_PTR before returning what the scope allocated. */
void cleanup_freep(void *p);
void cleanup_closep(int *fd);
void cleanup_strvp(char ***v);
#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))
#define _cleanup_strv_ __attribute__((cleanup(cleanup_strvp)))

#define TAKE_FD(fd) ({ int take_fd_ = (fd); (fd) = -1; take_fd_; })
#define TAKE_PTR(p) ({ __typeof__(p) take_ptr_ = (p); (p) = NULL; take_ptr_; })

/* close() that keeps errno and ignores fd < 0. */
void close_safe(int fd);
/* keel run's last teardown, never PID 1's (a stop of a container in a keel
 * that goes on serving releases everything): the process exits right after
 * it, and exit_group closes every fd still open, with its epoll
 * registrations, before the parent can see the exit.  From this call on
 * close_safe() leaves fds to that exit and loop_del_fd() skips EPOLL_CTL_DEL
 * (~25 system calls fewer).  A close that something later in the teardown
 * waits for (a relay's EOF) must call close(2) itself.  close_deferred()
 * tells whether the call was made. */
void close_defer_to_exit(void);
bool close_deferred(void);

/* NULL-terminated string vectors. */
size_t strv_len(char *const *v);
int strv_push(char ***v, const char *s);          /* copies s; 0 / -ENOMEM */
int strv_push_take(char ***v, char *s);           /* takes s;  0 / -ENOMEM (s freed on error) */
char **strv_copy(char *const *v);
void strv_free(char **v);
bool strv_contains(char *const *v, const char *s);

char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool str_starts(const char *s, const char *prefix);
/* Copies src into dst of size n; returns -ENAMETOOLONG when it does not fit. */
int str_copy(char *dst, size_t n, const char *src);

/* Reads a whole (small) file into a NUL-terminated heap buffer; *len may be NULL.
 * Returns 0 / -errno.  Refuses files larger than max bytes with -EFBIG. */
int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len);
/* The same from an open fd, read to its end. */
int read_fd_all(int fd, size_t max, char **out, size_t *len);
/* read_file_at for a path the manifest names (the manifest itself, an
 * env_file): -EINVAL when it is not a regular file.  Opened non-blocking, so
 * a FIFO put there is refused at once: a blocking open would wait for a
 * writer for ever (PID 1 answering nothing) once a writer that served an
 * earlier read (the preflight child's) has gone. */
int read_regular_file(const char *path, size_t max, char **out, size_t *len);
/* Opens PATH with FLAGS (O_RDONLY, O_WRONLY | O_APPEND...) only if its last
 * component is a regular file, for a path in a directory someone else may
 * write (a log directory a container shares): looked at through an O_PATH |
 * O_NOFOLLOW fd, then reopened through /proc/self/fd, so the file opened is
 * the one looked at.  A symlink (ELOOP) is never followed; a FIFO, socket or
 * device node (EINVAL) is never opened (a FIFO's open or read waits for a
 * peer; a device's open does what that device does).  The open is
 * non-blocking (the fd keeps O_NONBLOCK, which regular files ignore): the
 * file's owner (a container's root, for its own files) may hold a lease on
 * it (F_SETLEASE), and a blocking open waits for the lease to be given up,
 * up to fs.lease-break-time (45 s); this one fails at once with
 * EWOULDBLOCK.  -1 with errno set. */
int open_regular_nofollow(const char *path, int flags);
/* The same for NAME in the directory DIRFD (or AT_FDCWD). */
int open_regular_nofollow_at(int dirfd, const char *name, int flags);
/* Writes s to an existing file (O_WRONLY|O_TRUNC|O_CLOEXEC); 0 / -errno. */
int write_file_at(int dirfd, const char *path, const char *s);
/* mkdir -p with mode for created components; 0 / -errno. */
int mkdir_p(const char *path, mode_t mode);
/* mkdir_p for a path whose directories someone else may write (a volume a
 * container shares): made and walked one component at a time, each looked
 * at without following it, so no symlink on the path is followed: -ELOOP
 * (-ENOTDIR for another non-directory).  mkdir_p would make the missing
 * directories wherever a planted symlink points. */
int mkdir_p_nofollow(const char *path, mode_t mode);
/* A directory by identity. */
struct file_id {
    dev_t dev;
    ino_t ino;
};
/* Which symlinks mkdir_p_open follows: those owned by root or by keel's own
 * user, none at or below one of the WRITABLE directories (those a container
 * can write: a symlink there may be the container's, planted to lead keel's
 * writes elsewhere).  NULL: none. */
struct mkdir_rule {
    struct file_id *writable;
    size_t n_writable;
};
/* mkdir_p_nofollow that follows the symlinks RULE allows (an administrator's
 * /var/log -> /data/log) and returns an O_PATH | O_DIRECTORY fd of PATH:
 * every component is made with mkdirat and looked at with O_NOFOLLOW; a
 * symlink is followed (its target walked the same way, 40 at most) only if
 * the rule allows it, else -ELOOP.  Whether a directory is WRITABLE is
 * told by identity, however the path spells it.  The fd or -errno. */
int mkdir_p_open(const char *path, mode_t mode, const struct mkdir_rule *rule);

/* write() all of buf, retrying on EINTR; 0 / -errno. */
int write_all(int fd, const void *buf, size_t len);

uint64_t now_ns(void);   /* CLOCK_MONOTONIC */
uint64_t now_ms(void);
/* A Unix time's date and time in UTC, proleptic Gregorian: what gmtime_r
 * gives, with struct tm's conventions but the full year (mon 1..12, wday 0 =
 * Sunday, yday 0..365).  Not gmtime_r: it links glibc's time zone code, whose
 * TZ parsing pulls in sscanf and with it the float and long double parsers
 * (issue 17: ~92 KiB of the static binary). */
struct utc_date {
    int64_t year;
    int mon, mday, hour, min, sec, wday, yday;
};
void utc_date_of(int64_t secs, struct utc_date *out);
/* "YYYY-MM-DDTHH:MM:SS" of a Unix time in UTC (utc_date_of; years 0..9999,
 * outside them "?"), into out (at least 20 bytes). */
void utc_time_format(int64_t secs, char *out, size_t n);
/* Sleeps `ms` milliseconds, the rest again after a signal.  Only for bounded
 * polls outside the event loop (boot before and after it, the cgroup freeze
 * fallback): the loop itself never sleeps. */
void sleep_ms(unsigned ms);
uint64_t realtime_ms(void);

#endif
