/* Unit tests of restart.c: policies and backoff. */
#include "keel/restart.h"
#include "unit.h"

#include <string.h>

static struct container_spec spec(enum restart_policy p, unsigned max)
{
    struct container_spec c;
    memset(&c, 0, sizeof c);
    c.restart = p;
    c.restart_max = max;
    c.restart_delay_ms = 100;
    c.restart_delay_max_ms = 30000;
    c.restart_reset_ms = 10000;
    return c;
}

#define EXIT(code) ((code) << 8)
#define SIGNALED(sig) (sig)

TEST(policies)
{
    struct restart_state st = { 0 };
    struct container_spec no = spec(RESTART_NO, 0), always = spec(RESTART_ALWAYS, 0);
    CHECK(!restart_wanted(&no, &st, EXIT(1)));
    CHECK(restart_wanted(&always, &st, EXIT(0)));
    CHECK(restart_wanted(&always, &st, SIGNALED(9)));
    struct container_spec of = spec(RESTART_ON_FAILURE, 2);
    st = (struct restart_state){ 0 };
    CHECK(!restart_wanted(&of, &st, EXIT(0)));
    CHECK(restart_wanted(&of, &st, EXIT(1)));
    CHECK(restart_wanted(&of, &st, SIGNALED(11)));
    CHECK(!restart_wanted(&of, &st, EXIT(1)));   /* the third failure exceeds MAX = 2 */
    struct container_spec unlimited = spec(RESTART_ON_FAILURE, 0);
    st = (struct restart_state){ 0 };
    for (int i = 0; i < 1000; i++)
        CHECK(restart_wanted(&unlimited, &st, EXIT(2)));
    CHECK(restart_is_failure(SIGNALED(15)));
    CHECK(!restart_is_failure(EXIT(0)));
}

TEST(backoff)
{
    struct container_spec c = spec(RESTART_ALWAYS, 0);
    struct restart_state st = { 0 };
    CHECK_INT(restart_next_delay(&c, &st, 5), 100);
    CHECK_INT(restart_next_delay(&c, &st, 5), 200);
    CHECK_INT(restart_next_delay(&c, &st, 5), 400);
    for (int i = 0; i < 20; i++)
        restart_next_delay(&c, &st, 5);
    CHECK_INT(st.delay_ms, 30000);           /* capped */
    CHECK_INT(restart_next_delay(&c, &st, 10000), 100);   /* a long run resets it */
    c.restart_delay_max_ms = 250;
    st = (struct restart_state){ 0 };
    CHECK_INT(restart_next_delay(&c, &st, 0), 100);
    CHECK_INT(restart_next_delay(&c, &st, 0), 200);
    CHECK_INT(restart_next_delay(&c, &st, 0), 250);
}

/* on_unhealthy = restart: restarted whatever `restart` says, until
 * on-failure:MAX failures (crashes and unhealthy stops together) are spent. */
TEST(unhealthy)
{
    struct restart_state st = { 0 };
    struct container_spec no = spec(RESTART_NO, 0), always = spec(RESTART_ALWAYS, 0);
    for (int i = 0; i < 5; i++) {
        CHECK(restart_after_unhealthy(&no, &st));
        CHECK(restart_after_unhealthy(&always, &st));
    }
    struct container_spec of = spec(RESTART_ON_FAILURE, 2);
    st = (struct restart_state){ 0 };
    CHECK(restart_wanted(&of, &st, EXIT(1)));      /* failure 1: a crash */
    CHECK(restart_after_unhealthy(&of, &st));     /* failure 2 */
    CHECK(!restart_after_unhealthy(&of, &st));    /* failure 3: spent */
    struct container_spec unlimited = spec(RESTART_ON_FAILURE, 0);
    st = (struct restart_state){ 0 };
    for (int i = 0; i < 5; i++)
        CHECK(restart_after_unhealthy(&unlimited, &st));
}

int main(void)
{
    RUN(policies);
    RUN(backoff);
    RUN(unhealthy);
    return unit_done();
}
