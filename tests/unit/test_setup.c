/* test_setup.c — the set-up lists (setup.h): the order of the operations a
 * container's setup child and an exec helper run, which is their security
 * contract, and the plan `keel check --plan` prints from the same list. */
#include "keel/setup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static char *layers[] = { "/l/top", "/l/base", NULL };
static char *argv_[] = { "/bin/sh", "-c", "echo 'hi'", NULL };
static struct bind_mount mounts[] = { { .source = "/data", .target = "/data", .readonly = true },
                                      { .source = "/logs", .target = "/var/log" } };
static struct bind_mount devices[] = { { .source = "/dev/fuse", .target = "/dev/fuse" } };
static struct secret_spec secrets[] = { { .source = "/etc/keel/db.pass", .target = "/run/secrets/db", .uid = 1000,
                                          .gid = 50, .mode = 0440 } };

static struct container_spec spec(void)
{
    return (struct container_spec){
        .name = "web", .layers = layers, .upper = "tmpfs", .argv = argv_, .mounts = mounts, .n_mounts = 2,
        .devices = devices, .n_devices = 1, .secrets = secrets, .n_secrets = 1, .no_new_privs = true, .net = NET_BRIDGE,
        .seccomp = SECCOMP_DEFAULT, .userns = USERNS_AUTO,
    };
}

static int at(const struct setup_list *l, enum setup_op_type t, int arg)
{
    return setup_find(l, t, arg, 0);
}

/* Positions of one type, in order; -1 ends. */
static int nth(const struct setup_list *l, enum setup_op_type t, int n)
{
    int i = -1;
    for (int k = 0; k <= n; k++)
        if ((i = setup_find(l, t, -1, (size_t)(i + 1))) < 0)
            return -1;
    return i;
}

