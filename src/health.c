/* health.c — health counting, probes and running them, see health.h. */
#include "keel/health.h"
#include "keel/restart.h"
#include "keel/seccomp.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

const char *health_state_name(enum health_state h)
{
    static const char *const names[] = {
        [HS_NONE] = "none", [HS_STARTING] = "starting", [HS_HEALTHY] = "healthy", [HS_UNHEALTHY] = "unhealthy",
    };
    return (unsigned)h < ARRAY_SIZE(names) ? names[h] : "?";
}

bool health_record(const struct container_spec *c, struct health_counter *h, bool ok, uint64_t since_start_ms)
{
    enum health_state before = h->state;
    if (ok) {
        h->failures = 0;
        h->state = HS_HEALTHY;
    } else if (since_start_ms < c->health_start_period_ms && h->state != HS_HEALTHY) {
        /* Failures while the service is still starting do not count. */
    } else if (++h->failures >= c->health_retries) {
        h->state = HS_UNHEALTHY;
    }
    return h->state != before;
}

int health_tcp_start(int netns_fd, uint16_t port, struct kerr *err)
{
    _cleanup_close_ int self_ns = -1;
    if (netns_fd >= 0) {
        self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self_ns < 0)
            return kerr_set(err, errno, "cannot open keel's network namespace");
        if (setns(netns_fd, CLONE_NEWNET) < 0)
            return kerr_set(err, errno, "cannot enter the container's network namespace");
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int saved = errno;
    /* Back to keel's own namespace before anything else can happen. */
    if (netns_fd >= 0 && setns(self_ns, CLONE_NEWNET) < 0) {
        int e = errno;
        close_safe(fd);
        return kerr_set(err, e, "cannot return to keel's network namespace");
    }
    if (fd < 0)
        return kerr_set(err, saved, "cannot create a socket for the health check");
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        saved = errno;
        close(fd);
        return -saved;   /* refused at once: a failed check, not an error of keel */
    }
    return fd;
}

int health_tcp_result(int fd)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        return -errno;
    return e ? -e : 0;
}

/* --- running the checks ------------------------------------------------------------- */

void health_check_init(struct health_check *h, struct loop *l, const struct container_spec *spec,
                       const struct container_ns *ns, const struct seccomp_prog *seccomp,
                       const struct health_ops *ops, void *data)
{
    *h = (struct health_check){ .loop = l, .spec = spec, .ns = ns, .seccomp = seccomp, .ops = ops,
                                .data = data, .fd = -1, .setup_fd = -1 };
}

static void cancel_timer(struct health_check *h)
{
    if (h->timer > 0)
        loop_cancel_timer(h->loop, h->timer);
    h->timer = 0;
}

static void close_report(struct health_check *h)
{
    if (h->setup_fd >= 0)
        close(h->setup_fd);
    h->setup_fd = -1;
}

static void close_probe(struct health_check *h)
{
    if (h->fd >= 0) {
        loop_del_fd(h->loop, h->fd);
        close(h->fd);
        h->fd = -1;
    }
}

void health_check_reaped(struct health_check *h, pid_t pid, int status)
{
    if (h->pid != pid || pid <= 0)
        return;
    h->pid = 0;
    cancel_timer(h);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    /* A helper that could not take a step or execve the command left a
     * record saying why.  The read does not wait (the channel is
     * non-blocking): the container's root may hold a copy of the write end
     * (container_exec_start). */
    struct kerr err = { 0 };
    bool not_started = !ok && h->setup_fd >= 0 && container_setup_result(h->setup_fd, &err) < 0 && err.msg[0];
    close_report(h);
    char why[sizeof err.msg + 32];
    if (not_started)
        snprintf(why, sizeof why, "cannot start the check: %s", err.msg);
    else
        restart_describe_exit(status, why, sizeof why);
    h->ops->result(ok, why, h->data);
}

