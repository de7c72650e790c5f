/* control.c — the control server of control.h: the responses that need no
 * connection state (control_respond), then the listeners, accept and its
 * limits, the connections' life (TLS, input, output, deadlines) and the
 * dispatch of request lines.  Requests are parsed by proto.c; the streams
 * are control_stream.c's, exec control_exec.c's (control_conn.h).
 *
 * Connections are never freed while code that holds a pointer to them may
 * still run: control_conn_kill() closes the socket and unlinks the
 * connection, and a zero-delay timer frees the dead ones afterwards.
 */
#include "keel/control_conn.h"
#include "keel/userns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "keel/log.h"
#include "keel/parse.h"
#include "keel/tls.h"
#include "keel/user.h"
#include "keel/util.h"

#define LISTEN_BACKLOG 512
#define ACCEPT_BUDGET 64        /* accepts per listener event: other fds get their turn */

/* --- responses ------------------------------------------------------------ */

void control_reply_begin(struct json_writer *w, const char *op, bool ok)
{
    json_obj_begin(w);
    json_kint(w, "keel", PROTO_VERSION);
    if (op)
        json_kstr(w, "op", op);
    json_kbool(w, "ok", ok);
}

void control_reply_end(struct json_writer *w)
{
    json_obj_end(w);
    json_raw(w, "\n", 1);
}

void control_error_line(struct json_writer *out, const char *op, const char *msg)
{
    control_reply_begin(out, op, false);
    json_kstr(out, "error", msg);
    control_reply_end(out);
}

void control_write_wait_status(struct json_writer *w, int status)
{
    json_obj_begin(w);
    if (WIFEXITED(status)) {
        json_kint(w, "code", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        const char *n = signal_name_std(WTERMSIG(status));
        json_kint(w, "code", 128 + WTERMSIG(status));
        if (n)
            json_kstr(w, "signal", n);
        else
            json_kint(w, "signal", WTERMSIG(status));
    }
    json_obj_end(w);
}

static const struct container_spec *find_spec(const struct control_backend *be, const char *name)
{
    const struct manifest *m = be->manifest ? be->manifest(be->sup) : NULL;
    for (size_t i = 0; m && i < m->n_containers; i++)
        if (strcmp(m->containers[i].name, name) == 0)
            return &m->containers[i];
    return NULL;
}

static void write_ports(struct json_writer *w, const struct container_spec *cs)
{
    json_arr_begin(w);
    for (size_t i = 0; cs && i < cs->n_ports; i++) {
        const struct port_map *p = &cs->ports[i];
        char ip[INET_ADDRSTRLEN] = "";
        char s[64];
        if (p->host_ip.s_addr != htonl(INADDR_ANY))
            inet_ntop(AF_INET, &p->host_ip, ip, sizeof ip);
        snprintf(s, sizeof s, "%s%s%u:%u/%s", ip, ip[0] ? ":" : "", p->host_port, p->container_port,
                 p->proto == IPPROTO_UDP ? "udp" : "tcp");
        json_str(w, s);
    }
    json_arr_end(w);
}

static const char *restart_name(enum restart_policy r)
{
    return r == RESTART_ALWAYS ? "always" : r == RESTART_ON_FAILURE ? "on-failure" : "no";
}

static void write_container(struct json_writer *w, const struct control_backend *be, size_t i, bool full)
{
    struct container_status st;
    memset(&st, 0, sizeof st);
    be->status(be->sup, i, &st);
    const struct container_spec *cs = st.name ? find_spec(be, st.name) : NULL;
    json_obj_begin(w);
    json_kstr(w, "name", st.name);
    json_kstr(w, "state", container_state_name(st.state));
    json_kint(w, "pid", st.pid);
    json_kuint(w, "started_ms", st.started_ms);
    json_kuint(w, "uptime_ms", st.uptime_ms);
    json_kuint(w, "restarts", st.restarts);
    json_key(w, "last_exit");
    if (st.has_exited)
        control_write_wait_status(w, st.last_status);
    else
        json_null(w);
    json_kstr(w, "health", health_state_name(st.health));
    json_kbool(w, "ready", st.ready);
    json_kuint(w, "oom_kills", st.oom_kills);
    json_kstr(w, "network", st.net_mode);
    json_kstr(w, "ip", st.ip[0] ? st.ip : NULL);
    json_key(w, "ports");
    write_ports(w, cs);
    json_kstr(w, "failure", st.failure);
    if (full) {
        if (cs) {
            json_key(w, "command");
            json_arr_begin(w);
            for (size_t k = 0; cs->argv && cs->argv[k]; k++)
                json_str(w, cs->argv[k]);
            json_arr_end(w);
            json_kstr(w, "restart", restart_name(cs->restart));
            json_kuint(w, "restart_max", cs->restart_max);
            json_key(w, "depends");
            json_arr_begin(w);
            for (size_t k = 0; k < cs->n_deps; k++)
                json_str(w, cs->deps[k].name);
            json_arr_end(w);
            json_kbool(w, "main", cs->main);
            json_kstr(w, "user", cs->user ? cs->user : "0");
            json_kstr(w, "hostname", cs->hostname ? cs->hostname : cs->name);
        }
        /* The id map in force (auto: the range claimed), as the manifest spells one. */
        char map[USERNS_MAX_EXTENTS * 33] = "";
        size_t used = 0;
        for (size_t k = 0; k < st.n_userns_map && used < sizeof map; k++)
            used += (size_t)snprintf(map + used, sizeof map - used, "%s%u:%u:%u", k ? "," : "",
                                     st.userns_map[k].inside, st.userns_map[k].outside, st.userns_map[k].count);
        json_kstr(w, "userns", st.n_userns_map ? map : NULL);
        if (be->log_path)
            json_kstr(w, "log", be->log_path(be->sup, i));
    }
    json_obj_end(w);
}

static void write_pressure(struct json_writer *w, const char *key, const struct cgroup_pressure *p)
{
    json_key(w, key);
    json_obj_begin(w);
    json_key(w, "avg10");
    json_double(w, p->avg10);
    json_key(w, "avg60");
    json_double(w, p->avg60);
    json_key(w, "avg300");
    json_double(w, p->avg300);
    json_kuint(w, "total_us", p->total_us);
    json_obj_end(w);
}

static void write_stats(struct json_writer *w, const struct control_backend *be, const struct container_status *cs)
{
    const char *name = cs->name;
    json_obj_begin(w);
    json_kstr(w, "name", name);
    struct cgroup_stats st;
    struct kerr e = { 0 };
    memset(&st, 0, sizeof st);
    if (!be->stats || !be->cgroot || !be->cgroot->available) {
        json_kbool(w, "available", false);
        json_kstr(w, "error", "no cgroup v2 hierarchy");
    } else if (be->stats(be->cgroot, cs->cgroup ? cs->cgroup : name, &st, &e) < 0) {
        json_kbool(w, "available", false);
        json_kstr(w, "error", e.msg);
    } else {
        json_kbool(w, "available", true);
        if (st.has_cpu) {
            json_kuint(w, "cpu_usage_us", st.cpu_usage_us);
            json_kuint(w, "cpu_user_us", st.cpu_user_us);
            json_kuint(w, "cpu_system_us", st.cpu_system_us);
        }
        if (st.has_memory) {
            json_kuint(w, "memory_current", st.memory_current);
            json_kuint(w, "memory_peak", st.memory_peak);
        }
        if (st.has_pids)
            json_kuint(w, "pids_current", st.pids_current);
        if (st.has_io) {
            json_kuint(w, "io_rbytes", st.io_rbytes);
            json_kuint(w, "io_wbytes", st.io_wbytes);
            json_kuint(w, "io_rios", st.io_rios);
            json_kuint(w, "io_wios", st.io_wios);
        }
        if (st.has_psi) {
            json_key(w, "pressure");
            json_obj_begin(w);
            write_pressure(w, "cpu_some", &st.cpu_some);
            write_pressure(w, "memory_some", &st.memory_some);
            write_pressure(w, "memory_full", &st.memory_full);
            write_pressure(w, "io_some", &st.io_some);
            write_pressure(w, "io_full", &st.io_full);
            json_obj_end(w);
        }
    }
    json_obj_end(w);
}

static int find_or_error(const struct control_backend *be, const struct proto_request *req,
                         struct json_writer *out)
{
    int i = be->find(be->sup, req->name);
    if (i < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "no such container: %s", req->name);
        control_error_line(out, proto_op_name(req->op), msg);
    }
    return i;
}