TEST(start_order)
{
    struct container_spec c = spec();
    struct setup_facts f;
    setup_facts_of_spec(&c, &f);
    CHECK(f.join_netns && f.userns && f.seccomp && !f.ready_fd && !f.notify);
    struct setup_list l;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    /* A session of its own before anything else can run. */
    CHECK_INT(at(&l, SETUP_PDEATHSIG, -1), 0);
    CHECK_INT(at(&l, SETUP_SESSION, -1), 1);
    /* The root: overlay before anything inside it, /proc before the masks
     * that cover its files, masks and binds before pivot_root. */
    CHECK(at(&l, SETUP_STAGE, -1) < at(&l, SETUP_INIT_LAYER, -1));
    CHECK_INT(at(&l, SETUP_INIT_LAYER, -1) + 1, at(&l, SETUP_OVERLAY, -1));
    CHECK(at(&l, SETUP_OVERLAY, -1) < at(&l, SETUP_MOUNT_PROC, -1));
    CHECK(at(&l, SETUP_MOUNT_PROC, -1) < at(&l, SETUP_MASK, SETUP_MASK_PROC));
    CHECK(at(&l, SETUP_MOUNT_SYS, -1) < at(&l, SETUP_MASK, SETUP_MASK_SYS));
    CHECK(at(&l, SETUP_MOUNT_DEV, -1) < at(&l, SETUP_DEV_NODE, 0));
    /* A user namespace keeps the host's nodes bound in (arg 0). */
    CHECK_INT(at(&l, SETUP_MOUNT_DEV, 0), at(&l, SETUP_MOUNT_DEV, -1));
    CHECK(at(&l, SETUP_DEV_NODE, 0) < at(&l, SETUP_DEV_FS, -1));
    /* The read-only paths (all below /proc) and the masks below /proc
     * before the hand-over, the masks below /sys after /sys; all before the
     * binds. */
    CHECK(at(&l, SETUP_MOUNT_PROC, -1) < at(&l, SETUP_READONLY, -1));
    CHECK(at(&l, SETUP_READONLY, -1) < at(&l, SETUP_HANDOVER, -1));
    CHECK(at(&l, SETUP_MASK, SETUP_MASK_PROC) < at(&l, SETUP_HANDOVER, -1));
    CHECK(at(&l, SETUP_MOUNT_DEV, -1) < at(&l, SETUP_HANDOVER, -1));
    CHECK_INT(nth(&l, SETUP_MASK, 0), at(&l, SETUP_MASK, SETUP_MASK_PROC));
    CHECK_INT(nth(&l, SETUP_MASK, 1), at(&l, SETUP_MASK, SETUP_MASK_SYS));
    CHECK_INT(nth(&l, SETUP_MASK, 2), -1);
    CHECK(at(&l, SETUP_MASK, SETUP_MASK_PROC) < at(&l, SETUP_BIND, 0));
    CHECK(at(&l, SETUP_READONLY, -1) < at(&l, SETUP_BIND, 0));
    CHECK(at(&l, SETUP_BIND, 0) < at(&l, SETUP_BIND, 1));
    CHECK(at(&l, SETUP_BIND, 1) < at(&l, SETUP_SECRET, 0));
    CHECK(at(&l, SETUP_SECRET, 0) < at(&l, SETUP_PIVOT, -1));
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_RESOLV) < at(&l, SETUP_PIVOT, -1));
    /* The generated files on top of the binds and secrets (which could cover /etc). */
    CHECK(at(&l, SETUP_SECRET, 0) < at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME));
    CHECK(at(&l, SETUP_SECRET, 0) < at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTS));
    /* keel's hand-over (pins, the network namespace) is taken after the
     * pivot and the old root's detach: only the network namespace's join,
     * sysfs (it shows its mounter's network devices), on the new root, and
     * the masks below it follow; the child runs nothing of the image before. */
    CHECK(at(&l, SETUP_PIVOT, -1) < at(&l, SETUP_HANDOVER, -1));
    CHECK(at(&l, SETUP_USER, -1) < at(&l, SETUP_HANDOVER, -1));
    CHECK(at(&l, SETUP_OOM_SCORE, -1) < at(&l, SETUP_HANDOVER, -1));
    /* ... and through the host's /proc, before the pivot (no entry of the
     * child's in the container's /proc for the reap to invalidate). */
    CHECK(at(&l, SETUP_OOM_SCORE, -1) < at(&l, SETUP_STAGE, -1));
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTS) < at(&l, SETUP_HANDOVER, -1));
    CHECK_INT(at(&l, SETUP_HANDOVER, -1) + 1, at(&l, SETUP_JOIN_NS, CNS_NET));
    CHECK_INT(at(&l, SETUP_JOIN_NS, CNS_NET) + 1, at(&l, SETUP_MOUNT_SYS, -1));
    CHECK_INT(at(&l, SETUP_MOUNT_SYS, -1) + 1, at(&l, SETUP_MASK, SETUP_MASK_SYS));
    /* Those open fds: before the limits. */
    CHECK_INT(at(&l, SETUP_MASK, SETUP_MASK_SYS) + 1, at(&l, SETUP_RLIMITS, -1));
    /* The image's /etc/passwd only after pivot_root. */
    CHECK(at(&l, SETUP_PIVOT, -1) < at(&l, SETUP_USER, -1));
    /* Everything needing keel's privileges before the user namespace, which
     * is joined last and right before the capabilities. */
    int uns = at(&l, SETUP_JOIN_NS, CNS_USER);
    CHECK(uns > at(&l, SETUP_RLIMITS, -1));
    CHECK(uns > at(&l, SETUP_OOM_SCORE, -1));
    /* No fd is opened between the limits and the close of keel's fds. */
    CHECK(at(&l, SETUP_OOM_SCORE, -1) < at(&l, SETUP_RLIMITS, -1));
    CHECK(uns > at(&l, SETUP_GIVE_OUTPUT, -1));
    CHECK(uns > at(&l, SETUP_PIVOT, -1));
    CHECK(uns < at(&l, SETUP_CAPS, -1));
    CHECK_INT(setup_find(&l, SETUP_JOIN_NS, -1, (size_t)uns + 1), -1);
    /* The parent-death signal again after the uid change, then the check. */
    CHECK(nth(&l, SETUP_PDEATHSIG, 1) > at(&l, SETUP_CAPS, -1));
    CHECK_INT(at(&l, SETUP_KEEL_ALIVE, -1), nth(&l, SETUP_PDEATHSIG, 1) + 1);
    /* no_new_privs: seccomp last before the execve, after the fds are closed. */
    CHECK_INT(nth(&l, SETUP_SECCOMP, 1), -1);
    CHECK(at(&l, SETUP_SECCOMP, 1) > at(&l, SETUP_CLOSE_FDS, -1));
    CHECK(at(&l, SETUP_SECCOMP, 1) > at(&l, SETUP_SIGNALS, -1));
    CHECK_INT(at(&l, SETUP_SECCOMP, 1), (int)l.n - 2);
    CHECK_INT(at(&l, SETUP_EXEC, -1), (int)l.n - 1);
    CHECK(at(&l, SETUP_NO_NEW_PRIVS, -1) > at(&l, SETUP_CAPS, -1));
    CHECK(at(&l, SETUP_STDIO, -1) < at(&l, SETUP_CLOSE_FDS, -1));
    setup_list_free(&l);
    CHECK(l.op == NULL && l.n == 0);
}

