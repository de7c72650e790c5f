/* supervise.c — container life cycles, see supervise.h.
 *
 * Every change of state goes through set_state(), which logs nothing itself;
 * after any change schedule() re-evaluates what can start (dependencies
 * satisfied) and, while stopping everything, what can stop (no active
 * dependants left).  The loop never blocks: starts are asynchronous (the setup
 * result arrives on a pipe), stops are a signal plus a SIGKILL timer.
 */
#include "keel/supervise.h"
#include "keel/userns.h"
#include "keel/cgroup.h"
#include "keel/container.h"
#include "keel/health.h"
#include "keel/layerimg.h"
#include "keel/log.h"
#include "keel/manifest_diff.h"
#include "keel/mount.h"
#include "keel/net.h"
#include "keel/output.h"
#include "keel/parse.h"
#include "keel/restart.h"
#include "keel/seccomp.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Preparations in a row that may fail (100 ms to 1.6 s apart) before keel
 * waits for the container's next start. */
#define STANDBY_TRIES 5

/* The least a killed child is waited for by keel's stop (struct doomed),
 * whatever the container's stop_timeout (0 is allowed): one that is not hung
 * dies within microseconds, this is for a loaded machine. */
#define DOOMED_MIN_MS 1000

struct ctr {
    struct supervisor *sup;
    const struct container_spec *spec;
    size_t index;
    struct sup_machine m;    /* state, stop flags, restarts, backoff (supervise_state.h) */
    unsigned held;           /* SUP_COND_* its owner holds it for (supervisor_hold), beside its depends */
    struct output out;
    pid_t pid;
    int pidfd, setup_fd;
    int hold_fd;             /* container_proc.hold_fd, closed with setup_fd */
    struct container_ns ns;  /* pinned at the start, for exec and health checks; closed at the exit */
    uint64_t started_mono_ms, started_real_ms;
    uint64_t state_since_ms; /* CLOCK_MONOTONIC ms of the last change of m.state (or of its making) */
    int64_t timer;           /* the restart (backoff) or the stop timer */
    int64_t kill_timer;      /* armed at the SIGKILL of a run (kill_all): its bound to die */
    bool left_behind;        /* STOPPING, and its process outlived SIGKILL by that bound: keel's stop
                              * no longer waits for it (a hung NFS or FUSE request) */
    bool has_exited;
    int last_status;
    struct health_counter health;
    struct health_check hc;  /* the running or next check (health.h) */
    bool ready;
    bool ready_early;        /* READY came before keel saw this run's exec succeed (its setup
                              * channel's end may be read after the readiness message) */
    int ready_fd;            /* read end: `ready = fd:N` pipe or the sd_notify socket */
    int ready_child_fd;      /* write end handed to the container (fd:N) */
    char *notify_path;       /* heap, ready = notify: RUN_DIR/notify/NAME.sock */
    int64_t wait_timer;      /* start_timeout while WAITING */
    int64_t out_timer;       /* retrying the output relay's start after fork failed, 0 */
    struct seccomp_prog seccomp;
    struct userns userns;    /* made at the first start, kept for every restart */
    char **lowers;           /* the overlay's lower directories (image layers mounted), held from the
                              * first start until the container is down for good; NULL when not held */
    int mem_events_fd;       /* memory.events of its cgroup (EPOLLPRI on change) */
    int cg_events_fd;        /* cgroup.events */
    bool has_cgroup;
    bool upper_checked;      /* mount_warn_upper said its piece (first start) */
    unsigned oom_kills;      /* OOM kills of every run, across cgroups made afresh */
    unsigned cg_oom_base;    /* memory.events oom_kill of the current cgroup already in oom_kills */
    char failure[KERR_MSG_MAX];
    char *stage;             /* heap: RUN_DIR/containers/NAME (the structs stay small: no 4 KiB arrays) */
    bool retiring;           /* an apply stops it for good (removed, or restarted from a new spec) */
    bool replacing;          /* an apply replaces it start-first (until the new manifest is in force) */
    /* update = start-first (docs/operations.md).  Two records of one container
     * for a while: the new one in s->c, its `prev` the old one, which runs
     * aside (not in s->c, never restarted) until the new one is healthy or
     * ready (then the ports move and the old one stops) or until the new one
     * fails (then it goes and the old one is back in s->c as it was). */
    char *iname;             /* heap: the name of its cgroup, staging directory and notify socket:
                              * NAME, or NAME~next when the instance it replaced had NAME's */
    bool alt;                /* iname is NAME~next */
    struct ctr *prev;        /* the old instance while the replacement runs, NULL */
    bool aside;              /* this is such an old instance */
    enum { REP_WAIT, REP_MOVED, REP_FAILED } rep;   /* with prev: where the replacement is */
    char *label;             /* heap: the name in events and keel ps when not spec->name: NAME~next, NAME~old */
    struct container_spec *own_spec;   /* heap: an old instance's spec copied out of its manifest (kept
                                        * in s->stale) without its dependencies (indices of that manifest) */
    char rep_why[KERR_MSG_MAX + 64];   /* why the replacement failed */
    uint64_t rep_since;                /* CLOCK_MONOTONIC ms the replacement began */
    unsigned hosts_gen;      /* the supervisor's hosts_gen its /etc/hosts was made for */
    int hosts_fd;            /* RUN_DIR/hosts/NAME, keel's live copy of its /etc/hosts (hosts_live), -1 */
    /* `standby = yes` (docs/operations.md, "Standby"): the instance prepared
     * up to its exec, waiting for SUP_DO_START to release it.  Its own
     * process, PID namespace and pinned namespaces; never c->pid, c->ns or
     * anything a status, exec, health check or signal reaches. */
    struct {
        pid_t pid;           /* 0: none */
        int pidfd, setup_fd, release_fd;
        struct container_ns ns;
        unsigned hosts_gen;  /* c->hosts_gen once released */
        int64_t timer;       /* the next preparation */
        struct file_digest secrets;   /* manifest_secrets_stamp before it was prepared: it copied them */
        uint64_t delay_ms;   /* before the next one after a standby failed: doubles, reset by an exec */
        unsigned tries;      /* preparations left before the next exec of the container: a standby is
                              * made only for one that started once, and not forever if it keeps failing */
    } sb;
};

struct subscriber {
    int handle;
    sup_event_cb cb;
    void *data;
};

struct watched {
    pid_t pid;
    sup_child_cb cb;
    void *data;
};

/* A child keel has SIGKILLed and no longer counts as any container's
 * process: a discarded standby, a setup child of a start given up.  SIGKILL
 * does not end a process in uninterruptible sleep (a request to a hung FUSE
 * or NFS server, a dead disk) before that sleep ends, so nothing waits for
 * it: supervisor_reap reaps it as any child, whenever it dies.  Nothing of a
 * record refers to it (its pid is not the record's pid nor its standby's):
 * a start, a new standby, a restart made meanwhile never meet it.  What it
 * still holds is its place in the cgroup named `iname`, removed at its reap
 * when its container is down; keel's stop waits for it up to its container's
 * stop_timeout (DOOMED_MIN_MS at least: timer), then says so and goes on
 * without it. */
struct doomed {
    struct doomed *next;
    pid_t pid;
    const char *what;        /* "standby", "setup child" */
    int64_t timer;           /* the bound; 0 once past it (overdue) */
    bool overdue;
    uint64_t bound_ms;
    char iname[];            /* its container's record: the cgroup it is in */
};

struct supervisor {
    struct loop *loop;
    const struct manifest *m;
    struct supervisor_opts opts;
    struct ctr **c;          /* one per container of m, in its order; each allocated on its own,
                              * so the loop's callbacks keep their pointer across an apply */
    size_t n;
    int devnull;
    char *resolv;
    int resolv_fd;             /* RUN_DIR/resolv.conf, bound into containers; -1: none */
    int log_dir_fd;            /* log_dir_path, opened at the first container's prepare (held_log_dir); -1: not yet */
    char *log_dir_path;
    bool log_dir_lost;         /* log_dir was removed and could not be opened again (log_dir_reopen said so) */
    struct layerimg_set *images;   /* image-file layers, mounted once and shared */
    bool stopping_all;
    struct subscriber *subs;
    size_t n_subs;
    int next_handle;
    struct watched *watched;
    size_t n_watched;
    struct doomed *doomed;     /* killed children not reaped yet (struct doomed) */
    unsigned conditions;       /* KEEL_COND_* met */
    unsigned hosts_gen;        /* counts the applies and the addresses given back or taken again: /etc/hosts
                                * made before one may name the wrong containers */
    struct manifest *owned;    /* the manifest of the last apply, freed with the supervisor; NULL: m is the caller's */
    struct manifest **stale;   /* older manifests that records still point into (own_spec) */
    size_t n_stale;
    struct {                   /* the apply in progress (one at a time) */
        bool active;
        bool swapped;          /* the new manifest is in force: start-first replacements run */
        int64_t rep_timer;     /* a replacement's settle time or deadline */
        char outcome[2048];    /* what went wrong so far */
        struct manifest *nm;   /* owned until it replaces m */
        struct mdiff diff;
        char *plan;            /* the printed plan */
        sup_apply_cb cb;       /* NULL once its requester went away */
        void *data;
        int64_t timer;         /* the deferred finish (never from inside a container's step) */
    } ap;
    struct {                   /* the preflight of an apply (supervisor_preflight) */
        pid_t pid;             /* its child; 0: none runs */
        int64_t timer;         /* its bound */
        sup_preflight_cb cb;   /* NULL once its requester went away */
        void *data;
        unsigned stuck;        /* children killed past the bound, not reaped yet */
    } pf;
};

static void schedule(struct supervisor *s);
static int ctr_input(struct ctr *c, enum sup_input_kind kind, int status, uint64_t run_ms);
static void ctr_act(struct ctr *c, enum sup_action a, const struct sup_input *in, const struct sup_step *st);

const char *container_state_name(enum container_state st)
{
    static const char *const names[] = {
        [CS_WAITING] = "waiting", [CS_STARTING] = "starting", [CS_RUNNING] = "running",
        [CS_STOPPING] = "stopping", [CS_BACKOFF] = "backoff", [CS_EXITED] = "exited",
        [CS_STOPPED] = "stopped", [CS_FAILED] = "failed",
    };
    return (unsigned)st < ARRAY_SIZE(names) ? names[st] : "?";
}

/* --- events -------------------------------------------------------------------- */

static void deliver(struct supervisor *s, const struct sup_event *ev);

static void emit(struct supervisor *s, enum sup_event_kind kind, struct ctr *c, int status, unsigned count,
                 const char *detail)
{
    struct sup_event ev = {
        .kind = kind, .name = c->label ? c->label : c->spec->name, .time_ms = realtime_ms(), .pid = c->pid,
        .status = status, .count = count, .detail = detail,
    };
    deliver(s, &ev);
}

void supervisor_publish(struct supervisor *s, enum sup_event_kind kind, const char *name, const char *detail)
{
    struct sup_event ev = { .kind = kind, .name = name, .time_ms = realtime_ms(), .detail = detail };
    deliver(s, &ev);
}

static void deliver(struct supervisor *s, const struct sup_event *ev)
{
    /* Subscribers may unsubscribe from inside the callback: iterate over a copy. */
    size_t n = s->n_subs;
    struct subscriber copy[64];
    if (n > ARRAY_SIZE(copy))
        n = ARRAY_SIZE(copy);
    if (n)
        memcpy(copy, s->subs, n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i].cb(ev, copy[i].data);
}

int supervisor_subscribe(struct supervisor *s, sup_event_cb cb, void *data)
{
    if (s->n_subs >= 64)
        return -EMFILE;
    struct subscriber *ns = realloc(s->subs, (s->n_subs + 1) * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    s->subs = ns;
    int handle = ++s->next_handle;
    s->subs[s->n_subs++] = (struct subscriber){ handle, cb, data };
    return handle;
}

void supervisor_unsubscribe(struct supervisor *s, int handle)
{
    for (size_t i = 0; i < s->n_subs; i++)
        if (s->subs[i].handle == handle) {
            s->subs[i] = s->subs[--s->n_subs];
            return;
        }
}

/* --- helpers --------------------------------------------------------------------- */

static bool is_active(const struct ctr *c)
{
    return supervise_state_active(c->m.state);
}

static bool is_final(const struct ctr *c)
{
    return supervise_state_final(c->m.state);
}

static void cancel_timer(struct ctr *c)
{
    if (c->timer > 0)
        loop_cancel_timer(c->sup->loop, c->timer);
    c->timer = 0;
}

static void close_setup_fd(struct ctr *c)
{
    if (c->setup_fd >= 0) {
        loop_del_fd(c->sup->loop, c->setup_fd);
        close(c->setup_fd);
        c->setup_fd = -1;
    }
    /* After the result: the child's probe overlay is torn down here, in
     * keel, beside the command rather than before its exec. */
    container_hold_close(&c->hold_fd);
}

static int send_signal(struct ctr *c, int sig)
{
    if (c->pidfd >= 0 && sys_pidfd_send_signal(c->pidfd, sig) == 0)
        return 0;
    if (c->pid > 0 && kill(c->pid, sig) == 0)
        return 0;
    return -errno;
}

/* --- the container's cgroup ------------------------------------------------------------ */

static struct cgroup_root *cgroot(const struct supervisor *s)
{
    return s->opts.cgroup && s->opts.cgroup->available ? s->opts.cgroup : NULL;
}

static void cg_events_close(struct ctr *c)
{
    int *fds[] = { &c->mem_events_fd, &c->cg_events_fd };
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
        int fd = *fds[i];
        if (fd >= 0) {
            loop_del_fd(c->sup->loop, fd);
            close(fd);
            *fds[i] = -1;
        }
    }
}

/* Removes the cgroup once the container is down for good and it is empty. */
static void cg_remove_if_done(struct ctr *c)
{
    struct cgroup_root *root = cgroot(c->sup);
    if (!root || !c->has_cgroup || c->pid > 0 || c->sb.pid > 0 || c->m.state == CS_BACKOFF ||
        c->m.state == CS_WAITING)
        return;
    struct kerr err = { 0 };
    if (cgroup_container_remove(root, c->iname, &err) == 0) {
        cg_events_close(c);
        c->has_cgroup = false;
        c->cg_oom_base = 0;
    }
}

/* Reads the cgroup's events; FD, when >= 0, is the watched file that fired. */
static int cg_events_get(struct ctr *c, struct cgroup_root *root, int fd, struct cgroup_events *ev)
{
    struct kerr err = { 0 };
    /* Both files open (the memory one wherever the controller is): read
     * them through their fds, without the three path lookups of a read by
     * name — this runs at each start and, on the exit's path, at each end. */
    if (c->cg_events_fd >= 0 && (c->mem_events_fd >= 0 || !(root->controllers & CG_MEMORY)))
        return cgroup_events_read_fds(c->cg_events_fd, c->mem_events_fd, ev, &err);
    /* kernfs keeps reporting a change until the watched file itself is
     * read again: rewind and read it, or the loop would spin. */
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) == 0) {
        char drain[512];
        while (read(fd, drain, sizeof drain) > 0)
            ;
    }
    return cgroup_container_events(root, c->iname, ev, &err);
}

/* Adds the OOM kills of the current cgroup not counted yet.  The cgroup's
 * own count starts at 0 whenever it is made afresh (each start, and
 * cg_remove_if_done): compared with the container's total, the kills of a
 * later run would go unreported until they outnumbered all earlier ones. */
