/* setup.h — a container's set-up as data: the ordered list of operations
 * the setup child runs between the clone and the execve of the container's
 * command, and the shorter list an exec or health-check helper runs to enter
 * a running container.  Built from the manifest's container spec by pure code
 * (no system call), executed op by op by container.c, and printed by
 * `keel check --plan` from the same list, so the plan cannot drift from the
 * deed (bubblewrap's SetupOp list).
 *
 * The order is the security contract; setup_plan_start()/setup_plan_exec()
 * are its only source, and tests/unit/test_setup.c pins it:
 *   - the init layer (every mount point the list needs, made on keel's
 *     tmpfs) before the overlay it is the top layer of;
 *   - the overlay before anything inside the root, /proc before the masks
 *     (they cover files of that /proc), the binds, secrets and generated
 *     files on top of them, all that needs a host path before pivot_root;
 *   - pivot_root (and the image's /etc/passwd) before keel's hand-over, and
 *     after it only the network namespace's join, sysfs (it shows its
 *     mounter's network devices) on the new root and the masks below it;
 *     unless a bind or secret must go on top of sysfs, or /etc/hosts comes
 *     with the hand-over: then those and the pivot after sysfs;
 *   - everything that needs keel's privileges in the initial user namespace
 *     (mounts, rlimits above keel's, oom_score_adj, the output pipe's owner)
 *     before the container's user namespace is joined, which is the last
 *     namespace joined and comes right before the capabilities and ids;
 *   - without no_new_privs the seccomp filter goes in before the capabilities
 *     drop CAP_SYS_ADMIN; with it, last before the execve;
 *   - an exec helper is non-dumpable and leaves keel's session first, writes
 *     oom_score_adj through keel's /proc before joining any namespace, joins
 *     the mount namespace last of the pinned ones and the user namespace last
 *     of all, and closes every fd of keel's before entering the PID namespace.
 *
 * Contract: setup_plan_*() return 0 or -ENOMEM and fill a list the caller
 * frees with setup_list_free(); the list points into the spec (which must
 * outlive it).
 */
#ifndef KEEL_SETUP_H
#define KEEL_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "keel/manifest.h"
#include "keel/mount.h"

/* The namespaces keel pins at a container's start (container.h's struct
 * container_ns indexes them), in the order an exec helper joins them. */
enum { CNS_CGROUP, CNS_IPC, CNS_UTS, CNS_NET, CNS_PID, CNS_MNT, CNS_USER, CNS_N };

enum setup_op_type {
    SETUP_PDEATHSIG,      /* parent-death signal SIGKILL (set again after a uid change clears it) */
    SETUP_NOT_DUMPABLE,   /* PR_SET_DUMPABLE 0 (again after the credential changes) */
    SETUP_SESSION,        /* setsid: a session of its own, no controlling terminal */
    SETUP_OOM_SCORE,      /* oom_score_adj (always written: keel's own is -1000) */
    SETUP_JOIN_CGROUP,    /* exec: the container's cgroup (cgroup.procs) */
    SETUP_JOIN_NS,        /* setns into a namespace: arg = CNS_* */
    SETUP_HOSTNAME,       /* sethostname */
    SETUP_HANDOVER,       /* start: wait for keel's hand-over (namespaces pinned; the network namespace, /etc/hosts) */
    SETUP_STAGE,          /* mount tree private, staging tmpfs */
    SETUP_INIT_LAYER,     /* keel's init layer: the list's mount points (setup_list.init) */
    SETUP_OVERLAY,        /* the root: overlay of layers and upper */
    SETUP_MOUNT_PROC,     /* /proc */
    SETUP_MOUNT_SYS,      /* /sys, /sys/fs/cgroup */
    SETUP_MOUNT_DEV,      /* /dev tmpfs and the standard nodes */
    SETUP_DEV_NODE,       /* `device =`: arg = index in spec->devices */
    SETUP_DEV_FS,         /* /dev/pts, /dev/shm, /dev/mqueue and the links */
    SETUP_NOTIFY_SOCKET,  /* /dev/keel-notify */
    SETUP_MASK,           /* mount_masked_paths below /proc (arg SETUP_MASK_PROC) or /sys (SETUP_MASK_SYS) */
    SETUP_READONLY,       /* mount_readonly_paths */
    SETUP_BIND,           /* `mount =`: arg = index in spec->mounts */
    SETUP_SECRET,         /* `secret =`: arg = index in spec->secrets (0 mounts their tmpfs) */
    SETUP_ETC_FILE,       /* a generated file: arg = SETUP_FILE_* */
    SETUP_PIVOT,          /* pivot_root, old root detached */
    SETUP_CLOSE_FDS,      /* every fd of keel's closed (but the report channel) */
    SETUP_ENTER_PID,      /* exec: fork into the joined PID namespace; the helper waits */
    SETUP_CHDIR_ROOT,     /* exec: cwd "/" of the container */
    SETUP_USER,           /* user and groups resolved in the image's /etc/passwd, /etc/group */
    SETUP_RLIMITS,        /* resource limits */
    SETUP_GIVE_OUTPUT,    /* the output pipe chowned to the container's user */
    SETUP_ENV,            /* the environment built */
    SETUP_SECCOMP,        /* the filter installed: arg = 0 before the caps, 1 last */
    SETUP_BOUNDING,       /* the bounding set cut to the container's capabilities, early (no user namespace) */
    SETUP_CAPS,           /* uid, gid, groups, capabilities: arg SETUP_GROUPS_DENIED when setgroups is denied */
    SETUP_KEEL_ALIVE,     /* stop here if keel went away (its end of the report channel closed) */
    SETUP_WORKDIR,        /* chdir into the workdir, checked to be inside the root */
    SETUP_NO_NEW_PRIVS,   /* PR_SET_NO_NEW_PRIVS */
    SETUP_STDIO,          /* stdin /dev/null, stdout and stderr the output pipe */
    SETUP_READY_FD,       /* `ready = fd:N`: the pipe moved to N */
    SETUP_CTTY,           /* exec -t: the pty on stdin becomes the controlling terminal */
    SETUP_SIGNALS,        /* default dispositions, empty mask */
    SETUP_STANDBY_WAIT,   /* `standby = yes`: wait for keel's release (one byte) or its close, right before the exec */
    SETUP_EXEC,           /* execve */
};