/* Without binds and secrets (nothing that could cover /etc after them),
 * /etc/hostname and /etc/resolv.conf, made before the clone, are bound
 * before the hand-over (the child would wait there); /etc/hosts, handed
 * over, after it.  With a bind, all three after the binds. */
TEST(start_etc_files_early)
{
    struct container_spec c = spec();
    c.n_mounts = 0;
    c.n_secrets = 0;
    struct setup_facts f;
    setup_facts_of_spec(&c, &f);
    struct setup_list l;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    int ho = at(&l, SETUP_HANDOVER, -1);
    CHECK(at(&l, SETUP_MOUNT_PROC, -1) < at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME));
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME) < ho);
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_RESOLV) < ho);
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTS) < ho);
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTS) < at(&l, SETUP_PIVOT, -1));
    CHECK_INT(nth(&l, SETUP_ETC_FILE, 3), -1);
    /* Each once, and in the init layer. */
    CHECK_INT(setup_find(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME, (size_t)at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME) + 1), -1);
    CHECK_INT(setup_find(&l, SETUP_ETC_FILE, SETUP_FILE_RESOLV, (size_t)at(&l, SETUP_ETC_FILE, SETUP_FILE_RESOLV) + 1), -1);
    int etc = 0;
    for (size_t i = 0; i < l.n_init; i++)
        etc += strncmp(l.init[i].path, "/etc/", 5) == 0;
    CHECK_INT(etc, 3);
    setup_list_free(&l);

    /* A secret alone keeps them after it. */
    c.n_secrets = 1;
    setup_facts_of_spec(&c, &f);
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME) > at(&l, SETUP_SECRET, 0));
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_RESOLV) > at(&l, SETUP_SECRET, 0));
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME) < at(&l, SETUP_HANDOVER, -1));
    setup_list_free(&l);
}

/* The pivot stays after the hand-over where something must go on top of
 * what follows it: a bind or secret below /sys (on top of sysfs, however
 * the path is spelled), or an /etc/hosts that comes with the hand-over (on
 * top of the binds).  Then the order is the one before the reorder. */
