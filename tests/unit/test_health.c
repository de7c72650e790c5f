/* Unit tests of health.c: the counting rules of health_record (retries,
 * start period, recovery), the sd_notify READY=1 parser, and struct
 * health_check running tcp checks in a loop against a loopback listener
 * (network = host: keel's own namespace) and reporting reaped command checks. */
#include "keel/health.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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
    /* A CR separates as a newline does (systemd's reader splits on both). */
    CHECK(health_notify_says_ready("READY=1\r\n", 9));
    CHECK(health_notify_says_ready("STATUS=up\rREADY=1", 17));
    CHECK(!health_notify_says_ready("READY=1x\r", 9));
}

/* What the owner of a health_check sees. */
struct owner {
    int results, passed;
    char why[256];
    pid_t watched;
};

static int no_cgroup(void *data)
{
    return -1;
}

static int watch(pid_t pid, void *data)
{
    ((struct owner *)data)->watched = pid;
    return 0;
}

static void result(bool ok, const char *why, void *data)
{
    struct owner *o = data;
    o->results++;
    o->passed += ok;
    snprintf(o->why, sizeof o->why, "%s", why);
}

static const struct health_ops ops = { .cgroup_fd = no_cgroup, .watch = watch, .result = result };

/* Turns the loop until the owner got `want` results (bounded). */
static void run_until(struct loop *l, const struct owner *o, int want)
{
    struct kerr err = { 0 };
    for (int i = 0; i < 200 && o->results < want; i++)
        loop_run_once(l, &err);
}

static void set_flag(struct loop *l, void *data)
{
    *(bool *)data = true;
}

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

TEST(tcp_check_in_the_loop)
{
    struct loop *l = NULL;
    struct kerr err = { 0 };
    CHECK_INT(loop_new(&l, &err), 0);
    if (!l)
        return;
    uint16_t port = 0;
    int lfd = listener(&port);
    CHECK(lfd >= 0);
    struct container_spec c;
    memset(&c, 0, sizeof c);
    c.name = "web";
    c.health = HEALTH_TCP;
    c.health_port = port;
    c.health_timeout_ms = 60000;   /* a bound, never reached on loopback */
    c.net = NET_HOST;
    struct container_ns ns;
    container_ns_init(&ns);
    struct owner o = { 0 };
    struct health_check h;
    health_check_init(&h, l, &c, &ns, NULL, &ops, &o);

    /* A listener: the check passes and the check is idle again. */
    health_check_arm(&h, 0);
    CHECK(h.timer > 0);
    int64_t pending = h.timer;
    health_check_arm(&h, 0);          /* one at a time: no second timer */
    CHECK(h.timer == pending);
    run_until(l, &o, 1);
    CHECK_INT(o.results, 1);
    CHECK_INT(o.passed, 1);
    CHECK(h.timer == 0 && h.fd == -1 && h.pid == 0);

    /* Nothing listens any more: the check fails, saying why. */
    close(lfd);
    health_check_arm(&h, 0);
    run_until(l, &o, 2);
    CHECK_INT(o.results, 2);
    CHECK_INT(o.passed, 1);
    CHECK(strstr(o.why, "refused") != NULL);
    CHECK(h.timer == 0 && h.fd == -1);

    /* A stopped check reports nothing. */
    health_check_arm(&h, 0);
    health_check_stop(&h);
    CHECK(h.timer == 0);
    /* The loop turns past when the check was due: still no result. */
    bool fired = false;
    CHECK(loop_add_timer(l, 20, set_flag, &fired) > 0);
    for (int i = 0; i < 50 && !fired; i++)
        loop_run_once(l, &err);
    CHECK(fired);
    CHECK_INT(o.results, 2);

    /* Without a health key nothing is armed. */
    c.health = HEALTH_NONE;
    health_check_arm(&h, 0);
    CHECK(h.timer == 0);
    loop_free(l);
}

/* A command check's process is reaped by the owner; only the running check's
 * pid counts, and its status is the result. */
TEST(reaped_command_check)
{
    struct loop *l = NULL;
    struct kerr err = { 0 };
    CHECK_INT(loop_new(&l, &err), 0);
    if (!l)
        return;
    struct container_spec c;
    memset(&c, 0, sizeof c);
    c.health = HEALTH_CMD;
    struct container_ns ns;
    container_ns_init(&ns);
    struct owner o = { 0 };
    struct health_check h;
    health_check_init(&h, l, &c, &ns, NULL, &ops, &o);
    h.pid = 4242;                     /* as if run() had started it */
    health_check_reaped(&h, 4243, 0);
    CHECK_INT(o.results, 0);
    health_check_reaped(&h, 4242, 1 << 8);
    CHECK_INT(o.results, 1);
    CHECK_INT(o.passed, 0);
    CHECK_STR(o.why, "exited with status 1");
    CHECK_INT(h.pid, 0);
    health_check_reaped(&h, 4242, 0); /* reaped again (a stale report): ignored */
    CHECK_INT(o.results, 1);
    h.pid = 4242;
    health_check_reaped(&h, 4242, 0);
    CHECK_INT(o.passed, 1);
    h.pid = 4242;
    health_check_reaped(&h, 4242, SIGKILL);
    CHECK_STR(o.why, "killed by signal SIGKILL");
    /* pid 0 is never a check. */
    health_check_reaped(&h, 0, 0);
    CHECK_INT(o.results, 3);
    loop_free(l);
}

int main(void)
{
    RUN(retries);
    RUN(start_period);
    RUN(notify_parser);
    RUN(tcp_check_in_the_loop);
    RUN(reaped_command_check);
    return unit_done();
}
