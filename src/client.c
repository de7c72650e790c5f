/* client.c — the client verbs of client.h. */
#include "keel/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "keel/proto.h"
#include "keel/tls.h"
#include "keel/json.h"
#include "keel/output.h"
#include "keel/parse.h"
#include "keel/userns.h"
#include "keel/util.h"

#define RESPONSE_MAX (64u << 20)
#define RESPONSE_NODES (4u << 20)
#define STDIN_CHUNK 4096
#define TIMEOUT_DEFAULT "10s"

/* --- messages ---------------------------------------------------------------- */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("keel: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    return 1;
}

/* What a server says reaches the user's terminal only through these: a
 * control character but tab, DEL, a C1 control or a byte that is not UTF-8
 * becomes \xNN (output_escape), so that a hostile server (or whatever
 * answers at a tcp:// address) cannot drive the terminal (client.h). */
static void put_escaped(FILE *f, const char *s, size_t n)
{
    /* One buffer for the whole text (an escape is at most 4 bytes), so a
     * UTF-8 sequence is never cut in two and escaped by mistake. */
    _cleanup_free_ char *buf = malloc(4 * n + 1);
    if (!buf) {
        fputs("[keel: not shown: out of memory]", f);
        return;
    }
    fwrite(buf, 1, output_escape(s, n, buf, 4 * n + 1), f);
}

static void put_shown(FILE *f, const char *s)
{
    put_escaped(f, s, strlen(s));
}

/* " S", escaped. */
static void put_word(FILE *f, const char *s)
{
    fputc(' ', f);
    put_shown(f, s);
}

/* A text of lines (apply's plan, the slots): escaped line by line. */
static void put_lines(FILE *f, const char *s)
{
    for (const char *nl; (nl = strchr(s, '\n')); s = nl + 1) {
        put_escaped(f, s, (size_t)(nl - s));
        fputc('\n', f);
    }
    put_shown(f, s);
}

/* S escaped, on the heap, for a padded column (NULL: out of memory). */
static char *shown(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(4 * n + 1);
    if (out)
        out[output_escape(s, n, out, 4 * n)] = '\0';
    return out;
}

/* The server's own error message: "keel: error: WHATMSG". */
static int server_error(FILE *f, const char *what, const char *msg)
{
    fprintf(f, "keel: error: %s", what);
    put_shown(f, msg);
    fputc('\n', f);
    fflush(f);
    return 1;
}

/* --- connection ----------------------------------------------------------------- */

struct kc {
    int fd;
    bool is_unix, tls;
    mbedtls_ssl_context ssl;
    struct tls_conf tc;
    char *buf;
    size_t len, off, cap;
    int rfd;          /* an fd the server passed (exec -t: the pty master) */
    const char *url;  /* for messages */
    const char *timeout_text;
};

struct copts {
    const char *host, *cert, *key, *ca;
    uint64_t timeout_ms;        /* 0: no deadline */
    const char *timeout_text;   /* as the user wrote it */
};

static int tls_send_cb(void *ctx, const unsigned char *b, size_t n)
{
    ssize_t r;
    do
        r = send(*(int *)ctx, b, n, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)r;
}

static int tls_recv_cb(void *ctx, unsigned char *b, size_t n)
{
    ssize_t r;
    do
        r = recv(*(int *)ctx, b, n, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EAGAIN)
        return MBEDTLS_ERR_SSL_TIMEOUT;   /* SO_RCVTIMEO: the deadline passed */
    return r < 0 ? MBEDTLS_ERR_NET_RECV_FAILED : (int)r;
}

/* Does the certificate carry `ip` as an iPAddress subjectAltName?  mbedTLS
 * 2.28 only matches DNS names, so the extension is walked here. */
static bool san_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t iplen)
{
    unsigned char *p = crt->v3_ext.p, *end;
    size_t len;
    if (!p || crt->v3_ext.len == 0)
        return false;
    end = p + crt->v3_ext.len;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
        return false;
    end = p + len;
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
            return false;
        unsigned char *ext_end = p + len;
        size_t oid_len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID) != 0)
            return false;
        unsigned char *oid = p;
        p += oid_len;
        int critical;
        (void)mbedtls_asn1_get_bool(&p, ext_end, &critical);   /* optional */
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0)
            return false;
        if (oid_len == 3 && memcmp(oid, "\x55\x1d\x11", 3) == 0) {   /* subjectAltName */
            unsigned char *q = p, *qend = p + len;
            size_t l;
            if (mbedtls_asn1_get_tag(&q, qend, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
                return false;
            qend = q + l;
            while (q < qend) {
                unsigned char tag = *q++;
                if (mbedtls_asn1_get_len(&q, qend, &l) != 0)
                    return false;
                if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && l == iplen && memcmp(q, ip, iplen) == 0)
                    return true;
                q += l;
            }
        }
        p = ext_end;
    }
    return false;
}

static bool cn_is(const mbedtls_x509_crt *crt, const char *host)
{
    for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next)
        if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && n->val.len == strlen(host) &&
            memcmp(n->val.p, host, n->val.len) == 0)
            return true;
    return false;
}

static int tls_connect(struct kc *k, const struct copts *o, const struct proto_url *u)
{
    char msg[160];
    int r;
    if (!o->cert || !o->key || !o->ca)
        return fail("cannot connect to tcp://%s:%u: TCP needs mutual TLS: give --tlscert, --tlskey and "
                    "--tlscacert (or KEEL_TLS_CERT, KEEL_TLS_KEY, KEEL_TLS_CACERT)", u->host, u->port);
    k->tls = true;
    mbedtls_ssl_init(&k->ssl);
    const struct tls_files f = {
        .cert = o->cert, .key = o->key, .ca = o->ca,
        .cert_label = "the TLS certificate", .key_label = "the TLS key", .ca_label = "the TLS CA",
    };
    struct kerr e = { 0 };
    if (tls_conf_init(&k->tc, false, &f, &e) < 0)
        return fail("%s", e.msg);
    if ((r = mbedtls_ssl_setup(&k->ssl, &k->tc.conf)))
        goto tls_err;
    mbedtls_ssl_set_bio(&k->ssl, &k->fd, tls_send_cb, tls_recv_cb, NULL);
    while ((r = mbedtls_ssl_handshake(&k->ssl)) != 0) {
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        uint32_t flags = mbedtls_ssl_get_verify_result(&k->ssl);
        if (flags && flags != (uint32_t)-1) {
            char info[256];
            mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
            info[strcspn(info, "\n")] = 0;
            return fail("cannot connect to tcp://%s:%u: the server's certificate is not trusted: %s", u->host,
                        u->port, info);
        }
        if (r == MBEDTLS_ERR_NET_SEND_FAILED || r == MBEDTLS_ERR_NET_RECV_FAILED ||
            r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE || r == MBEDTLS_ERR_SSL_CONN_EOF)
            return fail("cannot connect to tcp://%s:%u: keel refused the TLS handshake (is the client certificate "
                        "issued by the CA keel trusts?)", u->host, u->port);
        goto tls_err;
    }
    /* The chain was verified by mbedTLS; the name is checked here. */
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&k->ssl);
    size_t iplen = u->family == AF_INET ? 4 : 16;
    if (!peer || (!san_has_ip(peer, u->addr, iplen) && !cn_is(peer, u->host)))
        return fail("cannot connect to tcp://%s:%u: the server's certificate is not issued for %s", u->host,
                    u->port, u->host);
    return 0;
tls_err:
    mbedtls_strerror(r, msg, sizeof msg);
    return fail("cannot connect to tcp://%s:%u: TLS: %s", u->host, u->port, msg);
}

static void kc_close(struct kc *k)
{
    if (k->tls) {
        mbedtls_ssl_close_notify(&k->ssl);
        mbedtls_ssl_free(&k->ssl);
        tls_conf_free(&k->tc);
        k->tls = false;
    }
    close_safe(k->fd);
    close_safe(k->rfd);
    free(k->buf);
    k->fd = k->rfd = -1;
    k->buf = NULL;
}

/* Without root over /run (userns_rootless), a rootless keel's socket in
 * $XDG_RUNTIME_DIR when it is there, else root's keel (which may let
 * control_group in): the rule keel run follows (cli.c). */
static const char *default_url(void)
{
    const char *dir;
    struct kerr e = { 0 };
    struct stat st;
    if (userns_rootless() && userns_runtime_dir(&dir, &e) == 0) {
        static char url[sizeof "unix://" + PATH_MAX + sizeof "/keel.sock"];
        snprintf(url, sizeof url, "unix://%s/keel.sock", dir);
        if (lstat(url + strlen("unix://"), &st) == 0)
            return url;
    }
    return PROTO_DEFAULT_URL;
}

