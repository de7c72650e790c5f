/* control.h — the control server: keel as dockerd, in keel's one event loop.
 *
 * Listeners come from `[system] control` (default unix:///run/keel.sock):
 *   unix:///PATH   0600 socket (0660 with control_group), bound inside a fresh
 *                  0700 directory under umask 0177 and renamed into place, so
 *                  there is never a window with looser permissions; never an
 *                  abstract socket; SO_PEERCRED: uid 0 or a member of
 *                  control_group, else refused.
 *   tcp://IP:PORT  mutual TLS only (mbedTLS): control_tls_cert/_key/_ca must
 *                  be set, client certificates must chain to the CA.
 *   vsock://PORT   AF_VSOCK: the hypervisor host (or another VM) reaches the
 *                  guest.  Peers on this machine (CID 1, the guest's own CID)
 *                  are refused: vsock carries no credentials, and a process
 *                  of a container could otherwise connect to keel through
 *                  vsock loopback.  vsock://PORT?local=yes lets them in.
 *   fd://N         an inherited listening stream socket (unix: peer creds
 *                  checked; inet: mutual TLS as for tcp).
 * The protocol (newline-delimited JSON, versioned) is in docs/control.md.
 *
 * The server never blocks: non-blocking sockets and TLS handshakes, requests
 * bounded to PROTO_MAX_REQUEST bytes, per-client output bounded (a client
 * that does not read is dropped, except log streaming, which pauses reading
 * the log instead), a cap on clients per listener (beyond it, connections
 * wait in the backlog; one listener's clients never take another's slots, so
 * the unix socket stays reachable whatever happens on TCP or vsock; a unix
 * listener's last root_reserve slots are root's, other peers are refused at
 * once beyond them: control_unix_admits), a low
 * cap on connections still in their TLS handshake (per listener and per
 * source address; beyond it they are closed at once) with a short absolute
 * deadline, an absolute deadline for each request line (bytes dribbled in
 * do not extend it), a bounded number of accepts per loop turn, and
 * rate-limited refusal messages.  The first malformed message gets an error
 * and closes its connection.
 *
 * `keel logs -f` followers share one inotify instance made when the server
 * starts (a container running as the same kernel uid as keel can use up the
 * per-user instances later); without it, or without a watch, a follower
 * polls its log.
 *
 * The server reaches the supervisor only through `struct control_backend`,
 * a table of function pointers with exactly supervise.h's signatures: the daemon
 * fills it with control_backend_supervisor(), unit tests with fakes.
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_CONTROL_H
#define KEEL_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/cgroup.h"
#include "keel/err.h"
#include "keel/json.h"
#include "keel/loop.h"
#include "keel/manifest.h"
#include "keel/proto.h"
#include "keel/supervise.h"

struct control_backend {
    struct supervisor *sup;
    struct cgroup_root *cgroot;       /* NULL: stats report "unavailable" */
    size_t (*count)(const struct supervisor *s);
    void (*status)(const struct supervisor *s, size_t i, struct container_status *st);
    int (*find)(const struct supervisor *s, const char *name);
    const char *(*log_path)(const struct supervisor *s, size_t i);
    int (*log_dir_fd)(const struct supervisor *s, size_t i);   /* NULL or -1: log_path is opened as it is */
    const struct manifest *(*manifest)(const struct supervisor *s);
    int (*start)(struct supervisor *s, const char *name, struct kerr *err);
    int (*stop)(struct supervisor *s, const char *name, struct kerr *err);
    int (*restart)(struct supervisor *s, const char *name, struct kerr *err);
    int (*kill)(struct supervisor *s, const char *name, int sig, struct kerr *err);
    int (*subscribe)(struct supervisor *s, sup_event_cb cb, void *data);
    void (*unsubscribe)(struct supervisor *s, int handle);
    int (*exec)(struct supervisor *s, const char *name, char *const *argv, const struct exec_io *io,
                sup_child_cb cb, void *data, pid_t *pid, struct kerr *err);
    void (*request_power)(struct supervisor *s, enum power_action action);
    int (*stats)(struct cgroup_root *root, const char *name, struct cgroup_stats *st, struct kerr *err);
    /* `status` without a name: writes the members of the "machine" object
     * (the uplinks and their DHCP leases); NULL writes none. */
    void (*machine)(void *data, struct json_writer *out);
    void *machine_data;
    int (*apply)(struct supervisor *s, struct manifest *nm, bool dry_run, sup_apply_cb cb, void *data,
                 struct kerr *err);
    void (*apply_forget)(struct supervisor *s, const void *data);
    /* The apply's preflight (supervisor_preflight); NULL: none, the load runs at once. */
    int (*preflight)(struct supervisor *s, const char *path, const char *buf, size_t len, sup_preflight_cb cb,
                     void *data, struct kerr *err);
    /* NULL when a change (update, rollback) may begin, else why not (supervisor_busy); a NULL hook: never busy. */
    const char *(*busy)(const struct supervisor *s);
    /* keel update / rollback: the manifest whose [system] update_volume and
     * update_key apply (the one the machine booted with); NULL: refused. */
    const struct manifest *update_m;
};

