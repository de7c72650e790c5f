/* setup.c — a container's set-up as a list of operations, see setup.h.
 * Pure: no system call here; container.c runs the list. */
#include "keel/setup.h"
#include "keel/caps.h"
#include "keel/mount.h"
#include "keel/rlimit.h"
#include "keel/seccomp.h"
#include "keel/util.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int type; } ns_table[CNS_N] = {
    [CNS_CGROUP] = { "cgroup", CLONE_NEWCGROUP }, [CNS_IPC] = { "ipc", CLONE_NEWIPC },
    [CNS_UTS] = { "uts", CLONE_NEWUTS }, [CNS_NET] = { "net", CLONE_NEWNET },
    [CNS_PID] = { "pid", CLONE_NEWPID }, [CNS_MNT] = { "mnt", CLONE_NEWNS },
    [CNS_USER] = { "user", CLONE_NEWUSER },
};

const char *setup_ns_name(int cns)
{
    return cns >= 0 && cns < CNS_N ? ns_table[cns].name : "?";
}

int setup_ns_type(int cns)
{
    return cns >= 0 && cns < CNS_N ? ns_table[cns].type : 0;
}

struct builder {
    struct setup_list *l;
    size_t cap;
    bool oom;
};

static void add(struct builder *b, enum setup_op_type type, int arg)
{
    if (b->oom)
        return;
    if (b->l->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 48;
        struct setup_op *op = realloc(b->l->op, cap * sizeof *op);
        if (!op) {
            b->oom = true;
            return;
        }
        b->l->op = op;
        b->cap = cap;
    }
    b->l->op[b->l->n++] = (struct setup_op){ type, arg };
}

/* A mount point of the init layer. */
static void point(struct builder *b, const char *path, const char *source, char kind, bool shadow)
{
    if (b->oom)
        return;
    struct mount_point *p = realloc(b->l->init, (b->l->n_init + 1) * sizeof *p);
    if (!p) {
        b->oom = true;
        return;
    }
    b->l->init = p;
    p[b->l->n_init++] = (struct mount_point){ path, source, kind, shadow };
}

/* The mount points of the ops of a start's list, for its init layer: the
 * kernel's file systems and the generated files shadow whatever the image
 * has there (a symlink /etc/resolv.conf gets keel's file, as with Docker);
 * bind targets resolve inside the root as the image has them. */
static void plan_init_layer(struct builder *b, const struct container_spec *c)
{
    for (size_t k = 0; k < b->l->n && !b->oom; k++) {
        const struct setup_op *op = &b->l->op[k];
        switch (op->type) {
        case SETUP_MOUNT_PROC:
            point(b, "/proc", NULL, 'd', true);
            break;
        case SETUP_MOUNT_SYS:
            point(b, "/sys", NULL, 'd', true);
            break;
        case SETUP_MOUNT_DEV:   /* keel's tmpfs: everything below it is keel's too */
            point(b, "/dev", NULL, 'd', true);
            break;
        case SETUP_BIND:
            point(b, c->mounts[op->arg].target, c->mounts[op->arg].source, 's', false);
            break;
        case SETUP_SECRET:
            point(b, c->secrets[op->arg].target, NULL, 'f', false);
            break;
        default:   /* the generated files below, together */
            break;
        }
    }
    /* Last and in this order wherever the list binds them: mount_init_layer
     * looks their one parent up once. */
    static const char *const etc[] = { [SETUP_FILE_HOSTNAME] = "/etc/hostname", [SETUP_FILE_HOSTS] = "/etc/hosts",
                                       [SETUP_FILE_RESOLV] = "/etc/resolv.conf" };
    for (int i = SETUP_FILE_HOSTNAME; i <= SETUP_FILE_RESOLV; i++)
        if (setup_find(b->l, SETUP_ETC_FILE, i, 0) >= 0)
            point(b, etc[i], NULL, 'f', true);
    /* A workdir the image lacks is made, as Docker's WORKDIR is (an image's
     * WorkingDir need not exist in its layers). */
    if (c->workdir && strcmp(c->workdir, "/") != 0 && !b->oom)
        point(b, c->workdir, NULL, 'd', false);
}

