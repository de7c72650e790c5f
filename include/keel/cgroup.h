/* cgroup.h — cgroup v2, the system half: keel's subtree, one cgroup per
 * container, writing its limits, kill, OOM/populated events and accounting.
 * What is read and written is decided by the pure half, cgroup_plan.h
 * (parsers, the write planner), which this header includes for its types.
 *
 * Layout (boot mode, cgroup2 mounted by keel at /sys/fs/cgroup):
 *     /sys/fs/cgroup/keel/             subtree_control: the controllers available
 *     /sys/fs/cgroup/keel/supervisor   keel itself (no-internal-processes rule),
 *                                      memory.min = CGROUP_SUPERVISOR_MIN
 *     /sys/fs/cgroup/keel/containers   all containers together: pids.max =
 *                                      cgroup_pids_budget() of the kernel's limits,
 *                                      the rest kept for keel and the kernel
 *     /sys/fs/cgroup/keel/containers/NAME   one per container
 * In `keel run` the same layout is made below the cgroup keel was started in
 * (found through /proc/self/cgroup and a cgroup2 mount of the hierarchy's
 * root, /proc/self/mountinfo where that is not certain: docs/cgroups.md), named
 * `keel.PID.RANDOM` there so that several `keel run` on one host never share it.
 * The container name "supervisor" is therefore reserved.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).  Every path
 * below keel's subtree is opened relative to root->keel_fd, so tests can point
 * the whole module at a plain directory with cgroup_open_at().
 */
#ifndef KEEL_CGROUP_H
#define KEEL_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/cgroup_plan.h"
#include "keel/err.h"
#include "keel/manifest.h"

/* memory.min of keel's supervisor leaf: headroom that memory pressure from the
 * containers cannot reclaim from keel (its RSS is about 2 MiB). */
#define CGROUP_SUPERVISOR_MIN (16ull << 20)

struct cgroup_root {
    bool available;          /* a usable cgroup2 hierarchy was found */
    bool boot_mode;
    bool plain_dir;          /* tests: a plain directory; files are created on write */
    int keel_fd;             /* O_PATH|O_DIRECTORY fd of the containers' cgroup (KEEL/containers;
                                cgroup_open_at: the directory given), -1 when unavailable */
    int start_fd;            /* run mode: the cgroup keel started in (to move back), else -1 */
    int lock_fd;             /* run mode: keel's subtree, flock'ed for keel's lifetime, else -1 */
    bool moved;              /* keel moved itself into its supervisor leaf (and moves back) */
    bool leaf;               /* run mode: the supervisor leaf was made (cgroup_release removes it) */
    bool killed_leaf;        /* the cgroup of killed leftovers was made (likewise) */
    bool enter_pending;      /* boot mode: cgroup_enter_leaf has the move still to do */
    char keel_path[4096];    /* absolute path of keel's subtree (KEEL) */
    char ctr_path[4096];     /* absolute path of the containers' cgroup (KEEL/containers) */
    unsigned controllers;    /* enum cgroup_controller bits enabled for the containers */
};

/* Finds (run mode: `mountpoint` NULL) or uses (boot mode: `mountpoint` =
 * /sys/fs/cgroup, already mounted) the cgroup2 hierarchy, creates keel's
 * subtree, moves keel into its supervisor leaf (boot mode: see
 * cgroup_enter_leaf), enables the controllers that are offered, sets memory.min on the leaf and oom_score_adj -1000 for keel.
 * When no cgroup2 is found returns 0 with root->available = false
 * (containers without limits still run; cgroup_container_create refuses
 * limits).  Failing to protect keel (memory.min, oom_score_adj) is logged as a
 * warning, not an error. */
int cgroup_setup(struct cgroup_root *root, const char *mountpoint, bool boot_mode, struct kerr *err);
/* Boot mode: cgroup_setup leaves keel in the root cgroup (exempt from the
 * no-internal-processes rule) and this moves it into its supervisor leaf.
 * The move waits for an RCU grace period (8 ms of instructions and timers
 * in a TCG guest, 15 ms of its time on a loaded host): the boot does it
 * once the first container has exec'd.  A no-op in run mode (cgroup_setup
 * moved keel already) and when called again; a failure is a warning. */
