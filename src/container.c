/* container.c — a container's process, see container.h. */
#include "keel/container.h"
#include "keel/caps.h"
#include "keel/cgroup.h"
#include "keel/rlimit.h"
#include "keel/seccomp.h"
#include "keel/mount.h"
#include "keel/sys.h"
#include "keel/user.h"
#include "keel/userns.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

static __attribute__((noreturn)) void child_fail(int fd, const struct kerr *err)
{
    struct setup_report rep = { .code = err->code ? err->code : EINVAL };
    memcpy(rep.msg, err->msg, sizeof rep.msg);
    (void)!write(fd, &rep, sizeof rep);
    _exit(127);
}

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

/* Default dispositions and an empty mask for the new program.  The raw
 * system call, because glibc's wrappers refuse the two real-time signals it
 * keeps for itself (32, 33), which an ignoring parent would otherwise pass on. */
static void reset_signals(void)
{
    /* cppcheck-suppress unusedStructMember ; the kernel's struct sigaction, read by rt_sigaction */
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = { SIG_DFL, 0, NULL, 0 };
    for (int s = 1; s <= 64; s++)
        if (s != SIGKILL && s != SIGSTOP)
            syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof(uint64_t));
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
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

/* The working directory must be inside the new root: a cwd reached through a
 * leaked fd (/proc/self/fd/N) shows up as a path that does not start with '/'. */
static int enter_workdir(const char *workdir, struct kerr *err)
{
    const char *dir = workdir ? workdir : "/";
    if (str_starts(dir, "/proc/"))
        return kerr_msg(err, EPERM, "workdir %s is inside /proc", dir);
    if (chdir(dir) < 0)
        return kerr_set(err, errno, "cannot enter workdir %s", dir);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/')
        return kerr_msg(err, EPERM, "workdir %s resolves outside the container root", dir);
    return 0;
}

