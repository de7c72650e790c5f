/* supervise_state.c — a container's state machine, see supervise_state.h.
 *
 * One function per input below; each one is a row of the table: for each
 * state it sets the new state and lists the actions in the order the
 * supervisor must carry them out (an event after the state it reports, a
 * schedule after everything else, the release last).
 */
#include "keel/supervise_state.h"

#include <errno.h>
#include <signal.h>

#include "keel/util.h"

static void add(struct sup_step *o, enum sup_action a)
{
    /* SUP_ACTIONS_MAX is above the longest row; the unit test checks that. */
    if (o->n < SUP_ACTIONS_MAX)
        o->act[o->n++] = a;
}

bool supervise_state_active(enum container_state st)
{
    return st == CS_STARTING || st == CS_RUNNING || st == CS_STOPPING;
}

bool supervise_state_final(enum container_state st)
{
    return st == CS_EXITED || st == CS_STOPPED || st == CS_FAILED;
}

/* Every kind of stop.  A container not started yet is stopped at once; one
 * with a process gets its stop signal and the stop_timeout. */
static void stop(const struct container_spec *spec, struct sup_machine *m, const struct sup_input *in,
                 struct sup_step *o)
{
    m->stop_requested = true;
    switch (m->state) {
    case CS_WAITING:
    case CS_BACKOFF:
        m->state = CS_STOPPED;
        add(o, SUP_DO_CANCEL_TIMER);
        add(o, SUP_DO_DISARM_WAIT);
        add(o, SUP_DO_EMIT_STOPPED);
        return;
    case CS_STARTING:
    case CS_RUNNING:
        m->state = CS_STOPPING;
        add(o, SUP_DO_NOTE_STOPPING);
        add(o, SUP_DO_HEALTH_STOP);
        /* During setup the process is keel's own code: SIGKILL is the only
         * stop.  A SIGKILL goes to the whole cgroup, so nothing escapes. */
        add(o, in->in_setup || spec->stop_signal == SIGKILL ? SUP_DO_KILL : SUP_DO_SIGNAL);
        add(o, SUP_DO_CANCEL_TIMER);
        add(o, SUP_DO_ARM_STOP_TIMER);
        return;
    default:
        return;
    }
}

/* The next start after the backoff delay. */
static void restart(const struct container_spec *spec, struct sup_machine *m, const struct sup_input *in,
                    struct sup_step *o)
{
    o->delay_ms = restart_next_delay(spec, &m->rs, in->run_ms);
    m->restarts++;
    m->state = CS_BACKOFF;
    add(o, SUP_DO_NOTE_RESTARTING);
    add(o, SUP_DO_EMIT_RESTARTING);
    add(o, SUP_DO_ARM_BACKOFF);
    add(o, SUP_DO_SCHEDULE);
}

/* on-failure:MAX is spent: the container is failed, and on_crashloop applies. */
static void give_up(const struct container_spec *spec, struct sup_machine *m, struct sup_step *o)
{
    m->state = CS_FAILED;
    add(o, SUP_DO_NOTE_GAVE_UP);
    add(o, SUP_DO_EMIT_FAILED);
    if (spec->on_crashloop != POWER_NONE)
        add(o, SUP_DO_CRASHLOOP);
}

static void on_exited(const struct container_spec *spec, struct sup_machine *m, const struct sup_input *in,
                    struct sup_step *o)
{
    add(o, SUP_DO_HEALTH_STOP);
    add(o, SUP_DO_RECORD_EXIT);
    add(o, SUP_DO_CANCEL_TIMER);
    if (m->unhealthy_stop && !in->stopping_all) {
        /* An unhealthy container is a failing one: restarted with backoff,
         * counted against on-failure:MAX, then on_crashloop, like a crash. */
        m->unhealthy_stop = false;
        m->stop_requested = false;
        if (restart_after_unhealthy(spec, &m->rs)) {
            restart(spec, m, in, o);
        } else {
            give_up(spec, m, o);
            add(o, SUP_DO_SCHEDULE);
        }
    } else if (m->state == CS_STOPPING || m->stop_requested || in->stopping_all) {
        /* An exit while stopping ends in STOPPED whatever its status, or
         * starts again when the stop was keel restart. */
        if (m->restart_after_stop && !in->stopping_all) {
            m->restart_after_stop = false;
            m->stop_requested = false;
            m->state = CS_WAITING;
            m->restarts++;
        } else {
            m->state = CS_STOPPED;
            add(o, SUP_DO_NOTE_STOPPED);
            add(o, SUP_DO_EMIT_STOPPED);
        }
        add(o, SUP_DO_SCHEDULE);
    } else if (restart_wanted(spec, &m->rs, in->status)) {
        restart(spec, m, in, o);
    } else {
        if (spec->restart == RESTART_ON_FAILURE && restart_is_failure(in->status))
            give_up(spec, m, o);
        else
            m->state = CS_EXITED;
        add(o, SUP_DO_SCHEDULE);
    }
    add(o, SUP_DO_RELEASE);
}

