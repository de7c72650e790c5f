/* Unit tests of supervise_state.c: the container state machine's table.
 * Each case sets a machine, feeds one input and checks the new state, the
 * flags and the exact list of actions (in order). */
#include "keel/supervise_state.h"
#include "unit.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define EXIT(code) ((code) << 8)

static struct container_spec spec(enum restart_policy p, unsigned max)
{
    struct container_spec c;
    memset(&c, 0, sizeof c);
    c.name = "web";
    c.restart = p;
    c.restart_max = max;
    c.restart_delay_ms = 100;
    c.restart_delay_max_ms = 30000;
    c.restart_reset_ms = 10000;
    c.stop_signal = SIGTERM;
    c.on_crashloop = POWER_NONE;
    return c;
}

/* The actions as one string, "a,b,c", for readable comparisons. */
static const char *acts(const struct sup_step *st)
{
    static char buf[512];
    buf[0] = '\0';
    for (size_t i = 0; i < st->n; i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, supervise_action_name(st->act[i]));
    }
    return buf;
}

static struct sup_step step(const struct container_spec *c, struct sup_machine *m, enum sup_input_kind k,
                            int status)
{
    struct sup_input in = { .kind = k, .status = status };
    struct sup_step st;
    supervise_step(c, m, &in, &st);
    return st;
}

static struct sup_machine at(enum container_state s)
{
    return (struct sup_machine){ .state = s };
}

TEST(waiting_starts_when_dependencies_are_met)
{
    struct container_spec c = spec(RESTART_NO, 0);
    struct sup_machine m = at(CS_WAITING);
    struct sup_step st = step(&c, &m, SUP_IN_DEPS_PENDING, 0);
    CHECK_STR(acts(&st), "arm_wait");
    CHECK_INT(m.state, CS_WAITING);
    st = step(&c, &m, SUP_IN_DEPS_MET, 0);
    CHECK_STR(acts(&st), "cancel_timer,disarm_wait,start");
    CHECK_INT(m.state, CS_WAITING);              /* until the start reports */
    st = step(&c, &m, SUP_IN_CLONED, 0);
    CHECK_INT(st.n, 0);
    CHECK_INT(m.state, CS_STARTING);
    st = step(&c, &m, SUP_IN_EXECED, 0);
    CHECK_STR(acts(&st), "note_started,emit_started,health_arm");
    CHECK_INT(m.state, CS_RUNNING);
    /* An exec reported again (or late) changes nothing. */
    st = step(&c, &m, SUP_IN_EXECED, 0);
    CHECK_INT(st.n, 0);

    /* A container asked to stop is not started, nor its timer armed. */
    m = at(CS_WAITING);
    m.stop_requested = true;
    st = step(&c, &m, SUP_IN_DEPS_MET, 0);
    CHECK_INT(st.n, 0);
    st = step(&c, &m, SUP_IN_DEPS_PENDING, 0);
    CHECK_INT(st.n, 0);
    /* Only a waiting container starts. */
    for (int s = CS_STARTING; s <= CS_FAILED; s++) {
        m = at((enum container_state)s);
        st = step(&c, &m, SUP_IN_DEPS_MET, 0);
        CHECK_INT(st.n, 0);
        CHECK_INT(m.state, s);
    }
}

TEST(start_timeout)
{
    struct container_spec c = spec(RESTART_ALWAYS, 0);
    struct sup_machine m = at(CS_WAITING);
    struct sup_step st = step(&c, &m, SUP_IN_START_TIMEOUT, 0);
    CHECK_STR(acts(&st), "note_blocker,emit_failed,schedule");
    CHECK_INT(m.state, CS_FAILED);
    /* A timer that fires after the container left WAITING is ignored. */
    m = at(CS_RUNNING);
    st = step(&c, &m, SUP_IN_START_TIMEOUT, 0);
    CHECK_INT(st.n, 0);
    CHECK_INT(m.state, CS_RUNNING);
}

