/* userns.c — a user namespace per container, see userns.h. */
#include "keel/userns.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ID_MAX 4294967294u     /* (uid_t)-1 is "no id" to the kernel */

#define why_fmt(why, ...) PARSE_FAIL(why, EINVAL, __VA_ARGS__)

static bool overlaps(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
    return (uint64_t)a < (uint64_t)b + nb && (uint64_t)b < (uint64_t)a + na;
}

/* INSIDE:HOST:COUNT */
static int parse_extent(const char *s, struct userns_extent *e, char *why)
{
    char buf[64];
    if (str_copy(buf, sizeof buf, s) < 0)
        return why_fmt(why, "'%.40s...' is not INSIDE:HOST:COUNT", s);
    char *f[3], *p = buf;
    size_t n = 0;
    for (char *t; n < 3 && (t = strsep(&p, ":")); )
        f[n++] = t;
    if (n != 3 || p)
        return why_fmt(why, "'%s' is not INSIDE:HOST:COUNT", s);
    uint64_t v[3];
    char inner[PARSE_WHY_MAX];
    for (size_t i = 0; i < 3; i++)
        if (parse_u64(f[i], i == 2 ? 1 : 0, i == 2 ? (uint64_t)ID_MAX + 1 : ID_MAX, &v[i], inner) < 0)
            return why_fmt(why, "'%s': %s %s", s, i == 0 ? "INSIDE" : i == 1 ? "HOST" : "COUNT", inner);
    if (v[0] + v[2] - 1 > ID_MAX || v[1] + v[2] - 1 > ID_MAX)
        return why_fmt(why, "'%s' runs past the largest id %u", s, ID_MAX);
    *e = (struct userns_extent){ (uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2] };
    return 0;
}

int userns_parse(const char *s, struct container_spec *c, char *why)
{
    if (strcmp(s, "no") == 0 || strcmp(s, "none") == 0 || strcmp(s, "auto") == 0) {
        free(c->userns_map);
        c->userns_map = NULL;
        c->n_userns_map = 0;
        c->userns = s[0] == 'a' ? USERNS_AUTO : USERNS_NO;
        return 0;
    }
    /* A word that is no map at all gets the whole syntax, a bad extent its own reason. */
    if (!*s || s[strspn(s, "0123456789:,")])
        return why_fmt(why, "'%s' is not no, auto or INSIDE:HOST:COUNT[,...]", s);
    struct userns_extent map[USERNS_MAX_EXTENTS];
    size_t n = 0;
    _cleanup_free_ char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    char *p = copy;
    for (char *t; (t = strsep(&p, ",")); ) {
        if (n == USERNS_MAX_EXTENTS)
            return why_fmt(why, "more than %d extents", USERNS_MAX_EXTENTS);
        int r = parse_extent(t, &map[n], why);
        if (r < 0)
            return r;
        const struct userns_extent *e = &map[n];
        for (size_t i = 0; i < n; i++) {
            if (overlaps(e->inside, e->count, map[i].inside, map[i].count))
                return why_fmt(why, "container ids of '%s' overlap an earlier extent", t);
            if (overlaps(e->outside, e->count, map[i].outside, map[i].count))
                return why_fmt(why, "host ids of '%s' overlap an earlier extent", t);
        }
        if (e->outside == 0)
            return why_fmt(why, "'%s' maps the host's root (id 0) into the container", t);
        if (overlaps(e->outside, e->count, USERNS_POOL_FIRST, USERNS_POOL_END - USERNS_POOL_FIRST))
            return why_fmt(why, "host ids of '%s' reach into %u..%u, the range kept for userns = auto", t,
                           USERNS_POOL_FIRST, USERNS_POOL_END - 1);
        n++;
    }
    uint32_t unused;
    if (userns_to_host(map, n, 0, &unused) < 0)
        return why_fmt(why, "'%s' does not map container id 0 (the owner of the image's files)", s);
    struct userns_extent *m = malloc(n * sizeof *m);
    if (!m)
        return -ENOMEM;
    memcpy(m, map, n * sizeof *m);
    free(c->userns_map);
    c->userns_map = m;
    c->n_userns_map = n;
    c->userns = USERNS_MAP;
    return 0;
}

int userns_to_host(const struct userns_extent *map, size_t n, uint32_t inside, uint32_t *host)
{
    for (size_t i = 0; i < n; i++)
        if (inside >= map[i].inside && (uint64_t)inside < (uint64_t)map[i].inside + map[i].count) {
            *host = map[i].outside + (inside - map[i].inside);
            return 0;
        }
    return -ERANGE;
}