TEST(start_pivot_late)
{
    static char *sys_targets[] = { "/sys/fs/bpf", "/sys", "//sys/kernel", "/./sys/x" };
    for (size_t k = 0; k <= sizeof sys_targets / sizeof sys_targets[0]; k++) {
        struct container_spec c = spec();
        struct bind_mount m[2] = { mounts[0], mounts[1] };
        struct secret_spec sec = secrets[0];
        struct setup_facts f;
        setup_facts_of_spec(&c, &f);
        if (k < sizeof sys_targets / sizeof sys_targets[0]) {
            /* Alternately a bind's target and a secret's. */
            if (k % 2)
                sec.target = sys_targets[k];
            else
                m[1].target = sys_targets[k];
        } else {
            f.hosts_late = true;
        }
        c.mounts = m;
        c.secrets = &sec;
        struct setup_list l;
        CHECK_INT(setup_plan_start(&c, &f, &l), 0);
        int ho = at(&l, SETUP_HANDOVER, -1);
        CHECK(ho > at(&l, SETUP_MASK, SETUP_MASK_PROC));
        CHECK_INT(at(&l, SETUP_MOUNT_SYS, -1) + 1, at(&l, SETUP_MASK, SETUP_MASK_SYS));
        CHECK(at(&l, SETUP_MASK, SETUP_MASK_SYS) < at(&l, SETUP_BIND, 0));
        CHECK(at(&l, SETUP_BIND, 1) < at(&l, SETUP_SECRET, 0));
        CHECK(at(&l, SETUP_SECRET, 0) < at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME));
        CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTS) > ho);
        CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_RESOLV) < at(&l, SETUP_PIVOT, -1));
        CHECK(at(&l, SETUP_PIVOT, -1) < at(&l, SETUP_USER, -1));
        CHECK(at(&l, SETUP_OOM_SCORE, -1) < at(&l, SETUP_RLIMITS, -1));
        CHECK(at(&l, SETUP_RLIMITS, -1) < at(&l, SETUP_JOIN_NS, CNS_USER));
        setup_list_free(&l);
    }
    /* A name that only starts with "sys" is not below /sys. */
    struct container_spec c = spec();
    struct bind_mount m[2] = { mounts[0], { .source = "/x", .target = "/sysroot" } };
    c.mounts = m;
    struct setup_facts f;
    setup_facts_of_spec(&c, &f);
    struct setup_list l;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK(at(&l, SETUP_PIVOT, -1) < at(&l, SETUP_HANDOVER, -1));
    setup_list_free(&l);
}

/* Keel in a user namespace mounts sysfs only while its own /sys is in
 * sight (the kernel's mount_too_revealing): before the old root's detach,
 * so the pivot follows the hand-over and sysfs there. */
TEST(start_pivot_late_keel_userns)
{
    struct container_spec c = spec();
    struct setup_facts f;
    setup_facts_of_spec(&c, &f);
    CHECK(!f.keel_userns);
    struct setup_list l;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK(at(&l, SETUP_PIVOT, -1) < at(&l, SETUP_MOUNT_SYS, -1));
    setup_list_free(&l);
    f.keel_userns = true;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK(at(&l, SETUP_MOUNT_SYS, -1) < at(&l, SETUP_PIVOT, -1));
    CHECK(at(&l, SETUP_HANDOVER, -1) < at(&l, SETUP_MOUNT_SYS, -1));
    setup_list_free(&l);
}

/* A standby waits with everything of a start done that opens, mounts or
 * changes credentials, and only the close of keel's fds, the signal reset,
 * a last filter and the exec left: nothing it waits on can be undone. */
TEST(start_standby)
{
    struct container_spec c = spec();
    struct setup_facts f;
    setup_facts_of_spec(&c, &f);
    CHECK(!f.standby);
    struct setup_list l;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK_INT(at(&l, SETUP_STANDBY_WAIT, -1), -1);
    setup_list_free(&l);
    c.standby = true;
    setup_facts_of_spec(&c, &f);
    CHECK(f.standby);
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    int w = at(&l, SETUP_STANDBY_WAIT, -1);
    CHECK_INT(w, at(&l, SETUP_EXEC, -1) - 1);
    CHECK_INT(nth(&l, SETUP_STANDBY_WAIT, 1), -1);
    static const enum setup_op_type before[] = { SETUP_PIVOT, SETUP_USER, SETUP_CAPS, SETUP_KEEL_ALIVE,
                                                 SETUP_NO_NEW_PRIVS, SETUP_STDIO, SETUP_ENV, SETUP_WORKDIR,
                                                 SETUP_CLOSE_FDS, SETUP_SIGNALS };
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++)
        CHECK(at(&l, before[i], -1) >= 0 && at(&l, before[i], -1) < w);
    CHECK(at(&l, SETUP_JOIN_NS, CNS_USER) < w);
    CHECK(at(&l, SETUP_SECCOMP, 1) >= 0 && at(&l, SETUP_SECCOMP, 1) < w);
    /* A start's steps and no other: it waits in the exec stub, not with
     * keel's binary as its exe, so nothing makes it non-dumpable as a
     * start's setup child is not (the list is the start's plus the wait). */
    struct setup_list l2;
    c.standby = false;
    setup_facts_of_spec(&c, &f);
    CHECK_INT(setup_plan_start(&c, &f, &l2), 0);
    CHECK_INT((int)l.n, (int)l2.n + 1);
    for (size_t i = 0, j = 0; i < l.n; i++)
        if (l.op[i].type != SETUP_STANDBY_WAIT)
            CHECK(j < l2.n && l.op[i].type == l2.op[j++].type);
    CHECK_INT(at(&l, SETUP_NOT_DUMPABLE, -1), -1);
    setup_list_free(&l);
    setup_list_free(&l2);
}

