/* Unit tests of health.c's pure parts: the counting rules of health_record
 * (retries, start period, recovery) and the sd_notify READY=1 parser. */
#include "keel/health.h"
#include "unit.h"

#include <string.h>

static struct container_spec spec(unsigned retries, uint64_t start_period_ms)
{
    struct container_spec c;
    memset(&c, 0, sizeof c);
    c.health = HEALTH_CMD;
    c.health_retries = retries;
    c.health_start_period_ms = start_period_ms;
    return c;
}

TEST(retries)
{
    struct container_spec c = spec(3, 0);
    struct health_counter h = { HS_STARTING, 0 };
    CHECK(!health_record(&c, &h, false, 100));
    CHECK(!health_record(&c, &h, false, 200));
    CHECK_INT(h.state, HS_STARTING);
    CHECK(health_record(&c, &h, false, 300));     /* the third failure */
    CHECK_INT(h.state, HS_UNHEALTHY);
    CHECK_INT(h.failures, 3);
    CHECK(!health_record(&c, &h, false, 400));    /* stays unhealthy: no new transition */
    CHECK(health_record(&c, &h, true, 500));      /* one success recovers */
    CHECK_INT(h.state, HS_HEALTHY);
    CHECK_INT(h.failures, 0);
    CHECK(!health_record(&c, &h, false, 600));    /* failures start counting again */
    CHECK(!health_record(&c, &h, true, 700));     /* a success in between resets the count */
    CHECK(!health_record(&c, &h, false, 800));
    CHECK(!health_record(&c, &h, false, 900));
    CHECK_INT(h.state, HS_HEALTHY);
    CHECK(health_record(&c, &h, false, 1000));
    CHECK_INT(h.state, HS_UNHEALTHY);
}

TEST(start_period)
{
    struct container_spec c = spec(1, 2000);
    struct health_counter h = { HS_STARTING, 0 };
    for (uint64_t t = 0; t < 2000; t += 100)
        CHECK(!health_record(&c, &h, false, t));  /* not counted while starting */
    CHECK_INT(h.state, HS_STARTING);
    CHECK_INT(h.failures, 0);
    CHECK(health_record(&c, &h, false, 2000));    /* the period is over */
    CHECK_INT(h.state, HS_UNHEALTHY);

    /* Once healthy, the start period no longer shields a failure. */
    h = (struct health_counter){ HS_STARTING, 0 };
    CHECK(health_record(&c, &h, true, 100));
    CHECK_INT(h.state, HS_HEALTHY);
    CHECK(health_record(&c, &h, false, 200));
    CHECK_INT(h.state, HS_UNHEALTHY);
}

TEST(notify_parser)
{
    CHECK(health_notify_says_ready("READY=1", 7));
    CHECK(health_notify_says_ready("STATUS=up\nREADY=1\n", 18));
    CHECK(health_notify_says_ready("READY=1\nMAINPID=5", 17));
    CHECK(!health_notify_says_ready("READY=0", 7));
    CHECK(!health_notify_says_ready("READY=10", 8));
    CHECK(!health_notify_says_ready("XREADY=1", 8));
    CHECK(!health_notify_says_ready("STATUS=READY=1", 14));
    CHECK(!health_notify_says_ready("", 0));
    CHECK(!health_notify_says_ready("READY=1", 6));   /* the length is honoured, not a NUL */
}

int main(void)
{
    RUN(retries);
    RUN(start_period);
    RUN(notify_parser);
    return unit_done();
}
