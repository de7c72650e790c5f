/* cgroup.h — cgroup v2: keel's subtree, one cgroup per container, limits,
 * kill, OOM/populated events and accounting.
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
 * (found through /proc/self/mountinfo and /proc/self/cgroup), named
 * `keel.PID` there so that several `keel run` on one host never share it.
 * The container name "supervisor" is therefore reserved.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).  Every path
 * below keel's subtree is opened relative to root->keel_fd, so tests can point
 * the whole module at a plain directory with cgroup_open_at().  Parsers
 * (cgroup_parse_*) are pure functions over a NUL-terminated buffer: they never
 * crash on malformed or truncated input and return -EINVAL for it.
 */
#ifndef KEEL_CGROUP_H
#define KEEL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "keel/err.h"
#include "keel/manifest.h"

enum cgroup_controller {
    CG_CPU = 1u << 0,
    CG_CPUSET = 1u << 1,
    CG_MEMORY = 1u << 2,
    CG_IO = 1u << 3,
    CG_PIDS = 1u << 4,
};
#define CG_ALL (CG_CPU | CG_CPUSET | CG_MEMORY | CG_IO | CG_PIDS)

/* memory.min of keel's supervisor leaf: headroom that memory pressure from the
 * containers cannot reclaim from keel (its RSS is about 2 MiB). */
#define CGROUP_SUPERVISOR_MIN (16ull << 20)
/* The least number of pids (processes and threads) kept out of the
 * containers' reach, see cgroup_pids_budget. */
#define CGROUP_PIDS_RESERVE_MIN 512u

struct cgroup_root {
    bool available;          /* a usable cgroup2 hierarchy was found */
    bool boot_mode;
    bool plain_dir;          /* tests: a plain directory; files are created on write */
    int keel_fd;             /* O_PATH|O_DIRECTORY fd of the containers' cgroup (KEEL/containers;
                                cgroup_open_at: the directory given), -1 when unavailable */
    int start_fd;            /* run mode: the cgroup keel started in (to move back), else -1 */
    int lock_fd;             /* run mode: keel's subtree, flock'ed for keel's lifetime, else -1 */
    bool moved;              /* keel moved itself into its supervisor leaf (and moves back) */
    char keel_path[4096];    /* absolute path of keel's subtree (KEEL) */
    char ctr_path[4096];     /* absolute path of the containers' cgroup (KEEL/containers) */
    unsigned controllers;    /* enum cgroup_controller bits enabled for the containers */
};

/* Finds (run mode: `mountpoint` NULL) or uses (boot mode: `mountpoint` =
 * /sys/fs/cgroup, already mounted) the cgroup2 hierarchy, creates keel's
 * subtree, moves keel into its supervisor leaf, enables the controllers that
 * are offered, sets memory.min on the leaf and oom_score_adj -1000 for keel.
 * When no cgroup2 is found returns 0 with root->available = false
 * (containers without limits still run; cgroup_container_create refuses
 * limits).  Failing to protect keel (memory.min, oom_score_adj) is logged as a
 * warning, not an error. */
int cgroup_setup(struct cgroup_root *root, const char *mountpoint, bool boot_mode, struct kerr *err);
/* Run mode: moves keel back to the cgroup it started in and removes its
 * subtree (best effort; containers' cgroups must be removed first).  Boot
 * mode: closes fds only.  Safe on a zeroed or unavailable root. */
void cgroup_release(struct cgroup_root *root);

/* Uses an existing directory `path` as keel's subtree with the given
 * controllers, touching nothing else: for tests (plain_dir = true: files are
 * created as written, as cgroupfs would show them) and for tools. */
int cgroup_open_at(struct cgroup_root *root, const char *path, unsigned controllers, bool plain_dir,
                   struct kerr *err);

/* The pids.max of the containers' cgroup (all containers together): the
 * smaller of kernel.pid_max and kernel.threads-max, less a reserve of an
 * eighth of it, at least CGROUP_PIDS_RESERVE_MIN (at most half).  Pure. */
uint64_t cgroup_pids_budget(uint64_t pid_max, uint64_t threads_max);

/* The controllers the container's limits need (enum cgroup_controller bits);
 * the default pids limit and `pids = max` need none. */
unsigned cgroup_spec_controllers(const struct container_spec *c);
/* True when the container asks for any cgroup limit. */
bool cgroup_spec_has_limits(const struct container_spec *c);

