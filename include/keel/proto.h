/* proto.h — the control protocol's facts, shared by the server (control),
 * the client and the manifest's checks: the version, the default listener,
 * the request bound, the listener URL syntax and the request parser.
 *
 * Pure: no I/O, no state.  The wire format is in docs/control.md.
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_PROTO_H
#define KEEL_PROTO_H

#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/err.h"
#include "keel/json.h"

#define PROTO_VERSION 1                             /* the "keel" member of every message */
#define PROTO_DEFAULT_URL "unix:///run/keel.sock"   /* the listener without [system] control */
#define PROTO_MAX_REQUEST 65536                     /* bytes of one request line */
#define PROTO_MAX_ARGV 256                          /* exec: most argv entries */

/* Splits a listener URL: unix:///path, tcp://1.2.3.4:5, tcp://[::1]:5,
 * vsock://PORT[?local=yes] (server) or vsock://CID:PORT (client), fd://N.
 * Numeric addresses only (no name resolution). */
enum proto_url_kind { PROTO_URL_UNIX, PROTO_URL_TCP, PROTO_URL_VSOCK, PROTO_URL_FD, PROTO_URL_UDP };
struct proto_url {
    enum proto_url_kind kind;
    char path[108];            /* unix */
    char host[64];             /* tcp: the literal as written, without brackets */
    int family;                /* tcp: AF_INET / AF_INET6 */
    unsigned char addr[16];    /* tcp: network order */
    unsigned port;             /* tcp, vsock */
    unsigned cid;              /* vsock client, default VMADDR_CID_LOCAL (1) */
    bool vsock_local;          /* vsock listener: ?local=yes, peers on this machine allowed */
    int fd;                    /* fd:// */
};
int proto_url_parse(const char *url, bool server, struct proto_url *u, struct kerr *err);
/* An inet endpoint of keel's other channels, in the same syntax: tcp://IP:PORT
 * or (when `udp` is true) udp://IP:PORT, IPv6 in brackets; u->kind is
 * PROTO_URL_TCP or PROTO_URL_UDP.  `what` names the key in the message
 * ("metrics", "syslog"). */
/* The socket address of a tcp:// or udp:// URL; returns its length. */
socklen_t proto_url_sockaddr(const struct proto_url *u, struct sockaddr_storage *ss);
int proto_inet_url_parse(const char *url, bool udp, const char *what, struct proto_url *u, struct kerr *err);

enum proto_op {
    PROTO_OP_VERSION, PROTO_OP_PS, PROTO_OP_STATUS, PROTO_OP_LOGS, PROTO_OP_START, PROTO_OP_STOP,
    PROTO_OP_RESTART, PROTO_OP_KILL, PROTO_OP_EXEC, PROTO_OP_STATS, PROTO_OP_EVENTS, PROTO_OP_POWEROFF,
    PROTO_OP_REBOOT, PROTO_OP_HALT, PROTO_OP_APPLY,
    PROTO_OP_STDIN, PROTO_OP_RESIZE,     /* only inside a streamed exec */
    PROTO_OP_UPDATE, PROTO_OP_CHUNK, PROTO_OP_ROLLBACK,   /* keel update: chunk only after update */
    PROTO_OP_SLOTS,                      /* keel status without a name: the payload slots */
    PROTO_OP_CP_GET, PROTO_OP_CP_PUT,    /* keel cp: then chunk until eof (control_cp.c) */
};
/* "logs" for PROTO_OP_LOGS: the op's name on the wire; "?" when unknown. */
const char *proto_op_name(enum proto_op op);

struct proto_request {
    enum proto_op op;
    const char *name;          /* container, NULL when not given */
    int64_t lines;             /* logs: -1 = all */
    bool follow;               /* logs */
    int signal;                /* kill */
    char **argv;               /* exec: NULL-terminated, pointers into `tree` */
    bool tty, stream;          /* exec */
    unsigned rows, cols;       /* exec -t / resize; 0 = unknown */
    const char *data;          /* stdin: base64 */
    size_t data_len;
    bool eof;                  /* stdin, chunk */
    const char *manifest;      /* apply: the manifest's text (bounded by the request line) */
    size_t manifest_len;
    bool dry_run;              /* apply */
    const char *path;          /* cp_get, cp_put: inside the container */
    int mode;                  /* cp_put: permission bits, -1 when not given */
    struct json_value *tree;   /* owns the strings above */
};

/* Parses and validates one request line (without its newline).  Unknown ops
 * or keys, wrong types and bad values are errors ("malformed request: ...");
 * on error *req holds nothing to free.  Signals are names in any case
 * ("term", "SIGTERM"), RTMIN+N / RTMAX-N, or numbers. */
int proto_request_parse(const char *line, size_t len, struct proto_request *req, struct kerr *err);
void proto_request_free(struct proto_request *req);

#endif
