/* control_conn.h — the control server's own types, shared by the files of
 * its prefix family and by nothing else (control.h is the interface):
 *   control.c         listeners, accept, limits, connection lifecycle, requests
 *   control_stream.c  `logs`, `logs -f` and `events` streams
 *   control_exec.c    exec sessions
 *   control_cp.c      keel cp
 * Each stream kind has its own struct hung off `struct conn`.
 *
 * Lifetime: connections are never freed while code that holds a pointer to
 * them may still run: control_conn_kill() closes the socket and unlinks the
 * connection, and a zero-delay timer frees the dead ones afterwards.
 */
#ifndef KEEL_CONTROL_CONN_H
#define KEEL_CONTROL_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <mbedtls/ssl.h>

#include "keel/control.h"
#include "keel/json.h"
#include "keel/log.h"
#include "keel/loop.h"
#include "keel/parse.h"
#include "keel/peer.h"
#include "keel/proto.h"
#include "keel/tls.h"

#define IN_CAP (PROTO_MAX_REQUEST + 1)   /* a full buffer without newline is oversized */
#define OUT_HIGH (64 * 1024)               /* stop producing above this */
#define OUT_MAX (1024 * 1024)              /* drop a client whose backlog passes this */
#define LOG_CHUNK 16384
#define LOG_LINE_MAX 16384                 /* longer log lines are split */
#define EXEC_CHUNK 16384
#define CP_CHUNK 32768                     /* keel cp: bytes per chunk (under PROTO_MAX_REQUEST in base64) */
#define CP_MAX (1ULL << 30)                /* keel cp: the largest file, either way */

enum conn_mode { CM_REQUEST, CM_LOGS, CM_EVENTS, CM_EXEC, CM_APPLY /* waiting for an apply's outcome */ };

struct listener {
    struct control *c;
    struct listener *next;
    int fd;
    char *url;
    int family;              /* AF_UNIX, AF_INET(6), AF_VSOCK */
    bool tls;
    bool paused;
    size_t n_conns;          /* its clients: each listener has max_clients of its own */
    size_t n_unauth;         /* of them, TLS handshakes not finished */
    bool vsock_local;        /* ?local=yes: vsock peers on this machine allowed */
    unsigned local_cid;      /* this machine's vsock CID (VMADDR_CID_ANY: unknown) */
    char unix_path[108];     /* created by us: removed at free */
    dev_t dev;
    ino_t ino;
};

struct exec_session;

/* Where the last `want` lines of a log begin (`logs --tail`): a backward
 * scan, pure and resumable, fed the chunks just below `pos` from the end of
 * the log down.  control_stream.c feeds it a bounded number of bytes per
 * loop turn, so a long log with few newlines never holds PID 1's loop. */
struct tail_scan {
    uint64_t size;           /* the log's size when the scan began */
    uint64_t pos;            /* bytes [pos, size) are scanned */
    int64_t want;            /* lines asked for; -1: all */
    int64_t seen;            /* line starts found so far */
    bool done;
    uint64_t from;           /* once done: the offset the stream starts at */
};
void tail_scan_init(struct tail_scan *t, uint64_t size, int64_t lines);
/* Scans buf, the n bytes just below t->pos (n <= t->pos); true when done. */
bool tail_scan_feed(struct tail_scan *t, const char *buf, size_t n);

/* A connection streaming a log (`logs`, `logs -f`): control_stream.c. */
struct conn_logs {
    int fd;                  /* -1: not streaming */
    int64_t poll_timer;      /* following without inotify */
    char *path;
    int dir;                 /* the log directory (owned, O_PATH), or AT_FDCWD: path is opened as it is */
    const char *name;        /* path's name in dir */
    char *partial;           /* a line not yet complete */
    size_t partial_len;
    bool follow;
    bool pump_more;          /* more to send (or scan) at once */
    bool scanning;           /* finding where --tail's lines begin: no reply yet */
    struct tail_scan tail;
    char cname[KEEL_NAME_MAX + 1];   /* the container, for the reply */
    uint64_t left;           /* without follow: bytes still to send (the end point) */
};

/* A connection streaming state changes (`events`): control_stream.c. */
struct conn_events {
    int sub;                 /* the supervisor's subscription handle; 0: none */
    bool member;             /* held by a peer that is not an administrator: counted in member_event_streams */
};

struct conn {
    struct control *c;
    struct conn *next, *prev;
    struct listener *lst;
    int fd;
    uint32_t events;         /* registered epoll mask */
    bool dead, close_when_flushed, read_eof;
    bool processing;         /* inside control_conn_process */
    char peer[64];
    struct peer_key key;

    bool tls, handshake_done;
    mbedtls_ssl_context ssl;
    size_t tls_pending;      /* a write mbedTLS asked us to repeat */

    char in[IN_CAP];
    size_t in_len;
    int fds[3];              /* SCM_RIGHTS received: no request takes them (closed, exec refused) */
    int nfds;

    struct json_writer out;
    size_t out_off;
    int send_fd;             /* an fd to attach to byte send_fd_at of the output */
    size_t send_fd_at;