static const char *host_url(const struct copts *o)
{
    if (o->host)
        return o->host;
    const char *e = getenv("KEEL_HOST");
    return e && *e ? e : default_url();
}

/* The deadline of every wait for keel: SO_RCVTIMEO and SO_SNDTIMEO bound
 * each recv and send (and connect, which waits as a send does while keel's
 * backlog is full), so a server that accepts and then says nothing cannot
 * hold a client for ever.  0 clears it: a follow stream, or an exec whose
 * command runs as long as it likes, may be silent for good reason. */
static void kc_deadline(struct kc *k, uint64_t ms)
{
    struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000 * 1000) };
    if (k->fd < 0)
        return;
    if (setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
        /* Not fatal: the socket just keeps waiting without a deadline. */
    }
}

static int no_answer(const struct kc *k)
{
    return fail("no answer from %s within %s", k->url, k->timeout_text ? k->timeout_text : TIMEOUT_DEFAULT);
}

/* A socket for the URL's family, with the deadline set before connect. */
static int kc_socket(struct kc *k, int family, const struct copts *o)
{
    k->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (k->fd >= 0 && o->timeout_ms)
        kc_deadline(k, o->timeout_ms);
    return k->fd;
}

/* connect() that failed: its deadline passed, or another error. */
static int connect_failed(const struct kc *k, const char *hint)
{
    if (errno == EAGAIN || errno == EINPROGRESS)
        return no_answer(k);
    return fail("cannot connect to %s: %s%s", k->url, strerror(errno), hint);
}

static int kc_connect(struct kc *k, const struct copts *o)
{
    memset(k, 0, sizeof *k);
    k->fd = k->rfd = -1;
    const char *url = host_url(o);
    k->url = url;
    k->timeout_text = o->timeout_text;
    struct proto_url u;
    struct kerr e = { 0 };
    if (proto_url_parse(url, false, &u, &e) < 0)
        return fail("%s", e.msg);
    if (u.kind == PROTO_URL_UNIX) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, u.path);
        k->is_unix = true;
        if (kc_socket(k, AF_UNIX, o) < 0 || connect(k->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            return connect_failed(k, " (is keel running?)");
        return 0;
    }
    if (u.kind == PROTO_URL_VSOCK) {
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = u.cid, .svm_port = u.port };
        if (kc_socket(k, AF_VSOCK, o) < 0 || connect(k->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            return connect_failed(k, "");
        return 0;
    }
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (u.family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)u.port);
        memcpy(&a->sin_addr, u.addr, 4);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)u.port);
        memcpy(&a->sin6_addr, u.addr, 16);
        len = sizeof *a;
    }
    if (kc_socket(k, u.family, o) < 0 || connect(k->fd, (struct sockaddr *)&ss, len) < 0)
        return connect_failed(k, "");
    return tls_connect(k, o, &u);
}

static ssize_t kc_fill(struct kc *k);

/* A send that failed.  keel may have answered and closed before reading the
 * request (it refuses clients so when it is out of file descriptors): its
 * answer says why, which EPIPE does not. */
static int send_failed(struct kc *k, int e)
{
    if (e == EAGAIN)
        return no_answer(k);
    if (e == EPIPE || e == ECONNRESET) {
        for (int i = 0; i < 8 && !(k->len > k->off && memchr(k->buf + k->off, '\n', k->len - k->off)); i++)
            if (kc_fill(k) <= 0)
                break;
        char *nl = k->len > k->off ? memchr(k->buf + k->off, '\n', k->len - k->off) : NULL;
        struct json_value *v = NULL;
        struct kerr pe = { 0 };
        if (nl && json_parse_ex(k->buf + k->off, (size_t)(nl - (k->buf + k->off)), RESPONSE_MAX, RESPONSE_NODES,
                                JSON_PARSE_FLOAT, &v, &pe) == 0) {
            const char *msg = json_get_str(v, "error");
            int r = msg ? server_error(stderr, "", msg) : -1;
            json_free(v);
            if (r > 0)
                return r;
        }
    }
    return fail("cannot send to keel: %s", strerror(e));
}

/* Sends all of buf.  The client never passes fds: exec's stdio is relayed
 * through the connection or is a terminal keel makes. */
