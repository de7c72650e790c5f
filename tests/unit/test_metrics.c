/* test_metrics.c — the pure pieces of the metrics endpoint (request
 * judging, label escaping, the exposition over a fake backend) and of the
 * syslog forwarder (the RFC 5424 header, the bounded queue). */
#include "keel/logship.h"
#include "keel/metrics.h"
#include "keel/proto.h"
#include "keel/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* --- a fake supervisor: two containers, web (running) and db (exited) ----- */

struct supervisor {
    int unused;
};
static struct supervisor S;
static struct cgroup_root CG = { .available = true };
static bool web_has_cpu;

static size_t f_count(const struct supervisor *s) { return 2; }

static void f_status(const struct supervisor *s, size_t i, struct container_status *st)
{
    memset(st, 0, sizeof *st);
    st->name = i == 0 ? "web" : "d\"b";
    st->state = i == 0 ? CS_RUNNING : CS_EXITED;
    st->health = i == 0 ? HS_HEALTHY : HS_NONE;
    st->restarts = i == 0 ? 3 : 0;
    st->oom_kills = i == 0 ? 1 : 0;
    st->state_ms = 1500;
}

/* web has memory figures (and cpu when asked); db has no cgroup now. */
static int f_stats(struct cgroup_root *root, const char *name, struct cgroup_stats *st, struct kerr *err)
{
    memset(st, 0, sizeof *st);
    if (strcmp(name, "web") != 0)
        return kerr_msg(err, ENOENT, "cannot open the cgroup of %s", name);
    st->has_memory = st->has_memory_max = st->has_memory_events = true;
    st->memory_current = 64ull << 20;
    st->memory_max = UINT64_MAX;
    st->memory_events.oom_kill = 1;
    st->has_cpu = web_has_cpu;
    st->cpu_usage_us = 2500000;
    return 0;
}

static struct control_backend BE = {
    .sup = &S, .cgroot = &CG, .count = f_count, .status = f_status, .stats = f_stats,
};

static char *render(void)
{
    struct json_writer w;
    json_writer_init(&w);
    static const struct log_stage_time stages[] = { { "keel start", 1000 }, { "manifest read", 2500000 } };
    struct metrics_keel k = { .uptime_ms = 4200, .control_accepted = 7, .stages = stages, .n_stages = 2 };
    metrics_render(&w, &BE, &k);
    CHECK(!json_writer_error(&w));
    char *s = strdup(w.buf ? w.buf : "");
    json_writer_free(&w);
    return s;
}

TEST(http_judge)
{
    bool head;
    static const struct { const char *req; int want; bool head; } cases[] = {
        { "GET /metrics HTTP/1.1\r\nHost: x\r\n", 200, false },
        { "GET /metrics?name[]=up HTTP/1.0\r\n", 200, false },
        { "HEAD /metrics HTTP/1.1\r\n", 200, true },
        { "GET /metrics HTTP/1.1\n", 200, false },
        { "POST /metrics HTTP/1.1\r\n", 405, false },
        { "DELETE / HTTP/1.1\r\n", 405, false },
        { "GET /metricsx HTTP/1.1\r\n", 404, false },
        { "GET / HTTP/1.1\r\n", 404, false },
        { "GET /metrics HTTP/2.0\r\n", 400, false },
        { "GET /metrics\r\n", 400, false },
        { "GET  HTTP/1.1\r\n", 400, false },
        { "\r\n", 400, false },
        { "", 400, false },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int got = metrics_http_judge(cases[i].req, strlen(cases[i].req), &head);
        if (got != cases[i].want || head != cases[i].head)
            printf("#   %s -> %d head=%d\n", cases[i].req, got, head);
        CHECK_INT(got, cases[i].want);
        CHECK(head == cases[i].head);
    }
}

/* The head's framing, piece by piece: a blank line cut between two reads
 * is found; a full buffer without one is 431, a blank line ending at its
 * last byte is not. */
