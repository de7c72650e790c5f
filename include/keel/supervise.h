/* supervise.h — the supervisor: container life cycles in keel's one loop.
 *
 * A container's life is an explicit state machine (docs/supervision.md): the
 * pure step function of supervise_state.h decides every change of state and
 * the actions that go with it; the supervisor feeds it what happens in the
 * loop and carries the actions out.
 *
 * The supervisor reaps every child (SIGCHLD through a signalfd, waitpid(-1)
 * drained each time, since SIGCHLDs coalesce), applies restart policies with
 * exponential backoff, stops containers in reverse dependency order, and
 * publishes state changes as events (keel events, the control protocol).
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).  The
 * supervisor owns nothing of the manifest it is given except its lifetime:
 * the manifest must outlive it.
 */
#ifndef KEEL_SUPERVISE_H
#define KEEL_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/err.h"
#include "keel/health.h"
#include "keel/loop.h"
#include "keel/manifest.h"
#include "keel/supervise_state.h"

struct container_status {
    const char *name;
    const char *cgroup;        /* its cgroup's name under keel's: the name, or NAME~next for an
                                * instance that replaced one start-first (they alternate) */
    enum container_state state;
    enum health_state health;
    bool ready;
    pid_t pid;                 /* 0 when not running */
    uint64_t started_ms;       /* CLOCK_REALTIME ms of the last start, 0 if never */
    uint64_t uptime_ms;        /* 0 when not running */
    unsigned restarts;
    uint64_t state_ms;         /* ms in the current state (the first: since the supervisor began) */
    bool has_exited;
    int last_status;           /* raw wait status of the last exit */
    unsigned oom_kills;
    const char *net_mode;
    char ip[16];               /* dotted, "" when none */
    const char *failure;       /* why it failed, or NULL */
    const struct userns_extent *userns_map;   /* the id map in force, NULL without one */
    size_t n_userns_map;
};

/* Events for `keel events` and the console. */
enum sup_event_kind { EV_STARTED, EV_EXITED, EV_RESTARTING, EV_STOPPED, EV_FAILED, EV_OOM, EV_HEALTH, EV_READY,
                      EV_APPLY, /* a manifest applied (or not): name "", detail the outcome */
                      EV_UPDATE /* a payload slot committed or rolled back: name "slot X", detail why */ };
struct sup_event {
    enum sup_event_kind kind;
    const char *name;
    uint64_t time_ms;          /* CLOCK_REALTIME */
    pid_t pid;
    int status;                /* wait status for EV_EXITED */
    unsigned count;            /* restarts / oom kills */
    const char *detail;        /* health state, failure reason, ... */
};
typedef void (*sup_event_cb)(const struct sup_event *ev, void *data);

struct supervisor;

struct net_ctx;
struct cgroup_root;

struct supervisor_opts {
    bool boot_mode;            /* PID 1 */
    const char *run_dir;       /* /run/keel */
    struct net_ctx *net;       /* NULL: no container networking beyond none/host */
    struct cgroup_root *cgroup;/* NULL or unavailable: no cgroups */
    /* Called when a container asks for a power action (on_crashloop, on_unhealthy,
     * keel poweroff); main decides what it means in its mode. */
    void (*power)(enum power_action action, const char *why, void *data);
    void *power_data;
    /* KEEL_COND_* that a client of the daemon (DHCP, NTP) will set with
     * supervisor_condition_set(); every other condition is met from the start. */
    unsigned conditions_pending;
};

int supervisor_new(struct supervisor **out, struct loop *l, const struct manifest *m,
                   const struct supervisor_opts *opts, struct kerr *err);
void supervisor_free(struct supervisor *s);

/* Reaps every exited child (call on SIGCHLD: signals coalesce, so this
 * drains waitpid(-1, WNOHANG) until nothing is left). */
void supervisor_reap(struct supervisor *s);

/* A system condition (KEEL_COND_*) is met from now on: containers waiting for
 * it with `depends = network-online|clock` start if nothing else holds them. */
void supervisor_condition_set(struct supervisor *s, unsigned conditions);

/* Conditions of keel's own, never named in a manifest: a container the
 * owner holds for one (supervisor_hold, before supervisor_start_all) starts
 * once it is met (supervisor_condition_set) as well as its `depends`. */