static void tcp_ready(struct loop *l, int fd, uint32_t events, void *data)
{
    struct health_check *h = data;
    int r = health_tcp_result(fd);
    close_probe(h);
    cancel_timer(h);
    h->ops->result(r == 0, r == 0 ? "" : strerror(-r), h->data);
}

static void timed_out(struct loop *l, void *data)
{
    struct health_check *h = data;
    h->timer = 0;
    if (h->pid > 0) {
        /* Killing the helper kills the check too (its parent-death signal). */
        kill(h->pid, SIGKILL);
        h->pid = 0;   /* its exit is reaped and ignored */
    }
    close_report(h);
    close_probe(h);
    h->ops->result(false, "timed out", h->data);
}

static void run(struct loop *l, void *data)
{
    struct health_check *h = data;
    const struct container_spec *spec = h->spec;
    h->timer = 0;
    struct kerr err = { 0 };
    if (spec->health == HEALTH_TCP) {
        /* The namespace pinned at the start, never the running init's: it may have moved. */
        int fd = health_tcp_start(spec->net == NET_HOST ? -1 : h->ns->fd[CNS_NET], spec->health_port, &err);
        if (fd < 0) {
            h->ops->result(false, err.msg[0] ? err.msg : strerror(-fd), h->data);
            return;
        }
        if (loop_add_fd(l, fd, EPOLLOUT, tcp_ready, h) < 0) {
            close(fd);
            h->ops->result(false, "cannot watch the connection", h->data);
            return;
        }
        h->fd = fd;
    } else {
        pid_t pid;
        _cleanup_close_ int cgfd = h->ops->cgroup_fd(h->data);
        struct container_exec_req req = {
            .spec = spec, .ns = h->ns, .cgroup_fd = cgfd, .argv = spec->health_argv,
            .stdio = { -1, -1, -1 }, .seccomp = h->seccomp && h->seccomp->len ? h->seccomp : NULL,
        };
        if (container_exec_start(&req, &pid, &h->setup_fd, &err) < 0) {
            h->ops->result(false, err.msg, h->data);
            return;
        }
        if (h->ops->watch(pid, h->data) < 0) {
            close_report(h);
            h->ops->result(false, err.msg, h->data);
            return;
        }
        h->pid = pid;
    }
    h->timer = loop_add_timer(l, spec->health_timeout_ms, timed_out, h);
}

void health_check_arm(struct health_check *h, uint64_t ms)
{
    if (h->spec->health == HEALTH_NONE || h->timer > 0 || h->pid > 0 || h->fd >= 0)
        return;
    int64_t t = loop_add_timer(h->loop, ms, run, h);
    h->timer = t > 0 ? t : 0;
}

void health_check_stop(struct health_check *h)
{
    cancel_timer(h);
    if (h->pid > 0)
        kill(h->pid, SIGKILL);
    h->pid = 0;
    close_report(h);
    close_probe(h);
}

/* --- readiness ------------------------------------------------------------------------ */

int health_notify_open(const char *path, struct kerr *err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (str_copy(sa.sun_path, sizeof sa.sun_path, path) < 0)
        return kerr_set(err, ENAMETOOLONG, "cannot create notify socket %s", path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create notify socket %s", path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0666) < 0) {
        int saved = errno;
        close(fd);
        return kerr_set(err, saved, "cannot bind notify socket %s", path);
    }
    return fd;
}

bool health_notify_says_ready(const char *msg, size_t len)
{
    /* Newline-separated KEY=VALUE assignments (sd_notify(3)); a CR separates
     * too, as in systemd's reader ("READY=1\r\n" from a CRLF writer is ready
     * there, and so here). */
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && msg[j] != '\n' && msg[j] != '\r')
            j++;
        if (j - i == 7 && memcmp(msg + i, "READY=1", 7) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

int health_notify_read(int fd)
{
    int ready = 0;
    char buf[4096];
    for (int n = 0; n < 64; n++) {   /* bounded: a chatty service cannot hold the loop */
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0)
            break;
        if (health_notify_says_ready(buf, (size_t)r))
            ready = 1;
    }
    return ready;
}