TEST(start_failed)
{
    /* No process: the policy decides, without counting a restart. */
    struct container_spec c = spec(RESTART_ALWAYS, 0);
    struct sup_machine m = at(CS_WAITING);
    struct sup_step st = step(&c, &m, SUP_IN_START_FAILED, EXIT(127));
    CHECK_STR(acts(&st), "arm_backoff");
    CHECK_INT(m.state, CS_BACKOFF);
    CHECK_INT(st.delay_ms, 100);
    CHECK_INT(m.restarts, 0);
    st = step(&c, &m, SUP_IN_BACKOFF_TIMER, 0);
    CHECK_STR(acts(&st), "schedule");
    CHECK_INT(m.state, CS_WAITING);
    st = step(&c, &m, SUP_IN_START_FAILED, EXIT(127));
    CHECK_INT(st.delay_ms, 200);                 /* backoff doubles */

    c = spec(RESTART_NO, 0);
    m = at(CS_WAITING);
    st = step(&c, &m, SUP_IN_START_FAILED, EXIT(127));
    CHECK_STR(acts(&st), "emit_failed");
    CHECK_INT(m.state, CS_FAILED);

    /* on-failure:1: one retry, then failed. */
    c = spec(RESTART_ON_FAILURE, 1);
    m = at(CS_WAITING);
    st = step(&c, &m, SUP_IN_START_FAILED, EXIT(127));
    CHECK_INT(m.state, CS_BACKOFF);
    m.state = CS_WAITING;
    st = step(&c, &m, SUP_IN_START_FAILED, EXIT(127));
    CHECK_INT(m.state, CS_FAILED);

    /* While everything stops, never a retry. */
    c = spec(RESTART_ALWAYS, 0);
    m = at(CS_WAITING);
    struct sup_input in = { .kind = SUP_IN_START_FAILED, .status = EXIT(127), .stopping_all = true };
    supervise_step(&c, &m, &in, &st);
    CHECK_INT(m.state, CS_FAILED);

    /* A restart timer that cannot be armed: waiting at once instead of a backoff without end. */
    m = at(CS_BACKOFF);
    st = step(&c, &m, SUP_IN_NO_TIMER, 0);
    CHECK_INT(m.state, CS_WAITING);
    CHECK_INT(st.n, 0);
}

TEST(stops)
{
    struct container_spec c = spec(RESTART_ALWAYS, 0);
    struct sup_machine m;
    struct sup_step st;
    enum container_state quiet[] = { CS_WAITING, CS_BACKOFF };
    for (size_t i = 0; i < 2; i++) {
        m = at(quiet[i]);
        st = step(&c, &m, SUP_IN_STOP, 0);
        CHECK_STR(acts(&st), "cancel_timer,disarm_wait,emit_stopped");
        CHECK_INT(m.state, CS_STOPPED);
        CHECK(m.stop_requested);
    }
    m = at(CS_RUNNING);
    st = step(&c, &m, SUP_IN_STOP, 0);
    CHECK_STR(acts(&st), "note_stopping,health_stop,signal,cancel_timer,arm_stop_timer");
    CHECK_INT(m.state, CS_STOPPING);
    st = step(&c, &m, SUP_IN_STOP_TIMEOUT, 0);
    CHECK_STR(acts(&st), "note_killing,kill");
    /* A second stop while stopping sends nothing more. */
    st = step(&c, &m, SUP_IN_STOP, 0);
    CHECK_INT(st.n, 0);
    CHECK_INT(m.state, CS_STOPPING);

    /* During setup the process is keel's own code: SIGKILL. */
    m = at(CS_STARTING);
    struct sup_input in = { .kind = SUP_IN_STOP, .in_setup = true };
    supervise_step(&c, &m, &in, &st);
    CHECK_STR(acts(&st), "note_stopping,health_stop,kill,cancel_timer,arm_stop_timer");
    CHECK_INT(m.state, CS_STOPPING);
    /* stop_signal = SIGKILL kills the whole cgroup too. */
    c.stop_signal = SIGKILL;
    m = at(CS_RUNNING);
    st = step(&c, &m, SUP_IN_STOP, 0);
    CHECK_STR(acts(&st), "note_stopping,health_stop,kill,cancel_timer,arm_stop_timer");
    c.stop_signal = SIGTERM;

    /* The stop timer of a container no longer stopping is ignored. */
    m = at(CS_STOPPED);
    st = step(&c, &m, SUP_IN_STOP_TIMEOUT, 0);
    CHECK_INT(st.n, 0);
    /* Final states stay, but remember the request. */
    enum container_state fin[] = { CS_EXITED, CS_STOPPED, CS_FAILED };
    for (size_t i = 0; i < 3; i++) {
        m = at(fin[i]);
        st = step(&c, &m, SUP_IN_STOP, 0);
        CHECK_INT(st.n, 0);
        CHECK_INT(m.state, fin[i]);
        CHECK(m.stop_requested);
    }

    /* An exit while stopping: STOPPED whatever the status and the policy. */
    m = at(CS_RUNNING);
    step(&c, &m, SUP_IN_STOP, 0);
    st = step(&c, &m, SUP_IN_EXIT, SIGKILL);
    CHECK_STR(acts(&st), "health_stop,record_exit,cancel_timer,note_stopped,emit_stopped,schedule,release");
    CHECK_INT(m.state, CS_STOPPED);
    CHECK_INT(m.restarts, 0);
}

