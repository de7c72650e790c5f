/* container.c — a container's process, see container.h. */
#include "keel/container.h"
#include "keel/caps.h"
#include "keel/cgroup.h"
#include "keel/rlimit.h"
#include "keel/seccomp.h"
#include "keel/mount.h"
#include "keel/setup.h"
#include "keel/stub.h"
#include "keel/sys.h"
#include "keel/user.h"
#include "keel/userns.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <limits.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SETUP_FD_MIN 300   /* above any `ready = fd:N` (N <= 255) */

/* The record a failed setup child writes before it exits. */
struct setup_report {
    int code;
    char msg[KERR_MSG_MAX];
};

char **container_environ(const struct container_spec *c, const char *home)
{
    char **env = calloc(1, sizeof *env);
    if (!env)
        return NULL;
    const char *hostname = c->hostname ? c->hostname : c->name;
    bool has_path = false, has_home = false;
    for (size_t i = 0; c->env && c->env[i]; i++) {
        has_path |= str_starts(c->env[i], "PATH=");
        has_home |= str_starts(c->env[i], "HOME=");
    }
    int r = 0;
    if (!has_path)
        r |= strv_push(&env, "PATH=" DEFAULT_PATH);
    r |= strv_push_take(&env, xasprintf("HOSTNAME=%s", hostname));
    if (!has_home)
        r |= strv_push_take(&env, xasprintf("HOME=%s", home ? home : "/"));
    if (c->ready == READY_NOTIFY)
        r |= strv_push(&env, "NOTIFY_SOCKET=" CONTAINER_NOTIFY_PATH);
    for (size_t i = 0; c->env && c->env[i]; i++)
        r |= strv_push(&env, c->env[i]);
    if (r) {
        strv_free(env);
        return NULL;
    }
    return env;
}

static int read_image_file(const char *path, char **out)
{
    /* The image's own file, read after pivot_root; absent is fine. */
    int r = read_file_at(AT_FDCWD, path, 1 << 20, out, NULL);
    if (r == -ENOENT) {
        *out = NULL;
        return 0;
    }
    return r;
}

static int resolve_user(const struct container_spec *c, struct user_ids *ids, struct kerr *err)
{
    _cleanup_free_ char *passwd = NULL, *group = NULL;
    int r = read_image_file("/etc/passwd", &passwd);
    if (r == 0)
        r = read_image_file("/etc/group", &group);
    if (r < 0)
        return kerr_set(err, -r, "cannot read the container's /etc/passwd or /etc/group");
    r = user_resolve(c->user, passwd, group, ids);
    if (r == -ENOENT)
        return kerr_msg(err, ENOENT, "user '%s' is not in the container's /etc/passwd", c->user);
    if (r < 0)
        return kerr_msg(err, EINVAL, "user '%s' is not valid", c->user);
    return 0;
}

/* chdir(DIR) with the effective set the command gets.  caps_apply left
 * CAPS_READ_OVERRIDE out of it for the stub's exec (stub.h): when DIR is
 * refused without them and CAPS holds one, they are raised for a second try
 * and dropped again (no extra call when the first try succeeds). */
static int chdir_as_command(const char *dir, uint64_t caps, struct kerr *err)
{
    if (chdir(dir) == 0)
        return 0;
    int e = errno;
    if (e == EACCES && (caps & CAPS_READ_OVERRIDE) && caps_effective(0, err) == 0) {
        e = chdir(dir) < 0 ? errno : 0;
        int r = caps_effective(CAPS_READ_OVERRIDE, err);
        if (r < 0)
            return r;   /* never exec the stub with them */
    }
    return e ? kerr_set(err, e, "cannot enter workdir %s", dir) : 0;
}

/* The working directory must be inside the new root: a cwd reached through a
 * leaked fd (/proc/self/fd/N) shows up as a path that does not start with '/'. */
static int enter_workdir(const char *workdir, uint64_t caps, struct kerr *err)
{
    const char *dir = workdir ? workdir : "/";
    if (str_starts(dir, "/proc/"))
        return kerr_msg(err, EPERM, "workdir %s is inside /proc", dir);
    int r = chdir_as_command(dir, caps, err);
    if (r < 0)
        return r;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/')
        return kerr_msg(err, EPERM, "workdir %s resolves outside the container root", dir);
    return 0;
}

/* Closes every fd from 3 up but those in KEEP (ascending, -1 entries
 * skipped): the report channel, a ready fd, the user namespace to join. */
static int close_fds_except(const int *keep, size_t n, struct kerr *err)
{
    unsigned from = 3;
    for (size_t i = 0; i < n; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < from)
            continue;
        if ((unsigned)keep[i] > from && sys_close_range(from, (unsigned)keep[i] - 1) < 0)
            return kerr_set(err, errno, "cannot close inherited fds");
        from = (unsigned)keep[i] + 1;
    }
    if (sys_close_range_from(from) < 0)
        return kerr_set(err, errno, "cannot close inherited fds");
    return 0;
}

/* The host ids of the container's user (through its user namespace, if any). */
static int host_ids(const struct userns *uns, const struct user_ids *ids, uid_t *uid, gid_t *gid,
                    struct kerr *err)
{
    *uid = ids->uid;
    *gid = ids->gid;
    if (!uns)
        return 0;
    uint32_t u, g;
    if (userns_to_host(uns->map, uns->n, ids->uid, &u) < 0)
        return kerr_msg(err, ERANGE, "uid %u is not mapped by the container's userns", (unsigned)ids->uid);
    if (userns_to_host(uns->map, uns->n, ids->gid, &g) < 0)
        return kerr_msg(err, ERANGE, "gid %u is not mapped by the container's userns", (unsigned)ids->gid);
    for (size_t i = 0; i < ids->n_groups; i++) {
        uint32_t unused;
        if (userns_to_host(uns->map, uns->n, ids->groups[i], &unused) < 0)
            return kerr_msg(err, ERANGE, "supplementary group %u is not mapped by the container's userns",
                            (unsigned)ids->groups[i]);
    }
    *uid = u;
    *gid = g;
    return 0;
}

/* The output pipe is keel's, mode 0600: the container's user gets it, so an
 * image can reopen /dev/stdout (as runc does; a socket or /dev/null is left). */
static int give_output(int fd, uid_t uid, gid_t gid, struct kerr *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kerr_set(err, errno, "cannot inspect the output pipe");
    if (S_ISFIFO(st.st_mode) && fchown(fd, uid, gid) < 0)
        return kerr_set(err, errno, "cannot give the output pipe to the container's user");
    return 0;
}

/* --- keel's own binary out of the containers' reach ------------------------ */

/* Whether fs.suid_dumpable is 1 (unreadable: assume the worst).  A reading
 * less than SUID_DUMPABLE_REUSE_NS old is reused: keel run reads it for its
 * containers before deciding to seal itself (daemon.c) and needed it again
 * at its first start, ~1 ms later (4 system calls each).  Any reading may be
 * stale the moment after it is taken; a start a second later reads again,
 * so a change made while keel runs reaches the starts after it as before. */
