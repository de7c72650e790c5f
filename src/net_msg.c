/* net_msg.c — keel's rtnetlink requests (see net_msg.h). */
#include "keel/net_msg.h"

#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <arpa/inet.h>
#include <string.h>

void net_msg_bridge_add(struct nlbuf *b, const char *ifname, unsigned mtu, const uint8_t mac[6], const char *label)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
    nlbuf_begin(b, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi, label);
    nlbuf_put_u32(b, IFLA_MTU, mtu);
    nlbuf_put_str(b, IFLA_IFNAME, ifname);
    nlbuf_put(b, IFLA_ADDRESS, mac, 6);
    nlbuf_nest_begin(b, IFLA_LINKINFO);
    nlbuf_put_str(b, IFLA_INFO_KIND, "bridge");
    nlbuf_nest_end(b);
    nlbuf_end(b);
}

void net_msg_veth_add(struct nlbuf *b, const char *ifname, int master, unsigned mtu, const char *peer_name,
                      const uint8_t peer_mac[6], int peer_ns_fd, const char *label)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
    nlbuf_begin(b, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi, label);
    nlbuf_put_u32(b, IFLA_MTU, mtu);
    nlbuf_put_str(b, IFLA_IFNAME, ifname);
    nlbuf_put_u32(b, IFLA_MASTER, (uint32_t)master);
    nlbuf_nest_begin(b, IFLA_LINKINFO);
    nlbuf_put_str(b, IFLA_INFO_KIND, "veth");
    nlbuf_nest_begin(b, IFLA_INFO_DATA);
    /* VETH_INFO_PEER holds the peer's ifinfomsg followed by its attributes. */
    nlbuf_nest_begin(b, VETH_INFO_PEER);
    struct ifinfomsg peer = { .ifi_family = AF_UNSPEC };
    nlbuf_put_raw(b, &peer, sizeof peer);
    nlbuf_put_u32(b, IFLA_MTU, mtu);
    nlbuf_put_str(b, IFLA_IFNAME, peer_name);
    nlbuf_put(b, IFLA_ADDRESS, peer_mac, 6);
    nlbuf_put_u32(b, IFLA_NET_NS_FD, (uint32_t)peer_ns_fd);
    nlbuf_nest_end(b);
    nlbuf_nest_end(b);
    nlbuf_nest_end(b);
    nlbuf_end(b);
}

void net_msg_link_set(struct nlbuf *b, const char *ifname, int ifindex, unsigned flags, unsigned change,
                      const char *alias, bool isolate, unsigned mtu, const char *label)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = flags,
                             .ifi_change = change };
    nlbuf_begin(b, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi, label);
    if (ifname && ifindex == 0)
        nlbuf_put_str(b, IFLA_IFNAME, ifname);
    if (alias)
        nlbuf_put_str(b, IFLA_IFALIAS, alias);
    if (mtu)
        nlbuf_put_u32(b, IFLA_MTU, mtu);
    if (isolate) {
        /* IFLA_INFO_SLAVE_DATA reaches the bridge's slave_changelink. */
        nlbuf_nest_begin(b, IFLA_LINKINFO);
        nlbuf_put_str(b, IFLA_INFO_SLAVE_KIND, "bridge");
        nlbuf_nest_begin(b, IFLA_INFO_SLAVE_DATA);
        nlbuf_put_u8(b, IFLA_BRPORT_ISOLATED, 1);
        nlbuf_nest_end(b);
        nlbuf_nest_end(b);
    }
    nlbuf_end(b);
}

void net_msg_port_disable(struct nlbuf *b, int ifindex, const char *label)
{
    /* AF_BRIDGE (the bridge's own setlink): RTM_NEWLINK with
     * IFLA_INFO_SLAVE_DATA notifies a state change afterwards, and the
     * bridge's carrier check then enables the port again. */
    struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };
    nlbuf_begin(b, RTM_SETLINK, NLM_F_ACK, &ifi, sizeof ifi, label);
    nlbuf_nest_begin(b, IFLA_PROTINFO);
    /* The bridge applies the state before the flush (br_setport): no frame
     * of the port's is learned again in between. */
    nlbuf_put_u8(b, IFLA_BRPORT_STATE, BR_STATE_DISABLED);
    nlbuf_put(b, IFLA_BRPORT_FLUSH, NULL, 0);
    /* Should the port be enabled again (its carrier coming back enables a
     * disabled port), it learns nothing and is flooded nothing: no frame
     * for another port's address reaches it. */
    nlbuf_put_u8(b, IFLA_BRPORT_LEARNING, 0);
    nlbuf_put_u8(b, IFLA_BRPORT_UNICAST_FLOOD, 0);
    nlbuf_put_u8(b, IFLA_BRPORT_MCAST_FLOOD, 0);
    nlbuf_put_u8(b, IFLA_BRPORT_BCAST_FLOOD, 0);
    nlbuf_nest_end(b);
    nlbuf_end(b);
}

void net_msg_link_get(struct nlbuf *b, const char *ifname, const char *label)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    nlbuf_begin(b, RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi, label);
    nlbuf_put_str(b, IFLA_IFNAME, ifname);
    nlbuf_end(b);
}

