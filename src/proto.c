/* proto.c — the control protocol's pure parts (proto.h): listener URLs and
 * request lines.
 */
#include "keel/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keel/parse.h"
#include "keel/util.h"

/* --- URLs ------------------------------------------------------------------ */

static int parse_port(const char *s, unsigned max, unsigned *out)
{
    if (!*s)
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v == 0 || v > max || *s < '0' || *s > '9')
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

int proto_url_parse(const char *url, bool server, struct proto_url *u, struct kerr *err)
{
    memset(u, 0, sizeof *u);
    u->fd = -1;
    if (str_starts(url, "unix://")) {
        const char *p = url + 7;
        u->kind = PROTO_URL_UNIX;
        /* Only filesystem sockets: an abstract socket has no permissions. */
        if (p[0] != '/')
            return kerr_msg(err, EINVAL, "bad control URL %s: the unix socket path must be absolute", url);
        if (strlen(p) >= sizeof u->path)
            return kerr_msg(err, ENAMETOOLONG, "bad control URL %s: path too long", url);
        strcpy(u->path, p);
        return 0;
    }
    if (str_starts(url, "tcp://")) {
        const char *p = url + 6;
        const char *colon;
        u->kind = PROTO_URL_TCP;
        if (*p == '[') {
            const char *close = strchr(p, ']');
            if (!close || close[1] != ':' || (size_t)(close - p - 1) >= sizeof u->host)
                return kerr_msg(err, EINVAL, "bad control URL %s: expected tcp://[IPV6]:PORT", url);
            memcpy(u->host, p + 1, (size_t)(close - p - 1));
            colon = close + 1;
            u->family = AF_INET6;
        } else {
            colon = strrchr(p, ':');
            if (!colon || (size_t)(colon - p) >= sizeof u->host)
                return kerr_msg(err, EINVAL, "bad control URL %s: expected tcp://IP:PORT", url);
            memcpy(u->host, p, (size_t)(colon - p));
            u->family = AF_INET;
        }
        /* Numeric addresses only: keel never resolves names (no NSS). */
        if (inet_pton(u->family, u->host, u->addr) != 1)
            return kerr_msg(err, EINVAL, "bad control URL %s: '%s' is not a numeric IP address", url, u->host);
        if (parse_port(colon + 1, 65535, &u->port) < 0)
            return kerr_msg(err, EINVAL, "bad control URL %s: bad port", url);
        return 0;
    }
    if (str_starts(url, "vsock://")) {
        const char *p = url + 8;
        const char *colon = strchr(p, ':');
        u->kind = PROTO_URL_VSOCK;
        u->cid = VMADDR_CID_LOCAL;
        if (colon) {
            if (server)
                return kerr_msg(err, EINVAL, "bad control URL %s: a listener takes vsock://PORT", url);
            char cid[16];
            if ((size_t)(colon - p) >= sizeof cid)
                return kerr_msg(err, EINVAL, "bad control URL %s: bad CID", url);
            memcpy(cid, p, (size_t)(colon - p));
            cid[colon - p] = 0;
            if (parse_port(cid, UINT32_MAX - 1, &u->cid) < 0 && strcmp(cid, "0") != 0)
                return kerr_msg(err, EINVAL, "bad control URL %s: bad CID", url);
            if (strcmp(cid, "0") == 0)
                u->cid = 0;
            p = colon + 1;
        }
        char port[16];
        const char *q = strchr(p, '?');
        size_t plen = q ? (size_t)(q - p) : strlen(p);
        if (q) {
            /* Peers on this machine: refused unless the listener says so. */
            if (!server || (strcmp(q, "?local=yes") != 0 && strcmp(q, "?local=no") != 0))
                return kerr_msg(err, EINVAL, "bad control URL %s: the only option is vsock://PORT?local=yes (listeners)",
                                url);
            u->vsock_local = strcmp(q, "?local=yes") == 0;
        }
        if (plen >= sizeof port)
            return kerr_msg(err, EINVAL, "bad control URL %s: bad port", url);
        memcpy(port, p, plen);
        port[plen] = 0;
        if (parse_port(port, UINT32_MAX - 1, &u->port) < 0)
            return kerr_msg(err, EINVAL, "bad control URL %s: bad port", url);
        return 0;
    }
    if (str_starts(url, "fd://")) {
        unsigned fd;
        u->kind = PROTO_URL_FD;
        if (!server)
            return kerr_msg(err, EINVAL, "bad control URL %s: fd:// is for listeners only", url);
        if (strcmp(url + 5, "0") == 0)
            fd = 0;
        else if (parse_port(url + 5, INT_MAX, &fd) < 0)
            return kerr_msg(err, EINVAL, "bad control URL %s: bad fd number", url);
        u->fd = (int)fd;
        return 0;
    }
    return kerr_msg(err, EINVAL, "bad control URL %s: expected unix://, tcp://, vsock:// or fd://", url);
}

socklen_t proto_url_sockaddr(const struct proto_url *u, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (u->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)u->port);
        memcpy(&a->sin6_addr, u->addr, 16);
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)u->port);
    memcpy(&a->sin_addr, u->addr, 4);
    return sizeof *a;
}