static void cg_oom_count(struct ctr *c, const struct cgroup_events *ev)
{
    if (ev->oom_kill <= c->cg_oom_base)
        return;
    c->oom_kills += (unsigned)(ev->oom_kill - c->cg_oom_base);
    c->cg_oom_base = (unsigned)ev->oom_kill;
    log_warn("%s: OOM-killed (%u time%s)", c->spec->name, c->oom_kills, c->oom_kills == 1 ? "" : "s");
    output_note(&c->out, "OOM-killed by the kernel (%u time%s)", c->oom_kills, c->oom_kills == 1 ? "" : "s");
    emit(c->sup, EV_OOM, c, 0, c->oom_kills, NULL);
}

static void on_cg_event(struct loop *l, int fd, uint32_t events, void *data)
{
    struct ctr *c = data;
    struct cgroup_root *root = cgroot(c->sup);
    struct cgroup_events ev;
    if (!root || cg_events_get(c, root, fd, &ev) < 0)
        return;
    cg_oom_count(c, &ev);
    if (!ev.populated)
        cg_remove_if_done(c);
}

/* Before the cgroup is made again: what its events say that keel has not
 * handled yet (an OOM kill whose notice is still queued) is counted, and
 * the fds go.  Kept, they would watch the removed cgroup (cg_events_open
 * opens only what is closed) and this run's events would never be seen. */
static void cg_events_retire(struct ctr *c)
{
    struct cgroup_root *root = cgroot(c->sup);
    struct cgroup_events ev;
    if (root && c->has_cgroup && cg_events_get(c, root, -1, &ev) == 0)
        cg_oom_count(c, &ev);
    cg_events_close(c);
}

static void cg_events_open(struct ctr *c)
{
    struct cgroup_root *root = cgroot(c->sup);
    struct kerr err = { 0 };
    if (!root)
        return;
    if (c->mem_events_fd < 0 && (root->controllers & CG_MEMORY)) {
        c->mem_events_fd = cgroup_container_events_fd(root, c->iname, "memory.events", &err);
        if (c->mem_events_fd >= 0 && loop_add_fd(c->sup->loop, c->mem_events_fd, EPOLLPRI, on_cg_event, c) < 0) {
            close(c->mem_events_fd);
            c->mem_events_fd = -1;
        }
    }
    if (c->cg_events_fd < 0) {
        c->cg_events_fd = cgroup_container_events_fd(root, c->iname, "cgroup.events", &err);
        if (c->cg_events_fd >= 0 && loop_add_fd(c->sup->loop, c->cg_events_fd, EPOLLPRI, on_cg_event, c) < 0) {
            close(c->cg_events_fd);
            c->cg_events_fd = -1;
        }
    }
}

/* The spec for cgroup.c, which names the cgroup after spec->name: a copy
 * named after the instance when that is not the container's name. */
static const struct container_spec *cg_spec(const struct ctr *c, struct container_spec *tmp)
{
    if (strcmp(c->iname, c->spec->name) == 0)
        return c->spec;
    *tmp = *c->spec;
    tmp->name = c->iname;
    return tmp;
}

/* The container's cgroup directory (for processes that join it), or -1. */
static int cg_dir_fd(const struct ctr *c)
{
    struct cgroup_root *root = cgroot(c->sup);
    if (!root || !c->has_cgroup || root->keel_fd < 0)
        return -1;
    return openat(root->keel_fd, c->iname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* --- killed children, reaped when they die (struct doomed) ------------------------------------ */

static void doomed_overdue(struct loop *l, void *data)
{
    struct doomed *d = data;
    d->timer = 0;
    d->overdue = true;
    log_warn("%s: its %s %d did not die within %llu ms of SIGKILL (in uninterruptible sleep?): it is reaped "
             "when it dies; keel's stop no longer waits for it", d->iname, d->what, (int)d->pid,
             (unsigned long long)d->bound_ms);
}

/* PID, a child of keel, was SIGKILLed on C's behalf: reaped later, never
 * waited for (struct doomed). */
static void doom(struct ctr *c, pid_t pid, const char *what)
{
    struct supervisor *s = c->sup;
    size_t len = strlen(c->iname) + 1;
    struct doomed *d = malloc(sizeof *d + len);
    if (!d) {
        /* Still reaped (as an orphan); only keel's stop may not wait for it. */
        log_warn("%s: cannot keep track of its killed %s %d: out of memory", c->iname, what, (int)pid);
        return;
    }
    *d = (struct doomed){ .next = s->doomed, .pid = pid, .what = what,
                          .bound_ms = c->spec->stop_timeout_ms > DOOMED_MIN_MS ? c->spec->stop_timeout_ms
                                                                               : DOOMED_MIN_MS };
    memcpy(d->iname, c->iname, len);
    int64_t t = loop_add_timer(s->loop, d->bound_ms, doomed_overdue, d);
    d->timer = t > 0 ? t : 0;
    d->overdue = t <= 0;   /* without a timer keel's stop could wait for ever: it does not wait */
    s->doomed = d;
}

/* supervisor_reap met PID: one of the killed children?  Its cgroup goes
 * now if its container is down (the record of that name, or none). */
static bool doomed_reaped(struct supervisor *s, pid_t pid)
{
    struct doomed **pp = &s->doomed;
    while (*pp && (*pp)->pid != pid)
        pp = &(*pp)->next;
    struct doomed *d = *pp;
    if (!d)
        return false;
    *pp = d->next;
    if (d->timer > 0)
        loop_cancel_timer(s->loop, d->timer);
    if (d->overdue)
        log_info("%s: its killed %s %d is gone at last", d->iname, d->what, (int)pid);
    else
        log_debug("%s: its killed %s %d reaped", d->iname, d->what, (int)pid);
    struct ctr *owner = NULL;
    for (size_t i = 0; i < s->n && !owner; i++) {
        if (strcmp(s->c[i]->iname, d->iname) == 0)
            owner = s->c[i];
        else if (s->c[i]->prev && strcmp(s->c[i]->prev->iname, d->iname) == 0)
            owner = s->c[i]->prev;
    }
    if (owner) {
        cg_remove_if_done(owner);
    } else if (cgroot(s)) {
        /* Its record went (an apply removed the container) while it lived:
         * the cgroup it kept from going is nobody's. */
        struct kerr err = { 0 };
        (void)cgroup_container_remove(cgroot(s), d->iname, &err);
    }
    free(d);
    return true;
}

static void standby_discard(struct ctr *c);
static void standby_kick(struct ctr *c);

/* The run's process did not die within its bound of SIGKILL: it is in
 * uninterruptible sleep (its own, or, as PID 1 of its namespace, waiting for
 * one that is: a request to a hung NFS or FUSE server).  The container stays
 * STOPPING until it dies and is reaped as usual; keel's stop no longer waits
 * for it (supervisor_all_down), nor do the stops of what it depends on. */
static void kill_overdue(struct loop *l, void *data)
{
    struct ctr *c = data;
    c->kill_timer = 0;
    if (c->pid <= 0 || c->m.state != CS_STOPPING)
        return;
    c->left_behind = true;
    uint64_t bound = c->spec->stop_timeout_ms > DOOMED_MIN_MS ? c->spec->stop_timeout_ms : DOOMED_MIN_MS;
    log_warn("%s: its process %d did not die within %llu ms of SIGKILL (in uninterruptible sleep?): it is "
             "reaped when it dies; keel's stop no longer waits for it", c->spec->name, (int)c->pid,
             (unsigned long long)bound);
    schedule(c->sup);
}

/* Kills every process of the container: its cgroup when it has one (nothing
 * escapes by forking), else its PID-1 (the kernel then kills its namespace). */
static void kill_all(struct ctr *c)
{
    struct cgroup_root *root = cgroot(c->sup);
    struct kerr err = { 0 };
    /* The standby shares the cgroup: gone first, knowingly, rather than
     * found dead later (a new one is prepared once the container is down). */
    standby_discard(c);
    if (c->pid > 0 && c->kill_timer <= 0) {
        uint64_t bound = c->spec->stop_timeout_ms > DOOMED_MIN_MS ? c->spec->stop_timeout_ms : DOOMED_MIN_MS;
        int64_t t = loop_add_timer(c->sup->loop, bound, kill_overdue, c);
        c->kill_timer = t > 0 ? t : 0;
    }
    if (root && c->has_cgroup && cgroup_container_kill(root, c->iname, &err) == 0)
        return;
    send_signal(c, SIGKILL);
}

/* Whether keel's stop still waits for the container: active, but not a
 * STOPPING one whose process outlived SIGKILL (kill_overdue). */
static bool holds_stop(const struct ctr *c)
{
    return is_active(c) && !(c->m.state == CS_STOPPING && c->left_behind);
}

/* --- health checks ------------------------------------------------------------------- */

/* A check's result, from health.c: the counting rules, then what the
 * manifest says an unhealthy container means. */
static void on_health_result(bool ok, const char *why, void *data)
{
    struct ctr *c = data;
    struct supervisor *s = c->sup;
    /* A check that ends while the container stops says nothing about its health. */
    if (c->m.state != CS_RUNNING)
        return;
    uint64_t since = now_ms() - c->started_mono_ms;
    if (!ok)
        log_debug("%s: health check failed: %s", c->spec->name, why);
    if (health_record(c->spec, &c->health, ok, since)) {
        log_info("%s: %s%s%s", c->spec->name, health_state_name(c->health.state), ok ? "" : ": ", ok ? "" : why);
        output_note(&c->out, "health: %s", health_state_name(c->health.state));
        emit(s, EV_HEALTH, c, 0, c->health.failures, health_state_name(c->health.state));
        /* A new instance on trial (start-first) that is unhealthy fails its
         * replacement instead: the old one keeps serving. */
        if (c->health.state == HS_UNHEALTHY && !c->prev) {
            enum power_action a = c->spec->on_unhealthy;
            if (a == POWER_RESTART && c->m.state == CS_RUNNING) {
                log_info("%s: restarting (unhealthy)", c->spec->name);
                ctr_input(c, SUP_IN_UNHEALTHY, 0, 0);
                return;
            }
            if ((a == POWER_REBOOT || a == POWER_POWEROFF) && s->opts.power)
                s->opts.power(a, "a container is unhealthy", s->opts.power_data);
        }
        schedule(s);
    }
    if (c->m.state == CS_RUNNING)
        health_check_arm(&c->hc, c->spec->health_interval_ms);
}

static void on_health_reaped(pid_t pid, int status, void *data)
{
    struct ctr *c = data;
    health_check_reaped(&c->hc, pid, status);
}

static int hc_watch(pid_t pid, void *data)
{
    struct ctr *c = data;
    return supervisor_watch_child(c->sup, pid, on_health_reaped, c);
}

static int hc_cgroup_fd(void *data)
{
    return cg_dir_fd(data);
}

static const struct health_ops hc_ops = {
    .cgroup_fd = hc_cgroup_fd, .watch = hc_watch, .result = on_health_result,
};

/* --- readiness ----------------------------------------------------------------------- */

static void set_ready(struct ctr *c)
{
    if (c->ready)
        return;
    c->ready = true;
    log_info("%s: ready", c->spec->name);
    emit(c->sup, EV_READY, c, 0, 0, NULL);
    schedule(c->sup);
}

/* The command said it is ready.  Only the command can: it runs after the
 * exec, so a message read while the run is still STARTING is this run's, and
 * keel has merely not read the end of its setup channel yet (both became
 * readable in one wait): kept for on_setup_result rather than dropped. */
static void ready_seen(struct ctr *c)
{
    if (c->m.state == CS_RUNNING)
        set_ready(c);
    else if (c->m.state == CS_STARTING)
        c->ready_early = true;
}

static void on_ready_fd(struct loop *l, int fd, uint32_t events, void *data)
{
    struct ctr *c = data;
    if (c->spec->ready == READY_NOTIFY) {
        if (health_notify_read(fd) == 1)
            ready_seen(c);
        return;
    }
    /* ready = fd:N: a newline means ready; EOF without one means never. */
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0 && memchr(buf, '\n', (size_t)n))
        ready_seen(c);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        loop_del_fd(l, fd);
        close(fd);
        c->ready_fd = -1;
    }
}

/* Makes the readiness channel for this start: a socket pair for fd:N (a new one
 * each time, so a stale writer of the last run cannot mark this one ready),
 * the sd_notify socket once. */