int control_respond(const struct control_backend *be, const struct proto_request *req,
                    struct json_writer *out)
{
    const char *op = proto_op_name(req->op);
    struct kerr e = { 0 };
    int r, i;
    switch (req->op) {
    case PROTO_OP_VERSION:
        control_reply_begin(out, op, true);
        json_kstr(out, "version", KEEL_VERSION);
        json_kint(out, "protocol", PROTO_VERSION);
        control_reply_end(out);
        return 0;
    case PROTO_OP_PS: {
        size_t n = be->count(be->sup);
        control_reply_begin(out, op, true);
        json_key(out, "containers");
        json_arr_begin(out);
        for (size_t k = 0; k < n; k++)
            write_container(out, be, k, false);
        json_arr_end(out);
        control_reply_end(out);
        return 0;
    }
    case PROTO_OP_STATUS:
        if (!req->name) {
            control_reply_begin(out, op, true);
            json_key(out, "machine");
            json_obj_begin(out);
            if (be->machine)
                be->machine(be->machine_data, out);
            json_obj_end(out);
            control_reply_end(out);
            return 0;
        }
        if ((i = find_or_error(be, req, out)) < 0)
            return 0;
        control_reply_begin(out, op, true);
        json_key(out, "container");
        write_container(out, be, (size_t)i, true);
        control_reply_end(out);
        return 0;
    case PROTO_OP_START:
    case PROTO_OP_STOP:
    case PROTO_OP_RESTART:
    case PROTO_OP_KILL:
        if (find_or_error(be, req, out) < 0)
            return 0;
        if (req->op == PROTO_OP_START)
            r = be->start(be->sup, req->name, &e);
        else if (req->op == PROTO_OP_STOP)
            r = be->stop(be->sup, req->name, &e);
        else if (req->op == PROTO_OP_RESTART)
            r = be->restart(be->sup, req->name, &e);
        else
            r = be->kill(be->sup, req->name, req->signal, &e);
        if (r < 0) {
            control_error_line(out, op, e.msg[0] ? e.msg : strerror(-r));
            return 0;
        }
        control_reply_begin(out, op, true);
        json_kstr(out, "name", req->name);
        control_reply_end(out);
        return 0;
    case PROTO_OP_STATS: {
        int k = req->name ? find_or_error(be, req, out) : -1;
        if (req->name && k < 0)
            return 0;
        control_reply_begin(out, op, true);
        json_key(out, "stats");
        json_arr_begin(out);
        struct container_status st;
        memset(&st, 0, sizeof st);
        if (req->name) {
            be->status(be->sup, (size_t)k, &st);
            write_stats(out, be, &st);
        } else {
            size_t n = be->count(be->sup);
            for (size_t j = 0; j < n; j++) {
                memset(&st, 0, sizeof st);
                be->status(be->sup, j, &st);
                write_stats(out, be, &st);
            }
        }
        json_arr_end(out);
        control_reply_end(out);
        return 0;
    }
    case PROTO_OP_POWEROFF:
    case PROTO_OP_REBOOT:
    case PROTO_OP_HALT:
        control_reply_begin(out, op, true);
        control_reply_end(out);
        be->request_power(be->sup, req->op == PROTO_OP_POWEROFF ? POWER_POWEROFF
                                   : req->op == PROTO_OP_REBOOT ? POWER_REBOOT : POWER_HALT);
        return 0;
    default:
        return -EOPNOTSUPP;
    }
}

static void conn_update(struct conn *cn);
static void conn_read(struct conn *cn);

size_t control_client_count(const struct control *c)
{
    return c->n_conns;
}

void control_counters(const struct control *c, uint64_t *accepted, uint64_t *refused)
{
    *accepted = c ? c->accepted : 0;
    *refused = c ? c->refused : 0;
}

/* Queues an error, then closes the connection once it is sent. */
void control_conn_fail(struct conn *cn, const char *op, const char *msg)
{
    control_error_line(&cn->out, op, msg);
    cn->close_when_flushed = true;
    control_conn_flush(cn);
}


/* --- TLS -------------------------------------------------------------------- */