static int kc_send(struct kc *k, const char *buf, size_t n)
{
    if (k->tls) {
        while (n) {
            int r = mbedtls_ssl_write(&k->ssl, (const unsigned char *)buf, n);
            if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                continue;
            if (r < 0)
                return fail("cannot send to keel: TLS error %d", r);
            buf += r, n -= (size_t)r;
        }
        return 0;
    }
    while (n) {
        ssize_t r = send(k->fd, buf, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return send_failed(k, errno);
        buf += r, n -= (size_t)r;
    }
    return 0;
}

/* Reads more bytes into the buffer: >0, 0 at EOF, <0 on error. */
static ssize_t kc_fill(struct kc *k)
{
    if (k->off && k->off == k->len)
        k->off = k->len = 0;
    if (k->cap - k->len < 65536) {
        if (k->off) {
            memmove(k->buf, k->buf + k->off, k->len - k->off);
            k->len -= k->off;
            k->off = 0;
        }
        if (k->cap - k->len < 65536) {
            size_t nc = k->cap ? k->cap * 2 : 131072;
            if (nc > RESPONSE_MAX + 65536)
                return -EMSGSIZE;
            char *nb = realloc(k->buf, nc);
            if (!nb)
                return -ENOMEM;
            k->buf = nb;
            k->cap = nc;
        }
    }
    char *p = k->buf + k->len;
    size_t room = k->cap - k->len - 1;
    for (;;) {
        ssize_t r;
        if (k->tls) {
            int t = mbedtls_ssl_read(&k->ssl, (unsigned char *)p, room);
            if (t == MBEDTLS_ERR_SSL_WANT_READ || t == MBEDTLS_ERR_SSL_WANT_WRITE)
                continue;
            if (t == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
                t = 0;
            if (t == MBEDTLS_ERR_SSL_TIMEOUT)
                return -ETIMEDOUT;
            if (t < 0)
                return -EPROTO;
            r = t;
        } else if (k->is_unix) {
            char cbuf[CMSG_SPACE(sizeof(int) * 4)];
            struct iovec iov = { .iov_base = p, .iov_len = room };
            struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                                 .msg_controllen = sizeof cbuf };
            r = recvmsg(k->fd, &mh, MSG_CMSG_CLOEXEC);
            if (r >= 0)
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                    size_t nf = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                    for (size_t i = 0; i < nf; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
                        if (k->rfd < 0)
                            k->rfd = fd;
                        else
                            close_safe(fd);
                    }
                }
        } else {
            r = recv(k->fd, p, room, 0);
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;   /* SO_RCVTIMEO */
        k->len += (size_t)r;
        return r;
    }
}

static bool kc_has_line(const struct kc *k)
{
    return k->len > k->off && memchr(k->buf + k->off, '\n', k->len - k->off);
}

/* Bytes already read (or decrypted) but not consumed: poll() cannot see them. */
static bool kc_buffered(struct kc *k)
{
    return kc_has_line(k) || (k->tls && mbedtls_ssl_get_bytes_avail(&k->ssl) > 0);
}

/* The next line (NUL-terminated, valid until the next call): 1, 0 at EOF, -1. */
static int kc_line(struct kc *k, char **line, size_t *len)
{
    for (;;) {
        char *nl = k->len > k->off ? memchr(k->buf + k->off, '\n', k->len - k->off) : NULL;
        if (nl) {
            *line = k->buf + k->off;
            *len = (size_t)(nl - *line);
            *nl = 0;
            k->off += *len + 1;
            return 1;
        }
        ssize_t r = kc_fill(k);
        if (r == 0)
            return 0;
        if (r == -ETIMEDOUT) {
            no_answer(k);
            return -1;
        }
        if (r < 0) {
            fail("cannot read from keel: %s", strerror((int)-r));
            return -1;
        }
    }
}

/* Reads and parses one message; prints the server's error when "ok" is false.
 * Returns 0 (*out owned by caller), 1 on an error already printed. */
static int kc_message(struct kc *k, struct json_value **out, bool check_ok)
{
    char *line;
    size_t len;
    int r = kc_line(k, &line, &len);
    if (r < 0)
        return 1;
    if (r == 0)
        return fail("keel closed the connection");
    struct kerr e = { 0 };
    if (json_parse_ex(line, len, RESPONSE_MAX, RESPONSE_NODES, JSON_PARSE_FLOAT, out, &e) < 0)
        return fail("cannot understand keel's answer: %s", e.msg);
    bool ok = true;
    if (check_ok && json_get_bool(*out, "ok", &ok) && !ok) {
        const char *msg = json_get_str(*out, "error");
        server_error(stderr, "", msg ? msg : "request failed");
        json_free(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

static int kc_request(struct kc *k, struct json_writer *w)
{
    json_raw(w, "\n", 1);
    if (json_writer_error(w))
        return fail("cannot build the request: out of memory");
    return kc_send(k, w->buf, w->len);
}

/* Connects, sends one request, reads one answer. */
static int roundtrip(const struct copts *o, struct json_writer *w, struct json_value **resp)
{
    struct kc k;
    int r = kc_connect(&k, o);
    if (r == 0)
        r = kc_request(&k, w);
    if (r == 0)
        r = kc_message(&k, resp, true);
    kc_close(&k);
    return r;
}

/* Connects, sends the request of a streaming verb (logs, events) and reads
 * keel's first answer (the acknowledgement); the stream follows on k.  Frees
 * the request.  k must be closed with kc_close() whatever this returns. */
static int stream_open(struct kc *k, const struct copts *o, struct json_writer *w)
{
    struct json_value *ack = NULL;
    int r = kc_connect(k, o);
    if (r == 0)
        r = kc_request(k, w);
    json_writer_free(w);
    if (r == 0)
        r = kc_message(k, &ack, true);
    json_free(ack);
    return r;
}

static void req_begin(struct json_writer *w, const char *op)
{
    json_writer_init(w);
    json_obj_begin(w);
    json_kint(w, "keel", PROTO_VERSION);
    json_kstr(w, "op", op);
}

/* --- options ------------------------------------------------------------------ */

enum { OPT_TLSCERT = 1000, OPT_TLSKEY, OPT_TLSCACERT, OPT_STREAM, OPT_TIMEOUT, OPT_DRY_RUN };

struct vopts {
    struct copts c;
    bool json, follow, tty, stream, dry_run;
    long lines;
    const char *signal;
};

static const struct option long_opts[] = {
    { "host", required_argument, NULL, 'H' },
    { "tlscert", required_argument, NULL, OPT_TLSCERT },
    { "tlskey", required_argument, NULL, OPT_TLSKEY },
    { "tlscacert", required_argument, NULL, OPT_TLSCACERT },
    { "help", no_argument, NULL, 'h' },
    { "json", no_argument, NULL, 'j' },
    { "follow", no_argument, NULL, 'f' },
    { "lines", required_argument, NULL, 'n' },
    { "tail", required_argument, NULL, 'n' },
    { "signal", required_argument, NULL, 's' },
    { "tty", no_argument, NULL, 't' },
    { "interactive", no_argument, NULL, 'i' },
    { "stream", no_argument, NULL, OPT_STREAM },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { NULL, 0, NULL, 0 },
};

static const char common_help[] =
    "  -H, --host URL     keel to talk to (default $KEEL_HOST, else unix:///run/keel.sock,\n"
    "                     without root $XDG_RUNTIME_DIR/keel.sock when it is there;\n"
    "                     also tcp://IP:PORT with mutual TLS, vsock://CID:PORT)\n"
    "      --tlscert FILE --tlskey FILE --tlscacert FILE\n"
    "                     client certificate, key and CA for tcp:// ($KEEL_TLS_CERT,\n"
    "                     $KEEL_TLS_KEY, $KEEL_TLS_CACERT)\n"
    "      --timeout D    give up when keel has not answered within D (default " TIMEOUT_DEFAULT ";\n"
    "                     also between the messages of a logs stream without -f;\n"
    "                     ms, s, m or h; 0: wait for ever)\n"
    "  -h, --help         this help\n";

/* Parses options; `allowed` lists the verb's own short options.  Returns
 * -1 to continue, else the exit status (help printed: 0, bad usage: 2). */
static int parse_opts(int argc, char **argv, const char *allowed, const char *usage, bool stop_at_arg,
                      struct vopts *v)
{
    memset(v, 0, sizeof *v);
    v->lines = -1;
    v->c.cert = getenv("KEEL_TLS_CERT");
    v->c.key = getenv("KEEL_TLS_KEY");
    v->c.ca = getenv("KEEL_TLS_CACERT");
    v->c.timeout_text = TIMEOUT_DEFAULT;
    if (parse_duration_ms(TIMEOUT_DEFAULT, &v->c.timeout_ms, NULL) < 0)
        v->c.timeout_ms = 10000;
    optind = 0;   /* full re-initialisation, as verbs may be called repeatedly */
    opterr = 0;
    const char *shorts = stop_at_arg ? "+:H:hjfn:s:ti" : ":H:hjfn:s:ti";
    int c;
    while ((c = getopt_long(argc, argv, shorts, long_opts, NULL)) != -1) {
        if (c != 'H' && c != 'h' && c <= 0xff && !strchr(allowed, c) && c != '?' && c != ':') {
            fail("%s: option %s is not valid here; see keel %s --help", argv[0], argv[optind - 1], argv[0]);
            return 2;
        }
        switch (c) {
        case 'H': v->c.host = optarg; break;
        case OPT_TLSCERT: v->c.cert = optarg; break;
        case OPT_TLSKEY: v->c.key = optarg; break;
        case OPT_TLSCACERT: v->c.ca = optarg; break;
        case OPT_TIMEOUT: {
            char why[PARSE_WHY_MAX];
            if (parse_duration_ms(optarg, &v->c.timeout_ms, why) < 0) {
                fail("%s: --timeout: %s", argv[0], why);
                return 2;
            }
            v->c.timeout_text = optarg;
            break;
        }
        case 'h':
            printf("usage: keel %s\n%s", usage, common_help);
            return 0;
        case 'j': v->json = true; break;
        case 'f': v->follow = true; break;
        case 't': v->tty = true; break;
        case 'i': break;   /* stdin is always connected */
        case OPT_STREAM:
            if (!strchr(allowed, 'S')) {
                fail("%s: option --stream is not valid here", argv[0]);
                return 2;
            }
            v->stream = true;
            break;
        case OPT_DRY_RUN:
            if (!strchr(allowed, 'D')) {
                fail("%s: option --dry-run is not valid here", argv[0]);
                return 2;
            }
            v->dry_run = true;
            break;
        case 's': v->signal = optarg; break;
        case 'n': {
            char *end;
            errno = 0;
            if (strcmp(optarg, "all") == 0) {
                v->lines = -1;
                break;
            }
            v->lines = strtol(optarg, &end, 10);
            if (errno || *end || v->lines < 0 || v->lines > 10000000 || !*optarg) {
                fail("%s: bad number of lines '%s'", argv[0], optarg);
                return 2;
            }
            break;
        }
        case ':':
            fail("%s: option %s needs a value; see keel %s --help", argv[0], argv[optind - 1], argv[0]);
            return 2;
        default:
            fail("%s: unknown option %s; see keel %s --help", argv[0], argv[optind - 1], argv[0]);
            return 2;
        }
    }
    return -1;
}

static int need_args(int argc, int min, int max, const char *verb)
{
    int n = argc - optind;
    if (n < min || (max >= 0 && n > max)) {
        fail("%s: %s; see keel %s --help", verb, n < min ? "missing argument" : "too many arguments", verb);
        return 2;
    }
    return -1;
}

/* --- formatting ------------------------------------------------------------------ */

static void fmt_duration(uint64_t ms, char *buf, size_t n)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf(buf, n, "%" PRIu64 "s", s);
    else if (s < 3600)
        snprintf(buf, n, "%" PRIu64 "m%" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%" PRIu64 "h%" PRIu64 "m", s / 3600, s / 60 % 60);
    else
        snprintf(buf, n, "%" PRIu64 "d%" PRIu64 "h", s / 86400, s / 3600 % 24);
}

static void fmt_bytes(uint64_t b, char *buf, size_t n)
{
    static const char units[] = "BKMGTP";
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 5)
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, n, "%" PRIu64 "B", b);
    else
        snprintf(buf, n, "%.1f%c", v, units[u]);
}

static void fmt_exit(const struct json_value *e, char *buf, size_t n)
{
    const char *sig = json_get_str(e, "signal");
    int64_t code;
    if (sig)
        snprintf(buf, n, "%s", sig);
    else if (json_get_int(e, "code", &code))
        snprintf(buf, n, "%" PRId64, code);
    else
        snprintf(buf, n, "-");
}

static int64_t get_int(const struct json_value *o, const char *k)
{
    int64_t v = 0;
    json_get_int(o, k, &v);
    return v;
}

static const char *get_str(const struct json_value *o, const char *k, const char *dflt)
{
    const char *s = json_get_str(o, k);
    return s && *s ? s : dflt;
}

static void print_json(const struct json_value *v)
{
    struct json_writer w;
    json_writer_init(&w);
    json_write_value(&w, v);
    if (!json_writer_error(&w))
        printf("%s\n", w.buf);
    json_writer_free(&w);
}

/* A table: rows of cells, columns padded to their widest cell. */
#define TABLE_COLS 10
struct table {
    char *(*cells)[TABLE_COLS];
    size_t rows, cols;
};

static void table_add(struct table *t, char *const *cells)
{
    void *nc = realloc(t->cells, (t->rows + 1) * sizeof *t->cells);
    if (!nc)
        return;
    t->cells = nc;
    for (size_t i = 0; i < t->cols; i++)
        t->cells[t->rows][i] = shown(cells[i] ? cells[i] : "-");
    t->rows++;
}

static void table_print(FILE *f, struct table *t)
{
    size_t w[TABLE_COLS] = { 0 };
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++)
            if (t->cells[r][c] && strlen(t->cells[r][c]) > w[c])
                w[c] = strlen(t->cells[r][c]);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r][c] ? t->cells[r][c] : "";
            if (c + 1 == t->cols)
                fprintf(f, "%s\n", s);
            else
                fprintf(f, "%-*s  ", (int)w[c], s);
            free(t->cells[r][c]);
        }
    }
    free(t->cells);
    t->cells = NULL;
    t->rows = 0;
}