static int ready_prepare(struct ctr *c, struct kerr *err)
{
    const struct container_spec *spec = c->spec;
    if (spec->ready == READY_FD) {
        if (c->ready_fd >= 0) {
            loop_del_fd(c->sup->loop, c->ready_fd);
            close(c->ready_fd);
            c->ready_fd = -1;
        }
        /* A socket pair for the same reason as the output (output.c): a
         * pipe's reader can be made to sleep on the writer's splice. */
        int p[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
            return kerr_set(err, errno, "cannot create the readiness socket of %s", spec->name);
        c->ready_fd = p[0];
        c->ready_child_fd = p[1];
        if (fcntl(c->ready_fd, F_SETFL, O_NONBLOCK) < 0 || shutdown(c->ready_fd, SHUT_WR) < 0) {
            int e = errno;
            close(TAKE_FD(c->ready_fd));
            close(TAKE_FD(c->ready_child_fd));
            return kerr_set(err, e, "cannot set up the readiness socket of %s", spec->name);
        }
    } else if (spec->ready == READY_NOTIFY && c->ready_fd < 0) {
        free(c->notify_path);
        if (!(c->notify_path = xasprintf("%s/notify/%s.sock", c->sup->opts.run_dir, c->iname)))
            return kerr_set(err, ENOMEM, "cannot set up the readiness socket of %s", spec->name);
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/notify", c->sup->opts.run_dir);
        int r = mkdir_p(dir, 0711);
        if (r < 0)
            return kerr_set(err, -r, "cannot create %s", dir);
        int fd = health_notify_open(c->notify_path, err);
        if (fd < 0)
            return fd;
        c->ready_fd = fd;
    } else {
        return 0;
    }
    if (loop_add_fd(c->sup->loop, c->ready_fd, EPOLLIN, on_ready_fd, c) < 0)
        return kerr_set(err, EIO, "cannot watch the readiness of %s", spec->name);
    return 0;
}

/* --- the state machine --------------------------------------------------------------- */

/* Feeds one input to the container's machine (supervise_state.h) and carries
 * out the actions it returns, in order.  Actions may feed further inputs (a
 * start reports whether it made a process; a schedule steps other
 * containers): each step is complete before its actions run.  Returns the
 * step's refusal (control requests), else 0. */
static int ctr_input(struct ctr *c, enum sup_input_kind kind, int status, uint64_t run_ms)
{
    struct sup_input in = {
        .kind = kind, .status = status, .run_ms = run_ms,
        .stopping_all = c->sup->stopping_all, .in_setup = c->setup_fd >= 0,
    };
    struct sup_step st;
    enum container_state before = c->m.state;
    supervise_step(c->spec, &c->m, &in, &st);
    if (c->m.state != before)
        c->state_since_ms = now_ms();
    for (size_t i = 0; i < st.n; i++)
        ctr_act(c, st.act[i], &in, &st);
    return st.refused;
}

/* --- waiting for dependencies --------------------------------------------------------- */

/* Whether dependency d is satisfied now.  The one predicate for starting a
 * waiting container and for naming, at its start_timeout, the dependency
 * that held it back. */
static bool dep_satisfied(const struct supervisor *s, const struct dependency *d)
{
    const struct ctr *t = s->c[d->index];
    /* "started": running, or already done with success (a one-shot
     * setup container that exited 0 has done what it was there for). */
    bool done_ok = t->m.state == CS_EXITED && t->has_exited && !restart_is_failure(t->last_status);
    if (t->m.state != CS_RUNNING && !(d->condition == DEP_STARTED && done_ok))
        return false;
    if (d->condition == DEP_HEALTHY && t->health.state != HS_HEALTHY)
        return false;
    if (d->condition == DEP_READY && !t->ready)
        return false;
    return true;
}

/* A condition's name: the manifest's, or the owner's own (SUP_COND_*). */
static const char *condition_name(unsigned bit)
{
    return bit == SUP_COND_MODULES ? "modules" : manifest_condition_name(bit);
}

/* The failure of a container whose start_timeout expired: the first
 * dependency that is still not satisfied. */
static void note_blocker(struct ctr *c)
{
    char why[KERR_MSG_MAX] = "";
    unsigned unmet = (c->spec->wait_conditions | c->held) & ~c->sup->conditions;
    for (unsigned bit = 1; unmet && !why[0]; bit <<= 1)
        if (unmet & bit)
            snprintf(why, sizeof why, "condition %s was not met within %llu ms", condition_name(bit),
                     (unsigned long long)c->spec->start_timeout_ms);
    for (size_t i = 0; i < c->spec->n_deps && !why[0]; i++) {
        const struct dependency *d = &c->spec->deps[i];
        if (!dep_satisfied(c->sup, d)) {
            snprintf(why, sizeof why, "dependency %s did not become %s within %llu ms", d->name,
                     d->condition == DEP_HEALTHY ? "healthy" : d->condition == DEP_READY ? "ready" : "running",
                     (unsigned long long)c->spec->start_timeout_ms);
            break;
        }
    }
    snprintf(c->failure, sizeof c->failure, "%s", why);
    log_error("%s: failed: %s", c->spec->name, why);
    output_note(&c->out, "failed: %s", why);
}

static void wait_timed_out(struct loop *l, void *data)
{
    struct ctr *c = data;
    c->wait_timer = 0;
    ctr_input(c, SUP_IN_START_TIMEOUT, 0, 0);
}

static void wait_arm(struct ctr *c)
{
    if (c->spec->start_timeout_ms && (c->spec->n_deps || c->spec->wait_conditions) && c->wait_timer == 0) {
        int64_t t = loop_add_timer(c->sup->loop, c->spec->start_timeout_ms, wait_timed_out, c);
        c->wait_timer = t > 0 ? t : 0;
    }
}

static void wait_disarm(struct ctr *c)
{
    if (c->wait_timer > 0)
        loop_cancel_timer(c->sup->loop, c->wait_timer);
    c->wait_timer = 0;
}

/* --- starting ---------------------------------------------------------------------- */

static bool deps_satisfied(const struct ctr *c)
{
    if ((c->spec->wait_conditions | c->held) & ~c->sup->conditions)
        return false;
    for (size_t i = 0; i < c->spec->n_deps; i++)
        if (!dep_satisfied(c->sup, &c->spec->deps[i]))
            return false;
    return true;
}

static void hosts_refresh(struct ctr *c);
static void hosts_refresh_all(struct supervisor *s);
static int hosts_live(struct ctr *c);
static int live_file_write(int fd, const char *text, const char *what, struct kerr *err);
static void hosts_close(struct ctr *c);

/* The setup pipe became readable, or the child was reaped first: either the
 * command runs (EOF) or the child reported why it could not. */
static void setup_done(struct ctr *c)
{
    struct kerr err = { 0 };
    int r = container_setup_result(c->setup_fd, &err);
    close_setup_fd(c);
    if (r < 0) {
        /* The child exits with 127 right after reporting; reaping it applies the policy. */
        snprintf(c->failure, sizeof c->failure, "%s", err.msg);
        log_error("%s: failed: %s", c->spec->name, err.msg);
        output_note(&c->out, "failed: %s", err.msg);
        return;
    }
    /* Its set-up wrote the /etc/hosts of the manifest it started under: an
     * apply finished meanwhile. */
    if (c->hosts_gen != c->sup->hosts_gen)
        hosts_refresh(c);
    ctr_input(c, SUP_IN_EXECED, 0, 0);
    if (c->ready_early && c->m.state == CS_RUNNING)
        set_ready(c);
    c->ready_early = false;
    /* The next standby, now that this run's command is under way. */
    c->sb.delay_ms = 0;
    c->sb.tries = STANDBY_TRIES;
    standby_kick(c);
}

static void note_started(struct ctr *c)
{
    c->failure[0] = '\0';
    if (c->spec->ready == READY_NONE)
        c->ready = true;
    log_info("%s: started, pid %d", c->label ? c->label : c->spec->name, (int)c->pid);
    output_reopen_if_removed(&c->out);
    if (!c->upper_checked) {
        c->upper_checked = true;
        mount_warn_upper(c->spec);
    }
}

static void on_setup_result(struct loop *l, int fd, uint32_t events, void *data)
{
    struct ctr *c = data;
    setup_done(c);
    schedule(c->sup);
}

/* No process could be made at all (clone failed): treated like a failed run. */
static void start_failed(struct ctr *c, const char *why)
{
    snprintf(c->failure, sizeof c->failure, "%s", why);
    log_error("%s: failed: %s", c->spec->name, why);
    output_note(&c->out, "failed: %s", why);
    c->has_exited = true;
    c->last_status = 127 << 8;
    ctr_input(c, SUP_IN_START_FAILED, c->last_status, 0);
}

/* Everything a process of the container needs (its user namespace, image
 * layers, cgroup, network namespace, /etc/hosts), then the clone: of a start,
 * or of a standby (docs/operations.md, "Standby") that stops before its exec.
 * *hosts_gen: the apply generation its /etc/hosts was made for. */
static int ctr_spawn(struct ctr *c, bool standby, struct container_proc *proc, unsigned *hosts_gen,
                     struct kerr *err)
{
    struct supervisor *s = c->sup;
    const struct container_spec *spec = c->spec;
    int r = userns_open(&c->userns, spec, err);
    if (r < 0)
        return r;
    /* Image layers are attached at the first start and kept across restarts. */
    if (!c->lowers && (r = layerimg_acquire(s->images, spec->layers, &c->lowers, err)) < 0)
        return r;
    int cgfd = -1;
    if (standby && c->pid > 0 && c->has_cgroup) {
        /* Beside the running instance, in its cgroup as it is: made again,
         * it would be emptied (cgroup_container_create kills what an
         * earlier run left there). */
        if ((cgfd = cg_dir_fd(c)) < 0)
            return kerr_set(err, errno, "cannot open the cgroup of %s", spec->name);
    } else if (s->opts.cgroup) {
        /* A limit that cannot be applied refuses the container: never dropped silently. */
        struct container_spec named;
        cg_events_retire(c);   /* ctr_start opens the new cgroup's */
        if ((r = cgroup_container_create(s->opts.cgroup, cg_spec(c, &named), &cgfd, err)) < 0)
            return r;
        if (r == 0)
            c->cg_oom_base = 0;   /* made afresh; reused (1), it keeps its count */
        c->has_cgroup = cgfd >= 0;
    }
    struct container_start in = {
        .spec = spec,
        .stage = c->stage,
        .layers = c->lowers,
        /* Without the network module (keel check's tests), a private namespace still isolates. */
        .join_netns = s->opts.net && spec->net != NET_HOST,
        .new_netns = !s->opts.net && spec->net != NET_HOST,
        .cgroup_fd = cgfd,
        .seccomp = c->seccomp.len ? &c->seccomp : NULL,
        .output_fd = c->out.write_fd,
        .devnull_fd = s->devnull,
        .resolv = s->resolv,
        .resolv_tree = -1,
        .hosts_tree = -1,
        .ready_fd = spec->ready == READY_FD && !standby ? c->ready_child_fd : -1,
        .notify_host = spec->ready == READY_NOTIFY ? c->notify_path : NULL,
        .userns = c->userns.fd >= 0 ? &c->userns : NULL,
        .standby = standby,
    };
    if (s->resolv_fd >= 0) {
        struct kerr terr = { 0 };
        in.resolv_tree = mount_file_tree(s->resolv_fd, &terr);
        if (in.resolv_tree < 0)   /* the content is still there: only later changes are lost */
            log_warn("%s: %s: its /etc/resolv.conf will not follow DHCP changes", spec->name, terr.msg);
    }
    /* The live /etc/hosts at the clone, its content written below, before
     * the hand-over: the child binds it early, before its pivot_root (the
     * text alone would have to wait for the hand-over, and the pivot with it). */
    if (s->opts.net) {
        in.hosts_tree = hosts_live(c);
        in.hosts_late = in.hosts_tree < 0;
    }
    r = container_start(&in, proc, err);
    bool hosts_early = in.hosts_tree >= 0;
    close_safe(in.hosts_tree);
    close_safe(in.resolv_tree);
    close_safe(cgfd);
    if (r < 0) {
        if (proc->pid > 0)
            doom(c, proc->pid, standby ? "standby" : "setup child");
        return r;
    }
    /* While the child builds the root: the network namespace, created (and,
     * for bridge mode, wired) once and pinned, so a restart rejoins the same
     * namespace with the same address; then the /etc/hosts naming it. */
    int netns = -1;
    _cleanup_free_ char *hosts = NULL;
    *hosts_gen = c->hosts_gen;
    if (s->opts.net) {
        struct in_addr was = net_container_ip(s->opts.net, spec);
        if ((r = net_container_netns(s->opts.net, spec, &netns, err)) < 0) {
            container_abort(proc);
            doom(c, proc->pid, standby ? "standby" : "setup child");
            return r;
        }
        /* Down for good, it gave its address back: it may have another now,
         * which the others' /etc/hosts must name (not the old one, which the
         * next container started may get).  Not a start-first replacement
         * (prev): NAME becomes its address when the ports move to it. */
        if (!c->prev && net_container_ip(s->opts.net, spec).s_addr != was.s_addr)
            hosts_refresh_all(s);
        hosts = net_hosts_file(s->opts.net, s->m, spec);
        *hosts_gen = s->hosts_gen;
    }
    /* Without the live copy (hosts_live failed and said so before the
     * clone), the text goes with the hand-over. */
    struct container_handover ho = { .netns_fd = netns, .hosts = hosts_early ? NULL : hosts, .hosts_tree = -1 };
    if (hosts_early && !hosts)
        r = kerr_set(err, ENOMEM, "cannot write the /etc/hosts of %s", spec->name);
    else if (hosts_early)
        r = live_file_write(c->hosts_fd, hosts, "the container's /etc/hosts", err);
    if (r >= 0)
        r = container_hand_over(proc, &ho, err);
    if (standby)   /* nothing comes (give_probe) */
        container_hold_close(&proc->hold_fd);
    close_safe(ho.hosts_tree);
    close_safe(netns);
    if (r < 0) {
        container_abort(proc);
        doom(c, proc->pid, standby ? "standby" : "setup child");
    }
    return r;
}

static bool standby_take(struct ctr *c, struct container_proc *proc);

/* SUP_DO_START: everything a run needs, then the clone, or the release of
 * the standby.  The outcome goes back to the machine as SUP_IN_CLONED or
 * SUP_IN_START_FAILED. */
static void ctr_start(struct ctr *c)
{
    struct supervisor *s = c->sup;
    const struct container_spec *spec = c->spec;
    c->ready = false;
    c->ready_early = false;
    c->health = (struct health_counter){ spec->health != HEALTH_NONE ? HS_STARTING : HS_NONE, 0 };
    struct kerr err = { 0 };
    /* The sd_notify socket outlives runs: what the last run sent and keel
     * has not read yet is not this run's word (it could not have sent any). */
    if (spec->ready == READY_NOTIFY && c->ready_fd >= 0)
        (void)health_notify_read(c->ready_fd);
    if (ready_prepare(c, &err) < 0) {
        start_failed(c, err.msg);
        return;
    }
    struct container_proc proc;
    if (!standby_take(c, &proc)) {
        unsigned gen = 0;
        int r = ctr_spawn(c, false, &proc, &gen, &err);
        if (c->ready_child_fd >= 0) {
            close(c->ready_child_fd);   /* the container holds the write end now */
            c->ready_child_fd = -1;
        }
        if (r < 0) {
            start_failed(c, err.msg);
            return;
        }
        c->hosts_gen = gen;
    }
    c->pid = proc.pid;
    c->pidfd = proc.pidfd;
    c->setup_fd = proc.setup_fd;
    container_hold_close(&c->hold_fd);
    c->hold_fd = proc.hold_fd;
    container_ns_close(&c->ns);   /* the last run's, kept for a standby's release (record_exit) */
    c->ns = proc.ns;
    c->started_mono_ms = now_ms();
    c->started_real_ms = realtime_ms();
    ctr_input(c, SUP_IN_CLONED, 0, 0);
    if (c->has_cgroup)
        cg_events_open(c);
    if (loop_add_fd(s->loop, c->setup_fd, EPOLLIN | EPOLLHUP, on_setup_result, c) < 0) {
        /* Without the watch the result is read when the child is reaped. */
        log_warn("%s: cannot watch the setup of the container", spec->name);
    }
    log_stage("%s: exec", spec->name);
}

/* --- the standby (docs/operations.md, "Standby") ------------------------------------------ */

/* Whether the container should have a standby now: asked for, and neither
 * keel nor an apply is ending this record. */
static bool standby_wanted(const struct ctr *c)
{
    return c->spec->standby && !c->sup->stopping_all && !c->retiring && !c->replacing && !c->aside && !c->alt &&
           c->spec->ready != READY_FD && !manifest_secrets_remote(c->spec);
}

static void standby_clear(struct ctr *c)
{
    close_safe(c->sb.pidfd);
    if (c->sb.setup_fd >= 0)
        close(c->sb.setup_fd);
    close_safe(c->sb.release_fd);
    container_ns_close(&c->sb.ns);
    c->sb.pid = 0;
    c->sb.pidfd = c->sb.setup_fd = c->sb.release_fd = -1;
}

/* Kills the standby, if any, and forgets it at once: from here it is no
 * longer the record's (no cgroup, namespace or address is kept for it) and
 * the reap loop knows it as a killed child (doom).  It runs keel's own code,
 * blocked in a read or busy with its mounts, and SIGKILL usually ends it at
 * once; but busy with a bind source on a hung FUSE or NFS server it dies
 * only when the server answers, and waiting for it would hold PID 1. */
static void standby_discard(struct ctr *c)
{
    if (c->sb.timer > 0)
        loop_cancel_timer(c->sup->loop, c->sb.timer);
    c->sb.timer = 0;
    if (c->sb.pid <= 0)
        return;
    if (!(c->sb.pidfd >= 0 && sys_pidfd_send_signal(c->sb.pidfd, SIGKILL) == 0) && kill(c->sb.pid, SIGKILL) < 0)
        log_warn("%s: cannot kill its standby %d: %s", c->spec->name, (int)c->sb.pid, strerror(errno));
    doom(c, c->sb.pid, "standby");
    log_debug("%s: standby %d discarded", c->spec->name, (int)c->sb.pid);
    standby_clear(c);
}

static void standby_prepare(struct ctr *c);

static void standby_fired(struct loop *l, void *data)
{
    struct ctr *c = data;
    c->sb.timer = 0;
    standby_prepare(c);
}

/* A new standby after sb.delay_ms, from the loop: never inside the step that
 * asked for it, never on the path of the start it follows. */
static void standby_kick(struct ctr *c)
{
    if (!standby_wanted(c) || c->sb.pid > 0 || c->sb.timer > 0 || c->sb.tries == 0)
        return;
    int64_t t = loop_add_timer(c->sup->loop, c->sb.delay_ms, standby_fired, c);
    c->sb.timer = t > 0 ? t : 0;
    if (t <= 0)
        log_warn("%s: cannot arm a timer: no standby is prepared", c->spec->name);
}

static void release_if_done(struct ctr *c);

/* The standby could not be made, or died on its own: the next one after a
 * delay that doubles from 100 ms, so a standby that cannot be prepared (a
 * missing bind source, the pids limit) never busy-loops; after STANDBY_TRIES
 * in a row, none until the container's next exec. */
static void standby_retry(struct ctr *c)
{
    c->sb.delay_ms = c->sb.delay_ms ? c->sb.delay_ms * 2 : 100;
    if (c->sb.delay_ms > 10000)
        c->sb.delay_ms = 10000;
    if (c->sb.tries > 0 && --c->sb.tries == 0) {
        log_warn("%s: no standby until its next start (%u preparations failed)", c->spec->name,
                 STANDBY_TRIES);
        release_if_done(c);   /* what it would have held, if the container is down */
        return;
    }
    standby_kick(c);
}

static void standby_prepare(struct ctr *c)
{
    /* While a start's own setup child or a stop is under way: after it
     * (setup_done and release_if_done kick again). */
    if (!standby_wanted(c) || c->sb.pid > 0 || c->m.state == CS_STARTING || c->m.state == CS_STOPPING)
        return;
    struct container_proc proc;
    struct kerr err = { 0 };
    unsigned gen = 0;
    /* Before the clone: a change between this look and the child's copy
     * shows at the release, only ever as a change. */
    manifest_secrets_stamp(c->spec, &c->sb.secrets);
    if (ctr_spawn(c, true, &proc, &gen, &err) < 0) {
        log_warn("%s: cannot prepare its standby: %s", c->spec->name, err.msg);
        standby_retry(c);
        return;
    }
    c->sb.pid = proc.pid;
    c->sb.pidfd = proc.pidfd;
    c->sb.setup_fd = proc.setup_fd;
    c->sb.release_fd = proc.release_fd;
    c->sb.ns = proc.ns;
    c->sb.hosts_gen = gen;
    log_debug("%s: standby %d prepared", c->spec->name, (int)c->sb.pid);
}

/* SUP_DO_START with a standby: released (one write) and adopted as the
 * run's process.  False when there is none or it is gone (then discarded,
 * and the start makes its process as without one). */
static bool standby_take(struct ctr *c, struct container_proc *proc)
{
    if (c->sb.timer > 0)
        loop_cancel_timer(c->sup->loop, c->sb.timer);
    c->sb.timer = 0;
    if (c->sb.pid <= 0)
        return false;
    /* Its secrets are copies made when it was prepared: a normal start
     * copies them now.  A look at each source (no read: the release path). */
    if (c->spec->n_secrets) {
        struct file_digest now;
        manifest_secrets_stamp(c->spec, &now);
        if (!now.known || !c->sb.secrets.known || memcmp(now.sha256, c->sb.secrets.sha256, sizeof now.sha256) != 0) {
            log_info("%s: its secrets may have changed since its standby was prepared: starting without it",
                     c->spec->name);
            standby_discard(c);
            return false;
        }
    }
    struct kerr err = { 0 };
    if (container_release(c->sb.release_fd, &err) < 0) {
        log_warn("%s: %s; starting without it", c->spec->name, err.msg);
        standby_discard(c);
        return false;
    }
    *proc = (struct container_proc){ .pid = c->sb.pid, .pidfd = c->sb.pidfd, .setup_fd = c->sb.setup_fd,
                                     .ns = c->sb.ns, .handover_fd = -1, .hold_fd = -1, .release_fd = -1 };
    c->hosts_gen = c->sb.hosts_gen;
    close(c->sb.release_fd);
    c->sb.pid = 0;
    c->sb.pidfd = c->sb.setup_fd = c->sb.release_fd = -1;
    container_ns_init(&c->sb.ns);
    return true;
}

/* The reap loop met the standby: it died before any release (killed from
 * outside, its setup failed, keel's parent-death signal).  Its report says
 * why when it has one. */
static void standby_reaped(struct ctr *c, int status)
{
    struct kerr err = { 0 };
    int r = c->sb.setup_fd >= 0 ? container_setup_result(c->sb.setup_fd, &err) : 0;
    char how[64];
    restart_describe_exit(status, how, sizeof how);
    log_warn("%s: its standby %d %s%s%s", c->spec->name, (int)c->sb.pid, how, r < 0 ? ": " : "",
             r < 0 ? err.msg : "");
    standby_clear(c);
    standby_retry(c);
}

static void backoff_fired(struct loop *l, void *data)
{
    struct ctr *c = data;
    c->timer = 0;
    ctr_input(c, SUP_IN_BACKOFF_TIMER, 0, 0);
}

/* --- stopping ------------------------------------------------------------------------ */

static void stop_timeout_fired(struct loop *l, void *data)
{
    struct ctr *c = data;
    c->timer = 0;
    if (c->pid <= 0)
        return;
    ctr_input(c, SUP_IN_STOP_TIMEOUT, 0, 0);
}

/* While stopping everything: stop each container once no container that
 * depends on it is still active (reverse dependency order). */
static void schedule_stops(struct supervisor *s)
{
    for (size_t k = s->n; k-- > 0;) {
        size_t i = s->m->start_order ? (size_t)s->m->start_order[k] : k;
        struct ctr *c = s->c[i];
        if (!is_active(c) && c->m.state != CS_WAITING && c->m.state != CS_BACKOFF)
            continue;
        if (c->m.state == CS_STOPPING)
            continue;
        bool dependant_active = false;
        for (size_t j = 0; j < s->n && !dependant_active; j++) {
            const struct container_spec *o = s->c[j]->spec;
            for (size_t d = 0; d < o->n_deps; d++)
                if (o->deps[d].index == (int)i && (holds_stop(s->c[j]) || s->c[j]->m.state == CS_BACKOFF))
                    dependant_active = true;
        }
        if (!dependant_active)
            ctr_input(c, SUP_IN_STOP_ALL, 0, 0);
    }
}

static void apply_progress(struct supervisor *s);

static void schedule(struct supervisor *s)
{
    if (s->ap.active)
        apply_progress(s);
    if (s->stopping_all) {
        schedule_stops(s);
        return;
    }
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->m->start_order ? (size_t)s->m->start_order[k] : k;
        struct ctr *c = s->c[i];
        if (c->m.state != CS_WAITING || c->m.stop_requested)
            continue;
        ctr_input(c, deps_satisfied(c) ? SUP_IN_DEPS_MET : SUP_IN_DEPS_PENDING, 0, 0);
    }
}

