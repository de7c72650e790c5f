/* container.h — creating a container's process, and running more processes
 * inside a running one (keel exec, health checks).
 *
 * container_start() clones a child into new PID, mount, UTS, IPC and cgroup
 * namespaces (straight into the container's cgroup with CLONE_INTO_CGROUP
 * where a cgroup is given), which leads a session of its own (no controlling
 * terminal: keel's, an admin's, stays out of reach), builds the root
 * (mount.h) -- taking keel's hand-over once /proc is mounted: the network
 * namespace to join (before /sys) and /etc/hosts, which keel makes after the
 * clone, on the other CPU, while the child mounts -- pivots into it, sets the hostname and resource
 * limits, joins the container's user namespace when it has one (last, so
 * every other namespace stays owned by keel's), sets user and groups,
 * capabilities, no_new_privs and seccomp, closes every other fd and execs the
 * command as PID 1 of its namespace.  Those steps are the list
 * setup_plan_start() builds (setup.h), run op by op by the one executor here,
 * which also runs setup_plan_exec()'s list for container_exec_start().
 *
 * The child reports a failed step over a CLOEXEC pipe as a structured record;
 * a successful exec closes the pipe, so EOF without a record means "running".
 * The parent never blocks on it: it watches `setup_fd` in its event loop and
 * calls container_setup_result() when it becomes readable.
 *
 * Contract: 0 / negative errno, err filled.  Caller owns the returned fds.
 */
#ifndef KEEL_CONTAINER_H
#define KEEL_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "keel/err.h"
#include "keel/manifest.h"
#include "keel/setup.h"

struct seccomp_prog;
struct userns;

/* Inside the container: keel's /dev is a tmpfs of its own, so the sd_notify
 * socket can always be placed there, whatever the image holds. */
#define CONTAINER_NOTIFY_PATH "/dev/keel-notify"

struct container_start {
    const struct container_spec *spec;
    const char *stage;         /* RUN_DIR/containers/NAME, an existing directory */
    char *const *layers;       /* the overlay's lower directories (layerimg_acquire: image
                                * files replaced by their mounts); NULL: spec->layers */
    bool join_netns;           /* a network namespace to join comes with the hand-over */
    bool new_netns;            /* without join_netns: a fresh namespace at the clone (lo down);
                                * neither: keel's (network = host) */
    int cgroup_fd;             /* container's cgroup directory; -1 for none */
    int output_fd;             /* becomes stdout and stderr */
    int devnull_fd;            /* keel's /dev/null: stdin, and the masks' source */
    const char *resolv;        /* generated /etc/resolv.conf (NULL: the image's) */
    int resolv_tree;           /* mount_file_tree of keel's live resolv.conf, attached instead of
                                * `resolv` so that its rewrites reach the container; -1: none */
    int hosts_tree;            /* mount_file_tree of keel's live /etc/hosts, which keel fills before
                                * the hand-over; -1: none */
    bool hosts_late;           /* without hosts_tree: /etc/hosts comes with the hand-over (keel's
                                * text); neither: a minimal one */
    const struct seccomp_prog *seccomp; /* NULL: none */
    int ready_fd;              /* write end for `ready = fd:N` (moved to N), or -1 */
    const char *notify_host;   /* `ready = notify`: keel's socket, bound at CONTAINER_NOTIFY_PATH */
    const struct userns *userns; /* the container's user namespace (userns.h), or NULL */
    bool standby;              /* prepare only: the child stops before its exec (SETUP_STANDBY_WAIT)
                                * until container_release() on out->release_fd */
};

/* The namespaces a container was started in, pinned by keel when it starts
 * (O_CLOEXEC) and used by every exec and health check of that run: a
 * container's init with CAP_SYS_ADMIN (in its own user namespace, say) can
 * unshare or setns itself into namespaces of its choosing, so
 * /proc/PID/ns of the running init is never trusted.  -1: none (CNS_USER
 * without a user namespace).  The owner closes them with container_ns_close()
 * when the run ends. */
struct container_ns {   /* indexed by CNS_* (setup.h) */
    int fd[CNS_N];
};
void container_ns_init(struct container_ns *ns);
void container_ns_close(struct container_ns *ns);

struct container_proc {
    pid_t pid;                 /* in keel's PID namespace */
    int pidfd;                 /* -1 where the kernel has no pidfds */
    int setup_fd;              /* read end of the setup error channel */
    int handover_fd;           /* keel's end of the hand-over channel, until container_hand_over */
    int hold_fd;               /* after container_hand_over: the same end, holding what the child put
                                * there (its probe overlay, container_hold_close); -1: none */
    struct container_ns ns;    /* pinned at the clone (the network namespace at the hand-over),
                                * before the setup child runs any code of the image */
    int release_fd;            /* a standby's: container_release() writes it, closing it discards the
                                * standby (the child exits 127 without a report); -1 otherwise */
};

/* What keel gives the setup child after the clone: made while the child
 * builds the root (the two CPUs of a small machine work at once), taken by
 * the child at its SETUP_HANDOVER step, before /sys and before it runs
 * anything of the image (mostly after its pivot_root: setup.h). */
