/* cgroup.c — cgroup v2 for keel: its subtree, per-container cgroups with
 * their limits, kill, events and accounting (see cgroup.h).
 *
 * Everything below the containers' cgroup goes through root->keel_fd with *at()
 * calls, so the file-writing logic runs unchanged against a plain directory
 * in the unit tests (cgroup_open_at with plain_dir).  What to read and write
 * is decided by the pure half, cgroup_plan.c; this file only carries it out.
 */
#include "keel/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "keel/log.h"
#include "keel/userns.h"
#include "keel/util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define SUPERVISOR_LEAF "supervisor"
#define CONTAINERS_DIR "containers"
/* Beside the containers' cgroups: processes keel killed that outlive their
 * container's cgroup (evict_leftovers).  No container can be named so (a
 * name starts with a letter or digit). */
#define KILLED_LEAF ".killed"
#define CG_FILE_MAX (1u << 20)   /* no cgroup file keel reads is near this */


static int cg_write(const struct cgroup_root *root, int dirfd, const char *file, const char *value)
{
    int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
    if (root->plain_dir)
        flags |= O_CREAT | O_TRUNC;
    _cleanup_close_ int fd = openat(dirfd, file, flags, 0644);
    if (fd < 0)
        return -errno;
    /* One write(2) per value: cgroupfs parses each write on its own. */
    ssize_t n = write(fd, value, strlen(value));
    if (n < 0)
        return -errno;
    return (size_t)n == strlen(value) ? 0 : -EIO;
}

static int cg_read(int dirfd, const char *file, char **out)
{
    return read_file_at(dirfd, file, CG_FILE_MAX, out, NULL);
}

static bool valid_name(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           strlen(name) < 256;
}

static int open_container_dir(const struct cgroup_root *root, const char *name)
{
    if (!valid_name(name))
        return -EINVAL;
    int fd = openat(root->keel_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return fd;
}

static void root_init(struct cgroup_root *root)
{
    memset(root, 0, sizeof *root);
    root->keel_fd = -1;
    root->start_fd = -1;
    root->lock_fd = -1;
}

int cgroup_open_at(struct cgroup_root *root, const char *path, unsigned controllers, bool plain_dir,
                   struct kerr *err)
{
    root_init(root);
    if (str_copy(root->keel_path, sizeof root->keel_path, path) < 0 ||
        str_copy(root->ctr_path, sizeof root->ctr_path, path) < 0)
        return kerr_set(err, ENAMETOOLONG, "cannot use cgroup directory %s", path);
    root->keel_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root->keel_fd < 0)
        return kerr_set(err, errno, "cannot open cgroup directory %s", path);
    root->controllers = controllers & CG_ALL;
    root->plain_dir = plain_dir;
    root->available = true;
    return 0;
}

int cgroup_set_oom_score_adj(pid_t pid, int value, struct kerr *err)
{
    char path[64], v[16];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/oom_score_adj");
    snprintf(v, sizeof v, "%d", value);
    int r = write_file_at(AT_FDCWD, path, v);
    if (r < 0)
        return kerr_set(err, -r, "cannot write %s to %s", v, path);
    return 0;
}

/* keel last for the OOM killer (-1000).  Lowering oom_score_adj below what
 * a process has needs CAP_SYS_RESOURCE in the initial user namespace: a
 * keel nested in another one (unshare --user) is refused (EACCES) by
 * design, at every run, so that is said at debug level only. */
static void protect_from_oom(void)
{
    struct kerr e = { 0 };
    if (cgroup_set_oom_score_adj(0, -1000, &e) == 0)
        return;
    if (e.code == EACCES && userns_keel_nested())
        log_debug("%s (keel is in a user namespace other than the initial one)", e.msg);
    else
        log_warn("%s", e.msg);
}

/* Enables each offered controller of `want` in dirfd's subtree_control, one
 * at a time so that one refusal (cpuset busy, say) does not cost the others.
 * Returns the bits enabled. */
static unsigned enable_controllers(int dirfd, unsigned want, const char *path)
{
    _cleanup_free_ char *buf = NULL;
    unsigned offered = 0, enabled = 0;
    char failed[64] = "";
    int why = 0;
    if (cg_read(dirfd, "cgroup.controllers", &buf) == 0)
        cgroup_parse_controllers(buf, &offered);
    for (unsigned bit = 1; bit & CG_ALL; bit <<= 1) {
        if (!(want & bit) || !(offered & bit))
            continue;
        char v[16];
        snprintf(v, sizeof v, "+%s", cgroup_controller_name(bit));
        int fd = openat(dirfd, "cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            log_warn("cannot open %s/cgroup.subtree_control: %s", path, strerror(errno));
            break;
        }
        if (write(fd, v, strlen(v)) < 0) {
            why = errno;
            size_t used = strlen(failed);
            snprintf(failed + used, sizeof failed - used, " %s", cgroup_controller_name(bit));
        } else {
            enabled |= bit;
        }
        close(fd);
    }
    /* One line for all refusals (typically EBUSY: other processes live in
     * the cgroup keel was started in). */
    if (why)
        log_warn("cannot enable cgroup controllers%s in %s: %s", failed, path, strerror(why));
    return enabled;
}

