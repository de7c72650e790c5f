/* health.c — health counting and probes, see health.h. */
#include "keel/health.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
    /* Newline-separated KEY=VALUE assignments (sd_notify(3)). */
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && msg[j] != '\n')
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