/* --- verbs ------------------------------------------------------------------------- */

/* A listing verb: `op` with an optional NAME, an answer holding the array
 * `key`, printed as JSON (--json) or as a table with a header row and one row
 * per item.  Only what differs between ps and stats is in this struct. */
struct list_verb {
    const char *op;                 /* the request's op, also the verb's name */
    const char *usage;              /* for parse_opts (the only option: -j) */
    int max_args;                   /* 0: no NAME; 1: an optional NAME */
    const char *key, *missing;      /* the answer's array; what to say when it is absent */
    size_t cols;
    char *head[TABLE_COLS];
    void (*add_row)(struct table *t, const struct json_value *item);
};


/* A container's log line as it goes to F: raw into a file or pipe (the
 * bytes as logged), escaped into a terminal, where a container's escape
 * sequences would otherwise reach the admin's screen (as keel run's echo
 * does: docs/security.md). */
static void write_log_line(FILE *f, const char *s, size_t n, bool to_tty)
{
    if (to_tty)
        put_escaped(f, s, n);
    else
        fwrite(s, 1, n, f);
    fputc('\n', f);
}

/* The table of a listing verb (ps, stats) from its answer's array. */
static void print_list(FILE *f, const struct list_verb *lv, const struct json_value *list)
{
    struct table t = { .cols = lv->cols };
    table_add(&t, lv->head);
    for (size_t i = 0; i < list->u.arr.n; i++)
        lv->add_row(&t, &list->u.arr.items[i]);
    table_print(f, &t);
}

static int list_verb(int argc, char **argv, const struct list_verb *lv)
{
    struct vopts v;
    int r = parse_opts(argc, argv, "j", lv->usage, false, &v);
    if (r >= 0 || (r = need_args(argc, 0, lv->max_args, lv->op)) >= 0)
        return r;
    struct json_writer w;
    struct json_value *resp = NULL;
    req_begin(&w, lv->op);
    if (optind < argc)
        json_kstr(&w, "name", argv[optind]);
    json_obj_end(&w);
    r = roundtrip(&v.c, &w, &resp);
    json_writer_free(&w);
    if (r)
        return r;
    const struct json_value *list = json_get(resp, lv->key);
    if (!list || list->type != JSON_ARRAY) {
        json_free(resp);
        return fail("cannot understand keel's answer: %s", lv->missing);
    }
    if (v.json) {
        print_json(list);
        json_free(resp);
        return 0;
    }
    print_list(stdout, lv, list);
    json_free(resp);
    return 0;
}

static void ps_row(struct table *t, const struct json_value *c)
{
    char pid[24], up[32], rs[24], ex[32], ports[256] = "";
    int64_t p = get_int(c, "pid");
    snprintf(pid, sizeof pid, p ? "%" PRId64 : "-", p);
    int64_t u = get_int(c, "uptime_ms");
    if (u || p)
        fmt_duration((uint64_t)u, up, sizeof up);
    else
        snprintf(up, sizeof up, "-");
    snprintf(rs, sizeof rs, "%" PRId64, get_int(c, "restarts"));
    const struct json_value *le = json_get(c, "last_exit");
    if (le && le->type == JSON_OBJECT)
        fmt_exit(le, ex, sizeof ex);
    else
        snprintf(ex, sizeof ex, "-");
    const struct json_value *pl = json_get(c, "ports");
    for (size_t k = 0; pl && pl->type == JSON_ARRAY && k < pl->u.arr.n; k++) {
        const struct json_value *s = &pl->u.arr.items[k];
        if (s->type != JSON_STRING)
            continue;
        size_t l = strlen(ports);
        snprintf(ports + l, sizeof ports - l, "%s%s", l ? "," : "", s->u.str.s);
    }
    const char *health = get_str(c, "health", "-");
    char *row[] = {
        (char *)get_str(c, "name", "?"), (char *)get_str(c, "state", "?"), pid, up, rs, ex,
        (char *)get_str(c, "network", "-"), (char *)get_str(c, "ip", "-"), ports[0] ? ports : "-",
        (char *)(strcmp(health, "none") ? health : "-"),
    };
    table_add(t, row);
}