/* Moves the calling process into dirfd's cgroup. */
static int move_self(int dirfd)
{
    char v[24];
    snprintf(v, sizeof v, "%d", (int)getpid());
    _cleanup_close_ int fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return write(fd, v, strlen(v)) < 0 ? -errno : 0;
}

#define CG_PATH_BUF 4096

/* The cgroup2 mount without /proc/self/mountinfo (a read of 70-150 us, the
 * largest single call before `keel run`'s first clone): the usual mount
 * points, taken only where cgroup_mount_is_root() is certain that the mount
 * shows the whole hierarchy and /proc/self/cgroup is relative to its root.
 * Copies the mount point into mnt; false: read mountinfo. */
static bool known_root_mount(char *mnt, size_t n)
{
    struct stat st;
    struct statfs sfs;
    if (stat("/proc/self/ns/cgroup", &st) < 0 || statfs("/proc/self/ns/cgroup", &sfs) < 0)
        return false;
    unsigned long ns_type = (unsigned long)sfs.f_type;
    uint64_t ns_ino = st.st_ino;
    /* /sys/fs/cgroup, then a hybrid's /sys/fs/cgroup/unified (built on the
     * first: the binary's read-only data has no room to spare). */
    if (str_copy(mnt, n, "/sys/fs/cgroup") < 0)
        return false;
    for (int i = 0; i < 2; i++) {
        if (i == 1 && strlen(mnt) + sizeof "/unified" <= n)
            strcat(mnt, "/unified");
        if (statfs(mnt, &sfs) == 0 && stat(mnt, &st) == 0 &&
            cgroup_mount_is_root((unsigned long)sfs.f_type, st.st_ino, ns_type, ns_ino))
            return true;
    }
    return false;
}

/* Locates the cgroup keel runs in on the cgroup2 hierarchy (run mode).
 * 0 with *found = false when there is none. */
static int locate_start_cgroup(char *path, size_t n, bool *found, struct kerr *err)
{
    _cleanup_free_ char *mi = NULL, *self = NULL;
    /* On the heap, not PID 1's stack: stack pages once touched stay resident. */
    _cleanup_free_ char *bufs = malloc(3 * CG_PATH_BUF);
    if (!bufs)
        return kerr_set(err, ENOMEM, "cannot locate keel's cgroup");
    char *mnt = bufs, *mroot = bufs + CG_PATH_BUF, *cg = bufs + 2 * CG_PATH_BUF;
    *found = false;
    int r;
    if (known_root_mount(mnt, CG_PATH_BUF)) {
        mroot[0] = '/';
        mroot[1] = '\0';
    } else {
        r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", 16u << 20, &mi, NULL);
        if (r < 0)
            return kerr_set(err, -r, "cannot read /proc/self/mountinfo");
        if (cgroup_parse_mountinfo(mi, mnt, CG_PATH_BUF, mroot, CG_PATH_BUF) < 0)
            return 0;
    }
    r = read_file_at(AT_FDCWD, "/proc/self/cgroup", 1u << 20, &self, NULL);
    if (r < 0)
        return kerr_set(err, -r, "cannot read /proc/self/cgroup");
    if (cgroup_parse_self(self, cg, CG_PATH_BUF) < 0)
        return 0;
    /* The mount shows the hierarchy from `mroot` down; keel's cgroup must
     * be inside it to be reachable. */
    const char *rel = cg;
    if (strcmp(mroot, "/") != 0) {
        size_t ml = strlen(mroot);
        if (strncmp(cg, mroot, ml) != 0 || (cg[ml] != '/' && cg[ml] != '\0')) {
            log_warn("keel's cgroup %s is outside the cgroup2 mount at %s (root %s): cgroups unavailable",
                     cg, mnt, mroot);
            return 0;
        }
        rel = cg + ml;
    }
    if (strcmp(rel, "/") == 0)
        rel = "";
    int len = snprintf(path, n, "%s%s", mnt, rel);
    if (len < 0 || (size_t)len >= n)
        return kerr_set(err, ENAMETOOLONG, "cannot locate keel's cgroup %s", cg);
    *found = true;
    return 0;
}

