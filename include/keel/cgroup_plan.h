/* cgroup_plan.h — the pure half of the cgroup module: what keel reads from
 * cgroup files and what it will write into them, as functions over buffers
 * and manifest values.  The system half (directories, writes, kill, event
 * fds) is cgroup.h, which builds on this one.
 *
 * Contract: parsers (cgroup_parse_*) are pure functions over a NUL-terminated
 * buffer: they never crash on malformed or truncated input and return -EINVAL
 * for it.  Planners return 0 / negative errno (err filled where they take
 * one) and hand back a `struct cgroup_writes` the caller frees with
 * cgroup_writes_free().  Nothing here touches the system except the default
 * block-device resolver (stat(2)).
 */
#ifndef KEEL_CGROUP_PLAN_H
#define KEEL_CGROUP_PLAN_H

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
/* "cpu", "memory", ... for one enum cgroup_controller bit; "?" for others. */
const char *cgroup_controller_name(unsigned bit);

/* The least number of pids (processes and threads) kept out of the
 * containers' reach, see cgroup_pids_budget. */
#define CGROUP_PIDS_RESERVE_MIN 512u

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
/* The writes that bring a reused cgroup back to the kernel's defaults for
 * the `controllers` enabled, so limits removed from the manifest do not
 * linger: every limit file keel may write, then one io.max line per device
 * listed in `io_max` (the file's current text, NULL when unread).  -ENOMEM
 * is the only error. */
int cgroup_plan_reset(unsigned controllers, const char *io_max, struct cgroup_writes *out);

/* keel check --plan: the cgroup files and values the container gets, one
 * "    cgroup FILE = VALUE" line each. */
void cgroup_plan(const struct container_spec *c, FILE *out);

struct cgroup_events {
    uint64_t low, high, max, oom, oom_kill, oom_group_kill;  /* memory.events */
    bool populated, frozen;                                  /* cgroup.events */
};

struct cgroup_pressure { double avg10, avg60, avg300; uint64_t total_us; };
struct cgroup_stats {
    uint64_t cpu_usage_us, cpu_user_us, cpu_system_us;
    uint64_t cpu_nr_periods, cpu_nr_throttled, cpu_throttled_us;
    uint64_t memory_current, memory_peak;
    uint64_t pids_current;
    uint64_t io_rbytes, io_wbytes, io_rios, io_wios;
    struct cgroup_pressure cpu_some, cpu_full, memory_some, memory_full, io_some, io_full;
    uint64_t memory_max, pids_max;          /* UINT64_MAX: "max" */
    struct cgroup_events memory_events;     /* memory.events (the metrics) */
    bool has_cpu, has_memory, has_memory_peak, has_pids, has_io, has_psi;
    bool has_memory_max, has_pids_max, has_memory_events;
};

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
/* Whether a cgroup2 mount can stand in for /proc/self/mountinfo: true
 * when the candidate's file system (statfs f_type) is cgroup2, its
 * directory's inode is 1 (kernfs numbers a hierarchy's root cgroup 1, so
 * the mount shows the hierarchy from its root, not a bound subdirectory
 * or a cgroup namespace's root) and the caller's cgroup namespace
 * (/proc/self/ns/cgroup: nsfs f_type, inode) is the initial one, so that
 * /proc/self/cgroup's path is relative to the hierarchy's root too.
 * Anything else: false (the caller reads mountinfo). */
bool cgroup_mount_is_root(unsigned long mnt_fstype, uint64_t mnt_ino, unsigned long ns_fstype, uint64_t ns_ino);
/* Iterates over the pids of a cgroup.procs text: *cursor starts at the
 * buffer; true with *pid set for each valid line (others are skipped), false
 * at the end. */
bool cgroup_parse_next_pid(const char **cursor, pid_t *pid);

#endif