#define SUID_DUMPABLE_REUSE_NS 1000000000ull

static bool suid_dumpable(void)
{
    static uint64_t read_at;   /* 0: never read */
    static bool last;
    uint64_t now = now_ns();
    if (read_at && now - read_at < SUID_DUMPABLE_REUSE_NS)
        return last;
    char *v = NULL;
    last = true;
    if (read_file_at(AT_FDCWD, "/proc/sys/fs/suid_dumpable", 64, &v, NULL) >= 0 && v)
        last = v[0] == '1';
    free(v);
    read_at = now ? now : 1;
    return last;
}

bool container_needs_sealed_keel(const struct container_spec *c)
{
    /* CAP_SYS_PTRACE in the initial user namespace passes the non-dumpable
     * check: the container could open /proc/PID/exe of an exec helper that
     * has joined its PID namespace and not yet run the stub. */
    if (c->userns == USERNS_NO && (c->caps & (UINT64_C(1) << CAP_SYS_PTRACE)))
        return true;
    /* fs.suid_dumpable = 1 makes the helper dumpable again, for a moment,
     * at each credential change (commit_creds), before it sets itself
     * non-dumpable again: any container could catch it then. */
    return suid_dumpable();
}

int container_exe_check(const struct container_spec *c, struct kerr *err)
{
    if (sys_exe_protected() > 0 || !container_needs_sealed_keel(c))
        return 0;
    return kerr_msg(err, EPERM, "cannot start a process in %s: keel's binary on disk would be within its reach "
                    "(CAP_SYS_PTRACE without a user namespace, or fs.suid_dumpable = 1) and this keel does not run "
                    "from a sealed copy of itself: restart keel run", c->name);
}

/* --- the executor of setup lists (setup.h) -------------------------------- */

/* The fd number that carries an exec's user namespace past the close of
 * everything else; it is joined last (see setup.h). */
#define EXEC_USERNS_FD 3

/* Everything the ops of one list work on.  Lives in the forked child only. */
struct setup_ctx {
    const struct container_spec *c;
    char *const *argv;
    int report_fd;        /* the write end of the report channel (CLOEXEC until SETUP_CLOSE_FDS) */
    int stub_fd;          /* the exec stub (stub.h), CLOEXEC */
    char **stub_argv;     /* its argv: the report fd, then the command's */
    int fail_status;      /* the exit status of a failed op: 127 for a start, 126 for an exec */
    int userns_fd;        /* the user namespace to join last, or -1 */
    bool own_userns;      /* the container has a user namespace (userns_fd is -1 once joined) */
    int release_fd;       /* a standby's release pipe (kept by SETUP_CLOSE_FDS, handed to the stub), or -1 */
    /* container start */
    const struct container_start *in;
    int handover_fd;      /* the child's end of the hand-over channel, until SETUP_HANDOVER */
    int netns_fd;         /* handed over: the network namespace to join, or -1 */
    int hosts_tree;       /* keel's live /etc/hosts (mount_file_tree), at the clone or handed over, or -1 */
    char *hosts;          /* handed over: the generated /etc/hosts (NULL: a minimal one) */
    const char *hostname;
    char default_hosts[256];
    int rootfd, devfd;    /* the container's root (the new "/" after SETUP_PIVOT) and /dev, until SETUP_CLOSE_FDS */
    char **layers;        /* the lower directories as /proc/self/fd/N (pin_layers), fds until SETUP_CLOSE_FDS */
    struct mount_masks masks;   /* the first masks made, until SETUP_CLOSE_FDS */
    /* exec */
    const struct container_ns *ns;
    int cgroup_fd;
    /* both */
    const struct setup_list *list;
    const struct seccomp_prog *seccomp;
    struct user_ids ids;
    char **env;
    uint64_t bounding;    /* this process's bounding set: keel's (caps_bounding), all after joining a user namespace */
    uint64_t signals;     /* keel's signals not at their default (sys_signals_not_default) */
};

/* The one error path of every list: the record to keel (EOF on the channel
 * at the execve means success).  Then the child exits. */
static __attribute__((noreturn)) void setup_fail(const struct setup_ctx *x, int status, const struct kerr *err)
{
    struct setup_report rep = { .code = err->code ? err->code : EINVAL };
    snprintf(rep.msg, sizeof rep.msg, "%s", err->msg[0] ? err->msg : "cannot prepare the process");
    (void)!write(x->report_fd, &rep, sizeof rep);
    _exit(status);
}

static int op_join_ns(struct setup_ctx *x, int cns, struct kerr *err)
{
    const char *name = cns == CNS_NET ? "network" : cns == CNS_MNT ? "mount" : setup_ns_name(cns);
    int fd = cns == CNS_USER ? x->userns_fd : x->ns ? x->ns->fd[cns] : cns == CNS_NET ? x->netns_fd : -1;
    int r = setns(fd, setup_ns_type(cns));
    int e = errno;
    if (cns == CNS_USER) {
        close(fd);   /* nothing of keel's goes on to the command */
        x->userns_fd = -1;
        /* The kernel gave this process a full bounding set there. */
        if (r == 0)
            x->bounding = ~UINT64_C(0);
    }
    return r < 0 ? kerr_set(err, e, "cannot join the %s namespace of %s", name, x->c->name) : 0;
}

static int op_etc_file(struct setup_ctx *x, int which, struct kerr *err)
{
    const struct container_start *in = x->in;
    bool writable = x->c->upper != NULL;
    if (which == SETUP_FILE_HOSTNAME) {
        char line[80];
        snprintf(line, sizeof line, "%s\n", x->hostname);
        return mount_generated(x->rootfd, in->stage, "hostname", line, "/etc/hostname", writable, err);
    }
    if (which == SETUP_FILE_HOSTS && x->hosts_tree >= 0)
        return mount_generated_tree(x->rootfd, x->hosts_tree, "/etc/hosts", writable, err);
    if (which == SETUP_FILE_HOSTS)
        return mount_generated(x->rootfd, in->stage, "hosts", x->hosts ? x->hosts : x->default_hosts,
                               "/etc/hosts", writable, err);
    if (in->resolv_tree >= 0)
        return mount_generated_tree(x->rootfd, in->resolv_tree, "/etc/resolv.conf", writable, err);
    if (!in->resolv)
        return kerr_msg(err, EINVAL, "no /etc/resolv.conf was generated for %s", x->c->name);
    return mount_generated(x->rootfd, in->stage, "resolv.conf", in->resolv, "/etc/resolv.conf", writable, err);
}

