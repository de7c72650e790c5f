/* userns.c — a user namespace per container, see userns.h. */
#include "keel/userns.h"
#include "keel/log.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOLDER_REAP_MS 1000   /* drop_namespace's wait for the killed holder to end */

static bool overlaps(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
    return (uint64_t)a < (uint64_t)b + nb && (uint64_t)b < (uint64_t)a + na;
}

/* The map's syntax and idmap_to_host are idmap.c's; container.c asks here. */
int userns_to_host(const struct userns_extent *map, size_t n, uint32_t inside, uint32_t *host)
{
    return idmap_to_host(map, n, inside, host);
}

/* Claims the lowest slot from `from` on whose lock file nobody holds (an
 * flock held on it) and whose range no namespace in `used` reaches. */
static int claim_slot(struct userns *u, uint32_t from, const struct userns_extent *used, size_t n_used,
                      uint32_t *slot, struct kerr *err)
{
    if (mkdir(USERNS_LOCK_DIR, 0700) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create %s", USERNS_LOCK_DIR);
    _cleanup_close_ int dir = open(USERNS_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0)
        return kerr_set(err, errno, "cannot open %s", USERNS_LOCK_DIR);
    for (uint32_t i = from; i < USERNS_POOL_SLOTS; i++) {
        if (userns_map_overlaps(used, n_used, USERNS_POOL_FIRST + i * USERNS_AUTO_SIZE, USERNS_AUTO_SIZE))
            continue;
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

/* ------------------------------------------------------------------------ */
/* The host ids in use by user namespaces (/proc/PID/uid_map and gid_map).   */

int userns_parse_proc_map(const char *buf, struct userns_extent *out, size_t max, size_t *n)
{
    *n = 0;
    for (const char *p = buf; *p; ) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        uint64_t v[3];
        size_t k = 0;
        const char *q = p, *end = p + len;
        while (k < 3) {
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            if (q == end || *q < '0' || *q > '9')
                break;
            uint64_t x = 0;
            while (q < end && *q >= '0' && *q <= '9') {
                x = x * 10 + (uint64_t)(*q - '0');
                if (x > UINT32_MAX)
                    return -EINVAL;
                q++;
            }
            v[k++] = x;
        }
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (k == 0 && q == end) {   /* a blank line */
            p = eol ? eol + 1 : end;
            continue;
        }
        if (k != 3 || q != end || v[2] == 0 || v[0] + v[2] > (uint64_t)UINT32_MAX + 1 ||
            v[1] + v[2] > (uint64_t)UINT32_MAX + 1)
            return -EINVAL;
        if (*n == max)
            return -E2BIG;
        out[(*n)++] = (struct userns_extent){ (uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2] };
        p = eol ? eol + 1 : end;
    }
    return 0;
}

/* The initial user namespace's inode number, fixed since Linux 3.8 (the
 * kernel's PROC_USER_INIT_INO, include/linux/proc_ns.h). */
#define USER_NS_INIT_INO 0xEFFFFFFDu

bool userns_keel_nested(void)
{
    static int nested = -1;   /* read once: keel's own namespace does not change */
    if (nested < 0) {
        /* Not the uid_map: a namespace given "0 0 4294967295" from outside
         * maps like the initial one and is not it.  Unreadable (no /proc):
         * taken for the initial namespace, keel's usual place. */
        struct stat st;
        nested = stat("/proc/self/ns/user", &st) == 0 && st.st_ino != USER_NS_INIT_INO;
    }
    return nested;
}

bool userns_rootless(void)
{
    return geteuid() != 0 || (userns_keel_nested() && access("/run", W_OK) < 0);
}

int userns_runtime_dir(const char **dir, struct kerr *err)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (!x || x[0] != '/')
        return kerr_msg(err, ENOENT, "XDG_RUNTIME_DIR is not set to an absolute path");
    if (lstat(x, &st) < 0)
        return kerr_set(err, errno, "cannot use XDG_RUNTIME_DIR %s", x);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return kerr_msg(err, EPERM, "cannot use XDG_RUNTIME_DIR %s: it is not a directory of keel's user with mode 0700",
                        x);
    *dir = x;
    return 0;
}

bool userns_range_mapped(const struct userns_extent *map, size_t n, uint32_t first, uint32_t count)
{
    uint64_t pos = first, end = (uint64_t)first + count;
    while (pos < end) {
        size_t i = 0;
        while (i < n && !(map[i].inside <= pos && pos < (uint64_t)map[i].inside + map[i].count))
            i++;
        if (i == n)
            return false;
        pos = (uint64_t)map[i].inside + map[i].count;
    }
    return true;
}

/* Whether keel's /proc/self/NAME (uid_map, gid_map) maps host ids
 * first..first+count-1, which a namespace keel makes names in its map
 * (WHAT says whose, HINT what to do instead); unreadable counts as mapped
 * (the start will say). */
static int ids_mapped_in(const char *name, uint32_t first, uint32_t count, const char *what, const char *hint,
                         struct kerr *err)
{
    char path[32];
    snprintf(path, sizeof path, "/proc/self/%s", name);
    _cleanup_free_ char *buf = NULL;
    struct userns_extent ext[USERNS_PROC_MAX_EXTENTS];
    size_t n = 0;
    if (read_file_at(AT_FDCWD, path, 64 * 1024, &buf, NULL) < 0 ||
        userns_parse_proc_map(buf, ext, USERNS_PROC_MAX_EXTENTS, &n) < 0 ||
        userns_range_mapped(ext, n, first, count))
        return 0;
    char have[160] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof have; i++)
        used += (size_t)snprintf(have + used, sizeof have - used, "%s%u-%u", i ? ", " : "", ext[i].inside,
                                 ext[i].inside + (ext[i].count - 1));
    return kerr_msg(err, EPERM, "%s needs host ids %u-%u mapped in keel's user namespace; keel's %s maps only %s%s",
                    what, first, first + (count - 1), name, n ? have : "nothing", hint);
}

