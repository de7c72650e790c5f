/* metrics.c — the metrics endpoint of metrics.h: the exposition text
 * (metrics_render, pure over the backend), then the HTTP side.
 */
#include "keel/metrics.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keel/peer.h"
#include "keel/proto.h"
#include "keel/util.h"

#define ACCEPT_BUDGET 16        /* accepts per listener event */
#define DRAIN_MAX 65536         /* bytes read and dropped after the response */

/* --- the exposition text ----------------------------------------------------------- */

static void out(struct json_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct json_writer *w, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        json_raw(w, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void metrics_label_value(struct json_writer *w, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '\\')
            json_raw(w, "\\\\", 2);
        else if (*p == '"')
            json_raw(w, "\\\"", 2);
        else if (*p == '\n')
            json_raw(w, "\\n", 2);
        else
            json_raw(w, p, 1);
    }
}

static void family(struct json_writer *w, const char *name, const char *type, const char *help)
{
    out(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{container="C"[,k="v"]} */
static void sample_start(struct json_writer *w, const char *name, const char *ctr, const char *k, const char *v)
{
    out(w, "%s{container=\"", name);
    metrics_label_value(w, ctr);
    json_raw(w, "\"", 1);
    if (k) {
        out(w, ",%s=\"", k);
        metrics_label_value(w, v);
        json_raw(w, "\"", 1);
    }
    json_raw(w, "} ", 2);
}

static void value_u64(struct json_writer *w, uint64_t v)
{
    if (v == UINT64_MAX)
        out(w, "+Inf\n");
    else
        out(w, "%" PRIu64 "\n", v);
}

static void value_us(struct json_writer *w, uint64_t us)
{
    out(w, "%" PRIu64 ".%06" PRIu64 "\n", us / 1000000u, us % 1000000u);
}

struct ctr_fig {
    struct container_status st;
    struct cgroup_stats cg;
    bool has_cg;
};

/* The cgroup figures of one value each: a family is present only for the
 * containers whose cgroup has the file (absent, not zero, where the
 * controller is missing). */
#define CG(field) offsetof(struct cgroup_stats, field)
static const struct cg_family {
    const char *name, *type, *help;
    size_t has, value;       /* offsets of the bool and the uint64_t */
    bool us;                 /* microseconds, written as seconds */
} cg_families[] = {
    { "keel_container_cpu_usage_seconds_total", "counter", "CPU time used (cpu.stat usage_usec).",
      CG(has_cpu), CG(cpu_usage_us), true },
    { "keel_container_cpu_user_seconds_total", "counter", "CPU time in user mode (cpu.stat user_usec).",
      CG(has_cpu), CG(cpu_user_us), true },
    { "keel_container_cpu_system_seconds_total", "counter", "CPU time in kernel mode (cpu.stat system_usec).",
      CG(has_cpu), CG(cpu_system_us), true },
    { "keel_container_cpu_periods_total", "counter", "Enforcement periods of a cpu limit (cpu.stat nr_periods).",
      CG(has_cpu), CG(cpu_nr_periods), false },
    { "keel_container_cpu_throttled_periods_total", "counter",
      "Periods in which the container was throttled (cpu.stat nr_throttled).", CG(has_cpu), CG(cpu_nr_throttled),
      false },
    { "keel_container_cpu_throttled_seconds_total", "counter",
      "Time the container was throttled (cpu.stat throttled_usec).", CG(has_cpu), CG(cpu_throttled_us), true },
    { "keel_container_memory_bytes", "gauge", "Memory in use (memory.current).", CG(has_memory),
      CG(memory_current), false },
    { "keel_container_memory_peak_bytes", "gauge", "Most memory in use so far (memory.peak).", CG(has_memory_peak),
      CG(memory_peak), false },
    { "keel_container_memory_max_bytes", "gauge", "Memory limit (memory.max; +Inf: none).", CG(has_memory_max),
      CG(memory_max), false },
    { "keel_container_pids", "gauge", "Tasks in the container (pids.current).", CG(has_pids), CG(pids_current),
      false },
    { "keel_container_pids_max", "gauge", "Task limit (pids.max; +Inf: none).", CG(has_pids_max), CG(pids_max),
      false },
    { "keel_container_io_read_bytes_total", "counter", "Bytes read from block devices (io.stat rbytes).",
      CG(has_io), CG(io_rbytes), false },
    { "keel_container_io_write_bytes_total", "counter", "Bytes written to block devices (io.stat wbytes).",
      CG(has_io), CG(io_wbytes), false },
    { "keel_container_io_reads_total", "counter", "Read operations on block devices (io.stat rios).", CG(has_io),
      CG(io_rios), false },
    { "keel_container_io_writes_total", "counter", "Write operations on block devices (io.stat wios).", CG(has_io),
      CG(io_wios), false },
};
#undef CG

static void render_cgroups(struct json_writer *w, const struct ctr_fig *f, size_t n)
{
    for (size_t k = 0; k < ARRAY_SIZE(cg_families); k++) {
        const struct cg_family *fam = &cg_families[k];
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            const char *cg = (const char *)&f[i].cg;
            bool has;
            uint64_t v;
            memcpy(&has, cg + fam->has, sizeof has);
            memcpy(&v, cg + fam->value, sizeof v);
            if (!f[i].has_cg || !has)
                continue;
            if (!any)
                family(w, fam->name, fam->type, fam->help);
            any = true;
            sample_start(w, fam->name, f[i].st.name, NULL, NULL);
            if (fam->us)
                value_us(w, v);
            else
                value_u64(w, v);
        }
    }

    static const char *const events[] = { "low", "high", "max", "oom", "oom_kill", "oom_group_kill" };
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        const struct cgroup_events *ev = &f[i].cg.memory_events;
        if (!f[i].has_cg || !f[i].cg.has_memory_events)
            continue;
        if (!any)
            family(w, "keel_container_memory_events_total", "counter",
                   "Memory events of the cgroup (memory.events): limits hit, OOM kills.");
        any = true;
        const uint64_t v[] = { ev->low, ev->high, ev->max, ev->oom, ev->oom_kill, ev->oom_group_kill };
        for (size_t k = 0; k < ARRAY_SIZE(events); k++) {
            sample_start(w, "keel_container_memory_events_total", f[i].st.name, "event", events[k]);
            value_u64(w, v[k]);
        }
    }

    any = false;
    for (size_t i = 0; i < n; i++) {
        const struct cgroup_stats *cg = &f[i].cg;
        if (!f[i].has_cg || !cg->has_psi)
            continue;
        if (!any)
            family(w, "keel_container_pressure_seconds_total", "counter",
                   "Pressure stall time (cpu/memory/io.pressure total): some or all tasks stalled.");
        any = true;
        const struct { const char *res, *kind; const struct cgroup_pressure *p; } psi[] = {
            { "cpu", "some", &cg->cpu_some }, { "cpu", "full", &cg->cpu_full },
            { "memory", "some", &cg->memory_some }, { "memory", "full", &cg->memory_full },
            { "io", "some", &cg->io_some }, { "io", "full", &cg->io_full },
        };
        for (size_t k = 0; k < ARRAY_SIZE(psi); k++) {
            out(w, "keel_container_pressure_seconds_total{container=\"");
            metrics_label_value(w, f[i].st.name);
            out(w, "\",resource=\"%s\",kind=\"%s\"} ", psi[k].res, psi[k].kind);
            value_us(w, psi[k].p->total_us);
        }
    }
}

