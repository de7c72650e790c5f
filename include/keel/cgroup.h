/* cgroup.h — cgroup v2: keel's subtree, one cgroup per container, limits,
 * kill, OOM/populated events and accounting.
 *
 * Layout (boot mode, cgroup2 mounted by keel at /sys/fs/cgroup):
 *     /sys/fs/cgroup/keel/            subtree_control: the controllers available
 *     /sys/fs/cgroup/keel/supervisor  keel itself (no internal processes rule)
 *     /sys/fs/cgroup/keel/NAME        one per container
 * In `keel run` the same layout is made below the cgroup keel was started in,
 * on the cgroup2 hierarchy found in /proc/self/mountinfo.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).  Paths are
 * relative to an injectable root so tests can point it at a plain directory.
 * Parsers (cgroup_parse_*) are pure functions over a NUL-terminated buffer.
 */
#ifndef KEEL_CGROUP_H
#define KEEL_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "keel/err.h"
#include "keel/manifest.h"

enum cgroup_controller {
    CG_CPU = 1u << 0,
    CG_CPUSET = 1u << 1,
    CG_MEMORY = 1u << 2,
    CG_IO = 1u << 3,
    CG_PIDS = 1u << 4,
};

struct cgroup_root {
    bool available;          /* a usable cgroup2 hierarchy was found */
    int keel_fd;             /* O_PATH|O_DIRECTORY fd of keel's subtree, -1 when unavailable */
    char keel_path[4096];    /* absolute path of keel's subtree */
    unsigned controllers;    /* enum cgroup_controller bits enabled for the containers */
};

/* Finds (run mode) or uses (boot mode: `mountpoint` = /sys/fs/cgroup) the cgroup2
 * hierarchy, creates keel's subtree, moves keel into its supervisor leaf where
 * needed, enables the controllers that are offered.  When no cgroup2 is found
 * returns 0 with root->available = false (containers without limits still run). */
int cgroup_setup(struct cgroup_root *root, const char *mountpoint, bool boot_mode, struct kerr *err);
void cgroup_release(struct cgroup_root *root);

/* True when the container asks for any limit. */
bool cgroup_spec_has_limits(const struct container_spec *c);
/* Creates (or empties and reuses) the container's cgroup, writes its limits and
 * memory.oom.group.  Returns an O_DIRECTORY fd of it for CLONE_INTO_CGROUP
 * (caller closes).  A limit whose controller is missing is an error naming the
 * controller and the path. */
int cgroup_container_create(struct cgroup_root *root, const struct container_spec *c, struct kerr *err);
/* Kills every process of the container's cgroup (cgroup.kill; freeze + SIGKILL
 * fallback).  0 when the cgroup is gone or empty. */
int cgroup_container_kill(struct cgroup_root *root, const char *name, struct kerr *err);
/* Removes the container's (empty) cgroup directory. */
int cgroup_container_remove(struct cgroup_root *root, const char *name, struct kerr *err);
/* Opens a fd whose readiness (EPOLLPRI/EPOLLERR, as the kernel notifies changes
 * of memory.events and cgroup.events) signals a change; caller closes. */
int cgroup_container_events_fd(struct cgroup_root *root, const char *name, const char *file,
                               struct kerr *err);

struct cgroup_events {
    uint64_t oom, oom_kill, max, high;  /* memory.events */
    bool populated, frozen;             /* cgroup.events */
};
int cgroup_container_events(struct cgroup_root *root, const char *name, struct cgroup_events *ev,
                            struct kerr *err);

struct cgroup_pressure { double avg10, avg60, avg300; uint64_t total_us; };
struct cgroup_stats {
    uint64_t cpu_usage_us, cpu_user_us, cpu_system_us;
    uint64_t memory_current, memory_peak;
    uint64_t pids_current;
    uint64_t io_rbytes, io_wbytes, io_rios, io_wios;
    struct cgroup_pressure cpu_some, memory_some, memory_full, io_some, io_full;
    bool has_cpu, has_memory, has_pids, has_io, has_psi;
};
int cgroup_container_stats(struct cgroup_root *root, const char *name, struct cgroup_stats *st,
                           struct kerr *err);

/* Pure parsers of kernel files. */
int cgroup_parse_cpu_stat(const char *buf, struct cgroup_stats *st);
int cgroup_parse_memory_events(const char *buf, struct cgroup_events *ev);
int cgroup_parse_cgroup_events(const char *buf, struct cgroup_events *ev);
int cgroup_parse_io_stat(const char *buf, struct cgroup_stats *st);     /* sums all devices */
int cgroup_parse_pressure(const char *buf, struct cgroup_pressure *some, struct cgroup_pressure *full);
int cgroup_parse_controllers(const char *buf, unsigned *out);           /* "cpu io memory" -> bits */
/* "0::/path" line of /proc/self/cgroup -> path (into buf). */
int cgroup_parse_self(const char *buf, char *path, size_t n);

/* keel check --plan: the cgroup files and values the container gets. */
void cgroup_plan(const struct container_spec *c, FILE *out);

#endif