static int finish(struct builder *b)
{
    if (!b->oom)
        return 0;
    setup_list_free(b->l);
    return -ENOMEM;
}

/* Whether a bind or secret target is /sys or below it (as written: "//sys"
 * and "/./sys" too): it must be mounted on top of sysfs. */
static bool below_sys(const char *path)
{
    const char *p = path;
    while (*p == '/' || (p[0] == '.' && (p[1] == '/' || !p[1])))
        p++;
    return strncmp(p, "sys", 3) == 0 && (p[3] == '/' || !p[3]);
}

static bool sys_targets(const struct container_spec *c)
{
    for (size_t i = 0; i < c->n_mounts; i++)
        if (below_sys(c->mounts[i].target))
            return true;
    for (size_t i = 0; i < c->n_secrets; i++)
        if (below_sys(c->secrets[i].target))
            return true;
    return false;
}

static void add_binds(struct builder *b, const struct container_spec *c)
{
    for (size_t i = 0; i < c->n_mounts; i++)
        add(b, SETUP_BIND, (int)i);
    /* After the binds: a secret's target may be inside a bound directory
     * (where the host's file shows under the copy, never instead of it). */
    for (size_t i = 0; i < c->n_secrets; i++)
        add(b, SETUP_SECRET, (int)i);
}

/* pivot_root, then what needs the new root and keel's privileges in the
 * initial user namespace but nothing of keel's after the clone. */
static void add_pivot(struct builder *b)
{
    add(b, SETUP_PIVOT, 0);
    /* The image's own /etc/passwd, read after pivot_root. */
    add(b, SETUP_USER, 0);
    add(b, SETUP_GIVE_OUTPUT, 0);
    add(b, SETUP_ENV, 0);
}

void setup_facts_of_spec(const struct container_spec *c, struct setup_facts *f)
{
    *f = (struct setup_facts){
        .join_netns = c->net != NET_HOST,
        .userns = c->userns != USERNS_NO,
        .seccomp = c->seccomp != SECCOMP_UNCONFINED,
        .ready_fd = c->ready == READY_FD,
        .notify = c->ready == READY_NOTIFY,
        .resolv = true,
        .standby = c->standby,
    };
}

