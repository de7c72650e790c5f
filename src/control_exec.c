/* control_exec.c — exec sessions of the control server (control_conn.h): a
 * command run in a container by the supervisor, its stdio relayed through
 * the connection ("stream": true) or a terminal keel makes (-t; on a unix
 * socket the pty master is passed to the client).  A session outlives its
 * connection until the process ends.
 */
#include "keel/control_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "keel/util.h"

/* --- exec ------------------------------------------------------------------- */

/* Sessions are released, never freed in place: the reap timer frees them,
 * so a callback that still holds one (a pipe event in the same epoll batch)
 * finds it marked released.  Without a server (after control_free) the
 * supervisor's exit callback frees it directly. */
static void session_release(struct exec_session *ex)
{
    struct control *c = ex->c;
    if (ex->released)
        return;
    ex->released = true;
    if (!c) {
        free(ex->in_buf);
        free(ex);
        return;
    }
    for (struct exec_session **p = &c->sessions; *p; p = &(*p)->next)
        if (*p == ex) {
            *p = ex->next;
            break;
        }
    if (ex->grace_timer > 0)
        loop_cancel_timer(c->loop, ex->grace_timer);
    ex->grace_timer = 0;
    ex->next = c->dead_sessions;
    c->dead_sessions = ex;
    control_arm_reap(c);
}

static void exec_close_fd(struct exec_session *ex, int *fd)
{
    if (*fd < 0)
        return;
    if (ex->c)
        loop_del_fd(ex->c->loop, *fd);
    close_safe(*fd);
    *fd = -1;
}

static void exec_close_all(struct exec_session *ex)
{
    if (ex->out_fd == ex->in_fd)
        ex->out_fd = -1;
    exec_close_fd(ex, &ex->in_fd);
    exec_close_fd(ex, &ex->out_fd);
    exec_close_fd(ex, &ex->err_fd);
}

/* The client went away (or the server closes): stop relaying; the session
 * lives on until the supervisor reports the process' exit. */
void control_exec_detach(struct exec_session *ex)
{
    ex->conn = NULL;
    exec_close_all(ex);
    if (ex->exited)
        session_release(ex);
}

static void exec_send_exit(struct exec_session *ex)
{
    struct conn *cn = ex->conn;
    struct json_writer *w = &cn->out;
    json_obj_begin(w);
    json_kint(w, "keel", PROTO_VERSION);
    json_kstr(w, "op", "exec");
    json_kint(w, "pid", ex->pid);
    json_key(w, "exit");
    control_write_wait_status(w, ex->status);
    if (ex->why[0])
        json_kstr(w, "error", ex->why);
    json_obj_end(w);
    json_raw(w, "\n", 1);
    cn->ex = NULL;
    cn->mode = CM_REQUEST;
    ex->conn = NULL;
    exec_close_all(ex);
    session_release(ex);
    control_conn_process(cn);   /* requests that arrived meanwhile; flushes */
}

static void exec_maybe_finish(struct exec_session *ex)
{
    if (!ex->released && ex->exited && ex->conn && ex->out_fd < 0 && ex->err_fd < 0)
        exec_send_exit(ex);
}

/* Relays the process' output to the client while the client keeps up; a
 * full pipe then blocks the process, never keel. */
static void exec_relay(struct exec_session *ex, int *fd, const char *key)
{
    char buf[EXEC_CHUNK];
    while (*fd >= 0 && ex->conn && control_out_pending(ex->conn) < OUT_HIGH) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {   /* EOF, or EIO on a pty master whose slave is closed */
            if (ex->in_fd == *fd)
                ex->in_fd = -1;
            exec_close_fd(ex, fd);
            break;
        }
        struct json_writer *w = &ex->conn->out;
        json_obj_begin(w);
        json_kint(w, "keel", PROTO_VERSION);
        json_key(w, key);
        json_base64(w, buf, (size_t)n);
        json_obj_end(w);
        json_raw(w, "\n", 1);
    }
}