/* The lower directories, each opened once (O_PATH, close-on-exec) with no
 * symlink anywhere on its path, and named to overlayfs and open_tree as
 * /proc/self/fd/N from then on: the kernel resolves lowerdir= paths itself,
 * and a layer may live on a volume another container writes (layers =
 * /var/lib/keel/volumes/data/layers/web beside mount = volume:data:/all),
 * where a symlink planted between two starts (web -> /) made the host's
 * root the container's image. */
static int pin_layers(struct setup_ctx *x, struct kerr *err)
{
    if (x->layers)
        return 0;
    char *const *layers = x->in->layers ? x->in->layers : x->c->layers;
    size_t n = strv_len(layers), own = strv_len(x->c->layers);
    char **out = calloc(n + 1, sizeof *out);
    if (!out)
        return kerr_set(err, ENOMEM, "cannot open the layers of %s", x->c->name);
    x->layers = out;   /* the fds are closed with the others at SETUP_CLOSE_FDS, or by the exit */
    for (size_t i = 0; i < n; i++) {
        /* An image-file layer is a directory keel mounted it on, in its run
         * directory (layerimg.h), named as it is: only the manifest's own
         * directories are resolved here (LAYERS is made from the spec's,
         * one for one: layerimg_acquire). */
        if (layers != x->c->layers && (i >= own || strcmp(layers[i], x->c->layers[i]) != 0)) {
            if (!(out[i] = strdup(layers[i])))
                return kerr_set(err, ENOMEM, "cannot open the layers of %s", x->c->name);
            continue;
        }
        int fd = sys_openat2(AT_FDCWD, layers[i], O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                             RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd < 0)
            return kerr_set(err, errno, "cannot open layer %s of %s (a directory, no symlink on its path: a "
                            "symlink is refused, name the real path)", layers[i], x->c->name);
        if (!(out[i] = xasprintf("/proc/self/fd/%d", fd)))
            return kerr_set(err, ENOMEM, "cannot open the layers of %s", x->c->name);
    }
    return 0;
}

static struct mount_inputs overlay_inputs(const struct setup_ctx *x)
{
    const struct userns *uns = x->in->userns;
    struct mount_inputs mi = { .stage = x->in->stage, .layers = x->layers,
                               .layer_names = x->in->layers ? x->in->layers : x->c->layers,
                               .userns_fd = uns ? uns->fd : -1 };
    if (uns) {
        uint32_t root_uid = 0, root_gid = 0;   /* the parser made sure id 0 is mapped */
        (void)userns_to_host(uns->map, uns->n, 0, &root_uid);
        (void)userns_to_host(uns->map, uns->n, 0, &root_gid);
        mi.root_uid = root_uid;
        mi.root_gid = root_gid;
    }
    return mi;
}

static int op_overlay(struct setup_ctx *x, struct kerr *err)
{
    int r = pin_layers(x, err);
    if (r < 0)
        return r;
    struct mount_inputs mi = overlay_inputs(x);
    r = mount_overlay(x->c, &mi, err);
    if (r < 0)
        return r;
    return (x->rootfd = mount_open_root(x->in->stage, err)) < 0 ? x->rootfd : 0;
}

/* A secret's owner is given in the container's ids: with a user namespace,
 * they must be mapped (the host ids are what the copy is chowned to). */
static int op_secret(struct setup_ctx *x, size_t i, struct kerr *err)
{
    const struct secret_spec *s = &x->c->secrets[i];
    uint32_t uid = s->uid, gid = s->gid;
    const struct userns *uns = x->in->userns;
    if (uns && (userns_to_host(uns->map, uns->n, s->uid, &uid) < 0 ||
                userns_to_host(uns->map, uns->n, s->gid, &gid) < 0))
        return kerr_msg(err, EINVAL, "cannot give secret %s to %u:%u: not mapped in the user namespace of %s",
                        s->target, s->uid, s->gid, x->c->name);
    return mount_secret(x->rootfd, x->in->stage, x->c->n_secrets, i, s, uid, gid, err);
}

/* The report fd, and a standby's release pipe, are left open across the
 * stub's execveat from here on: the stub marks them close-on-exec itself
 * before it runs the command (they must survive one exec and end at the
 * next).  Nothing is exec'd in between. */
static int close_fds_keep_stub(struct setup_ctx *x, int first, struct kerr *err)
{
    /* A standby's release pipe stays too.  Sorted: close_fds_except wants
     * them ascending. */
    int keep[4] = { first, x->release_fd, x->report_fd, x->stub_fd };
    for (size_t i = 1; i < 4; i++)
        for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    int r = close_fds_except(keep, 4, err);
    if (r < 0)
        return r;
    if (fcntl(x->report_fd, F_SETFD, 0) < 0 || (x->release_fd >= 0 && fcntl(x->release_fd, F_SETFD, 0) < 0))
        return kerr_set(err, errno, "cannot hand the report channel to the exec stub");
    return 0;
}

static int op_close_fds(struct setup_ctx *x, struct kerr *err)
{
    const struct container_spec *c = x->c;
    if (x->in) {
        /* A ready fd N stays (dup2 cleared its CLOEXEC); N < SETUP_FD_MIN <= the report fd. */
        bool ready = setup_find(x->list, SETUP_READY_FD, -1, 0) >= 0;
        return close_fds_keep_stub(x, ready ? c->ready_fd : -1, err);
    }
    /* exec: the user namespace moves to EXEC_USERNS_FD, under the report fd. */
    if (x->userns_fd >= 0) {
        if (dup2(x->userns_fd, EXEC_USERNS_FD) < 0)
            return kerr_set(err, errno, "cannot keep the user namespace of %s", c->name);
        x->userns_fd = EXEC_USERNS_FD;
    }
    return close_fds_keep_stub(x, x->userns_fd, err);
}

/* setns(CLONE_NEWPID) applies to children: the helper forks the process that
 * runs on inside, waits for it and exits with its status (128+N for a
 * signal).  The inner process sets its own parent-death signal again further
 * down the list (a fork does not inherit it), so killing the helper (a
 * health check's timeout) takes it along. */