int proto_inet_url_parse(const char *url, bool udp, const char *what, struct proto_url *u, struct kerr *err)
{
    bool is_udp = udp && str_starts(url, "udp://");
    const char *want = udp ? "udp://IP:PORT or tcp://IP:PORT" : "tcp://IP:PORT";
    char as_tcp[160];
    if (!is_udp && !str_starts(url, "tcp://"))
        return kerr_msg(err, EINVAL, "bad %s URL %s: expected %s", what, url, want);
    if (snprintf(as_tcp, sizeof as_tcp, "tcp://%s", url + 6) >= (int)sizeof as_tcp)
        return kerr_msg(err, EINVAL, "bad %s URL %s: too long", what, url);
    struct kerr e = { 0 };
    if (proto_url_parse(as_tcp, true, u, &e) < 0)
        return kerr_msg(err, EINVAL, "bad %s URL %s: expected %s with a numeric IP address and a port", what, url,
                        want);
    u->kind = is_udp ? PROTO_URL_UDP : PROTO_URL_TCP;
    return 0;
}

/* --- requests ------------------------------------------------------------- */

static const struct {
    const char *name;
    enum proto_op op;
    const char *keys;   /* allowed keys besides "op" and "keel", space separated */
} ops[] = {
    { "version", PROTO_OP_VERSION, "" },
    { "ps", PROTO_OP_PS, "" },
    { "status", PROTO_OP_STATUS, "name" },
    { "logs", PROTO_OP_LOGS, "name lines follow" },
    { "start", PROTO_OP_START, "name" },
    { "stop", PROTO_OP_STOP, "name" },
    { "restart", PROTO_OP_RESTART, "name" },
    { "kill", PROTO_OP_KILL, "name signal" },
    { "exec", PROTO_OP_EXEC, "name argv tty stream rows cols" },
    { "stats", PROTO_OP_STATS, "name" },
    { "events", PROTO_OP_EVENTS, "" },
    { "poweroff", PROTO_OP_POWEROFF, "" },
    { "reboot", PROTO_OP_REBOOT, "" },
    { "halt", PROTO_OP_HALT, "" },
    { "apply", PROTO_OP_APPLY, "manifest dry_run" },
    { "stdin", PROTO_OP_STDIN, "data eof" },
    { "resize", PROTO_OP_RESIZE, "rows cols" },
    { "update", PROTO_OP_UPDATE, "" },
    { "chunk", PROTO_OP_CHUNK, "data eof" },
    { "rollback", PROTO_OP_ROLLBACK, "" },
    { "slots", PROTO_OP_SLOTS, "" },
    { "cp_get", PROTO_OP_CP_GET, "name path" },
    { "cp_put", PROTO_OP_CP_PUT, "name path mode" },
};

const char *proto_op_name(enum proto_op op)
{
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (ops[i].op == op)
            return ops[i].name;
    return "?";
}

static bool key_allowed(const char *keys, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = keys; *p;) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, key, n) == 0)
            return true;
        p += l;
        while (*p == ' ')
            p++;
    }
    return false;
}

void proto_request_free(struct proto_request *req)
{
    free(req->argv);
    json_free(req->tree);
    memset(req, 0, sizeof *req);
}

/* The message is formatted before the tree (which it may quote) is freed. */
#define BAD(...) (kerr_msg(err, EINVAL, "malformed request: " __VA_ARGS__), proto_request_free(req), -EINVAL)

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= KEEL_NAME_MAX;
}