void cgroup_enter_leaf(struct cgroup_root *root);
/* Run mode: moves keel back to the cgroup it started in and removes its
 * subtree (best effort; containers' cgroups must be removed first).  Boot
 * mode: closes fds only.  Safe on a zeroed or unavailable root. */
void cgroup_release(struct cgroup_root *root);

/* Uses an existing directory `path` as keel's subtree with the given
 * controllers, touching nothing else: for tests (plain_dir = true: files are
 * created as written, as cgroupfs would show them) and for tools. */
int cgroup_open_at(struct cgroup_root *root, const char *path, unsigned controllers, bool plain_dir,
                   struct kerr *err);

/* Creates (or, when an earlier instance did not go away yet, kills and
 * reuses with limits reset) the container's cgroup, writes its limits and
 * memory.oom.group.  On success *dirfd is an O_RDONLY|O_DIRECTORY|O_CLOEXEC
 * fd of it for clone3(CLONE_INTO_CGROUP) (caller closes), or -1 when cgroups
 * are unavailable and the container asks for no limit.  A limit whose
 * controller is missing is an error naming the controller and the path.
 * Returns 0 (made afresh: its counters, memory.events' among them, start at
 * 0), 1 (an earlier one reused, counters and all) or -errno. */
int cgroup_container_create(struct cgroup_root *root, const struct container_spec *c, int *dirfd,
                            struct kerr *err);
/* keel apply: writes the limits of `c` to its live cgroup (a limit it no
 * longer sets goes back to the default), its processes left running. */
int cgroup_container_update(struct cgroup_root *root, const struct container_spec *c, struct kerr *err);
/* Fallback for kernels without CLONE_INTO_CGROUP: writes pid to cgroup.procs. */
int cgroup_container_attach(struct cgroup_root *root, const char *name, pid_t pid, struct kerr *err);
/* Kills every process of the container's cgroup (cgroup.kill; freeze + SIGKILL
 * fallback).  0 when the cgroup is gone or empty. */
int cgroup_container_kill(struct cgroup_root *root, const char *name, struct kerr *err);
/* Removes the container's (empty) cgroup directory; 0 when already gone. */
int cgroup_container_remove(struct cgroup_root *root, const char *name, struct kerr *err);
/* Opens NAME/file ("memory.events" or "cgroup.events") O_RDONLY|O_CLOEXEC.
 * The kernel signals a change with EPOLLPRI (and EPOLLERR) on it: register it
 * in epoll with EPOLLPRI and call cgroup_container_events() when it fires.
 * Caller closes. */
int cgroup_container_events_fd(struct cgroup_root *root, const char *name, const char *file,
                               struct kerr *err);

/* Reads memory.events (when present) and cgroup.events of the container. */
int cgroup_container_events(struct cgroup_root *root, const char *name, struct cgroup_events *ev,
                            struct kerr *err);
/* The same from the fds cgroup_container_events_fd opened (mem_fd -1: no
 * memory.events), each read again from its start: no path lookup in the
 * handler of their EPOLLPRI, and reading both rearms both. */
int cgroup_events_read_fds(int cg_fd, int mem_fd, struct cgroup_events *ev, struct kerr *err);

/* Reads cpu.stat, memory.current, memory.peak, memory.max, memory.events,
 * pids.current, pids.max, io.stat and the *.pressure files present; a file that is missing leaves its has_* false. */
int cgroup_container_stats(struct cgroup_root *root, const char *name, struct cgroup_stats *st,
                           struct kerr *err);

/* Sets oom_score_adj of pid (0: the caller).  keel sets -1000 for itself and
 * its children inherit it, so the container's setup child must call this
 * with the container's value (0 by default) before it drops capabilities. */
int cgroup_set_oom_score_adj(pid_t pid, int value, struct kerr *err);

#endif
