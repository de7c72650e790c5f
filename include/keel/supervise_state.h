/* supervise_state.h — a container's state machine as one pure function.
 *
 * As in s6-supervise's state × event table: supervise_step() takes a
 * container's machine (its state and the few flags that decide its next
 * move), one input (something happened: a dependency is satisfied, the
 * process exited, a timer fired, a control request came) and gives back the
 * new state and the ordered list of actions the supervisor carries out
 * (start, signal, kill, arm a timer, emit an event, release the network, ...).
 * The step does no I/O and reads nothing but its arguments: the supervisor
 * (supervise.c) turns what happens in the loop into inputs and actions into
 * system calls, and tests/unit/test_supervise_state.c checks the table.
 *
 *   WAITING ──deps met: start──> STARTING ──exec'd──> RUNNING
 *    │   ^  │ no process               │ exit (a failed setup too)
 *    │   │  v                          v
 *    │   └─ BACKOFF <──────── the restart policy ──> EXITED, FAILED (on_crashloop)
 *    └── start_timeout ──> FAILED
 *   stop: WAITING, BACKOFF ──> STOPPED; STARTING, RUNNING ──> STOPPING ──exit──>
 *   STOPPED, or WAITING when the stop was a restart (keel restart,
 *   on_unhealthy = restart: the latter through BACKOFF, as a failure).
 *   See docs/supervision.md.
 *
 * The restart policy's counters (struct restart_state) are part of the
 * machine: the step applies restart.h's pure functions to them.
 */
#ifndef KEEL_SUPERVISE_STATE_H
#define KEEL_SUPERVISE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/manifest.h"
#include "keel/restart.h"

enum container_state {
    CS_WAITING,    /* not started yet: waiting for its dependencies (or just out of backoff) */
    CS_STARTING,   /* cloned; keel's setup child builds its root, not exec'd yet */
    CS_RUNNING,    /* exec'd: its command runs, health checks run, readiness is awaited */
    CS_STOPPING,   /* stop signal sent (SIGKILL during setup); SIGKILL when stop_timeout expires */
    CS_BACKOFF,    /* exited, the restart policy wants it again; restart timer armed */
    CS_EXITED,     /* exited and will not be restarted (policy) */
    CS_STOPPED,    /* stopped on request: a stop never restarts */
    CS_FAILED,     /* gave up: on-failure:MAX spent, start_timeout, or no process and no retry */
};

/* A container's machine: everything supervise_step() decides on and changes. */
struct sup_machine {
    enum container_state state;
    bool stop_requested;       /* stopped on request (or everything stops): no restart */
    bool restart_after_stop;   /* keel restart NAME of an active container: WAITING after its exit */
    bool unhealthy_stop;       /* stopped by on_unhealthy = restart: its exit is a failure */
    unsigned restarts;         /* restarts so far (keel ps) */
    struct restart_state rs;   /* backoff and the on-failure count */
};

enum sup_input_kind {
    SUP_IN_DEPS_MET,        /* schedule: every dependency is satisfied */
    SUP_IN_DEPS_PENDING,    /* schedule: a dependency is not satisfied yet */
    SUP_IN_CLONED,          /* the start made its process (the setup child runs) */
    SUP_IN_START_FAILED,    /* the start made no process; status = 127 << 8 */
    SUP_IN_EXECED,          /* the setup child exec'd the command */
    SUP_IN_EXIT,            /* the container's process was reaped; status, run_ms */
    SUP_IN_STOP,            /* keel stop: wins over a restart under way */
    SUP_IN_STOP_ALL,        /* the shutdown stops it (its dependants are down) */
    SUP_IN_UNHEALTHY,       /* on_unhealthy = restart */
    SUP_IN_START_REQ,       /* keel start */
    SUP_IN_RESTART_REQ,     /* keel restart */
    SUP_IN_SHUTDOWN,        /* everything stops: no restart from now on */
    SUP_IN_STOP_TIMEOUT,    /* stop_timeout expired */
    SUP_IN_BACKOFF_TIMER,   /* the restart timer fired */
    SUP_IN_NO_TIMER,        /* the restart timer could not be armed */
    SUP_IN_START_TIMEOUT,   /* start_timeout expired while waiting */
    SUP_IN_N
};