int userns_possible(const struct container_spec *c, struct kerr *err)
{
    static const char *const maps[] = { "uid_map", "gid_map" };
    for (size_t m = 0; m < 2; m++) {
        int r = 0;
        if (c->userns == USERNS_AUTO)
            r = ids_mapped_in(maps[m], USERNS_POOL_FIRST, IDMAP_POOL_SIZE, "userns = auto",
                              "; use an explicit map within it", err);
        for (size_t i = 0; r == 0 && c->userns == USERNS_MAP && i < c->n_userns_map; i++)
            r = ids_mapped_in(maps[m], c->userns_map[i].outside, c->userns_map[i].count, "its userns map", "", err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* keel's own gid_map, read once (see userns_keel_gid_mapped); n_keel_gids
 * -1: not read yet, 0: unreadable (every gid counts as mapped). */
static struct userns_extent keel_gids[USERNS_PROC_MAX_EXTENTS];
static ssize_t n_keel_gids = -1;

bool userns_keel_gid_mapped(gid_t gid)
{
    if (n_keel_gids < 0) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;
        if (read_file_at(AT_FDCWD, "/proc/self/gid_map", 64 * 1024, &buf, NULL) < 0 ||
            userns_parse_proc_map(buf, keel_gids, USERNS_PROC_MAX_EXTENTS, &n) < 0)
            n = 0;
        n_keel_gids = (ssize_t)n;
    }
    uint32_t unused;
    return n_keel_gids == 0 || idmap_to_host(keel_gids, (size_t)n_keel_gids, gid, &unused) == 0;
}

bool userns_keel_setgroups_denied(void)
{
    static int denied = -1;   /* read once, like the map: it cannot go back to "allow" */
    if (denied < 0) {
        _cleanup_free_ char *buf = NULL;
        /* The initial namespace always allows; a kernel without the file
         * (before 3.19) has no "deny" either. */
        denied = userns_keel_nested() && read_file_at(AT_FDCWD, "/proc/self/setgroups", 64, &buf, NULL) == 0 &&
                 str_starts(buf, "deny");
        if (denied)
            (void)userns_keel_gid_mapped(0);   /* its map too, for the setup children */
    }
    return denied;
}

bool userns_map_overlaps(const struct userns_extent *map, size_t n, uint32_t first, uint32_t count)
{
    for (size_t i = 0; i < n; i++)
        if (overlaps(map[i].outside, map[i].count, first, count))
            return true;
    return false;
}

/* A user namespace a scan read, its maps in in_use.ext.  PIN: an fd of the
 * namespace (or -1), taken when both its maps were there: maps are written
 * once, so a later scan of the same in_use need not read them again, and
 * the fd keeps the namespace, and so its inode number, alive (nsfs gives a
 * freed number to the next namespace made): without it, a later namespace
 * could pass for this one.  UNTIL: the last scan it holds for (pinned: all). */
struct ns_seen {
    ino_t ino;
    int pin;
    unsigned until;
};

#define USERNS_PINS_MAX 128   /* fds held at most while keel looks (a host may have thousands) */

struct in_use {
    struct userns_extent *ext;   /* host ranges of the other namespaces' maps */
    size_t n, cap;
    struct ns_seen *seen;        /* namespaces already read */
    size_t n_seen, cap_seen;
    unsigned scan;               /* collect_in_use calls on it so far */
};

/* Its pins closed, its memory freed: `u` is not used again. */
static void in_use_free(struct in_use *u)
{
    for (size_t i = 0; i < u->n_seen; i++)
        close_safe(u->seen[i].pin);
    free(u->ext);
    free(u->seen);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, c * size);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* Reads one process's uid_map and gid_map into `u`.  A process that is gone
 * meanwhile, or a map that cannot be read, is skipped (not in use by then, or
 * not ours to judge); only ENOMEM is an error.  Returns the number of maps
 * read that were written (0-2). */
static int add_maps(struct in_use *u, int piddir)
{
    static const char *const files[] = { "uid_map", "gid_map" };
    int got = 0;
    for (size_t f = 0; f < 2; f++) {
        _cleanup_free_ char *buf = NULL;
        if (read_file_at(piddir, files[f], 64 * 1024, &buf, NULL) < 0)
            continue;
        struct userns_extent ext[USERNS_PROC_MAX_EXTENTS];
        size_t n;
        if (userns_parse_proc_map(buf, ext, USERNS_PROC_MAX_EXTENTS, &n) < 0 || n == 0)
            continue;
        if (grow((void **)&u->ext, &u->cap, u->n + n, sizeof *u->ext) < 0)
            return -ENOMEM;
        memcpy(u->ext + u->n, ext, n * sizeof *ext);
        u->n += n;
        got++;
    }
    return got;
}

/* The user namespace of PATH ("PID/ns/user" below /proc, or "ns/user"
 * below a PID directory): its inode number, from the link's text
 * "user:[INODE]".  A readlink, not a stat: stat follows the link into nsfs,
 * which makes (and frees) an inode and a dentry for the namespace each time,
 * ~3 times the cost, paid for every process in sight. */
static bool userns_of(int dirfd, const char *path, ino_t *ino)
{
    char buf[48];
    ssize_t n = readlinkat(dirfd, path, buf, sizeof buf - 1);
    if (n <= 7)
        return false;
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf + 6, &end, 10);
    if (strncmp(buf, "user:[", 6) != 0 || errno != 0 || end == buf + 6 || strcmp(end, "]") != 0)
        return false;
    *ino = (ino_t)v;
    return true;
}

/* Every host range mapped by a user namespace with a process in it, other
 * than keel's own namespace and `skip` (0: none), as seen in /proc (keel's
 * PID namespace: in boot mode, the whole machine), added to `u`.  A process
 * in a namespace already read, keel's own among them (most of a host's),
 * costs one readlink; so does one in a namespace an earlier scan of the same
 * `u` pinned (open_auto's second look reads only what is new since its
 * first). */
static int collect_in_use(ino_t skip, struct in_use *u, struct kerr *err)
{
    u->scan++;
    struct stat self;
    if (stat("/proc/self/ns/user", &self) < 0)
        return kerr_set(err, errno, "cannot stat /proc/self/ns/user");
    int pfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return kerr_set(err, errno, "cannot open /proc");
    DIR *d = fdopendir(pfd);
    if (!d) {
        int e = errno;
        close(pfd);
        return kerr_set(err, e, "cannot read /proc");
    }
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "%s/ns/user", de->d_name);
        ino_t ino;
        if (!userns_of(dirfd(d), path, &ino) || ino == self.st_ino || ino == skip)
            continue;
        bool seen = false;
        for (size_t i = 0; i < u->n_seen && !seen; i++)
            seen = u->seen[i].ino == ino && u->seen[i].until >= u->scan;
        if (seen)
            continue;
        _cleanup_close_ int piddir = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (piddir < 0)
            continue;
        size_t before = u->n;
        if ((r = add_maps(u, piddir)) < 0)
            break;
        /* The process may have ended, and its pid gone to another, between
         * the readlink and the open: the maps read are ino's only if the
         * process behind piddir is in it (any process in it: the maps are
         * the namespace's).  Else they are dropped, ino not marked read.
         * With both maps written, the check opens the namespace: its pin. */
        if (grow((void **)&u->seen, &u->cap_seen, u->n_seen + 1, sizeof *u->seen) < 0) {
            r = -ENOMEM;
            break;
        }
        int pin = r == 2 && u->n_seen < USERNS_PINS_MAX ? openat(piddir, "ns/user", O_RDONLY | O_CLOEXEC) : -1;
        struct stat st;
        ino_t again;
        r = 0;
        if (pin >= 0 ? fstat(pin, &st) < 0 || st.st_ino != ino
                     : !userns_of(piddir, "ns/user", &again) || again != ino) {
            close_safe(pin);
            u->n = before;
            continue;
        }
        u->seen[u->n_seen++] = (struct ns_seen){ ino, pin, pin >= 0 ? UINT_MAX : u->scan };
    }
    closedir(d);
    if (r < 0)
        return kerr_set(err, -r, "cannot list the user namespaces in use");
    return 0;
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