void control_exec_pump_out(struct exec_session *ex)
{
    if (ex->released || !ex->stream || !ex->conn)
        return;
    struct conn *cn = ex->conn;
    exec_relay(ex, &ex->out_fd, "stdout");
    exec_relay(ex, &ex->err_fd, "stderr");
    exec_maybe_finish(ex);
    control_conn_flush(cn);
}

static void exec_grace(struct loop *l, void *data)
{
    struct exec_session *ex = data;
    ex->grace_timer = 0;
    if (ex->released || !ex->conn)
        return;
    /* Exited, but something (a daemonized grandchild) keeps the output
     * open: report the exit anyway. */
    struct conn *cn = ex->conn;
    if (ex->in_fd == ex->out_fd)
        ex->in_fd = -1;
    exec_close_fd(ex, &ex->out_fd);
    exec_close_fd(ex, &ex->err_fd);
    exec_maybe_finish(ex);
    control_conn_flush(cn);
}

static void exec_done(pid_t pid, int status, void *data)
{
    struct exec_session *ex = data;
    ex->exited = true;
    ex->status = status;
    if (!ex->c || !ex->conn) {
        session_release(ex);
        return;
    }
    if (ex->stream) {
        control_exec_pump_out(ex);
        if (!ex->released && ex->conn && !ex->grace_timer) {
            int64_t id = loop_add_timer(ex->c->loop, 1000, exec_grace, ex);
            ex->grace_timer = id > 0 ? id : 0;
        }
        return;
    }
    exec_send_exit(ex);
}

static void exec_out_event(struct loop *l, int fd, uint32_t events, void *data)
{
    control_exec_pump_out(data);
}

void control_exec_pump_in(struct exec_session *ex)
{
    if (ex->released || ex->tty)
        return;
    while (ex->in_len && ex->in_fd >= 0) {
        ssize_t n = write(ex->in_fd, ex->in_buf, ex->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            ex->in_len = 0;   /* the process closed its stdin: drop the input */
            break;
        }
        memmove(ex->in_buf, ex->in_buf + n, ex->in_len - (size_t)n);
        ex->in_len -= (size_t)n;
    }
    if (ex->in_fd < 0) {
        ex->in_len = 0;
    } else if (!ex->in_len && ex->in_eof) {
        shutdown(ex->in_fd, SHUT_WR);
        exec_close_fd(ex, &ex->in_fd);
    }
    else if (ex->c)
        loop_mod_fd(ex->c->loop, ex->in_fd, ex->in_len ? EPOLLOUT : 0);
}

static void exec_in_event(struct loop *l, int fd, uint32_t events, void *data)
{
    struct exec_session *ex = data;
    control_exec_pump_in(ex);
    if (!ex->released && !ex->in_len && ex->conn)
        control_conn_process(ex->conn);   /* input lines waiting behind the stdin backlog */
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

static int open_pty(int *master, int *slave, unsigned rows, unsigned cols)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -errno;
    char name[64];
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
        int e = errno;
        close_safe(m);
        return -e;
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int e = errno;
        close_safe(m);
        return -e;
    }
    if (rows && cols) {
        struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
        ioctl(m, TIOCSWINSZ, &ws);
    }
    *master = m;
    *slave = s;
    return 0;
}

/* All three are socketpairs, never pipes.
 *
 * stdout and stderr: a process that splices into a pipe (sendfile(2) or
 * splice(2) from a socket or a terminal into it: busybox cat does so for
 * `cat` with a socket on stdin) holds the pipe's mutex while it waits for
 * its input, and a read of the other end sleeps on that mutex, even with
 * O_NONBLOCK, uninterruptibly.  keel would stall in exec_relay() and never
 * deliver the very input that would release it: the whole event loop of
 * PID 1 deadlocked on the command (and any process of the container can
 * reach a pipe of the command through /proc/PID/fd/N).  recv() on keel's
 * end of a unix socket takes only locks of that end, which nothing in the
 * container holds.
 *
 * stdin: end of input is shutdown(SHUT_WR), which reaches the command even
 * if a copy of keel's end leaked into some other process (a pipe reports
 * EOF only once every writer is closed). */