TEST(start_variants)
{
    struct container_spec c = spec();
    c.no_new_privs = false;
    c.ready = READY_FD;
    c.ready_fd = 5;
    c.n_devices = 0;
    struct setup_facts f = { .ready_fd = true, .seccomp = true };
    struct setup_list l;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    /* Without no_new_privs the filter goes in while CAP_SYS_ADMIN is held. */
    CHECK(at(&l, SETUP_SECCOMP, 0) >= 0 && at(&l, SETUP_SECCOMP, 0) < at(&l, SETUP_CAPS, -1));
    CHECK_INT(at(&l, SETUP_SECCOMP, 1), -1);
    CHECK_INT(at(&l, SETUP_NO_NEW_PRIVS, -1), -1);
    /* Nothing to join, no devices, no resolv.conf. */
    CHECK_INT(at(&l, SETUP_JOIN_NS, -1), -1);
    CHECK_INT(at(&l, SETUP_DEV_NODE, -1), -1);
    CHECK_INT(at(&l, SETUP_ETC_FILE, SETUP_FILE_RESOLV), -1);
    CHECK(at(&l, SETUP_ETC_FILE, SETUP_FILE_HOSTS) >= 0);
    /* The ready fd placed after stdio, before the close that keeps it. */
    CHECK(at(&l, SETUP_STDIO, -1) < at(&l, SETUP_READY_FD, -1));
    CHECK(at(&l, SETUP_READY_FD, -1) < at(&l, SETUP_CLOSE_FDS, -1));
    CHECK_INT(at(&l, SETUP_EXEC, -1), (int)l.n - 1);
    /* Without a user namespace the bounding set is cut before the hand-over
     * (where the child may wait), once. */
    CHECK(at(&l, SETUP_BOUNDING, -1) >= 0 && at(&l, SETUP_BOUNDING, -1) < at(&l, SETUP_HANDOVER, -1));
    CHECK_INT(setup_find(&l, SETUP_BOUNDING, -1, (size_t)at(&l, SETUP_BOUNDING, -1) + 1), -1);
    setup_list_free(&l);
    /* With one, the join gives a full set again: only SETUP_CAPS, after it. */
    f.userns = true;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK_INT(at(&l, SETUP_BOUNDING, -1), -1);
    CHECK(at(&l, SETUP_JOIN_NS, CNS_USER) < at(&l, SETUP_CAPS, -1));
    setup_list_free(&l);

    struct setup_facts none = { 0 };
    CHECK_INT(setup_plan_start(&c, &none, &l), 0);
    CHECK_INT(at(&l, SETUP_SECCOMP, -1), -1);
    CHECK_INT(at(&l, SETUP_READY_FD, -1), -1);
    /* No user namespace, no CAP_MKNOD: keel makes the nodes (arg 1). */
    CHECK_INT(at(&l, SETUP_MOUNT_DEV, 1), at(&l, SETUP_MOUNT_DEV, -1));
    setup_list_free(&l);
    /* With CAP_MKNOD the container could make nodes too: a nodev /dev with binds. */
    c.caps |= UINT64_C(1) << 27;   /* CAP_MKNOD */
    CHECK_INT(setup_plan_start(&c, &none, &l), 0);
    CHECK_INT(at(&l, SETUP_MOUNT_DEV, 0), at(&l, SETUP_MOUNT_DEV, -1));
    setup_list_free(&l);
}