static int tls_setup(struct control *c, struct kerr *err)
{
    const struct system_spec *sys = &c->m->system;
    if (c->tls.ready)
        return 0;
    if (!sys->control_tls_cert || !sys->control_tls_key || !sys->control_tls_ca)
        return kerr_msg(err, EINVAL,
                        "cannot listen on TCP without mutual TLS: set control_tls_cert, control_tls_key and "
                        "control_tls_ca (there is no plaintext TCP)");
    const struct tls_files f = {
        .cert = sys->control_tls_cert, .key = sys->control_tls_key, .ca = sys->control_tls_ca,
        .cert_label = "control_tls_cert", .key_label = "control_tls_key", .ca_label = "control_tls_ca",
    };
    return tls_conf_init(&c->tls, true, &f, err);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    int fd = *(int *)ctx;
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    int fd = *(int *)ctx;
    ssize_t n = recv(fd, buf, len, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
    return (int)n;
}

/* --- refusals (peer.h: one message per peer per 10 s, a few per second in all) --- */

#define refusal(c, k, ...) peer_refusal_log(&(c)->refusals, (k), __VA_ARGS__)

/* --- connections ------------------------------------------------------------ */

static void reap_dead(struct loop *l, void *data)
{
    struct control *c = data;
    c->reap_timer = 0;
    while (c->dead) {
        struct conn *cn = c->dead;
        c->dead = cn->next;
        /* Unsubscribed here, not in control_conn_kill, which may run inside the
         * supervisor's own event callback. */
        if (cn->ev.sub > 0 && c->be.unsubscribe)
            c->be.unsubscribe(c->be.sup, cn->ev.sub);
        if (cn->ev.member)
            c->member_event_streams--;
        json_writer_free(&cn->out);
        free(cn->logs.path);
        free(cn->logs.partial);
        free(cn);
    }
    while (c->dead_sessions) {
        struct exec_session *ex = c->dead_sessions;
        c->dead_sessions = ex->next;
        free(ex->in_buf);
        free(ex);
    }
}

void control_arm_reap(struct control *c)
{
    if (!c->reap_timer) {
        int64_t id = loop_add_timer(c->loop, 0, reap_dead, c);
        c->reap_timer = id > 0 ? id : 0;
    }
}

static void listener_resume(struct listener *ls)
{
    if (ls->paused && loop_mod_fd(ls->c->loop, ls->fd, EPOLLIN) == 0)
        ls->paused = false;
}

static void resume_accepting(struct control *c)
{
    for (struct listener *ls = c->listeners; ls; ls = ls->next)
        listener_resume(ls);
}

void control_conn_kill(struct conn *cn)
{
    struct control *c = cn->c;
    if (cn->dead)
        return;
    cn->dead = true;
    if (cn->mode == CM_APPLY && c->be.apply_forget)
        c->be.apply_forget(c->be.sup, cn);   /* the apply goes on; its outcome is logged */
    free(cn->apply_text);   /* a preflight's, forgotten above */
    cn->apply_text = NULL;
    if (cn->timer > 0)
        loop_cancel_timer(c->loop, cn->timer);
    cn->timer = 0;
    loop_del_fd(c->loop, cn->fd);   /* registered even when its mask is 0 */
    if (cn->tls)
        mbedtls_ssl_free(&cn->ssl);
    close_safe(cn->fd);
    cn->fd = -1;
    for (int i = 0; i < cn->nfds; i++)
        close_safe(cn->fds[i]);
    cn->nfds = 0;
    close_safe(cn->send_fd);
    cn->send_fd = -1;
    control_logs_stop(cn);
    control_update_stop(cn);
    control_cp_stop(cn);
    if (cn->ex) {
        cn->ex->conn = NULL;
        control_exec_detach(cn->ex);
        cn->ex = NULL;
    }
    /* Unlink from the live list, push on the dead list. */
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        c->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    c->n_conns--;
    cn->lst->n_conns--;
    if (cn->tls && !cn->handshake_done)
        cn->lst->n_unauth--;
    cn->next = c->dead;
    c->dead = cn;
    control_arm_reap(c);
    /* A slot of this listener is free; after a failed accept (out of fds)
     * the retry timer resumes every listener. */
    if (!c->retry_timer)
        listener_resume(cn->lst);
}

static bool conn_wants_read(const struct conn *cn)
{
    if (cn->dead || cn->read_eof || cn->close_when_flushed)
        return false;
    if (cn->tls && !cn->handshake_done)
        return true;
    if (cn->in_len >= IN_CAP)
        return false;
    /* In streaming modes the client is read for EOF (and, in exec, stdin). */
    return true;
}

static void conn_update(struct conn *cn)
{
    if (cn->dead)
        return;
    uint32_t ev = 0;
    if (conn_wants_read(cn))
        ev |= EPOLLIN;
    if (control_out_pending(cn) || cn->tls_pending || cn->logs.pump_more)
        ev |= EPOLLOUT;
    if (cn->tls && !cn->handshake_done)
        ev = EPOLLIN | (cn->events & EPOLLOUT);
    if (ev == cn->events)
        return;
    if (loop_mod_fd(cn->c->loop, cn->fd, ev) < 0) {
        control_conn_kill(cn);
        return;
    }
    cn->events = ev;
}

/* Sends as much output as the socket takes now. */
void control_conn_flush(struct conn *cn)
{
    while (!cn->dead && control_out_pending(cn)) {
        if (json_writer_error(&cn->out)) {
            control_conn_kill(cn);
            return;
        }
        const char *p = cn->out.buf + cn->out_off;
        size_t len = control_out_pending(cn);
        ssize_t n;
        if (cn->tls) {
            if (cn->tls_pending)
                len = cn->tls_pending;
            else if (len > 16384)
                len = 16384;
            int r = mbedtls_ssl_write(&cn->ssl, (const unsigned char *)p, len);
            if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
                /* mbedTLS must be called again with the same buffer. */
                cn->tls_pending = len;
                break;
            }
            cn->tls_pending = 0;
            if (r < 0) {
                control_conn_kill(cn);
                return;
            }
            n = r;
        } else if (cn->send_fd >= 0 && cn->send_fd_at >= cn->out_off && cn->send_fd_at < cn->out.len) {
            if (cn->send_fd_at > cn->out_off) {
                len = cn->send_fd_at - cn->out_off;
                n = send(cn->fd, p, len, MSG_NOSIGNAL);
            } else {
                /* This byte carries the fd (the pty master for exec -t). */
                char cbuf[CMSG_SPACE(sizeof(int))];
                memset(cbuf, 0, sizeof cbuf);
                struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                                     .msg_controllen = sizeof cbuf };
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &cn->send_fd, sizeof(int));
                n = sendmsg(cn->fd, &mh, MSG_NOSIGNAL);
                if (n > 0) {
                    close_safe(cn->send_fd);
                    cn->send_fd = -1;
                }
            }
        } else {
            n = send(cn->fd, p, len, MSG_NOSIGNAL);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            control_conn_kill(cn);
            return;
        }
        cn->out_off += (size_t)n;
    }
    if (cn->dead)
        return;
    if (!control_out_pending(cn) && !cn->tls_pending) {
        json_writer_reset(&cn->out);
        cn->out_off = 0;
        if (cn->send_fd_at)
            cn->send_fd_at = 0;
        if (cn->close_when_flushed) {
            control_conn_kill(cn);
            return;
        }
    } else if (cn->out_off > 65536 && cn->out_off * 2 > cn->out.len && !cn->tls_pending &&
               cn->send_fd < 0) {
        /* Compact so a long-lived stream does not grow the buffer forever. */
        memmove(cn->out.buf, cn->out.buf + cn->out_off, control_out_pending(cn) + 1);
        cn->out.len -= cn->out_off;
        cn->out_off = 0;
    }
    if (control_out_pending(cn) > OUT_MAX) {
        /* A client that does not read loses its connection, never keel's memory. */
        control_conn_kill(cn);
        return;
    }
    conn_update(cn);
}

static void idle_timer(struct loop *l, void *data)
{
    struct conn *cn = data;
    struct control *c = cn->c;
    cn->timer = 0;
    if (cn->dead)
        return;
    bool handshaking = cn->tls && !cn->handshake_done;
    uint64_t limit = handshaking ? c->opts.handshake_ms : c->opts.idle_ms;
    bool streaming = cn->mode != CM_REQUEST;
    uint64_t idle = now_ms() - cn->last_active;
    if (!streaming && idle >= limit) {
        if (handshaking)
            refusal(c, &cn->key, "control: closed TLS client %s on %s: no handshake within %u ms", cn->peer,
                        cn->lst->url, c->opts.handshake_ms);
        else
            log_debug("control: closing idle client %s", cn->peer);
        control_conn_kill(cn);
        return;
    }
    uint64_t next = streaming || idle >= limit ? limit : limit - idle;
    int64_t id = loop_add_timer(c->loop, next, idle_timer, cn);
    cn->timer = id > 0 ? id : 0;
}

static void handle_line(struct conn *cn, const char *line, size_t len);

/* Runs the complete request lines in the input buffer, as long as the
 * output is not backed up. */
