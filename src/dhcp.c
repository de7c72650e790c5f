/* dhcp.c — the DHCPv4 client of an uplink, the system half (see dhcp.h). */
#include "keel/dhcp.h"
#include "keel/log.h"
#include "keel/net_msg.h"
#include "keel/nlbuf.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

struct dhcp_client {
    struct loop *loop;
    char ifname[IFNAMSIZ];
    char *hostname;
    bool keep_mtu;
    int ifindex;
    uint8_t mac[6];
    int pkt_fd, udp_fd, rt_fd;
    int64_t timer;
    struct dhcp_route reserved[DHCP_MAX_RESERVED];   /* keel's networks (dhcp_opts) */
    size_t n_reserved;
    struct dhcp_machine m;
    struct dhcp_lease applied;  /* what is on the interface */
    bool has_applied;
    dhcp_lease_cb cb;
    void *data;
};

static uint32_t random32(void)
{
    uint32_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
    /* Early boot without entropy yet: the xid needs to be unpredictable only
     * to an off-path attacker; a mix of the clock will do. */
    uint64_t t = now_ns();
    return (uint32_t)(t ^ (t >> 29) ^ (t >> 47)) * 2654435761u;
}

static const char *ip_s(struct in_addr a, char *buf)
{
    inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
    return buf;
}

/* --- the lease on the interface -------------------------------------------------- */

/* Sends one request and reports a failure on the console: the lease's
 * changes are best effort (the next renewal tries again). */
static int rt_send(struct dhcp_client *c, struct nlbuf *b)
{
    struct kerr e = { 0 };
    int r = nlbuf_send(c->rt_fd, b, NULL, NULL, &e);
    nlbuf_reset(b);
    if (r < 0)
        log_warn("interface %s: %s", c->ifname, e.msg);
    return r;
}

static bool same_route(const struct dhcp_route *a, const struct dhcp_route *b)
{
    return a->dst.s_addr == b->dst.s_addr && a->prefix == b->prefix && a->gw.s_addr == b->gw.s_addr;
}

/* The routes of a lease keel applies (dhcp_lease_routes: what a server may not set is dropped). */
static size_t lease_routes(const struct dhcp_client *c, const struct dhcp_lease *l, struct dhcp_route *out,
                           size_t *dropped)
{
    return dhcp_lease_routes(l, c->reserved, c->n_reserved, out, dropped);
}

/* Removes the routes of `old` that `keep` does not have (all of them with
 * keep NULL); one request each, so that one already gone (the kernel drops
 * a route when its gateway becomes unreachable) does not hide the others. */
static void remove_routes(struct dhcp_client *c, const struct dhcp_lease *old, const struct dhcp_lease *keep,
                          struct nlbuf *b)
{
    struct dhcp_route o[DHCP_MAX_ROUTES], k[DHCP_MAX_ROUTES];
    size_t dropped;
    size_t no = lease_routes(c, old, o, &dropped), nk = keep ? lease_routes(c, keep, k, &dropped) : 0;
    for (size_t i = 0; i < no; i++) {
        bool kept = false;
        for (size_t j = 0; j < nk && !kept; j++)
            kept = same_route(&o[i], &k[j]);
        if (kept)
            continue;
        net_msg_route_del(b, c->ifindex, o[i].dst, o[i].prefix, o[i].gw, "remove a route of the DHCP lease");
        struct kerr e;
        (void)nlbuf_send(c->rt_fd, b, NULL, NULL, &e);
        nlbuf_reset(b);
    }
}

static void unapply(struct dhcp_client *c)
{
    if (!c->has_applied)
        return;
    struct nlbuf b;
    nlbuf_init(&b);
    remove_routes(c, &c->applied, NULL, &b);
    char a[INET_ADDRSTRLEN], label[96];
    snprintf(label, sizeof label, "remove address %s/%u of the DHCP lease from %s", ip_s(c->applied.addr, a),
             c->applied.prefix, c->ifname);
    net_msg_addr_del(&b, c->ifindex, c->applied.addr, c->applied.prefix, label);
    (void)rt_send(c, &b);
    nlbuf_free(&b);
    c->has_applied = false;
}

/* 0 when the address is on the interface (a route that could not be added
 * is a warning); negative when the lease could not be applied. */