/* Closes every fd from 3 up, except `keep` (the setup channel, CLOEXEC). */
static int close_other_fds(int keep, struct kerr *err)
{
    if (keep > 3 && syscall(SYS_close_range, 3, keep - 1, 0) < 0 && errno != ENOSYS)
        return kerr_set(err, errno, "cannot close inherited fds");
    if (sys_close_range_from((unsigned)keep + 1) < 0)
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

static __attribute__((noreturn)) void setup_child(const struct container_start *in, int report_fd)
{
    const struct container_spec *c = in->spec;
    const struct userns *uns = in->userns;
    struct kerr err = { 0 };
    const char *hostname = c->hostname ? c->hostname : c->name;

    /* The container dies with keel rather than outliving its supervisor. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
        kerr_set(&err, errno, "cannot set the parent-death signal");
        child_fail(report_fd, &err);
    }
    /* A session of its own, without a controlling terminal: keel's (the
     * admin's SSH or console session under `keel run`) would otherwise be
     * /dev/tty in the container, where TIOCSTI types commands into the
     * admin's shell and a read takes the admin's keystrokes. */
    if (setsid() < 0) {
        kerr_set(&err, errno, "cannot start a session for %s", c->name);
        child_fail(report_fd, &err);
    }
    if (in->netns_fd >= 0 && setns(in->netns_fd, CLONE_NEWNET) < 0) {
        kerr_set(&err, errno, "cannot join the network namespace of %s", c->name);
        child_fail(report_fd, &err);
    }
    if (sethostname(hostname, strlen(hostname)) < 0) {
        kerr_set(&err, errno, "cannot set host name %s", hostname);
        child_fail(report_fd, &err);
    }
    char default_hosts[256];
    snprintf(default_hosts, sizeof default_hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t%s\n", hostname);
    struct mount_inputs mi = {
        .stage = in->stage,
        .hosts = in->hosts ? in->hosts : default_hosts,
        .resolv = in->resolv,
        .hostname = hostname,
        .cgroup_ns = true,
        .notify_host = in->notify_host,
        .userns_fd = uns ? uns->fd : -1,
    };
    if (uns) {
        uint32_t root_uid = 0, root_gid = 0;   /* the parser made sure id 0 is mapped */
        (void)userns_to_host(uns->map, uns->n, 0, &root_uid);
        (void)userns_to_host(uns->map, uns->n, 0, &root_gid);
        mi.root_uid = root_uid;
        mi.root_gid = root_gid;
    }
    if (mount_container_root(c, &mi, &err) < 0)
        child_fail(report_fd, &err);

    struct user_ids ids;
    char **env = NULL;
    if (resolve_user(c, &ids, &err) < 0 || rlimit_apply(c->rlimits, c->n_rlimits, &err) < 0)
        child_fail(report_fd, &err);
    /* Always set: a container would otherwise inherit keel's own -1000. */
    if (cgroup_set_oom_score_adj(0, c->oom_score_adj_set ? c->oom_score_adj : 0, &err) < 0)
        child_fail(report_fd, &err);
    uid_t host_uid;
    gid_t host_gid;
    if (host_ids(uns, &ids, &host_uid, &host_gid, &err) < 0 || give_output(in->output_fd, host_uid, host_gid, &err) < 0)
        child_fail(report_fd, &err);
    /* Last of the namespaces: everything above needed keel's privileges in
     * the initial user namespace, which owns all the others. */
    if (uns && setns(uns->fd, CLONE_NEWUSER) < 0) {
        kerr_set(&err, errno, "cannot join the user namespace of %s", c->name);
        child_fail(report_fd, &err);
    }
    if (!(env = container_environ(c, ids.home))) {
        kerr_set(&err, ENOMEM, "cannot build the environment");
        child_fail(report_fd, &err);
    }
    /* Without no_new_privs the filter must go in while CAP_SYS_ADMIN is still held. */
    if (!c->no_new_privs && in->seccomp && seccomp_install(in->seccomp, &err) < 0)
        child_fail(report_fd, &err);
    if (caps_apply(c->caps, c->caps_ambient, ids.uid, ids.gid, ids.groups, ids.n_groups, &err) < 0)
        child_fail(report_fd, &err);
    /* A change of uid cleared the parent-death signal: set it again.  Had keel
     * gone in between, its end of the setup pipe is closed (POLLERR here). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
        kerr_set(&err, errno, "cannot set the parent-death signal");
        child_fail(report_fd, &err);
    }
    struct pollfd keel_alive = { .fd = report_fd };
    if (poll(&keel_alive, 1, 0) == 1 && (keel_alive.revents & POLLERR))
        _exit(127);
    if (enter_workdir(c->workdir, &err) < 0)
        child_fail(report_fd, &err);
    if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        kerr_set(&err, errno, "cannot set no_new_privs");
        child_fail(report_fd, &err);
    }
    if (dup2(in->devnull_fd, 0) < 0 || dup2(in->output_fd, 1) < 0 || dup2(in->output_fd, 2) < 0) {
        kerr_set(&err, errno, "cannot set up stdin, stdout and stderr");
        child_fail(report_fd, &err);
    }
    if (in->ready_fd >= 0 && c->ready == READY_FD && dup2(in->ready_fd, c->ready_fd) < 0) {
        kerr_set(&err, errno, "cannot place the readiness fd at %d", c->ready_fd);
        child_fail(report_fd, &err);
    }
    int keep = report_fd;
    if (c->ready == READY_FD && in->ready_fd >= 0) {
        /* fds 3..N-1 and N+1.. go; N stays (dup2 cleared its CLOEXEC). */
        if (c->ready_fd > 3 && syscall(SYS_close_range, 3, c->ready_fd - 1, 0) < 0) {
            kerr_set(&err, errno, "cannot close inherited fds");
            child_fail(report_fd, &err);
        }
        if (syscall(SYS_close_range, c->ready_fd + 1, report_fd - 1, 0) < 0 ||
            sys_close_range_from((unsigned)report_fd + 1) < 0) {
            kerr_set(&err, errno, "cannot close inherited fds");
            child_fail(report_fd, &err);
        }
    } else if (close_other_fds(keep, &err) < 0) {
        child_fail(report_fd, &err);
    }
    reset_signals();
    if (c->no_new_privs && in->seccomp && seccomp_install(in->seccomp, &err) < 0)
        child_fail(report_fd, &err);
    execve(c->argv[0], c->argv, env);
    kerr_set(&err, errno, "cannot execute %s", c->argv[0]);
    child_fail(report_fd, &err);
}

/* The namespaces in the order exec joins them: the mount namespace last of
 * these, so the others are still opened through keel's /proc; the user
 * namespace after all of them (see exec_child). */
static const struct { const char *name; int type; int idx; } ns_order[] = {
    { "cgroup", CLONE_NEWCGROUP, CNS_CGROUP }, { "ipc", CLONE_NEWIPC, CNS_IPC }, { "uts", CLONE_NEWUTS, CNS_UTS },
    { "net", CLONE_NEWNET, CNS_NET }, { "pid", CLONE_NEWPID, CNS_PID }, { "mnt", CLONE_NEWNS, CNS_MNT },
};

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
 * reach any code of the image, so they are the ones keel made: clone() put
 * the child in its new PID, mount, UTS, IPC and cgroup namespaces (and a new
 * network one); the only namespaces the setup child joins later are the
 * network and user namespaces keel hands it, whose fds keel holds already. */
static int pin_namespaces(const struct container_start *in, pid_t pid, struct container_ns *ns, struct kerr *err)
{
    container_ns_init(ns);
    for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++) {
        int idx = ns_order[i].idx;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_order[i].name);
        if (idx == CNS_NET && in->netns_fd >= 0)
            ns->fd[idx] = fcntl(in->netns_fd, F_DUPFD_CLOEXEC, 3);
        else if ((ns->fd[idx] = open(path, O_RDONLY | O_CLOEXEC)) >= 0 && ns->fd[idx] < 3) {
            /* Above stdio, which an exec's child dups over 0..2. */
            int high = fcntl(ns->fd[idx], F_DUPFD_CLOEXEC, 3);
            close(ns->fd[idx]);
            ns->fd[idx] = high;
        }
        if (ns->fd[idx] < 0) {
            int e = errno;
            container_ns_close(ns);
            return kerr_set(err, e, "cannot pin the %s namespace of %s", ns_order[i].name, in->spec->name);
        }
    }
    if (in->userns && (ns->fd[CNS_USER] = fcntl(in->userns->fd, F_DUPFD_CLOEXEC, 3)) < 0) {
        int e = errno;
        container_ns_close(ns);
        return kerr_set(err, e, "cannot pin the user namespace of %s", in->spec->name);
    }
    return 0;
}