void control_conn_process(struct conn *cn)
{
    /* Re-entered from a request's own handling (a log stream that ended at
     * once, an exec that finished): the outer call goes on with the lines. */
    if (cn->processing) {
        control_conn_flush(cn);
        return;
    }
    /* A stream or exec that ended starts the wait for the next request. */
    if (cn->mode == CM_REQUEST && cn->clock_mode != CM_REQUEST)
        cn->last_active = now_ms();
    cn->clock_mode = cn->mode;
    cn->processing = true;
    size_t pos = 0;
    while (!cn->dead && !cn->close_when_flushed && control_out_pending(cn) < OUT_HIGH) {
        if (cn->mode == CM_LOGS || cn->mode == CM_EVENTS || cn->mode == CM_APPLY)
            break;
        if (cn->mode == CM_EXEC && cn->ex && cn->ex->in_len)
            break;   /* stdin backed up: wait for the process to read it */
        char *nl = memchr(cn->in + pos, '\n', cn->in_len - pos);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (cn->in + pos));
        if (len && cn->in[pos + len - 1] == '\r')
            len--;
        handle_line(cn, cn->in + pos, len);
        /* The deadline is absolute per request line: only a complete line
         * restarts it, never a byte (slow-loris). */
        cn->last_active = now_ms();
        pos = (size_t)(nl - cn->in) + 1;
    }
    cn->processing = false;
    if (cn->dead)
        return;
    if (pos) {
        memmove(cn->in, cn->in + pos, cn->in_len - pos);
        cn->in_len -= pos;
    }
    if (cn->mode == CM_LOGS || cn->mode == CM_EVENTS) {
        /* Nothing is expected from a streaming client; what it sends is dropped. */
        cn->in_len = 0;
    } else if (cn->in_len >= IN_CAP && !memchr(cn->in, '\n', cn->in_len)) {
        control_conn_fail(cn, NULL, "malformed request: larger than 65536 bytes");
        return;
    } else if (cn->read_eof && cn->in_len && !memchr(cn->in, '\n', cn->in_len)) {
        control_conn_fail(cn, NULL, "malformed request: truncated (end of stream before newline)");
        return;
    }
    if (cn->read_eof && cn->mode == CM_REQUEST && !cn->in_len)
        cn->close_when_flushed = true;
    control_conn_flush(cn);
}

static void conn_read(struct conn *cn)
{
    while (!cn->dead && conn_wants_read(cn)) {
        ssize_t n;
        size_t room = IN_CAP - cn->in_len;
        if (cn->tls) {
            int r = mbedtls_ssl_read(&cn->ssl, (unsigned char *)cn->in + cn->in_len, room);
            if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                break;
            if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == 0) {
                n = 0;
            } else if (r < 0) {
                control_conn_kill(cn);
                return;
            } else {
                n = r;
            }
        } else if (cn->lst->family == AF_UNIX) {
            char cbuf[CMSG_SPACE(sizeof(int) * 4)];
            struct iovec iov = { .iov_base = cn->in + cn->in_len, .iov_len = room };
            struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                                 .msg_controllen = sizeof cbuf };
            n = recvmsg(cn->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
            if (n >= 0) {
                bool too_many = (mh.msg_flags & MSG_CTRUNC) != 0;
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                    for (size_t j = 0; j < k; j++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(cm) + j * sizeof(int), sizeof fd);
                        if (cn->nfds < 3)
                            cn->fds[cn->nfds++] = fd;
                        else {
                            close_safe(fd);
                            too_many = true;
                        }
                    }
                }
                if (too_many) {
                    control_conn_fail(cn, NULL, "malformed request: more than 3 file descriptors passed");
                    return;
                }
            }
        } else {
            n = recv(cn->fd, cn->in + cn->in_len, room, MSG_DONTWAIT);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            control_conn_kill(cn);
            return;
        }
        if (n == 0) {
            /* End of the client's requests (it may still read: a half-close,
             * as `socat` does).  A client that is gone entirely shows up as
             * EPOLLHUP or as a failed write. */
            cn->read_eof = true;
            if (cn->mode == CM_EXEC && cn->ex && cn->ex->stream && !cn->ex->in_eof) {
                cn->ex->in_eof = true;   /* the process sees end of input */
                control_exec_pump_in(cn->ex);
            }
            break;
        }
        cn->in_len += (size_t)n;
        control_conn_process(cn);
    }
    if (!cn->dead)
        control_conn_process(cn);
}

static void tls_handshake(struct conn *cn)
{
    int r = mbedtls_ssl_handshake(&cn->ssl);
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
        uint32_t ev = EPOLLIN | (r == MBEDTLS_ERR_SSL_WANT_WRITE ? EPOLLOUT : 0);
        if (ev != cn->events && loop_mod_fd(cn->c->loop, cn->fd, ev) == 0)
            cn->events = ev;
        return;
    }
    if (r != 0) {
        char msg[160];
        tls_strerror(r, msg, sizeof msg);
        refusal(cn->c, &cn->key, "control: refused TLS client %s on %s: handshake failed: %s", cn->peer,
                    cn->lst->url, msg);
        control_conn_kill(cn);
        return;
    }
    cn->handshake_done = true;
    cn->lst->n_unauth--;
    cn->last_active = now_ms();   /* the deadline for the first request starts */
    conn_update(cn);
    conn_read(cn);   /* mbedTLS may already hold application data */
}

