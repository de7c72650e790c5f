/* nlbuf.c — batched netlink requests (see nlbuf.h). */
#include "keel/nlbuf.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keel/util.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

void nlbuf_init(struct nlbuf *b)
{
    memset(b, 0, sizeof *b);
}

void nlbuf_reset(struct nlbuf *b)
{
    uint8_t *data = b->data;
    size_t cap = b->cap;
    memset(b, 0, sizeof *b);
    b->data = data;
    b->cap = cap;
}

void nlbuf_free(struct nlbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Reserves `len` bytes (zeroed, 4-aligned length) at the end; NULL on failure. */
static void *reserve(struct nlbuf *b, size_t len)
{
    size_t alen = NLMSG_ALIGN(len);
    if (b->oom)
        return NULL;
    if (b->len + alen > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap < b->len + alen)
            ncap *= 2;
        uint8_t *nd = realloc(b->data, ncap);
        if (!nd) {
            b->oom = true;
            return NULL;
        }
        b->data = nd;
        b->cap = ncap;
    }
    void *p = b->data + b->len;
    memset(p, 0, alen);
    b->len += alen;
    return p;
}

static void start_msg(struct nlbuf *b, uint16_t type, uint16_t flags, const char *label)
{
    if (b->n_msgs >= NLBUF_MAX_MSGS) {
        b->oom = true;
        return;
    }
    size_t off = b->len;
    struct nlmsghdr *h = reserve(b, sizeof *h);
    if (!h)
        return;
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | flags;
    b->msg_off = off;
    b->in_msg = true;
    b->depth = 0;
    b->labels[b->n_msgs] = label;
    b->flags[b->n_msgs] = h->nlmsg_flags;
    b->acked[b->n_msgs] = (flags & (NLM_F_ACK | NLM_F_DUMP)) != 0;
    b->n_msgs++;
}

void nlbuf_end(struct nlbuf *b)
{
    if (!b->in_msg || b->oom)
        return;
    struct nlmsghdr *h = (struct nlmsghdr *)(b->data + b->msg_off);
    h->nlmsg_len = (uint32_t)(b->len - b->msg_off);
    b->in_msg = false;
    if (b->depth != 0)
        b->oom = true;   /* unbalanced nesting is a bug: refuse to send */
}

void nlbuf_invalid(struct nlbuf *b)
{
    b->invalid = true;
}

void nlbuf_begin(struct nlbuf *b, uint16_t type, uint16_t flags, const void *hdr, size_t hdrlen,
                 const char *label)
{
    nlbuf_end(b);
    start_msg(b, type, flags, label);
    if (hdrlen) {
        void *p = reserve(b, hdrlen);
        if (p)
            memcpy(p, hdr, hdrlen);
    }
}

void nlbuf_put(struct nlbuf *b, uint16_t type, const void *data, size_t len)
{
    struct nlattr *a = reserve(b, NLA_HDRLEN + len);
    if (!a)
        return;
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    if (len)
        memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
}

void nlbuf_put_raw(struct nlbuf *b, const void *data, size_t len)
{
    void *p = reserve(b, len);
    if (p && len)
        memcpy(p, data, len);
}

void nlbuf_put_u8(struct nlbuf *b, uint16_t type, uint8_t v)
{
    nlbuf_put(b, type, &v, 1);
}

void nlbuf_put_u32(struct nlbuf *b, uint16_t type, uint32_t v)
{
    nlbuf_put(b, type, &v, 4);
}

void nlbuf_put_be32(struct nlbuf *b, uint16_t type, uint32_t v)
{
    uint32_t be = __builtin_bswap32(v);
    nlbuf_put(b, type, &be, 4);
}

void nlbuf_put_str(struct nlbuf *b, uint16_t type, const char *s)
{
    nlbuf_put(b, type, s, strlen(s) + 1);
}

void nlbuf_nest_begin(struct nlbuf *b, uint16_t type)
{
    if (b->depth >= NLBUF_MAX_NEST) {
        b->oom = true;
        return;
    }
    size_t off = b->len;
    struct nlattr *a = reserve(b, NLA_HDRLEN);
    if (!a)
        return;
    a->nla_type = type | NLA_F_NESTED;
    b->nest[b->depth++] = off;
}

void nlbuf_nest_end(struct nlbuf *b)
{
    if (b->oom)
        return;
    if (b->depth <= 0) {
        b->oom = true;
        return;
    }
    size_t off = b->nest[--b->depth];
    struct nlattr *a = (struct nlattr *)(b->data + off);
    a->nla_len = (uint16_t)(b->len - off);
}

int nlbuf_parse_attrs(const void *data, size_t len, const struct nlattr **tb, uint16_t max)
{
    for (uint16_t i = 0; i <= max; i++)
        tb[i] = NULL;
    size_t off = 0;
    while (off + NLA_HDRLEN <= len) {
        const struct nlattr *a = (const struct nlattr *)((const uint8_t *)data + off);
        if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
            return -EINVAL;
        uint16_t type = a->nla_type & NLA_TYPE_MASK;
        if (type <= max)
            tb[type] = a;
        off += NLA_ALIGN(a->nla_len);
    }
    return 0;
}