/* The real backend.  Inline so that only main's object refers to the
 * supervisor and cgroup modules. */
static inline struct control_backend control_backend_supervisor(struct supervisor *s, struct cgroup_root *cg)
{
    struct control_backend be = {
        .sup = s, .cgroot = cg,
        .count = supervisor_count, .status = supervisor_status, .find = supervisor_find,
        .log_path = supervisor_log_path, .log_dir_fd = supervisor_log_dir_fd, .manifest = supervisor_manifest,
        .start = supervisor_start, .stop = supervisor_stop, .restart = supervisor_restart,
        .kill = supervisor_kill, .subscribe = supervisor_subscribe,
        .unsubscribe = supervisor_unsubscribe, .exec = supervisor_exec,
        .request_power = supervisor_request_power, .stats = cgroup_container_stats,
        .apply = supervisor_apply, .apply_forget = supervisor_apply_forget, .preflight = supervisor_preflight,
        .busy = supervisor_busy,
    };
    return be;
}

struct control_opts {
    const char *sysroot;       /* where /etc/group is read (default "/") */
    unsigned max_clients;      /* default 128, per listener */
    unsigned root_reserve;     /* default 8 (at most half of max_clients): a unix listener's last slots, root's */
    unsigned idle_ms;          /* default 30000: absolute deadline for each request line */
    unsigned handshake_ms;     /* default 5000: absolute TLS handshake deadline from accept */
    unsigned max_handshakes;   /* default 16 per listener: connections not yet authenticated */
    unsigned max_handshakes_per_peer;  /* default 4 per source address (IPv6: per /64) */
    unsigned log_poll_ms;      /* default 500: `logs -f` polling interval without inotify */
};

struct control;

/* Opens every listener of m->system.control (the default when empty) and
 * registers them with the loop.  All or nothing: on error nothing stays open.
 * `m` and `be->sup` must outlive the control server; *be is copied. */
int control_new(struct control **out, struct loop *l, const struct manifest *m,
                const struct control_backend *be, const struct control_opts *opts, struct kerr *err);
/* Closes every client and listener and removes the unix sockets it created. */
void control_free(struct control *c);
size_t control_client_count(const struct control *c);
/* Connections accepted and refused (at once: credentials, limits, out of
 * fds) since the server started, over all listeners; 0 for a NULL server. */
void control_counters(const struct control *c, uint64_t *accepted, uint64_t *refused);

/* --- pure pieces, exposed for tests ------------------------------------- */

/* Writes the one-line response (object + "\n") for the ops that need no
 * connection state: version, ps, status, start, stop, restart, kill, stats,
 * poweroff, reboot, halt.  Returns 0, or -EOPNOTSUPP for other ops. */
int control_respond(const struct control_backend *be, const struct proto_request *req,
                    struct json_writer *out);
/* An error response line: {"keel":1,"ok":false,"error":MSG}. */
void control_error_line(struct json_writer *out, const char *op, const char *msg);
/* Whether a unix listener with n_conns of its max_clients slots taken admits
 * a peer of uid `uid`: root always (up to max_clients), anyone else only
 * while `reserve` slots stay free, so that members of control_group holding
 * every stream they may open cannot lock root out of PID 1's control. */
bool control_unix_admits(size_t n_conns, unsigned max_clients, unsigned reserve, uid_t uid);

#endif