static int apply(struct dhcp_client *c, const struct dhcp_lease *l)
{
    char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN], label[128];
    /* An address in one of keel's networks would take the bridge's traffic. */
    for (size_t i = 0; i < c->n_reserved; i++)
        if (dhcp_prefixes_overlap(l->addr, l->prefix, c->reserved[i].dst, c->reserved[i].prefix)) {
            log_error("interface %s: the DHCP lease %s/%u overlaps keel's network %s/%u: not applied", c->ifname,
                      ip_s(l->addr, a), l->prefix, ip_s(c->reserved[i].dst, g), c->reserved[i].prefix);
            unapply(c);
            return -EADDRINUSE;
        }
    struct nlbuf b;
    nlbuf_init(&b);
    if (c->has_applied && (c->applied.addr.s_addr != l->addr.s_addr || c->applied.prefix != l->prefix))
        unapply(c);
    if (c->has_applied)
        remove_routes(c, &c->applied, l, &b);
    if (l->mtu && !c->keep_mtu) {
        snprintf(label, sizeof label, "set the mtu of %s to %u (DHCP)", c->ifname, l->mtu);
        net_msg_link_set(&b, NULL, c->ifindex, 0, 0, NULL, false, l->mtu, label);
        (void)rt_send(c, &b);
    }
    snprintf(label, sizeof label, "add address %s/%u (DHCP) to %s", ip_s(l->addr, a), l->prefix, c->ifname);
    net_msg_addr_add(&b, c->ifindex, l->addr, l->prefix, label);
    int r = rt_send(c, &b);
    c->applied = *l;
    c->has_applied = r == 0;
    /* On-link routes come first (dhcp_lease_routes). */
    struct dhcp_route rt[DHCP_MAX_ROUTES];
    size_t dropped, n = lease_routes(c, l, rt, &dropped);
    if (dropped)
        log_warn("interface %s: %zu route(s) of the DHCP lease ignored (loopback, multicast, or inside one of "
                 "keel's networks)", c->ifname, dropped);
    for (size_t i = 0; i < n && r == 0; i++) {
        snprintf(label, sizeof label, "add route %s/%u via %s on %s (DHCP)", ip_s(rt[i].dst, a), rt[i].prefix,
                 ip_s(rt[i].gw, g), c->ifname);
        net_msg_route_add(&b, c->ifindex, rt[i].dst, rt[i].prefix, rt[i].gw, label);
        (void)rt_send(c, &b);
    }
    nlbuf_free(&b);
    return r;
}

/* --- sending ---------------------------------------------------------------------- */

static void send_msg(struct dhcp_client *c, const struct dhcp_step *s)
{
    uint8_t msg[DHCP_MSG_MAX];
    size_t len = dhcp_build(&s->send, msg);
    ssize_t w;
    if (s->unicast || s->broadcast_udp) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(DHCP_SERVER_PORT) };
        to.sin_addr.s_addr = s->unicast ? c->m.lease.server.s_addr : INADDR_BROADCAST;
        if (s->send.type == DHCP_RELEASE)
            to.sin_addr = s->old.server;
        w = sendto(c->udp_fd, msg, len, 0, (struct sockaddr *)&to, sizeof to);
    } else {
        uint8_t frame[DHCP_FRAME_MAX];
        size_t flen = dhcp_frame(msg, len, frame);
        struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
                                  .sll_ifindex = c->ifindex, .sll_halen = 6 };
        memset(to.sll_addr, 0xff, 6);
        w = sendto(c->pkt_fd, frame, flen, 0, (struct sockaddr *)&to, sizeof to);
    }
    if (w < 0)   /* the retransmission timer tries again */
        log_warn("interface %s: cannot send a DHCP message: %s", c->ifname, strerror(errno));
}

/* --- driving the state machine ---------------------------------------------------------- */

static void on_timer(struct loop *l, void *data);

static void report(struct dhcp_client *c, const struct dhcp_lease *l)
{
    if (c->cb)
        c->cb(c, l, c->data);
}