static int exec_pipes(struct exec_session *ex, int child[3])
{
    int p[3][2];
    for (int i = 0; i < 3; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p[i]) < 0) {
            int e = errno;
            for (int k = 0; k < i; k++)
                close_safe(p[k][0]), close_safe(p[k][1]);
            return -e;
        }
    }
    /* One way each ([0] is the command's end, [1] keel's): shutting down
     * one end for writing makes the other end unreadable too. */
    if (shutdown(p[0][0], SHUT_WR) < 0 ||   /* the command only reads its stdin */
        shutdown(p[1][1], SHUT_WR) < 0 ||   /* and only writes its output */
        shutdown(p[2][1], SHUT_WR) < 0) {
        int e = errno;
        for (int k = 0; k < 3; k++)
            close_safe(p[k][0]), close_safe(p[k][1]);
        return -e;
    }
    child[0] = p[0][0], child[1] = p[1][0], child[2] = p[2][0];
    ex->in_fd = p[0][1], ex->out_fd = p[1][1], ex->err_fd = p[2][1];
    return 0;
}

/* The command's stdio is always keel's own: socket pairs relayed through the
 * connection, or with -t a pty keel made (relayed too, or its master passed
 * to a unix client).  A client's own fds never enter the container: a
 * directory fd there is the host's tree (`keel exec c sh < /etc`), a
 * terminal is the admin's (TIOCSTI, keystrokes), and any fd of the command
 * can be reopened by the container's root through /proc/PID/fd/N once the
 * command has exec'd, with the container's rights rather than the fd's
 * (a read-only regular file reopened for writing).  Checking fds by type
 * would leave that last door open; relaying costs a copy through keel. */
void control_exec_start(struct conn *cn, const struct proto_request *req)
{
    struct control *c = cn->c;
    bool stream = req->stream || !req->tty || cn->lst->family != AF_UNIX;
    int child[3] = { -1, -1, -1 };
    int master = -1;
    char msg[KERR_MSG_MAX + 64];
    if (!c->be.exec) {
        control_error_line(&cn->out, "exec", "exec is not available");
        return;
    }
    if (c->be.find(c->be.sup, req->name) < 0) {
        snprintf(msg, sizeof msg, "no such container: %s", req->name);
        control_error_line(&cn->out, "exec", msg);
        return;
    }
    if (cn->nfds) {
        control_conn_fail(cn, "exec", "malformed request: exec takes no fds: its stdio is relayed through the "
                              "connection (\"stream\": true) or is a terminal keel makes (\"tty\": true)");
        return;
    }
    struct exec_session *ex = calloc(1, sizeof *ex);
    if (!ex) {
        control_error_line(&cn->out, "exec", "out of memory");
        return;
    }
    ex->c = c;
    ex->in_fd = ex->out_fd = ex->err_fd = -1;
    ex->stream = stream;
    ex->tty = req->tty;

    int r = 0;
    if (req->tty) {
        r = open_pty(&master, &child[0], req->rows, req->cols);
        child[1] = child[2] = child[0];
        if (r == 0 && stream) {
            /* The master is relayed by keel: output and input both. */
            ex->out_fd = ex->in_fd = master;
            master = -1;
        }
    } else {
        r = exec_pipes(ex, child);
    }
    if (r < 0) {
        snprintf(msg, sizeof msg, "cannot set up exec stdio: %s", strerror(-r));
        control_error_line(&cn->out, "exec", msg);
        free(ex);
        return;
    }

    struct exec_io io = { .in = child[0], .out = child[1], .err = child[2], .tty = req->tty,
                          .why = ex->why, .why_size = sizeof ex->why };
    struct kerr e = { 0 };
    pid_t pid = 0;
    r = c->be.exec(c->be.sup, req->name, req->argv, &io, exec_done, ex, &pid, &e);
    /* The child has its own copies now. */
    close_safe(child[0]);
    if (child[1] != child[0])
        close_safe(child[1]);
    if (child[2] != child[0] && child[2] != child[1])
        close_safe(child[2]);
    if (r < 0) {
        close_safe(master);
        exec_close_all(ex);
        free(ex);
        control_error_line(&cn->out, "exec", e.msg[0] ? e.msg : strerror(-r));
        return;
    }
    ex->pid = pid;
    ex->conn = cn;
    ex->next = c->sessions;
    c->sessions = ex;
    cn->ex = ex;
    cn->mode = CM_EXEC;

    if (stream) {
        if (set_nonblock(ex->out_fd) < 0 || loop_add_fd(c->loop, ex->out_fd, EPOLLIN, exec_out_event, ex) < 0) {
            if (ex->in_fd == ex->out_fd)
                ex->in_fd = -1;
            exec_close_fd(ex, &ex->out_fd);
        }
        if (ex->err_fd >= 0 &&
            (set_nonblock(ex->err_fd) < 0 || loop_add_fd(c->loop, ex->err_fd, EPOLLIN, exec_out_event, ex) < 0))
            exec_close_fd(ex, &ex->err_fd);
        if (ex->in_fd >= 0 && !ex->tty &&
            (set_nonblock(ex->in_fd) < 0 || loop_add_fd(c->loop, ex->in_fd, 0, exec_in_event, ex) < 0))
            exec_close_fd(ex, &ex->in_fd);
    }

    size_t line_start = cn->out.len;
    control_reply_begin(&cn->out, "exec", true);
    json_kint(&cn->out, "pid", pid);
    json_kbool(&cn->out, "tty", req->tty);
    json_kbool(&cn->out, "stream", stream);
    control_reply_end(&cn->out);
    if (master >= 0) {
        /* -t on a unix socket: the pty master travels to the client with
         * the first byte of this response; the client relays its terminal
         * and sets the window size on it directly. */
        close_safe(cn->send_fd);
        cn->send_fd = master;
        cn->send_fd_at = line_start;
    }
}