static int op_enter_pid(struct setup_ctx *x, struct kerr *err)
{
    pid_t inner = fork();
    if (inner < 0)
        return kerr_set(err, errno, "cannot fork into the PID namespace of %s", x->c->name);
    if (inner == 0)
        return 0;
    /* The helper only waits now, for as long as the command runs: every fd
     * it still has goes (the report pipe: EOF for keel at the inner
     * process's execve; the stub's memfd, which only the inner process
     * executes).  keel's own fds were closed before the namespaces were
     * joined. */
    (void)sys_close_range_from(0);   /* it only fails where /proc/self/fd cannot be read either */
    int status;
    while (waitpid(inner, &status, 0) < 0)
        if (errno != EINTR)
            _exit(126);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* The hand-over record (container_hand_over): flags, then the hosts text
 * (NUL-terminated) with HANDOVER_HOSTS_TEXT; the fds in SCM_RIGHTS, in the
 * order of the flags. */
enum { HANDOVER_NETNS = 1, HANDOVER_HOSTS_TREE = 2, HANDOVER_HOSTS_TEXT = 4 };
#define HANDOVER_TEXT_MAX (1u << 20)

/* SETUP_HANDOVER: blocks until keel has pinned the namespaces and sends what
 * it made after the clone.  EOF: keel gave the start up (container_abort),
 * or is gone: nobody to report to. */
static int op_handover(struct setup_ctx *x, struct kerr *err)
{
    ssize_t len;
    char first;   /* MSG_TRUNC: the record's whole length, whatever fits here */
    do
        len = recv(x->handover_fd, &first, sizeof first, MSG_PEEK | MSG_TRUNC);
    while (len < 0 && errno == EINTR);
    if (len == 0)
        _exit(x->fail_status);
    if (len < (ssize_t)sizeof(uint32_t) || len > (ssize_t)(sizeof(uint32_t) + HANDOVER_TEXT_MAX))
        return kerr_set(err, len < 0 ? errno : EPROTO, "cannot take keel's hand-over for %s", x->c->name);
    char *buf = malloc((size_t)len + 1);
    if (!buf)
        return kerr_set(err, ENOMEM, "cannot take keel's hand-over for %s", x->c->name);
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    struct iovec iov = { .iov_base = buf, .iov_len = (size_t)len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.space, .msg_controllen = sizeof cm.space };
    ssize_t n;
    do
        n = recvmsg(x->handover_fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    close(x->handover_fd);
    x->handover_fd = -1;
    uint32_t flags = 0;
    if (n == len)
        memcpy(&flags, buf, sizeof flags);
    int fds[2] = { -1, -1 };
    size_t n_fds = 0;
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    if (n == len && h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
        n_fds = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    if (n_fds > 2)
        n_fds = 2;
    if (n_fds)
        memcpy(fds, CMSG_DATA(h), n_fds * sizeof(int));
    size_t want = (flags & HANDOVER_NETNS ? 1u : 0u) + (flags & HANDOVER_HOSTS_TREE ? 1u : 0u);
    if (n != len || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n_fds != want) {
        free(buf);
        return kerr_msg(err, EPROTO, "cannot take keel's hand-over for %s: a malformed record", x->c->name);
    }
    size_t k = 0;
    if (flags & HANDOVER_NETNS)
        x->netns_fd = fds[k++];
    if (flags & HANDOVER_HOSTS_TREE)
        x->hosts_tree = fds[k++];
    if (flags & HANDOVER_HOSTS_TEXT) {
        buf[len] = '\0';
        x->hosts = buf;   /* the child's, until its execve */
        memmove(buf, buf + sizeof flags, (size_t)len - sizeof flags + 1);
    } else {
        free(buf);
    }
    return 0;
}

/* The probe overlay goes with the old root at SETUP_PIVOT: its superblock's
 * teardown (~30 us) runs in the task that drops the last reference to it,
 * the child on its way to the exec unless keel holds one.  So an fd of it goes
 * to keel's end of the hand-over channel, which keel keeps (unread) until the
 * setup's end (container_hold_close).  Not a standby's (it waits for long:
 * the overlay would stay with it, and its teardown costs nobody a start).
 * Best effort: the child's copy is closed by the caller at once, never seen
 * by the container; a refused send (keel gone) only leaves the cost here. */
static void give_probe(struct setup_ctx *x, int probe)
{
    if (probe < 0 || x->handover_fd < 0 || setup_find(x->list, SETUP_STANDBY_WAIT, -1, 0) >= 0)
        return;
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    char byte = 'p';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.space, .msg_controllen = sizeof cm.space };
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &probe, sizeof probe);
    (void)!sendmsg(x->handover_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* SETUP_CAPS where keel's user namespace denies setgroups(2) (`unshare
 * --map-root-user` writes "deny" so that it may map its gid unprivileged;
 * the container's own user namespace, a child of keel's, inherits it).  The
 * process then keeps the supplementary groups of the namespace's creator
 * (the overflow gid inside, for those it does not map): they grant nothing
 * that creator, and so keel, did not have, and since none is dropped, no
 * file whose group bits deny what its other bits allow opens.
 *
 * A supplementary group of the user's in the container's /etc/group that
 * keel's namespace maps cannot be given: the start is refused (runc and
 * crun, rootless, skip setgroups only when no group is asked for), rather
 * than run the user with less than the image asks.  One that keel's
 * namespace does not map (without a user namespace of the container's) is
 * left out: setgroups(2) refuses an unmapped gid even where it is allowed,
 * no file in sight carries it (its gid shows as the overflow gid), and
 * under `unshare --map-root-user`, which maps one gid, that is every group
 * but the primary one (Alpine's root is in bin, daemon, sys, adm, wheel...). */
static int groups_denied_apply(const struct container_spec *c, const struct setup_ctx *x, struct kerr *err)
{
    const struct user_ids *ids = &x->ids;
    char list[128] = "";
    size_t used = 0;
    for (size_t i = 0; i < ids->n_groups && used < sizeof list; i++)
        /* With its own namespace, the start's host_ids found every group mapped there. */
        if (x->own_userns || userns_keel_gid_mapped(ids->groups[i]))
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%u", used ? "," : "",
                                     (unsigned)ids->groups[i]);
    if (used == 0)
        return caps_apply(c->caps, c->caps_ambient, x->bounding, ids->uid, ids->gid, NULL, 0, err);
    return kerr_msg(err, EPERM, "keel runs in a user namespace with setgroups denied (unshare --map-root-user): "
                    "cannot give %s its supplementary groups %s from the container's /etc/group; map keel's "
                    "ids with newuidmap/newgidmap or as root instead, or take the user out of those groups",
                    ids->name[0] ? ids->name : c->user ? c->user : "root", list);
}

static int run_op(struct setup_ctx *x, const struct setup_op *op, struct kerr *err)
{
    const struct container_spec *c = x->c;
    const struct container_start *in = x->in;
    int r;
    switch (op->type) {
    case SETUP_PDEATHSIG:
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
            return kerr_set(err, errno, "cannot set the parent-death signal");
        return 0;
    case SETUP_NOT_DUMPABLE:
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
            return kerr_set(err, errno, "cannot make the process non-dumpable");
        return 0;
    case SETUP_SESSION:
        if (setsid() < 0)
            return kerr_set(err, errno, "cannot start a session for %s", c->name);
        return 0;
    case SETUP_OOM_SCORE:
        return cgroup_set_oom_score_adj(0, c->oom_score_adj_set ? c->oom_score_adj : 0, err);
    case SETUP_JOIN_CGROUP:
        if (write_file_at(x->cgroup_fd, "cgroup.procs", "0") < 0)
            return kerr_set(err, errno, "cannot join the cgroup of %s", c->name);
        return 0;
    case SETUP_JOIN_NS:
        return op_join_ns(x, op->arg, err);
    case SETUP_HOSTNAME:
        if (sethostname(x->hostname, strlen(x->hostname)) < 0)
            return kerr_set(err, errno, "cannot set host name %s", x->hostname);
        return 0;
    case SETUP_HANDOVER:
        return op_handover(x, err);
    case SETUP_STAGE:
        return mount_stage(in->stage, err);
    case SETUP_INIT_LAYER: {
        /* The volume directories first: a bind's source must exist for the
         * init layer to make its mount point of the right kind. */
        if ((r = pin_layers(x, err)) < 0)
            return r;
        struct mount_inputs mi = overlay_inputs(x);
        int probe = -1;
        r = mount_volume_paths(c, mi.root_uid, mi.root_gid, err);
        if (r == 0 && (r = mount_init_layer(c, &mi, x->list->init, x->list->n_init, &probe, err)) == 0)
            give_probe(x, probe);
        close_safe(probe);
        return r;
    }
    case SETUP_OVERLAY:
        return op_overlay(x, err);
    case SETUP_MOUNT_PROC:
        return mount_proc(x->rootfd, c->upper != NULL, err);
    case SETUP_MOUNT_SYS:
        return mount_sys(x->rootfd, c->upper != NULL, true, err);
    case SETUP_MOUNT_DEV:
        return (x->devfd = mount_dev(x->rootfd, op->arg != 0, err)) < 0 ? x->devfd : 0;
    case SETUP_DEV_NODE:
        return mount_dev_node(x->devfd, &c->devices[op->arg], err);
    case SETUP_DEV_FS:
        return mount_dev_finish(x->devfd, err);
    case SETUP_NOTIFY_SOCKET:
        return mount_notify_socket(x->devfd, in->notify_host, err);
    case SETUP_MASK:
        return mount_masks(x->rootfd, op->arg == SETUP_MASK_PROC ? "/proc/" : "/sys/", &x->masks, err);
    case SETUP_READONLY:
        return mount_readonly(x->rootfd, err);
    case SETUP_BIND:
        return mount_bind(x->rootfd, &c->mounts[op->arg], err);
    case SETUP_SECRET:
        return op_secret(x, (size_t)op->arg, err);
    case SETUP_ETC_FILE:
        return op_etc_file(x, op->arg, err);
    case SETUP_PIVOT:
        /* rootfd names the new root after the pivot too (the overlay's root
         * dentry on its mount, which becomes "/"): sysfs and the masks below
         * it may follow.  It and the first masks go at SETUP_CLOSE_FDS. */
        return mount_pivot(x->rootfd, in->userns != NULL, err);
    case SETUP_CLOSE_FDS:
        return op_close_fds(x, err);
    case SETUP_ENTER_PID:
        return op_enter_pid(x, err);
    case SETUP_CHDIR_ROOT:
        if (chdir("/") < 0)
            return kerr_set(err, errno, "cannot enter the root of %s", c->name);
        return 0;
    case SETUP_USER:
        return resolve_user(c, &x->ids, err);
    case SETUP_RLIMITS:
        return rlimit_apply(c->rlimits, c->n_rlimits, err);
    case SETUP_GIVE_OUTPUT: {
        uid_t host_uid;
        gid_t host_gid;
        if ((r = host_ids(in->userns, &x->ids, &host_uid, &host_gid, err)) < 0)
            return r;
        return give_output(in->output_fd, host_uid, host_gid, err);
    }
    case SETUP_ENV:
        if (!(x->env = container_environ(c, x->ids.home)))
            return kerr_set(err, ENOMEM, "cannot build the environment");
        return 0;
    case SETUP_SECCOMP:
        return seccomp_install(x->seccomp, err);
    case SETUP_BOUNDING:
        /* What is dropped here, SETUP_CAPS finds gone. */
        if ((r = caps_drop_bounding(c->caps, x->bounding, err)) == 0)
            x->bounding &= c->caps;
        return r;
    case SETUP_CAPS:
        if (op->arg == SETUP_GROUPS_DENIED)
            return groups_denied_apply(c, x, err);
        return caps_apply(c->caps, c->caps_ambient, x->bounding, x->ids.uid, x->ids.gid, x->ids.groups,
                          x->ids.n_groups, err);
    case SETUP_KEEL_ALIVE: {
        struct pollfd keel_alive = { .fd = x->report_fd };
        if (poll(&keel_alive, 1, 0) == 1 && (keel_alive.revents & POLLERR))
            _exit(x->fail_status);   /* nobody left to report to */
        return 0;
    }
    case SETUP_WORKDIR:
        return enter_workdir(c->workdir, c->caps, err);
    case SETUP_NO_NEW_PRIVS:
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            return kerr_set(err, errno, "cannot set no_new_privs");
        return 0;
    case SETUP_STDIO:
        if (dup2(in->devnull_fd, 0) < 0 || dup2(in->output_fd, 1) < 0 || dup2(in->output_fd, 2) < 0)
            return kerr_set(err, errno, "cannot set up stdin, stdout and stderr");
        return 0;
    case SETUP_READY_FD:
        if (dup2(in->ready_fd, c->ready_fd) < 0)
            return kerr_set(err, errno, "cannot place the readiness fd at %d", c->ready_fd);
        return 0;
    case SETUP_CTTY:
        if (ioctl(0, TIOCSCTTY, 0) < 0)
            return kerr_set(err, errno, "cannot make the terminal the controlling one");
        return 0;
    case SETUP_SIGNALS:
        sys_reset_signals(x->signals);
        return 0;
    case SETUP_STANDBY_WAIT:
        /* A standby waits for the release with everything done but the
         * command's exec, its signals at their defaults and its filter in
         * (setup_plan_start): in the exec stub, which reads the release pipe
         * (its argv[0] names it, stub.h), then execs the command.  Its exec
         * before the release takes keel's memory down off the release's path
         * (most of an exec from a copy of keel) and leaves no copy of keel
         * waiting. */
        return 0;
    case SETUP_EXEC:
        /* Through the stub: the process that execs the command (and the
         * interpreter of a `#!/proc/self/exe` script) has the sealed stub as
         * its exe, never keel's binary (stub.h, docs/security.md). */
        r = stub_exec(x->stub_fd, x->stub_argv, x->env);
        kerr_set(err, -r, "cannot execute %s through keel's exec stub", x->argv[0]);
        setup_fail(x, 127, err);
    }
    return kerr_msg(err, EINVAL, "unknown setup operation %d", (int)op->type);
}

/* Runs LIST in order; never returns (the last op is the execve). */
static __attribute__((noreturn)) void setup_run(struct setup_ctx *x, const struct setup_list *list)
{
    struct kerr err = { 0 };
    x->list = list;
    for (size_t i = 0; i < list->n; i++)
        if (run_op(x, &list->op[i], &err) < 0)
            setup_fail(x, x->fail_status, &err);
    kerr_msg(&err, EINVAL, "the setup of %s ends without an execve", x->c->name);
    setup_fail(x, x->fail_status, &err);
}

/* keel's bounding set (caps_bounding) and its signals not at the default
 * (sys_signals_not_default), from one read of /proc/self/status, then from
 * this process's copy: a setup child cloned after keel's read takes keel's.
 *
 * The copy is right because neither changes once keel runs containers: the
 * dispositions are what keel's parent left ignored and what keel sets before
 * its first start (PID 1's crash handler, the daemon's signalfd and SIGPIPE
 * ignored), and keel drops nothing from its own bounding set (its setup
 * children do, in their copy).  A change that alters either later in keel must
 * set status.known = false there, or the containers started after it keep a
 * signal ignored across their exec (SETUP_SIGNALS resets only these). */
static void own_status(uint64_t *bounding, uint64_t *signals)
{
    static struct { bool known; uint64_t bounding, signals; } status;
    if (!status.known) {
        char buf[4096] = "";   /* zeroed: the analyzer cannot see that read() and the NUL define it */
        bool have = sys_read_status(buf, sizeof buf) == 0;
        status.bounding = caps_bounding_from(have ? buf : NULL);
        if (!have || sys_parse_signal_status(buf, &status.signals) < 0)
            status.signals = ~UINT64_C(0);   /* all reset: right whatever keel's are */
        status.known = have;
    }
    *bounding = status.bounding;
    *signals = status.signals;
}

static __attribute__((noreturn)) void setup_child(const struct container_start *in, const struct setup_list *list,
                                                  int report_fd, int handover_fd, int release_fd, int stub,
                                                  char **stub_argv)
{
    const struct container_spec *c = in->spec;
    /* keel's status (clone copied the bounding set and the dispositions):
     * at keel's first start, read here, not in keel before the clone (the
     * child is early, waiting for keel's network namespace after its first
     * mounts, and keel is not); at later ones, keel's copy (container_start). */
    uint64_t bounding, signals;
    own_status(&bounding, &signals);
    struct setup_ctx x = {
        .c = c, .argv = c->argv, .report_fd = report_fd, .stub_fd = stub, .stub_argv = stub_argv, .fail_status = 127,
        .userns_fd = in->userns ? in->userns->fd : -1, .own_userns = in->userns != NULL, .release_fd = release_fd,
        .in = in,
        .handover_fd = handover_fd, .netns_fd = -1, .hosts_tree = in->hosts_tree, .seccomp = in->seccomp,
        .hostname = c->hostname ? c->hostname : c->name, .rootfd = -1, .devfd = -1, .masks = MOUNT_MASKS_NONE,
        .cgroup_fd = -1,
        .bounding = bounding, .signals = signals,
    };
    snprintf(x.default_hosts, sizeof x.default_hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t%s\n",
             x.hostname);
    setup_run(&x, list);
}

void container_ns_init(struct container_ns *ns)
{
    for (int i = 0; i < CNS_N; i++)
        ns->fd[i] = -1;
}

void container_ns_close(struct container_ns *ns)
{
    for (int i = 0; i < CNS_N; i++) {
        close_safe(ns->fd[i]);
        ns->fd[i] = -1;
    }
}


/* Pins the namespaces of the child just cloned.  Run before the child can
 * reach any code of the image (it waits for the hand-over first), so they
 * are the ones keel made: clone() put the child in its new PID, mount, UTS,
 * IPC and cgroup namespaces (and a new network one); the only namespaces the
 * setup child joins later are the network namespace keel hands it (pinned by
 * container_hand_over from keel's fd, not from /proc) and the user namespace,
 * whose fd keel holds already. */
static int pin_namespaces(const struct container_start *in, pid_t pid, int pidfd, struct container_ns *ns,
                          struct kerr *err)
{
    /* Through the pidfd where the kernel can (6.11): half the cost of the
     * /proc lookups (~25 of 50 us for the five); the same namespaces. */
    static bool no_ioctl;
    container_ns_init(ns);
    for (int idx = 0; idx < CNS_USER; idx++) {
        if (idx == CNS_NET && in->join_netns)
            continue;
        ns->fd[idx] = -1;
        if (pidfd >= 0 && !no_ioctl) {
            ns->fd[idx] = sys_pidfd_ns(pidfd, setup_ns_type(idx));
            if (ns->fd[idx] < 0 && errno == ENOTTY)
                no_ioctl = true;
        }
        if (ns->fd[idx] < 0) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, setup_ns_name(idx));
            ns->fd[idx] = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (ns->fd[idx] >= 0 && ns->fd[idx] < 3) {
            /* Above stdio, which an exec's child dups over 0..2. */
            int high = fcntl(ns->fd[idx], F_DUPFD_CLOEXEC, 3);
            close(ns->fd[idx]);
            ns->fd[idx] = high;
        }
        if (ns->fd[idx] < 0) {
            int e = errno;
            container_ns_close(ns);
            return kerr_set(err, e, "cannot pin the %s namespace of %s", setup_ns_name(idx), in->spec->name);
        }
    }
    if (in->userns && (ns->fd[CNS_USER] = fcntl(in->userns->fd, F_DUPFD_CLOEXEC, 3)) < 0) {
        int e = errno;
        container_ns_close(ns);
        return kerr_set(err, e, "cannot pin the user namespace of %s", in->spec->name);
    }
    return 0;
}