int setup_plan_start(const struct container_spec *c, const struct setup_facts *f, struct setup_list *out)
{
    *out = (struct setup_list){ 0 };
    struct builder b = { .l = out };
    /* The container dies with keel rather than outliving its supervisor. */
    add(&b, SETUP_PDEATHSIG, 0);
    /* A session of its own, without a controlling terminal: keel's (the
     * admin's SSH or console session under `keel run`) would otherwise be
     * /dev/tty in the container, where TIOCSTI types commands into the
     * admin's shell and a read takes the admin's keystrokes. */
    add(&b, SETUP_SESSION, 0);
    add(&b, SETUP_HOSTNAME, 0);
    /* Always set: a container would otherwise inherit keel's own -1000.  It
     * opens an fd (before SETUP_RLIMITS) below the host's /proc, before the
     * pivot, where the child's /proc/PID entry is already there (its status
     * was read at the start): through the container's /proc it would add
     * entries there too, which the kernel invalidates one by one when the
     * container's process is reaped. */
    add(&b, SETUP_OOM_SCORE, 0);
    /* The root: private tree and stage first, the overlay before anything
     * inside it, /proc before the masks that cover its files, everything
     * before pivot_root (which leaves keel's tree behind). */
    add(&b, SETUP_STAGE, 0);
    add(&b, SETUP_INIT_LAYER, 0);
    add(&b, SETUP_OVERLAY, 0);
    add(&b, SETUP_MOUNT_PROC, 0);
    /* The standard nodes made with mknod (arg 1) where the container cannot
     * make a node itself: no CAP_MKNOD, no user namespace (whose root's nodes
     * the host's would not match in owner). */
    add(&b, SETUP_MOUNT_DEV, !f->userns && !(c->caps & (UINT64_C(1) << CAP_MKNOD)));
    /* `device =` nodes after the standard ones, before /dev's directories. */
    for (size_t i = 0; i < c->n_devices; i++)
        add(&b, SETUP_DEV_NODE, (int)i);
    add(&b, SETUP_DEV_FS, 0);
    if (f->notify)
        add(&b, SETUP_NOTIFY_SOCKET, 0);
    /* All below /proc, which is there; so are the masks below it. */
    add(&b, SETUP_READONLY, 0);
    add(&b, SETUP_MASK, SETUP_MASK_PROC);
    /* Up to the hand-over the child needs nothing keel makes after the
     * clone: keel pins the namespaces and prepares the network namespace
     * meanwhile, on the other CPU (container_hand_over), which with a bridge
     * takes longer than the child's mounts.  So all that can, goes before
     * it: the binds and secrets (their sources are host paths: before
     * pivot_root), the generated files (/etc/hosts too, when keel made its
     * live copy before the clone and fills it before the hand-over), the
     * pivot and the old root's detach, the image's /etc/passwd.  Only what
     * needs the network namespace follows it: sysfs (it shows the network
     * devices of its mounter's namespace), mounted on the new root, and the
     * masks below it.  A bind or secret below /sys must go on top of sysfs,
     * and an /etc/hosts that comes with the hand-over on top of the binds:
     * then the binds, the files and the pivot follow the hand-over. */
    /* Keel in a user namespace may mount sysfs only while a whole one is in
     * sight in its mount namespace (the kernel's mount_too_revealing): before
     * the old root's detach, so the pivot follows the hand-over there. */
    bool early = !f->hosts_late && !f->keel_userns && !sys_targets(c);
    /* The generated files before the hand-over too when no bind or secret
     * follows it that could cover /etc (they must be on top). */
    bool etc_early = early || (c->n_mounts == 0 && c->n_secrets == 0);
    if (early)
        add_binds(&b, c);
    if (etc_early) {
        add(&b, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME);
        if (early)
            add(&b, SETUP_ETC_FILE, SETUP_FILE_HOSTS);
        if (f->resolv)
            add(&b, SETUP_ETC_FILE, SETUP_FILE_RESOLV);
    }
    if (early)
        add_pivot(&b);
    /* The bounding set's drops (one commit_creds each, ~45 us for the
     * default set) change nothing the set-up uses (the capabilities held stay
     * as they are): here, they go where the child may wait for keel (a
     * bridge takes longer than the mounts), not after it.  With a user
     * namespace the kernel gives a full set at the join: SETUP_CAPS does it. */
    if (!f->userns)
        add(&b, SETUP_BOUNDING, 0);
    add(&b, SETUP_HANDOVER, 0);
    if (f->join_netns)
        add(&b, SETUP_JOIN_NS, CNS_NET);
    add(&b, SETUP_MOUNT_SYS, 0);
    /* After /sys: the masks below it. */
    add(&b, SETUP_MASK, SETUP_MASK_SYS);
    if (!early) {
        add_binds(&b, c);
        if (!etc_early)
            add(&b, SETUP_ETC_FILE, SETUP_FILE_HOSTNAME);
        add(&b, SETUP_ETC_FILE, SETUP_FILE_HOSTS);
        if (f->resolv && !etc_early)
            add(&b, SETUP_ETC_FILE, SETUP_FILE_RESOLV);
        add_pivot(&b);
    }
    /* From here until SETUP_CLOSE_FDS no step may open an fd: keel's fds (a
     * dozen per container it runs), still held here, can number more than
     * the container's nofile soft limit, and then every open fails with
     * EMFILE. */
    add(&b, SETUP_RLIMITS, 0);
    /* Last of the namespaces: everything above needed keel's privileges in
     * the initial user namespace, which owns all the others. */
    if (f->userns)
        add(&b, SETUP_JOIN_NS, CNS_USER);
    /* Without no_new_privs the filter must go in while CAP_SYS_ADMIN is still held. */
    if (f->seccomp && !c->no_new_privs)
        add(&b, SETUP_SECCOMP, 0);
    add(&b, SETUP_CAPS, f->groups_denied ? SETUP_GROUPS_DENIED : SETUP_GROUPS_SET);
    /* A change of uid cleared the parent-death signal: set it again.  Had keel
     * gone in between, its end of the report channel is closed. */
    add(&b, SETUP_PDEATHSIG, 0);
    add(&b, SETUP_KEEL_ALIVE, 0);
    add(&b, SETUP_WORKDIR, 0);
    if (c->no_new_privs)
        add(&b, SETUP_NO_NEW_PRIVS, 0);
    add(&b, SETUP_STDIO, 0);
    if (f->ready_fd)
        add(&b, SETUP_READY_FD, 0);
    add(&b, SETUP_CLOSE_FDS, 0);
    add(&b, SETUP_SIGNALS, 0);
    if (f->seccomp && c->no_new_privs)
        add(&b, SETUP_SECCOMP, 1);
    /* A standby waits after this, everything done but the command's exec
     * (the filter's install alone costs ~0.3 ms): in the exec stub, exec'd
     * at once; after the release one read returns and the command is
     * exec'd.  The read is the one call the filter sees that a start's does
     * not (docs/operations.md, "Standby"). */
    if (f->standby)
        add(&b, SETUP_STANDBY_WAIT, 0);
    add(&b, SETUP_EXEC, 0);
    plan_init_layer(&b, c);
    return finish(&b);
}