/* --- exits ------------------------------------------------------------------------------ */

/* SUP_DO_RECORD_EXIT: the run is over. */
static void record_exit(struct ctr *c, int status, const struct sup_step *st)
{
    struct supervisor *s = c->sup;
    char how[64];
    restart_describe_exit(status, how, sizeof how);
    c->ready = false;
    close_safe(c->pidfd);
    c->pidfd = -1;
    /* The run's namespaces go now, their mount tree with them (the overlay,
     * its tmpfs upper, /proc, /sys, /dev: the unmounts took ~0.3 ms of a
     * 0.75 ms restart on the host), or, when a standby is to be released in
     * this turn of the loop (a restart without delay), in ctr_start right
     * after the release: off the restart's path.  Not kept over a backoff
     * or while the container is down (they hold the dead run's memory); a
     * restart that finds its dependencies down meanwhile keeps them until
     * its start.  A standby has no upper directory (keel check), so the
     * dead run's overlay never blocks the next one's. */
    if (!(c->m.state == CS_BACKOFF && st->delay_ms == 0 && c->sb.pid > 0))
        container_ns_close(&c->ns);
    pid_t pid = c->pid;
    c->pid = 0;
    if (c->kill_timer > 0)
        loop_cancel_timer(s->loop, c->kill_timer);
    c->kill_timer = 0;
    if (c->left_behind)
        log_info("%s: its process %d is gone at last", c->spec->name, (int)pid);
    c->left_behind = false;
    c->has_exited = true;
    c->last_status = status;
    log_info("%s: %s", c->spec->name, how);
    output_note(&c->out, "%s", how);
    struct sup_event ev = { .kind = EV_EXITED, .name = c->label ? c->label : c->spec->name, .time_ms = realtime_ms(), .pid = pid,
                            .status = status, .count = c->m.restarts };
    for (size_t i = 0; i < s->n_subs; i++)
        s->subs[i].cb(&ev, s->subs[i].data);
}

static void ctr_exited(struct ctr *c, int status)
{
    /* An exec and an exit seen in one turn of the loop: the exec first. */
    if (c->setup_fd >= 0)
        setup_done(c);
    ctr_input(c, SUP_IN_EXIT, status, now_ms() - c->started_mono_ms);
}

static bool down_for_good(const struct ctr *c)
{
    return !(c->pid > 0 || c->m.state == CS_BACKOFF || c->m.state == CS_WAITING || c->m.state == CS_STARTING ||
             c->m.state == CS_RUNNING || c->m.state == CS_STOPPING);
}

/* Whether a container that joins c's network namespace (network =
 * container:NAME) is still up or coming: that namespace is its network too. */
static bool joined_by_live(const struct ctr *c)
{
    const struct supervisor *s = c->sup;
    for (size_t i = 0; i < s->n; i++) {
        const struct ctr *d = s->c[i];
        if (d != c && d->spec->net == NET_CONTAINER && strcmp(d->spec->net_peer, c->spec->name) == 0 &&
            !down_for_good(d))
            return true;
    }
    return false;
}

/* The child that forgets a released address's flows (net_container_release)
 * was reaped: net frees the address.  A watched child, never a container's:
 * it makes no event. */
static void net_release_done(pid_t pid, int status, void *data)
{
    struct supervisor *s = data;
    net_release_reaped(s->opts.net, pid, status);
}

/* Takes over the child of a release (0: none).  Unwatched (no memory), the
 * loop would reap it as an orphan and its address stay held: waited for
 * here instead, bounded. */
static void watch_net_release(struct supervisor *s, pid_t pid)
{
    if (pid > 0 && supervisor_watch_child(s, pid, net_release_done, s) < 0)
        net_release_wait(s->opts.net, pid);
}

/* The namespace, address and ports of a container down for good go back
 * once no joiner uses the namespace any more: until then a new start of it
 * rejoins its joiners, and its address cannot be handed out twice. */
static void release_net_if_unused(struct ctr *c)
{
    struct supervisor *s = c->sup;
    if (!s->opts.net || !down_for_good(c) || joined_by_live(c))
        return;
    struct in_addr was = net_container_ip(s->opts.net, c->spec);
    /* keel exits once its main container is down for good, and is
     * stopping with stopping_all: nothing left for the loop to serve, and
     * the walk is cheaper before the teardown than beside it. */
    bool exiting = s->stopping_all || c->spec->main;
    watch_net_release(s, net_container_release(s->opts.net, c->spec, exiting));
    /* Its name leaves the others' /etc/hosts with its address, which the
     * next container started may get (not while keel stops: nobody reads
     * the files any more). */
    if (was.s_addr && !net_container_ip(s->opts.net, c->spec).s_addr && !s->stopping_all)
        hosts_refresh_all(s);
}

/* A container down for good gives back what it held between restarts. */
static void release_images(struct ctr *c)
{
    if (!c->lowers)
        return;
    layerimg_release(c->sup->images, c->lowers);
    strv_free(c->lowers);
    c->lowers = NULL;
}

static void release_if_done(struct ctr *c)
{
    if (!down_for_good(c))
        return;
    /* A standby holds what a start would make again (cgroup, layers,
     * namespace and address): kept while it is wanted, released with it. */
    if (standby_wanted(c)) {
        standby_kick(c);
        if (c->sb.pid > 0 || c->sb.timer > 0)
            return;
    }
    standby_discard(c);
    cg_remove_if_done(c);
    release_images(c);
    if (c->aside)
        return;   /* its namespace is the replacement's to give back (net_replace_end) */
    release_net_if_unused(c);
    /* A joiner going down may be what its peer's namespace waited for. */
    if (c->spec->net == NET_CONTAINER) {
        int peer = manifest_find_container(c->sup->m, c->spec->net_peer);
        if (peer >= 0)
            release_net_if_unused(c->sup->c[peer]);
    }
}

/* --- carrying out the machine's actions ------------------------------------------- */

static void ctr_act(struct ctr *c, enum sup_action a, const struct sup_input *in, const struct sup_step *st)
{
    struct supervisor *s = c->sup;
    const struct container_spec *spec = c->spec;
    switch (a) {
    case SUP_DO_START:
        ctr_start(c);
        return;
    case SUP_DO_ARM_WAIT:
        wait_arm(c);
        return;
    case SUP_DO_DISARM_WAIT:
        wait_disarm(c);
        return;
    case SUP_DO_CANCEL_TIMER:
        cancel_timer(c);
        return;
    case SUP_DO_ARM_BACKOFF:
        c->timer = loop_add_timer(s->loop, st->delay_ms, backoff_fired, c);
        if (c->timer < 0) {
            c->timer = 0;
            ctr_input(c, SUP_IN_NO_TIMER, 0, 0);
        }
        return;
    case SUP_DO_ARM_STOP_TIMER:
        c->timer = loop_add_timer(s->loop, spec->stop_timeout_ms, stop_timeout_fired, c);
        return;
    case SUP_DO_SIGNAL:
        if (send_signal(c, spec->stop_signal) < 0 && errno != ESRCH)
            log_warn("%s: cannot send %s: %s", spec->name, signal_name(spec->stop_signal), strerror(errno));
        return;
    case SUP_DO_KILL:
        kill_all(c);
        return;
    case SUP_DO_HEALTH_ARM:
        health_check_arm(&c->hc, spec->health_interval_ms);
        return;
    case SUP_DO_HEALTH_STOP:
        health_check_stop(&c->hc);
        return;
    case SUP_DO_NOTE_STARTED:
        note_started(c);
        return;
    case SUP_DO_NOTE_STOPPING:
        log_info("%s: stopping", spec->name);
        return;
    case SUP_DO_NOTE_STOPPED:
        log_info("%s: stopped", spec->name);
        return;
    case SUP_DO_NOTE_KILLING:
        log_warn("%s: did not stop within %llu ms, killing it", spec->name,
                 (unsigned long long)spec->stop_timeout_ms);
        return;
    case SUP_DO_NOTE_RESTARTING:
        log_info("%s: restarting in %llu ms (restart %u)", spec->name, (unsigned long long)st->delay_ms,
                 c->m.restarts);
        return;
    case SUP_DO_NOTE_BLOCKER:
        note_blocker(c);
        return;
    case SUP_DO_NOTE_GAVE_UP:
        snprintf(c->failure, sizeof c->failure, "gave up after %u restarts", c->m.restarts);
        log_error("%s: failed: %s", spec->name, c->failure);
        return;
    case SUP_DO_RECORD_EXIT:
        record_exit(c, in->status, st);
        return;
    case SUP_DO_EMIT_STARTED:
        emit(s, EV_STARTED, c, 0, c->m.restarts, NULL);
        return;
    case SUP_DO_EMIT_STOPPED:
        emit(s, EV_STOPPED, c, in->status, c->m.restarts, NULL);
        return;
    case SUP_DO_EMIT_RESTARTING:
        emit(s, EV_RESTARTING, c, in->status, c->m.restarts, NULL);
        return;
    case SUP_DO_EMIT_FAILED:
        emit(s, EV_FAILED, c, in->status, c->m.restarts, c->failure);
        return;
    case SUP_DO_CRASHLOOP:
        if (s->opts.power)
            s->opts.power(spec->on_crashloop, c->failure, s->opts.power_data);
        return;
    case SUP_DO_SCHEDULE:
        schedule(s);
        return;
    case SUP_DO_RELEASE:
        release_if_done(c);
        return;
    case SUP_DO_N:
        return;
    }
}