/* Whether the setup child has written its report or closed the channel: it
 * cannot have exec'd before keel's hand-over, so either means it failed. */
static bool child_has_reported(int setup_fd)
{
    struct pollfd p = { .fd = setup_fd, .events = POLLIN };
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

int container_start(const struct container_start *in, struct container_proc *out, struct kerr *err)
{
    const struct container_spec *c = in->spec;
    out->pid = 0;   /* stays 0 unless a child was made (see container.h) */
    out->hold_fd = -1;
    struct setup_facts facts = {
        .join_netns = in->join_netns,
        .userns = in->userns != NULL,
        .seccomp = in->seccomp != NULL,
        .ready_fd = in->ready_fd >= 0 && c->ready == READY_FD,
        .notify = in->notify_host != NULL,
        .resolv = in->resolv != NULL || in->resolv_tree >= 0,
        .standby = in->standby,
        .hosts_late = in->hosts_tree < 0 && in->hosts_late,
        .keel_userns = userns_keel_nested(),
        .groups_denied = userns_keel_setgroups_denied(),
    };
    int r = container_exe_check(c, err);
    if (r < 0)
        return r;
    /* From keel's second start on, keel's status is read once here and its
     * copy goes to every later child (own_status); the first start's child
     * reads it beside keel's work, so keel run's one start pays nothing. */
    static bool started;
    uint64_t bounding, signals;
    if (started)
        own_status(&bounding, &signals);
    started = true;
    /* Ours until the clone; the child's copy goes at its execveat. */
    _cleanup_close_ int stub = stub_create(err);
    if (stub < 0)
        return kerr_prefix(err, "cannot start %s", c->name);
    /* Built here, in keel: the child runs its copy. */
    __attribute__((cleanup(setup_list_free))) struct setup_list list = { 0 };
    if (setup_plan_start(c, &facts, &list) < 0)
        return kerr_set(err, ENOMEM, "cannot plan the setup of %s", c->name);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return kerr_set(err, errno, "cannot create the setup pipe for %s", in->spec->name);
    /* Keep the report end above any fd number the container may ask for. */
    int report = fcntl(pipefd[1], F_DUPFD_CLOEXEC, SETUP_FD_MIN);
    close(pipefd[1]);
    if (report < 0) {
        close(pipefd[0]);
        return kerr_set(err, errno, "cannot create the setup pipe for %s", in->spec->name);
    }
    /* A standby's release pipe: its exec stub waits on it with everything
     * done but the command's exec (SETUP_STANDBY_WAIT). */
    int rel[2] = { -1, -1 };
    if (in->standby && pipe2(rel, O_CLOEXEC) < 0) {
        int saved = errno;
        close(pipefd[0]);
        close(report);
        return kerr_set(err, saved, "cannot create the release pipe of the standby of %s", c->name);
    }
    _cleanup_free_ char **sargv = stub_argv(report, rel[0], c->argv);
    if (!sargv) {
        close(pipefd[0]);
        close(report);
        close_safe(rel[0]);
        close_safe(rel[1]);
        return kerr_set(err, ENOMEM, "cannot start %s", c->name);
    }

    /* The hand-over channel: the child runs its list up to SETUP_HANDOVER
     * (the root's first mounts, nothing of the image), then waits there for
     * keel to have pinned its namespaces and made the network namespace and
     * /etc/hosts.  A record of its own (SEQPACKET): fds go with it. */
    int ho[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ho) < 0) {
        int saved = errno;
        close(pipefd[0]);
        close(report);
        close_safe(rel[0]);
        close_safe(rel[1]);
        return kerr_set(err, saved, "cannot create the setup channel for %s", in->spec->name);
    }

    int pidfd = -1;
    struct sys_clone_args args = {
        .flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
    };
    if (!in->join_netns && in->new_netns)
        args.flags |= CLONE_NEWNET;
    if (in->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)in->cgroup_fd;
    }
    pid_t pid = sys_clone3(&args);
    if (pid < 0 && errno == ENOSYS) {
        /* Kernels before 5.3: plain clone without a pidfd; the cgroup is
         * joined by the caller writing cgroup.procs before the setup ends. */
        pid = sys_clone_fork((unsigned long)(args.flags & ~(CLONE_PIDFD | CLONE_INTO_CGROUP)));
        pidfd = -1;
    }
    if (pid < 0) {
        int saved = errno;
        close(pipefd[0]);
        close(report);
        close(ho[0]);
        close(ho[1]);
        close_safe(rel[0]);
        close_safe(rel[1]);
        return kerr_set(err, saved, "cannot create the process of %s", in->spec->name);
    }
    if (pid == 0) {
        close(pipefd[0]);
        close(ho[0]);
        if (rel[1] >= 0)
            close(rel[1]);
        setup_child(in, &list, report, ho[1], rel[0], stub, sargv);
    }
    close(report);
    close(ho[1]);
    close_safe(rel[0]);
    /* A standby's release: container_release() writes it, closing it discards
     * the standby (its stub sees EOF at its wait and exits 127 unreported). */
    out->release_fd = rel[1];
    out->pid = pid;
    out->pidfd = pidfd;
    out->setup_fd = pipefd[0];
    out->handover_fd = ho[0];
    r = pin_namespaces(in, pid, pidfd, &out->ns, err);
    if (r < 0 && child_has_reported(out->setup_fd)) {
        /* The child failed (a mount of the root, before the hand-over) and
         * exited before keel could pin what it had: its namespaces are gone
         * with it.  Its report is the outcome, read as for any failed set-up
         * (the caller watches setup_fd and reaps it): the same messages and
         * restart policy whichever of the two came first. */
        container_ns_close(&out->ns);
        return 0;
    }
    if (r < 0) {
        /* Without its namespaces no exec or health check could reach it: the
         * container does not start. */
        int fd = TAKE_FD(out->setup_fd);
        container_abort(out);
        /* A report that came meanwhile says why; never a read that waits for
         * the killed child's end (container_abort). */
        struct kerr child = { 0 };
        if (child_has_reported(fd) && container_setup_result(fd, &child) < 0) {
            *err = child;
            r = -child.code;
        }
        close(fd);
        return r;
    }
    return 0;
}