/* A user namespace with `map` for uids and gids, held by a returned fd and
 * by a holder: the child made in it, which waits for EOF on u->hold_fd.  The
 * holder keeps the namespace visible in /proc (its uid_map) for as long as
 * keel keeps it, also while no container process runs in it, so that other
 * keels (and other tools) that look there see the range as used. */
static int make_namespace(struct userns *u, struct kerr *err)
{
    char text[4096];
    size_t used = 0;
    for (size_t i = 0; i < u->n; i++)
        used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0, "%u %u %u\n",
                                 u->map[i].inside, u->map[i].outside, u->map[i].count);
    if (used >= sizeof text)
        return kerr_msg(err, E2BIG, "cannot make a user namespace: the map is longer than a page");

    int hold[2];
    if (pipe2(hold, O_CLOEXEC) < 0)
        return kerr_set(err, errno, "cannot make a user namespace");
    int pidfd = -1;
    struct sys_clone_args args = { .flags = CLONE_NEWUSER | CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)&pidfd,
                                   .exit_signal = SIGCHLD };
    pid_t pid = sys_clone3(&args);
    if (pid < 0) {
        int e = errno;
        close(hold[0]);
        close(hold[1]);
        return kerr_set(err, e, "cannot make a user namespace");
    }
    if (pid == 0) {
        /* Keeps nothing of keel's but the read end and stdio (it lives on,
         * and must not hold keel's pipes, sockets or locks), and waits for
         * EOF: keel closing its end, or dying. */
        char b;
        if (dup2(hold[0], 3) < 0 || sys_close_range_from(4) < 0)
            _exit(1);
        while (read(3, &b, 1) < 0 && errno == EINTR)
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
        u->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (u->fd < 0)
            r = kerr_set(err, errno, "cannot open %s", path);
    }
    u->hold_fd = hold[1];
    u->holder = pid;
    u->holder_pidfd = pidfd;
    return r;   /* on failure the caller's drop_namespace reaps the holder */
}