/* Claims the lowest free slot of the pool: an flock held on its lock file. */
static int claim_slot(struct userns *u, uint32_t *slot, struct kerr *err)
{
    if (mkdir(USERNS_LOCK_DIR, 0700) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create %s", USERNS_LOCK_DIR);
    _cleanup_close_ int dir = open(USERNS_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0)
        return kerr_set(err, errno, "cannot open %s", USERNS_LOCK_DIR);
    for (uint32_t i = 0; i < USERNS_POOL_SLOTS; i++) {
        char name[16];
        snprintf(name, sizeof name, "%u", i);
        int fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return kerr_set(err, errno, "cannot open %s/%s", USERNS_LOCK_DIR, name);
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            /* For whoever looks: which keel holds the range. */
            char pid[24];
            int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
            if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
                int e = errno;
                close(fd);
                return kerr_set(err, e, "cannot write %s/%s", USERNS_LOCK_DIR, name);
            }
            u->lock_fd = fd;
            *slot = i;
            return 0;
        }
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK)
            return kerr_set(err, e, "cannot lock %s/%s", USERNS_LOCK_DIR, name);
    }
    return kerr_msg(err, EBUSY, "cannot find a free range for userns = auto: all %u are in use", USERNS_POOL_SLOTS);
}

static int write_map(pid_t pid, const char *file, const char *text, struct kerr *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    /* The kernel takes a map in one write, or not at all. */
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return kerr_set(err, errno, "cannot write %s", path);
    return 0;
}

/* A user namespace with `map` for uids and gids, held by a returned fd: a
 * child made in it stays just long enough for its maps to be written. */
static int make_namespace(const struct userns_extent *map, size_t n, int *out, struct kerr *err)
{
    char text[4096];
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0, "%u %u %u\n",
                                 map[i].inside, map[i].outside, map[i].count);
    if (used >= sizeof text)
        return kerr_msg(err, E2BIG, "cannot make a user namespace: the map is longer than a page");

    int hold[2];
    if (pipe2(hold, O_CLOEXEC) < 0)
        return kerr_set(err, errno, "cannot make a user namespace");
    struct sys_clone_args args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
    pid_t pid = sys_clone3(&args);
    if (pid < 0) {
        int e = errno;
        close(hold[0]);
        close(hold[1]);
        return kerr_set(err, e, "cannot make a user namespace");
    }
    if (pid == 0) {
        /* Waits for EOF: the parent closing its end, or dying. */
        char b;
        close(hold[1]);
        while (read(hold[0], &b, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(hold[0]);
    int r = write_map(pid, "uid_map", text, err);
    if (r == 0)
        r = write_map(pid, "gid_map", text, err);
    if (r == 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        *out = open(path, O_RDONLY | O_CLOEXEC);
        if (*out < 0)
            r = kerr_set(err, errno, "cannot open %s", path);
    }
    close(hold[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return r;
}

int userns_open(struct userns *u, const struct container_spec *c, struct kerr *err)
{
    if (c->userns == USERNS_NO || u->fd >= 0)
        return 0;
    if (c->userns == USERNS_AUTO) {
        uint32_t slot = 0;
        int r = claim_slot(u, &slot, err);
        if (r < 0)
            return r;
        u->map = malloc(sizeof *u->map);
        if (!u->map) {
            userns_close(u);
            return kerr_set(err, ENOMEM, "cannot make the user namespace of %s", c->name);
        }
        u->map[0] = (struct userns_extent){ 0, USERNS_POOL_FIRST + slot * USERNS_AUTO_SIZE, USERNS_AUTO_SIZE };
        u->n = 1;
    } else {
        u->map = malloc(c->n_userns_map * sizeof *u->map);
        if (!u->map)
            return kerr_set(err, ENOMEM, "cannot make the user namespace of %s", c->name);
        memcpy(u->map, c->userns_map, c->n_userns_map * sizeof *u->map);
        u->n = c->n_userns_map;
    }
    if (make_namespace(u->map, u->n, &u->fd, err) < 0) {
        userns_close(u);
        return kerr_prefix(err, "cannot make the user namespace of %s", c->name);
    }
    return 0;
}

void userns_close(struct userns *u)
{
    close_safe(u->fd);
    close_safe(u->lock_fd);   /* frees the slot */
    free(u->map);
    *u = (struct userns)USERNS_INIT;
}

void userns_plan(const struct container_spec *c, FILE *out)
{
    if (c->userns == USERNS_NO) {
        fprintf(out, "  userns: no (container ids are host ids)\n");
        return;
    }
    if (c->userns == USERNS_AUTO) {
        fprintf(out, "  userns: auto (%u ids, a free range of %u..%u claimed at start)", USERNS_AUTO_SIZE,
                USERNS_POOL_FIRST, USERNS_POOL_END - 1);
    } else {
        fprintf(out, "  userns:");
        for (size_t i = 0; i < c->n_userns_map; i++)
            fprintf(out, "%s%u:%u:%u", i ? "," : " ", c->userns_map[i].inside, c->userns_map[i].outside,
                    c->userns_map[i].count);
    }
    fprintf(out, "; layers idmapped, joined last\n");
}