TEST(exec_order)
{
    struct container_spec c = spec();
    c.workdir = "/srv";
    struct setup_exec_facts f = { .cgroup = true, .userns = true, .seccomp = true, .tty = true };
    struct setup_list l;
    CHECK_INT(setup_plan_exec(&c, &f, &l), 0);
    /* Non-dumpable and out of keel's session before anything else. */
    CHECK_INT(at(&l, SETUP_NOT_DUMPABLE, -1), 0);
    CHECK_INT(at(&l, SETUP_SESSION, -1), 1);
    /* oom_score_adj through keel's /proc: before any namespace is joined. */
    CHECK(at(&l, SETUP_OOM_SCORE, -1) < at(&l, SETUP_JOIN_CGROUP, -1));
    CHECK(at(&l, SETUP_OOM_SCORE, -1) < at(&l, SETUP_JOIN_NS, -1));
    /* The pinned namespaces, mount last of them; all before the fds close. */
    int mnt = at(&l, SETUP_JOIN_NS, CNS_MNT);
    for (int ns = 0; ns < CNS_MNT; ns++)
        CHECK(at(&l, SETUP_JOIN_NS, ns) >= 0 && at(&l, SETUP_JOIN_NS, ns) < mnt);
    CHECK(mnt < at(&l, SETUP_CLOSE_FDS, -1));
    /* keel's fds closed before the fork into the PID namespace. */
    CHECK(at(&l, SETUP_CLOSE_FDS, -1) < at(&l, SETUP_ENTER_PID, -1));
    CHECK(at(&l, SETUP_ENTER_PID, -1) < at(&l, SETUP_USER, -1));
    /* The user namespace last of all, after the limits, before the caps. */
    int uns = at(&l, SETUP_JOIN_NS, CNS_USER);
    CHECK(uns > at(&l, SETUP_RLIMITS, -1) && uns > mnt);
    CHECK(uns < at(&l, SETUP_CAPS, -1));
    CHECK_INT(setup_find(&l, SETUP_JOIN_NS, -1, (size_t)uns + 1), -1);
    /* Non-dumpable and the parent-death signal again after the credential change. */
    CHECK(nth(&l, SETUP_NOT_DUMPABLE, 1) > at(&l, SETUP_CAPS, -1));
    CHECK(nth(&l, SETUP_PDEATHSIG, 1) > at(&l, SETUP_CAPS, -1));
    /* A session of its own again (the fork left it in the helper's), then the tty. */
    CHECK(nth(&l, SETUP_SESSION, 1) > at(&l, SETUP_ENTER_PID, -1));
    CHECK_INT(at(&l, SETUP_CTTY, -1), nth(&l, SETUP_SESSION, 1) + 1);
    CHECK(at(&l, SETUP_WORKDIR, -1) > at(&l, SETUP_CAPS, -1));
    CHECK_INT(at(&l, SETUP_SECCOMP, 1), (int)l.n - 2);
    CHECK_INT(at(&l, SETUP_EXEC, -1), (int)l.n - 1);
    /* What only a container start does. */
    CHECK_INT(at(&l, SETUP_OVERLAY, -1), -1);
    CHECK_INT(at(&l, SETUP_STDIO, -1), -1);
    CHECK_INT(at(&l, SETUP_KEEL_ALIVE, -1), -1);
    setup_list_free(&l);

    c.workdir = NULL;
    c.no_new_privs = false;
    struct setup_exec_facts g = { .seccomp = true };
    CHECK_INT(setup_plan_exec(&c, &g, &l), 0);
    CHECK_INT(at(&l, SETUP_JOIN_CGROUP, -1), -1);
    CHECK_INT(at(&l, SETUP_JOIN_NS, CNS_USER), -1);
    CHECK_INT(at(&l, SETUP_CTTY, -1), -1);
    CHECK_INT(at(&l, SETUP_WORKDIR, -1), -1);
    CHECK(at(&l, SETUP_SECCOMP, 0) >= 0 && at(&l, SETUP_SECCOMP, 0) < at(&l, SETUP_CAPS, -1));
    CHECK_INT(at(&l, SETUP_NO_NEW_PRIVS, -1), -1);
    setup_list_free(&l);
}