static void run(struct dhcp_client *c, enum dhcp_event ev, const struct dhcp_msg *msg)
{
    struct dhcp_input in = { .ev = ev, .now_ms = now_ms(), .rand = random32(), .msg = msg };
    struct dhcp_step s;
    enum dhcp_state before = c->m.state;
    dhcp_step(&c->m, &in, c->mac, c->hostname, &s);
    char a[INET_ADDRSTRLEN];
    if (s.send.type == DHCP_RELEASE) {
        send_msg(c, &s);   /* while the address is still there to send from */
        log_info("interface %s: DHCP lease of %s released", c->ifname, ip_s(s.old.addr, a));
    }
    if (s.lost) {
        unapply(c);
        if (!s.bound && ev != DHCP_EV_STOP) {
            log_warn("interface %s: DHCP lease of %s %s: address and routes removed", c->ifname,
                     ip_s(s.old.addr, a), msg ? "refused by the server (NAK)" : "expired");
            report(c, NULL);
        }
    }
    /* A lease that could not be applied is not reported: network-online
     * means the address is there.  The next renewal tries again. */
    bool fresh = !c->has_applied || c->applied.addr.s_addr != c->m.lease.addr.s_addr;
    if (s.bound && apply(c, &c->m.lease) == 0) {
        const struct dhcp_lease *l = &c->m.lease;
        if (fresh) {
            char sv[INET_ADDRSTRLEN], rt[INET_ADDRSTRLEN];
            log_info("interface %s: DHCP lease %s/%u from %s for %us%s%s", c->ifname, ip_s(l->addr, a), l->prefix,
                     ip_s(l->server, sv), l->lease_s, l->router.s_addr ? ", router " : "",
                     l->router.s_addr ? ip_s(l->router, rt) : "");
        }
        report(c, l);
    }
    if (s.send.type && s.send.type != DHCP_RELEASE)
        send_msg(c, &s);
    /* A step that did nothing (a message for another client, a duplicate)
     * leaves the armed timer alone; any other replaces it. */
    bool acted = s.send.type || s.bound || s.lost || s.timer_at_ms || c->m.state != before;
    if (!acted)
        return;
    if (c->timer)
        loop_cancel_timer(c->loop, c->timer);
    c->timer = 0;
    if (s.timer_at_ms) {
        uint64_t now = now_ms();
        int64_t id = loop_add_timer(c->loop, s.timer_at_ms > now ? s.timer_at_ms - now : 0, on_timer, c);
        if (id < 0)
            log_error("interface %s: cannot arm the DHCP timer: %s", c->ifname, strerror((int)-id));
        else
            c->timer = id;
    }
}

static void on_timer(struct loop *l, void *data)
{
    struct dhcp_client *c = data;
    c->timer = 0;
    run(c, DHCP_EV_TIMER, NULL);
}

static void handle(struct dhcp_client *c, const uint8_t *p, size_t len)
{
    struct dhcp_msg msg;
    if (dhcp_parse(p, len, &msg) < 0)
        return;   /* malformed: as if never received */
    run(c, DHCP_EV_MSG, &msg);
}

/* Bounded per wakeup: a flood cannot keep PID 1 in this callback. */
#define READS_PER_WAKEUP 16

static void on_packet(struct loop *l, int fd, uint32_t events, void *data)
{
    struct dhcp_client *c = data;
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        uint8_t frame[DHCP_FRAME_MAX];
        struct sockaddr_ll from;
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
        } ctl;
        struct iovec iov = { .iov_base = frame, .iov_len = sizeof frame };
        struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
        ssize_t n = recvmsg(fd, &mh, MSG_TRUNC);
        if (n < 0)
            return;
        /* A frame from this machine (a veth) may carry a checksum the
         * kernel has not finished: the auxiliary data says so. */
        bool sum_ready = true;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA &&
                cm->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
                struct tpacket_auxdata aux;
                memcpy(&aux, CMSG_DATA(cm), sizeof aux);
                sum_ready = !(aux.tp_status & TP_STATUS_CSUMNOTREADY);
            }
        const uint8_t *p;
        size_t plen;
        if (from.sll_pkttype == PACKET_OUTGOING || (size_t)n > sizeof frame ||
            dhcp_unframe(frame, (size_t)n, sum_ready, &p, &plen) < 0)
            continue;
        handle(c, p, plen);
    }
}

static void on_udp(struct loop *l, int fd, uint32_t events, void *data)
{
    struct dhcp_client *c = data;
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        uint8_t msg[DHCP_MSG_MAX];
        ssize_t n = recv(fd, msg, sizeof msg, MSG_TRUNC);
        if (n < 0)
            return;
        if ((size_t)n <= sizeof msg)
            handle(c, msg, (size_t)n);
    }
}

/* --- start and stop ---------------------------------------------------------------- */

/* Only UDP to port 68, unfragmented, reaches the packet socket (offsets from
 * the IPv4 header: a SOCK_DGRAM packet socket has no link header). */