void net_msg_link_dump(struct nlbuf *b, const char *label)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    nlbuf_begin(b, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi, label);
    nlbuf_end(b);
}

void net_msg_link_del(struct nlbuf *b, int ifindex, const char *ifname, const char *label)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
    nlbuf_begin(b, RTM_DELLINK, NLM_F_ACK, &ifi, sizeof ifi, label);
    if (ifindex == 0 && ifname)
        nlbuf_put_str(b, IFLA_IFNAME, ifname);
    nlbuf_end(b);
}

void net_msg_link_group(struct nlbuf *b, const char *ifname, uint32_t group, const char *label)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    nlbuf_begin(b, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi, label);
    nlbuf_put_str(b, IFLA_IFNAME, ifname);
    nlbuf_put_u32(b, IFLA_GROUP, group);
    nlbuf_end(b);
}

void net_msg_group_del(struct nlbuf *b, uint32_t group, const char *label)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    nlbuf_begin(b, RTM_DELLINK, NLM_F_ACK, &ifi, sizeof ifi, label);
    nlbuf_put_u32(b, IFLA_GROUP, group);
    nlbuf_end(b);
}

void net_msg_addr_add(struct nlbuf *b, int ifindex, struct in_addr a, unsigned prefix, const char *label)
{
    if (prefix < 1 || prefix > 32) {
        /* libnl refused a /0 as well (no prefix length): an uplink's
         * `address = A/0` fails here, before the kernel sees it. */
        nlbuf_invalid(b);
        return;
    }
    struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = (uint8_t)prefix,
                             .ifa_index = (uint32_t)ifindex };
    nlbuf_begin(b, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof ifa, label);
    /* IFA_ADDRESS is the peer on point-to-point links; for the others, the
     * kernel wants it equal to IFA_LOCAL (as `ip address add` sends). */
    nlbuf_put(b, IFA_LOCAL, &a, 4);
    nlbuf_put(b, IFA_ADDRESS, &a, 4);
    if (prefix < 31) {
        uint32_t host = 0xffffffffu >> prefix;
        struct in_addr bc = { htonl(ntohl(a.s_addr) | host) };
        nlbuf_put(b, IFA_BROADCAST, &bc, 4);
    }
    nlbuf_end(b);
}

void net_msg_route_default(struct nlbuf *b, int ifindex, struct in_addr gw, const char *label)
{
    struct rtmsg rtm = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_STATIC,
                         .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
    nlbuf_begin(b, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &rtm, sizeof rtm, label);
    struct in_addr any = { 0 };
    nlbuf_put_u32(b, RTA_TABLE, RT_TABLE_MAIN);
    nlbuf_put(b, RTA_DST, &any, 4);
    nlbuf_put(b, RTA_GATEWAY, &gw, 4);
    nlbuf_put_u32(b, RTA_OIF, (uint32_t)ifindex);
    nlbuf_end(b);
}

/* DHCP leases (dhcp.c) ------------------------------------------------------- */

void net_msg_addr_del(struct nlbuf *b, int ifindex, struct in_addr a, unsigned prefix, const char *label)
{
    if (prefix < 1 || prefix > 32) {
        nlbuf_invalid(b);
        return;
    }
    struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = (uint8_t)prefix,
                             .ifa_index = (uint32_t)ifindex };
    nlbuf_begin(b, RTM_DELADDR, NLM_F_ACK, &ifa, sizeof ifa, label);
    nlbuf_put(b, IFA_LOCAL, &a, 4);
    nlbuf_put(b, IFA_ADDRESS, &a, 4);
    nlbuf_end(b);
}

static void route_msg(struct nlbuf *b, uint16_t type, uint16_t flags, int ifindex, struct in_addr dst,
                      unsigned prefix, struct in_addr gw, const char *label)
{
    if (prefix > 32) {
        nlbuf_invalid(b);
        return;
    }
    /* Without a gateway the destination is on the link (RFC 3442's router
     * 0.0.0.0): scope link, as `ip route add DST dev IF` makes it. */
    struct rtmsg rtm = { .rtm_family = AF_INET, .rtm_dst_len = (uint8_t)prefix, .rtm_table = RT_TABLE_MAIN,
                         .rtm_protocol = RTPROT_DHCP,
                         .rtm_scope = gw.s_addr ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK, .rtm_type = RTN_UNICAST };
    nlbuf_begin(b, type, flags, &rtm, sizeof rtm, label);
    nlbuf_put_u32(b, RTA_TABLE, RT_TABLE_MAIN);
    nlbuf_put(b, RTA_DST, &dst, 4);
    if (gw.s_addr)
        nlbuf_put(b, RTA_GATEWAY, &gw, 4);
    nlbuf_put_u32(b, RTA_OIF, (uint32_t)ifindex);
    nlbuf_end(b);
}

/* IPv6 ------------------------------------------------------------------------ */