/* The pinned namespaces an exec joins, the mount namespace last of these (the
 * others are still opened through keel's /proc), the user namespace after
 * all of them and everything that needs keel's privileges. */
static const int exec_ns_order[] = { CNS_CGROUP, CNS_IPC, CNS_UTS, CNS_NET, CNS_PID, CNS_MNT };

int setup_plan_exec(const struct container_spec *c, const struct setup_exec_facts *f, struct setup_list *out)
{
    *out = (struct setup_list){ 0 };
    struct builder b = { .l = out };
    /* Non-dumpable before entering, and so until the execve (set again after
     * the credential changes, which reset it to fs.suid_dumpable): a process
     * of the container cannot open this one's /proc/PID/exe, memory or fds
     * (the CVE-2019-5736 class).  Out of keel's session at once: no
     * controlling terminal reaches the container. */
    add(&b, SETUP_NOT_DUMPABLE, 0);
    add(&b, SETUP_SESSION, 0);
    add(&b, SETUP_PDEATHSIG, 0);
    /* Through keel's own /proc, before any namespace of the container is
     * joined (the forked command inherits it): inside, a container with
     * CAP_SYS_ADMIN could put a file of its own at /proc/self/oom_score_adj
     * and keep the command at keel's -1000.  Always written, as at the start. */
    add(&b, SETUP_OOM_SCORE, 0);
    if (f->cgroup)
        add(&b, SETUP_JOIN_CGROUP, 0);
    for (size_t i = 0; i < sizeof exec_ns_order / sizeof exec_ns_order[0]; i++)
        add(&b, SETUP_JOIN_NS, exec_ns_order[i]);
    /* Nothing of keel's (control sockets, pipes, namespace fds) goes further. */
    add(&b, SETUP_CLOSE_FDS, 0);
    /* setns(CLONE_NEWPID) applies to children: fork once more to be inside. */
    add(&b, SETUP_ENTER_PID, 0);
    add(&b, SETUP_CHDIR_ROOT, 0);
    add(&b, SETUP_USER, 0);
    add(&b, SETUP_ENV, 0);
    add(&b, SETUP_RLIMITS, 0);
    if (f->userns)
        add(&b, SETUP_JOIN_NS, CNS_USER);
    if (f->seccomp && !c->no_new_privs)
        add(&b, SETUP_SECCOMP, 0);
    add(&b, SETUP_CAPS, f->groups_denied ? SETUP_GROUPS_DENIED : SETUP_GROUPS_SET);
    if (c->workdir)
        add(&b, SETUP_WORKDIR, 0);
    /* Credential changes clear the parent-death signal and set dumpable to
     * fs.suid_dumpable (1 on some hosts): set both again, so a timed-out
     * health check killed through its parent does not linger and the window
     * up to the execve stays closed to the container. */
    add(&b, SETUP_PDEATHSIG, 0);
    add(&b, SETUP_NOT_DUMPABLE, 0);
    if (c->no_new_privs)
        add(&b, SETUP_NO_NEW_PRIVS, 0);
    /* A session of its own (the fork above left it a member of its parent's),
     * without a controlling terminal; with keel exec -t, the pty keel made
     * on stdin becomes that. */
    add(&b, SETUP_SESSION, 0);
    if (f->tty)
        add(&b, SETUP_CTTY, 0);
    add(&b, SETUP_SIGNALS, 0);
    if (f->seccomp && c->no_new_privs)
        add(&b, SETUP_SECCOMP, 1);
    add(&b, SETUP_EXEC, 0);
    return finish(&b);
}