int proto_request_parse(const char *line, size_t len, struct proto_request *req, struct kerr *err)
{
    memset(req, 0, sizeof *req);
    req->lines = -1;
    req->mode = -1;
    struct kerr perr = { 0 };
    if (json_parse(line, len, PROTO_MAX_REQUEST, &req->tree, &perr) < 0)
        return kerr_msg(err, EINVAL, "malformed request: %s", perr.msg);
    const struct json_value *t = req->tree;
    if (t->type != JSON_OBJECT)
        return BAD("expected a JSON object");
    if (json_get(t, "keel")) {
        int64_t proto;
        if (!json_get_int(t, "keel", &proto) || proto < 1)
            return BAD("\"keel\" must be a protocol version number");
        if (proto > PROTO_VERSION)
            return BAD("protocol version %" PRId64 " is not supported (this server speaks %d)", proto,
                       PROTO_VERSION);
    }
    const char *opname = json_get_str(t, "op");
    if (!opname)
        return BAD("missing \"op\" (a string)");
    size_t oi = ARRAY_SIZE(ops);
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (strcmp(ops[i].name, opname) == 0)
            oi = i;
    if (oi == ARRAY_SIZE(ops))
        return BAD("unknown op \"%.64s\"", opname);
    req->op = ops[oi].op;
    for (size_t i = 0; i < t->u.obj.n; i++) {
        const char *k = t->u.obj.members[i].key;
        if (strcmp(k, "op") != 0 && strcmp(k, "keel") != 0 && !key_allowed(ops[oi].keys, k))
            return BAD("unknown key \"%.64s\" for op %s", k, opname);
    }

    const struct json_value *v = json_get(t, "name");
    if (v) {
        if (v->type != JSON_STRING || !name_ok(v->u.str.s))
            return BAD("\"name\" must be a container name");
        req->name = v->u.str.s;
    }
    /* status without a name: the machine's (its uplinks). */
    bool need_name = req->op == PROTO_OP_LOGS || req->op == PROTO_OP_START ||
                     req->op == PROTO_OP_STOP || req->op == PROTO_OP_RESTART || req->op == PROTO_OP_KILL ||
                     req->op == PROTO_OP_EXEC || req->op == PROTO_OP_CP_GET || req->op == PROTO_OP_CP_PUT;
    if (need_name && !req->name)
        return BAD("op %s needs \"name\"", opname);

    if ((v = json_get(t, "lines"))) {
        if (v->type != JSON_INT || v->u.i < -1 || v->u.i > 10000000)
            return BAD("\"lines\" must be an integer from -1 (all) to 10000000");
        req->lines = v->u.i;
    }
    if (json_get(t, "follow") && !json_get_bool(t, "follow", &req->follow))
        return BAD("\"follow\" must be a boolean");
    if (json_get(t, "tty") && !json_get_bool(t, "tty", &req->tty))
        return BAD("\"tty\" must be a boolean");
    if (json_get(t, "stream") && !json_get_bool(t, "stream", &req->stream))
        return BAD("\"stream\" must be a boolean");
    if (json_get(t, "eof") && !json_get_bool(t, "eof", &req->eof))
        return BAD("\"eof\" must be a boolean");
    static const char *const dims[] = { "rows", "cols" };
    for (size_t i = 0; i < 2; i++) {
        if (!(v = json_get(t, dims[i])))
            continue;
        if (v->type != JSON_INT || v->u.i < 0 || v->u.i > 65535)
            return BAD("\"%s\" must be an integer 0..65535", dims[i]);
        *(i ? &req->cols : &req->rows) = (unsigned)v->u.i;
    }
    if (req->op == PROTO_OP_KILL) {
        req->signal = SIGTERM;
        if ((v = json_get(t, "signal"))) {
            if (v->type == JSON_INT)
                req->signal = v->u.i >= 1 && v->u.i <= SIGRTMAX ? (int)v->u.i : -EINVAL;
            else if (v->type == JSON_STRING)
                req->signal = parse_signal_anycase(v->u.str.s, &req->signal, NULL) == 0 ? req->signal : -EINVAL;
            else
                req->signal = -EINVAL;
            if (req->signal < 0)
                return BAD("bad \"signal\"");
        }
    }
    if ((v = json_get(t, "data"))) {
        if (v->type != JSON_STRING || v->u.str.len % 4 || v->u.str.len > PROTO_MAX_REQUEST)
            return BAD("\"data\" must be a base64 string");
        req->data = v->u.str.s;
        req->data_len = v->u.str.len;
    }
    if (req->op == PROTO_OP_CP_GET || req->op == PROTO_OP_CP_PUT) {
        v = json_get(t, "path");
        if (!v || v->type != JSON_STRING || v->u.str.len == 0 || v->u.str.len >= PATH_MAX ||
            strlen(v->u.str.s) != v->u.str.len)
            return BAD("%s needs \"path\", a path inside the container", opname);
        req->path = v->u.str.s;
        if ((v = json_get(t, "mode"))) {
            if (v->type != JSON_INT || v->u.i < 0 || v->u.i > 07777)
                return BAD("\"mode\" must be an integer 0..07777");
            req->mode = (int)v->u.i;
        }
    }
    if (req->op == PROTO_OP_APPLY) {
        v = json_get(t, "manifest");
        if (!v || v->type != JSON_STRING)
            return BAD("apply needs \"manifest\", the manifest's text");
        if (strlen(v->u.str.s) != v->u.str.len)
            return BAD("\"manifest\" holds a NUL byte");
        req->manifest = v->u.str.s;
        req->manifest_len = v->u.str.len;
        if (json_get(t, "dry_run") && !json_get_bool(t, "dry_run", &req->dry_run))
            return BAD("\"dry_run\" must be a boolean");
    }
    if (req->op == PROTO_OP_EXEC) {
        v = json_get(t, "argv");
        if (!v || v->type != JSON_ARRAY || v->u.arr.n == 0 || v->u.arr.n > PROTO_MAX_ARGV)
            return BAD("exec needs \"argv\", an array of 1 to %d strings", PROTO_MAX_ARGV);
        req->argv = calloc(v->u.arr.n + 1, sizeof *req->argv);
        if (!req->argv) {
            proto_request_free(req);
            return kerr_set(err, ENOMEM, "cannot parse request");
        }
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (v->u.arr.items[i].type != JSON_STRING)
                return BAD("\"argv\" must hold only strings");
            req->argv[i] = v->u.arr.items[i].u.str.s;
        }
        if (req->argv[0][0] == 0)
            return BAD("\"argv\"[0] is empty");
    }
    return 0;
}

#undef BAD