TEST(exits_by_policy)
{
    struct container_spec c = spec(RESTART_ALWAYS, 0);
    struct sup_machine m = at(CS_RUNNING);
    struct sup_input in = { .kind = SUP_IN_EXIT, .status = EXIT(0), .run_ms = 50 };
    struct sup_step st;
    supervise_step(&c, &m, &in, &st);
    CHECK_STR(acts(&st), "health_stop,record_exit,cancel_timer,note_restarting,emit_restarting,arm_backoff,"
                         "schedule,release");
    CHECK_INT(m.state, CS_BACKOFF);
    CHECK_INT(m.restarts, 1);
    CHECK_INT(st.delay_ms, 100);
    /* A quick second crash doubles the delay; a long run resets it. */
    m.state = CS_RUNNING;
    supervise_step(&c, &m, &in, &st);
    CHECK_INT(st.delay_ms, 200);
    CHECK_INT(m.restarts, 2);
    m.state = CS_RUNNING;
    in.run_ms = 20000;
    supervise_step(&c, &m, &in, &st);
    CHECK_INT(st.delay_ms, 100);

    c = spec(RESTART_NO, 0);
    m = at(CS_RUNNING);
    struct sup_step s2 = step(&c, &m, SUP_IN_EXIT, EXIT(3));
    CHECK_STR(acts(&s2), "health_stop,record_exit,cancel_timer,schedule,release");
    CHECK_INT(m.state, CS_EXITED);

    /* on-failure: a clean exit is EXITED; failures until MAX, then FAILED and on_crashloop. */
    c = spec(RESTART_ON_FAILURE, 2);
    c.on_crashloop = POWER_REBOOT;
    m = at(CS_RUNNING);
    s2 = step(&c, &m, SUP_IN_EXIT, EXIT(0));
    CHECK_INT(m.state, CS_EXITED);
    m = at(CS_RUNNING);
    step(&c, &m, SUP_IN_EXIT, EXIT(1));
    CHECK_INT(m.state, CS_BACKOFF);
    m.state = CS_RUNNING;
    step(&c, &m, SUP_IN_EXIT, SIGSEGV);
    CHECK_INT(m.state, CS_BACKOFF);
    m.state = CS_RUNNING;
    s2 = step(&c, &m, SUP_IN_EXIT, EXIT(1));
    CHECK_STR(acts(&s2), "health_stop,record_exit,cancel_timer,note_gave_up,emit_failed,crashloop,schedule,release");
    CHECK_INT(m.state, CS_FAILED);
    CHECK_INT(m.restarts, 2);
    c.on_crashloop = POWER_NONE;
    m = at(CS_RUNNING);
    m.rs.failures = 2;
    s2 = step(&c, &m, SUP_IN_EXIT, EXIT(1));
    CHECK_STR(acts(&s2), "health_stop,record_exit,cancel_timer,note_gave_up,emit_failed,schedule,release");

    /* A setup that failed (127 from STARTING) is an exit like any other. */
    c = spec(RESTART_NO, 0);
    m = at(CS_STARTING);
    step(&c, &m, SUP_IN_EXIT, EXIT(127));
    CHECK_INT(m.state, CS_EXITED);

    /* While everything stops an exit is STOPPED, even under restart = always. */
    c = spec(RESTART_ALWAYS, 0);
    m = at(CS_RUNNING);
    in = (struct sup_input){ .kind = SUP_IN_EXIT, .status = EXIT(1), .stopping_all = true };
    supervise_step(&c, &m, &in, &st);
    CHECK_INT(m.state, CS_STOPPED);
}