/* No process could be made at all: treated like a failed run, but without
 * counting a restart or reporting one. */
static void on_start_failed(const struct container_spec *spec, struct sup_machine *m,
                            const struct sup_input *in, struct sup_step *o)
{
    if (!m->stop_requested && !in->stopping_all && restart_wanted(spec, &m->rs, in->status)) {
        o->delay_ms = restart_next_delay(spec, &m->rs, 0);
        m->state = CS_BACKOFF;
        add(o, SUP_DO_ARM_BACKOFF);
        return;
    }
    m->state = CS_FAILED;
    add(o, SUP_DO_EMIT_FAILED);
}

void supervise_step(const struct container_spec *spec, struct sup_machine *m, const struct sup_input *in,
                    struct sup_step *o)
{
    *o = (struct sup_step){ 0 };
    switch (in->kind) {
    case SUP_IN_DEPS_MET:
        if (m->state != CS_WAITING || m->stop_requested)
            return;
        m->restart_after_stop = false;
        m->unhealthy_stop = false;
        add(o, SUP_DO_CANCEL_TIMER);
        add(o, SUP_DO_DISARM_WAIT);
        add(o, SUP_DO_START);
        return;
    case SUP_IN_DEPS_PENDING:
        if (m->state == CS_WAITING && !m->stop_requested)
            add(o, SUP_DO_ARM_WAIT);
        return;
    case SUP_IN_CLONED:
        m->state = CS_STARTING;
        return;
    case SUP_IN_START_FAILED:
        on_start_failed(spec, m, in, o);
        return;
    case SUP_IN_EXECED:
        if (m->state != CS_STARTING)
            return;
        m->state = CS_RUNNING;
        add(o, SUP_DO_NOTE_STARTED);
        add(o, SUP_DO_EMIT_STARTED);
        add(o, SUP_DO_HEALTH_ARM);
        return;
    case SUP_IN_EXIT:
        on_exited(spec, m, in, o);
        return;
    case SUP_IN_STOP:
        stop(spec, m, in, o);
        /* keel stop wins over a restart already under way. */
        m->unhealthy_stop = false;
        m->restart_after_stop = false;
        return;
    case SUP_IN_STOP_ALL:
        stop(spec, m, in, o);
        return;
    case SUP_IN_UNHEALTHY:
        if (m->state != CS_RUNNING)
            return;
        stop(spec, m, in, o);
        m->unhealthy_stop = true;
        return;
    case SUP_IN_START_REQ:
        if (in->stopping_all) {
            o->refused = -ESHUTDOWN;
            return;
        }
        if (supervise_state_active(m->state)) {
            o->refused = -EALREADY;
            return;
        }
        add(o, SUP_DO_CANCEL_TIMER);
        m->rs = (struct restart_state){ 0 };
        m->stop_requested = false;
        m->state = CS_WAITING;
        add(o, SUP_DO_SCHEDULE);
        return;
    case SUP_IN_RESTART_REQ:
        if (in->stopping_all) {
            o->refused = -ESHUTDOWN;
            return;
        }
        /* Either way the on-failure count starts over. */
        m->rs = (struct restart_state){ 0 };
        if (supervise_state_active(m->state)) {
            stop(spec, m, in, o);
            m->restart_after_stop = true;
            return;
        }
        /* From any other state, including a container that gave up. */
        add(o, SUP_DO_CANCEL_TIMER);
        m->stop_requested = false;
        m->state = CS_WAITING;
        add(o, SUP_DO_SCHEDULE);
        return;
    case SUP_IN_SHUTDOWN:
        m->stop_requested = true;
        return;
    case SUP_IN_STOP_TIMEOUT:
        if (m->state != CS_STOPPING)
            return;
        add(o, SUP_DO_NOTE_KILLING);
        add(o, SUP_DO_KILL);
        return;
    case SUP_IN_BACKOFF_TIMER:
        if (m->state != CS_BACKOFF)
            return;
        m->state = CS_WAITING;
        add(o, SUP_DO_SCHEDULE);
        return;
    case SUP_IN_NO_TIMER:
        /* Without a timer nothing would end the backoff: wait at once. */
        if (m->state == CS_BACKOFF)
            m->state = CS_WAITING;
        return;
    case SUP_IN_START_TIMEOUT:
        if (m->state != CS_WAITING)
            return;
        add(o, SUP_DO_NOTE_BLOCKER);
        m->state = CS_FAILED;
        add(o, SUP_DO_EMIT_FAILED);
        add(o, SUP_DO_SCHEDULE);
        return;
    case SUP_IN_N:
        return;
    }
}