/* Ends the holder and reaps it before keel goes on (or exits): a holder
 * left to keel's parent's reaper stays a zombie under one that does not
 * reap, and a zombie's namespace, its map still in /proc, holds the range
 * (collect_in_use) and the namespace's memory.  SIGKILL, not only the EOF:
 * a stopped holder must not hang keel.  Through the pidfd: in a daemon,
 * supervisor_reap may have reaped a holder that died early, and its pid can
 * be another process's by now. */
static void reap_holder(struct userns *u)
{
    if (u->holder_pidfd < 0)
        return;
    (void)sys_pidfd_send_signal(u->holder_pidfd, SIGKILL);   /* keel's own child: fails only when gone */
    /* Bounded all the same: PID 1 never waits without one (sys.h). */
    if (sys_pidfd_reap(u->holder_pidfd, HOLDER_REAP_MS, NULL) == -ETIMEDOUT)
        log_warn("the user namespace holder %d did not end within %d ms of SIGKILL: left to the reaper",
                 (int)u->holder, HOLDER_REAP_MS);
    close(u->holder_pidfd);
    u->holder_pidfd = -1;
}

static ino_t ns_ino(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* Drops the namespace and the slot of a failed attempt (keeps u->map). */
static void drop_namespace(struct userns *u)
{
    close_safe(u->fd);
    if (u->hold_fd >= 0)
        close(u->hold_fd);    /* also in keel run's last teardown (close_defer_to_exit) */
    reap_holder(u);
    close_safe(u->lock_fd);
    u->fd = u->hold_fd = u->lock_fd = -1;
    u->holder = 0;
}

/* userns = auto: the lowest slot that no keel sharing /run holds (flock) and
 * whose range no other user namespace in sight maps.  Keels with a /run of
 * their own see only the maps: two of them can look at the same moment and
 * both find a range free, so each looks again once its own map is written
 * and moves on when another namespace maps the range too.  Whichever looks
 * second sees the other's map (each writes before it looks), so at least
 * one of two moves; both moving only costs a slot. */
static int open_auto(struct userns *u, const struct container_spec *c, struct kerr *err)
{
    u->map = malloc(sizeof *u->map);
    if (!u->map)
        return kerr_set(err, ENOMEM, "cannot make the user namespace of %s", c->name);
    u->n = 1;
    uint32_t from = 0;
    /* One in_use for every look: the second reads only the namespaces the
     * first did not pin (new ones, or maps not written yet), not again the
     * maps of every namespace in sight (~25 us each).  What stays in it
     * from a look before is still mapped, or was: at worst a slot skipped. */
    struct in_use used = { 0 };
    int r;
    for (;;) {
        uint32_t slot = 0;
        r = collect_in_use(0, &used, err);
        if (r == 0)
            r = claim_slot(u, from, used.ext, used.n, &slot, err);
        if (r < 0)
            break;
        uint32_t first = USERNS_POOL_FIRST + slot * USERNS_AUTO_SIZE;
        u->map[0] = (struct userns_extent){ 0, first, USERNS_AUTO_SIZE };
        if ((r = make_namespace(u, err)) < 0)
            break;
        r = collect_in_use(ns_ino(u->fd), &used, err);
        if (r < 0 || !userns_map_overlaps(used.ext, used.n, first, USERNS_AUTO_SIZE))
            break;
        drop_namespace(u);
        from = slot + 1;
    }
    in_use_free(&used);
    return r;
}

int userns_open(struct userns *u, const struct container_spec *c, struct kerr *err)
{
    if (c->userns == USERNS_NO || u->fd >= 0)
        return 0;
    int r;
    if (c->userns == USERNS_AUTO) {
        r = open_auto(u, c, err);
    } else {
        u->map = malloc(c->n_userns_map * sizeof *u->map);
        if (!u->map)
            return kerr_set(err, ENOMEM, "cannot make the user namespace of %s", c->name);
        memcpy(u->map, c->userns_map, c->n_userns_map * sizeof *u->map);
        u->n = c->n_userns_map;
        r = make_namespace(u, err);
        /* An explicit map is the operator's: said, not refused. */
        struct in_use used = { 0 };
        struct kerr e2 = { 0 };
        if (r == 0 && collect_in_use(ns_ino(u->fd), &used, &e2) == 0)
            for (size_t i = 0; i < u->n; i++)
                if (userns_map_overlaps(used.ext, used.n, u->map[i].outside, u->map[i].count)) {
                    log_warn("%s: the host ids %u..%u of its userns map are mapped by another user namespace "
                             "too: both own the same files", c->name, u->map[i].outside,
                             u->map[i].outside + (u->map[i].count - 1));
                    break;
                }
        in_use_free(&used);
    }
    if (r < 0) {
        userns_close(u);
        return kerr_prefix(err, "cannot make the user namespace of %s", c->name);
    }
    return 0;
}

void userns_close(struct userns *u)
{
    drop_namespace(u);        /* frees the slot */
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