void setup_list_free(struct setup_list *l)
{
    free(l->op);
    free(l->init);
    l->op = NULL;
    l->init = NULL;
    l->n = 0;
    l->n_init = 0;
}

int setup_find(const struct setup_list *l, enum setup_op_type type, int arg, size_t from)
{
    for (size_t i = from; i < l->n; i++)
        if (l->op[i].type == type && (arg < 0 || l->op[i].arg == arg))
            return (int)i;
    return -1;
}

void setup_print_words(FILE *out, const char *key, char *const *argv)
{
    fprintf(out, "%s =", key);
    for (size_t i = 0; argv && argv[i]; i++) {
        bool plain = argv[i][0] && strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                   "0123456789/._-=:,+@%") == strlen(argv[i]);
        if (plain) {
            fprintf(out, " %s", argv[i]);
            continue;
        }
        fputs(" '", out);
        for (const char *p = argv[i]; *p; p++)
            *p == '\'' ? fputs("'\\''", out) : fputc(*p, out);
        fputc('\'', out);
    }
    fputc('\n', out);
}

static void print_overlay(const struct container_spec *c, FILE *out)
{
    fprintf(out, "  root: overlay lowerdir=(init layer)");
    for (size_t i = 0; c->layers && c->layers[i]; i++)
        fprintf(out, ":%s", c->layers[i]);
    if (!c->upper)
        fprintf(out, " (read-only, nodev, nosuid)\n");
    else if (strcmp(c->upper, "tmpfs") == 0)
        fprintf(out, " upper=tmpfs (nodev, nosuid)\n");
    else
        fprintf(out, " upperdir=%s/upper workdir=%s/work (nodev, nosuid)\n", c->upper, c->upper);
}