static const struct list_verb ps_list = {
    .op = "ps", .max_args = 0, .key = "containers", .missing = "no container list",
    .usage = "ps [--json]\n  List the containers: name, state, pid, uptime, restarts,\n"
             "  last exit, network, IP, published ports, health.\n  -j, --json         "
             "machine-readable: a JSON array of containers\n",
    .cols = 10,
    .head = { "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "EXIT", "NETWORK", "IP", "PORTS", "HEALTH" },
    .add_row = ps_row,
};

int client_cmd_ps(int argc, char **argv)
{
    return list_verb(argc, argv, &ps_list);
}

/* "KEY         VALUE" of keel status: the key and a string's value escaped. */
static void print_status_value(FILE *f, const char *key, const struct json_value *v)
{
    char buf[64];
    _cleanup_free_ char *k = shown(key);
    fprintf(f, "%-12s", k ? k : "?");
    switch (v->type) {
    case JSON_NULL: fputs(" -", f); break;
    case JSON_BOOL: fprintf(f, " %s", v->u.b ? "yes" : "no"); break;
    case JSON_INT: fprintf(f, " %" PRId64, v->u.i); break;
    case JSON_DOUBLE: fprintf(f, " %g", v->u.d); break;
    case JSON_STRING: put_word(f, v->u.str.s); break;
    case JSON_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            if (v->u.arr.items[i].type == JSON_STRING)
                put_word(f, v->u.arr.items[i].u.str.s);
        fputs(v->u.arr.n ? "" : " -", f);
        break;
    case JSON_OBJECT:
        fmt_exit(v, buf, sizeof buf);
        put_word(f, buf);
        break;
    }
    fputc('\n', f);
}

/* keel status NAME: the container's object, key by key. */
static void print_container(FILE *f, const struct json_value *c)
{
    for (size_t i = 0; i < c->u.obj.n; i++) {
        const struct json_member *m = &c->u.obj.members[i];
        if ((strcmp(m->key, "uptime_ms") == 0) && m->value.type == JSON_INT) {
            char up[32];
            fmt_duration((uint64_t)m->value.u.i, up, sizeof up);
            fprintf(f, "%-12s %s\n", "uptime", up);
            continue;
        }
        print_status_value(f, m->key, &m->value);
    }
}

/* The slots' text of keel status (lines). */
static void print_slots(FILE *f, const struct json_value *resp)
{
    const char *s = json_get_str(resp, "slots");
    put_lines(f, s ? s : "no payload update on this machine\n");
}

/* keel status: one block per uplink of the machine's object. */
static void print_uplinks(FILE *f, const struct json_value *ups)
{
    size_t n = ups ? ups->u.arr.n : 0;
    if (n == 0)
        fputs("no [interface] uplinks\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct json_value *u = &ups->u.arr.items[i];
        if (u->type != JSON_OBJECT)
            continue;
        fputs(i ? "\n" : "", f);
        put_shown(f, json_get_str(u, "interface") ? json_get_str(u, "interface") : "?");
        fputc('\n', f);
        for (size_t k = 0; k < u->u.obj.n; k++) {
            const struct json_member *m = &u->u.obj.members[k];
            if (strcmp(m->key, "interface") == 0)
                continue;
            if (strcmp(m->key, "expires_in_ms") == 0 && m->value.type == JSON_INT) {
                char left[32];
                fmt_duration((uint64_t)m->value.u.i, left, sizeof left);
                fprintf(f, "  %-12s %s\n", "expires in", left);
                continue;
            }
            fputs("  ", f);
            print_status_value(f, m->key, &m->value);
        }
    }
}

/* `keel status` without NAME: one block per uplink. */
static int print_machine(struct json_value *resp, bool as_json)
{
    const struct json_value *mach = json_get(resp, "machine");
    const struct json_value *ups = mach ? json_get(mach, "uplinks") : NULL;
    if (!mach || mach->type != JSON_OBJECT || (ups && ups->type != JSON_ARRAY)) {
        json_free(resp);
        return fail("cannot understand keel's answer: no machine");
    }
    if (as_json) {
        print_json(mach);
        json_free(resp);
        return 0;
    }
    print_uplinks(stdout, ups);
    json_free(resp);
    return 0;
}

int client_cmd_status(int argc, char **argv)
{
    struct vopts v;
    int r = parse_opts(argc, argv, "j", "status [--json] [NAME]\n  Everything keel knows of one container; without NAME,\n"
                                        "  the machine: its uplinks and their DHCP leases, and the payload\n"
                                        "  slots (keel update): the state and the last commit or rollback.\n"
                                        "  -j, --json         machine-readable\n", false, &v);
    if (r >= 0 || (r = need_args(argc, 0, 1, "status")) >= 0)
        return r;
    struct json_writer w;
    struct json_value *resp = NULL;
    if (optind == argc) {
        /* The machine: its uplinks (JSON with --json), then, as text, the
         * payload slots. */
        req_begin(&w, "status");
        json_obj_end(&w);
        r = roundtrip(&v.c, &w, &resp);
        json_writer_free(&w);
        if (r || (r = print_machine(resp, v.json)) != 0 || v.json)
            return r;
        resp = NULL;
        req_begin(&w, "slots");
        json_obj_end(&w);
        r = roundtrip(&v.c, &w, &resp);
        json_writer_free(&w);
        if (r)
            return r;
        print_slots(stdout, resp);
        json_free(resp);
        return 0;
    }
    req_begin(&w, "status");
    json_kstr(&w, "name", argv[optind]);
    json_obj_end(&w);
    r = roundtrip(&v.c, &w, &resp);
    json_writer_free(&w);
    if (r)
        return r;
    const struct json_value *c = json_get(resp, "container");
    if (!c || c->type != JSON_OBJECT) {
        json_free(resp);
        return fail("cannot understand keel's answer: no container");
    }
    if (v.json)
        print_json(c);
    else
        print_container(stdout, c);
    json_free(resp);
    return 0;
}

int client_cmd_logs(int argc, char **argv)
{
    struct vopts v;
    int r = parse_opts(argc, argv, "fn", "logs [-f] [-n LINES] NAME\n  The container's log (stdout and stderr).\n"
                                         "  -f, --follow       keep printing new lines until interrupted\n"
                                         "  -n, --lines N      only the last N lines (default all; also --tail N)\n", false, &v);
    if (r >= 0 || (r = need_args(argc, 1, 1, "logs")) >= 0)
        return r;
    struct json_writer w;
    req_begin(&w, "logs");
    json_kstr(&w, "name", argv[optind]);
    json_kint(&w, "lines", v.lines);
    json_kbool(&w, "follow", v.follow);
    json_obj_end(&w);
    struct kc k;
    bool to_tty = isatty(STDOUT_FILENO);
    r = stream_open(&k, &v.c, &w);
    if (r == 0 && v.follow)
        kc_deadline(&k, 0);   /* a followed log may be quiet for hours */
    while (r == 0) {
        struct json_value *msg = NULL;
        r = kc_message(&k, &msg, true);
        if (r)
            break;
        const struct json_value *line = json_get(msg, "line");
        bool endflag = false;
        if (line && line->type == JSON_STRING) {
            write_log_line(stdout, line->u.str.s, line->u.str.len, to_tty);
            if (v.follow || !kc_buffered(&k))
                fflush(stdout);
        } else if (json_get_bool(msg, "end", &endflag) && endflag) {
            json_free(msg);
            break;
        }
        json_free(msg);
    }
    fflush(stdout);
    kc_close(&k);
    return r;
}

static int simple_op(int argc, char **argv, const char *op, const char *usage, bool needs_name, bool print_name)
{
    struct vopts v;
    int r = parse_opts(argc, argv, op[0] == 'k' ? "s" : "", usage, false, &v);
    if (r >= 0 || (r = need_args(argc, needs_name, needs_name, op)) >= 0)
        return r;
    struct json_writer w;
    struct json_value *resp = NULL;
    req_begin(&w, op);
    if (needs_name)
        json_kstr(&w, "name", argv[optind]);
    if (v.signal)
        json_kstr(&w, "signal", v.signal);
    json_obj_end(&w);
    r = roundtrip(&v.c, &w, &resp);
    json_writer_free(&w);
    if (r == 0 && print_name)
        printf("%s\n", argv[optind]);
    json_free(resp);
    return r;
}

int client_cmd_start(int argc, char **argv)
{
    return simple_op(argc, argv, "start", "start NAME\n  Starts a container that is stopped, exited or failed.\n",
                     true, true);
}

int client_cmd_stop(int argc, char **argv)
{
    return simple_op(argc, argv, "stop",
                     "stop NAME\n  Stops a container: its stop signal, then SIGKILL after stop_timeout.\n", true,
                     true);
}

int client_cmd_restart(int argc, char **argv)
{
    return simple_op(argc, argv, "restart", "restart NAME\n  Stops (if running) and starts a container, from any "
                                            "state.\n", true, true);
}

int client_cmd_kill(int argc, char **argv)
{
    return simple_op(argc, argv, "kill", "kill [-s SIGNAL] NAME\n  Sends a signal to the container's process "
                                         "(default SIGTERM).\n  -s, --signal SIG   name (KILL, SIGHUP) or number\n",
                     true, true);
}

int client_cmd_poweroff(int argc, char **argv)
{
    return simple_op(argc, argv, "poweroff", "poweroff\n  Boot mode: stops everything and powers off.  keel run: "
                                             "stops everything and exits.\n", false, false);
}

int client_cmd_reboot(int argc, char **argv)
{
    return simple_op(argc, argv, "reboot", "reboot\n  Boot mode: stops everything and reboots.  keel run: "
                                           "stops everything and exits.\n", false, false);
}

int client_cmd_halt(int argc, char **argv)
{
    return simple_op(argc, argv, "halt", "halt\n  Boot mode: stops everything and halts.  keel run: stops "
                                         "everything and exits.\n", false, false);
}

/* keel apply's answer: the plan, then the outcome (to F) or the error (to
 * ERRF).  0 when it was applied, else 1. */
static int print_apply(FILE *f, FILE *errf, const struct json_value *resp)
{
    bool ok = false;
    json_get_bool(resp, "ok", &ok);
    const char *plan = json_get_str(resp, "plan");
    if (plan && plan[0])
        put_lines(f, plan);
    fflush(f);
    if (!ok)
        return server_error(errf, "apply: ", get_str(resp, "error", "failed"));
    put_shown(f, get_str(resp, "outcome", "applied"));
    fputc('\n', f);
    return 0;
}

int client_cmd_apply(int argc, char **argv)
{
    struct vopts v;
    int r = parse_opts(argc, argv, "D", "apply [--dry-run] MANIFEST\n  Checks MANIFEST in full (as keel check "
                       "does, on keel's machine), prints the plan\n  (containers to add, remove, restart, change "
                       "in place; what needs a reboot)\n  and carries it out: unchanged containers keep running.\n"
                       "  --dry-run          print the plan only\n", false, &v);
    if (r >= 0 || (r = need_args(argc, 1, 1, "apply")) >= 0)
        return r;
    const char *path = argv[optind];
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    /* The text travels in one request line: bounded by the protocol. */
    r = read_file_at(AT_FDCWD, path, PROTO_MAX_REQUEST / 2, &text, &len);
    if (r == -EFBIG)
        return fail("apply: %s is larger than %d bytes", path, PROTO_MAX_REQUEST / 2), 1;
    if (r < 0)
        return fail("apply: cannot read %s: %s", path, strerror(-r)), 1;
    struct json_writer w;
    req_begin(&w, "apply");
    json_kstr(&w, "manifest", text);
    if (v.dry_run)
        json_kbool(&w, "dry_run", true);
    json_obj_end(&w);
    struct kc k;
    r = kc_connect(&k, &v.c);
    if (r == 0)
        r = kc_request(&k, &w);
    json_writer_free(&w);
    /* Stopping the old containers takes up to their stop_timeout: keel
     * always answers, so the answer is awaited without a deadline. */
    if (r == 0)
        kc_deadline(&k, 0);
    struct json_value *resp = NULL;
    if (r == 0)
        r = kc_message(&k, &resp, false);
    kc_close(&k);
    if (r)
        return r;
    r = print_apply(stdout, stderr, resp);
    json_free(resp);
    return r;
}

/* Streamed uploads (update, cp): the file in chunks small enough for one
 * request line once in base64 (PROTO_MAX_REQUEST), each answered before the
 * next, then {"eof":true}: keel holds at most one chunk (docs/control.md).
 * *last is the answer to the eof (the caller frees it); *sent counts bytes. */
#define UPLOAD_CHUNK 32768

static int send_chunks(struct kc *k, int fd, const char *file, unsigned long long *sent, struct json_value **last)
{
    static unsigned char buf[UPLOAD_CHUNK];
    *last = NULL;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("cannot read %s: %s", file, strerror(errno));
        struct json_writer w;
        req_begin(&w, "chunk");
        if (n > 0) {
            json_key(&w, "data");
            json_base64(&w, buf, (size_t)n);
        } else {
            json_kbool(&w, "eof", true);
        }
        json_obj_end(&w);
        int r = kc_request(k, &w);
        json_writer_free(&w);
        struct json_value *ack = NULL;
        if (r == 0)
            r = kc_message(k, &ack, true);
        if (r || n == 0) {
            if (r == 0)
                *last = ack;
            else
                json_free(ack);
            return r;
        }
        json_free(ack);
        if (sent)
            *sent += (unsigned long long)n;
    }
}