#define SUP_COND_MODULES (1u << 8)   /* "modules": those loaded after the first start (modplan.h) */
#define SUP_COND_ALL     SUP_COND_MODULES
int supervisor_hold(struct supervisor *s, const char *name, unsigned conditions);

/* New content for the containers' /etc/resolv.conf (a DHCP lease's DNS):
 * written in place into the one file every container has bound, so running
 * containers see it at once and later ones start with it. */
int supervisor_set_resolv(struct supervisor *s, const char *text, struct kerr *err);

/* Starts every container in dependency order (asynchronously). */
int supervisor_start_all(struct supervisor *s, struct kerr *err);
/* Begins stopping everything in reverse dependency order; `done` becomes true
 * (supervisor_all_down) when nothing is left running. */
void supervisor_stop_all(struct supervisor *s);
bool supervisor_all_down(const struct supervisor *s);
/* True when the main container (or, with none marked, every container) has
 * exited for good; *status is its wait status (or a summary). */
bool supervisor_finished(const struct supervisor *s, int *status);

/* Control operations, by container name.  -ENOENT for an unknown name. */
int supervisor_start(struct supervisor *s, const char *name, struct kerr *err);
int supervisor_stop(struct supervisor *s, const char *name, struct kerr *err);
int supervisor_restart(struct supervisor *s, const char *name, struct kerr *err);
int supervisor_kill(struct supervisor *s, const char *name, int sig, struct kerr *err);

size_t supervisor_count(const struct supervisor *s);
/* Fills *st for container i (0 <= i < count); strings point into the supervisor. */
void supervisor_status(const struct supervisor *s, size_t i, struct container_status *st);
int supervisor_find(const struct supervisor *s, const char *name);
/* Path of the container's log file (static buffer of the supervisor). */
const char *supervisor_log_path(const struct supervisor *s, size_t i);
/* The O_PATH fd of container I's log directory, which its log_path is in
 * (the supervisor's: dup it to keep it), or -1. */
int supervisor_log_dir_fd(const struct supervisor *s, size_t i);
const struct manifest *supervisor_manifest(const struct supervisor *s);

/* Subscribes to events; returns a handle for unsubscribing. */
int supervisor_subscribe(struct supervisor *s, sup_event_cb cb, void *data);
/* An event that is no container's (EV_UPDATE) to every subscriber. */
void supervisor_publish(struct supervisor *s, enum sup_event_kind kind, const char *name, const char *detail);
void supervisor_unsubscribe(struct supervisor *s, int handle);

/* Children that are not containers (exec sessions, health checks) are reaped by
 * the same loop; `cb` receives their wait status. */
typedef void (*sup_child_cb)(pid_t pid, int status, void *data);
int supervisor_watch_child(struct supervisor *s, pid_t pid, sup_child_cb cb, void *data);

/* Runs argv inside running container `name` (its namespaces, cgroup, root,
 * environment, user, capabilities; see container_exec in container.h) with the
 * given stdio fds (dup'ed into the child); the exit status arrives through cb. */
struct exec_io {
    int in, out, err;
    bool tty;   /* in/out/err are a pty slave: the child calls setsid() and makes
                 * it its controlling terminal (TIOCSCTTY) before exec */
    char *why;        /* or NULL: when the command could not be started (a set-up
                       * step or its execve failed), the helper's report, filled
                       * before cb runs; "" otherwise.  Owned by the caller and
                       * alive until cb. */
    size_t why_size;
};
int supervisor_exec(struct supervisor *s, const char *name, char *const *argv, const struct exec_io *io,
                    sup_child_cb cb, void *data, pid_t *pid, struct kerr *err);

/* --- applying a new manifest (keel apply, SIGHUP; docs/operations.md) -------

   The entry point for whoever has a validated manifest (manifest_load with
   its file checks): the difference is planned (manifest_diff.h), then carried
   out in the loop: removed and restarted containers stop (reverse dependency
   order, each once nothing of that set still depends on it), in-place limits
   are written to the live cgroups, then the supervisor swaps to the new
   manifest (containers kept are the same records: same process, namespaces,
   address, ports, log), carries out the network changes (net_apply,
   net_apply_rules: bridges made again or gone, keel's table replaced),
   rewrites the /etc/hosts of the containers kept running, and starts the
   new and restarted ones in dependency order.  One change at a time
   (supervisor_busy).  `cb` is called exactly once (unless
   supervisor_apply_forget), from the loop or, for a dry run and a refusal
   found in the plan, before supervisor_apply returns. */