/* The init layer holds every mount point the list uses, each once: the
 * kernel's file systems and generated files shadow the image's, bind targets
 * resolve as the image has them (and follow their source's type). */
TEST(init_layer_points)
{
    struct container_spec c = spec();
    struct setup_facts f;
    setup_facts_of_spec(&c, &f);
    struct setup_list l;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    static const struct { const char *path; char kind; bool shadow; } want[] = {
        { "/proc", 'd', true }, { "/dev", 'd', true }, { "/data", 's', false }, { "/var/log", 's', false },
        { "/run/secrets/db", 'f', false }, { "/sys", 'd', true }, { "/etc/hostname", 'f', true },
        { "/etc/hosts", 'f', true }, { "/etc/resolv.conf", 'f', true },
    };
    CHECK_INT((int)l.n_init, (int)(sizeof want / sizeof want[0]));
    for (size_t i = 0; i < l.n_init && i < sizeof want / sizeof want[0]; i++) {
        CHECK_STR(l.init[i].path, want[i].path);
        CHECK(l.init[i].kind == want[i].kind && l.init[i].shadow == want[i].shadow);
    }
    CHECK_STR(l.init[2].source, "/data");
    setup_list_free(&l);
    CHECK(l.init == NULL && l.n_init == 0);

    /* No generated resolv.conf: no mount point for it.  An exec makes no root. */
    f.resolv = false;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK_STR(l.init[l.n_init - 1].path, "/etc/hosts");
    setup_list_free(&l);
    struct setup_exec_facts g = { 0 };
    CHECK_INT(setup_plan_exec(&c, &g, &l), 0);
    CHECK_INT((int)l.n_init, 0);
    CHECK_INT(at(&l, SETUP_INIT_LAYER, -1), -1);
    setup_list_free(&l);
}

static char *print(const struct container_spec *c, const struct setup_facts *f)
{
    struct setup_list l;
    if (setup_plan_start(c, f, &l) < 0)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out) {
        setup_print(c, &l, out);
        fclose(out);
    }
    setup_list_free(&l);
    return buf;
}

/* The printed plan is the list, line by line, in the order it runs. */
TEST(printed_plan)
{
    struct container_spec c = spec();
    struct setup_facts f;
    setup_facts_of_spec(&c, &f);
    char *p = print(&c, &f);
    CHECK(p != NULL);
    if (!p)
        return;
    const char *want[] = {
        "  parent-death signal: SIGKILL\n",
        "  session: its own, no controlling terminal\n",
        "  hostname: web\n",
        "  init layer: keel's, on top of the layers, with the mount points /proc/ /dev/ /data(=source) "
        "/var/log(=source) /run/secrets/db /sys/ /etc/hostname /etc/hosts /etc/resolv.conf\n",
        "  root: overlay lowerdir=(init layer):/l/top:/l/base upper=tmpfs (nodev, nosuid)\n",
        "  mount: proc /proc (nosuid, nodev, noexec)\n",
        "  mount: tmpfs /dev (nodev; null zero full random urandom tty bound read-only from the host's)\n",
        "  device: /dev/fuse -> /dev/fuse (the host's node, bound read-only)\n",
        "  read-only: /proc/bus ",
        "  masked: /proc/acpi ",
        "  bind: /data -> /data (ro, nodev, nosuid)\n",
        "  bind: /logs -> /var/log (rw, nodev, nosuid)\n",
        "  secret: /etc/keel/db.pass -> /run/secrets/db (copied at each start into the container's tmpfs; 1000:50 0440, "
        "read-only, nosuid, nodev, noexec)\n",
        "  file: /etc/hosts ",
        "  file: /etc/resolv.conf ",
        "  enter: pivot_root, old root detached\n",
        "  user: root (resolved in the container's /etc/passwd)\n",
        "  wait: keel's hand-over (namespaces pinned, the network namespace)\n",
        "  join: network namespace\n",
        "  mount: sysfs /sys",
        "  masked: /sys/firmware /sys/devices/virtual/powercap\n",
        "    rlimit nofile = 1024:524288 (default)\n",
        "  join: user namespace (last)\n",
        "  capabilities: ",
        "  parent-death signal: SIGKILL (again: the uid change cleared it)\n",
        "  workdir: /\n",
        "  no_new_privs: yes\n",
        "  close: every other fd\n",
        "    seccomp: default, EPERM for ",
        "  exec = /bin/sh -c 'echo '\\''hi'\\'''\n",
    };
    const char *at_ = p;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *hit = strstr(at_, want[i]);
        if (!hit)
            fprintf(stderr, "  missing, or out of order: %s", want[i]);
        CHECK(hit != NULL);
        if (hit)
            at_ = hit + strlen(want[i]);
    }
    CHECK(strstr(p, "/dev/keel-notify") == NULL);
    free(p);

    c.seccomp = SECCOMP_UNCONFINED;
    c.no_new_privs = false;
    c.n_mounts = 0;
    setup_facts_of_spec(&c, &f);
    p = print(&c, &f);
    CHECK(p && strstr(p, "  workdir: /\n  no_new_privs: no\n"));
    CHECK(p && strstr(p, "    seccomp: unconfined\n  exec = "));
    CHECK(p && !strstr(p, "bind:"));
    free(p);

    /* No user namespace, no CAP_MKNOD: keel's own nodes on a /dev without nodev. */
    c.userns = USERNS_NO;
    setup_facts_of_spec(&c, &f);
    p = print(&c, &f);
    CHECK(p && strstr(p, "  mount: tmpfs /dev (null zero full random urandom tty made as the host's: numbers, owners, "
                         "modes; bound read-only on a nodev /dev where mknod is refused)\n"));
    free(p);
}