int nlbuf_socket(int protocol, struct kerr *err)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open netlink socket (protocol %d)", protocol);
    int one = 1;
    /* Both are optional refinements: short error acks and the kernel's own
     * explanation of a refused request.  Old kernels lack them; ignore. */
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    return fd;
}

/* The kernel's extended-ack message, if the error carries one. */
static const char *ext_ack_msg(const struct nlmsghdr *h)
{
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
        return NULL;
    const struct nlmsgerr *e = NLMSG_DATA(h);
    size_t off = NLMSG_HDRLEN + sizeof *e;
    if (!(h->nlmsg_flags & NLM_F_CAPPED))
        off += e->msg.nlmsg_len - sizeof e->msg;
    off = NLMSG_ALIGN(off);
    while (off + NLA_HDRLEN <= h->nlmsg_len) {
        const struct nlattr *a = (const struct nlattr *)((const uint8_t *)h + off);
        if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len)
            break;
        if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && a->nla_len > NLA_HDRLEN) {
            const char *s = (const char *)a + NLA_HDRLEN;
            if (memchr(s, '\0', a->nla_len - NLA_HDRLEN))
                return s;
        }
        off += NLA_ALIGN(a->nla_len);
    }
    return NULL;
}

static uint32_t next_seq;

int nlbuf_send(int fd, struct nlbuf *b, nlbuf_reply_fn cb, void *ud, struct kerr *err)
{
    nlbuf_end(b);
    if (b->oom)
        return kerr_set(err, ENOMEM, "cannot build netlink request");
    if (b->invalid)
        return kerr_set(err, EINVAL, "cannot build netlink request");
    if (b->n_msgs == 0)
        return 0;

    if (next_seq == 0)
        next_seq = (uint32_t)now_ns() | 1;
    b->seq0 = next_seq;
    next_seq += (uint32_t)b->n_msgs;

    size_t pending = 0;
    size_t off = 0;
    for (size_t i = 0; i < b->n_msgs && off < b->len; i++) {
        struct nlmsghdr *h = (struct nlmsghdr *)(b->data + off);
        h->nlmsg_seq = b->seq0 + (uint32_t)i;
        h->nlmsg_pid = 0;
        if (b->acked[i])
            pending++;
        off += NLMSG_ALIGN(h->nlmsg_len);
    }

    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    ssize_t n;
    do
        n = sendto(fd, b->data, b->len, 0, (struct sockaddr *)&kernel, sizeof kernel);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return kerr_set(err, errno, "cannot send netlink request (%s)",
                        b->labels[0] ? b->labels[0] : "?");

    size_t bufsz = 64 * 1024;
    _cleanup_free_ uint8_t *buf = malloc(bufsz);
    if (!buf)
        return kerr_set(err, ENOMEM, "cannot receive netlink replies");

    int rc = 0;
    uint64_t deadline = now_ms() + 2000;
    bool done_dump[NLBUF_MAX_MSGS] = { false };
    while (pending > 0 && rc == 0) {
        n = recv(fd, buf, bufsz, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return kerr_set(err, errno, "cannot receive netlink reply");
            uint64_t now = now_ms();
            if (now >= deadline)
                return kerr_set(err, ETIMEDOUT, "cannot %s", b->labels[0] ? b->labels[0] : "?");
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
                return kerr_set(err, errno, "cannot wait for netlink reply");
            continue;
        }
        size_t left = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            uint32_t idx = h->nlmsg_seq - b->seq0;
            if (idx >= b->n_msgs)
                continue;   /* a stray reply of an earlier request */
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e))
                    continue;
                if (b->acked[idx] && pending > 0 && !done_dump[idx]) {
                    pending--;
                    done_dump[idx] = true;
                }
                if (e->error != 0 && rc == 0) {
                    const char *ext = ext_ack_msg(h);
                    const char *label = b->labels[idx] ? b->labels[idx] : "apply netlink request";
                    if (ext)
                        rc = kerr_msg(err, -e->error, "cannot %s: %s (%s)", label, strerror(-e->error), ext);
                    else
                        rc = kerr_set(err, -e->error, "cannot %s", label);
                }
            } else if (h->nlmsg_type == NLMSG_DONE) {
                if (b->acked[idx] && pending > 0 && !done_dump[idx]) {
                    pending--;
                    done_dump[idx] = true;
                }
            } else if (cb && rc == 0) {
                int r = cb(idx, h, ud);
                if (r < 0)
                    rc = kerr_set(err, -r, "cannot %s: bad reply",
                                  b->labels[idx] ? b->labels[idx] : "read netlink reply");
            }
        }
    }
    /* Drain what an aborted batch may still have queued, so the next request
     * on this socket starts clean. */
    while (recv(fd, buf, bufsz, MSG_DONTWAIT) > 0)
        ;
    return rc;
}
