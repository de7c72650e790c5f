/* restart.h — the restart policy and its backoff, as pure functions.
 *
 * Backoff: the first restart waits restart_delay; each further failure that
 * comes quickly doubles it, up to restart_delay_max; a run of at least
 * restart_reset starts over at restart_delay.  A crash-looping container thus
 * costs a bounded, small amount of CPU.
 */
#ifndef KEEL_RESTART_H
#define KEEL_RESTART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/manifest.h"

struct restart_state {
    uint64_t delay_ms;      /* the delay used for the last restart, 0 before any */
    unsigned failures;      /* failed exits counted against on-failure:MAX */
};

/* True when the exit `wait_status` (from waitpid) counts as a failure. */
bool restart_is_failure(int wait_status);
/* The exit in words, for the console and reasons: "exited with status N",
 * "killed by signal SIGX" (or "ended (wait status 0xN)"). */
void restart_describe_exit(int wait_status, char *buf, size_t n);
/* Decides after an exit whether to restart; updates the failure count. */
bool restart_wanted(const struct container_spec *c, struct restart_state *st, int wait_status);
/* After an on_unhealthy = restart stop: counts a failure; false when
 * on-failure:MAX is spent (whatever `restart` says, an unhealthy container
 * is restarted until then: the manifest asked for it with on_unhealthy). */
bool restart_after_unhealthy(const struct container_spec *c, struct restart_state *st);
/* The delay before the next start, given how long the last run lasted. */
uint64_t restart_next_delay(const struct container_spec *c, struct restart_state *st, uint64_t run_ms);

#endif