/* setgroups denied in keel's user namespace (unshare --map-root-user): the
 * start's and the exec's SETUP_CAPS say so (the child then leaves the groups
 * as they are, or refuses a user with supplementary groups), and so does the
 * plan; otherwise they set the groups and the plan says nothing of them. */
TEST(groups_denied)
{
    struct container_spec c = spec();
    struct setup_facts f;
    setup_facts_of_spec(&c, &f);
    CHECK(!f.groups_denied);
    struct setup_list l;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK(at(&l, SETUP_CAPS, SETUP_GROUPS_SET) >= 0 && at(&l, SETUP_CAPS, SETUP_GROUPS_DENIED) < 0);
    setup_list_free(&l);
    char *p = print(&c, &f);
    CHECK(p && !strstr(p, "groups:"));
    free(p);

    f.groups_denied = true;
    CHECK_INT(setup_plan_start(&c, &f, &l), 0);
    CHECK(at(&l, SETUP_CAPS, SETUP_GROUPS_DENIED) >= 0 && at(&l, SETUP_CAPS, SETUP_GROUPS_SET) < 0);
    setup_list_free(&l);
    p = print(&c, &f);
    CHECK(p && strstr(p, "  groups: not set (setgroups denied in keel's user namespace): the namespace creator's are "
                         "kept; a user with mapped supplementary groups in the container's /etc/group is refused\n"
                         "  capabilities: "));
    free(p);

    struct setup_exec_facts e = { .userns = true, .groups_denied = true };
    CHECK_INT(setup_plan_exec(&c, &e, &l), 0);
    CHECK(at(&l, SETUP_CAPS, SETUP_GROUPS_DENIED) >= 0 && at(&l, SETUP_CAPS, SETUP_GROUPS_SET) < 0);
    setup_list_free(&l);
    e.groups_denied = false;
    CHECK_INT(setup_plan_exec(&c, &e, &l), 0);
    CHECK(at(&l, SETUP_CAPS, SETUP_GROUPS_SET) >= 0 && at(&l, SETUP_CAPS, SETUP_GROUPS_DENIED) < 0);
    setup_list_free(&l);
}

int main(void)
{
    RUN(start_order);
    RUN(start_etc_files_early);
    RUN(start_pivot_late);
    RUN(start_pivot_late_keel_userns);
    RUN(start_standby);
    RUN(start_variants);
    RUN(exec_order);
    RUN(init_layer_points);
    RUN(printed_plan);
    RUN(groups_denied);
    return unit_done();
}