void control_exec_input(struct conn *cn, const struct proto_request *req)
{
    struct exec_session *ex = cn->ex;
    if (!ex || !ex->stream) {
        control_conn_fail(cn, proto_op_name(req->op), "malformed request: stdin and resize are for streamed exec only");
        return;
    }
    if (req->op == PROTO_OP_RESIZE) {
        if (ex->tty && ex->out_fd >= 0 && req->rows && req->cols) {
            struct winsize ws = { .ws_row = (unsigned short)req->rows, .ws_col = (unsigned short)req->cols };
            ioctl(ex->out_fd, TIOCSWINSZ, &ws);
        }
        return;
    }
    if (req->data_len) {
        unsigned char *buf = malloc(req->data_len / 4 * 3 + 1);
        long n = buf ? json_base64_decode(req->data, req->data_len, buf) : -ENOMEM;
        if (n < 0) {
            free(buf);
            control_conn_fail(cn, "stdin", "malformed request: bad base64 in \"data\"");
            return;
        }
        if (ex->in_fd >= 0 && !ex->in_eof) {
            if (ex->tty) {
                /* A pty master takes input directly; what it cannot take now
                 * is dropped, as a terminal does on overrun. */
                if (write(ex->in_fd, buf, (size_t)n) < 0) {
                    /* the process is gone or not reading */
                }
            } else {
                char *nb = realloc(ex->in_buf, ex->in_len + (size_t)n);
                if (nb) {
                    memcpy(nb + ex->in_len, buf, (size_t)n);
                    ex->in_buf = nb;
                    ex->in_len += (size_t)n;
                }
            }
        }
        free(buf);
    }
    if (req->eof && !ex->in_eof) {
        ex->in_eof = true;
        if (ex->tty && ex->in_fd >= 0) {
            static const char eot = 4;   /* ^D: end of input for a terminal */
            if (write(ex->in_fd, &eot, 1) < 0) {
                /* ignored */
            }
        }
    }
    control_exec_pump_in(ex);
}