int client_cmd_update(int argc, char **argv)
{
    static const char usage[] = "update FILE\n  Sends the bundle FILE (keel bundle) to keel, which verifies it, "
                                "writes it to the\n  inactive slot and reboots into it; the new slot commits "
                                "once healthy for\n  update_confirm, else the old one comes back.\n";
    struct vopts v;
    int r = parse_opts(argc, argv, "", usage, false, &v);
    if (r >= 0 || (r = need_args(argc, 1, 1, "update")) >= 0)
        return r;
    const char *file = argv[optind];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail("cannot open %s: %s", file, strerror(errno));
    struct kc k;
    struct json_writer w;
    req_begin(&w, "update");
    json_obj_end(&w);
    r = stream_open(&k, &v.c, &w);
    unsigned long long sent = 0;
    struct json_value *ack = NULL;
    if (r == 0 && (r = send_chunks(&k, fd, file, &sent, &ack)) == 0) {
        printf("%llu bytes verified and installed in slot", sent);
        const char *slot = json_get_str(ack, "slot");
        put_word(stdout, slot ? slot : "?");
        printf("; keel switches to it (reboot)\n");
    }
    json_free(ack);
    close(fd);
    kc_close(&k);
    return r;
}

int client_cmd_rollback(int argc, char **argv)
{
    return simple_op(argc, argv, "rollback", "rollback\n  Abandons the slot being tried, or goes back to the "
                                             "previous slot, and reboots.\n", false, false);
}

static void stats_row(struct table *t, const struct json_value *s)
{
    char cpu[32] = "-", mem[32] = "-", peak[32] = "-", pids[32] = "-", rd[32] = "-", wr[32] = "-";
    int64_t x;
    bool avail = false;
    json_get_bool(s, "available", &avail);
    if (json_get_int(s, "cpu_usage_us", &x))
        snprintf(cpu, sizeof cpu, "%.2fs", (double)x / 1e6);
    if (json_get_int(s, "memory_current", &x))
        fmt_bytes((uint64_t)x, mem, sizeof mem);
    if (json_get_int(s, "memory_peak", &x))
        fmt_bytes((uint64_t)x, peak, sizeof peak);
    if (json_get_int(s, "pids_current", &x))
        snprintf(pids, sizeof pids, "%" PRId64, x);
    if (json_get_int(s, "io_rbytes", &x))
        fmt_bytes((uint64_t)x, rd, sizeof rd);
    if (json_get_int(s, "io_wbytes", &x))
        fmt_bytes((uint64_t)x, wr, sizeof wr);
    char *row[] = { (char *)get_str(s, "name", "?"), cpu, mem, peak, pids, rd, wr,
                    (char *)(avail ? "-" : get_str(s, "error", "unavailable")) };
    table_add(t, row);
}

static const struct list_verb stats_list = {
    .op = "stats", .max_args = 1, .key = "stats", .missing = "no stats",
    .usage = "stats [--json] [NAME]\n  cpu, memory current/peak, pids and io per "
             "container, from its cgroup.\n  -j, --json         machine-readable\n",
    .cols = 8,
    .head = { "NAME", "CPU", "MEM", "MEM-PEAK", "PIDS", "IO-READ", "IO-WRITE", "NOTE" },
    .add_row = stats_row,
};

int client_cmd_stats(int argc, char **argv)
{
    return list_verb(argc, argv, &stats_list);
}

/* One line of keel events. */
static void print_event(FILE *f, const struct json_value *msg)
{
    int64_t t = get_int(msg, "time_ms");
    char when[32];
    utc_time_format(t / 1000, when, sizeof when);
    fprintf(f, "%s.%03dZ", when, (int)(t % 1000));
    put_word(f, get_str(msg, "name", "?"));
    put_word(f, get_str(msg, "event", "?"));
    const struct json_value *e = json_get(msg, "exit");
    int64_t x;
    if (e && e->type == JSON_OBJECT) {
        char buf[32];
        fmt_exit(e, buf, sizeof buf);
        put_word(f, buf);
    }
    if (json_get_int(msg, "pid", &x))
        fprintf(f, " pid=%" PRId64, x);
    if (json_get_int(msg, "count", &x))
        fprintf(f, " count=%" PRId64, x);
    if (json_get_str(msg, "detail"))
        put_word(f, json_get_str(msg, "detail"));
    fputc('\n', f);
}

int client_cmd_events(int argc, char **argv)
{
    struct vopts v;
    int r = parse_opts(argc, argv, "j", "events [--json]\n  A stream of state changes (started, exited, "
                                        "restarting, stopped, failed, oom,\n  health, ready; keel's own apply and update) until interrupted.\n"
                                        "  -j, --json         one JSON object per line\n", false, &v);
    if (r >= 0 || (r = need_args(argc, 0, 0, "events")) >= 0)
        return r;
    struct json_writer w;
    req_begin(&w, "events");
    json_obj_end(&w);
    struct kc k;
    r = stream_open(&k, &v.c, &w);
    if (r == 0)
        kc_deadline(&k, 0);   /* events come when they come */
    while (r == 0) {
        struct json_value *msg = NULL;
        if ((r = kc_message(&k, &msg, true)))
            break;
        if (v.json)
            print_json(msg);
        else
            print_event(stdout, msg);
        fflush(stdout);
        json_free(msg);
    }
    kc_close(&k);
    return r;
}

/* --- exec ---------------------------------------------------------------------------- */

static int exit_code_of(const struct json_value *msg, bool *done)
{
    const struct json_value *e = json_get(msg, "exit");
    int64_t code = 1;
    if (e && e->type == JSON_OBJECT) {
        *done = true;
        if (!json_get_int(e, "code", &code))
            code = 1;
        /* The command could not start: the helper's report says why. */
        const char *why = json_get_str(msg, "error");
        if (why)
            (void)server_error(stderr, "", why);
    }
    return (int)code;
}

struct rawtty {
    bool on;
    struct termios saved;
};

static void tty_raw(struct rawtty *t)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved) < 0)
        return;
    struct termios raw = t->saved;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
        t->on = true;
}

static void tty_restore(struct rawtty *t)
{
    if (t->on)
        tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
    t->on = false;
}

static int winch_fd(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    sigprocmask(SIG_BLOCK, &set, old);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static bool winsize(struct winsize *ws)
{
    return isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, ws) == 0 && ws->ws_row && ws->ws_col;
}

static int send_msg(struct kc *k, struct json_writer *w)
{
    int r = kc_request(k, w);
    json_writer_reset(w);
    return r;
}