const char *supervise_input_name(enum sup_input_kind k)
{
    static const char *const names[] = {
        [SUP_IN_DEPS_MET] = "deps_met", [SUP_IN_DEPS_PENDING] = "deps_pending", [SUP_IN_CLONED] = "cloned",
        [SUP_IN_START_FAILED] = "start_failed", [SUP_IN_EXECED] = "execed", [SUP_IN_EXIT] = "exit",
        [SUP_IN_STOP] = "stop", [SUP_IN_STOP_ALL] = "stop_all", [SUP_IN_UNHEALTHY] = "unhealthy",
        [SUP_IN_START_REQ] = "start_req", [SUP_IN_RESTART_REQ] = "restart_req", [SUP_IN_SHUTDOWN] = "shutdown",
        [SUP_IN_STOP_TIMEOUT] = "stop_timeout", [SUP_IN_BACKOFF_TIMER] = "backoff_timer",
        [SUP_IN_NO_TIMER] = "no_timer", [SUP_IN_START_TIMEOUT] = "start_timeout",
    };
    return (unsigned)k < ARRAY_SIZE(names) && names[k] ? names[k] : "?";
}

const char *supervise_action_name(enum sup_action a)
{
    static const char *const names[] = {
        [SUP_DO_START] = "start", [SUP_DO_ARM_WAIT] = "arm_wait", [SUP_DO_DISARM_WAIT] = "disarm_wait",
        [SUP_DO_CANCEL_TIMER] = "cancel_timer", [SUP_DO_ARM_BACKOFF] = "arm_backoff",
        [SUP_DO_ARM_STOP_TIMER] = "arm_stop_timer", [SUP_DO_SIGNAL] = "signal", [SUP_DO_KILL] = "kill",
        [SUP_DO_HEALTH_ARM] = "health_arm", [SUP_DO_HEALTH_STOP] = "health_stop",
        [SUP_DO_NOTE_STARTED] = "note_started", [SUP_DO_NOTE_STOPPING] = "note_stopping",
        [SUP_DO_NOTE_STOPPED] = "note_stopped", [SUP_DO_NOTE_KILLING] = "note_killing",
        [SUP_DO_NOTE_RESTARTING] = "note_restarting", [SUP_DO_NOTE_BLOCKER] = "note_blocker",
        [SUP_DO_NOTE_GAVE_UP] = "note_gave_up", [SUP_DO_RECORD_EXIT] = "record_exit",
        [SUP_DO_EMIT_STARTED] = "emit_started", [SUP_DO_EMIT_STOPPED] = "emit_stopped",
        [SUP_DO_EMIT_RESTARTING] = "emit_restarting", [SUP_DO_EMIT_FAILED] = "emit_failed",
        [SUP_DO_CRASHLOOP] = "crashloop", [SUP_DO_SCHEDULE] = "schedule", [SUP_DO_RELEASE] = "release",
    };
    return (unsigned)a < ARRAY_SIZE(names) && names[a] ? names[a] : "?";
}