int container_start(const struct container_start *in, struct container_proc *out, struct kerr *err)
{
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

    /* The child waits on `go` until its namespaces are pinned: pinned while
     * it is alive (a child that had already failed and exited would have no
     * namespaces left to open), and before it runs anything of the image. */
    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0) {
        int saved = errno;
        close(pipefd[0]);
        close(report);
        return kerr_set(err, saved, "cannot create the setup pipe for %s", in->spec->name);
    }

    int pidfd = -1;
    struct sys_clone_args args = {
        .flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
    };
    if (in->netns_fd < 0 && in->new_netns)
        args.flags |= CLONE_NEWNET;
    if (in->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)in->cgroup_fd;
    }
    pid_t pid = sys_clone3(&args);
    if (pid < 0 && errno == ENOSYS) {
        /* Kernels before 5.3: plain clone without a pidfd; the cgroup is
         * joined by the caller writing cgroup.procs before the setup ends. */
        pid = (pid_t)syscall(SYS_clone, (unsigned long)(args.flags & ~(CLONE_PIDFD | CLONE_INTO_CGROUP)) | SIGCHLD,
                             NULL, NULL, NULL, NULL);
        pidfd = -1;
    }
    if (pid < 0) {
        int saved = errno;
        close(pipefd[0]);
        close(report);
        close(go[0]);
        close(go[1]);
        return kerr_set(err, saved, "cannot create the process of %s", in->spec->name);
    }
    if (pid == 0) {
        close(pipefd[0]);
        close(go[1]);
        char b;
        ssize_t n;
        do
            n = read(go[0], &b, 1);
        while (n < 0 && errno == EINTR);
        close(go[0]);
        if (n != 1)
            _exit(127);   /* keel could not pin the namespaces (or is gone) */
        setup_child(in, report);
    }
    close(report);
    close(go[0]);
    int r = pin_namespaces(in, pid, &out->ns, err);
    if (r == 0 && write(go[1], "g", 1) != 1)
        r = kerr_set(err, errno, "cannot start the setup of %s", in->spec->name);
    close(go[1]);
    if (r < 0) {
        /* Without its namespaces no exec or health check could reach it: the
         * container does not start.  The child, still waiting in keel's code,
         * sees the go pipe closed and exits; it is reaped here, so the caller
         * sees no child. */
        container_ns_close(&out->ns);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        close_safe(pidfd);
        close(pipefd[0]);
        return r;
    }
    out->pid = pid;
    out->pidfd = pidfd;
    out->setup_fd = pipefd[0];
    return 0;
}