/* Handles the server's lines during exec: output frames and the exit. */
static int exec_lines(struct kc *k, bool *done, int *code)
{
    while (kc_has_line(k) || (k->tls && mbedtls_ssl_get_bytes_avail(&k->ssl) > 0)) {
        struct json_value *msg = NULL;
        if (kc_message(k, &msg, true))
            return 1;
        static const char *const keys[] = { "stdout", "stderr" };
        for (int i = 0; i < 2; i++) {
            const struct json_value *d = json_get(msg, keys[i]);
            if (!d || d->type != JSON_STRING)
                continue;
            unsigned char *buf = malloc(d->u.str.len / 4 * 3 + 1);
            long n = buf ? json_base64_decode(d->u.str.s, d->u.str.len, buf) : -1;
            if (n > 0 && write_all(i ? STDERR_FILENO : STDOUT_FILENO, buf, (size_t)n) < 0) {
                /* our output is gone; keep going until the exit status */
            }
            free(buf);
        }
        bool fin = false;
        int c = exit_code_of(msg, &fin);
        if (fin) {
            *done = true;
            *code = c;
        }
        json_free(msg);
        if (*done)
            return 0;
        if (!kc_has_line(k) && !(k->tls && mbedtls_ssl_get_bytes_avail(&k->ssl) > 0))
            break;
    }
    return 0;
}

/* Streamed exec: stdio travels as base64 frames over the connection (TCP,
 * vsock, or a unix client asking for it). */