static void render_containers(struct json_writer *w, const struct ctr_fig *f, size_t n)
{
    static const enum container_state states[] = { CS_WAITING, CS_STARTING, CS_RUNNING, CS_STOPPING,
                                                    CS_BACKOFF, CS_EXITED, CS_STOPPED, CS_FAILED };
    static const enum health_state healths[] = { HS_NONE, HS_STARTING, HS_HEALTHY, HS_UNHEALTHY };
    if (!n)
        return;
    family(w, "keel_container_state", "gauge", "1 for the state the container is in, 0 for the others.");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ARRAY_SIZE(states); k++) {
            sample_start(w, "keel_container_state", f[i].st.name, "state", container_state_name(states[k]));
            out(w, "%d\n", f[i].st.state == states[k]);
        }
    family(w, "keel_container_state_seconds", "gauge", "Time the container has been in its current state.");
    for (size_t i = 0; i < n; i++) {
        sample_start(w, "keel_container_state_seconds", f[i].st.name, NULL, NULL);
        value_us(w, f[i].st.state_ms * 1000u);
    }
    family(w, "keel_container_restarts_total", "counter", "Restarts by the container's restart policy.");
    for (size_t i = 0; i < n; i++) {
        sample_start(w, "keel_container_restarts_total", f[i].st.name, NULL, NULL);
        value_u64(w, f[i].st.restarts);
    }
    family(w, "keel_container_oom_kills_total", "counter", "Processes of the container killed by the OOM killer.");
    for (size_t i = 0; i < n; i++) {
        sample_start(w, "keel_container_oom_kills_total", f[i].st.name, NULL, NULL);
        value_u64(w, f[i].st.oom_kills);
    }
    family(w, "keel_container_health", "gauge", "1 for the container's health state, 0 for the others.");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ARRAY_SIZE(healths); k++) {
            sample_start(w, "keel_container_health", f[i].st.name, "health", health_state_name(healths[k]));
            out(w, "%d\n", f[i].st.health == healths[k]);
        }
    family(w, "keel_container_ready", "gauge", "1 when the container is ready (its readiness rule is met).");
    for (size_t i = 0; i < n; i++) {
        sample_start(w, "keel_container_ready", f[i].st.name, NULL, NULL);
        out(w, "%d\n", f[i].st.ready);
    }
}