TEST(on_unhealthy_restart_counts_as_failure)
{
    struct container_spec c = spec(RESTART_ON_FAILURE, 1);
    c.on_crashloop = POWER_POWEROFF;
    struct sup_machine m = at(CS_RUNNING);
    struct sup_step st = step(&c, &m, SUP_IN_UNHEALTHY, 0);
    CHECK_STR(acts(&st), "note_stopping,health_stop,signal,cancel_timer,arm_stop_timer");
    CHECK_INT(m.state, CS_STOPPING);
    CHECK(m.unhealthy_stop);
    /* Its exit (clean or not, the stop made it) restarts with backoff... */
    st = step(&c, &m, SUP_IN_EXIT, EXIT(0));
    CHECK_STR(acts(&st), "health_stop,record_exit,cancel_timer,note_restarting,emit_restarting,arm_backoff,"
                         "schedule,release");
    CHECK_INT(m.state, CS_BACKOFF);
    CHECK_INT(m.restarts, 1);
    CHECK_INT(m.rs.failures, 1);
    CHECK(!m.unhealthy_stop && !m.stop_requested);
    /* ...counted against on-failure:MAX: the second one gives up. */
    m.state = CS_RUNNING;
    step(&c, &m, SUP_IN_UNHEALTHY, 0);
    st = step(&c, &m, SUP_IN_EXIT, EXIT(0));
    CHECK_STR(acts(&st), "health_stop,record_exit,cancel_timer,note_gave_up,emit_failed,crashloop,schedule,release");
    CHECK_INT(m.state, CS_FAILED);
    /* restart = no: still restarted when unhealthy (the manifest asked with on_unhealthy). */
    c = spec(RESTART_NO, 0);
    m = at(CS_RUNNING);
    step(&c, &m, SUP_IN_UNHEALTHY, 0);
    step(&c, &m, SUP_IN_EXIT, SIGTERM);
    CHECK_INT(m.state, CS_BACKOFF);
    /* Only a running container is restarted for its health. */
    m = at(CS_STOPPING);
    st = step(&c, &m, SUP_IN_UNHEALTHY, 0);
    CHECK_INT(st.n, 0);
    CHECK(!m.unhealthy_stop);
    /* keel stop wins over the restart under way. */
    m = at(CS_RUNNING);
    step(&c, &m, SUP_IN_UNHEALTHY, 0);
    step(&c, &m, SUP_IN_STOP, 0);
    CHECK(!m.unhealthy_stop);
    step(&c, &m, SUP_IN_EXIT, SIGTERM);
    CHECK_INT(m.state, CS_STOPPED);
    /* So does the shutdown. */
    m = at(CS_RUNNING);
    step(&c, &m, SUP_IN_UNHEALTHY, 0);
    struct sup_input in = { .kind = SUP_IN_EXIT, .status = SIGTERM, .stopping_all = true };
    supervise_step(&c, &m, &in, &st);
    CHECK_INT(m.state, CS_STOPPED);
}

TEST(control_requests)
{
    struct container_spec c = spec(RESTART_ON_FAILURE, 1);
    struct sup_machine m = at(CS_RUNNING);
    struct sup_step st = step(&c, &m, SUP_IN_START_REQ, 0);
    CHECK_INT(st.refused, -EALREADY);
    CHECK_INT(st.n, 0);
    struct sup_input in = { .kind = SUP_IN_START_REQ, .stopping_all = true };
    m = at(CS_STOPPED);
    supervise_step(&c, &m, &in, &st);
    CHECK_INT(st.refused, -ESHUTDOWN);
    CHECK_INT(m.state, CS_STOPPED);
    in.kind = SUP_IN_RESTART_REQ;
    supervise_step(&c, &m, &in, &st);
    CHECK_INT(st.refused, -ESHUTDOWN);

    /* keel start of a container that gave up: waiting again, its count reset. */
    m = at(CS_FAILED);
    m.rs.failures = 2;
    m.stop_requested = true;
    st = step(&c, &m, SUP_IN_START_REQ, 0);
    CHECK_INT(st.refused, 0);
    CHECK_STR(acts(&st), "cancel_timer,schedule");
    CHECK_INT(m.state, CS_WAITING);
    CHECK_INT(m.rs.failures, 0);
    CHECK(!m.stop_requested);

    /* keel restart of an active one: stop, then WAITING after its exit. */
    m = at(CS_RUNNING);
    m.rs.failures = 1;
    st = step(&c, &m, SUP_IN_RESTART_REQ, 0);
    CHECK_STR(acts(&st), "note_stopping,health_stop,signal,cancel_timer,arm_stop_timer");
    CHECK_INT(m.rs.failures, 0);
    CHECK(m.restart_after_stop);
    st = step(&c, &m, SUP_IN_EXIT, SIGTERM);
    CHECK_STR(acts(&st), "health_stop,record_exit,cancel_timer,schedule,release");
    CHECK_INT(m.state, CS_WAITING);
    CHECK_INT(m.restarts, 1);
    CHECK(!m.restart_after_stop && !m.stop_requested);
    /* keel restart while stopping: the stop goes on, then it starts again. */
    m = at(CS_STOPPING);
    st = step(&c, &m, SUP_IN_RESTART_REQ, 0);
    CHECK_INT(st.n, 0);
    CHECK(m.restart_after_stop);
    /* keel stop cancels that. */
    step(&c, &m, SUP_IN_STOP, 0);
    step(&c, &m, SUP_IN_EXIT, SIGTERM);
    CHECK_INT(m.state, CS_STOPPED);
    /* keel restart from any inactive state: WAITING at once. */
    enum container_state idle[] = { CS_WAITING, CS_BACKOFF, CS_EXITED, CS_STOPPED, CS_FAILED };
    for (size_t i = 0; i < 5; i++) {
        m = at(idle[i]);
        st = step(&c, &m, SUP_IN_RESTART_REQ, 0);
        CHECK_STR(acts(&st), "cancel_timer,schedule");
        CHECK_INT(m.state, CS_WAITING);
    }

    /* The shutdown marks every container: none starts or restarts any more. */
    m = at(CS_WAITING);
    st = step(&c, &m, SUP_IN_SHUTDOWN, 0);
    CHECK_INT(st.n, 0);
    CHECK(m.stop_requested);
    st = step(&c, &m, SUP_IN_STOP_ALL, 0);
    CHECK_STR(acts(&st), "cancel_timer,disarm_wait,emit_stopped");
}

