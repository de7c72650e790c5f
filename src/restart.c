/* restart.c — restart policy and backoff, see restart.h. */
#include "keel/restart.h"

#include <stdio.h>
#include <sys/wait.h>

#include "keel/parse.h"

bool restart_is_failure(int wait_status)
{
    return !(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
}

void restart_describe_exit(int wait_status, char *buf, size_t n)
{
    if (WIFEXITED(wait_status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(wait_status));
    else if (WIFSIGNALED(wait_status))
        snprintf(buf, n, "killed by signal %s", signal_name(WTERMSIG(wait_status)));
    else
        snprintf(buf, n, "ended (wait status 0x%x)", (unsigned)wait_status);
}

bool restart_wanted(const struct container_spec *c, struct restart_state *st, int wait_status)
{
    bool failed = restart_is_failure(wait_status);
    switch (c->restart) {
    case RESTART_NO:
        return false;
    case RESTART_ALWAYS:
        return true;
    case RESTART_ON_FAILURE:
        if (!failed)
            return false;
        st->failures++;
        return c->restart_max == 0 || st->failures <= c->restart_max;
    }
    return false;
}

bool restart_after_unhealthy(const struct container_spec *c, struct restart_state *st)
{
    st->failures++;
    return c->restart != RESTART_ON_FAILURE || c->restart_max == 0 || st->failures <= c->restart_max;
}

uint64_t restart_next_delay(const struct container_spec *c, struct restart_state *st, uint64_t run_ms)
{
    if (st->delay_ms == 0 || run_ms >= c->restart_reset_ms)
        st->delay_ms = c->restart_delay_ms;
    else if (st->delay_ms >= c->restart_delay_max_ms / 2)
        st->delay_ms = c->restart_delay_max_ms;
    else
        st->delay_ms *= 2;
    if (st->delay_ms > c->restart_delay_max_ms)
        st->delay_ms = c->restart_delay_max_ms;
    return st->delay_ms;
}