static int exec_stream(struct kc *k, bool tty)
{
    struct rawtty rt = { 0 };
    sigset_t old;
    int wfd = tty ? winch_fd(&old) : -1;
    struct json_writer w;
    json_writer_init(&w);
    bool in_open = true, done = false;
    int code = 1, r = 0;
    if (tty)
        tty_raw(&rt);
    while (!done && r == 0) {
        if ((r = exec_lines(k, &done, &code)) || done)
            break;
        struct pollfd p[3] = {
            { .fd = k->fd, .events = POLLIN },
            { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
            { .fd = wfd, .events = POLLIN },
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            r = fail("cannot wait for exec I/O: %s", strerror(errno));
            break;
        }
        if (p[0].revents) {
            ssize_t n = kc_fill(k);
            if (n == 0) {
                r = fail("keel closed the connection before the command's exit status");
                break;
            }
            if (n < 0) {
                r = fail("cannot read from keel: %s", strerror((int)-n));
                break;
            }
        }
        if (p[1].revents) {
            char buf[STDIN_CHUNK];
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            json_obj_begin(&w);
            json_kstr(&w, "op", "stdin");
            if (n > 0) {
                json_key(&w, "data");
                json_base64(&w, buf, (size_t)n);
            } else {
                json_kbool(&w, "eof", true);
                in_open = false;
            }
            json_obj_end(&w);
            r = send_msg(k, &w);
        }
        if (wfd >= 0 && p[2].revents) {
            struct signalfd_siginfo si;
            while (read(wfd, &si, sizeof si) > 0) {
            }
            struct winsize ws;
            if (winsize(&ws)) {
                json_obj_begin(&w);
                json_kstr(&w, "op", "resize");
                json_kint(&w, "rows", ws.ws_row);
                json_kint(&w, "cols", ws.ws_col);
                json_obj_end(&w);
                r = send_msg(k, &w);
            }
        }
    }
    tty_restore(&rt);
    if (wfd >= 0) {
        close_safe(wfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    json_writer_free(&w);
    return r ? r : code;
}

/* exec -t on a unix socket: keel sent the pty master; relay the terminal. */
static int exec_pty(struct kc *k)
{
    int m = k->rfd;
    if (m < 0)
        return fail("keel did not pass a terminal for exec -t");
    struct rawtty rt = { 0 };
    sigset_t old;
    int wfd = winch_fd(&old);
    struct winsize ws;
    if (winsize(&ws))
        ioctl(m, TIOCSWINSZ, &ws);
    tty_raw(&rt);
    bool in_open = true, m_open = true, done = false;
    int code = 1, r = 0;
    while (r == 0 && (!done || m_open)) {
        if ((r = exec_lines(k, &done, &code)))
            break;
        struct pollfd p[4] = {
            { .fd = k->fd, .events = POLLIN },
            { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
            { .fd = m_open ? m : -1, .events = POLLIN },
            { .fd = wfd, .events = POLLIN },
        };
        /* After the exit, drain what the terminal still holds, briefly. */
        int n = poll(p, 4, done ? 200 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = fail("cannot wait for exec I/O: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (p[0].revents && !done) {
            ssize_t x = kc_fill(k);
            if (x <= 0) {
                r = fail("keel closed the connection before the command's exit status");
                break;
            }
        }
        if (p[1].revents) {
            char buf[STDIN_CHUNK];
            ssize_t x = read(STDIN_FILENO, buf, sizeof buf);
            if (x > 0) {
                if (write_all(m, buf, (size_t)x) < 0)
                    in_open = false;
            } else if (x == 0 || errno != EINTR) {
                static const char eot = 4;
                if (write(m, &eot, 1) < 0) {
                    /* the terminal is gone */
                }
                in_open = false;
            }
        }
        if (p[2].revents) {
            char buf[16384];
            ssize_t x = read(m, buf, sizeof buf);
            if (x > 0) {
                if (write_all(STDOUT_FILENO, buf, (size_t)x) < 0)
                    m_open = false;
            } else if (x == 0 || errno != EINTR) {
                m_open = false;   /* EIO: the process side is closed */
            }
        }
        if (p[3].revents) {
            struct signalfd_siginfo si;
            while (read(wfd, &si, sizeof si) > 0) {
            }
            if (winsize(&ws))
                ioctl(m, TIOCSWINSZ, &ws);
        }
    }
    tty_restore(&rt);
    close_safe(wfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return r ? r : code;
}

int client_cmd_exec(int argc, char **argv)
{
    struct vopts v;
    int r = parse_opts(argc, argv, "tiS",
                       "exec [-t] [--stream] NAME [--] CMD [ARG...]\n"
                       "  Runs CMD inside the running container NAME (its namespaces, cgroup, root,\n"
                       "  environment, user and capabilities); exits with CMD's exit status.\n"
                       "  -t, --tty          allocate a terminal (interactive use)\n"
                       "  -i, --interactive  accepted for docker exec -i: stdin is always connected\n"
                       "      --stream       with -t, relay the terminal through the connection even on a\n"
                       "                     unix socket (always so over tcp:// and vsock://, and without -t)\n",
                       true, &v);
    if (r >= 0)
        return r;
    if (argc - optind < 2) {
        fail("exec: usage: keel exec [-t] NAME -- CMD [ARG...]; see keel exec --help");
        return 2;
    }
    const char *name = argv[optind++];
    if (strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc) {
        fail("exec: missing command; see keel exec --help");
        return 2;
    }
    struct kc k;
    if ((r = kc_connect(&k, &v.c)))
        return r;
    /* Without -t stdio is always relayed through the connection: keel hands
     * none of our own fds to the container (see control_exec_start in control_exec.c). */
    bool stream = v.stream || !v.tty || !k.is_unix;
    struct json_writer w;
    req_begin(&w, "exec");
    json_kstr(&w, "name", name);
    json_key(&w, "argv");
    json_arr_begin(&w);
    for (int i = optind; i < argc; i++)
        json_str(&w, argv[i]);
    json_arr_end(&w);
    json_kbool(&w, "tty", v.tty);
    if (stream)
        json_kbool(&w, "stream", true);
    struct winsize ws;
    if (v.tty && winsize(&ws)) {
        json_kint(&w, "rows", ws.ws_row);
        json_kint(&w, "cols", ws.ws_col);
    }
    json_obj_end(&w);
    r = kc_request(&k, &w);
    json_writer_free(&w);
    struct json_value *msg = NULL;
    if (r == 0)
        r = kc_message(&k, &msg, true);
    json_free(msg);
    if (r) {
        kc_close(&k);
        return r;
    }
    kc_deadline(&k, 0);   /* the command runs (and reads its input) as long as it likes */
    if (stream)
        r = exec_stream(&k, v.tty);
    else
        r = exec_pty(&k);
    kc_close(&k);
    return r;
}

/* keel cp: NAME:PATH is the container's side; a host path with a colon is
 * written ./a:b (an argument starting with / or . is always the host's). */
static bool cp_container_arg(const char *a, char *name, size_t n, const char **path)
{
    const char *colon = strchr(a, ':');
    if (a[0] == '/' || a[0] == '.' || !colon || colon == a || (size_t)(colon - a) >= n)
        return false;
    const char *slash = strchr(a, '/');
    if (slash && slash < colon)
        return false;
    memcpy(name, a, (size_t)(colon - a));
    name[colon - a] = 0;
    *path = colon + 1;
    return true;
}

/* One chunk answer of cp_get: writes its data; 1 at the end of the file. */
static int cp_get_chunk(struct kc *k, int out, const char *host, unsigned long long *got)
{
    struct json_writer w;
    req_begin(&w, "chunk");
    json_obj_end(&w);
    int r = kc_request(k, &w);
    json_writer_free(&w);
    struct json_value *ack = NULL;
    if (r == 0)
        r = kc_message(k, &ack, true);
    if (r != 0)
        return -r;
    bool eof = false;
    const char *data = json_get_str(ack, "data");
    if (json_get(ack, "eof") && json_get_bool(ack, "eof", &eof) && eof) {
        json_free(ack);
        return 1;
    }
    size_t dlen = data ? strlen(data) : 0;
    unsigned char *buf = malloc(dlen / 4 * 3 + 3);
    long n = buf && data ? json_base64_decode(data, dlen, buf) : -1;
    json_free(ack);
    if (n < 0) {
        free(buf);
        return -fail("cannot understand keel's answer: bad chunk");
    }
    for (long off = 0; off < n;) {
        ssize_t wr = write(out, buf + off, (size_t)(n - off));
        if (wr < 0 && errno == EINTR)
            continue;
        if (wr < 0) {
            free(buf);
            return -fail("cannot write %s: %s", host, strerror(errno));
        }
        off += wr;
    }
    free(buf);
    *got += (unsigned long long)n;
    return 0;
}

static int cp_get(const struct copts *o, const char *name, const char *path, const char *host)
{
    /* A host directory receives the file under its own name. */
    char target[PATH_MAX];
    struct stat st;
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (stat(host, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!*b || snprintf(target, sizeof target, "%s/%s", host, b) >= (int)sizeof target)
            return fail("cannot copy %s:%s to %s: name the file", name, path, host);
    } else if (snprintf(target, sizeof target, "%s", host) >= (int)sizeof target) {
        return fail("cannot copy to %s: path too long", host);
    }
    struct kc k;
    struct json_writer w;
    req_begin(&w, "cp_get");
    json_kstr(&w, "name", name);
    json_kstr(&w, "path", path);
    json_obj_end(&w);
    struct json_value *ack = NULL;
    int r = kc_connect(&k, o);
    if (r == 0)
        r = kc_request(&k, &w);
    json_writer_free(&w);
    if (r == 0)
        r = kc_message(&k, &ack, true);
    int64_t mode = 0644;
    if (r == 0 && !json_get_int(ack, "mode", &mode))
        mode = 0644;
    json_free(ack);
    if (r != 0) {
        kc_close(&k);
        return r;
    }
    /* Written beside the target and renamed at the end: a failed copy
     * leaves the old file as it was. */
    char tmp[PATH_MAX + 32];
    if (snprintf(tmp, sizeof tmp, "%s.keel-cp.%d", target, (int)getpid()) >= (int)sizeof tmp) {
        kc_close(&k);
        return fail("cannot copy to %s: path too long", target);
    }
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, (mode_t)(mode & 0777));
    if (out < 0) {
        kc_close(&k);
        return fail("cannot create %s: %s", tmp, strerror(errno));
    }
    unsigned long long got = 0;
    int c;
    while ((c = cp_get_chunk(&k, out, target, &got)) == 0)
        ;
    kc_close(&k);
    if (close(out) < 0 && c == 1)
        c = -fail("cannot write %s: %s", tmp, strerror(errno));
    if (c == 1 && rename(tmp, target) < 0)
        c = -fail("cannot rename %s to %s: %s", tmp, target, strerror(errno));
    if (c != 1)
        unlink(tmp);
    return c == 1 ? 0 : -c;
}

static int cp_put(const struct copts *o, const char *host, const char *name, const char *path)
{
    int fd = open(host, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail("cannot open %s: %s", host, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail("cannot copy %s: %s", host,
                    S_ISDIR(st.st_mode) ? "it is a directory (keel cp copies regular files)" : "not a regular file");
    }
    /* A container path ending in / is a directory: the file keeps its name. */
    char target[PATH_MAX];
    const char *b = strrchr(host, '/');
    b = b ? b + 1 : host;
    size_t plen = strlen(path);
    if (snprintf(target, sizeof target, "%s%s", path, plen && path[plen - 1] == '/' ? b : "") >= (int)sizeof target) {
        close(fd);
        return fail("cannot copy to %s:%s: path too long", name, path);
    }
    struct kc k;
    struct json_writer w;
    req_begin(&w, "cp_put");
    json_kstr(&w, "name", name);
    json_kstr(&w, "path", target);
    json_kint(&w, "mode", st.st_mode & 0777);
    json_obj_end(&w);
    int r = stream_open(&k, o, &w);
    if (r == 0) {
        struct json_value *ack = NULL;
        r = send_chunks(&k, fd, host, NULL, &ack);
        json_free(ack);
    }
    close(fd);
    kc_close(&k);
    return r;
}

int client_cmd_cp(int argc, char **argv)
{
    static const char usage[] = "cp NAME:PATH HOSTPATH | keel cp HOSTPATH NAME:PATH\n"
                                "  Copies a regular file out of or into the running container NAME; PATH is\n"
                                "  resolved inside the container's root (symlinks and .. never leave it).\n"
                                "  A host path with a colon is written ./a:b.  Needs root on a unix socket.\n";
    struct vopts v;
    int r = parse_opts(argc, argv, "", usage, false, &v);
    if (r >= 0 || (r = need_args(argc, 2, 2, "cp")) >= 0)
        return r;
    const char *src = argv[optind], *dst = argv[optind + 1];
    char name[KEEL_NAME_MAX + 1];
    const char *path;
    bool from = cp_container_arg(src, name, sizeof name, &path);
    if (from && cp_container_arg(dst, name, sizeof name, &path))
        return fail("cp: one side must be a host path"), 2;
    if (from)
        return cp_get(&v.c, name, path, dst);
    if (!cp_container_arg(dst, name, sizeof name, &path))
        return fail("cp: one side must be NAME:PATH, a path in a container"), 2;
    return cp_put(&v.c, src, name, path);
}

const struct client_verb client_verbs[] = {
    { "ps", client_cmd_ps, "list containers" },
    { "status", client_cmd_status, "show one container, or the machine (uplinks, slots)" },
    { "logs", client_cmd_logs, "print a container's log (-f to follow)" },
    { "start", client_cmd_start, "start a container" },
    { "stop", client_cmd_stop, "stop a container" },
    { "restart", client_cmd_restart, "restart a container" },
    { "kill", client_cmd_kill, "send a signal to a container" },
    { "exec", client_cmd_exec, "run a command inside a running container" },
    { "stats", client_cmd_stats, "show cgroup usage per container" },
    { "events", client_cmd_events, "stream container state changes" },
    { "poweroff", client_cmd_poweroff, "stop everything and power off (keel run: exit)" },
    { "reboot", client_cmd_reboot, "stop everything and reboot (keel run: exit)" },
    { "halt", client_cmd_halt, "stop everything and halt (keel run: exit)" },
    { "apply", client_cmd_apply, "apply a new manifest live (--dry-run: print the plan)" },
    { "update", client_cmd_update, "send a payload bundle; keel switches to it, commits or rolls back" },
    { "cp", client_cmd_cp, "copy a regular file out of or into a running container" },
    { "rollback", client_cmd_rollback, "go back to the previous payload slot (reboots)" },
    { NULL, NULL, NULL },
};

/* --- the printers, apart from the connection (client.h) ------------------------- */

int client_print_answer(FILE *f, enum client_answer what, const struct json_value *answer)
{
    const struct json_value *v;
    switch (what) {
    case CLIENT_ANSWER_PS:
    case CLIENT_ANSWER_STATS:
        v = json_get(answer, what == CLIENT_ANSWER_PS ? "containers" : "stats");
        if (!v || v->type != JSON_ARRAY)
            return 1;
        print_list(f, what == CLIENT_ANSWER_PS ? &ps_list : &stats_list, v);
        return 0;
    case CLIENT_ANSWER_STATUS:
        v = json_get(answer, "container");
        if (!v || v->type != JSON_OBJECT)
            return 1;
        print_container(f, v);
        return 0;
    case CLIENT_ANSWER_UPLINKS:
        v = json_get(json_get(answer, "machine"), "uplinks");
        if (v && v->type != JSON_ARRAY)
            return 1;
        print_uplinks(f, v);
        return 0;
    case CLIENT_ANSWER_SLOTS: print_slots(f, answer); return 0;
    case CLIENT_ANSWER_EVENT: print_event(f, answer); return 0;
    case CLIENT_ANSWER_APPLY: return print_apply(f, f, answer);
    case CLIENT_ANSWER_ERROR:
        v = json_get(answer, "error");
        return server_error(f, "", v && v->type == JSON_STRING ? v->u.str.s : "request failed");
    case CLIENT_ANSWER_LOG_LINE:
        v = json_get(answer, "line");
        if (!v || v->type != JSON_STRING)
            return 1;
        write_log_line(f, v->u.str.s, v->u.str.len, true);
        return 0;
    }
    return 1;
}
