/* health.h — health checks and readiness notification.
 *
 * The counting rules are pure functions (health_record); the probes are:
 *   - a command run inside the container (container_exec, in the namespaces
 *     pinned at the container's start);
 *   - tcp:PORT, a non-blocking connect to 127.0.0.1:PORT from a socket created
 *     inside the container's network namespace (a socket stays in the namespace
 *     it was made in, so keel enters it only for the socket() call);
 *   - sd_notify: a datagram socket whose READY=1 marks the container ready.
 * struct health_check runs the first two in keel's loop, one at a time, with
 * their timeout; what a result means (the health state, on_unhealthy) is its
 * owner's, the supervisor's, business.  This module never calls the
 * supervisor: what it needs from it (the cgroup directory, reaping the check's
 * process) comes in through struct health_ops.
 * Contract: 0 / negative errno, err filled.
 */
#ifndef KEEL_HEALTH_H
#define KEEL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/container.h"
#include "keel/err.h"
#include "keel/loop.h"
#include "keel/manifest.h"

enum health_state { HS_NONE, HS_STARTING, HS_HEALTHY, HS_UNHEALTHY };
/* "none", "starting", "healthy", "unhealthy". */
const char *health_state_name(enum health_state h);

struct health_counter {
    enum health_state state;
    unsigned failures;        /* consecutive failures that counted */
};

/* Records one check result `since_start_ms` after the container started.
 * Returns true when the state changed (the caller logs and acts). */
bool health_record(const struct container_spec *c, struct health_counter *h, bool ok, uint64_t since_start_ms);

/* What a health_check needs from its owner. */
struct health_ops {
    /* The container's cgroup directory for a command check's process
     * (O_DIRECTORY|O_CLOEXEC, the check closes it), or -1 for none. */
    int (*cgroup_fd)(void *data);
    /* Reaps the command check's process `pid` and then calls
     * health_check_reaped() with its wait status.  0 / negative errno. */
    int (*watch)(pid_t pid, void *data);
    /* A check ended: passed (`ok`) or failed because of `why`.  The check is
     * idle when this is called, so the owner may arm the next one from it. */
    void (*result)(bool ok, const char *why, void *data);
};

struct seccomp_prog;

/* The checks of one container, driven by keel's loop.  At most one check is
 * pending (timer) or running (pid or fd) at a time. */
struct health_check {
    struct loop *loop;
    const struct container_spec *spec;
    const struct container_ns *ns;       /* pinned at the start: the namespaces of exec and socket */
    const struct seccomp_prog *seccomp;  /* the container's filter (empty: none), or NULL */
    const struct health_ops *ops;
    void *data;                          /* for ops */
    int64_t timer;                       /* the next check, or the running check's timeout; 0: none */
    pid_t pid;                           /* a running command check, 0: none */
    int setup_fd;                        /* its helper's report channel (why it could not start), -1: none */
    int fd;                              /* a running tcp check, -1: none */
};
/* Binds a check to its container; nothing runs until health_check_arm().
 * Every pointer must outlive the check. */
void health_check_init(struct health_check *h, struct loop *l, const struct container_spec *spec,
                       const struct container_ns *ns, const struct seccomp_prog *seccomp,
                       const struct health_ops *ops, void *data);
/* Runs the next check in `ms`; nothing without a health key or while a check
 * is pending or running.  Call only while the container runs. */
void health_check_arm(struct health_check *h, uint64_t ms);
/* Cancels the pending check or abandons the running one (its process is
 * SIGKILLed; its exit, still reaped by the owner, is then ignored).  No
 * result is reported.  Call it whenever the container leaves `running`. */
void health_check_stop(struct health_check *h);
/* The owner reaped `pid` (see health_ops.watch): reports the result when it
 * is the running command check, else does nothing. */
void health_check_reaped(struct health_check *h, pid_t pid, int status);

/* Starts a TCP connect to 127.0.0.1:port inside the network namespace
 * `netns_fd` (the one pinned at the container's start; -1: keel's own).
 * Returns a non-blocking socket; it becomes writable when the connect
 * finished (see health_tcp_result). */
int health_tcp_start(int netns_fd, uint16_t port, struct kerr *err);
/* 0 when the connection was established, else -errno. */
int health_tcp_result(int fd);

/* Creates the sd_notify socket at `path` (non-blocking, CLOEXEC, anyone in the
 * container may send).  Returns its fd. */
int health_notify_open(const char *path, struct kerr *err);
/* Reads the pending datagrams; returns 1 when one of them said READY=1. */
int health_notify_read(int fd);
/* Pure: does this sd_notify datagram say READY=1? */
bool health_notify_says_ready(const char *msg, size_t len);

#endif