TEST(head_framing)
{
    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t n = strlen(req);
    bool head;
    /* Every cut of the head in two: nothing before the blank line is whole. */
    for (size_t cut = 1; cut < n; cut++) {
        CHECK_INT(metrics_head_framed(req, 0, cut, 64, &head), 0);
        CHECK_INT(metrics_head_framed(req, cut, n, 64, &head), 200);
    }
    CHECK_INT(metrics_head_framed("GET /x HTTP/1.1\n\n", 16, 17, 64, &head), 404);
    CHECK_INT(metrics_head_framed("HEAD /metrics HTTP/1.1\n\n", 0, 24, 64, &head), 200);
    CHECK(head);
    /* The bound: full without a blank line, or with one as its last bytes. */
    CHECK_INT(metrics_head_framed("GET /metrics HTTP/1.1\r\nX: y", 0, 27, 27, &head), 431);
    CHECK_INT(metrics_head_framed("GET /metrics HTTP/1.1\r\nX: y", 0, 26, 27, &head), 0);
    CHECK_INT(metrics_head_framed("GET /metrics HTTP/1.1\r\n\r\n", 20, 25, 25, &head), 200);
}

TEST(label_escaping)
{
    struct json_writer w;
    json_writer_init(&w);
    metrics_label_value(&w, "a\\b\"c\nd");
    CHECK_STR(w.buf, "a\\\\b\\\"c\\nd");
    json_writer_free(&w);
}

TEST(exposition)
{
    web_has_cpu = false;
    char *s = render();
    CHECK(strstr(s, "# TYPE keel_info gauge\nkeel_info{version=\"") != NULL);
    CHECK(strstr(s, "\nkeel_uptime_seconds 4.200000\n") != NULL);
    CHECK(strstr(s, "\nkeel_boot_stage_seconds{stage=\"manifest read\"} 0.002500\n") != NULL);
    CHECK(strstr(s, "\nkeel_control_connections_accepted_total 7\n") != NULL);
    CHECK(strstr(s, "\nkeel_container_state{container=\"web\",state=\"running\"} 1\n") != NULL);
    CHECK(strstr(s, "\nkeel_container_state{container=\"web\",state=\"exited\"} 0\n") != NULL);
    /* The name is escaped in the label. */
    CHECK(strstr(s, "\nkeel_container_state{container=\"d\\\"b\",state=\"exited\"} 1\n") != NULL);
    CHECK(strstr(s, "\nkeel_container_restarts_total{container=\"web\"} 3\n") != NULL);
    CHECK(strstr(s, "\nkeel_container_health{container=\"web\",health=\"healthy\"} 1\n") != NULL);
    CHECK(strstr(s, "\nkeel_container_state_seconds{container=\"web\"} 1.500000\n") != NULL);
    CHECK(strstr(s, "\nkeel_container_memory_bytes{container=\"web\"} 67108864\n") != NULL);
    CHECK(strstr(s, "\nkeel_container_memory_max_bytes{container=\"web\"} +Inf\n") != NULL);
    CHECK(strstr(s, "\nkeel_container_memory_events_total{container=\"web\",event=\"oom_kill\"} 1\n") != NULL);
    /* Absent, not zero: db has no cgroup, web no cpu controller. */
    CHECK(strstr(s, "keel_container_memory_bytes{container=\"d") == NULL);
    CHECK(strstr(s, "keel_container_cpu_usage_seconds_total") == NULL);
    /* No syslog configured: no syslog family. */
    CHECK(strstr(s, "keel_syslog_") == NULL);
    /* Every family has its HELP and TYPE once, before its samples. */
    CHECK(strstr(s, "# HELP keel_container_memory_bytes ") != NULL);
    const char *t = strstr(s, "# TYPE keel_container_state gauge\n");
    CHECK(t && t < strstr(s, "keel_container_state{"));
    CHECK(strstr(t + 1, "# TYPE keel_container_state gauge\n") == NULL);
    free(s);

    web_has_cpu = true;   /* positive control: the cpu family appears with the controller */
    s = render();
    CHECK(strstr(s, "\nkeel_container_cpu_usage_seconds_total{container=\"web\"} 2.500000\n") != NULL);
    free(s);

    CG.available = false;   /* no cgroup2: no cgroup family at all */
    s = render();
    CHECK(strstr(s, "keel_container_memory") == NULL);
    CHECK(strstr(s, "keel_container_restarts_total{container=\"web\"} 3") != NULL);
    CG.available = true;
    free(s);
}