static void conn_event(struct loop *l, int fd, uint32_t events, void *data)
{
    struct conn *cn = data;
    if (cn->dead)
        return;
    if (cn->tls && !cn->handshake_done) {
        tls_handshake(cn);
        return;
    }
    if (events & EPOLLOUT)
        control_conn_flush(cn);
    if (!cn->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        conn_read(cn);
    if (!cn->dead && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
        control_conn_kill(cn);
    if (!cn->dead && control_out_pending(cn) < OUT_HIGH) {
        if (cn->mode == CM_LOGS)
            control_logs_pump(cn);
        else if (cn->mode == CM_EXEC && cn->ex)
            control_exec_pump_out(cn->ex);
    }
}

/* Checks a unix peer: root, or a member of control_group. */
static int check_peer(struct control *c, int fd, char *who, size_t n)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return -errno;
    snprintf(who, n, "pid %d uid %u", (int)cr.pid, (unsigned)cr.uid);
    if (cr.uid == 0)
        return 0;
    if (!c->gid_set)
        return -EACCES;
    if (cr.gid == c->gid)
        return 0;
    /* Supplementary groups of the peer as they were at connect(). */
    gid_t groups[256];
    len = sizeof groups;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
            if (groups[i] == c->gid)
                return 0;
    return -EACCES;
}

/* vsock carries no credentials: a peer on this machine (CID 1, our own CID,
 * or the CID this connection was made to) may be any process, a
 * container's included; only a listener with ?local=yes takes them. */
static bool vsock_peer_local(const struct listener *ls, int fd, const struct sockaddr_storage *ss)
{
    unsigned cid = ((const struct sockaddr_vm *)ss)->svm_cid;
    struct sockaddr_vm me;
    socklen_t len = sizeof me;
    memset(&me, 0, sizeof me);
    if (cid == VMADDR_CID_LOCAL || (ls->local_cid != VMADDR_CID_ANY && cid == ls->local_cid))
        return true;
    if (getsockname(fd, (struct sockaddr *)&me, &len) < 0 || len < sizeof me || me.svm_family != AF_VSOCK)
        return true;   /* cannot tell: refuse */
    return me.svm_cid == cid;
}

/* Connections of listener ls from key k still in their TLS handshake. */
static size_t unauth_from(const struct control *c, const struct listener *ls, const struct peer_key *k)
{
    size_t n = 0;
    for (const struct conn *cn = c->conns; cn; cn = cn->next)
        if (cn->lst == ls && cn->tls && !cn->handshake_done && peer_key_eq(&cn->key, k))
            n++;
    return n;
}

bool control_unix_admits(size_t n_conns, unsigned max_clients, unsigned reserve, uid_t uid)
{
    return uid == 0 || n_conns + reserve < max_clients;
}

/* Refuses an accepted connection: one error line (best effort, never
 * waiting) and close. */
static void refuse(int fd, const char *json_line)
{
    char sink[4096];
    if (json_line && send(fd, json_line, strlen(json_line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the peer is refused either way */
    }
    /* A request already received and left unread would turn the close into
     * a reset, which can discard the error line before the client reads it.
     * Dropped unparsed: a refused peer's bytes are never looked at. */
    if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) < 0) {
        /* nothing there */
    }
    close_safe(fd);
}

/* A unix peer other than root found only root's reserved slots free: a
 * member of control_group holding every stream it may open must not lock
 * root out (it would wait in the backlog for as long as the member liked),
 * and the member itself hears why at once rather than waiting. */
static void refuse_for_root(struct control *c, const struct listener *ls, int cfd, const struct peer_key *key,
                            const char *who)
{
    char line[256];
    snprintf(line, sizeof line,
             "{\"keel\":1,\"ok\":false,\"error\":\"busy: the connections to this socket that members of "
             "control_group may take are all taken (the last %u of %u are kept for root): try again when "
             "one has closed\"}\n", c->opts.root_reserve, c->opts.max_clients);
    c->refused++;
    refuse(cfd, line);
    refusal(c, key, "control: refused client on %s (%s): the last %u of %u connections are kept for root", ls->url,
            who, c->opts.root_reserve, c->opts.max_clients);
}

static void accept_retry(struct loop *l, void *data)
{
    struct control *c = data;
    c->retry_timer = 0;
    resume_accepting(c);
}

static void listener_pause(struct listener *ls)
{
    if (!ls->paused && loop_mod_fd(ls->c->loop, ls->fd, 0) == 0)
        ls->paused = true;
}

/* Out of fds, memory or epoll watches (a container running under keel's
 * kernel uid can use up fs.epoll.max_user_watches): every listener pauses
 * and tries again shortly, rather than spinning on a readable listener;
 * the clients already connected are served meanwhile. */
static void accept_trouble(struct control *c, struct listener *ls, int e)
{
    struct peer_key k = { .family = -1 };
    refusal(c, &k, "control: cannot take a new client on %s: %s%s; trying again", ls->url, strerror(e),
                e == ENOSPC ? " (the per-user epoll watch limit fs.epoll.max_user_watches is used up)" : "");
    for (struct listener *x = c->listeners; x; x = x->next)
        listener_pause(x);
    if (!c->retry_timer) {
        int64_t id = loop_add_timer(c->loop, 200, accept_retry, c);
        c->retry_timer = id > 0 ? id : 0;
    }
}

/* Out of file descriptors (EMFILE/ENFILE), a pending client would wait in
 * the backlog with no word of why, and keel would be woken for it again and
 * again.  The spare fd is given up for a moment to accept it, tell it, and
 * close it: clients hear "out of file descriptors" at once while keel goes on
 * supervising, and are served again as soon as fds free up.  TLS listeners
 * get no text (a plaintext line would be garbage to a TLS client), only the
 * close.  Returns 1 when a client was refused (more may wait), 0 when none
 * was waiting, -1 without a spare fd (the caller pauses and retries). */
static int refuse_starved(struct listener *ls, int why)
{
    struct control *c = ls->c;
    if (c->spare_fd < 0)
        return -1;
    if (!c->fd_starved)
        log_warn("control: cannot accept clients on %s: %s; refusing them until descriptors free up", ls->url,
                 strerror(why));
    c->fd_starved = true;
    close_safe(c->spare_fd);
    c->spare_fd = -1;
    int cfd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int saved = errno;
    if (cfd >= 0) {
        c->refused++;
        static const char msg[] = "{\"keel\":1,\"ok\":false,\"error\":\"keel is out of file descriptors: "
                                  "try again later\"}\n";
        if (!ls->tls && send(cfd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            /* the client is gone already: nothing to tell */
        }
        close_safe(cfd);
    }
    c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (cfd < 0 && saved == EAGAIN)
        return 0;
    return c->spare_fd >= 0 ? 1 : -1;
}

static void listener_event(struct loop *l, int fd, uint32_t events, void *data)
{
    struct listener *ls = data;
    struct control *c = ls->c;
    /* Bounded: under a flood of connections the loop still serves the
     * other fds (level-triggered epoll brings us back). */
    for (unsigned budget = ACCEPT_BUDGET; budget; budget--) {
        if (ls->n_conns >= c->opts.max_clients) {
            /* Further clients wait in the kernel's backlog until one leaves. */
            listener_pause(ls);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof ss;
        memset(&ss, 0, sizeof ss);
        int cfd = accept4(ls->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0 && c->fd_starved) {
            c->fd_starved = false;
            log_info("control: accepting clients again");
        }
        if (cfd >= 0 && c->spare_fd < 0)
            c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);   /* lost in a starved moment */
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                int rr = refuse_starved(ls, errno);
                if (rr > 0)
                    continue;
                if (rr == 0)
                    return;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_trouble(c, ls, errno);
            return;
        }
        struct peer_key key;
        char peer[64];
        peer_key_of(&ss, &key);
        peer_name(&ss, ls->family, peer, sizeof peer);
        if (ls->family == AF_UNIX) {
            char who[64];
            struct ucred cr = { .uid = (uid_t)-1 };   /* unknown: not root */
            socklen_t crlen = sizeof cr;
            if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0) {
                key.family = AF_UNIX;
                memcpy(key.a, &cr.uid, sizeof cr.uid);
            }
            int r = check_peer(c, cfd, who, sizeof who);
            if (r < 0) {
                c->refused++;
                refuse(cfd, "{\"keel\":1,\"ok\":false,\"error\":\"permission denied: "
                            "only root and members of control_group may use keel\"}\n");
                refusal(c, &key, "control: refused client on %s (%s): not root and not in control_group", ls->url,
                        who);
                continue;
            }
            if (!control_unix_admits(ls->n_conns, c->opts.max_clients, c->opts.root_reserve, cr.uid)) {
                refuse_for_root(c, ls, cfd, &key, who);
                continue;
            }
        } else if (ls->family == AF_VSOCK && !ls->vsock_local && vsock_peer_local(ls, cfd, &ss)) {
            c->refused++;
            refuse(cfd, "{\"keel\":1,\"ok\":false,\"error\":\"permission denied: vsock peers on this "
                        "machine are refused (the listener allows them with ?local=yes)\"}\n");
            refusal(c, &key, "control: refused client %s on %s: a vsock peer on this machine (add ?local=yes "
                        "to the listener to allow them)", peer, ls->url);
            continue;
        }
        if (ls->tls && (ls->n_unauth >= c->opts.max_handshakes ||
                        unauth_from(c, ls, &key) >= c->opts.max_handshakes_per_peer)) {
            /* Unauthenticated connections are cheap to make: a few at a
             * time, and the rest closed at once rather than queued. */
            c->refused++;
            refuse(cfd, NULL);
            refusal(c, &key, "control: refused TLS client %s on %s: too many connections in their handshake",
                        peer, ls->url);
            continue;
        }
        struct conn *cn = calloc(1, sizeof *cn);
        if (!cn) {
            close_safe(cfd);
            return;
        }
        cn->c = c;
        cn->lst = ls;
        cn->fd = cfd;
        cn->send_fd = -1;
        cn->logs.fd = -1;
        cn->logs.dir = AT_FDCWD;
        cn->key = key;
        json_writer_init(&cn->out);
        cn->last_active = now_ms();   /* absolute: the handshake, or the first request */
        memcpy(cn->peer, peer, sizeof cn->peer);
        if (ls->tls) {
            cn->tls = true;
            mbedtls_ssl_init(&cn->ssl);
            if (mbedtls_ssl_setup(&cn->ssl, &c->tls.conf) != 0) {
                mbedtls_ssl_free(&cn->ssl);
                close_safe(cfd);
                free(cn);
                return;
            }
            mbedtls_ssl_set_bio(&cn->ssl, &cn->fd, bio_send, bio_recv, NULL);
        }
        if (loop_add_fd(c->loop, cfd, EPOLLIN, conn_event, cn) < 0) {
            int e = errno;
            if (cn->tls)
                mbedtls_ssl_free(&cn->ssl);
            close_safe(cfd);
            free(cn);
            accept_trouble(c, ls, e);
            return;
        }
        cn->events = EPOLLIN;
        cn->next = c->conns;
        if (c->conns)
            c->conns->prev = cn;
        c->conns = cn;
        c->n_conns++;
        c->accepted++;
        ls->n_conns++;
        if (cn->tls)
            ls->n_unauth++;
        int64_t id = loop_add_timer(c->loop, cn->tls ? c->opts.handshake_ms : c->opts.idle_ms, idle_timer, cn);
        cn->timer = id > 0 ? id : 0;
        if (cn->tls)
            tls_handshake(cn);
    }
}

