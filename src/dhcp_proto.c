/* dhcp_proto.c — DHCPv4 messages, framing and the client's state machine,
 * pure (see dhcp_proto.h). */
#include "keel/dhcp_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* BOOTP layout (RFC 951, 2131 section 2). */
#define OFF_OP 0
#define OFF_HTYPE 1
#define OFF_HLEN 2
#define OFF_XID 4
#define OFF_SECS 8
#define OFF_CIADDR 12
#define OFF_YIADDR 16
#define OFF_CHADDR 28
#define OFF_COOKIE 236
#define OFF_OPTIONS 240
#define BOOTP_MIN 300

static const uint8_t cookie[4] = { 99, 130, 83, 99 };

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static struct in_addr addr_at(const uint8_t *p)
{
    struct in_addr a;
    memcpy(&a.s_addr, p, 4);
    return a;
}

/* A usable unicast address for a host: not 0/8, 127/8, multicast or above. */
static bool host_addr_ok(struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);
    return (h >> 24) != 0 && (h >> 24) != 127 && h < 0xe0000000u;
}

/* The prefix of a contiguous netmask; -1 when not contiguous or 0. */
static int mask_prefix(uint32_t mask)
{
    int p = 0;
    while (p < 32 && (mask & (0x80000000u >> p)))
        p++;
    if (p == 0 || (p < 32 && (mask << p) != 0))
        return -1;
    return p;
}

static unsigned classful_prefix(struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);
    return h < 0x80000000u ? 8 : h < 0xc0000000u ? 16 : 24;
}

int dhcp_parse_routes(const uint8_t *p, size_t len, struct dhcp_route *routes, size_t max)
{
    size_t n = 0, off = 0;
    while (off < len) {
        unsigned width = p[off++];
        if (width > 32)
            return -EINVAL;
        size_t sig = (width + 7) / 8;
        if (len - off < sig + 4)
            return -EINVAL;
        uint8_t dst[4] = { 0 };
        memcpy(dst, p + off, sig);
        off += sig;
        uint32_t d = get32(dst);
        if (width < 32 && (d & (0xffffffffu >> width)))
            return -EINVAL;   /* bits set beyond the prefix: a corrupt descriptor */
        if (n < max) {
            routes[n].dst = addr_at(dst);
            routes[n].prefix = width;
            routes[n].gw = addr_at(p + off);
            n++;
        }
        off += 4;
    }
    return (int)n;
}

/* Up to `max` addresses of an option whose payload is a list of them. */
static int addr_list(const uint8_t *p, size_t len, struct in_addr *out, size_t max, size_t *n)
{
    if (len == 0 || len % 4)
        return -EINVAL;
    *n = 0;
    for (size_t i = 0; i < len / 4 && *n < max; i++)
        out[(*n)++] = addr_at(p + 4 * i);
    return 0;
}

/* A domain keel may write into resolv.conf: letters, digits, '-', '_', '.'
 * (a newline or blank would add lines or words to the file). */
