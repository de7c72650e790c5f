/* health.h — health checks and readiness notification.
 *
 * The counting rules are pure functions (health_record); the probes are:
 *   - a command run inside the container (container_exec, by the supervisor);
 *   - tcp:PORT, a non-blocking connect to 127.0.0.1:PORT from a socket created
 *     inside the container's network namespace (a socket stays in the namespace
 *     it was made in, so keel enters it only for the socket() call);
 *   - sd_notify: a datagram socket whose READY=1 marks the container ready.
 * Contract: 0 / negative errno, err filled.
 */
#ifndef KEEL_HEALTH_H
#define KEEL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/err.h"
#include "keel/manifest.h"
#include "keel/supervise.h"

struct health_counter {
    enum health_state state;
    unsigned failures;        /* consecutive failures that counted */
};

/* Records one check result `since_start_ms` after the container started.
 * Returns true when the state changed (the caller logs and acts). */
bool health_record(const struct container_spec *c, struct health_counter *h, bool ok, uint64_t since_start_ms);

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
