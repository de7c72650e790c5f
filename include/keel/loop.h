/* loop.h — keel's one event loop: epoll over fds, plus one-shot timers.
 *
 * Every source of work (signals through a signalfd, container output pipes,
 * pidfds, the control socket and its clients, cgroup event files, the power
 * button) is an fd with a callback; timers (restart backoff, stop timeouts,
 * health checks, idle clients) are kept in a small array and turned into the
 * epoll_wait timeout, so the loop never busy-waits and never sleeps.
 *
 * Callbacks run one at a time and must not block.  A callback may add or
 * remove any source, including its own.  Contract: 0 / negative errno.
 */
#ifndef KEEL_LOOP_H
#define KEEL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "keel/err.h"

struct loop;
typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *data);
typedef void (*loop_timer_cb)(struct loop *l, void *data);

int loop_new(struct loop **out, struct kerr *err);
void loop_free(struct loop *l);

/* events: EPOLLIN / EPOLLOUT / EPOLLPRI ...; the loop does not own fd. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
void loop_del_fd(struct loop *l, int fd);

/* A one-shot timer `ms` from now; returns an id > 0 (or negative errno).
 * loop_cancel_timer(id) is a no-op for expired or unknown ids. */
int64_t loop_add_timer(struct loop *l, uint64_t ms, loop_timer_cb cb, void *data);
void loop_cancel_timer(struct loop *l, int64_t id);

/* Runs one iteration: waits for the next event or timer and dispatches it. */
int loop_run_once(struct loop *l, struct kerr *err);
/* Runs until loop_quit(). */
int loop_run(struct loop *l, struct kerr *err);
void loop_quit(struct loop *l);
bool loop_quitting(const struct loop *l);

#endif