void supervisor_reap(struct supervisor *s)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            if (pid < 0 && errno == EINTR)
                continue;
            return;
        }
        bool found = doomed_reaped(s, pid);
        for (size_t i = 0; i < s->n && !found; i++)
            if (s->c[i]->sb.pid == pid) {
                found = true;
                standby_reaped(s->c[i], status);
            } else if (s->c[i]->pid == pid) {
                found = true;
                ctr_exited(s->c[i], status);
            } else if (s->c[i]->prev && s->c[i]->prev->pid == pid) {
                found = true;
                ctr_exited(s->c[i]->prev, status);
            }
        for (size_t i = 0; i < s->n_watched && !found; i++)
            if (s->watched[i].pid == pid) {
                struct watched w = s->watched[i];
                s->watched[i] = s->watched[--s->n_watched];
                found = true;
                w.cb(pid, status, w.data);
            }
        if (!found)
            log_debug("reaped orphan %d", (int)pid);
    }
}

int supervisor_watch_child(struct supervisor *s, pid_t pid, sup_child_cb cb, void *data)
{
    struct watched *nw = realloc(s->watched, (s->n_watched + 1) * sizeof *nw);
    if (!nw)
        return -ENOMEM;
    s->watched = nw;
    s->watched[s->n_watched++] = (struct watched){ pid, cb, data };
    return 0;
}

/* --- output ------------------------------------------------------------------------------- */

static void on_output(struct loop *l, int fd, uint32_t events, void *data);

static void output_retry(struct loop *l, void *data)
{
    struct ctr *c = data;
    c->out_timer = 0;
    if (loop_add_fd(l, output_watch_fd(&c->out), EPOLLIN, on_output, c) < 0)
        log_error("%s: cannot watch the output pipe again; its output is no longer logged", c->spec->name);
}

static void on_output(struct loop *l, int fd, uint32_t events, void *data)
{
    struct ctr *c = data;
    if (fd == c->out.read_fd) {
        output_drain(&c->out);
        return;
    }
    /* The first bytes in the pipe: the relay starts, and keel watches its
     * socket from now on. */
    loop_del_fd(l, fd);
    struct kerr err;
    if (output_start_relay(&c->out, &err) < 0) {
        /* Watching the pipe again at once would spin while fork fails. */
        log_error("%s; trying again in 1 s", err.msg);
        int64_t t = loop_add_timer(l, 1000, output_retry, c);
        c->out_timer = t > 0 ? t : 0;
        return;
    }
    if (loop_add_fd(l, c->out.read_fd, EPOLLIN, on_output, c) < 0)
        log_error("%s: cannot watch the output relay; its output is no longer logged", c->spec->name);
}

/* --- life of the supervisor ----------------------------------------------------------------- */

/* /etc/resolv.conf for the containers: [system] dns, else the host's. */
static char *make_resolv(const struct manifest *m)
{
    char *conf = NULL;
    if (net_resolv_conf(m, &conf) == 0)
        return conf;
    free(conf);
    conf = NULL;
    if (read_file_at(AT_FDCWD, "/etc/resolv.conf", 65536, &conf, NULL) < 0)
        return NULL;
    return conf;
}

/* The containers' resolv.conf is one file of keel's, RUN_DIR/resolv.conf,
 * bound read-only into each container (mount_generated_fd): rewritten in
 * place by supervisor_set_resolv, the change reaches every running container
 * through its bind.  A rename would not: the binds would keep the old inode. */
static int live_file_write(int fd, const char *text, const char *what, struct kerr *err)
{
    size_t len = strlen(text);
    ssize_t w = pwrite(fd, text, len, 0);
    if (w < 0 || (size_t)w != len || ftruncate(fd, (off_t)len) < 0)
        return kerr_set(err, w < 0 || (size_t)w == len ? errno : EIO, "cannot write %s", what);
    return 0;
}

static int live_resolv_write(int fd, const char *text, struct kerr *err)
{
    return live_file_write(fd, text, "the containers' resolv.conf", err);
}

static int live_resolv_open(struct supervisor *s, struct kerr *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/resolv.conf", s->opts.run_dir);
    s->resolv_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (s->resolv_fd < 0)
        return kerr_set(err, errno, "cannot create %s", path);
    return live_resolv_write(s->resolv_fd, s->resolv, err);
}

int supervisor_set_resolv(struct supervisor *s, const char *text, struct kerr *err)
{
    char *copy = strdup(text);
    if (!copy)
        return kerr_set(err, ENOMEM, "cannot write the containers' resolv.conf");
    free(s->resolv);
    s->resolv = copy;
    if (s->resolv_fd < 0)
        return live_resolv_open(s, err);
    return live_resolv_write(s->resolv_fd, text, err);
}

/* A container's /etc/hosts is RUN_DIR/hosts/NAME, a file of keel's bound
 * read-only into it like resolv.conf (mount_file_tree): written at each
 * start, and rewritten in place (the same inode) by an apply, so that a
 * running container learns the containers added and loses the removed ones
 * (hosts_refresh).  Made before the clone, its content written before the
 * hand-over (ctr_spawn).  Returns the clone to attach, or -1 (warned: the
 * container gets a copy of the text that later applies do not reach). */
static int hosts_live(struct ctr *c)
{
    struct supervisor *s = c->sup;
    struct kerr err = { 0 };
    if (c->hosts_fd < 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/hosts", s->opts.run_dir);
        int r = mkdir_p(path, 0700);
        snprintf(path, sizeof path, "%s/hosts/%s", s->opts.run_dir, c->iname);
        c->hosts_fd = r < 0 ? -1 : open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
        if (c->hosts_fd < 0) {
            log_warn("%s: cannot create %s: %s: its /etc/hosts will not follow applies", c->spec->name, path,
                     strerror(r < 0 ? -r : errno));
            return -1;
        }
        /* With a user namespace the container's root owns it, as it owns
         * the rest of its root (an unmapped owner shows as nobody). */
        uint32_t uid = 0, gid = 0;
        if (c->userns.fd >= 0 && (userns_to_host(c->userns.map, c->userns.n, 0, &uid) < 0 ||
                                  userns_to_host(c->userns.map, c->userns.n, 0, &gid) < 0 ||
                                  fchown(c->hosts_fd, uid, gid) < 0))
            log_warn("%s: cannot give %s to the container's root: %s", c->spec->name, path, strerror(errno));
    }
    int tree = -1;
    if ((tree = mount_file_tree(c->hosts_fd, &err)) < 0) {
        log_warn("%s: %s: its /etc/hosts will not follow applies", c->spec->name, err.msg);
        return -1;
    }
    return tree;
}

static void hosts_close(struct ctr *c)
{
    if (c->hosts_fd < 0)
        return;
    close_safe(c->hosts_fd);
    c->hosts_fd = -1;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/hosts/%s", c->sup->opts.run_dir, c->iname);
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", path, strerror(errno));
}

/* A container's record, its fds closed: every later step may fail and
 * leave it to ctr_free.  NULL when out of memory. */
static struct ctr *ctr_alloc(struct supervisor *s, const struct container_spec *spec, size_t index, bool alt)
{
    struct ctr *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sup = s;
    c->spec = spec;
    c->index = index;
    c->m.state = CS_WAITING;
    c->state_since_ms = now_ms();
    c->out.read_fd = c->out.write_fd = c->out.log_fd = -1;
    c->out.pipe_fd = c->out.relay_out = -1;
    c->pidfd = c->setup_fd = c->hold_fd = -1;
    container_ns_init(&c->ns);
    c->sb.pidfd = c->sb.setup_fd = c->sb.release_fd = -1;
    container_ns_init(&c->sb.ns);
    c->ready_fd = c->ready_child_fd = -1;
    health_check_init(&c->hc, s->loop, spec, &c->ns, &c->seccomp, &hc_ops, c);
    c->mem_events_fd = c->cg_events_fd = -1;
    c->hosts_fd = -1;
    c->userns = (struct userns)USERNS_INIT;
    c->alt = alt;
    if (spec->standby && !alt && manifest_secrets_remote(spec))
        log_warn("%s: standby = yes is not used: a secret of it is on a network or FUSE file system, which keel "
                 "does not look at on a restart's path", spec->name);
    if (!(c->iname = xasprintf("%s%s", spec->name, alt ? "~next" : "")) ||
        !(c->stage = xasprintf("%s/containers/%s", s->opts.run_dir, c->iname))) {
        free(c->iname);
        free(c);
        return NULL;
    }
    return c;
}

/* Adds to RULE the host directories the containers of M can write: their
 * rw mounts' sources (volumes too) and their upper directories' upper/.
 * log_dir's walk follows no symlink at or below one of them: a container
 * may have planted it.  One that is not there yet is left out (keel makes
 * it later, empty).  -ENOMEM. */
static int add_writable_dirs(const struct manifest *m, struct mkdir_rule *rule)
{
    for (size_t i = 0; m && i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        for (size_t j = 0; j <= c->n_mounts; j++) {
            char upper[PATH_MAX];
            const char *dir = NULL;
            if (j < c->n_mounts && !c->mounts[j].readonly)
                dir = c->mounts[j].source;
            else if (j == c->n_mounts && c->upper && strcmp(c->upper, "tmpfs") != 0 &&
                     snprintf(upper, sizeof upper, "%s/upper", c->upper) < (int)sizeof upper)
                dir = upper;
            struct stat st;
            if (!dir || stat(dir, &st) < 0)
                continue;
            struct file_id *ids = realloc(rule->writable, (rule->n_writable + 1) * sizeof *ids);
            if (!ids)
                return -ENOMEM;
            ids[rule->n_writable++] = (struct file_id){ st.st_dev, st.st_ino };
            rule->writable = ids;
        }
    }
    return 0;
}

/* LOG_DIR made and opened (output_open_log_dir), following only an
 * administrator's symlinks: none at or below a directory a container of M
 * or of the running manifest can write. */
static int open_log_dir(struct supervisor *s, const struct manifest *m, const char *log_dir, struct kerr *err)
{
    struct mkdir_rule rule = { 0 };
    if (add_writable_dirs(m, &rule) < 0 || (s->m != m && add_writable_dirs(s->m, &rule) < 0)) {
        free(rule.writable);
        return kerr_set(err, ENOMEM, "cannot open log directory %s", log_dir);
    }
    int fd = output_open_log_dir(log_dir, &rule, err);
    free(rule.writable);
    return fd;
}

/* log_dir, opened once (output_open_log_dir) at the first container's
 * prepare and held: every container prepared later (one whose start waited,
 * one an apply added or changed) opens its log in that directory, not at
 * log_dir's path, which a container that can write log_dir's parent may
 * have pointed elsewhere since.  An apply that changed log_dir (a reboot
 * key, but the containers it prepares take the new manifest's) has the new
 * one opened the same way and held instead (open_log_dir). */
static int log_dir_reopen(struct supervisor *s, const struct ctr *asker);

static int held_log_dir(struct supervisor *s, const struct manifest *m, struct kerr *err)
{
    const char *log_dir = m->system.log_dir;
    if (s->log_dir_fd >= 0 && strcmp(s->log_dir_path, log_dir) == 0) {
        int fd = log_dir_reopen(s, NULL);
        return fd >= 0 ? fd : kerr_msg(err, ENOENT, "cannot open log directory %s: it was removed, and cannot be "
                                       "opened again", log_dir);
    }
    char *path = strdup(log_dir);
    if (!path)
        return kerr_set(err, ENOMEM, "cannot open log directory %s", log_dir);
    int fd = open_log_dir(s, m, log_dir, err);
    if (fd < 0) {
        free(path);
        return fd;
    }
    close_safe(s->log_dir_fd);
    free(s->log_dir_path);
    s->log_dir_fd = fd;
    s->log_dir_path = path;
    return fd;
}

/* The held log_dir, or when it was removed (its st_nlink is 0: a
 * cleanup's rm -rf, maybe a mkdir after it; logs opened in it would be made
 * nowhere) the directory at log_dir's path, opened (made if missing) by the
 * same rule as the first time and held instead; every container's output
 * but ASKER's whose log went with the old one moves to it now (the rest at
 * their next open).  One console line.  -1 when it cannot be (said once). */
static int log_dir_reopen(struct supervisor *s, const struct ctr *asker)
{
    struct stat st;
    if (s->log_dir_fd < 0 || fstat(s->log_dir_fd, &st) < 0)
        return -1;
    if (st.st_nlink > 0)
        return s->log_dir_fd;
    struct kerr err = { 0 };
    int fd = open_log_dir(s, s->m, s->log_dir_path, &err);
    if (fd < 0) {
        if (!s->log_dir_lost)
            log_warn("log directory %s was removed; %s: output is dropped (counted) until it can be opened",
                     s->log_dir_path, err.msg);
        s->log_dir_lost = true;
        return -1;
    }
    s->log_dir_lost = false;
    close(s->log_dir_fd);
    s->log_dir_fd = fd;
    log_warn("log directory %s was removed: the logs go on in the one at that path now", s->log_dir_path);
    for (size_t i = 0; i < s->n; i++)
        if (s->c[i] != asker)
            output_reopen_if_removed(&s->c[i]->out);
    return fd;
}

/* An output's dir_again (output.h). */
static int log_dir_again(void *ctx)
{
    struct ctr *c = ctx;
    return log_dir_reopen(c->sup, c);
}

/* What a container needs before its first start: its staging directory,
 * its seccomp filter (compiled once, here, so the setup child only installs
 * it) and its output. */
static int ctr_prepare(struct ctr *c, const struct manifest *m, struct kerr *err)
{
    int r = mkdir_p(c->stage, 0700);
    if (r < 0)
        return kerr_set(err, -r, "cannot create %s", c->stage);
    if (c->spec->userns != USERNS_NO && userns_possible(c->spec, err) < 0)
        return kerr_prefix(err, "%s:%d: container '%s'", m->path, manifest_key_line(c->spec, "userns"),
                           c->spec->name);
    r = seccomp_build(c->spec, c->spec->caps, &c->seccomp, err);
    if (r < 0 && c->spec->seccomp_read_err)   /* the profile read after the load: its manifest line, as the load's */
        return kerr_prefix(err, "%s:%d", m->path, manifest_key_line(c->spec, "seccomp"));
    if (r < 0)
        return r;
    int dir_fd = held_log_dir(c->sup, m, err);
    if (dir_fd < 0)
        return dir_fd;
    r = output_open(&c->out, c->spec->name, m->system.log_dir, dir_fd, m->system.log_max_size,
                    m->system.log_keep, err);
    c->out.dir_again = log_dir_again;
    c->out.dir_again_ctx = c;
    if (r == 0 && (r = loop_add_fd(c->sup->loop, output_watch_fd(&c->out), EPOLLIN, on_output, c)) < 0)
        r = kerr_set(err, -r, "cannot watch the output of %s", c->spec->name);
    return r;
}

static void ctr_free(struct ctr *c)
{
    if (!c)
        return;
    struct supervisor *s = c->sup;
    standby_discard(c);
    cancel_timer(c);
    if (c->kill_timer > 0)
        loop_cancel_timer(s->loop, c->kill_timer);
    if (c->pid > 0 && c->left_behind)
        log_warn("%s: its process %d is still not dead: left behind", c->spec->name, (int)c->pid);
    wait_disarm(c);
    health_check_stop(&c->hc);
    if (c->ready_fd >= 0) {
        loop_del_fd(s->loop, c->ready_fd);
        close(c->ready_fd);
        if (c->notify_path)
            unlink(c->notify_path);
    }
    close_safe(c->ready_child_fd);
    close_setup_fd(c);
    close_safe(c->pidfd);
    container_ns_close(&c->ns);
    cg_events_close(c);
    if (c->has_cgroup && cgroot(s)) {
        struct kerr err = { 0 };
        cgroup_container_remove(cgroot(s), c->iname, &err);
    }
    seccomp_prog_free(&c->seccomp);
    userns_close(&c->userns);
    if (c->out_timer)
        loop_cancel_timer(s->loop, c->out_timer);
    if (c->out.pipe_fd >= 0)
        loop_del_fd(s->loop, c->out.pipe_fd);
    release_images(c);
    if (c->out.read_fd >= 0) {
        loop_del_fd(s->loop, c->out.read_fd);
        if (c->out.relay > 0)
            output_drain(&c->out);
    }
    output_close(&c->out);
    hosts_close(c);
    free(c->notify_path);
    free(c->stage);
    free(c->iname);
    free(c->own_spec);
    free(c->label);
    free(c);
}