/* One file write of a container's cgroup. */
struct cgroup_write {
    unsigned controller;     /* the controller the file belongs to, 0 for core files */
    char file[32];           /* e.g. "memory.max" */
    char value[160];         /* e.g. "268435456" or "8:0 rbps=1048576 wiops=100" */
    int line;                /* manifest line of the limit, 0 when none */
};
struct cgroup_writes {
    struct cgroup_write *w;  /* owned; free with cgroup_writes_free */
    size_t n;
};
/* Resolves a block device path to its dev_t; returns 0 / negative errno. */
typedef int (*cgroup_dev_resolver)(const char *path, dev_t *dev);
/* The stat(2)-based resolver: -ENOTBLK when path is not a block device. */
int cgroup_resolve_blockdev(const char *path, dev_t *dev);

/* Pure planner: the files and values for container c, in write order
 * (cpuset first, memory.oom.group last; io.max merged per device).  Unset
 * limits produce no write; pids.max (set by default: the key table's value)
 * and memory.oom.group = 1 are included only when `controllers` (enum
 * cgroup_controller bits enabled) has pids or memory.  An explicit limit
 * whose controller is missing never gets here: cgroup_container_create
 * refuses it first.  `resolve` maps io device paths (NULL:
 * cgroup_resolve_blockdev). */
int cgroup_plan_writes(const struct container_spec *c, unsigned controllers, cgroup_dev_resolver resolve,
                       struct cgroup_writes *out, struct kerr *err);
void cgroup_writes_free(struct cgroup_writes *w);

/* Creates (or, when an earlier instance did not go away yet, kills and
 * reuses with limits reset) the container's cgroup, writes its limits and
 * memory.oom.group.  On success *dirfd is an O_RDONLY|O_DIRECTORY|O_CLOEXEC
 * fd of it for clone3(CLONE_INTO_CGROUP) (caller closes), or -1 when cgroups
 * are unavailable and the container asks for no limit.  A limit whose
 * controller is missing is an error naming the controller and the path. */
int cgroup_container_create(struct cgroup_root *root, const struct container_spec *c, int *dirfd,
                            struct kerr *err);
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

struct cgroup_events {
    uint64_t low, high, max, oom, oom_kill, oom_group_kill;  /* memory.events */
    bool populated, frozen;                                  /* cgroup.events */
};
/* Reads memory.events (when present) and cgroup.events of the container. */
int cgroup_container_events(struct cgroup_root *root, const char *name, struct cgroup_events *ev,
                            struct kerr *err);

struct cgroup_pressure { double avg10, avg60, avg300; uint64_t total_us; };
struct cgroup_stats {
    uint64_t cpu_usage_us, cpu_user_us, cpu_system_us;
    uint64_t cpu_nr_periods, cpu_nr_throttled, cpu_throttled_us;
    uint64_t memory_current, memory_peak;
    uint64_t pids_current;
    uint64_t io_rbytes, io_wbytes, io_rios, io_wios;
    struct cgroup_pressure cpu_some, cpu_full, memory_some, memory_full, io_some, io_full;
    bool has_cpu, has_memory, has_memory_peak, has_pids, has_io, has_psi;
};
/* Reads cpu.stat, memory.current, memory.peak, pids.current, io.stat and the
 * *.pressure files present; a file that is missing leaves its has_* false. */
int cgroup_container_stats(struct cgroup_root *root, const char *name, struct cgroup_stats *st,
                           struct kerr *err);

/* Sets oom_score_adj of pid (0: the caller).  keel sets -1000 for itself and
 * its children inherit it, so the container's setup child must call this
 * with the container's value (0 by default) before it drops capabilities. */
int cgroup_set_oom_score_adj(pid_t pid, int value, struct kerr *err);

/* Pure parsers of kernel files. */
int cgroup_parse_cpu_stat(const char *buf, struct cgroup_stats *st);
int cgroup_parse_memory_events(const char *buf, struct cgroup_events *ev);
int cgroup_parse_cgroup_events(const char *buf, struct cgroup_events *ev);
int cgroup_parse_io_stat(const char *buf, struct cgroup_stats *st);     /* sums all devices */
int cgroup_parse_pressure(const char *buf, struct cgroup_pressure *some, struct cgroup_pressure *full);
int cgroup_parse_controllers(const char *buf, unsigned *out);           /* "cpu io memory" -> bits */
/* A single-value file (memory.current, pids.current): decimal, or "max" -> UINT64_MAX. */
int cgroup_parse_u64(const char *buf, uint64_t *out);
/* "0::/path" line of /proc/self/cgroup -> path (into buf). */
int cgroup_parse_self(const char *buf, char *path, size_t n);
/* The first cgroup2 mount of /proc/self/mountinfo: its mount point and its
 * root within the hierarchy (octal escapes decoded).  -ENOENT when none. */
int cgroup_parse_mountinfo(const char *buf, char *mountpoint, size_t mn, char *root, size_t rn);

/* keel check --plan: the cgroup files and values the container gets, one
 * "    cgroup FILE = VALUE" line each. */
void cgroup_plan(const struct container_spec *c, FILE *out);

#endif