/* --- dispatch ---------------------------------------------------------------- */

/* --- apply ------------------------------------------------------------------ */

static void apply_done(const struct sup_apply_result *res, void *data)
{
    struct conn *cn = data;
    if (cn->dead || cn->mode != CM_APPLY)
        return;
    cn->mode = CM_REQUEST;
    control_reply_begin(&cn->out, "apply", res->ok);
    json_kstr(&cn->out, "plan", res->plan);
    json_kstr(&cn->out, res->ok ? "outcome" : "error", res->outcome);
    control_reply_end(&cn->out);
    /* The next request line, if the client sent one, runs now. */
    control_conn_process(cn);
}

bool control_conn_is_admin(const struct conn *cn)
{
    uint32_t uid = 0;
    memcpy(&uid, cn->key.a, sizeof uid);
    return cn->lst->family != AF_UNIX || (cn->key.family == AF_UNIX && uid == 0);
}

/* The preflight has ended (why NULL) or was refused: the load in keel
 * itself, then the apply.  The reply may come now or from the loop. */
static void apply_checked(const char *why, void *data)
{
    struct conn *cn = data;
    struct control *c = cn->c;
    _cleanup_free_ char *text = TAKE_PTR(cn->apply_text);
    struct manifest *nm = NULL;
    struct diag d = { 0 };
    struct kerr err = { 0 };
    if (why) {
        control_error_line(&cn->out, "apply", why);
    } else if (manifest_load_buffer("manifest", text, cn->apply_len, 0, &nm, &d) < 0) {
        /* Every problem, as keel check prints them, in one bounded message. */
        char msg[4096];
        size_t len = 0;
        msg[0] = '\0';
        for (size_t i = 0; i < d.count && len + 1 < sizeof msg; i++) {
            int n = snprintf(msg + len, sizeof msg - len, "%s%s", i ? "\n" : "", d.msgs[i]);
            if (n < 0)
                break;
            len += (size_t)n < sizeof msg - len ? (size_t)n : sizeof msg - len - 1;
        }
        diag_free(&d);
        control_reply_begin(&cn->out, "apply", false);
        json_kstr(&cn->out, "error", msg[0] ? msg : "the manifest is not valid");
        json_kstr(&cn->out, "outcome", "not applied: the manifest is not valid, nothing was changed");
        control_reply_end(&cn->out);
    } else {
        diag_free(&d);
        /* Still CM_APPLY: a dry run answers at once (apply_done). */
        if (c->be.apply(c->be.sup, nm, cn->apply_dry, apply_done, cn, &err) >= 0)
            return;
        control_error_line(&cn->out, "apply", err.msg);
    }
    cn->mode = CM_REQUEST;
    control_conn_process(cn);
}

/* `keel apply`: the manifest's text travels in the request (bounded by
 * PROTO_MAX_REQUEST); the paths it names are this machine's.  It is checked
 * in full (keel check's rules, with the file checks) before anything changes,
 * first in a child with a bound (be.preflight: a path on a hung file system
 * must not stop keel).  An administrator's op (control_conn_is_admin). */
static void apply_start(struct conn *cn, const struct proto_request *req)
{
    struct control *c = cn->c;
    const char *refused = NULL;
    if (!control_conn_is_admin(cn))
        refused = "permission denied: only root may apply a manifest";
    else if (!c->be.apply)
        refused = "apply is not available";
    else if (c->updating)   /* one change at a time: the bundle being received replaces the payload */
        refused = "cannot apply the manifest: busy: an update is being received";
    else if (!(cn->apply_text = malloc(req->manifest_len + 1)))
        refused = "cannot apply the manifest: out of memory";
    if (refused) {
        control_error_line(&cn->out, "apply", refused);
        return;
    }
    memcpy(cn->apply_text, req->manifest, req->manifest_len);
    cn->apply_len = req->manifest_len;
    cn->apply_dry = req->dry_run;
    cn->mode = CM_APPLY;   /* control_conn_process reads no further line until the reply */
    struct kerr err = { 0 };
    if (!c->be.preflight)
        apply_checked(NULL, cn);
    else if (c->be.preflight(c->be.sup, NULL, cn->apply_text, cn->apply_len, apply_checked, cn, &err) < 0)
        apply_checked(err.msg, cn);
}

static void handle_line(struct conn *cn, const char *line, size_t len)
{
    struct proto_request req;
    struct kerr e = { 0 };
    if (proto_request_parse(line, len, &req, &e) < 0) {
        control_conn_fail(cn, NULL, e.msg);
        return;
    }
    bool exec_input_op = req.op == PROTO_OP_STDIN || req.op == PROTO_OP_RESIZE;
    if (cn->mode == CM_EXEC) {
        if (!exec_input_op)
            control_conn_fail(cn, proto_op_name(req.op), "malformed request: only stdin and resize are accepted during exec");
        else
            control_exec_input(cn, &req);
        proto_request_free(&req);
        return;
    }
    if (exec_input_op) {
        control_conn_fail(cn, proto_op_name(req.op), "malformed request: no exec is running");
        proto_request_free(&req);
        return;
    }
    if (cn->cp || req.op == PROTO_OP_CP_GET || req.op == PROTO_OP_CP_PUT) {
        control_cp_request(cn, &req);
        proto_request_free(&req);
        return;
    }
    if (cn->upd || req.op == PROTO_OP_UPDATE || req.op == PROTO_OP_CHUNK || req.op == PROTO_OP_ROLLBACK ||
        req.op == PROTO_OP_SLOTS) {
        control_update_request(cn, &req);
        proto_request_free(&req);
        return;
    }
    /* Fds passed with anything but exec are closed at once. */
    if (req.op != PROTO_OP_EXEC || cn->lst->family != AF_UNIX) {
        for (int i = 0; i < cn->nfds; i++)
            close_safe(cn->fds[i]);
        cn->nfds = 0;
    }
    switch (req.op) {
    case PROTO_OP_LOGS:
        control_logs_start(cn, &req);
        break;
    case PROTO_OP_EVENTS:
        control_events_start(cn);
        break;
    case PROTO_OP_EXEC:
        control_exec_start(cn, &req);
        break;
    case PROTO_OP_APPLY:
        apply_start(cn, &req);
        break;
    default:
        control_respond(&cn->c->be, &req, &cn->out);
    }
    for (int i = 0; i < cn->nfds; i++)
        close_safe(cn->fds[i]);
    cn->nfds = 0;
    proto_request_free(&req);
}