int supervisor_new(struct supervisor **out, struct loop *l, const struct manifest *m,
                   const struct supervisor_opts *opts, struct kerr *err)
{
    struct supervisor *s = calloc(1, sizeof *s);
    if (!s)
        return kerr_set(err, ENOMEM, "cannot create the supervisor");
    s->loop = l;
    s->m = m;
    s->opts = *opts;
    s->n = m->n_containers;
    s->devnull = -1;
    s->resolv_fd = -1;
    s->log_dir_fd = -1;
    /* An array of pointers: each record is allocated on its own (see struct supervisor). */
    s->c = calloc(s->n ? s->n : 1, sizeof(struct ctr *)); // NOLINT(bugprone-sizeof-expression)
    int r = 0;
    for (size_t i = 0; s->c && i < s->n && r == 0; i++)
        if (!(s->c[i] = ctr_alloc(s, &m->containers[i], i, false)))
            r = -ENOMEM;
    if (!s->c || r < 0) {
        supervisor_free(s);
        return kerr_set(err, ENOMEM, "cannot create the supervisor");
    }
    s->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (s->devnull < 0)
        r = kerr_set(err, errno, "cannot open /dev/null");
    s->resolv = make_resolv(m);
    s->resolv_fd = -1;
    if (r == 0 && s->resolv)
        r = live_resolv_open(s, err);
    s->conditions = KEEL_COND_ALL & ~opts->conditions_pending;
    if (r == 0)
        r = layerimg_set_new(opts->run_dir, &s->images, err);
    for (size_t i = 0; i < s->n && r == 0; i++)
        r = ctr_prepare(s->c[i], m, err);
    if (r < 0) {
        supervisor_free(s);
        return r;
    }
    *out = s;
    return 0;
}

static void apply_end(struct supervisor *s, bool ok, const char *outcome);

static void exec_reaped(pid_t pid, int status, void *data);

void supervisor_free(struct supervisor *s)
{
    if (!s)
        return;
    /* Exec helpers still running when keel stops are never reaped by it:
     * their watchers (control's exec sessions, kept allocated until the
     * supervisor reports the end) learn it now, as killed, and let go. */
    for (size_t i = 0; i < s->n_watched; i++)
        if (s->watched[i].cb == exec_reaped)
            exec_reaped(s->watched[i].pid, W_EXITCODE(0, SIGKILL), s->watched[i].data);
    if (s->ap.active)
        apply_end(s, false, "keel stopped before the apply was complete");
    if (s->pf.timer > 0)
        loop_cancel_timer(s->loop, s->pf.timer);
    for (size_t i = 0; s->c && i < s->n; i++) {
        if (s->c[i])
            ctr_free(s->c[i]->prev);
        ctr_free(s->c[i]);
    }
    while (s->doomed) {
        struct doomed *d = s->doomed;
        s->doomed = d->next;
        log_warn("%s: its killed %s %d is still not dead: left behind", d->iname, d->what, (int)d->pid);
        if (d->timer > 0)
            loop_cancel_timer(s->loop, d->timer);
        free(d);
    }
    layerimg_set_free(s->images);
    close_safe(s->devnull);
    free(s->resolv);
    close_safe(s->resolv_fd);
    close_safe(s->log_dir_fd);
    free(s->log_dir_path);
    free(s->c);
    free(s->subs);
    free(s->watched);
    manifest_free(s->owned);
    for (size_t i = 0; i < s->n_stale; i++)
        manifest_free(s->stale[i]);
    free(s->stale);
    free(s);
}

void supervisor_condition_set(struct supervisor *s, unsigned conditions)
{
    unsigned fresh = conditions & (KEEL_COND_ALL | SUP_COND_ALL) & ~s->conditions;
    if (!fresh)
        return;
    s->conditions |= fresh;
    for (unsigned bit = 1; bit && bit <= (KEEL_COND_ALL | SUP_COND_ALL); bit <<= 1)
        if (fresh & bit)
            log_info("condition %s met", condition_name(bit));
    schedule(s);
}

int supervisor_hold(struct supervisor *s, const char *name, unsigned conditions)
{
    int i = supervisor_find(s, name);
    if (i < 0)
        return -ENOENT;
    s->c[i]->held |= conditions & SUP_COND_ALL;
    return 0;
}

int supervisor_start_all(struct supervisor *s, struct kerr *err)
{
    schedule(s);
    return 0;
}

void supervisor_stop_all(struct supervisor *s)
{
    if (s->ap.active)
        apply_end(s, false, "not complete: keel is stopping");
    s->stopping_all = true;
    for (size_t i = 0; i < s->n; i++) {
        /* No standby outlives keel: gone now, and what it held with it. */
        standby_discard(s->c[i]);
        release_if_done(s->c[i]);
        ctr_input(s->c[i], SUP_IN_SHUTDOWN, 0, 0);
        /* An old instance still aside (a replacement that shutdown ended)
         * has no dependants of its own: it stops now. */
        if (s->c[i]->prev) {
            ctr_input(s->c[i]->prev, SUP_IN_SHUTDOWN, 0, 0);
            ctr_input(s->c[i]->prev, SUP_IN_STOP_ALL, 0, 0);
        }
    }
    schedule(s);
}

bool supervisor_all_down(const struct supervisor *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (holds_stop(s->c[i]) || s->c[i]->m.state == CS_BACKOFF || s->c[i]->m.state == CS_WAITING)
            return false;
        if (s->c[i]->prev && !down_for_good(s->c[i]->prev))
            return false;
    }
    /* Nothing is left behind: a killed child is reaped first, within its bound. */
    for (const struct doomed *d = s->doomed; d; d = d->next)
        if (!d->overdue)
            return false;
    return true;
}

bool supervisor_finished(const struct supervisor *s, int *status)
{
    /* An apply stops containers to start them again: not the end. */
    if (s->ap.active)
        return false;
    for (size_t i = 0; i < s->n; i++) {
        const struct ctr *c = s->c[i];
        if (c->spec->main) {
            if (!is_final(c))
                return false;
            *status = c->has_exited ? c->last_status : 0;
            return true;
        }
    }
    bool all_ok = true;
    for (size_t i = 0; i < s->n; i++) {
        const struct ctr *c = s->c[i];
        if (!is_final(c))
            return false;
        if (c->m.state == CS_FAILED || (c->has_exited && restart_is_failure(c->last_status)))
            all_ok = false;
    }
    *status = all_ok ? 0 : (1 << 8);
    return true;
}

/* --- control operations ----------------------------------------------------------------------- */

static struct ctr *find(struct supervisor *s, const char *name, struct kerr *err)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->c[i]->spec->name, name) == 0)
            return s->c[i];
    kerr_msg(err, ENOENT, "no container named '%s'", name);
    return NULL;
}

int supervisor_start(struct supervisor *s, const char *name, struct kerr *err)
{
    struct ctr *c = find(s, name, err);
    if (!c)
        return -ENOENT;
    if (c->retiring)
        return kerr_msg(err, EBUSY, "container '%s' is being stopped by an apply", name);
    int r = ctr_input(c, SUP_IN_START_REQ, 0, 0);
    if (r == -ESHUTDOWN)
        return kerr_msg(err, ESHUTDOWN, "keel is shutting down");
    if (r == -EALREADY)
        return kerr_msg(err, EALREADY, "container '%s' is already %s", name, container_state_name(c->m.state));
    return 0;
}

int supervisor_stop(struct supervisor *s, const char *name, struct kerr *err)
{
    struct ctr *c = find(s, name, err);
    if (!c)
        return -ENOENT;
    ctr_input(c, SUP_IN_STOP, 0, 0);
    return 0;
}

int supervisor_restart(struct supervisor *s, const char *name, struct kerr *err)
{
    struct ctr *c = find(s, name, err);
    if (!c)
        return -ENOENT;
    if (c->retiring)
        return kerr_msg(err, EBUSY, "container '%s' is being stopped by an apply", name);
    if (ctr_input(c, SUP_IN_RESTART_REQ, 0, 0) == -ESHUTDOWN)
        return kerr_msg(err, ESHUTDOWN, "keel is shutting down");
    return 0;
}

int supervisor_kill(struct supervisor *s, const char *name, int sig, struct kerr *err)
{
    struct ctr *c = find(s, name, err);
    if (!c)
        return -ENOENT;
    if (c->m.state != CS_RUNNING && c->m.state != CS_STOPPING)
        return kerr_msg(err, ESRCH, "container '%s' is not running", name);
    if (send_signal(c, sig) < 0)
        return kerr_set(err, errno, "cannot signal container '%s'", name);
    return 0;
}

size_t supervisor_count(const struct supervisor *s)
{
    size_t n = s->n;
    for (size_t i = 0; i < s->n; i++)
        n += s->c[i]->prev != NULL;
    return n;
}

/* Entry i of keel ps: while a start-first replacement runs, NAME is the
 * instance that has the published ports (the old one until they move) and
 * an entry after the manifest's shows the other one (NAME~next, NAME~old). */
static const struct ctr *status_rec(const struct supervisor *s, size_t i)
{
    if (i < s->n) {
        const struct ctr *c = s->c[i];
        return c->prev && c->rep != REP_MOVED ? c->prev : c;
    }
    size_t k = i - s->n;
    for (size_t j = 0; j < s->n; j++) {
        const struct ctr *c = s->c[j];
        if (c->prev && k-- == 0)
            return c->rep != REP_MOVED ? c : c->prev;
    }
    return s->c[0];   /* not reached: i < supervisor_count() */
}

int supervisor_find(const struct supervisor *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->c[i]->spec->name, name) == 0)
            return (int)i;
    return -1;
}

void supervisor_status(const struct supervisor *s, size_t i, struct container_status *st)
{
    const struct ctr *c = status_rec(s, i);
    memset(st, 0, sizeof *st);
    st->name = c->label ? c->label : c->spec->name;
    st->cgroup = c->iname;
    st->state = c->m.state;
    st->health = c->health.state;
    st->ready = c->ready;
    st->pid = c->pid;
    st->started_ms = c->started_real_ms;
    st->uptime_ms = c->pid > 0 ? now_ms() - c->started_mono_ms : 0;
    st->restarts = c->m.restarts;
    st->state_ms = now_ms() - c->state_since_ms;
    st->has_exited = c->has_exited;
    st->last_status = c->last_status;
    st->oom_kills = c->oom_kills;
    st->net_mode = net_mode_name(c->spec->net);
    if (s->opts.net) {
        struct in_addr ip = c->aside ? net_replace_old_ip(s->opts.net, c->spec) : net_container_ip(s->opts.net, c->spec);
        if (ip.s_addr)
            inet_ntop(AF_INET, &ip, st->ip, sizeof st->ip);
    }
    st->failure = c->failure[0] ? c->failure : NULL;
    st->userns_map = c->userns.map;
    st->n_userns_map = c->userns.n;
}

const char *supervisor_log_path(const struct supervisor *s, size_t i)
{
    return status_rec(s, i)->out.log_path;
}

int supervisor_log_dir_fd(const struct supervisor *s, size_t i)
{
    return status_rec(s, i)->out.dir_fd;
}

const struct manifest *supervisor_manifest(const struct supervisor *s)
{
    return s->m;
}

/* An exec helper being watched: its report channel, read when it is reaped. */
struct exec_watch {
    sup_child_cb cb;
    void *data;
    int setup_fd;
    char *why;
    size_t why_size;
};

static void exec_reaped(pid_t pid, int status, void *data)
{
    struct exec_watch *w = data;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && w->why && w->why_size) {
        /* The channel is non-blocking (container_exec_start): a command still
         * running in a helper that was killed holds the write end until its
         * execve; its report is then empty. */
        struct kerr e = { 0 };
        if (container_setup_result(w->setup_fd, &e) < 0 && e.msg[0])
            snprintf(w->why, w->why_size, "%s", e.msg);
    }
    close(w->setup_fd);
    sup_child_cb cb = w->cb;
    void *cb_data = w->data;
    free(w);
    if (cb)
        cb(pid, status, cb_data);
}

int supervisor_exec(struct supervisor *s, const char *name, char *const *argv, const struct exec_io *io,
                    sup_child_cb cb, void *data, pid_t *pid, struct kerr *err)
{
    struct ctr *c = find(s, name, err);
    if (!c)
        return -ENOENT;
    if (c->m.state != CS_RUNNING)
        return kerr_msg(err, ESRCH, "container '%s' is not running", name);
    if (io && io->why && io->why_size)
        io->why[0] = '\0';
    struct exec_watch *w = calloc(1, sizeof *w);
    if (!w)
        return kerr_set(err, ENOMEM, "cannot run a command in %s", name);
    *w = (struct exec_watch){ .cb = cb, .data = data, .setup_fd = -1,
                              .why = io ? io->why : NULL, .why_size = io ? io->why_size : 0 };
    _cleanup_close_ int cgfd = cg_dir_fd(c);
    struct container_exec_req req = {
        .spec = c->spec, .ns = &c->ns, .cgroup_fd = cgfd, .argv = argv,
        .stdio = { io ? io->in : -1, io ? io->out : -1, io ? io->err : -1 },
        .tty = io && io->tty, .seccomp = c->seccomp.len ? &c->seccomp : NULL,
    };
    int r = container_exec_start(&req, pid, &w->setup_fd, err);
    if (r < 0) {
        free(w);
        return r;
    }
    r = supervisor_watch_child(s, *pid, exec_reaped, w);
    if (r < 0) {
        /* Not watched: the loop reaps it as an orphan; no report. */
        close(w->setup_fd);
        free(w);
        return kerr_set(err, -r, "cannot watch the command run in %s", name);
    }
    return 0;
}

void supervisor_request_power(struct supervisor *s, enum power_action action)
{
    if (s->opts.power)
        s->opts.power(action, "requested", s->opts.power_data);
}

/* --- applying a new manifest ------------------------------------------------------------------ */

/* A running container's /etc/hosts, keel's live copy (hosts_live) rewritten
 * in place: the same inode, so it reaches the container at once; a new file
 * renamed over it would not (the bind keeps the old inode).  Written only
 * when its text changes.  A failure is a warning: the container keeps
 * running with the names it had. */
static void hosts_refresh(struct ctr *c)
{
    struct supervisor *s = c->sup;
    c->hosts_gen = s->hosts_gen;
    if (!s->opts.net || c->pid <= 0 || c->hosts_fd < 0)
        return;
    _cleanup_free_ char *text = net_hosts_file(s->opts.net, s->m, c->spec);
    if (!text) {
        log_warn("%s: cannot update /etc/hosts: out of memory", c->spec->name);
        return;
    }
    _cleanup_free_ char *cur = NULL;
    size_t len = strlen(text), cur_len = 0;
    if (lseek(c->hosts_fd, 0, SEEK_SET) == 0 && read_fd_all(c->hosts_fd, 1 << 20, &cur, &cur_len) == 0 &&
        cur_len == len && memcmp(cur, text, len) == 0)
        return;
    struct kerr err = { 0 };
    if (live_file_write(c->hosts_fd, text, "the container's /etc/hosts", &err) < 0)
        log_warn("%s: %s", c->spec->name, err.msg);
    else
        log_info("%s: /etc/hosts updated", c->spec->name);
}