    uint64_t last_active;    /* the current deadline started (accept, handshake, last request) */
    int64_t timer;
    enum conn_mode mode;
    enum conn_mode clock_mode;   /* the mode the deadline last saw */

    struct conn_logs logs;       /* CM_LOGS: control_stream.c */
    struct conn_events ev;       /* CM_EVENTS: control_stream.c */
    struct exec_session *ex;     /* CM_EXEC: control_exec.c */
    struct update_install *upd;  /* a keel update being received: control_update.c */
    struct conn_cp *cp;          /* a keel cp in progress: control_cp.c */
    char *apply_text;            /* CM_APPLY: the manifest while its preflight runs (owned), else NULL */
    size_t apply_len;
    bool apply_dry;
};

struct exec_session {
    struct control *c;
    struct conn *conn;       /* NULL once the client is gone */
    pid_t pid;
    bool exited;
    int status;
    char why[512];           /* why the command could not start (the helper's report), or "" */
    bool stream, tty;
    int in_fd, out_fd, err_fd;   /* stream mode: our ends (pty master in out_fd for -t) */
    char *in_buf;
    size_t in_len;
    bool in_eof;
    int64_t grace_timer;
    bool released;
    struct exec_session *next;
};

struct control {
    struct loop *loop;
    const struct manifest *m;
    struct control_backend be;
    struct control_opts opts;
    gid_t gid;
    bool gid_set;
    struct listener *listeners;
    struct conn *conns;
    size_t n_conns;
    struct conn *dead;
    int64_t reap_timer;
    int64_t retry_timer;
    int spare_fd;            /* kept open to be closed when out of fds: see refuse_starved */
    bool fd_starved;         /* refusing clients for want of fds (warned once) */
    struct tls_conf tls;
    struct conn *updating;                /* the one connection receiving a bundle, or NULL */
    struct exec_session *sessions;        /* process still running */
    struct exec_session *dead_sessions;   /* released, freed by reap_dead */
    int ino_fd;                           /* shared by every `logs -f` follower; -1: they poll */
    uint64_t accepted, refused;           /* connections, for the metrics */
    unsigned member_event_streams;        /* `events` streams of peers not administrators (control_stream.c) */
    struct peer_refusals refusals;        /* refusal messages: peer.h */
};

static inline size_t control_out_pending(const struct conn *cn)
{
    return cn->out.len - cn->out_off;
}

/* control.c: the connection's life and its output. */
void control_arm_reap(struct control *c);        /* frees the dead connections and sessions soon */
void control_conn_flush(struct conn *cn);        /* sends what it can; may kill cn */
void control_conn_kill(struct conn *cn);         /* closes now, frees later (see above) */
void control_conn_process(struct conn *cn);      /* runs the buffered request lines (a stream or exec ended) */
void control_conn_fail(struct conn *cn, const char *op, const char *msg);   /* error line, then close */
/* Whether cn may run the administrator's ops (apply, update, rollback, cp):
 * each hands over root on the machine (a manifest or payload can bind any
 * host path; cp acts as host root on a container's files), so on a unix
 * socket only uid 0, never a member of control_group; the TCP and vsock
 * listeners are the administrator's (mutual TLS, the hypervisor). */
bool control_conn_is_admin(const struct conn *cn);
/* A response line: begin (keel, op, ok), members, end ("}\n"). */
void control_reply_begin(struct json_writer *w, const char *op, bool ok);
void control_reply_end(struct json_writer *w);
void control_write_wait_status(struct json_writer *w, int status);   /* {"code":..., "signal":...} */

/* control_stream.c: start a stream on a connection in CM_REQUEST (the
 * request is answered on cn->out); pump when the socket takes more; stop
 * when the connection dies. */
void control_logs_start(struct conn *cn, const struct proto_request *req);
void control_logs_pump(struct conn *cn);
void control_logs_stop(struct conn *cn);
void control_logs_inotify(struct loop *l, int fd, uint32_t events, void *data);   /* the shared instance's handler */
void control_events_start(struct conn *cn);

/* control_exec.c: a session outlives its connection until the process
 * ends; detach when the connection goes; pump its output into cn->out and
 * the connection's stdin into the process as the sockets allow. */
/* control_update.c: keel update (update, then chunk until eof) and rollback. */
void control_update_request(struct conn *cn, const struct proto_request *req);
void control_update_stop(struct conn *cn);   /* the connection goes: an unfinished update is dropped */

/* control_cp.c: keel cp (cp_get / cp_put, then chunk until eof). */
void control_cp_request(struct conn *cn, const struct proto_request *req);
void control_cp_stop(struct conn *cn);       /* the connection goes: a half-written file is removed */

void control_exec_start(struct conn *cn, const struct proto_request *req);
void control_exec_input(struct conn *cn, const struct proto_request *req);   /* stdin, resize */
void control_exec_detach(struct exec_session *ex);
void control_exec_pump_out(struct exec_session *ex);
void control_exec_pump_in(struct exec_session *ex);

#endif