/* Removes the empty cgroup tree at dirfd/name (children first); best effort. */
static int remove_tree(int parent, const char *name, int depth)
{
    if (depth > 8)
        return -ELOOP;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            remove_tree(dirfd(d), de->d_name, depth + 1);
    closedir(d);
    return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* Run-mode subtrees are owned through a lock, not a pid: keels in different
 * PID namespaces share one hierarchy and may have the same pid.  Each keel
 * holds an exclusive flock on its subtree for its whole life; a subtree whose
 * lock can be taken belongs to a keel that is gone, and is removed.  The
 * sweep and the creation of the new subtree happen under a lock on the
 * parent, so a keel that is just starting is never swept. */
static void sweep_stale(int start_fd)
{
    int fd = openat(start_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || !str_starts(de->d_name, "keel."))
            continue;
        _cleanup_close_ int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub < 0 || flock(sub, LOCK_EX | LOCK_NB) < 0)
            continue;   /* alive (or unreadable): not ours to remove */
        /* cgroup.kill is recursive: what the dead keel left running goes too
         * (the directories can only go once the kernel has reaped it all). */
        write_file_at(sub, "cgroup.kill", "1");
        remove_tree(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* True when the (non-root) cgroup at fd offers a controller that its
 * subtree_control does not delegate yet. */
static bool start_needs_enabling(int fd)
{
    if (faccessat(fd, "cgroup.events", F_OK, 0) < 0 && errno == ENOENT)
        return false;   /* the root cgroup */
    _cleanup_free_ char *offered = NULL, *delegated = NULL;
    unsigned have = 0, given = 0;
    if (read_file_at(fd, "cgroup.controllers", 4096, &offered, NULL) < 0 ||
        read_file_at(fd, "cgroup.subtree_control", 4096, &delegated, NULL) < 0 ||
        cgroup_parse_controllers(offered, &have) < 0 || cgroup_parse_controllers(delegated, &given) < 0)
        return true;
    return (have & CG_ALL & ~given) != 0;
}

static int read_sysctl(const char *path, uint64_t *v)
{
    _cleanup_free_ char *buf = NULL;
    int r = read_file_at(AT_FDCWD, path, 64, &buf, NULL);
    return r < 0 ? r : cgroup_parse_u64(buf, v);
}

/* The kernel runs out of pids (kernel.pid_max) or tasks (kernel.threads-max)
 * for everyone at once, root included, and the containers' own pids.max
 * values may add up to more than either.  The containers' cgroup gets the
 * budget, so whatever they do together, the reserve stays for keel (its
 * setup children, health checks, keel exec) and the kernel's threads.  The
 * kernel values are read once, here. */
static void reserve_pids(const struct cgroup_root *root)
{
    uint64_t pid_max = 0, threads_max = 0;
    int r = read_sysctl("/proc/sys/kernel/pid_max", &pid_max);
    if (r == 0)
        r = read_sysctl("/proc/sys/kernel/threads-max", &threads_max);
    char v[32] = "";
    if (r == 0) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)cgroup_pids_budget(pid_max, threads_max));
        r = cg_write(root, root->keel_fd, "pids.max", v);
    }
    if (r < 0)
        log_warn("cannot keep pids in reserve for keel (pids.max of %s): %s", root->ctr_path, strerror(-r));
    else
        log_debug("containers: pids.max %s (kernel.pid_max %llu, kernel.threads-max %llu)", v,
                  (unsigned long long)pid_max, (unsigned long long)threads_max);
}