enum { SETUP_FILE_HOSTNAME, SETUP_FILE_HOSTS, SETUP_FILE_RESOLV };
enum { SETUP_MASK_PROC, SETUP_MASK_SYS };
/* SETUP_CAPS's arg: keel's user namespace denies setgroups (userns.h):
 * the groups are left as they are, and a user with supplementary groups
 * in the container's /etc/group that the namespace maps is refused. */
enum { SETUP_GROUPS_SET, SETUP_GROUPS_DENIED };

struct setup_op {
    enum setup_op_type type;
    int arg;
};

struct setup_list {
    struct setup_op *op;
    size_t n;
    /* A start's init layer: every mount point the ops below it need in the
     * root (paths point into the spec). */
    struct mount_point *init;
    size_t n_init;
};

/* What only the start knows (supervise.c's choices), for the container's list. */
struct setup_facts {
    bool join_netns;   /* a network namespace is handed over to join */
    bool userns;       /* the container has a user namespace (joined last) */
    bool seccomp;      /* a compiled filter */
    bool ready_fd;     /* `ready = fd:N` with a pipe */
    bool notify;       /* `ready = notify` with keel's socket */
    bool resolv;       /* a generated /etc/resolv.conf */
    bool standby;      /* a standby: wait for the release right before the exec (SETUP_STANDBY_WAIT) */
    bool hosts_late;   /* /etc/hosts comes with the hand-over (keel has no live copy to fill meanwhile) */
    bool keel_userns;  /* keel itself runs in a user namespace: sysfs before the pivot (userns_keel_nested) */
    bool groups_denied;/* setgroups is denied there (userns_keel_setgroups_denied) */
};

/* What `keel check --plan` assumes: the facts that follow from the spec when
 * keel runs with its network module (NET_HOST keeps keel's namespace). */
void setup_facts_of_spec(const struct container_spec *c, struct setup_facts *f);

/* For an exec or health-check helper. */
struct setup_exec_facts {
    bool cgroup;       /* a cgroup to join */
    bool userns;       /* a pinned user namespace (joined last) */
    bool seccomp;      /* a compiled filter */
    bool tty;          /* fd 0 is a pty keel made */
    bool groups_denied;/* setgroups is denied in keel's user namespace (userns_keel_setgroups_denied) */
};

int setup_plan_start(const struct container_spec *c, const struct setup_facts *f, struct setup_list *out);
int setup_plan_exec(const struct container_spec *c, const struct setup_exec_facts *f, struct setup_list *out);
void setup_list_free(struct setup_list *l);

/* The index of the first op of TYPE (with ARG, or any with arg -1) at or after
 * FROM, or -1: for tests and asserts. */
int setup_find(const struct setup_list *l, enum setup_op_type type, int arg, size_t from);

/* The name of a namespace (CNS_*) as /proc/PID/ns/ names it, and its CLONE_NEW* flag. */
const char *setup_ns_name(int cns);
int setup_ns_type(int cns);

/* "KEY = WORD WORD 'a word'\n": a command line as the manifest would quote it. */
void setup_print_words(FILE *out, const char *key, char *const *argv);

/* keel check --plan: one or more lines per op, in order, for container C. */
void setup_print(const struct container_spec *c, const struct setup_list *l, FILE *out);

#endif
