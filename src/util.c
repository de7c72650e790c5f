/* util.c — helpers of util.h. */
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cleanup_freep(void *p)
{
    free(*(void **)p);
}

static bool defer_closes;

void close_defer_to_exit(void)
{
    defer_closes = true;
}

bool close_deferred(void)
{
    return defer_closes;
}

void close_safe(int fd)
{
    if (fd >= 0 && !defer_closes) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
}

void cleanup_closep(int *fd)
{
    close_safe(*fd);
}

void cleanup_strvp(char ***v)
{
    strv_free(*v);
}

size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

int strv_push_take(char ***v, char *s)
{
    if (!s)
        return -ENOMEM;
    size_t n = strv_len(*v);
    char **nv = realloc(*v, (n + 2) * sizeof *nv);
    if (!nv) {
        free(s);
        return -ENOMEM;
    }
    nv[n] = s;
    nv[n + 1] = NULL;
    *v = nv;
    return 0;
}

int strv_push(char ***v, const char *s)
{
    return strv_push_take(v, strdup(s));
}

char **strv_copy(char *const *v)
{
    char **out = calloc(1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; v && v[i]; i++)
        if (strv_push(&out, v[i]) < 0) {
            strv_free(out);
            return NULL;
        }
    return out;
}

void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

bool strv_contains(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

char *xasprintf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    return r < 0 ? NULL : s;
}

bool str_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_copy(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        return -ENAMETOOLONG;
    memcpy(dst, src, len + 1);
    return 0;
}

int read_fd_all(int fd, size_t max, char **out, size_t *len)
{
    size_t cap = 4096, used = 0;
    _cleanup_free_ char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (used + 1 >= cap) {
            if (cap > max + 1)
                return -EFBIG;
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                return -ENOMEM;
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > max)
            return -EFBIG;
    }
    buf[used] = '\0';
    if (len)
        *len = used;
    *out = TAKE_PTR(buf);
    return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return read_fd_all(fd, max, out, len);
}

int read_regular_file(const char *path, size_t max, char **out, size_t *len)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if (fcntl(fd, F_SETFL, 0) < 0)   /* O_NONBLOCK was for the open only */
        return -errno;
    return read_fd_all(fd, max, out, len);
}

int open_regular_nofollow(const char *path, int flags)
{
    return open_regular_nofollow_at(AT_FDCWD, path, flags);
}

int open_regular_nofollow_at(int dirfd, const char *name, int flags)
{
    _cleanup_close_ int look = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (look < 0 || fstat(look, &st) < 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = S_ISLNK(st.st_mode) ? ELOOP : EINVAL;
        return -1;
    }
    char again[32];
    snprintf(again, sizeof again, "/proc/self/fd/%d", look);
    return open(again, flags | O_NONBLOCK);
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int write_file_at(int dirfd, const char *path, const char *s)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return write_all(fd, s, strlen(s));
}

int mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    if (str_copy(buf, sizeof buf, path) < 0)
        return -ENAMETOOLONG;
    /* The whole path first: it or its parent usually exists already (keel
     * makes /run/keel/... for each container), and a failing mkdir per
     * component is a path walk each.  Only a missing parent (ENOENT) takes
     * the walk from the top. */
    int first = mkdir(buf, mode) < 0 ? errno : 0;
    if (first != 0 && first != EEXIST && first != ENOENT)
        return -first;
    for (char *p = buf + 1; first == ENOENT; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Whether ST is one of the N directories of IDS. */
static bool file_id_in(const struct stat *st, const struct file_id *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i].dev == st->st_dev && ids[i].ino == st->st_ino)
            return true;
    return false;
}

int mkdir_p_open(const char *path, mode_t mode, const struct mkdir_rule *rule)
{
    /* TODO holds what is left to walk: PATH, and with each symlink followed
     * its target in front of the rest. */
    char todo[8192];
    if (str_copy(todo, sizeof todo, path) < 0)
        return -ENAMETOOLONG;
    int dir = open(todo[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (dir < 0 || fstat(dir, &st) < 0) {
        int e = -errno;
        close_safe(dir);
        return e;
    }
    bool tainted = rule && file_id_in(&st, rule->writable, rule->n_writable);
    unsigned hops = 0;
    char *rest = todo;
    while (*rest) {
        while (*rest == '/')
            rest++;
        char *name = rest;
        rest += strcspn(rest, "/");
        if (*rest)
            *rest++ = '\0';
        if (!*name || strcmp(name, ".") == 0)
            continue;
        /* mkdirat never follows NAME (a symlink there is EEXIST), and the
         * next step starts from what NAME is, looked at without following. */
        int next = -1, e = 0;
        bool there = strcmp(name, "..") == 0 || mkdirat(dir, name, mode) == 0 || errno == EEXIST;
        if (!there || (next = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(next, &st) < 0)
            e = -errno;
        else if (S_ISDIR(st.st_mode)) {
            close(dir);
            dir = TAKE_FD(next);
            tainted = tainted || (rule && file_id_in(&st, rule->writable, rule->n_writable));
            continue;
        } else if (!S_ISLNK(st.st_mode))
            e = -ENOTDIR;
        else if (!rule || tainted || (st.st_uid != 0 && st.st_uid != geteuid()) || ++hops > 40)
            e = -ELOOP;
        /* An administrator's symlink: its target goes in front of the rest. */
        char target[4096];
        size_t n = 0;
        if (!e) {
            ssize_t got = readlinkat(next, "", target, sizeof target);
            if (got < 0)
                e = -errno;
            else if (got == 0 || (size_t)got == sizeof target || (size_t)got + 2 + strlen(rest) > sizeof todo)
                e = -ENAMETOOLONG;   /* a truncated target, or no room for it in front of the rest */
            else
                n = (size_t)got;
        }
        close_safe(next);
        if (e) {
            close(dir);
            return e;
        }
        target[n] = '\0';
        size_t rl = strlen(rest);
        memmove(todo + n + 1, rest, rl + 1);
        memcpy(todo, target, n);
        todo[n] = '/';
        rest = todo;
        if (target[0] == '/') {
            close(dir);
            if ((dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                return -errno;
        }
    }
    return dir;
}

int mkdir_p_nofollow(const char *path, mode_t mode)
{
    int fd = mkdir_p_open(path, mode, NULL);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t now_ms(void)
{
    return now_ns() / 1000000ull;
}

void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

uint64_t realtime_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000ull;
}

void utc_date_of(int64_t secs, struct utc_date *out)
{
    /* Days to civil date: H. Hinnant's algorithm (eras of 400 years). */
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;   /* [0, 399] */
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                 /* [0, 365], from March 1 */
    int64_t mp = (5 * doy + 2) / 153;                                      /* [0, 11] */
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    out->year = y;
    out->mon = (int)m;
    out->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->hour = (int)(rem / 3600);
    out->min = (int)(rem / 60 % 60);
    out->sec = (int)(rem % 60);
    out->wday = (int)((days % 7 + 11) % 7);                                /* 1970-01-01 was a Thursday */
    out->yday = (int)(m <= 2 ? doy - 306 : doy + 59 + leap);
}

void utc_time_format(int64_t secs, char *out, size_t n)
{
    struct utc_date d;
    utc_date_of(secs, &d);
    if (d.year < 0 || d.year > 9999) {
        snprintf(out, n, "?");
        return;
    }
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d", (int)d.year, d.mon, d.mday, d.hour, d.min, d.sec);
}