static int attach_filter(int fd)
{
    static struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 4, 0),
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DHCP_CLIENT_PORT, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffff),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = { .len = ARRAY_SIZE(code), .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

static int open_sockets(struct dhcp_client *c, struct kerr *err)
{
    c->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->udp_fd < 0)
        return kerr_set(err, errno, "cannot create the DHCP socket of %s", c->ifname);
    struct ifreq ifr = { 0 };
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", c->ifname);
    if (ioctl(c->udp_fd, SIOCGIFINDEX, &ifr) < 0)
        return kerr_set(err, errno, "cannot find interface %s", c->ifname);
    c->ifindex = ifr.ifr_ifindex;
    if (ioctl(c->udp_fd, SIOCGIFHWADDR, &ifr) < 0)
        return kerr_set(err, errno, "cannot read the hardware address of %s", c->ifname);
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
        return kerr_msg(err, EOPNOTSUPP, "cannot run DHCP on %s: not an Ethernet interface", c->ifname);
    memcpy(c->mac, ifr.ifr_hwaddr.sa_data, 6);
    int one = 1;
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(DHCP_CLIENT_PORT) };
    if (setsockopt(c->udp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(c->udp_fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0 ||
        setsockopt(c->udp_fd, SOL_SOCKET, SO_BINDTODEVICE, c->ifname, (socklen_t)strlen(c->ifname)) < 0 ||
        bind(c->udp_fd, (struct sockaddr *)&me, sizeof me) < 0)
        return kerr_set(err, errno, "cannot bind the DHCP socket to port 68 on %s", c->ifname);

    c->pkt_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_IP));
    if (c->pkt_fd < 0)
        return kerr_set(err, errno, "cannot create the DHCP packet socket of %s", c->ifname);
    if (attach_filter(c->pkt_fd) < 0 || setsockopt(c->pkt_fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0)
        return kerr_set(err, errno, "cannot filter the DHCP packet socket of %s", c->ifname);
    struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = c->ifindex };
    if (bind(c->pkt_fd, (struct sockaddr *)&ll, sizeof ll) < 0)
        return kerr_set(err, errno, "cannot bind the DHCP packet socket to %s", c->ifname);
    /* What arrived between socket() and the filter (any interface, any
     * protocol) is dropped unread. */
    uint8_t junk[64];
    for (int i = 0; i < 256 && recv(c->pkt_fd, junk, sizeof junk, MSG_TRUNC) >= 0; i++)
        ;
    int r = c->rt_fd = nlbuf_socket(NETLINK_ROUTE, err);
    if (r < 0)
        return r;
    if ((r = loop_add_fd(c->loop, c->pkt_fd, EPOLLIN, on_packet, c)) < 0 ||
        (r = loop_add_fd(c->loop, c->udp_fd, EPOLLIN, on_udp, c)) < 0)
        return kerr_set(err, -r, "cannot watch the DHCP sockets of %s", c->ifname);
    return 0;
}

static void close_all(struct dhcp_client *c)
{
    if (c->timer)
        loop_cancel_timer(c->loop, c->timer);
    if (c->pkt_fd >= 0)
        loop_del_fd(c->loop, c->pkt_fd);
    if (c->udp_fd >= 0)
        loop_del_fd(c->loop, c->udp_fd);
    close_safe(c->pkt_fd);
    close_safe(c->udp_fd);
    close_safe(c->rt_fd);
    free(c->hostname);
    free(c);
}

int dhcp_client_start(struct dhcp_client **out, struct loop *l, const struct dhcp_opts *o, struct kerr *err)
{
    *out = NULL;
    struct dhcp_client *c = calloc(1, sizeof *c);
    if (!c)
        return kerr_set(err, ENOMEM, "cannot start DHCP on %s", o->ifname);
    c->loop = l;
    c->pkt_fd = c->udp_fd = c->rt_fd = -1;
    c->keep_mtu = o->keep_mtu;
    c->n_reserved = o->n_reserved < DHCP_MAX_RESERVED ? o->n_reserved : DHCP_MAX_RESERVED;
    if (c->n_reserved)
        memcpy(c->reserved, o->reserved, c->n_reserved * sizeof *c->reserved);
    c->cb = o->cb;
    c->data = o->data;
    dhcp_machine_init(&c->m);
    int r = str_copy(c->ifname, sizeof c->ifname, o->ifname) < 0
                ? kerr_msg(err, EINVAL, "cannot start DHCP on %s: name too long", o->ifname)
                : 0;
    if (r == 0 && o->hostname && !(c->hostname = strdup(o->hostname)))
        r = kerr_set(err, ENOMEM, "cannot start DHCP on %s", o->ifname);
    if (r == 0)
        r = open_sockets(c, err);
    if (r < 0) {
        close_all(c);
        return r;
    }
    run(c, DHCP_EV_START, NULL);
    *out = c;
    return 0;
}

void dhcp_client_stop(struct dhcp_client *c)
{
    if (!c)
        return;
    c->cb = NULL;
    run(c, DHCP_EV_STOP, NULL);
    unapply(c);
    close_all(c);
}

const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *c)
{
    return c && c->m.has_lease ? &c->m.lease : NULL;
}

const char *dhcp_client_ifname(const struct dhcp_client *c)
{
    return c->ifname;
}

enum dhcp_state dhcp_client_state(const struct dhcp_client *c)
{
    return c->m.state;
}

uint64_t dhcp_client_expires_in_ms(const struct dhcp_client *c)
{
    if (!c || !c->m.has_lease)
        return 0;
    if (c->m.lease.lease_s == DHCP_INFINITE)
        return UINT64_MAX;
    uint64_t end = c->m.bound_ms + (uint64_t)c->m.lease.lease_s * 1000, now = now_ms();
    return end > now ? end - now : 0;
}