struct sup_apply_result {
    bool ok;
    const char *plan;      /* manifest_diff_print's text */
    const char *outcome;   /* "applied", "dry run: nothing was changed", or what went wrong */
};
typedef void (*sup_apply_cb)(const struct sup_apply_result *res, void *data);
/* Takes ownership of nm whatever happens.  Returns 0 when the apply was
 * taken (its result comes through cb), or a negative errno with err filled
 * and cb not called: EBUSY (another apply runs), ESHUTDOWN, ENOMEM. */
int supervisor_apply(struct supervisor *s, struct manifest *nm, bool dry_run, sup_apply_cb cb, void *data,
                     struct kerr *err);
/* The requester identified by `data` went away: its cb is not called (the apply goes on). */
void supervisor_apply_forget(struct supervisor *s, const void *data);
/* The first step of an apply (keel apply, SIGHUP): the manifest's load with
 * its file checks runs first in a child of keel's (supervisor_load_child),
 * so that a path it names on a hung file system (NFS, FUSE: stat and read
 * then sleep, SIGKILL or not, until the server answers) holds that child,
 * never keel's loop.  `cb` gets NULL once the child has ended, whatever its
 * load found: the caller then loads for real (a file system that hangs in
 * between still blocks keel: a window of one load's length); or why not
 * when the child did not end within SUP_PREFLIGHT_S (it is killed and left
 * to the reaper).  From the loop, once, unless supervisor_apply_forget(data).
 * Counts as an apply in progress (supervisor_busy).  0, or a negative errno
 * (busy, no fork) with err filled and cb not called. */
#define SUP_PREFLIGHT_S 5
/* Why, for a format with SUP_PREFLIGHT_S. */
#define SUP_PREFLIGHT_HUNG "the paths it names did not answer within %d s (a hung network file system?)"
typedef void (*sup_preflight_cb)(const char *why, void *data);
int supervisor_preflight(struct supervisor *s, const char *path, const char *buf, size_t len, sup_preflight_cb cb,
                         void *data, struct kerr *err);
/* The child: manifest_load(path) (buf NULL) or manifest_load_buffer(buf,
 * len), with the file checks, then _exit; it closes every fd it inherits
 * and dies with keel.  Its pid, or -errno. */
pid_t supervisor_load_child(const char *path, const char *buf, size_t len);
/* manifest_load(path, flags) once supervisor_load_child's load of the same
 * file has ended within SUP_PREFLIGHT_S, waited for in place (no loop runs
 * yet: boot, `keel check`); past the bound the child is killed and left to
 * the reaper, and the load fails with -ETIMEDOUT and SUP_PREFLIGHT_HUNG in
 * diag.  MANIFEST_NO_FS_CHECKS in flags names no path to wait for: loaded
 * at once.  Without a child or its pidfd it loads unbounded. */
int supervisor_load_bounded(const char *path, unsigned flags, struct manifest **out, struct diag *diag);
/* manifest_digest_mounted(m) once a child has read the same files within
 * SUP_PREFLIGHT_S (after the boot's fstab and volumes, where no loop serves
 * yet): 0, or -ETIMEDOUT with nothing digested (the files stay unknown: a
 * later keel apply counts them as changed).  No child when M names no such
 * file. */
int supervisor_digest_mounted_bounded(struct manifest *m);
/* At most this many preflight children, killed past their bound, may wait
 * for a hung path at once: an apply beyond them is refused (each holds a
 * pid until the server answers or its connection is aborted). */
#define SUP_PREFLIGHT_STUCK_MAX 4
/* One change at a time: NULL when a change (an apply, a payload update or
 * rollback) may begin now, else why not, a static string: keel is stopping
 * (a shutdown, or the switch or rollback of an update: the slot state is
 * changing under it) or an apply is in progress. */
const char *supervisor_busy(const struct supervisor *s);

/* Asks the supervisor's owner (main) to shut down: boot mode runs the shutdown
 * sequence with `action`; keel run stops everything and exits. */
void supervisor_request_power(struct supervisor *s, enum power_action action);

const char *container_state_name(enum container_state st);

#endif