static void print_op(const struct container_spec *c, const struct setup_list *l, size_t k, FILE *out)
{
    const struct setup_op *op = &l->op[k];
    char caps[1024];
    switch (op->type) {
    case SETUP_PDEATHSIG:
        fprintf(out, "  parent-death signal: SIGKILL%s\n",
                setup_find(l, SETUP_PDEATHSIG, -1, 0) < (int)k ? " (again: the uid change cleared it)" : "");
        return;
    case SETUP_NOT_DUMPABLE:
        fprintf(out, "  dumpable: no%s\n",
                setup_find(l, SETUP_NOT_DUMPABLE, -1, 0) < (int)k ? " (again: the credential change reset it)" :
                " (until the execve)");
        return;
    case SETUP_SESSION:
        fprintf(out, "  session: its own, no controlling terminal\n");
        return;
    case SETUP_OOM_SCORE:
        fprintf(out, "  oom_score_adj: %d%s\n", c->oom_score_adj_set ? c->oom_score_adj : 0,
                setup_find(l, SETUP_JOIN_NS, -1, 0) > (int)k ? " (through keel's /proc)" : "");
        return;
    case SETUP_JOIN_CGROUP:
        fprintf(out, "  join: the container's cgroup\n");
        return;
    case SETUP_JOIN_NS:
        fprintf(out, "  join: %s namespace%s\n",
                op->arg == CNS_NET ? "network" : op->arg == CNS_MNT ? "mount" : setup_ns_name(op->arg),
                op->arg == CNS_USER ? " (last)" : op->arg == CNS_NET && c->net == NET_CONTAINER ? " (the peer's)" : "");
        return;
    case SETUP_HOSTNAME:
        fprintf(out, "  hostname: %s\n", c->hostname ? c->hostname : c->name);
        return;
    case SETUP_HANDOVER:
        fprintf(out, "  wait: keel's hand-over (namespaces pinned%s%s)\n",
                setup_find(l, SETUP_JOIN_NS, CNS_NET, k) >= 0 ? ", the network namespace" : "",
                setup_find(l, SETUP_ETC_FILE, SETUP_FILE_HOSTS, k) >= 0 ? ", /etc/hosts" : "");
        return;
    case SETUP_STAGE:
        fprintf(out, "  stage: mount tree private; tmpfs (mode 0700) at the staging directory\n");
        return;
    case SETUP_INIT_LAYER:
        fprintf(out, "  init layer: keel's, on top of the layers, with the mount points");
        for (size_t i = 0; i < l->n_init; i++)
            fprintf(out, " %s%s", l->init[i].path,
                    l->init[i].kind == 'd' ? "/" : l->init[i].kind == 's' ? "(=source)" : "");
        fputc('\n', out);
        return;
    case SETUP_OVERLAY:
        print_overlay(c, out);
        return;
    case SETUP_MOUNT_PROC:
        fprintf(out, "  mount: proc /proc (nosuid, nodev, noexec)\n");
        return;
    case SETUP_MOUNT_SYS:
        fprintf(out, "  mount: sysfs /sys (read-only), cgroup2 /sys/fs/cgroup (read-only)\n");
        return;
    case SETUP_MOUNT_DEV:
        fprintf(out, "  mount: tmpfs /dev (%s", op->arg ? "" : "nodev; ");
        for (const struct mount_devnode *n = mount_devnodes; n->name; n++)
            fprintf(out, "%s%s", n == mount_devnodes ? "" : " ", n->name);
        fprintf(out, op->arg ? " made as the host's: numbers, owners, modes; bound read-only on a nodev /dev where "
                "mknod is refused)\n" : " bound read-only from the host's)\n");
        return;
    case SETUP_DEV_NODE:
        fprintf(out, "  device: %s -> %s (the host's node, bound read-only)\n", c->devices[op->arg].source,
                c->devices[op->arg].target);
        return;
    case SETUP_DEV_FS:
        fprintf(out, "  mount: devpts /dev/pts, tmpfs /dev/shm, mqueue /dev/mqueue (if the kernel has it)\n");
        return;
    case SETUP_NOTIFY_SOCKET:
        fprintf(out, "  notify: keel's socket bound read-only at /dev/keel-notify\n");
        return;
    case SETUP_MASK:
        fprintf(out, "  masked:");
        for (const char *const *p = mount_masked_paths; *p; p++)
            if (str_starts(*p, op->arg == SETUP_MASK_PROC ? "/proc/" : "/sys/"))
                fprintf(out, " %s", *p);
        fputc('\n', out);
        return;
    case SETUP_READONLY:
        fprintf(out, "  read-only:");
        for (const char *const *p = mount_readonly_paths; *p; p++)
            fprintf(out, " %s", *p);
        fputc('\n', out);
        return;
    case SETUP_BIND:
        fprintf(out, "  bind: %s -> %s (%s, nodev, nosuid)\n", c->mounts[op->arg].source, c->mounts[op->arg].target,
                c->mounts[op->arg].readonly ? "ro" : "rw");
        return;
    case SETUP_SECRET:
        /* Paths and owner only: the content is read by the setup child alone. */
        fprintf(out, "  secret: %s -> %s (copied at each start into the container's tmpfs; %u:%u %04o, read-only, "
                "nosuid, nodev, noexec)\n", c->secrets[op->arg].source, c->secrets[op->arg].target,
                c->secrets[op->arg].uid, c->secrets[op->arg].gid, c->secrets[op->arg].mode);
        return;
    case SETUP_ETC_FILE:
        fprintf(out, "  file: %s (generated, bound read-only)\n",
                op->arg == SETUP_FILE_HOSTNAME ? "/etc/hostname" : op->arg == SETUP_FILE_HOSTS ? "/etc/hosts" :
                "/etc/resolv.conf");
        return;
    case SETUP_PIVOT:
        fprintf(out, "  enter: pivot_root, old root detached\n");
        return;
    case SETUP_CLOSE_FDS:
        fprintf(out, "  close: every other fd\n");
        return;
    case SETUP_ENTER_PID:
        fprintf(out, "  fork: into the PID namespace (the helper waits and passes the status on)\n");
        return;
    case SETUP_CHDIR_ROOT:
        fprintf(out, "  chdir: /\n");
        return;
    case SETUP_USER:
        fprintf(out, "  user: %s (resolved in the container's /etc/passwd)\n", c->user ? c->user : "root");
        return;
    case SETUP_RLIMITS:
        rlimit_plan(c, out);
        return;
    case SETUP_GIVE_OUTPUT:
        fprintf(out, "  output: the pipe given to the container's user\n");
        return;
    case SETUP_ENV:
        fprintf(out, "  env: PATH HOSTNAME HOME%s, then the manifest's\n",
                c->ready == READY_NOTIFY ? " NOTIFY_SOCKET" : "");
        return;
    case SETUP_SECCOMP:
        seccomp_plan(c, c->caps, out);
        return;
    case SETUP_BOUNDING:
        fprintf(out, "  bounding set: the capabilities below\n");
        return;
    case SETUP_CAPS:
        if (op->arg == SETUP_GROUPS_DENIED)
            fprintf(out, "  groups: not set (setgroups denied in keel's user namespace): the namespace creator's "
                    "are kept; a user with mapped supplementary groups in the container's /etc/group is refused\n");
        fprintf(out, "  capabilities: %s\n", caps_format(c->caps, caps, sizeof caps));
        fprintf(out, "  ambient: %s\n", caps_format(c->caps_ambient, caps, sizeof caps));
        return;
    case SETUP_KEEL_ALIVE:
        fprintf(out, "  check: keel is still there\n");
        return;
    case SETUP_WORKDIR:
        fprintf(out, "  workdir: %s\n", c->workdir ? c->workdir : "/");
        return;
    case SETUP_NO_NEW_PRIVS:
        fprintf(out, "  no_new_privs: yes\n");
        return;
    case SETUP_STDIO:
        fprintf(out, "  stdio: stdin /dev/null, stdout and stderr the output pipe\n");
        return;
    case SETUP_READY_FD:
        fprintf(out, "  ready: the pipe moved to fd %d\n", c->ready_fd);
        return;
    case SETUP_CTTY:
        fprintf(out, "  tty: the pty on stdin becomes the controlling terminal\n");
        return;
    case SETUP_SIGNALS:
        fprintf(out, "  signals: default dispositions, empty mask\n");
        return;
    case SETUP_STANDBY_WAIT:
        fprintf(out, "  standby: wait for the release by keel start or a restart (in the exec stub)\n");
        return;
    case SETUP_EXEC:
        fputs("  ", out);
        setup_print_words(out, "exec", c->argv);
        return;
    }
    fprintf(out, "  ? op %d\n", (int)op->type);
}

void setup_print(const struct container_spec *c, const struct setup_list *l, FILE *out)
{
    for (size_t k = 0; k < l->n; k++) {
        /* What the list leaves out on purpose is said where it would be. */
        if (l->op[k].type == SETUP_EXEC && setup_find(l, SETUP_SECCOMP, -1, 0) < 0)
            fprintf(out, "    seccomp: unconfined\n");
        print_op(c, l, k, out);
        if (l->op[k].type == SETUP_WORKDIR && setup_find(l, SETUP_NO_NEW_PRIVS, -1, 0) < 0)
            fprintf(out, "  no_new_privs: no\n");
    }
}