/* After an apply: the containers kept running learn the names of those
 * added and restarted (their addresses are chosen already, net_apply) and
 * lose the removed ones; the same when a container down for good gives its
 * address back or takes one again (a manual keel stop, keel start).  One
 * still in its set-up is done when it ends (setup_done), since its set-up
 * writes the file too. */
static void hosts_refresh_all(struct supervisor *s)
{
    s->hosts_gen++;
    for (size_t i = 0; i < s->n; i++) {
        struct ctr *c = s->c[i];
        if (c->pid > 0 && c->setup_fd < 0)
            hosts_refresh(c);
    }
}

static void emit_apply(struct supervisor *s, const char *detail)
{
    struct sup_event ev = { .kind = EV_APPLY, .name = "", .time_ms = realtime_ms(), .detail = detail };
    size_t n = s->n_subs;
    struct subscriber copy[64];
    if (n > ARRAY_SIZE(copy))
        n = ARRAY_SIZE(copy);
    if (n)
        memcpy(copy, s->subs, n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i].cb(&ev, copy[i].data);
}

/* Ends the apply in progress: the result to its requester, an event, a log
 * line; what it still owns is freed (nm, unless it became m). */
static void apply_end(struct supervisor *s, bool ok, const char *outcome)
{
    if (s->ap.timer > 0)
        loop_cancel_timer(s->loop, s->ap.timer);
    if (s->ap.rep_timer > 0)
        loop_cancel_timer(s->loop, s->ap.rep_timer);
    s->ap.rep_timer = 0;
    s->ap.swapped = false;
    s->ap.outcome[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        s->c[i]->retiring = s->c[i]->replacing = false;
        /* One an apply that failed had meant to retire keeps its place: a standby again. */
        if (!ok)
            standby_kick(s->c[i]);
    }
    if (ok)
        log_info("apply: %s", outcome);
    else
        log_error("apply: %s", outcome);
    emit_apply(s, outcome);
    struct sup_apply_result res = { .ok = ok, .plan = s->ap.plan ? s->ap.plan : "", .outcome = outcome };
    sup_apply_cb cb = s->ap.cb;
    void *data = s->ap.data;
    manifest_diff_free(&s->ap.diff);
    manifest_free(s->ap.nm);
    char *plan = s->ap.plan;
    s->ap.nm = NULL;
    s->ap.plan = NULL;
    s->ap.cb = NULL;
    s->ap.timer = 0;
    s->ap.active = false;
    if (cb)
        cb(&res, data);
    free(plan);
}

static void apply_finish(struct loop *l, void *data);

/* After every change of state while an apply runs: stop what it retires, in
 * reverse dependency order, and once all of it is down for good, finish from
 * the loop (never from inside the step of a container it frees). */
static void replace_tick(struct loop *l, void *data);

static void apply_progress(struct supervisor *s)
{
    if (s->ap.swapped) {
        /* Replacements are judged from the loop, never inside a step of the
         * records they may free. */
        if (s->ap.timer == 0) {
            int64_t t = loop_add_timer(s->loop, 0, replace_tick, s);
            s->ap.timer = t > 0 ? t : 0;
        }
        return;
    }
    bool all_down = true;
    for (size_t k = s->n; k-- > 0;) {
        size_t i = s->m->start_order ? (size_t)s->m->start_order[k] : k;
        struct ctr *c = s->c[i];
        if (!c->retiring || down_for_good(c))
            continue;
        all_down = false;
        if (c->m.state == CS_STOPPING)
            continue;
        bool dependant_active = false;
        for (size_t j = 0; j < s->n && !dependant_active; j++) {
            const struct ctr *o = s->c[j];
            if (!o->retiring || down_for_good(o))
                continue;
            for (size_t d = 0; d < o->spec->n_deps; d++)
                if (o->spec->deps[d].index == (int)i)
                    dependant_active = true;
        }
        if (!dependant_active)
            ctr_input(c, SUP_IN_STOP, 0, 0);
    }
    if (all_down && s->ap.active && s->ap.timer == 0) {
        int64_t t = loop_add_timer(s->loop, 0, apply_finish, s);
        s->ap.timer = t > 0 ? t : 0;
        if (t <= 0)
            log_error("apply: cannot arm a timer; the apply finishes with the next change");
    }
}

/* --- start-first replacements (after the swap) ---------------------------------------------- */

/* With neither a health check nor readiness, a new instance that has run
 * this long counts as up (docs/operations.md says so). */
#define REPLACE_SETTLE_MS 1000
/* With readiness only: how long it has to say it is ready. */
#define REPLACE_READY_MS 60000

/* How long a new instance has to become good: with a health check, until
 * its checks would have made it unhealthy (start period, then retries
 * checks); else as above. */
static uint64_t replace_limit_ms(const struct container_spec *sp)
{
    if (sp->health != HEALTH_NONE)
        return sp->health_start_period_ms +
               (uint64_t)(sp->health_retries + 1) * (sp->health_interval_ms + sp->health_timeout_ms);
    return sp->ready != READY_NONE ? REPLACE_READY_MS : REPLACE_SETTLE_MS + 30000;
}

static void wake_at(uint64_t *wake, uint64_t t)
{
    if (*wake == 0 || t < *wake)
        *wake = t;
}

/* 1: the new instance is good (healthy, ready, or settled); 0: not yet
 * (*wake: when to look again without an event); -1: it failed (why). */
static int replace_verdict(const struct ctr *c, uint64_t now, uint64_t *wake, char *why, size_t n)
{
    const struct container_spec *sp = c->spec;
    if (c->m.state != CS_WAITING && c->m.state != CS_STARTING && c->m.state != CS_RUNNING) {
        snprintf(why, n, "the new instance %s%s", c->failure[0] ? "failed: " : "is ",
                 c->failure[0] ? c->failure : container_state_name(c->m.state));
        return -1;
    }
    if (c->health.state == HS_UNHEALTHY) {
        snprintf(why, n, "the new instance is unhealthy");
        return -1;
    }
    if (c->m.state == CS_RUNNING) {
        if (sp->health != HEALTH_NONE ? c->health.state == HS_HEALTHY
                                      : sp->ready != READY_NONE ? c->ready
                                                                : now - c->started_mono_ms >= REPLACE_SETTLE_MS)
            return 1;
        if (sp->health == HEALTH_NONE && sp->ready == READY_NONE)
            wake_at(wake, c->started_mono_ms + REPLACE_SETTLE_MS);
    }
    uint64_t deadline = c->rep_since + replace_limit_ms(sp);
    if (now >= deadline) {
        snprintf(why, n, "the new instance did not become %s within %llu ms",
                 sp->health != HEALTH_NONE ? "healthy" : sp->ready != READY_NONE ? "ready" : "running",
                 (unsigned long long)replace_limit_ms(sp));
        return -1;
    }
    wake_at(wake, deadline);
    return 0;
}