struct container_handover {
    int netns_fd;              /* with join_netns: the namespace to join (and pin); else -1 */
    const char *hosts;         /* with in->hosts_late: generated /etc/hosts (NULL: a minimal one);
                                * else NULL (the child took in->hosts_tree) */
    int hosts_tree;            /* mount_file_tree of keel's live copy of `hosts`, attached instead
                                * so that an apply's rewrites reach the container; -1: none */
};

/* Clones the setup child (which runs its list up to SETUP_HANDOVER) and pins
 * its namespaces.  On success the caller must follow with exactly one of
 * container_hand_over() (the child goes on) or container_abort().  On
 * failure out->pid is 0, or the pid of a child already killed and given up
 * (container_abort) that the caller must still have reaped. */
int container_start(const struct container_start *in, struct container_proc *out, struct kerr *err);
/* Pins the network namespace (H->netns_fd, duplicated) and sends H's fds
 * and text to the child, then closes p->handover_fd.  A child that has died
 * meanwhile is no error here: its report comes on setup_fd as usual.  The
 * caller keeps H's fds. */
int container_hand_over(struct container_proc *p, const struct container_handover *h, struct kerr *err);
/* Closes P->hold_fd once the setup has ended (its result read, or the child
 * reaped): with it go, in keel, the last references to what the child
 * detached with its old root (the probe overlay of its layers), whose
 * teardown would otherwise have run in the child between its pivot_root and
 * its exec.  Any time is safe: closed early, the child pays as it did. */
void container_hold_close(int *hold_fd);
/* The start is given up after container_start: the child is SIGKILLed (it
 * never ran anything of the image) and every fd of P closed.  It is not
 * waited for: p->pid stays set, and the caller has it reaped with its other
 * children (a child in uninterruptible sleep, on a hung FUSE or NFS mount,
 * dies only when that sleep ends; a wait here would hold PID 1 that long). */
void container_abort(struct container_proc *p);
/* After setup_fd became readable (or hung up): 0 when the command was exec'd,
 * otherwise the child's error (e.g. "cannot mount the overlay root of web: ...").
 * Also 0 when a non-blocking setup_fd (an exec's) has nothing to read, and
 * the message never holds a control byte (each is '?'): an exec helper's
 * report pipe is open in its stub, where the container's root can reopen it
 * through /proc/PID/fd/N, keep it, and write what it likes. */
int container_setup_result(int setup_fd, struct kerr *err);
/* Releases a standby (in.standby) to its exec: one byte on its release fd,
 * which stays the caller's to close.  -EPIPE when the child is gone. */
int container_release(int release_fd, struct kerr *err);


/* Runs argv inside a running container: joins the namespaces pinned at its
 * start (`ns`; its user namespace last, as at the start) and cgroup
 * (cgroup_fd, or -1), takes its root, environment, user, oom_score_adj
 * (written through keel's /proc, before entering the container's mount
 * namespace), capabilities and seccomp filter.  The process leads a session
 * of its own and is non-dumpable until its execve.  stdio: fds to dup into
 * 0, 1, 2 (-1 = /dev/null), which must be keel's own (pipes, sockets, a pty
 * it made), never a client's; with `tty`, fd 0 is a terminal keel made that
 * becomes the controlling one of the new session.
 * The returned pid exits with the command's status (128+N for a signal).
 * With the failure path of container_start: the helper reports a step it
 * could not take (joining a namespace, the user, a limit, the execve) as a
 * record on a CLOEXEC pipe whose read end *setup_fd becomes (the caller owns
 * it; non-blocking: a writer may outlive the helper, above; once the pid is
 * reaped, container_setup_result() says 0 or why it could not start); the
 * pid then exits 126 after a failed step, 127 after a failed execve. */
struct container_exec_req {
    const struct container_spec *spec;
    const struct container_ns *ns;
    int cgroup_fd;
    char *const *argv;
    int stdio[3];
    bool tty;
    const struct seccomp_prog *seccomp;
};
int container_exec_start(const struct container_exec_req *req, pid_t *out, int *setup_fd, struct kerr *err);

/* keel's processes that enter container C (the setup child, exec and health
 * helpers) run keel's binary until they execveat the exec stub (stub.h):
 * what keeps them out of reach is the new PID namespace (the setup child is
 * alone in it) and PR_SET_DUMPABLE 0 (the helpers).  Not enough when C has
 * CAP_SYS_PTRACE in the initial user namespace, or when fs.suid_dumpable is
 * 1: then keel must run from a sealed copy of itself (sys_reexec_sealed) or
 * from a read-only mount (boot mode), and container_exe_check() refuses to
 * start a process in C otherwise (EPERM, err filled). */
bool container_needs_sealed_keel(const struct container_spec *c);
int container_exe_check(const struct container_spec *c, struct kerr *err);

/* The environment a container's processes get: PATH, HOSTNAME, HOME, TERM,
 * then the manifest's env.  Heap vector, caller frees (strv_free). */
char **container_environ(const struct container_spec *c, const char *home);

#endif