int cgroup_setup(struct cgroup_root *root, const char *mountpoint, bool boot_mode, struct kerr *err)
{
    char start[4096], name[64];
    root_init(root);
    root->boot_mode = boot_mode;

    if (boot_mode || mountpoint) {
        if (str_copy(start, sizeof start, mountpoint ? mountpoint : "/sys/fs/cgroup") < 0)
            return kerr_set(err, ENAMETOOLONG, "cannot use cgroup mount %s", mountpoint);
    } else {
        bool found;
        int r = locate_start_cgroup(start, sizeof start, &found, err);
        if (r < 0)
            return r;
        if (!found) {
            log_info("no cgroup2 hierarchy found: containers run without cgroups");
            return 0;
        }
    }
    struct statfs sfs;
    if (statfs(start, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
        log_warn("%s is not a cgroup2 file system: containers run without cgroups", start);
        return 0;
    }
    root->start_fd = open(start, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root->start_fd < 0)
        return kerr_set(err, errno, "cannot open cgroup %s", start);

    /* Boot mode owns the whole hierarchy; `keel run` may share it with other
     * keels, hence a subtree per process (and a sweep of dead ones). */
    if (boot_mode)
        snprintf(name, sizeof name, "keel");
    else {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
            rnd = now_ns();
        snprintf(name, sizeof name, "keel.%d.%012llx", (int)getpid(), (unsigned long long)(rnd & 0xffffffffffffull));
    }
    _cleanup_close_ int parent_lock = -1;
    if (!boot_mode) {
        parent_lock = openat(root->start_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_lock >= 0 && flock(parent_lock, LOCK_EX) < 0)
            log_warn("cannot lock cgroup %s: %s", start, strerror(errno));
        sweep_stale(root->start_fd);
    }
    if (mkdirat(root->start_fd, name, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        cgroup_release(root);
        return kerr_set(err, e, "cannot create cgroup %s/%s", start, name);
    }
    if (!boot_mode) {
        root->lock_fd = openat(root->start_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root->lock_fd < 0 || flock(root->lock_fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            cgroup_release(root);
            return kerr_set(err, e, "cannot lock cgroup %s/%s", start, name);
        }
    }
    int len = snprintf(root->keel_path, sizeof root->keel_path, "%s/%s", start, name);
    if (len < 0 || (size_t)len >= sizeof root->keel_path) {
        cgroup_release(root);
        return kerr_set(err, ENAMETOOLONG, "cannot create cgroup below %s", start);
    }
    _cleanup_close_ int top = openat(root->start_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (top < 0) {
        int e = errno;
        cgroup_release(root);
        return kerr_set(err, e, "cannot open cgroup %s/%s", start, name);
    }
    /* The no-internal-processes rule: a cgroup that distributes controllers
     * to children holds no process itself, so keel lives in a leaf.  In
     * `keel run`, moving costs an RCU grace period twice (there and back,
     * ~10 ms each): skip it where the cgroup keel started in need not
     * distribute anything new — the root cgroup (exempt from the rule, and
     * without cgroup.events), or one that already delegates every
     * controller it has.  The leaf is made only where keel moves into it:
     * an empty one costs a cgroup's creation and removal (~70 us of CPU) in
     * every `keel run`.
     * Boot mode starts in the root cgroup, which may hold processes and
     * distribute controllers at once: the move waits (cgroup_enter_leaf).
     * Run mode must leave a non-root start cgroup before it may distribute
     * controllers from it. */
    bool leaf = boot_mode || start_needs_enabling(root->start_fd);
    _cleanup_close_ int sup_fd = -1;
    if (leaf) {
        if (mkdirat(top, SUPERVISOR_LEAF, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            cgroup_release(root);
            return kerr_set(err, e, "cannot create cgroup %s/" SUPERVISOR_LEAF, root->keel_path);
        }
        root->leaf = true;
        sup_fd = openat(top, SUPERVISOR_LEAF, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sup_fd < 0) {
            int e = errno;
            cgroup_release(root);
            return kerr_set(err, e, "cannot open cgroup %s/" SUPERVISOR_LEAF, root->keel_path);
        }
    }
    int r;
    if (boot_mode) {
        root->enter_pending = true;
    } else if (leaf) {
        r = move_self(sup_fd);
        if (r < 0)
            log_warn("cannot move keel into cgroup %s/" SUPERVISOR_LEAF ": %s", root->keel_path, strerror(-r));
        else
            root->moved = true;
    }
    /* The containers live one level down, in a cgroup of their own beside
     * keel's leaf: limits on it (pids.max, below) hold all of them together
     * and never keel. */
    if (mkdirat(top, CONTAINERS_DIR, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        cgroup_release(root);
        return kerr_set(err, e, "cannot create cgroup %s/" CONTAINERS_DIR, root->keel_path);
    }
    len = snprintf(root->ctr_path, sizeof root->ctr_path, "%s/" CONTAINERS_DIR, root->keel_path);
    root->keel_fd = openat(top, CONTAINERS_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (len < 0 || (size_t)len >= sizeof root->ctr_path || root->keel_fd < 0) {
        int e = root->keel_fd < 0 ? errno : ENAMETOOLONG;
        cgroup_release(root);
        return kerr_set(err, e, "cannot open cgroup %s/" CONTAINERS_DIR, root->keel_path);
    }

    /* Controllers flow down: enable them in the cgroup keel started in (a
     * no-op where they already are), in keel's subtree, then in the
     * containers' cgroup. */
    enable_controllers(root->start_fd, CG_ALL, start);
    unsigned top_ctrl = enable_controllers(top, CG_ALL, root->keel_path);
    root->controllers = top_ctrl ? enable_controllers(root->keel_fd, top_ctrl, root->ctr_path) : 0;
    root->available = true;

    /* Protection of the supervisor: memory reclaim and the OOM killer
     * reach keel last. */
    if (top_ctrl & CG_MEMORY) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)CGROUP_SUPERVISOR_MIN);
        if ((r = cg_write(root, top, "memory.min", v)) < 0 ||
            (sup_fd >= 0 && (r = cg_write(root, sup_fd, "memory.min", v)) < 0))
            log_warn("cannot protect keel's memory with memory.min in %s: %s", root->keel_path, strerror(-r));
    }
    if (top_ctrl & CG_PIDS)
        reserve_pids(root);
    protect_from_oom();
    return 0;
}

void cgroup_enter_leaf(struct cgroup_root *root)
{
    if (!root || !root->enter_pending)
        return;
    root->enter_pending = false;
    char path[sizeof root->keel_path + sizeof "/" SUPERVISOR_LEAF];
    snprintf(path, sizeof path, "%s/" SUPERVISOR_LEAF, root->keel_path);
    int leaf = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int r = leaf < 0 ? -errno : move_self(leaf);
    close_safe(leaf);
    if (r < 0)
        log_warn("cannot move keel into cgroup %s/" SUPERVISOR_LEAF ": %s", root->keel_path, strerror(-r));
    else
        root->moved = true;
}

void cgroup_release(struct cgroup_root *root)
{
    if (!root)
        return;
    const char *name = strrchr(root->keel_path, '/');
    if (!root->boot_mode && !root->plain_dir && root->start_fd >= 0 && name &&
        (!root->moved || move_self(root->start_fd) == 0)) {
        /* Only what was made is removed (no rmdir that fails by design in
         * every keel run), by paths below start_fd: NAME/containers and
         * NAME/supervisor. */
        char sub[128];   /* NAME is keel.PID.RND (cgroup_setup) */
        if (root->killed_leaf && root->keel_fd >= 0)
            unlinkat(root->keel_fd, KILLED_LEAF, AT_REMOVEDIR);   /* a process still in it keeps it: left behind */
        if (snprintf(sub, sizeof sub, "%s/" CONTAINERS_DIR, name + 1) < (int)sizeof sub)
            unlinkat(root->start_fd, sub, AT_REMOVEDIR);
        if (root->leaf && snprintf(sub, sizeof sub, "%s/" SUPERVISOR_LEAF, name + 1) < (int)sizeof sub)
            unlinkat(root->start_fd, sub, AT_REMOVEDIR);
        unlinkat(root->start_fd, name + 1, AT_REMOVEDIR);
    }
    close_safe(root->keel_fd);
    close_safe(root->lock_fd);
    close_safe(root->start_fd);
    root->keel_fd = root->start_fd = -1;
    root->available = false;
}

/* Limits of an earlier instance that is still dying are put back to the
 * kernel's defaults before the new ones are written (errors ignored: a file
 * may not exist on this kernel). */
static void reset_limits(const struct cgroup_root *root, int fd)
{
    _cleanup_free_ char *io = NULL;
    if ((root->controllers & CG_IO) && cg_read(fd, "io.max", &io) < 0)
        io = NULL;
    struct cgroup_writes w;
    if (cgroup_plan_reset(root->controllers, io, &w) < 0)
        return;
    /* Best effort: a file the kernel refuses keeps its value, and the
     * limits written next override what matters. */
    for (size_t i = 0; i < w.n; i++)
        cg_write(root, fd, w.w[i].file, w.w[i].value);
    cgroup_writes_free(&w);
}

int cgroup_container_update(struct cgroup_root *root, const struct container_spec *c, struct kerr *err)
{
    unsigned need = cgroup_spec_controllers(c);
    if (!root || !root->available || root->keel_fd < 0)
        return need ? kerr_msg(err, EOPNOTSUPP, "cannot change the limits of container %s: no cgroup2 hierarchy "
                               "is available", c->name) : 0;
    unsigned missing = need & ~root->controllers;
    if (missing)
        return kerr_msg(err, EOPNOTSUPP, "cannot change the %s limits of container %s: the cgroup controller %s is "
                        "not available in %s", cgroup_controller_name(missing & -missing), c->name,
                        cgroup_controller_name(missing & -missing), root->ctr_path);
    _cleanup_close_ int fd = openat(root->keel_fd, c->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open cgroup %s/%s", root->ctr_path, c->name);
    struct cgroup_writes w, reset;
    int r = cgroup_plan_writes(c, root->controllers, NULL, &w, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *io = NULL;
    if ((root->controllers & CG_IO) && cg_read(fd, "io.max", &io) < 0)
        io = NULL;
    if (cgroup_plan_reset(root->controllers, io, &reset) < 0) {
        cgroup_writes_free(&w);
        return kerr_set(err, ENOMEM, "cannot change the limits of container %s", c->name);
    }
    /* A limit the new spec drops goes back to its default; one it sets is
     * written once, never lifted in between (no window without it).  io.max
     * has a line per device: each is reset, then the planned ones written. */
    for (size_t i = 0; i < reset.n; i++) {
        bool planned = false;
        if (strcmp(reset.w[i].file, "io.max") == 0) {
            cg_write(root, fd, reset.w[i].file, reset.w[i].value);
            continue;
        }
        for (size_t j = 0; j < w.n && !planned; j++)
            planned = strcmp(w.w[j].file, reset.w[i].file) == 0;
        if (!planned)
            cg_write(root, fd, reset.w[i].file, reset.w[i].value);
    }
    for (size_t i = 0; i < w.n && r == 0; i++) {
        int e = cg_write(root, fd, w.w[i].file, w.w[i].value);
        if (e < 0)
            r = kerr_set(err, -e, "cannot write \"%s\" to %s/%s/%s", w.w[i].value, root->ctr_path, c->name,
                         w.w[i].file);
    }
    cgroup_writes_free(&reset);
    cgroup_writes_free(&w);
    return r;
}

/* Moves what is left in container cgroup NAME (processes keel has killed
 * that are not dead yet: one in uninterruptible sleep, on a hung FUSE or NFS
 * server, outlives SIGKILL until it wakes) into KILLED_LEAF, SIGKILLed again,
 * and removes NAME, so that it is made afresh.  A cgroup cgroup.kill has
 * killed must not be cloned into again: kernels that count kills (kill_seq,
 * 6.18 here) compare the new child's count, read from the parent's own
 * cgroup for CLONE_INTO_CGROUP, with the target's, and SIGKILL the child at
 * once whenever the target was ever killed.  Returns 0 or -errno. */
static int evict_leftovers(struct cgroup_root *root, const char *name)
{
    if (root->plain_dir)
        return -EOPNOTSUPP;
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd < 0)
        return fd;
    if (mkdirat(root->keel_fd, KILLED_LEAF, 0755) < 0 && errno != EEXIST)
        return -errno;
    root->killed_leaf = true;
    _cleanup_close_ int killed = openat(root->keel_fd, KILLED_LEAF, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (killed < 0)
        return -errno;
    _cleanup_free_ char *buf = NULL;
    int r = cg_read(fd, "cgroup.procs", &buf);
    if (r < 0)
        return r;
    const char *p = buf;
    pid_t pid;
    while (cgroup_parse_next_pid(&p, &pid)) {
        char v[24];
        snprintf(v, sizeof v, "%d", (int)pid);
        (void)kill(pid, SIGKILL);   /* ESRCH: gone meanwhile, as the write below says too */
        if ((r = cg_write(root, killed, "cgroup.procs", v)) < 0 && r != -ESRCH)
            return r;
    }
    return unlinkat(root->keel_fd, name, AT_REMOVEDIR) == 0 ? 0 : -errno;
}

int cgroup_container_create(struct cgroup_root *root, const struct container_spec *c, int *dirfd,
                            struct kerr *err)
{
    *dirfd = -1;
    unsigned need = cgroup_spec_controllers(c);
    if (!root || !root->available) {
        if (need)
            return kerr_msg(err, EOPNOTSUPP,
                            "cannot apply the %s limits of container %s: no cgroup2 hierarchy is available",
                            cgroup_controller_name(need & -need), c->name);
        return 0;
    }
    if (!valid_name(c->name) || strcmp(c->name, SUPERVISOR_LEAF) == 0)
        return kerr_msg(err, EINVAL, "cannot create a cgroup for container %s: the name is reserved or invalid",
                        c->name ? c->name : "(null)");
    unsigned missing = need & ~root->controllers;
    if (missing) {
        unsigned bit = missing & -missing;
        return kerr_msg(err, EOPNOTSUPP,
                        "cannot apply the %s limits of container %s: the cgroup controller %s is not available in %s",
                        cgroup_controller_name(bit), c->name, cgroup_controller_name(bit), root->ctr_path);
    }
    struct cgroup_writes w;
    int r = cgroup_plan_writes(c, root->controllers, NULL, &w, err);
    if (r < 0)
        return r;

    bool reused = false;
    if (mkdirat(root->keel_fd, c->name, 0755) < 0) {
        if (errno != EEXIST) {
            r = kerr_set(err, errno, "cannot create cgroup %s/%s", root->ctr_path, c->name);
            goto out;
        }
        /* Left by an earlier run of the container: remove it when empty,
         * or once what is left in it is moved out (evict_leftovers); only
         * when that fails, kill what is there and reuse it. */
        if (unlinkat(root->keel_fd, c->name, AT_REMOVEDIR) == 0 || evict_leftovers(root, c->name) == 0) {
            if (mkdirat(root->keel_fd, c->name, 0755) < 0) {
                r = kerr_set(err, errno, "cannot create cgroup %s/%s", root->ctr_path, c->name);
                goto out;
            }
        } else {
            reused = true;
            if ((r = cgroup_container_kill(root, c->name, err)) < 0)
                goto out;
        }
    }
    int fd = openat(root->keel_fd, c->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        r = kerr_set(err, errno, "cannot open cgroup %s/%s", root->ctr_path, c->name);
        goto out;
    }
    if (reused)
        reset_limits(root, fd);
    for (size_t i = 0; i < w.n; i++) {
        r = cg_write(root, fd, w.w[i].file, w.w[i].value);
        if (r < 0) {
            r = kerr_set(err, -r, "cannot write \"%s\" to %s/%s/%s", w.w[i].value, root->ctr_path, c->name,
                         w.w[i].file);
            close(fd);
            if (!reused)
                cgroup_container_remove(root, c->name, NULL);
            goto out;
        }
    }
    *dirfd = fd;
    r = reused;
out:
    cgroup_writes_free(&w);
    return r;
}

int cgroup_container_attach(struct cgroup_root *root, const char *name, pid_t pid, struct kerr *err)
{
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open cgroup %s/%s", root->ctr_path, name);
    char v[24];
    snprintf(v, sizeof v, "%d", (int)pid);
    int r = cg_write(root, fd, "cgroup.procs", v);
    if (r < 0)
        return kerr_set(err, -r, "cannot move process %d into cgroup %s/%s", (int)pid, root->ctr_path, name);
    return 0;
}

/* SIGKILLs every pid listed in cgroup.procs; returns how many were listed. */
static int kill_listed(int fd)
{
    _cleanup_free_ char *buf = NULL;
    if (cg_read(fd, "cgroup.procs", &buf) < 0)
        return 0;
    int n = 0;
    const char *p = buf;
    pid_t pid;
    while (cgroup_parse_next_pid(&p, &pid)) {
        kill(pid, SIGKILL);
        n++;
    }
    return n;
}

int cgroup_container_kill(struct cgroup_root *root, const char *name, struct kerr *err)
{
    if (!root || !root->available)
        return 0;
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open cgroup %s/%s", root->ctr_path, name);
    /* cgroup.kill (Linux 5.14) kills the whole subtree atomically: a process
     * forking in a loop cannot outrun it. */
    int r = cg_write(root, fd, "cgroup.kill", "1");
    if (r == 0)
        return 0;
    if (r != -ENOENT)
        return kerr_set(err, -r, "cannot kill cgroup %s/%s", root->ctr_path, name);

    /* Fallback: freeze the cgroup so nothing forks any more, SIGKILL what is
     * listed (fatal signals reach frozen tasks in cgroup v2), thaw.  Bounded:
     * at most a few rounds of up to 100 ms each, on old kernels only. */
    for (int round = 0; round < 5; round++) {
        bool froze = cg_write(root, fd, "cgroup.freeze", "1") == 0;
        for (int i = 0; froze && i < 100; i++) {
            struct cgroup_events ev = { 0 };
            _cleanup_free_ char *buf = NULL;
            if (cg_read(fd, "cgroup.events", &buf) < 0 || cgroup_parse_cgroup_events(buf, &ev) < 0 ||
                ev.frozen || !ev.populated)
                break;
            sleep_ms(1);
        }
        int n = kill_listed(fd);
        if (froze)
            cg_write(root, fd, "cgroup.freeze", "0");
        if (n == 0)
            return 0;
        sleep_ms(5);
    }
    _cleanup_free_ char *left = NULL;
    if (cg_read(fd, "cgroup.procs", &left) == 0 && left[0])
        return kerr_msg(err, EBUSY, "cannot kill every process of cgroup %s/%s: some keep appearing",
                        root->ctr_path, name);
    return 0;
}

int cgroup_container_remove(struct cgroup_root *root, const char *name, struct kerr *err)
{
    if (!root || !root->available)
        return 0;
    if (!valid_name(name))
        return kerr_msg(err, EINVAL, "cannot remove cgroup of container %s: invalid name", name ? name : "(null)");
    if (root->plain_dir) {
        /* Tests: the files cgroupfs would have shown are real files here. */
        int fd = openat(root->keel_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (fd >= 0 && !d)
            close(fd);
        for (struct dirent *de; d && (de = readdir(d));)
            if (de->d_type == DT_REG)
                unlinkat(dirfd(d), de->d_name, 0);
        if (d)
            closedir(d);
    }
    if (unlinkat(root->keel_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return kerr_set(err, errno, "cannot remove cgroup %s/%s", root->ctr_path, name);
    return 0;
}

int cgroup_container_events_fd(struct cgroup_root *root, const char *name, const char *file,
                               struct kerr *err)
{
    if (!root || !root->available)
        return kerr_msg(err, ENOENT, "cannot watch %s of container %s: no cgroups", file, name);
    if (!valid_name(name) || !valid_name(file))
        return kerr_msg(err, EINVAL, "cannot watch %s of container %s: invalid name", file, name);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", name, file);
    int fd = openat(root->keel_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open %s/%s", root->ctr_path, path);
    return fd;
}

int cgroup_container_events(struct cgroup_root *root, const char *name, struct cgroup_events *ev,
                            struct kerr *err)
{
    memset(ev, 0, sizeof *ev);
    if (!root || !root->available)
        return kerr_msg(err, ENOENT, "cannot read events of container %s: no cgroups", name);
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open cgroup %s/%s", root->ctr_path, name);
    _cleanup_free_ char *mem = NULL, *cg = NULL;
    int r = cg_read(fd, "memory.events", &mem);
    if (r == 0 && cgroup_parse_memory_events(mem, ev) < 0)
        return kerr_msg(err, EINVAL, "cannot parse %s/%s/memory.events", root->ctr_path, name);
    if (r < 0 && r != -ENOENT)
        return kerr_set(err, -r, "cannot read %s/%s/memory.events", root->ctr_path, name);
    r = cg_read(fd, "cgroup.events", &cg);
    if (r < 0)
        return kerr_set(err, -r, "cannot read %s/%s/cgroup.events", root->ctr_path, name);
    if (cgroup_parse_cgroup_events(cg, ev) < 0)
        return kerr_msg(err, EINVAL, "cannot parse %s/%s/cgroup.events", root->ctr_path, name);
    return 0;
}

/* The whole text of an events file from its start into buf (NUL-ended);
 * what does not fit is read and dropped, so that kernfs sees the file read
 * to its end and rearms its notification. */
static int read_events_fd(int fd, char *buf, size_t size)
{
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    size_t used = 0;
    for (int i = 0; i < 64; i++) {   /* bounded: the files are a few lines */
        char drop[256];
        char *to = used + 1 < size ? buf + used : drop;
        size_t room = used + 1 < size ? size - used - 1 : sizeof drop;
        ssize_t n = read(fd, to, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        if (to == buf + used)
            used += (size_t)n;
    }
    buf[used] = '\0';
    return 0;
}

int cgroup_events_read_fds(int cg_fd, int mem_fd, struct cgroup_events *ev, struct kerr *err)
{
    memset(ev, 0, sizeof *ev);
    char buf[1024];
    int r;
    if (mem_fd >= 0) {
        if ((r = read_events_fd(mem_fd, buf, sizeof buf)) < 0)
            return kerr_set(err, -r, "cannot read memory.events");
        if (cgroup_parse_memory_events(buf, ev) < 0)
            return kerr_msg(err, EINVAL, "cannot parse memory.events");
    }
    if ((r = read_events_fd(cg_fd, buf, sizeof buf)) < 0)
        return kerr_set(err, -r, "cannot read cgroup.events");
    if (cgroup_parse_cgroup_events(buf, ev) < 0)
        return kerr_msg(err, EINVAL, "cannot parse cgroup.events");
    return 0;
}

/* Reads `file` of fd into a parser; a missing file is not an error. */
static int stat_file(int fd, const char *file, char **buf)
{
    int r = cg_read(fd, file, buf);
    return r == -ENOENT || r == -EOPNOTSUPP ? 0 : r;
}

int cgroup_container_stats(struct cgroup_root *root, const char *name, struct cgroup_stats *st,
                           struct kerr *err)
{
    memset(st, 0, sizeof *st);
    if (!root || !root->available)
        return kerr_msg(err, ENOENT, "cannot read statistics of container %s: no cgroups", name);
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open cgroup %s/%s", root->ctr_path, name);

    static const char *const files[] = { "cpu.stat", "memory.current", "memory.peak", "pids.current",
                                         "io.stat", "cpu.pressure", "memory.pressure", "io.pressure",
                                         "memory.max", "pids.max", "memory.events" };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *buf = NULL;
        int r = stat_file(fd, files[i], &buf);
        if (r < 0)
            return kerr_set(err, -r, "cannot read %s/%s/%s", root->ctr_path, name, files[i]);
        if (!buf)
            continue;
        switch (i) {
        case 0: r = cgroup_parse_cpu_stat(buf, st); break;
        case 1: r = cgroup_parse_u64(buf, &st->memory_current); st->has_memory = r == 0; break;
        case 2: r = cgroup_parse_u64(buf, &st->memory_peak); st->has_memory_peak = r == 0; break;
        case 3: r = cgroup_parse_u64(buf, &st->pids_current); st->has_pids = r == 0; break;
        case 4: r = cgroup_parse_io_stat(buf, st); break;
        case 5: r = cgroup_parse_pressure(buf, &st->cpu_some, &st->cpu_full); st->has_psi = r == 0; break;
        case 6: r = cgroup_parse_pressure(buf, &st->memory_some, &st->memory_full); break;
        case 7: r = cgroup_parse_pressure(buf, &st->io_some, &st->io_full); break;
        case 8: r = cgroup_parse_u64(buf, &st->memory_max); st->has_memory_max = r == 0; break;
        case 9: r = cgroup_parse_u64(buf, &st->pids_max); st->has_pids_max = r == 0; break;
        case 10:
            r = cgroup_parse_memory_events(buf, &st->memory_events);
            st->has_memory_events = r == 0;
            break;
        }
        if (r < 0)
            return kerr_msg(err, EINVAL, "cannot parse %s/%s/%s", root->ctr_path, name, files[i]);
    }
    return 0;
}