/* --- listeners ---------------------------------------------------------------- */

/* Gives the socket TMPDIR/s to group GID, mode 0660, through an O_PATH fd
 * of the socket's own inode: TMPDIR is in a directory others may write (a
 * control socket in a directory shared with a container), where its name
 * could be swapped for a directory of theirs with `s` a symlink to a host
 * file, which a chown and chmod by path would have handed to the group. */
static int give_socket_to_group(int tmpdir, gid_t gid, struct kerr *err)
{
    _cleanup_close_ int s = openat(tmpdir, "s", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (s < 0 || fstat(s, &st) < 0)
        return kerr_set(err, errno, "cannot open the control socket to give it to group %u", (unsigned)gid);
    if (!S_ISSOCK(st.st_mode))
        return kerr_msg(err, EINVAL, "cannot give the control socket to group %u: it is not a socket",
                        (unsigned)gid);
    char self[32];
    snprintf(self, sizeof self, "/proc/self/fd/%d", s);
    if (fchownat(s, "", 0, gid, AT_EMPTY_PATH) < 0 || chmod(self, 0660) < 0)
        return kerr_set(err, errno, "cannot give the control socket to group %u", (unsigned)gid);
    return 0;
}

/* The socket is made in a private directory (mkdtemp, 0700) next to its
 * final path and appears there only by rename(), fully set up.  Everything
 * after the directory's open goes through fds (the directory, the private
 * one, the socket's inode), never a path a writer of the directory could
 * swap between two steps (give_socket_to_group). */
static int listen_unix(struct control *c, struct listener *ls, const struct proto_url *u, struct kerr *err)
{
    char dir[sizeof u->path], tmpdir[64];
    struct stat st;
    strcpy(dir, u->path);
    char *slash = strrchr(dir, '/');
    const char *name = u->path + (slash - dir) + 1;
    if (slash == dir)
        strcpy(dir, "/");
    else
        *slash = 0;
    int r = mkdir_p(dir, c->gid_set ? 0711 : 0700);
    if (r < 0)
        return kerr_set(err, -r, "cannot create %s for the control socket", dir);
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return kerr_set(err, errno, "cannot open %s for the control socket", dir);
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return kerr_msg(err, EEXIST, "cannot listen on %s: it exists and is not a socket", u->path);
        /* A live socket means another keel; a dead one is replaced below. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, u->path);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close_safe(probe);
            return kerr_msg(err, EADDRINUSE, "cannot listen on %s: another keel is listening there", u->path);
        }
        close_safe(probe);
    }
    snprintf(tmpdir, sizeof tmpdir, "/proc/self/fd/%d/.keelXXXXXX", dfd);
    if (!mkdtemp(tmpdir))
        return kerr_set(err, errno, "cannot create a private directory in %s", dir);
    const char *tmpname = strrchr(tmpdir, '/') + 1;
    int tfd = openat(dfd, tmpname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tfd < 0) {
        r = kerr_set(err, errno, "cannot open the private directory %s/%s", dir, tmpname);
        (void)unlinkat(dfd, tmpname, AT_REMOVEDIR);
        return r;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/s", tfd);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = kerr_set(err, errno, "cannot create a unix socket");
        goto fail;
    }
    mode_t old = umask(0177);
    int b = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int be = errno;
    umask(old);
    if (b < 0) {
        r = kerr_set(err, be, "cannot bind the control socket in %s/%s", dir, tmpname);
        goto fail;
    }
    if (c->gid_set && (r = give_socket_to_group(tfd, c->gid, err)) < 0)
        goto fail;
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        r = kerr_set(err, errno, "cannot listen on %s", u->path);
        goto fail;
    }
    if (renameat(tfd, "s", dfd, name) < 0) {
        r = kerr_set(err, errno, "cannot move the control socket to %s", u->path);
        goto fail;
    }
    close_safe(tfd);
    (void)unlinkat(dfd, tmpname, AT_REMOVEDIR);
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        ls->dev = st.st_dev;
        ls->ino = st.st_ino;
    }
    strcpy(ls->unix_path, u->path);
    ls->fd = fd;
    ls->family = AF_UNIX;
    return 0;
fail:
    close_safe(fd);
    (void)unlinkat(tfd, "s", 0);
    close_safe(tfd);
    (void)unlinkat(dfd, tmpname, AT_REMOVEDIR);
    return r;
}

static int listen_inet(struct control *c, struct listener *ls, const struct proto_url *u, struct kerr *err)
{
    int r = tls_setup(c, err);
    if (r < 0)
        return kerr_prefix(err, "cannot listen on tcp://%s:%u", u->host, u->port);
    int fd = socket(u->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create a TCP socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t len = proto_url_sockaddr(u, &ss);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        r = kerr_set(err, errno, "cannot listen on tcp://%s:%u", u->host, u->port);
        close_safe(fd);
        return r;
    }
    ls->fd = fd;
    ls->family = u->family;
    ls->tls = true;
    return 0;
}

/* This machine's vsock CID, to recognise peers on the machine itself;
 * VMADDR_CID_ANY when /dev/vsock cannot tell (the accepted connection's own
 * address is checked as well). */
static unsigned vsock_local_cid(void)
{
    unsigned cid = VMADDR_CID_ANY;
    int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return VMADDR_CID_ANY;
    if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
        cid = VMADDR_CID_ANY;
    close_safe(fd);
    return cid;
}

static int listen_vsock(struct listener *ls, const struct proto_url *u, struct kerr *err)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create a vsock socket for vsock://%u", u->port);
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = u->port };
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        int r = kerr_set(err, errno, "cannot listen on vsock://%u", u->port);
        close_safe(fd);
        return r;
    }
    ls->fd = fd;
    ls->family = AF_VSOCK;
    ls->vsock_local = u->vsock_local;
    ls->local_cid = vsock_local_cid();
    return 0;
}