static void counter(struct json_writer *w, const char *name, const char *help, uint64_t v)
{
    family(w, name, "counter", help);
    out(w, "%s %" PRIu64 "\n", name, v);
}

static void render_keel(struct json_writer *w, const struct metrics_keel *k)
{
    family(w, "keel_info", "gauge", "keel's version (the value is always 1).");
    json_raw(w, "keel_info{version=\"", 19);
    metrics_label_value(w, KEEL_VERSION);
    json_raw(w, "\"} 1\n", 5);
    family(w, "keel_uptime_seconds", "gauge", "Time since keel started.");
    out(w, "keel_uptime_seconds ");
    value_us(w, k->uptime_ms * 1000u);
    if (k->n_stages) {
        family(w, "keel_boot_stage_seconds", "gauge", "Time from keel's start to each stage of its start-up.");
        for (size_t i = 0; i < k->n_stages; i++) {
            json_raw(w, "keel_boot_stage_seconds{stage=\"", 31);
            metrics_label_value(w, k->stages[i].name);
            json_raw(w, "\"} ", 3);
            value_us(w, k->stages[i].since_ns / 1000u);
        }
    }
    counter(w, "keel_control_connections_accepted_total", "Control connections accepted.", k->control_accepted);
    counter(w, "keel_control_connections_refused_total",
            "Control connections refused at once (credentials, limits, out of descriptors).", k->control_refused);
    counter(w, "keel_metrics_connections_accepted_total", "Metrics connections accepted.", k->metrics_accepted);
    counter(w, "keel_metrics_connections_refused_total", "Metrics connections refused at once (per-source limit).",
            k->metrics_refused);
    if (k->syslog.enabled) {
        counter(w, "keel_syslog_messages_queued_total", "Messages taken into the syslog queue.", k->syslog.queued);
        counter(w, "keel_syslog_messages_sent_total", "Messages sent to the syslog collector.", k->syslog.sent);
        counter(w, "keel_syslog_messages_dropped_total", "Messages dropped because the syslog queue was full.",
                k->syslog.dropped);
        family(w, "keel_syslog_queue_messages", "gauge", "Messages waiting in the syslog queue.");
        out(w, "keel_syslog_queue_messages %" PRIu64 "\n", k->syslog.pending);
        family(w, "keel_syslog_connected", "gauge", "1 while the syslog socket is connected and writable.");
        out(w, "keel_syslog_connected %d\n", k->syslog.connected);
    }
}

void metrics_render(struct json_writer *w, const struct control_backend *be, const struct metrics_keel *k)
{
    size_t n = be->count(be->sup);
    struct ctr_fig *f = n ? calloc(n, sizeof *f) : NULL;
    if (n && !f) {
        n = 0;   /* keel's own figures still go out */
    }
    for (size_t i = 0; i < n; i++) {
        be->status(be->sup, i, &f[i].st);
        struct kerr e = { 0 };
        /* A container without a cgroup now (never started, gone, no
         * cgroup2) has no cgroup figures at all. */
        f[i].has_cg = be->stats && be->cgroot && be->cgroot->available && f[i].st.name &&
                      be->stats(be->cgroot, f[i].st.cgroup ? f[i].st.cgroup : f[i].st.name, &f[i].cg, &e) == 0;
    }
    render_keel(w, k);
    render_containers(w, f, n);
    render_cgroups(w, f, n);
    free(f);
}