/* Every state × every input × the flags: the step keeps a valid state, its
 * list within SUP_ACTIONS_MAX, and names every input and action. */
TEST(whole_table)
{
    struct container_spec c = spec(RESTART_ON_FAILURE, 2);
    c.on_crashloop = POWER_REBOOT;
    size_t longest = 0;
    for (int s = CS_WAITING; s <= CS_FAILED; s++)
        for (int k = 0; k < SUP_IN_N; k++)
            for (unsigned f = 0; f < 64; f++) {
                struct sup_machine m = at((enum container_state)s);
                m.stop_requested = f & 1;
                m.restart_after_stop = f & 2;
                m.unhealthy_stop = f & 4;
                m.rs.failures = (f & 8) ? 2 : 0;
                struct sup_input in = { .kind = (enum sup_input_kind)k, .status = (f & 16) ? EXIT(1) : 0,
                                        .stopping_all = f & 32, .in_setup = f & 1 };
                struct sup_step st;
                supervise_step(&c, &m, &in, &st);
                CHECK(m.state >= CS_WAITING && m.state <= CS_FAILED);
                CHECK(st.n < SUP_ACTIONS_MAX);
                if (st.n > longest)
                    longest = st.n;
                for (size_t i = 0; i < st.n; i++)
                    CHECK(strcmp(supervise_action_name(st.act[i]), "?") != 0);
                /* A refused request changes nothing. */
                if (st.refused)
                    CHECK(st.n == 0 && (int)m.state == s);
                /* Every exit ends with the release, and leaves no process state behind. */
                if (k == SUP_IN_EXIT) {
                    CHECK(st.n > 0 && st.act[st.n - 1] == SUP_DO_RELEASE);
                    CHECK(!supervise_state_active(m.state));
                }
            }
    CHECK(longest >= 8);
    for (int k = 0; k < SUP_IN_N; k++)
        CHECK(strcmp(supervise_input_name((enum sup_input_kind)k), "?") != 0);
    CHECK_STR(supervise_input_name(SUP_IN_N), "?");
    CHECK_STR(supervise_action_name(SUP_DO_N), "?");
    CHECK(supervise_state_active(CS_STARTING) && supervise_state_active(CS_STOPPING));
    CHECK(!supervise_state_active(CS_BACKOFF) && !supervise_state_active(CS_WAITING));
    CHECK(supervise_state_final(CS_EXITED) && supervise_state_final(CS_FAILED));
    CHECK(!supervise_state_final(CS_BACKOFF));
}

int main(void)
{
    RUN(waiting_starts_when_dependencies_are_met);
    RUN(start_timeout);
    RUN(start_failed);
    RUN(stops);
    RUN(exits_by_policy);
    RUN(on_unhealthy_restart_counts_as_failure);
    RUN(control_requests);
    RUN(whole_table);
    return unit_done();
}