static void take_domain(const uint8_t *p, size_t len, char *out)
{
    while (len && p[len - 1] == '\0')
        len--;   /* some servers count a terminating NUL */
    out[0] = '\0';
    if (len == 0 || len > DHCP_DOMAIN_MAX)
        return;
    for (size_t i = 0; i < len; i++) {
        char ch = (char)p[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                  ch == '_' || ch == '.';
        if (!ok)
            return;
    }
    memcpy(out, p, len);
    out[len] = '\0';
}

static int parse_option(uint8_t code, const uint8_t *p, size_t len, struct dhcp_msg *m, bool *t1, bool *t2)
{
    struct dhcp_lease *l = &m->lease;
    switch (code) {
    case 53:
        if (len != 1)
            return -EINVAL;
        m->type = p[0];
        return 0;
    case 1: {
        if (len != 4)
            return -EINVAL;
        int pfx = mask_prefix(get32(p));
        if (pfx < 0)
            return -EINVAL;
        l->prefix = (unsigned)pfx;
        return 0;
    }
    case 3: {
        struct in_addr r[1] = { { 0 } };
        size_t n;
        if (addr_list(p, len, r, 1, &n) < 0)
            return -EINVAL;
        l->router = r[0];
        return 0;
    }
    case 6:
        return addr_list(p, len, l->dns, DHCP_MAX_DNS, &l->n_dns);
    case 42:
        return addr_list(p, len, l->ntp, DHCP_MAX_NTP, &l->n_ntp);
    case 15:
        take_domain(p, len, l->domain);
        return 0;
    case 26:
        if (len != 2)
            return -EINVAL;
        l->mtu = (unsigned)p[0] << 8 | p[1];
        if (l->mtu < 576)
            l->mtu = 0;   /* RFC 791's minimum datagram: below it, keep the link's */
        return 0;
    case 51:
    case 58:
    case 59:
        if (len != 4)
            return -EINVAL;
        if (code == 51)
            l->lease_s = get32(p);
        else if (code == 58)
            l->t1_s = get32(p), *t1 = true;
        else
            l->t2_s = get32(p), *t2 = true;
        return 0;
    case 54:
        if (len != 4)
            return -EINVAL;
        l->server = addr_at(p);
        return 0;
    case 121: {
        int n = dhcp_parse_routes(p, len, l->routes, DHCP_MAX_ROUTES);
        if (n < 0)
            return n;
        l->n_routes = (size_t)n;
        l->has_routes = true;
        return 0;
    }
    default:
        return 0;   /* not one keel uses */
    }
}

/* T1 and T2 when the server gave none or inconsistent ones (RFC 2131 4.4.5). */
static void fix_times(struct dhcp_lease *l, bool t1, bool t2)
{
    if (l->lease_s == DHCP_INFINITE) {
        l->t1_s = l->t2_s = DHCP_INFINITE;
        return;
    }
    uint32_t def2 = (uint32_t)((uint64_t)l->lease_s * 7 / 8);
    if (!t2 || l->t2_s > l->lease_s)
        l->t2_s = def2;
    if (!t1 || l->t1_s > l->t2_s)
        l->t1_s = l->lease_s / 2 < l->t2_s ? l->lease_s / 2 : l->t2_s;
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *out)
{
    memset(out, 0, sizeof *out);
    if (len < OFF_OPTIONS || len > DHCP_MSG_MAX || buf[OFF_OP] != 2 || buf[OFF_HTYPE] != 1 || buf[OFF_HLEN] != 6 ||
        memcmp(buf + OFF_COOKIE, cookie, 4) != 0)
        return -EINVAL;
    out->xid = get32(buf + OFF_XID);
    memcpy(out->chaddr, buf + OFF_CHADDR, 6);
    out->lease.addr = addr_at(buf + OFF_YIADDR);
    bool t1 = false, t2 = false, has_lease = false, ended = false;
    size_t off = OFF_OPTIONS;
    while (off < len && !ended) {
        uint8_t code = buf[off++];
        if (code == 0)
            continue;
        if (code == 255) {
            ended = true;
            break;
        }
        if (off >= len)
            return -EINVAL;
        size_t olen = buf[off++];
        if (olen > len - off)
            return -EINVAL;
        if (code == 51)
            has_lease = true;
        int r = parse_option(code, buf + off, olen, out, &t1, &t2);
        if (r < 0)
            return r;
        off += olen;
    }
    if (!ended || out->type < DHCP_DISCOVER || out->type > DHCP_INFORM)
        return -EINVAL;
    if (out->type == DHCP_OFFER || out->type == DHCP_ACK) {
        struct dhcp_lease *l = &out->lease;
        if (!host_addr_ok(l->addr) || !has_lease || l->server.s_addr == 0)
            return -EINVAL;
        if (l->prefix == 0)
            l->prefix = classful_prefix(l->addr);
        fix_times(l, t1, t2);
    }
    return 0;
}

static size_t opt(uint8_t *buf, size_t off, uint8_t code, const void *data, size_t len)
{
    buf[off] = code;
    buf[off + 1] = (uint8_t)len;
    memcpy(buf + off + 2, data, len);
    return off + 2 + len;
}

size_t dhcp_build(const struct dhcp_send *s, uint8_t *buf)
{
    memset(buf, 0, DHCP_MSG_MAX);
    buf[OFF_OP] = 1;
    buf[OFF_HTYPE] = 1;
    buf[OFF_HLEN] = 6;
    put32(buf + OFF_XID, s->xid);
    put16(buf + OFF_SECS, s->secs);
    memcpy(buf + OFF_CIADDR, &s->ciaddr.s_addr, 4);
    memcpy(buf + OFF_CHADDR, s->mac, 6);
    memcpy(buf + OFF_COOKIE, cookie, 4);
    size_t off = OFF_OPTIONS;
    off = opt(buf, off, 53, &s->type, 1);
    uint8_t cid[7] = { 1 };
    memcpy(cid + 1, s->mac, 6);
    if (s->server.s_addr)
        off = opt(buf, off, 54, &s->server.s_addr, 4);
    off = opt(buf, off, 61, cid, sizeof cid);
    if (s->type != DHCP_RELEASE) {
        if (s->requested.s_addr)
            off = opt(buf, off, 50, &s->requested.s_addr, 4);
        uint8_t max[2];
        put16(max, DHCP_FRAME_MAX);
        off = opt(buf, off, 57, max, sizeof max);
        if (s->hostname && s->hostname[0]) {
            size_t n = strlen(s->hostname);
            off = opt(buf, off, 12, s->hostname, n > 63 ? 63 : n);
        }
        static const uint8_t prl[] = { 1, 3, 6, 15, 26, 42, 51, 54, 58, 59, 121 };
        off = opt(buf, off, 55, prl, sizeof prl);
    }
    buf[off++] = 255;
    return off < BOOTP_MIN ? BOOTP_MIN : off;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The UDP checksum over the pseudo header (src, dst, proto, length) and the datagram. */
static uint16_t udp_sum(const uint8_t *ip, const uint8_t *udp, size_t ulen)
{
    uint32_t s = sum16(ip + 12, 8, 0);
    s += 17 + (uint32_t)ulen;
    return fold(sum16(udp, ulen, s));
}

size_t dhcp_frame(const uint8_t *payload, size_t len, uint8_t *buf)
{
    size_t ulen = len + 8, tot = ulen + 20;
    memset(buf, 0, 28);
    buf[0] = 0x45;
    put16(buf + 2, (uint16_t)tot);
    buf[8] = 64;
    buf[9] = 17;
    memset(buf + 16, 0xff, 4);
    put16(buf + 10, fold(sum16(buf, 20, 0)));
    uint8_t *u = buf + 20;
    put16(u, DHCP_CLIENT_PORT);
    put16(u + 2, DHCP_SERVER_PORT);
    put16(u + 4, (uint16_t)ulen);
    memcpy(u + 8, payload, len);
    uint16_t c = udp_sum(buf, u, ulen);
    put16(u + 6, c ? c : 0xffff);
    return tot;
}

int dhcp_unframe(const uint8_t *buf, size_t len, bool udp_sum_ready, const uint8_t **payload, size_t *plen)
{
    if (len < 28 || (buf[0] >> 4) != 4)
        return -EINVAL;
    size_t ihl = (size_t)(buf[0] & 0xf) * 4;
    size_t tot = (size_t)buf[2] << 8 | buf[3];
    if (ihl < 20 || tot > len || tot < ihl + 8 || buf[9] != 17)
        return -EINVAL;
    if ((((unsigned)buf[6] << 8 | buf[7]) & 0x3fff) != 0)
        return -EINVAL;   /* a fragment (MF set or an offset): keel does not reassemble */
    if (fold(sum16(buf, ihl, 0)) != 0)
        return -EINVAL;
    const uint8_t *u = buf + ihl;
    size_t ulen = (size_t)u[4] << 8 | u[5];
    if (ulen < 8 || ulen > tot - ihl || ((unsigned)u[0] << 8 | u[1]) != DHCP_SERVER_PORT ||
        ((unsigned)u[2] << 8 | u[3]) != DHCP_CLIENT_PORT)
        return -EINVAL;
    if (udp_sum_ready && (u[6] || u[7]) && fold(sum16(u, ulen, sum16(buf + 12, 8, 17 + (uint32_t)ulen))) != 0)
        return -EINVAL;
    *payload = u + 8;
    *plen = ulen - 8;
    return 0;
}

/* --- the state machine --------------------------------------------------------- */

const char *dhcp_state_name(enum dhcp_state s)
{
    switch (s) {
    case DHCP_S_INIT: return "init";
    case DHCP_S_SELECTING: return "selecting";
    case DHCP_S_REQUESTING: return "requesting";
    case DHCP_S_BOUND: return "bound";
    case DHCP_S_RENEWING: return "renewing";
    case DHCP_S_REBINDING: return "rebinding";
    case DHCP_S_STOPPED: return "stopped";
    }
    return "?";
}

uint64_t dhcp_backoff_ms(unsigned attempt, uint32_t rand)
{
    uint64_t base = 4000ull << (attempt < 4 ? attempt : 4);
    return base - 1000 + rand % 2001;
}

void dhcp_machine_init(struct dhcp_machine *m)
{
    memset(m, 0, sizeof *m);
    m->state = DHCP_S_INIT;
}

/* Tries to send a REQUEST in REQUESTING before going back to DISCOVER. */
#define REQUEST_TRIES 4
/* Renewing and rebinding retransmit after half the time left, at least this. */
#define RENEW_MIN_MS 60000

static uint64_t at_s(uint64_t base_ms, uint32_t s)
{
    return s == DHCP_INFINITE ? 0 : base_ms + (uint64_t)s * 1000;
}

static void send_base(const struct dhcp_machine *m, const struct dhcp_input *in, const uint8_t mac[6],
                      const char *hostname, uint8_t type, struct dhcp_send *s)
{
    uint64_t secs = in->now_ms > m->exchange_ms ? (in->now_ms - m->exchange_ms) / 1000 : 0;
    *s = (struct dhcp_send){ .type = type, .xid = m->xid, .secs = (uint16_t)(secs > 0xffff ? 0xffff : secs),
                             .hostname = hostname };
    memcpy(s->mac, mac, 6);
}

static void begin_discover(struct dhcp_machine *m, const struct dhcp_input *in, const uint8_t mac[6],
                           const char *hostname, struct dhcp_step *out)
{
    m->state = DHCP_S_SELECTING;
    m->xid = in->rand;
    m->attempt = 0;
    m->exchange_ms = in->now_ms;
    send_base(m, in, mac, hostname, DHCP_DISCOVER, &out->send);
    out->timer_at_ms = in->now_ms + dhcp_backoff_ms(0, in->rand >> 8);
}

/* The lease is gone (expired, NAK): report it for removal, start over after
 * a short randomized pause (a server that always NAKs cannot make keel spin). */
static void lose(struct dhcp_machine *m, const struct dhcp_input *in, struct dhcp_step *out)
{
    if (m->has_lease) {
        out->lost = true;
        out->old = m->lease;
    }
    m->has_lease = false;
    m->state = DHCP_S_INIT;
    out->timer_at_ms = in->now_ms + 1000 + in->rand % 2000;
}

static void send_request(struct dhcp_machine *m, const struct dhcp_input *in, const uint8_t mac[6],
                         const char *hostname, struct dhcp_step *out)
{
    send_base(m, in, mac, hostname, DHCP_REQUEST, &out->send);
    if (m->state == DHCP_S_REQUESTING) {
        out->send.requested = m->offer.addr;
        out->send.server = m->offer.server;
    } else {
        out->send.ciaddr = m->lease.addr;   /* RENEWING, REBINDING: no 50 or 54 (RFC 2131 4.3.2) */
        out->unicast = m->state == DHCP_S_RENEWING;
        out->broadcast_udp = m->state == DHCP_S_REBINDING;
    }
}

/* RENEWING/REBINDING: the next retransmission, half the time left to
 * `limit`, at least RENEW_MIN_MS, never past `limit` (RFC 2131 4.4.5). */
static uint64_t half_way(uint64_t now, uint64_t limit)
{
    if (limit <= now)
        return now + 1;
    uint64_t next = now + (limit - now) / 2 > now + RENEW_MIN_MS ? now + (limit - now) / 2 : now + RENEW_MIN_MS;
    return next < limit ? next : limit;
}

/* The earliest a renewal may follow a binding: a server that gives T1 = 0
 * (or a lease of a second) cannot drive keel into a storm of renewals. */
#define RENEW_FLOOR_MS 1000

static void bind_lease(struct dhcp_machine *m, const struct dhcp_msg *msg, uint64_t now, struct dhcp_step *out)
{
    if (m->has_lease && m->lease.addr.s_addr != msg->lease.addr.s_addr) {
        out->lost = true;
        out->old = m->lease;
    }
    m->lease = msg->lease;
    m->has_lease = true;
    m->bound_ms = m->request_ms;
    m->state = DHCP_S_BOUND;
    out->bound = true;
    out->timer_at_ms = at_s(m->bound_ms, m->lease.t1_s);
    if (out->timer_at_ms && out->timer_at_ms < now + RENEW_FLOOR_MS)
        out->timer_at_ms = now + RENEW_FLOOR_MS;
}

static void on_timer(struct dhcp_machine *m, const struct dhcp_input *in, const uint8_t mac[6], const char *hostname,
                     struct dhcp_step *out)
{
    uint64_t now = in->now_ms;
    uint64_t t1 = at_s(m->bound_ms, m->lease.t1_s), t2 = at_s(m->bound_ms, m->lease.t2_s),
             end = at_s(m->bound_ms, m->lease.lease_s);
    switch (m->state) {
    case DHCP_S_INIT:
        begin_discover(m, in, mac, hostname, out);
        return;
    case DHCP_S_SELECTING:
        m->attempt++;
        send_base(m, in, mac, hostname, DHCP_DISCOVER, &out->send);
        out->timer_at_ms = now + dhcp_backoff_ms(m->attempt, in->rand);
        return;
    case DHCP_S_REQUESTING:
        if (++m->attempt >= REQUEST_TRIES) {
            begin_discover(m, in, mac, hostname, out);
            return;
        }
        send_request(m, in, mac, hostname, out);
        out->timer_at_ms = now + dhcp_backoff_ms(m->attempt, in->rand);
        return;
    case DHCP_S_BOUND:
        if (!t1)
            return;   /* an infinite lease */
        if (now < t1) {
            out->timer_at_ms = t1;
            return;
        }
        m->state = DHCP_S_RENEWING;
        m->xid = in->rand;
        m->attempt = 0;
        m->exchange_ms = m->request_ms = now;
        break;
    case DHCP_S_RENEWING:
    case DHCP_S_REBINDING:
        break;
    case DHCP_S_STOPPED:
        return;
    }
    /* RENEWING or REBINDING. */
    if (now >= end) {
        lose(m, in, out);   /* expired: the address and routes go */
        return;
    }
    if (m->state == DHCP_S_RENEWING && now >= t2)
        m->state = DHCP_S_REBINDING;
    m->attempt++;
    send_request(m, in, mac, hostname, out);
    out->timer_at_ms = half_way(now, m->state == DHCP_S_RENEWING ? t2 : end);
}

static void on_message(struct dhcp_machine *m, const struct dhcp_input *in, const uint8_t mac[6],
                       const char *hostname, struct dhcp_step *out)
{
    const struct dhcp_msg *msg = in->msg;
    if (!msg || msg->xid != m->xid || memcmp(msg->chaddr, mac, 6) != 0)
        return;
    switch (m->state) {
    case DHCP_S_SELECTING:
        if (msg->type != DHCP_OFFER)
            return;
        m->offer = msg->lease;   /* the first offer is taken */
        m->state = DHCP_S_REQUESTING;
        m->attempt = 0;
        m->request_ms = in->now_ms;
        send_request(m, in, mac, hostname, out);
        out->timer_at_ms = in->now_ms + dhcp_backoff_ms(0, in->rand);
        return;
    case DHCP_S_REQUESTING:
        /* Only the server whose offer keel took answers for it. */
        if (msg->lease.server.s_addr && msg->lease.server.s_addr != m->offer.server.s_addr)
            return;
        if (msg->type == DHCP_ACK)
            bind_lease(m, msg, in->now_ms, out);
        else if (msg->type == DHCP_NAK)
            lose(m, in, out);
        return;
    case DHCP_S_RENEWING:
    case DHCP_S_REBINDING:
        if (msg->type == DHCP_ACK)
            bind_lease(m, msg, in->now_ms, out);
        else if (msg->type == DHCP_NAK)
            lose(m, in, out);
        return;
    default:
        return;   /* INIT, BOUND, STOPPED: nothing is expected */
    }
}

void dhcp_step(struct dhcp_machine *m, const struct dhcp_input *in, const uint8_t mac[6], const char *hostname,
               struct dhcp_step *out)
{
    memset(out, 0, sizeof *out);
    switch (in->ev) {
    case DHCP_EV_START:
        if (m->state == DHCP_S_INIT)
            begin_discover(m, in, mac, hostname, out);
        return;
    case DHCP_EV_TIMER:
        on_timer(m, in, mac, hostname, out);
        return;
    case DHCP_EV_MSG:
        on_message(m, in, mac, hostname, out);
        return;
    case DHCP_EV_STOP:
        if (m->has_lease) {
            send_base(m, in, mac, hostname, DHCP_RELEASE, &out->send);
            out->send.ciaddr = m->lease.addr;
            out->send.server = m->lease.server;
            out->send.xid = in->rand;
            out->unicast = true;
            out->lost = true;
            out->old = m->lease;
        }
        m->has_lease = false;
        m->state = DHCP_S_STOPPED;
        return;
    }
}

static uint32_t mask_of(unsigned prefix)
{
    return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

bool dhcp_prefixes_overlap(struct in_addr a, unsigned pa, struct in_addr b, unsigned pb)
{
    uint32_t m = mask_of(pa < pb ? pa : pb);
    return (ntohl(a.s_addr) & m) == (ntohl(b.s_addr) & m);
}

static bool route_allowed(const struct dhcp_route *r, const struct dhcp_route *reserved, size_t n_reserved)
{
    uint32_t d = ntohl(r->dst.s_addr), g = ntohl(r->gw.s_addr);
    if (r->prefix > 32 || (r->prefix > 0 && ((d >> 24) == 0 || (d >> 24) == 127 || d >= 0xe0000000u)))
        return false;
    if (g && ((g >> 24) == 0 || (g >> 24) == 127 || g >= 0xe0000000u))
        return false;
    for (size_t i = 0; i < n_reserved; i++)
        if (r->prefix >= reserved[i].prefix && dhcp_prefixes_overlap(r->dst, r->prefix, reserved[i].dst,
                                                                     reserved[i].prefix))
            return false;
    return true;
}

size_t dhcp_lease_routes(const struct dhcp_lease *l, const struct dhcp_route *reserved, size_t n_reserved,
                         struct dhcp_route *out, size_t *dropped)
{
    struct dhcp_route all[DHCP_MAX_ROUTES];
    size_t n = 0, k = 0;
    *dropped = 0;
    if (l->has_routes) {
        n = l->n_routes < DHCP_MAX_ROUTES ? l->n_routes : DHCP_MAX_ROUTES;
        memcpy(all, l->routes, n * sizeof *all);
    } else if (l->router.s_addr) {
        all[n++] = (struct dhcp_route){ .prefix = 0, .gw = l->router };
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            if ((pass == 0) != (all[i].gw.s_addr == 0))
                continue;
            if (route_allowed(&all[i], reserved, n_reserved))
                out[k++] = all[i];
            else
                (*dropped)++;
        }
    return k;
}

int dhcp_resolv_conf(const struct dhcp_lease *l, const char *ifname, char *buf, size_t n)
{
    if (l->n_dns == 0)
        return 0;
    size_t used = 0;
    int w = snprintf(buf, n, "# generated by keel from the DHCP lease on %s\n", ifname);
    if (w < 0 || (size_t)w >= n)
        return -ENOSPC;
    used = (size_t)w;
    if (l->domain[0]) {
        w = snprintf(buf + used, n - used, "search %s\n", l->domain);
        if (w < 0 || (size_t)w >= n - used)
            return -ENOSPC;
        used += (size_t)w;
    }
    for (size_t i = 0; i < l->n_dns; i++) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &l->dns[i], a, sizeof a);
        w = snprintf(buf + used, n - used, "nameserver %s\n", a);
        if (w < 0 || (size_t)w >= n - used)
            return -ENOSPC;
        used += (size_t)w;
    }
    return (int)used;
}