static void outcome_add(struct supervisor *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outcome_add(struct supervisor *s, const char *fmt, ...)
{
    size_t len = strlen(s->ap.outcome);
    if (len && len + 2 < sizeof s->ap.outcome) {
        memcpy(s->ap.outcome + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->ap.outcome + len, sizeof s->ap.outcome - len, fmt, ap);
    va_end(ap);
}

/* Frees the older manifests no record points into any more. */
static void stale_gc(struct supervisor *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->c[i]->own_spec || s->c[i]->prev)
            return;
    for (size_t i = 0; i < s->n_stale; i++)
        manifest_free(s->stale[i]);
    s->n_stale = 0;
}

static void replace_fail(struct supervisor *s, struct ctr *c, const char *why)
{
    c->rep = REP_FAILED;
    snprintf(c->rep_why, sizeof c->rep_why, "%s", why);
    log_error("%s: not replaced: %s; the old instance keeps running", c->spec->name, why);
    output_note(&c->out, "not replaced: %s", why);
    if (!down_for_good(c))
        ctr_input(c, SUP_IN_STOP, 0, 0);
}

static void replace_step(struct supervisor *s);

static void replace_rewake(struct loop *l, void *data)
{
    struct supervisor *s = data;
    s->ap.rep_timer = 0;
    replace_step(s);
}

static void replace_tick(struct loop *l, void *data)
{
    struct supervisor *s = data;
    s->ap.timer = 0;
    replace_step(s);
}

/* Moves every replacement on as far as it goes now; the apply ends with
 * the last.  Runs from the loop only (it frees records). */
static void replace_step(struct supervisor *s)
{
    if (!s->ap.active || !s->ap.swapped)
        return;
    uint64_t now = now_ms(), wake = 0;
    bool pending = false;
    for (size_t i = 0; i < s->n; i++) {
        struct ctr *c = s->c[i];
        struct ctr *old = c->prev;
        if (!old)
            continue;
        if (c->rep == REP_WAIT) {
            char why[KERR_MSG_MAX + 64];
            int v = replace_verdict(c, now, &wake, why, sizeof why);
            struct kerr err = { 0 };
            if (v > 0 && s->opts.net && net_replace_commit(s->opts.net, c->spec, &err) < 0) {
                snprintf(why, sizeof why, "%s", err.msg);
                v = -1;
            }
            if (v < 0) {
                replace_fail(s, c, why);
            } else if (v > 0) {
                /* The ports are the new one's: it is NAME from now on. */
                c->rep = REP_MOVED;
                free(c->label);
                c->label = NULL;
                free(old->label);
                old->label = xasprintf("%s~old", c->spec->name);
                log_info("%s: published ports moved to the new instance (pid %d); stopping the old one",
                         c->spec->name, (int)c->pid);
                hosts_refresh_all(s);   /* NAME is the new instance's address now */
                if (!down_for_good(old))
                    ctr_input(old, SUP_IN_STOP, 0, 0);
            }
        }
        if (c->rep == REP_MOVED && down_for_good(old)) {
            if (s->opts.net)
                watch_net_release(s, net_replace_end(s->opts.net, c->spec));
            c->prev = NULL;
            ctr_free(old);
            log_info("%s: replaced start-first", c->spec->name);
            continue;
        }
        if (c->rep == REP_FAILED && down_for_good(c)) {
            if (s->opts.net)
                watch_net_release(s, net_replace_abort(s->opts.net, c->spec));
            c->prev = NULL;
            s->c[i] = old;
            old->aside = false;
            old->index = i;
            free(old->label);
            old->label = NULL;
            bool alive = !down_for_good(old);
            if (alive) {
                old->m.stop_requested = false;
                if (old->m.state == CS_RUNNING && old->spec->health != HEALTH_NONE)
                    health_check_arm(&old->hc, old->spec->health_interval_ms);
            }
            outcome_add(s, "%s not replaced: %s (%s)", c->spec->name, c->rep_why,
                        alive ? "the old instance keeps running with its old settings"
                              : "the old instance is not running either");
            ctr_free(c);
            hosts_refresh_all(s);   /* NAME is the old instance's address again */
            continue;
        }
        pending = true;
    }
    if (!pending) {
        char text[2400];
        bool ok = !s->ap.outcome[0];
        snprintf(text, sizeof text, "%s%s", ok ? "applied" : "applied with errors: ", s->ap.outcome);
        apply_end(s, ok, text);
        stale_gc(s);
        schedule(s);
        return;
    }
    if (s->ap.rep_timer > 0)
        loop_cancel_timer(s->loop, s->ap.rep_timer);
    s->ap.rep_timer = 0;
    if (wake) {
        int64_t t = loop_add_timer(s->loop, wake > now ? wake - now : 0, replace_rewake, s);
        s->ap.rep_timer = t > 0 ? t : 0;
    }
}

static void apply_finish(struct loop *l, void *data)
{
    struct supervisor *s = data;
    s->ap.timer = 0;
    const struct mdiff *d = &s->ap.diff;
    struct manifest *nm = s->ap.nm;
    size_t nn = nm->n_containers;
    char outcome[2048] = "";

    /* Everything that can fail for want of memory first, so nothing is half done. */
    struct ctr **nc = calloc(nn ? nn : 1, sizeof(struct ctr *)); // NOLINT(bugprone-sizeof-expression): pointers
    int *old_of_new = calloc(nn ? nn : 1, sizeof *old_of_new);
    if (!nc || !old_of_new) {
        free(nc);
        free(old_of_new);
        apply_end(s, false, "out of memory: the removed and restarted containers were stopped, nothing was started");
        return;
    }
    bool oom = false;
    for (size_t i = 0; i < nn; i++)
        old_of_new[i] = -1;   /* overwritten below for kept ones */
    for (size_t k = 0; !oom && k < d->n_ctrs; k++) {
        const struct mdiff_ctr *e = &d->ctrs[k];
        if (e->new_index < 0)
            continue;
        if (e->kind == MDIFF_UNCHANGED || e->kind == MDIFF_INPLACE) {
            old_of_new[e->new_index] = e->old_index;
            continue;
        }
        const struct ctr *old = e->old_index >= 0 ? s->c[e->old_index] : NULL;
        bool rep = old && old->replacing;
        struct ctr *c = ctr_alloc(s, &nm->containers[e->new_index], (size_t)e->new_index, rep && !old->alt);
        if (!(nc[e->new_index] = c)) {
            oom = true;
            continue;
        }
        if (rep) {
            /* Start-first: the old instance keeps its namespace (as a kept
             * one) and runs aside on a copy of its spec (below).  The copy
             * and the label are made here, while failing changes nothing. */
            old_of_new[e->new_index] = e->old_index;
            c->own_spec = malloc(sizeof *c->own_spec);
            c->label = xasprintf("%s~next", c->spec->name);
            if (!c->own_spec || !c->label)
                oom = true;
        }
    }
    /* Every container of nm is in the diff once: kept, or a new record. */
    for (size_t i = 0; i < nn; i++)
        if (old_of_new[i] < 0 && !nc[i])
            oom = true;
    struct manifest **stale = NULL;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    if (!oom && s->owned && !(stale = realloc(s->stale, (s->n_stale + 1) * sizeof *stale)))
        oom = true;
    if (stale)
        s->stale = stale;
    struct kerr err = { 0 };
    if (!oom && s->opts.net && net_apply(s->opts.net, nm, old_of_new, false, &err) < 0)
        oom = true;
    if (oom) {
        for (size_t i = 0; i < nn; i++)
            if (old_of_new[i] < 0 || s->c[old_of_new[i]]->replacing)
                ctr_free(nc[i]);
        free(nc);
        free(old_of_new);
        apply_end(s, false, "out of memory: the removed and restarted containers were stopped, nothing was started");
        return;
    }
    /* The kept ones move to the new manifest's spec; in place changes take
     * effect.  An old instance replaced start-first goes aside, on its own
     * copy of its spec (its manifest stays in s->stale while it runs). */
    size_t n_rep = 0;
    for (size_t i = 0; i < nn; i++) {
        int o = old_of_new[i];
        if (o < 0)
            continue;
        struct ctr *c = s->c[o];
        if (c->replacing) {
            struct ctr *nw = nc[i];
            s->c[o] = NULL;
            *nw->own_spec = *c->spec;
            nw->own_spec->deps = NULL;   /* indices into its own manifest */
            nw->own_spec->n_deps = 0;
            free(c->own_spec);           /* a copy already (its last replacement failed): copied from above */
            c->spec = c->hc.spec = c->own_spec = nw->own_spec;
            nw->own_spec = NULL;
            c->replacing = false;
            c->aside = true;
            c->m.stop_requested = true;   /* it is not restarted: its namespace is no longer the container's */
            health_check_stop(&c->hc);
            nw->prev = c;
            nw->rep = REP_WAIT;
            n_rep++;
            continue;
        }
        s->c[o] = NULL;
        nc[i] = c;
        c->spec = &nm->containers[i];
        c->index = i;
        c->hc.spec = c->spec;
        c->out.name = c->spec->name;
    }
    for (size_t k = 0; k < d->n_ctrs; k++) {
        const struct mdiff_ctr *e = &d->ctrs[k];
        if (e->kind != MDIFF_INPLACE || !nc[e->new_index]->has_cgroup || !s->opts.cgroup)
            continue;
        struct kerr cerr = { 0 };
        struct container_spec named;
        if (cgroup_container_update(s->opts.cgroup, cg_spec(nc[e->new_index], &named), &cerr) < 0) {
            size_t len = strlen(outcome);
            snprintf(outcome + len, sizeof outcome - len, "%s%s (it runs with its old limits)",
                     len ? "; " : "", cerr.msg);
        }
    }
    /* The retired ones go (stopped for good, released). */
    for (size_t i = 0; i < s->n; i++)
        ctr_free(s->c[i]);
    free(s->c);
    s->c = nc;
    s->n = nn;
    struct manifest *old_owned = s->owned;
    if (n_rep && old_owned) {
        s->stale[s->n_stale++] = old_owned;   /* room made above */
        old_owned = NULL;
    }
    s->m = nm;
    s->owned = nm;
    s->ap.nm = NULL;
    free(s->resolv);
    s->resolv = make_resolv(nm);
    /* Before any container of nm starts: the bridges of networks gone or
     * made again go, keel's table follows the new networks. */
    struct kerr nerr = { 0 };
    if (s->opts.net && net_apply_rules(s->opts.net, &nerr) < 0) {
        size_t len = strlen(outcome);
        snprintf(outcome + len, sizeof outcome - len, "%s%s (containers on new networks cannot start)",
                 len ? "; " : "", nerr.msg);
    }
    /* Their namespace: a new one beside the old one's. */
    for (size_t i = 0; i < nn; i++) {
        struct ctr *c = nc[i];
        struct kerr rerr = { 0 };
        if (c && c->prev && s->opts.net && net_replace_begin(s->opts.net, c->spec, c->prev->spec, &rerr) < 0) {
            snprintf(c->failure, sizeof c->failure, "%s", rerr.msg);
            c->m.state = CS_FAILED;
            c->rep = REP_FAILED;
            snprintf(c->rep_why, sizeof c->rep_why, "%s", rerr.msg);
        }
    }
    hosts_refresh_all(s);
    /* The new and restarted ones: set up now, started by schedule() below in
     * dependency order. */
    for (size_t i = 0; i < nn; i++) {
        struct ctr *c = nc[i];
        if (!c || (old_of_new[i] >= 0 && !c->prev))
            continue;   /* kept (a NULL one was refused above) */
        if (c->m.state == CS_FAILED)
            continue;
        struct kerr perr = { 0 };
        if (ctr_prepare(c, nm, &perr) < 0) {
            snprintf(c->failure, sizeof c->failure, "%s", perr.msg);
            c->m.state = CS_FAILED;
            log_error("%s: failed: %s", c->spec->name, perr.msg);
            size_t len = strlen(outcome);
            snprintf(outcome + len, sizeof outcome - len, "%s%s", len ? "; " : "", perr.msg);
        }
    }
    free(old_of_new);
    /* The old manifest's strings are no longer pointed to (the diff's names are). */
    manifest_diff_free(&s->ap.diff);
    manifest_free(old_owned);
    if (n_rep) {
        /* The reply waits for the replacements (replace_step). */
        snprintf(s->ap.outcome, sizeof s->ap.outcome, "%s", outcome);
        s->ap.swapped = true;
        uint64_t now = now_ms();
        for (size_t i = 0; i < nn; i++)
            if (nc[i]->prev)
                nc[i]->rep_since = now;
        log_info("apply: %zu container%s replaced start-first: waiting for the new instance%s", n_rep,
                 n_rep == 1 ? "" : "s", n_rep == 1 ? "" : "s");
        schedule(s);
        apply_progress(s);
        return;
    }
    char text[2400];
    bool ok = !outcome[0];
    snprintf(text, sizeof text, "%s%s", ok ? "applied" : "applied with errors: ", outcome);
    apply_end(s, ok, text);
    stale_gc(s);
    schedule(s);
}

/* Whether a changed container is replaced start-first: its new spec says
 * so (manifest_validate made sure it can be: a bridge container without a
 * fixed address or upper directory) and its old instance is up to serve
 * meanwhile.  Else it is stopped first, as always. */
static bool start_first(const struct supervisor *s, const struct mdiff_ctr *e)
{
    const struct container_spec *sp = &s->ap.nm->containers[e->new_index];
    const struct ctr *old = s->c[e->old_index];
    return sp->update == UPDATE_START_FIRST && sp->net == NET_BRIDGE && s->opts.net && !s->stopping_all &&
           old->m.state == CS_RUNNING;
}

int supervisor_apply(struct supervisor *s, struct manifest *nm, bool dry_run, sup_apply_cb cb, void *data,
                     struct kerr *err)
{
    /* One change at a time (supervisor_busy). */
    const char *busy = supervisor_busy(s);
    if (busy) {
        manifest_free(nm);
        return kerr_msg(err, s->stopping_all ? ESHUTDOWN : EBUSY, "cannot apply the manifest: busy: %s",
                        s->stopping_all ? busy : "another apply is in progress");
    }
    /* Past the boot: the fstab and the volumes are mounted, as they were
     * for the manifest in force (daemon.c). */
    manifest_digest_mounted(nm);
    struct mdiff d;
    char *plan = NULL;
    size_t plan_len = 0;
    FILE *f = NULL;
    if (manifest_diff(s->m, nm, &d) < 0 || !(f = open_memstream(&plan, &plan_len))) {
        manifest_diff_free(&d);
        manifest_free(nm);
        return kerr_set(err, ENOMEM, "cannot apply the manifest");
    }
    /* A container whose start-first replacement failed still runs its
     * older spec, not its manifest's: whatever the new manifest says, it
     * restarts. */
    for (size_t k = 0; k < d.n_ctrs; k++) {
        struct mdiff_ctr *e = &d.ctrs[k];
        if (e->old_index >= 0 && e->new_index >= 0 && s->c[e->old_index]->own_spec &&
            (e->kind == MDIFF_UNCHANGED || e->kind == MDIFF_INPLACE)) {
            e->kind = MDIFF_CHANGED;
            snprintf(e->why, sizeof e->why, "it runs older settings (its last replacement failed)");
        }
    }
    manifest_diff_print(&d, f);
    if (fclose(f) != 0 || !plan) {
        free(plan);
        manifest_diff_free(&d);
        manifest_free(nm);
        return kerr_set(err, ENOMEM, "cannot apply the manifest");
    }
    s->ap.active = true;
    s->ap.nm = nm;
    s->ap.diff = d;
    s->ap.plan = plan;
    s->ap.cb = cb;
    s->ap.data = data;
    s->ap.timer = 0;

    /* What cannot be done live refuses the whole apply, before anything changes. */
    char why[KERR_MSG_MAX + 64] = "";
    int *old_of_new = calloc(nm->n_containers ? nm->n_containers : 1, sizeof *old_of_new);
    if (!old_of_new) {
        apply_end(s, false, "not applied: out of memory");
        return 0;
    }
    if (!why[0] && s->opts.net) {
        for (size_t i = 0; i < nm->n_containers; i++)
            old_of_new[i] = -1;
        for (size_t k = 0; k < d.n_ctrs; k++)
            if (d.ctrs[k].new_index >= 0 && (d.ctrs[k].kind == MDIFF_UNCHANGED || d.ctrs[k].kind == MDIFF_INPLACE))
                old_of_new[d.ctrs[k].new_index] = d.ctrs[k].old_index;
        struct kerr nerr = { 0 };
        if (net_apply(s->opts.net, nm, old_of_new, true, &nerr) < 0)
            snprintf(why, sizeof why, "not applied: %s", nerr.msg);
    }
    free(old_of_new);
    if (why[0]) {
        apply_end(s, false, why);
        return 0;
    }
    if (dry_run) {
        apply_end(s, true, d.reboot[0] ? "dry run: nothing was changed (some changes need a reboot)"
                                       : "dry run: nothing was changed");
        return 0;
    }
    unsigned n_stop = 0;
    for (size_t k = 0; k < d.n_ctrs; k++) {
        const struct mdiff_ctr *e = &d.ctrs[k];
        if (e->kind == MDIFF_CHANGED && start_first(s, e)) {
            s->c[e->old_index]->replacing = true;
        } else if (e->kind == MDIFF_CHANGED || e->kind == MDIFF_REMOVED) {
            struct ctr *c = s->c[e->old_index];
            c->retiring = true;
            /* Its standby was prepared from the old spec: gone now, with
             * what it held if the container is down already. */
            standby_discard(c);
            release_if_done(c);
            n_stop++;
        }
    }
    log_info("apply: %u container%s to stop, then the new manifest%s", n_stop, n_stop == 1 ? "" : "s",
             d.reboot[0] ? " (some changes need a reboot)" : "");
    if (d.reboot[0])
        log_warn("apply: these changes take effect only at the next boot: %s", d.reboot);
    apply_progress(s);
    return 0;
}

void supervisor_apply_forget(struct supervisor *s, const void *data)
{
    if (s->ap.active && s->ap.data == data)
        s->ap.cb = NULL;
    if (s->pf.data == data)
        s->pf.cb = NULL;
}

/* A child that reads paths for keel: 0 in the child, its pid or -errno in
 * keel.  A child stuck on a path outlives the SIGKILL past its bound: it
 * must hold none of keel's fds (a client's connection, a pipe whose end
 * tells a reader something, keel's own output whose end its reader waits
 * for, the nf_tables socket that removes keel's table when keel dies), nor
 * outlive keel.  It writes nothing. */
static pid_t fork_reader(void)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid < 0 ? -errno : pid;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || prctl(PR_SET_NAME, "keel-preflight", 0, 0, 0) < 0 ||
        sys_close_range_from(0) < 0)
        _exit(2);
    return 0;
}

/* fork_reader's child PID (or -errno) waited for in place, at most
 * SUP_PREFLIGHT_S: 0 once it ended, -ETIMEDOUT (it is killed and left to
 * whoever reaps keel's children), or another -errno when it could not be
 * waited for (then the caller reads unbounded, as before the bound). */
static int wait_reader(pid_t pid)
{
    int fd = pid < 0 ? -1 : sys_pidfd_open(pid);
    int r = fd < 0 ? -ESRCH : sys_pidfd_reap(fd, SUP_PREFLIGHT_S * 1000, NULL);
    close_safe(fd);
    if (r < 0 && pid > 0)
        (void)kill(pid, SIGKILL);
    return r;
}

pid_t supervisor_load_child(const char *path, const char *buf, size_t len)
{
    pid_t pid = fork_reader();
    if (pid != 0)
        return pid;
    struct manifest *m = NULL;
    struct diag d = { 0 };
    int r = buf ? manifest_load_buffer("manifest", buf, len, 0, &m, &d) : manifest_load(path, 0, &m, &d);
    if (r == 0)
        manifest_digest_mounted(m);   /* what keel reads next on fstab file systems and volumes */
    _exit(r < 0 ? 1 : 0);
}

int supervisor_load_bounded(const char *path, unsigned flags, struct manifest **out, struct diag *diag)
{
    if (flags & MANIFEST_NO_FS_CHECKS)
        return manifest_load(path, flags, out, diag);
    if (wait_reader(supervisor_load_child(path, NULL, 0)) == -ETIMEDOUT) {
        diag_add(diag, path, 0, SUP_PREFLIGHT_HUNG, SUP_PREFLIGHT_S);
        return -ETIMEDOUT;
    }
    return manifest_load(path, flags, out, diag);
}

int supervisor_digest_mounted_bounded(struct manifest *m)
{
    if (!manifest_names_mounted_files(m))
        return 0;   /* nothing to read: no child */
    pid_t pid = fork_reader();
    if (pid == 0) {
        manifest_digest_mounted(m);   /* its copy of M */
        _exit(0);
    }
    if (wait_reader(pid) == -ETIMEDOUT) {
        manifest_mounted_timed_out(m);   /* for the start's message */
        return -ETIMEDOUT;
    }
    manifest_digest_mounted(m);
    return 0;
}

/* The preflight ends: by its child's end (why NULL) or its bound. */
static void preflight_end(struct supervisor *s, const char *why)
{
    sup_preflight_cb cb = s->pf.cb;
    void *data = s->pf.data;
    if (s->pf.timer > 0)
        loop_cancel_timer(s->loop, s->pf.timer);
    s->pf.pid = 0;
    s->pf.timer = 0;
    s->pf.cb = NULL;
    s->pf.data = NULL;
    if (cb)
        cb(why, data);
}

static void preflight_reaped(pid_t pid, int status, void *data)
{
    struct supervisor *s = data;
    if (pid == s->pf.pid)
        preflight_end(s, NULL);
    else {
        if (s->pf.stuck)
            s->pf.stuck--;
        log_info("the preflight child %d, killed past its bound, is gone at last", (int)pid);
    }
}

static void preflight_overdue(struct loop *l, void *data)
{
    struct supervisor *s = data;
    s->pf.timer = 0;
    /* Killed, and reaped when it dies (preflight_reaped): one asleep on a
     * request a FUSE server has read lives on until the server answers or
     * the connection is aborted. */
    (void)kill(s->pf.pid, SIGKILL);
    s->pf.stuck++;
    char why[160];
    snprintf(why, sizeof why, "cannot apply the manifest: " SUP_PREFLIGHT_HUNG ": nothing was changed",
             SUP_PREFLIGHT_S);
    log_error("%s", why);
    preflight_end(s, why);
}

int supervisor_preflight(struct supervisor *s, const char *path, const char *buf, size_t len, sup_preflight_cb cb,
                         void *data, struct kerr *err)
{
    const char *busy = supervisor_busy(s);
    if (busy)
        return kerr_msg(err, EBUSY, "cannot apply the manifest: busy: %s",
                        s->stopping_all ? busy : "another apply is in progress");
    if (s->pf.stuck >= SUP_PREFLIGHT_STUCK_MAX)
        return kerr_msg(err, EBUSY,
                        "cannot apply the manifest: the checks of %u earlier applies are still stuck on paths that "
                        "do not answer (a hung network file system?): nothing was changed", s->pf.stuck);
    pid_t pid = supervisor_load_child(path, buf, len);
    if (pid < 0)
        return kerr_set(err, -pid, "cannot apply the manifest: cannot fork the child that reads its paths");
    int64_t t = supervisor_watch_child(s, pid, preflight_reaped, s) < 0
                    ? -ENOMEM : loop_add_timer(s->loop, SUP_PREFLIGHT_S * 1000, preflight_overdue, s);
    if (t <= 0) {
        (void)kill(pid, SIGKILL);   /* reaped by the loop, watched or as an orphan */
        return kerr_set(err, ENOMEM, "cannot apply the manifest: cannot watch the child that reads its paths");
    }
    s->pf.pid = pid;
    s->pf.timer = t;
    s->pf.cb = cb;
    s->pf.data = data;
    return 0;
}

const char *supervisor_busy(const struct supervisor *s)
{
    if (s->stopping_all)
        return "keel is stopping (a shutdown, or an update's switch or rollback)";
    if (s->ap.active || s->pf.pid)
        return "an apply is in progress";
    return NULL;
}