int container_hand_over(struct container_proc *p, const struct container_handover *h, struct kerr *err)
{
    if (h->netns_fd >= 0 && (p->ns.fd[CNS_NET] = fcntl(h->netns_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
        int e = errno;
        return kerr_set(err, e, "cannot pin the network namespace of the container");
    }
    uint32_t flags = (h->netns_fd >= 0 ? HANDOVER_NETNS : 0) | (h->hosts_tree >= 0 ? HANDOVER_HOSTS_TREE : 0) |
                     (h->hosts_tree < 0 && h->hosts ? HANDOVER_HOSTS_TEXT : 0);
    size_t text = flags & HANDOVER_HOSTS_TEXT ? strlen(h->hosts) + 1 : 0;
    if (text > HANDOVER_TEXT_MAX)
        return kerr_msg(err, E2BIG, "cannot hand the container its /etc/hosts: larger than %u bytes",
                        HANDOVER_TEXT_MAX);
    int fds[2];
    size_t n_fds = 0;
    if (h->netns_fd >= 0)
        fds[n_fds++] = h->netns_fd;
    if (h->hosts_tree >= 0)
        fds[n_fds++] = h->hosts_tree;
    struct iovec iov[2] = { { .iov_base = &flags, .iov_len = sizeof flags },
                            { .iov_base = (void *)h->hosts, .iov_len = text } };
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = text ? 2 : 1 };
    if (n_fds) {
        mh.msg_control = cm.space;
        mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
    }
    /* The kernel refuses a record longer than the socket's send buffer
     * whole (EMSGSIZE; net.core.wmem_default, ~208 KiB): room for this one
     * when the text comes along (the fallback of the live copy, off the usual
     * path).  FORCE: keel's CAP_NET_ADMIN goes past net.core.wmem_max. */
    if (text) {
        int room = (int)(sizeof flags + text + 4096);   /* the kernel doubles it for its bookkeeping */
        if (setsockopt(p->handover_fd, SOL_SOCKET, SO_SNDBUFFORCE, &room, sizeof room) < 0 &&
            setsockopt(p->handover_fd, SOL_SOCKET, SO_SNDBUF, &room, sizeof room) < 0)
            return kerr_set(err, errno, "cannot hand the container its /etc/hosts");
    }
    ssize_t n;
    do
        n = sendmsg(p->handover_fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int e = errno;
    /* Kept, unread, for what the child puts there (give_probe). */
    p->hold_fd = TAKE_FD(p->handover_fd);
    /* A child that is gone already (EPIPE, ECONNRESET) reported why, or was
     * killed: the report channel and its reaping tell. */
    if (n < 0 && e != EPIPE && e != ECONNRESET)
        return kerr_set(err, e, "cannot hand the container over to its setup");
    return 0;
}

void container_abort(struct container_proc *p)
{
    /* The child, at most waiting in keel's code, sees the channel closed and
     * exits; it is killed anyway.  Never waited for here: a child in
     * uninterruptible sleep (its root's mounts on a hung FUSE or NFS server)
     * dies only when that sleep ends, and PID 1 must go on meanwhile; the
     * caller has it reaped with its other children. */
    close_safe(p->handover_fd);
    p->handover_fd = -1;
    container_hold_close(&p->hold_fd);
    container_ns_close(&p->ns);
    if (!(p->pidfd >= 0 && sys_pidfd_send_signal(p->pidfd, SIGKILL) == 0))
        (void)kill(p->pid, SIGKILL);   /* fails only when it is gone (ESRCH): nothing to kill */
    close_safe(p->pidfd);
    p->pidfd = -1;
    close_safe(p->setup_fd);
    p->setup_fd = -1;
    close_safe(p->release_fd);
    p->release_fd = -1;
}

void container_hold_close(int *hold_fd)
{
    close_safe(*hold_fd);
    *hold_fd = -1;
}

int container_setup_result(int setup_fd, struct kerr *err)
{
    struct setup_report rep;
    ssize_t n;
    do
        n = read(setup_fd, &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno == EAGAIN))
        return 0;
    if (n < 0)
        return kerr_set(err, errno, "cannot read the setup result");
    bool stub = stub_report_decode(&rep, (size_t)n, err);
    if (!stub && (size_t)n != sizeof rep)
        kerr_msg(err, EIO, "the setup child sent a truncated report");
    else if (!stub)
        kerr_msg(err, rep.code, "%.*s", (int)sizeof rep.msg - 1, rep.msg);
    /* The record may be a container's (container_exec_start): it reaches
     * keel's console and clients, never as a terminal's escape sequence. */
    for (char *p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -err->code;
}

int container_release(int release_fd, struct kerr *err)
{
    /* A pipe with room for far more than this one byte: never blocks. */
    ssize_t n;
    do
        n = write(release_fd, "r", 1);
    while (n < 0 && errno == EINTR);
    if (n == 1)
        return 0;
    return kerr_set(err, n < 0 ? errno : EIO, "cannot release the standby");
}

/* --- exec inside a running container -------------------------------------- */

int container_exec_start(const struct container_exec_req *req, pid_t *out, int *setup_fd, struct kerr *err)
{
    const struct container_spec *c = req->spec;
    const struct container_ns *ns = req->ns;
    for (int i = 0; i < CNS_USER; i++)
        if (ns->fd[i] < 0)
            return kerr_msg(err, ESRCH, "the namespaces of %s are not pinned", c->name);
    if (c->userns != USERNS_NO && ns->fd[CNS_USER] < 0)
        return kerr_msg(err, ESRCH, "the user namespace of %s is not pinned", c->name);
    int r = container_exe_check(c, err);
    if (r < 0)
        return r;
    _cleanup_close_ int stub = stub_create(err);
    if (stub < 0)
        return kerr_prefix(err, "cannot run a command in %s", c->name);
    struct setup_exec_facts facts = {
        .cgroup = req->cgroup_fd >= 0,
        .userns = ns->fd[CNS_USER] >= 0,
        .seccomp = req->seccomp != NULL,
        .tty = req->tty,
        .groups_denied = userns_keel_setgroups_denied(),
    };
    __attribute__((cleanup(setup_list_free))) struct setup_list list = { 0 };
    if (setup_plan_exec(c, &facts, &list) < 0)
        return kerr_set(err, ENOMEM, "cannot plan the exec in %s", c->name);
    _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0)
        return kerr_set(err, errno, "cannot open /dev/null");
    /* The report channel: its write end above any fd the list keeps or moves.
     * Non-blocking: in the helper's stub, between its two execs, the
     * container's root can reopen the write end through /proc/PID/fd/N and
     * keep it; a blocking read once the helper is reaped would wait on it
     * for ever (PID 1 stalled by a health check). */
    int rfd[2] = { -1, -1 };
    if (pipe2(rfd, O_CLOEXEC | O_NONBLOCK) < 0)
        return kerr_set(err, errno, "cannot create the setup pipe for an exec in %s", c->name);
    int high = fcntl(rfd[1], F_DUPFD_CLOEXEC, SETUP_FD_MIN);
    close(rfd[1]);
    rfd[1] = high;
    if (high < 0) {
        int e = errno;
        close(rfd[0]);
        return kerr_set(err, e, "cannot create the setup pipe for an exec in %s", c->name);
    }
    _cleanup_free_ char **sargv = stub_argv(high, -1, req->argv);
    if (!sargv) {
        close_safe(rfd[0]);
        close_safe(rfd[1]);
        return kerr_set(err, ENOMEM, "cannot run a command in %s", c->name);
    }
    uint64_t bounding, signals;
    own_status(&bounding, &signals);
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close_safe(rfd[0]);
        close_safe(rfd[1]);
        return kerr_set(err, e, "cannot fork for exec in %s", c->name);
    }
    if (child == 0) {
        close_safe(rfd[0]);
        struct setup_ctx x = {
            .c = c, .argv = req->argv, .report_fd = rfd[1], .stub_fd = stub, .stub_argv = sargv, .fail_status = 126,
            .userns_fd = ns->fd[CNS_USER], .own_userns = ns->fd[CNS_USER] >= 0, .release_fd = -1, .ns = ns,
            .handover_fd = -1, .netns_fd = -1,
            .hosts_tree = -1, .cgroup_fd = req->cgroup_fd, .seccomp = req->seccomp,
            .rootfd = -1, .devfd = -1, .masks = MOUNT_MASKS_NONE, .bounding = bounding, .signals = signals,
        };
        for (int i = 0; i < 3; i++) {
            int fd = req->stdio[i] >= 0 ? req->stdio[i] : devnull;
            if (dup2(fd, i) < 0) {
                struct kerr e = { 0 };
                kerr_set(&e, errno, "cannot set up stdin, stdout and stderr");
                setup_fail(&x, 126, &e);
            }
        }
        setup_run(&x, &list);
    }
    close_safe(rfd[1]);
    *out = child;
    *setup_fd = rfd[0];
    return 0;
}