static int listen_fd(struct control *c, struct listener *ls, const struct proto_url *u, struct kerr *err)
{
    int fd = u->fd, v;
    socklen_t len = sizeof v;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kerr_set(err, errno, "cannot use fd://%d", fd);
    if (!S_ISSOCK(st.st_mode))
        return kerr_msg(err, ENOTSOCK, "cannot use fd://%d: not a socket", fd);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
        return kerr_msg(err, EINVAL, "cannot use fd://%d: not a listening socket", fd);
    len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_STREAM)
        return kerr_msg(err, EINVAL, "cannot use fd://%d: not a stream socket", fd);
    len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0)
        return kerr_set(err, errno, "cannot use fd://%d", fd);
    if (v == AF_INET || v == AF_INET6) {
        /* An inherited TCP socket gets the same mutual TLS as tcp://. */
        int r = tls_setup(c, err);
        if (r < 0)
            return kerr_prefix(err, "cannot use fd://%d", fd);
        ls->tls = true;
    } else if (v != AF_UNIX && v != AF_VSOCK) {
        return kerr_msg(err, EAFNOSUPPORT, "cannot use fd://%d: address family %d", fd, v);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return kerr_set(err, errno, "cannot use fd://%d", fd);
    ls->fd = fd;
    ls->family = v;
    if (v == AF_VSOCK)
        ls->local_cid = vsock_local_cid();
    return 0;
}

static int add_listener(struct control *c, const char *url, struct kerr *err)
{
    struct proto_url u;
    int r = proto_url_parse(url, true, &u, err);
    if (r < 0)
        return r;
    struct listener *ls = calloc(1, sizeof *ls);
    if (!ls || !(ls->url = strdup(url))) {
        free(ls);
        return kerr_set(err, ENOMEM, "cannot listen on %s", url);
    }
    ls->c = c;
    ls->fd = -1;
    switch (u.kind) {
    case PROTO_URL_UNIX: r = listen_unix(c, ls, &u, err); break;
    case PROTO_URL_TCP: r = listen_inet(c, ls, &u, err); break;
    case PROTO_URL_VSOCK: r = listen_vsock(ls, &u, err); break;
    case PROTO_URL_FD: r = listen_fd(c, ls, &u, err); break;
    case PROTO_URL_UDP: r = kerr_msg(err, EINVAL, "cannot listen on %s: not a stream", url); break;
    }
    if (r == 0 && loop_add_fd(c->loop, ls->fd, EPOLLIN, listener_event, ls) < 0)
        r = kerr_set(err, ENOMEM, "cannot listen on %s", url);
    if (r < 0) {
        if (ls->fd >= 0 && u.kind != PROTO_URL_FD)
            close_safe(ls->fd);
        if (ls->unix_path[0])
            unlink(ls->unix_path);
        free(ls->url);
        free(ls);
        return r;
    }
    ls->next = c->listeners;
    c->listeners = ls;
    return 0;
}

static int resolve_group(struct control *c, const char *sysroot, struct kerr *err)
{
    const struct system_spec *sys = &c->m->system;
    if (!sys->control_group)
        return 0;
    /* Parsed by hand from the root filesystem: no NSS in keel. */
    char path[4096];
    snprintf(path, sizeof path, "%s/etc/group", strcmp(sysroot, "/") ? sysroot : "");
    char *buf = NULL;
    int r = read_file_at(AT_FDCWD, path, 4 << 20, &buf, NULL);
    if (r < 0)
        return kerr_set(err, -r, "cannot resolve control_group %s: cannot read %s", sys->control_group, path);
    r = user_group_gid(buf, sys->control_group, &c->gid);
    free(buf);
    if (r < 0)
        return kerr_msg(err, ENOENT, "cannot resolve control_group %s: no such group in %s", sys->control_group,
                        path);
    c->gid_set = true;
    return 0;
}

int control_new(struct control **out, struct loop *l, const struct manifest *m,
                const struct control_backend *be, const struct control_opts *opts, struct kerr *err)
{
    *out = NULL;
    struct control *c = calloc(1, sizeof *c);
    if (!c)
        return kerr_set(err, ENOMEM, "cannot set up the control server");
    c->loop = l;
    c->m = m;
    c->be = *be;
    c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);   /* -1: no refusal message, only the pause */
    if (opts)
        c->opts = *opts;
    if (!c->opts.max_clients)
        c->opts.max_clients = 128;
    if (!c->opts.root_reserve)
        c->opts.root_reserve = 8;
    if (c->opts.root_reserve > c->opts.max_clients / 2)
        c->opts.root_reserve = c->opts.max_clients / 2;   /* a small test server keeps half for members */
    if (!c->opts.idle_ms)
        c->opts.idle_ms = 30000;
    if (!c->opts.handshake_ms)
        c->opts.handshake_ms = 5000;
    if (!c->opts.max_handshakes)
        c->opts.max_handshakes = 16;
    if (!c->opts.max_handshakes_per_peer)
        c->opts.max_handshakes_per_peer = 4;
    if (!c->opts.log_poll_ms)
        c->opts.log_poll_ms = 500;
    c->refusals.rl.interval_ms = 1000;
    c->refusals.rl.burst = 10;
    /* Made now, while keel is the only process of its kernel uid that
     * matters: a container running as the same uid can use up
     * fs.inotify.max_user_instances later, and `logs -f` must still work. */
    c->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (c->ino_fd >= 0 && loop_add_fd(l, c->ino_fd, EPOLLIN, control_logs_inotify, c) < 0) {
        close_safe(c->ino_fd);
        c->ino_fd = -1;
        errno = ENOSPC;
    }
    if (c->ino_fd < 0)
        log_warn("control: cannot create an inotify instance for logs -f: %s; followers poll", strerror(errno));
    int r = resolve_group(c, c->opts.sysroot ? c->opts.sysroot : "/", err);
    if (r < 0) {
        control_free(c);
        return r;
    }
    char *const *urls = m->system.control;
    static char *const defaults[] = { PROTO_DEFAULT_URL, NULL };
    if (!urls || !urls[0])
        urls = defaults;
    for (size_t i = 0; urls[i]; i++) {
        r = add_listener(c, urls[i], err);
        if (r < 0) {
            control_free(c);
            return r;
        }
    }
    for (struct listener *ls = c->listeners; ls; ls = ls->next)
        log_info("control: listening on %s", ls->url);
    *out = c;
    return 0;
}

void control_free(struct control *c)
{
    if (!c)
        return;
    while (c->conns)
        control_conn_kill(c->conns);
    if (c->reap_timer > 0)
        loop_cancel_timer(c->loop, c->reap_timer);
    if (c->retry_timer > 0)
        loop_cancel_timer(c->loop, c->retry_timer);
    reap_dead(c->loop, c);
    /* Sessions whose process still runs stay allocated until the supervisor
     * reports that it ended (their callback data must stay valid); they no longer
     * refer to the server. */
    for (struct exec_session *ex = c->sessions, *nx; ex; ex = nx) {
        nx = ex->next;
        if (ex->grace_timer > 0)
            loop_cancel_timer(c->loop, ex->grace_timer);
        ex->grace_timer = 0;
        ex->c = NULL;
        ex->next = NULL;
    }
    c->sessions = NULL;
    while (c->listeners) {
        struct listener *ls = c->listeners;
        c->listeners = ls->next;
        loop_del_fd(c->loop, ls->fd);
        close_safe(ls->fd);
        struct stat st;
        if (ls->unix_path[0] && stat(ls->unix_path, &st) == 0 && st.st_ino == ls->ino && st.st_dev == ls->dev)
            unlink(ls->unix_path);
        free(ls->url);
        free(ls);
    }
    if (c->ino_fd >= 0) {
        loop_del_fd(c->loop, c->ino_fd);
        close_safe(c->ino_fd);
    }
    tls_conf_free(&c->tls);
    close_safe(c->spare_fd);
    free(c);
}