int container_setup_result(int setup_fd, struct kerr *err)
{
    struct setup_report rep;
    ssize_t n;
    do
        n = read(setup_fd, &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    if (n < 0)
        return kerr_set(err, errno, "cannot read the setup result");
    if ((size_t)n != sizeof rep)
        return kerr_msg(err, EIO, "the setup child sent a truncated report");
    rep.msg[sizeof rep.msg - 1] = '\0';
    return kerr_msg(err, rep.code, "%s", rep.msg);
}

/* --- exec inside a running container -------------------------------------- */

/* The fd number that carries the container's user namespace past the close of
 * everything else; it is joined last (see container_start). */
#define EXEC_USERNS_FD 3

static int join_userns(const struct container_spec *c, struct kerr *err)
{
    int r = setns(EXEC_USERNS_FD, CLONE_NEWUSER);
    int e = errno;
    close(EXEC_USERNS_FD);
    return r < 0 ? kerr_set(err, e, "cannot join the user namespace of %s", c->name) : 0;
}

static __attribute__((noreturn)) void exec_child(const struct container_spec *c, const struct container_ns *ns,
                                                 int cgroup_fd, char *const *argv, bool tty,
                                                 const struct seccomp_prog *seccomp)
{
    struct kerr err = { 0 };
    int userns_fd = ns->fd[CNS_USER];
    /* Non-dumpable before entering, and so until the execve (set again after
     * the credential changes, which reset it to fs.suid_dumpable): a process
     * of the container cannot open this one's /proc/PID/exe, memory or fds
     * (the CVE-2019-5736 class).  Out of keel's session at once: no
     * controlling terminal reaches the container. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setsid() < 0)
        _exit(126);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        _exit(126);
    /* Through keel's own /proc, before any namespace of the container is
     * joined (the forked command inherits it): inside, a container with
     * CAP_SYS_ADMIN could put a file of its own at /proc/self/oom_score_adj
     * and keep the command at keel's -1000.  Always written, as at the start. */
    if (cgroup_set_oom_score_adj(0, c->oom_score_adj_set ? c->oom_score_adj : 0, &err) < 0) {
        fprintf(stderr, "keel: error: %s\n", err.msg);
        _exit(126);
    }
    if (cgroup_fd >= 0 && write_file_at(cgroup_fd, "cgroup.procs", "0") < 0) {
        fprintf(stderr, "keel: error: cannot join the cgroup of %s\n", c->name);
        _exit(126);
    }
    for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++)
        if (setns(ns->fd[ns_order[i].idx], ns_order[i].type) < 0) {
            fprintf(stderr, "keel: error: cannot join the %s namespace of %s: %s\n", ns_order[i].name,
                    c->name, strerror(errno));
            _exit(126);
        }
    /* Nothing of keel's (control sockets, pipes, namespace fds) goes further. */
    if (userns_fd >= 0 && dup2(userns_fd, EXEC_USERNS_FD) < 0)
        _exit(126);
    if (sys_close_range_from(userns_fd >= 0 ? EXEC_USERNS_FD + 1 : 3) < 0)
        _exit(126);
    /* setns(CLONE_NEWPID) applies to children: fork once more to be inside. */
    pid_t inner = fork();
    if (inner < 0)
        _exit(126);
    if (inner > 0) {
        for (int i = 0; i < 3; i++)
            close(i);
        close_safe(userns_fd >= 0 ? EXEC_USERNS_FD : -1);
        int status;
        while (waitpid(inner, &status, 0) < 0)
            if (errno != EINTR)
                _exit(126);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    struct user_ids ids;
    char **env;
    if (chdir("/") < 0 || resolve_user(c, &ids, &err) < 0 || !(env = container_environ(c, ids.home)) ||
        rlimit_apply(c->rlimits, c->n_rlimits, &err) < 0 ||
        (userns_fd >= 0 && join_userns(c, &err) < 0) ||
        (!c->no_new_privs && seccomp && seccomp_install(seccomp, &err) < 0) ||
        caps_apply(c->caps, c->caps_ambient, ids.uid, ids.gid, ids.groups, ids.n_groups, &err) < 0 ||
        (c->workdir && enter_workdir(c->workdir, &err) < 0)) {
        fprintf(stderr, "keel: error: %s\n", err.msg[0] ? err.msg : "cannot prepare the process");
        _exit(126);
    }
    /* Credential changes clear the parent-death signal and set dumpable to
     * fs.suid_dumpable (1 on some hosts): set both again, so a timed-out
     * health check killed through its parent does not linger and the window
     * up to the execve stays closed to the container. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        _exit(126);
    if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        _exit(126);
    /* A session of its own (the fork above left it a member of its parent's),
     * without a controlling terminal; with keel exec -t, the pty keel made
     * on stdin becomes that. */
    if (setsid() < 0) {
        fprintf(stderr, "keel: error: cannot start a session: %s\n", strerror(errno));
        _exit(126);
    }
    if (tty && ioctl(0, TIOCSCTTY, 0) < 0) {
        fprintf(stderr, "keel: error: cannot make the terminal the controlling one: %s\n", strerror(errno));
        _exit(126);
    }
    reset_signals();
    if (c->no_new_privs && seccomp && seccomp_install(seccomp, &err) < 0) {
        fprintf(stderr, "keel: error: %s\n", err.msg);
        _exit(126);
    }
    execve(argv[0], argv, env);
    fprintf(stderr, "keel: error: cannot execute %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int container_exec(const struct container_spec *c, const struct container_ns *ns, int cgroup_fd, char *const *argv,
                   const int stdio[3], bool tty, const struct seccomp_prog *seccomp, pid_t *out, struct kerr *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++)
        if (ns->fd[ns_order[i].idx] < 0)
            return kerr_msg(err, ESRCH, "the namespaces of %s are not pinned", c->name);
    if (c->userns != USERNS_NO && ns->fd[CNS_USER] < 0)
        return kerr_msg(err, ESRCH, "the user namespace of %s is not pinned", c->name);
    _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0)
        return kerr_set(err, errno, "cannot open /dev/null");
    pid_t child = fork();
    if (child < 0)
        return kerr_set(err, errno, "cannot fork for exec in %s", c->name);
    if (child == 0) {
        for (int i = 0; i < 3; i++) {
            int fd = stdio[i] >= 0 ? stdio[i] : devnull;
            if (dup2(fd, i) < 0)
                _exit(126);
        }
        exec_child(c, ns, cgroup_fd, argv, tty, seccomp);
    }
    *out = child;
    return 0;
}