struct sup_input {
    enum sup_input_kind kind;
    int status;            /* SUP_IN_EXIT, SUP_IN_START_FAILED: the wait status (else 0) */
    uint64_t run_ms;       /* SUP_IN_EXIT: how long the run lasted */
    bool stopping_all;     /* everything is being stopped (shutdown) */
    bool in_setup;         /* the setup child has not reported yet (it is keel's code) */
};

/* What the supervisor carries out, in the order given.  The events carry the
 * input's status. */
enum sup_action {
    SUP_DO_START,           /* make the container's process (then SUP_IN_CLONED or _START_FAILED) */
    SUP_DO_ARM_WAIT,        /* arm start_timeout (once, when it has one and dependencies) */
    SUP_DO_DISARM_WAIT,     /* cancel start_timeout */
    SUP_DO_CANCEL_TIMER,    /* cancel the restart or stop timer */
    SUP_DO_ARM_BACKOFF,     /* arm the restart timer for delay_ms (failing: SUP_IN_NO_TIMER) */
    SUP_DO_ARM_STOP_TIMER,  /* arm the stop_timeout timer */
    SUP_DO_SIGNAL,          /* send stop_signal to the container's init */
    SUP_DO_KILL,            /* SIGKILL everything of the container (its cgroup) */
    SUP_DO_HEALTH_ARM,      /* arm the first health check */
    SUP_DO_HEALTH_STOP,     /* cancel or abandon the health check */
    SUP_DO_NOTE_STARTED,    /* "started, pid P"; readiness without a protocol */
    SUP_DO_NOTE_STOPPING,   /* "stopping" */
    SUP_DO_NOTE_STOPPED,    /* "stopped" */
    SUP_DO_NOTE_KILLING,    /* "did not stop within stop_timeout, killing it" */
    SUP_DO_NOTE_RESTARTING, /* "restarting in delay_ms (restart K)" */
    SUP_DO_NOTE_BLOCKER,    /* failure: the dependency that did not become ready in time */
    SUP_DO_NOTE_GAVE_UP,    /* failure: "gave up after K restarts" */
    SUP_DO_RECORD_EXIT,     /* the run is over: its status, "exited ..." and the exited event */
    SUP_DO_EMIT_STARTED,
    SUP_DO_EMIT_STOPPED,
    SUP_DO_EMIT_RESTARTING,
    SUP_DO_EMIT_FAILED,
    SUP_DO_CRASHLOOP,       /* on_crashloop's power action */
    SUP_DO_SCHEDULE,        /* re-evaluate what can start (or, stopping all, stop) */
    SUP_DO_RELEASE,         /* down for good: give back the cgroup and, unused, the network */
    SUP_DO_N
};

#define SUP_ACTIONS_MAX 12
struct sup_step {
    enum sup_action act[SUP_ACTIONS_MAX];
    size_t n;
    uint64_t delay_ms;     /* SUP_DO_ARM_BACKOFF */
    int refused;           /* control requests: -ESHUTDOWN, -EALREADY; else 0 */
};

/* The step: m is the container's machine before and, on return, after the
 * input; out gets the actions.  Pure: reads only spec, m and in.  An input
 * that means nothing in the current state changes nothing and asks for
 * nothing (out->n == 0). */
void supervise_step(const struct container_spec *spec, struct sup_machine *m, const struct sup_input *in,
                    struct sup_step *out);

/* starting, running or stopping: a process of it exists. */
bool supervise_state_active(enum container_state st);
/* exited, stopped or failed: nothing more happens without a request. */
bool supervise_state_final(enum container_state st);
/* Names for tests and debugging: "SUP_IN_EXIT" -> "exit", "SUP_DO_KILL" -> "kill". */
const char *supervise_input_name(enum sup_input_kind k);
const char *supervise_action_name(enum sup_action a);

#endif