TEST(syslog_header)
{
    char buf[LOGSHIP_MSG_MAX];
    size_t n = logship_header(buf, sizeof buf, 14, 1700000000000123ull, "box", "web");
    CHECK_STR(buf, "<14>1 2023-11-14T22:13:20.000123Z box web - - - ");
    CHECK_INT((int)n, (int)strlen(buf));
    /* Spaces and controls would break the fields: replaced; empty: "-". */
    logship_header(buf, sizeof buf, 28, 0, "", "a b\n");
    CHECK_STR(buf, "<28>1 1970-01-01T00:00:00.000000Z - a_b_ - - - ");
    /* APP-NAME is at most 48 bytes. */
    logship_header(buf, sizeof buf, 30, 0, "h", "0123456789012345678901234567890123456789012345678901234");
    CHECK(strstr(buf, " 012345678901234567890123456789012345678901234567 - - - ") != NULL);
}

TEST(syslog_queue_bounded)
{
    struct logship_stats st;
    char line[1000];
    memset(line, 'x', sizeof line);
    CHECK_INT(logship_queue_init(), 0);
    for (int i = 0; i < 1000; i++)
        logship_add(LOGSHIP_FAC_USER, LOGSHIP_SEV_INFO, "c", line, sizeof line);
    logship_get_stats(&st);
    CHECK(st.queued == 1000);
    CHECK(st.dropped > 0);
    CHECK(st.pending + st.dropped == 1000);
    /* What stays fits in the queue's bytes. */
    CHECK(st.pending * sizeof line <= LOGSHIP_QUEUE_BYTES);
    CHECK(st.pending * (sizeof line + 64) >= LOGSHIP_QUEUE_BYTES - 2 * (sizeof line + 64));
    /* A line over the bound is cut, not refused. */
    char big[LOGSHIP_TEXT_MAX * 2];
    memset(big, 'y', sizeof big);
    logship_add(LOGSHIP_FAC_USER, LOGSHIP_SEV_INFO, "c", big, sizeof big);
    logship_get_stats(&st);
    CHECK(st.queued == 1001);
    logship_stop();
    logship_add(LOGSHIP_FAC_USER, LOGSHIP_SEV_INFO, "c", line, 10);   /* stopped: a no-op */
    logship_get_stats(&st);
    CHECK(st.queued == 1001);
}

TEST(inet_urls)
{
    struct proto_url u;
    struct kerr e = { 0 };
    CHECK_INT(proto_inet_url_parse("udp://10.0.0.1:514", true, "syslog", &u, &e), 0);
    CHECK(u.kind == PROTO_URL_UDP && u.port == 514);
    CHECK_INT(proto_inet_url_parse("tcp://[::1]:9100", false, "metrics", &u, &e), 0);
    CHECK(u.kind == PROTO_URL_TCP && u.family == AF_INET6);
    CHECK(proto_inet_url_parse("udp://10.0.0.1:514", false, "metrics", &u, &e) < 0);
    CHECK(strstr(e.msg, "bad metrics URL udp://10.0.0.1:514: expected tcp://IP:PORT") != NULL);
    CHECK(proto_inet_url_parse("tcp://logs.example:514", true, "syslog", &u, &e) < 0);
    CHECK(proto_inet_url_parse("tcp://10.0.0.1", true, "syslog", &u, &e) < 0);
    CHECK(proto_inet_url_parse("unix:///x", true, "syslog", &u, &e) < 0);
}

int main(void)
{
    RUN(http_judge);
    RUN(head_framing);
    RUN(label_escaping);
    RUN(exposition);
    RUN(syslog_header);
    RUN(syslog_queue_bounded);
    RUN(inet_urls);
    return unit_done();
}