void net_msg_addr6_add(struct nlbuf *b, int ifindex, const struct in6_addr *a, unsigned prefix, bool dad,
                       const char *label)
{
    if (prefix < 1 || prefix > 128) {
        nlbuf_invalid(b);
        return;
    }
    /* IFA_F_NODAD on keel's own links: keel allocated the address and owns
     * the link; with detection the address stays "tentative" for a second,
     * in which nothing can bind to it or send from it. */
    struct ifaddrmsg ifa = { .ifa_family = AF_INET6, .ifa_prefixlen = (uint8_t)prefix,
                             .ifa_flags = dad ? 0 : IFA_F_NODAD,
                             .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (uint32_t)ifindex };
    nlbuf_begin(b, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof ifa, label);
    nlbuf_put(b, IFA_LOCAL, a, 16);
    nlbuf_put(b, IFA_ADDRESS, a, 16);
    nlbuf_end(b);
}

void net_msg_route6_default(struct nlbuf *b, int ifindex, const struct in6_addr *gw, const char *label)
{
    struct rtmsg rtm = { .rtm_family = AF_INET6, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_STATIC,
                         .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
    nlbuf_begin(b, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &rtm, sizeof rtm, label);
    nlbuf_put_u32(b, RTA_TABLE, RT_TABLE_MAIN);
    nlbuf_put(b, RTA_GATEWAY, gw, 16);
    nlbuf_put_u32(b, RTA_OIF, (uint32_t)ifindex);
    nlbuf_end(b);
}

void net_msg_route_add(struct nlbuf *b, int ifindex, struct in_addr dst, unsigned prefix, struct in_addr gw,
                       const char *label)
{
    route_msg(b, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, ifindex, dst, prefix, gw, label);
}

void net_msg_route_del(struct nlbuf *b, int ifindex, struct in_addr dst, unsigned prefix, struct in_addr gw,
                       const char *label)
{
    route_msg(b, RTM_DELROUTE, NLM_F_ACK, ifindex, dst, prefix, gw, label);
}

/* tbf ------------------------------------------------------------------------ */

/* The packet scheduler's clock: one tick is 64 ns (PSCHED_SHIFT 6 in the
 * kernel's include/net/pkt_sched.h since 2.6.31; the second field of
 * /proc/net/psched), so a microsecond is 15.625 ticks. */
static uint32_t us_to_ticks(uint32_t us)
{
    return (uint32_t)((uint64_t)us * 125 / 8);
}

/* The time in microseconds to send `size` bytes at `rate` bytes per second,
 * truncated to an int as libnl computed it; a time beyond INT_MAX (only at
 * rates of a few bytes per second) became INT_MIN, what x86's conversion
 * gives, and still does. */
static uint32_t txtime_us(int32_t size, uint32_t rate)
{
    double us = (double)size / (double)rate * 1000000.0;
    if (!(us < 2147483648.0 && us > -2147483649.0))
        return 0x80000000u;
    return (uint32_t)(int32_t)us;
}

#define RTAB_SIZE 256

void net_msg_tbf_add(struct nlbuf *b, int ifindex, uint64_t bits, unsigned mtu, const char *label)
{
    uint64_t rate = bits / 8;
    if (rate < 1)
        rate = 1;
    /* Burst: 10 ms worth, at least a few full frames; queue: 50 ms. */
    uint64_t bucket = rate / 100;
    if (bucket < 3ull * (mtu + 14))
        bucket = 3ull * (mtu + 14);
    uint64_t limit = bucket + rate / 20;
    if (rate > 0x7fffffff)
        rate = 0x7fffffff;
    if (limit > 0x7fffffff)
        limit = 0x7fffffff;

    /* The rate table (what tc sends): the transmission time of 1..256 cells
     * of 2^cell_log bytes, the cell the smallest that splits the mtu into
     * fewer than 256 of them.  Today's kernels compute the times from the
     * rate themselves and read the table only to tell ATM framing from
     * Ethernet (__detect_linklayer). */
    unsigned cell_log = 0;
    while (((mtu ? mtu : 2047) >> cell_log) >= RTAB_SIZE)
        cell_log++;
    struct tc_tbf_qopt q = {
        .rate = { .cell_log = (uint8_t)cell_log, .cell_align = -1, .rate = (uint32_t)rate },
        .limit = (uint32_t)limit,
        .buffer = us_to_ticks(txtime_us((int32_t)(uint32_t)bucket, (uint32_t)rate)),
    };
    uint32_t rtab[RTAB_SIZE];
    for (unsigned i = 0; i < RTAB_SIZE; i++)
        rtab[i] = us_to_ticks(txtime_us((int32_t)((i + 1) << cell_log), (uint32_t)rate));

    struct tcmsg tcm = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_handle = TC_H_MAKE(1u << 16, 0),
                         .tcm_parent = TC_H_ROOT };
    nlbuf_begin(b, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &tcm, sizeof tcm, label);
    nlbuf_put_str(b, TCA_KIND, "tbf");
    nlbuf_nest_begin(b, TCA_OPTIONS);
    nlbuf_put(b, TCA_TBF_PARMS, &q, sizeof q);
    nlbuf_put(b, TCA_TBF_RTAB, rtab, sizeof rtab);
    nlbuf_nest_end(b);
    nlbuf_end(b);
}