/* --- HTTP -------------------------------------------------------------------------- */

int metrics_head_framed(const char *in, size_t seen, size_t len, size_t cap, bool *head)
{
    /* A blank line may have begun in the bytes already seen. */
    size_t from = seen > 3 ? seen - 3 : 0;
    if (memmem(in + from, len - from, "\r\n\r\n", 4) || memmem(in + from, len - from, "\n\n", 2))
        return metrics_http_judge(in, len, head);
    return len == cap ? 431 : 0;
}

int metrics_http_judge(const char *req, size_t len, bool *head)
{
    *head = false;
    const char *eol = memchr(req, '\n', len);
    size_t l = eol ? (size_t)(eol - req) : len;
    if (l && req[l - 1] == '\r')
        l--;
    /* METHOD SP TARGET SP HTTP/1.x */
    const char *sp1 = memchr(req, ' ', l);
    if (!sp1)
        return 400;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', l - (size_t)(target - req));
    if (!sp2 || sp2 == target)
        return 400;
    size_t vlen = l - (size_t)(sp2 + 1 - req);
    if (vlen != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
        return 400;
    size_t mlen = (size_t)(sp1 - req);
    bool get = mlen == 3 && memcmp(req, "GET", 3) == 0;
    *head = mlen == 4 && memcmp(req, "HEAD", 4) == 0;
    if (!get && !*head)
        return 405;
    size_t tlen = (size_t)(sp2 - target);
    const char *q = memchr(target, '?', tlen);
    if (q)
        tlen = (size_t)(q - target);
    if (tlen != 8 || memcmp(target, "/metrics", 8) != 0)
        return 404;
    return 200;
}

struct mconn {
    struct metrics *m;
    struct mconn *next, *prev;
    int fd;
    struct peer_key key;
    char peer[64];
    char in[METRICS_HEAD_MAX];
    size_t in_len;
    struct json_writer out;
    size_t out_off;
    bool responded;          /* the response is queued: only draining follows */
    bool wr_closed;
    size_t drained;
    uint32_t events;
    int64_t timer;
    bool dead;
};

struct metrics {
    struct loop *loop;
    struct control_backend be;
    metrics_keel_fn keel;
    void *keel_data;
    struct metrics_opts opts;
    int fd;
    char url[128];
    bool paused;
    int64_t retry_timer, reap_timer;
    struct mconn *conns, *dead;
    size_t n_conns;
    uint64_t accepted, refused;
    struct peer_refusals refusals;
};

static void reap(struct loop *l, void *data)
{
    struct metrics *m = data;
    m->reap_timer = 0;
    while (m->dead) {
        struct mconn *c = m->dead;
        m->dead = c->next;
        json_writer_free(&c->out);
        free(c);
    }
}

static void listener_set(struct metrics *m, bool on)
{
    if (m->paused == !on)
        return;
    if (loop_mod_fd(m->loop, m->fd, on ? EPOLLIN : 0) == 0)
        m->paused = !on;
}

/* Closes now and frees from a zero-delay timer: callers up the stack may
 * still hold the pointer. */
static void conn_kill(struct mconn *c)
{
    struct metrics *m = c->m;
    if (c->dead)
        return;
    c->dead = true;
    if (c->timer > 0)
        loop_cancel_timer(m->loop, c->timer);
    loop_del_fd(m->loop, c->fd);
    close_safe(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    m->n_conns--;
    c->next = m->dead;
    m->dead = c;
    if (!m->reap_timer) {
        int64_t id = loop_add_timer(m->loop, 0, reap, m);
        m->reap_timer = id > 0 ? id : 0;
    }
    if (!m->retry_timer)
        listener_set(m, true);
}

static void conn_events(struct mconn *c, uint32_t ev)
{
    if (!c->dead && ev != c->events) {
        if (loop_mod_fd(c->m->loop, c->fd, ev) < 0) {
            conn_kill(c);
            return;
        }
        c->events = ev;
    }
}

static void respond(struct mconn *c, int status)
{
    static const struct { int code; const char *text; } reasons[] = {
        { 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
        { 431, "Request Header Fields Too Large" },
    };
    const char *reason = "Error";
    for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
        if (reasons[i].code == status)
            reason = reasons[i].text;
    bool head = false;
    struct json_writer body;
    json_writer_init(&body);
    if (status == 200) {
        (void)metrics_http_judge(c->in, c->in_len, &head);
        struct metrics_keel k;
        memset(&k, 0, sizeof k);
        if (c->m->keel)
            c->m->keel(c->m->keel_data, &k);
        k.metrics_accepted = c->m->accepted;
        k.metrics_refused = c->m->refused;
        metrics_render(&body, &c->m->be, &k);
    } else {
        out(&body, "%d %s\n", status, reason);
    }
    out(&c->out, "HTTP/1.1 %d %s\r\n", status, reason);
    if (status == 405)
        out(&c->out, "Allow: GET, HEAD\r\n");
    out(&c->out, "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
        status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8", body.len);
    if (!head && body.len)
        json_raw(&c->out, body.buf, body.len);
    json_writer_free(&body);
    c->responded = true;
}

/* Sends what the socket takes; once all is out, half-closes and reads the
 * rest of the request to its end (a close with unread bytes would be a
 * reset, which can discard the response before the client reads it). */
static void conn_flush(struct mconn *c)
{
    if (json_writer_error(&c->out)) {
        conn_kill(c);
        return;
    }
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.buf + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            conn_events(c, EPOLLOUT);
            return;
        }
        if (n <= 0) {
            conn_kill(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    if (!c->wr_closed) {
        c->wr_closed = true;
        if (shutdown(c->fd, SHUT_WR) < 0) {
            conn_kill(c);
            return;
        }
    }
    conn_events(c, EPOLLIN);
}

static void conn_read(struct mconn *c)
{
    for (;;) {
        char sink[4096];
        bool draining = c->responded;
        char *dst = draining ? sink : c->in + c->in_len;
        size_t room = draining ? sizeof sink : sizeof c->in - c->in_len;
        ssize_t n = recv(c->fd, dst, room, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            if (draining || n < 0 || !c->in_len) {
                conn_kill(c);   /* the client's end: done */
                return;
            }
            /* End of stream before the blank line: not a whole request. */
            respond(c, 400);
            conn_flush(c);
            return;
        }
        if (draining) {
            c->drained += (size_t)n;
            if (c->drained > DRAIN_MAX) {
                conn_kill(c);
                return;
            }
            continue;
        }
        size_t seen = c->in_len;
        c->in_len += (size_t)n;
        bool head;
        int status = metrics_head_framed(c->in, seen, c->in_len, sizeof c->in, &head);
        if (status) {
            respond(c, status);
            conn_flush(c);
            return;
        }
    }
}

static void conn_event(struct loop *l, int fd, uint32_t events, void *data)
{
    struct mconn *c = data;
    if (c->dead)
        return;
    if ((events & EPOLLOUT) && c->responded)
        conn_flush(c);
    if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        conn_read(c);
}

static void deadline(struct loop *l, void *data)
{
    struct mconn *c = data;
    c->timer = 0;
    conn_kill(c);
}

static size_t conns_from(const struct metrics *m, const struct peer_key *k)
{
    size_t n = 0;
    for (const struct mconn *c = m->conns; c; c = c->next)
        if (peer_key_eq(&c->key, k))
            n++;
    return n;
}

static void retry(struct loop *l, void *data)
{
    struct metrics *m = data;
    m->retry_timer = 0;
    listener_set(m, true);
}

static void listener_event(struct loop *l, int fd, uint32_t events, void *data)
{
    struct metrics *m = data;
    for (unsigned budget = ACCEPT_BUDGET; budget; budget--) {
        if (m->n_conns >= m->opts.max_clients) {
            listener_set(m, false);   /* the rest wait in the backlog */
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof ss;
        memset(&ss, 0, sizeof ss);
        int cfd = accept4(m->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno != EAGAIN) {
                /* Out of fds or memory: pause rather than spin. */
                struct peer_key none = { .family = -1 };
                peer_refusal_log(&m->refusals, &none, "metrics: cannot take a new client on %s: %s; trying again",
                                 m->url, strerror(errno));
                listener_set(m, false);
                if (!m->retry_timer) {
                    int64_t id = loop_add_timer(m->loop, 200, retry, m);
                    m->retry_timer = id > 0 ? id : 0;
                }
            }
            return;
        }
        struct peer_key key;
        char peer[64];
        peer_key_of(&ss, &key);
        peer_name(&ss, ss.ss_family, peer, sizeof peer);
        if (conns_from(m, &key) >= m->opts.max_per_peer) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                       "Connection: close\r\n\r\n";
            m->refused++;
            if (send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                /* refused either way */
            }
            close_safe(cfd);
            peer_refusal_log(&m->refusals, &key, "metrics: refused client %s on %s: %u connections from it already",
                             peer, m->url, m->opts.max_per_peer);
            continue;
        }
        struct mconn *c = calloc(1, sizeof *c);
        if (!c) {
            close_safe(cfd);
            return;
        }
        c->m = m;
        c->fd = cfd;
        c->key = key;
        memcpy(c->peer, peer, sizeof c->peer);
        json_writer_init(&c->out);
        if (loop_add_fd(m->loop, cfd, EPOLLIN, conn_event, c) < 0) {
            close_safe(cfd);
            free(c);
            return;
        }
        c->events = EPOLLIN;
        c->next = m->conns;
        if (m->conns)
            m->conns->prev = c;
        m->conns = c;
        m->n_conns++;
        m->accepted++;
        /* Absolute: the request, the response and the drain all within it. */
        int64_t id = loop_add_timer(m->loop, m->opts.deadline_ms, deadline, c);
        c->timer = id > 0 ? id : 0;
    }
}

int metrics_new(struct metrics **outp, struct loop *l, const char *url, const struct control_backend *be,
                metrics_keel_fn keel, void *keel_data, const struct metrics_opts *opts, struct kerr *err)
{
    *outp = NULL;
    struct proto_url u;
    int r = proto_inet_url_parse(url, false, "metrics", &u, err);
    if (r < 0)
        return r;
    struct metrics *m = calloc(1, sizeof *m);
    if (!m)
        return kerr_set(err, ENOMEM, "cannot serve metrics on %s", url);
    m->loop = l;
    m->be = *be;
    m->keel = keel;
    m->keel_data = keel_data;
    m->opts = (struct metrics_opts){ .max_clients = 16, .max_per_peer = 4, .deadline_ms = 10000 };
    if (opts) {
        if (opts->max_clients)
            m->opts.max_clients = opts->max_clients;
        if (opts->max_per_peer)
            m->opts.max_per_peer = opts->max_per_peer;
        if (opts->deadline_ms)
            m->opts.deadline_ms = opts->deadline_ms;
    }
    m->refusals.rl.interval_ms = 1000;
    m->refusals.rl.burst = 10;
    snprintf(m->url, sizeof m->url, "%s", url);
    m->fd = socket(u.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m->fd < 0) {
        r = kerr_set(err, errno, "cannot serve metrics on %s", url);
        free(m);
        return r;
    }
    int one = 1;
    if (setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        /* only a faster rebind after a restart is lost */
    }
    /* The address may come later (DHCP, an interface still coming up):
     * bound all the same, the endpoint answers once the address exists. */
    if (setsockopt(m->fd, SOL_IP, IP_FREEBIND, &one, sizeof one) < 0) {
        /* without it, binding an absent address fails below and says so */
    }
    struct sockaddr_storage ss;
    socklen_t len = proto_url_sockaddr(&u, &ss);
    if (bind(m->fd, (struct sockaddr *)&ss, len) < 0 || listen(m->fd, 64) < 0) {
        r = kerr_set(err, errno, "cannot serve metrics on %s", url);
        close_safe(m->fd);
        free(m);
        return r;
    }
    if ((r = loop_add_fd(l, m->fd, EPOLLIN, listener_event, m)) < 0) {
        close_safe(m->fd);
        free(m);
        return kerr_set(err, -r, "cannot serve metrics on %s", url);
    }
    *outp = m;
    return 0;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    while (m->conns)
        conn_kill(m->conns);
    if (m->reap_timer)
        loop_cancel_timer(m->loop, m->reap_timer);
    if (m->retry_timer)
        loop_cancel_timer(m->loop, m->retry_timer);
    reap(m->loop, m);
    loop_del_fd(m->loop, m->fd);
    close_safe(m->fd);
    free(m);
}
