/* nft.c — keel's nf_tables table as hand-written netlink batches (see nft.h). */
#include "keel/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "keel/util.h"

#define REG1 NFT_REG_1
#define REG2 NFT_REG_2

static const char *const CH_GUARD = "guard";
static const char *const CH_PRE = "pre";
static const char *const CH_OUT = "out";
static const char *const CH_PORTS = "ports";
static const char *const CH_POST = "post";
static const char *const CH_FWD = "fwd";
static const char *const CH_IN = "in";

static void msg(struct nlbuf *b, uint16_t type, uint16_t flags, uint8_t family, const char *label)
{
    struct nfgenmsg g = { .nfgen_family = family, .version = NFNETLINK_V0, .res_id = 0 };
    nlbuf_begin(b, (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | type), flags, &g, sizeof g, label);
}

void nft_batch_begin(struct nlbuf *b)
{
    struct nfgenmsg g = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0,
                          .res_id = htons(NFNL_SUBSYS_NFTABLES) };
    nlbuf_begin(b, NFNL_MSG_BATCH_BEGIN, 0, &g, sizeof g, "begin nf_tables batch");
}

void nft_batch_end(struct nlbuf *b)
{
    struct nfgenmsg g = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0,
                          .res_id = htons(NFNL_SUBSYS_NFTABLES) };
    nlbuf_begin(b, NFNL_MSG_BATCH_END, 0, &g, sizeof g, "end nf_tables batch");
    nlbuf_end(b);
}

void nft_build_delete(struct nlbuf *b)
{
    msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_ACK, NFPROTO_INET, "add nf_tables table inet keel");
    nlbuf_put_str(b, NFTA_TABLE_NAME, NFT_TABLE);
    msg(b, NFT_MSG_DELTABLE, NLM_F_ACK, NFPROTO_INET, "delete nf_tables table inet keel");
    nlbuf_put_str(b, NFTA_TABLE_NAME, NFT_TABLE);
    nlbuf_end(b);
}

static void chain(struct nlbuf *b, const char *name, const char *type, int hook, int prio, int policy,
                  const char *label)
{
    msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_ACK, NFPROTO_INET, label);
    nlbuf_put_str(b, NFTA_CHAIN_TABLE, NFT_TABLE);
    nlbuf_put_str(b, NFTA_CHAIN_NAME, name);
    if (type) {
        nlbuf_nest_begin(b, NFTA_CHAIN_HOOK);
        nlbuf_put_be32(b, NFTA_HOOK_HOOKNUM, (uint32_t)hook);
        nlbuf_put_be32(b, NFTA_HOOK_PRIORITY, (uint32_t)prio);
        nlbuf_nest_end(b);
        nlbuf_put_str(b, NFTA_CHAIN_TYPE, type);
        nlbuf_put_be32(b, NFTA_CHAIN_POLICY, (uint32_t)policy);
    }
    nlbuf_end(b);
}

/* --- expressions ------------------------------------------------------------ */

static void rule_begin(struct nlbuf *b, const char *ch, const char *label)
{
    msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, NFPROTO_INET, label);
    nlbuf_put_str(b, NFTA_RULE_TABLE, NFT_TABLE);
    nlbuf_put_str(b, NFTA_RULE_CHAIN, ch);
    nlbuf_nest_begin(b, NFTA_RULE_EXPRESSIONS);
}

static void rule_end(struct nlbuf *b)
{
    nlbuf_nest_end(b);
    nlbuf_end(b);
}

static void expr_begin(struct nlbuf *b, const char *name)
{
    nlbuf_nest_begin(b, NFTA_LIST_ELEM);
    nlbuf_put_str(b, NFTA_EXPR_NAME, name);
    nlbuf_nest_begin(b, NFTA_EXPR_DATA);
}

static void expr_end(struct nlbuf *b)
{
    nlbuf_nest_end(b);
    nlbuf_nest_end(b);
}

static void data_value(struct nlbuf *b, uint16_t attr, const void *data, size_t len)
{
    nlbuf_nest_begin(b, attr);
    nlbuf_put(b, NFTA_DATA_VALUE, data, len);
    nlbuf_nest_end(b);
}

static void e_meta(struct nlbuf *b, uint32_t key)
{
    expr_begin(b, "meta");
    nlbuf_put_be32(b, NFTA_META_KEY, key);
    nlbuf_put_be32(b, NFTA_META_DREG, REG1);
    expr_end(b);
}

static void e_payload(struct nlbuf *b, uint32_t base, uint32_t off, uint32_t len)
{
    expr_begin(b, "payload");
    nlbuf_put_be32(b, NFTA_PAYLOAD_DREG, REG1);
    nlbuf_put_be32(b, NFTA_PAYLOAD_BASE, base);
    nlbuf_put_be32(b, NFTA_PAYLOAD_OFFSET, off);
    nlbuf_put_be32(b, NFTA_PAYLOAD_LEN, len);
    expr_end(b);
}

static void e_cmp(struct nlbuf *b, uint32_t op, const void *data, size_t len)
{
    expr_begin(b, "cmp");
    nlbuf_put_be32(b, NFTA_CMP_SREG, REG1);
    nlbuf_put_be32(b, NFTA_CMP_OP, op);
    data_value(b, NFTA_CMP_DATA, data, len);
    expr_end(b);
}

/* REG1 = REG1 & mask (xor 0). */
static void e_and(struct nlbuf *b, const void *mask, size_t len)
{
    uint8_t zero[16] = { 0 };
    expr_begin(b, "bitwise");
    nlbuf_put_be32(b, NFTA_BITWISE_SREG, REG1);
    nlbuf_put_be32(b, NFTA_BITWISE_DREG, REG1);
    nlbuf_put_be32(b, NFTA_BITWISE_LEN, (uint32_t)len);
    data_value(b, NFTA_BITWISE_MASK, mask, len);
    data_value(b, NFTA_BITWISE_XOR, zero, len);
    expr_end(b);
}

static void e_ct(struct nlbuf *b, uint32_t key)
{
    expr_begin(b, "ct");
    nlbuf_put_be32(b, NFTA_CT_KEY, key);
    nlbuf_put_be32(b, NFTA_CT_DREG, REG1);
    expr_end(b);
}

static void e_verdict(struct nlbuf *b, int code, const char *jump_to)
{
    expr_begin(b, "immediate");
    nlbuf_put_be32(b, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
    nlbuf_nest_begin(b, NFTA_IMMEDIATE_DATA);
    nlbuf_nest_begin(b, NFTA_DATA_VERDICT);
    nlbuf_put_be32(b, NFTA_VERDICT_CODE, (uint32_t)code);
    if (jump_to)
        nlbuf_put_str(b, NFTA_VERDICT_CHAIN, jump_to);
    nlbuf_nest_end(b);
    nlbuf_nest_end(b);
    expr_end(b);
}

static void e_imm(struct nlbuf *b, uint32_t reg, const void *data, size_t len)
{
    expr_begin(b, "immediate");
    nlbuf_put_be32(b, NFTA_IMMEDIATE_DREG, reg);
    data_value(b, NFTA_IMMEDIATE_DATA, data, len);
    expr_end(b);
}

/* --- matches built from expressions -------------------------------------------- */

static void m_ifname(struct nlbuf *b, uint32_t key, uint32_t op, const char *name)
{
    e_meta(b, key);
    e_cmp(b, op, name, strlen(name) + 1);
}

/* meta nfproto FAMILY: in an inet table, a network-header payload means
 * something else in the other family, so every address match starts here. */
static void m_nfproto(struct nlbuf *b, uint8_t family)
{
    e_meta(b, NFT_META_NFPROTO);
    e_cmp(b, NFT_CMP_EQ, &family, 1);
}

static void m_addr(struct nlbuf *b, uint32_t off, struct in_addr net, unsigned prefix)
{
    m_nfproto(b, NFPROTO_IPV4);
    e_payload(b, NFT_PAYLOAD_NETWORK_HEADER, off, 4);
    if (prefix < 32) {
        uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
        e_and(b, &mask, 4);
        net.s_addr &= mask;
    }
    e_cmp(b, NFT_CMP_EQ, &net.s_addr, 4);
}

static void m_saddr(struct nlbuf *b, struct in_addr net, unsigned prefix)
{
    m_addr(b, 12, net, prefix);
}

static void m_daddr(struct nlbuf *b, struct in_addr net, unsigned prefix)
{
    m_addr(b, 16, net, prefix);
}

/* IPv6: ip6 saddr (offset 8) / daddr (24) [!]= net/prefix. */
static void m_addr6(struct nlbuf *b, uint32_t off, struct in6_addr net, unsigned prefix, uint32_t op)
{
    m_nfproto(b, NFPROTO_IPV6);
    e_payload(b, NFT_PAYLOAD_NETWORK_HEADER, off, 16);
    if (prefix < 128) {
        uint8_t mask[16] = { 0 };
        for (unsigned bit = 0; bit < prefix; bit++)
            mask[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
        e_and(b, mask, 16);
        for (int i = 0; i < 16; i++)
            net.s6_addr[i] &= mask[i];
    }
    e_cmp(b, op, net.s6_addr, 16);
}

static void m_saddr6(struct nlbuf *b, struct in6_addr net, unsigned prefix)
{
    m_addr6(b, 8, net, prefix, NFT_CMP_EQ);
}

static void m_daddr6(struct nlbuf *b, struct in6_addr net, unsigned prefix)
{
    m_addr6(b, 24, net, prefix, NFT_CMP_EQ);
}

/* ct KEY & bits != 0 (state and status are host-order u32 in the register). */
static void m_ct_bits(struct nlbuf *b, uint32_t key, uint32_t bits)
{
    uint32_t zero = 0;
    e_ct(b, key);
    e_and(b, &bits, 4);
    e_cmp(b, NFT_CMP_NEQ, &zero, 4);
}

static void m_fib_daddr_local(struct nlbuf *b)
{
    uint32_t local = RTN_LOCAL;
    expr_begin(b, "fib");
    nlbuf_put_be32(b, NFTA_FIB_DREG, REG1);
    nlbuf_put_be32(b, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nlbuf_put_be32(b, NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR);
    expr_end(b);
    e_cmp(b, NFT_CMP_EQ, &local, 4);
}

static void m_l4proto(struct nlbuf *b, uint8_t proto)
{
    e_meta(b, NFT_META_L4PROTO);
    e_cmp(b, NFT_CMP_EQ, &proto, 1);
}

static void m_dport(struct nlbuf *b, uint16_t port)
{
    uint16_t be = htons(port);
    e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    e_cmp(b, NFT_CMP_EQ, &be, 2);
}

#define IP4(a, b, c, d) { .s_addr = __builtin_bswap32(((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d)) }
static const struct in_addr LOOPNET = IP4(127, 0, 0, 0);
static const struct in_addr LINKLOCAL = IP4(169, 254, 0, 0);
/* lan = no: the private and shared address ranges (RFC 1918, RFC 6598). */
static const struct { struct in_addr net; unsigned prefix; const char *text; } PRIVATE[] = {
    { IP4(10, 0, 0, 0), 8, "10.0.0.0/8" },
    { IP4(172, 16, 0, 0), 12, "172.16.0.0/12" },
    { IP4(192, 168, 0, 0), 16, "192.168.0.0/16" },
    { IP4(100, 64, 0, 0), 10, "100.64.0.0/10" },
};

/* IPv6 counterparts.  ::1 and the v4-mapped loopback ::ffff:127.0.0.0/104
 * (an IPv6 socket's view of 127/8) for the guard; fd00:ec2::254, the IPv6
 * address of the EC2 instance metadata service, for link_local = no (the
 * IPv6 link-local range fe80::/10 is never forwarded by the kernel, so it
 * needs no rule); the unique-local range fc00::/7 for lan = no. */
#define IP6(...) { .s6_addr = { __VA_ARGS__ } }
static const struct in6_addr LOOP6 = IP6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
static const struct in6_addr MAPPED_LOOP6 = IP6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 0);
static const struct in6_addr LINKLOCAL6 = IP6(0xfe, 0x80);
static const struct in6_addr UNSPEC6 = IP6(0);
static const struct in6_addr METADATA6 = IP6(0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54);
static const struct in6_addr ULA6 = IP6(0xfc);

/* ICMPv6 types a bridge's containers may send to the machine: echo requests
 * (like ICMP ping) and neighbour discovery, without which no IPv6 packet
 * reaches the gateway at all (conntrack does not track it). */
static const uint8_t ICMP6_IN[] = { 128 /* echo request */, 135 /* neighbour solicitation */,
                                    136 /* neighbour advertisement */ };

/* --- the table ------------------------------------------------------------------- */

void nft_build_install(struct nlbuf *b, const struct nft_config *c)
{
    msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, NFPROTO_INET,
        "create nf_tables table inet keel");
    nlbuf_put_str(b, NFTA_TABLE_NAME, NFT_TABLE);
    nlbuf_put_be32(b, NFTA_TABLE_FLAGS, NFT_TABLE_F_OWNER);

    chain(b, CH_GUARD, "filter", NF_INET_PRE_ROUTING, -300, NF_ACCEPT, "create chain keel guard");
    chain(b, CH_PORTS, NULL, 0, 0, 0, "create chain keel ports");
    chain(b, CH_PRE, "nat", NF_INET_PRE_ROUTING, -100, NF_ACCEPT, "create chain keel pre");
    chain(b, CH_OUT, "nat", NF_INET_LOCAL_OUT, -100, NF_ACCEPT, "create chain keel out");
    chain(b, CH_POST, "nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT, "create chain keel post");
    chain(b, CH_FWD, "filter", NF_INET_FORWARD, 0, c->forward_drop ? NF_DROP : NF_ACCEPT,
          "create chain keel fwd");
    /* Policy accept: keel filters what comes from its own bridges only. */
    chain(b, CH_IN, "filter", NF_INET_LOCAL_IN, 0, NF_ACCEPT, "create chain keel in");

    /* guard: packets for or from 127.0.0.0/8 only ever come from lo.  The
     * source rule matters on keel's bridges, which have route_localnet on: a
     * container with CAP_NET_RAW could otherwise reach the host's services,
     * or other hosts, with a loopback source that they trust. */
    rule_begin(b, CH_GUARD, "add rule keel guard (loopback destination)");
    m_ifname(b, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo");
    m_daddr(b, LOOPNET, 8);
    e_verdict(b, NF_DROP, NULL);
    rule_end(b);
    rule_begin(b, CH_GUARD, "add rule keel guard (loopback source)");
    m_ifname(b, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo");
    m_saddr(b, LOOPNET, 8);
    e_verdict(b, NF_DROP, NULL);
    rule_end(b);
    /* The same for IPv6: ::1 and the v4-mapped loopback.  The kernel drops
     * both on a non-loopback interface itself (ip6_rcv_core); the guard
     * keeps that true should it ever change, as it does for 127/8. */
    const struct { struct in6_addr net; unsigned prefix; } loop6[] = { { LOOP6, 128 }, { MAPPED_LOOP6, 104 } };
    for (size_t i = 0; i < ARRAY_SIZE(loop6); i++) {
        for (int src = 0; src < 2; src++) {
            rule_begin(b, CH_GUARD, src ? "add rule keel guard (IPv6 loopback source)"
                                        : "add rule keel guard (IPv6 loopback destination)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo");
            m_addr6(b, src ? 8 : 24, loop6[i].net, loop6[i].prefix, NFT_CMP_EQ);
            e_verdict(b, NF_DROP, NULL);
            rule_end(b);
        }
    }
    /* IPv6 sources from a dual-stack bridge: the subnet, link-local (never
     * forwarded by the kernel) or :: (duplicate address detection).  Any
     * other is a spoof, which IPV6_FREEBIND + IPV6_PKTINFO allow without a
     * capability (Docker's CVE-2024-32473 class). */
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        if (!br->has_v6)
            continue;
        const struct { struct in6_addr net; unsigned prefix; } ok6[] = {
            { br->subnet6, br->prefix6 }, { LINKLOCAL6, 10 }, { UNSPEC6, 128 } };
        for (size_t k = 0; k < ARRAY_SIZE(ok6); k++) {
            rule_begin(b, CH_GUARD, "add rule keel guard (IPv6 source of a bridge)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_saddr6(b, ok6[k].net, ok6[k].prefix);
            e_verdict(b, NF_ACCEPT, NULL);
            rule_end(b);
        }
        rule_begin(b, CH_GUARD, "add rule keel guard (IPv6 spoofed source)");
        m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
        m_nfproto(b, NFPROTO_IPV6);
        e_verdict(b, NF_DROP, NULL);
        rule_end(b);
    }

    /* in: containers are untrusted, and so is every new connection from a
     * bridge to the machine itself (any of its addresses: the gateway, the
     * uplink, other networks' gateways, keel's control port), except the
     * manifest's host_ports on the gateway and ping.  Replies to the
     * machine's own connections pass; published ports are DNAT'ed in
     * prerouting and never come here. */
    rule_begin(b, CH_IN, "add rule keel in (established)");
    m_ct_bits(b, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
    e_verdict(b, NF_ACCEPT, NULL);
    rule_end(b);
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        for (size_t p = 0; p < br->n_host_ports; p++) {
            rule_begin(b, CH_IN, "add rule keel in (host port)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_daddr(b, br->gateway, 32);
            m_l4proto(b, br->host_ports[p].proto);
            m_dport(b, br->host_ports[p].port);
            e_verdict(b, NF_ACCEPT, NULL);
            rule_end(b);
        }
        for (size_t p = 0; br->has_v6 && p < br->n_host_ports; p++) {
            rule_begin(b, CH_IN, "add rule keel in (IPv6 host port)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_daddr6(b, br->gateway6, 128);
            m_l4proto(b, br->host_ports[p].proto);
            m_dport(b, br->host_ports[p].port);
            e_verdict(b, NF_ACCEPT, NULL);
            rule_end(b);
        }
        for (size_t t = 0; br->has_v6 && t < ARRAY_SIZE(ICMP6_IN); t++) {
            rule_begin(b, CH_IN, "add rule keel in (ICMPv6)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_l4proto(b, IPPROTO_ICMPV6);
            e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
            e_cmp(b, NFT_CMP_EQ, &ICMP6_IN[t], 1);
            e_verdict(b, NF_ACCEPT, NULL);
            rule_end(b);
        }
        uint8_t echo = 8;   /* ICMP echo request */
        rule_begin(b, CH_IN, "add rule keel in (ping)");
        m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
        m_l4proto(b, IPPROTO_ICMP);
        e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
        e_cmp(b, NFT_CMP_EQ, &echo, 1);
        e_verdict(b, NF_ACCEPT, NULL);
        rule_end(b);
        rule_begin(b, CH_IN, "add rule keel in (bridge)");
        m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
        e_verdict(b, NF_DROP, NULL);
        rule_end(b);
    }

    /* pre/out: only traffic for this machine's own addresses is published. */
    const char *nat_chains[] = { CH_PRE, CH_OUT };
    for (size_t i = 0; i < 2; i++) {
        rule_begin(b, nat_chains[i], i == 0 ? "add rule keel pre" : "add rule keel out");
        m_fib_daddr_local(b);
        e_verdict(b, NFT_JUMP, CH_PORTS);
        rule_end(b);
    }

    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        /* The host's own connections to a published port on 127.0.0.1: the
         * source must not stay 127.0.0.1 on the bridge, or the reply would be
         * a martian in the container and at the host. */
        rule_begin(b, CH_POST, "add rule keel post (loopback to bridge)");
        m_ifname(b, NFT_META_OIFNAME, NFT_CMP_EQ, br->ifname);
        m_saddr(b, LOOPNET, 8);
        expr_begin(b, "masq");
        expr_end(b);
        rule_end(b);
        /* Hairpin: a container reaching a published port of its own bridge. */
        rule_begin(b, CH_POST, "add rule keel post (hairpin)");
        m_ifname(b, NFT_META_OIFNAME, NFT_CMP_EQ, br->ifname);
        m_saddr(b, br->subnet, br->prefix);
        m_ct_bits(b, NFT_CT_STATUS, IPS_DST_NAT);
        expr_begin(b, "masq");
        expr_end(b);
        rule_end(b);
        /* Out to the world. */
        rule_begin(b, CH_POST, "add rule keel post (masquerade)");
        m_saddr(b, br->subnet, br->prefix);
        m_ifname(b, NFT_META_OIFNAME, NFT_CMP_NEQ, br->ifname);
        expr_begin(b, "masq");
        expr_end(b);
        rule_end(b);
        if (!br->has_v6)
            continue;
        /* IPv6: the same hairpin and masquerade (the subnet is usually a
         * ULA the uplink's network does not route back). */
        rule_begin(b, CH_POST, "add rule keel post (IPv6 hairpin)");
        m_ifname(b, NFT_META_OIFNAME, NFT_CMP_EQ, br->ifname);
        m_saddr6(b, br->subnet6, br->prefix6);
        m_ct_bits(b, NFT_CT_STATUS, IPS_DST_NAT);
        expr_begin(b, "masq");
        expr_end(b);
        rule_end(b);
        rule_begin(b, CH_POST, "add rule keel post (IPv6 masquerade)");
        m_saddr6(b, br->subnet6, br->prefix6);
        m_ifname(b, NFT_META_OIFNAME, NFT_CMP_NEQ, br->ifname);
        expr_begin(b, "masq");
        expr_end(b);
        rule_end(b);
    }

    rule_begin(b, CH_FWD, "add rule keel fwd (established)");
    m_ct_bits(b, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
    e_verdict(b, NF_ACCEPT, NULL);
    rule_end(b);
    rule_begin(b, CH_FWD, "add rule keel fwd (invalid)");
    m_ct_bits(b, NFT_CT_STATE, NF_CT_STATE_INVALID_BIT);
    e_verdict(b, NF_DROP, NULL);
    rule_end(b);
    /* An isolated bridge, before the published-port rule: a container
     * reaching a neighbour's published port through the machine's address
     * (hairpin, DNAT'ed back onto the same bridge) is routing around
     * isolation. */
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        if (!br->isolate)
            continue;
        rule_begin(b, CH_FWD, "add rule keel fwd (isolated bridge)");
        m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
        m_ifname(b, NFT_META_OIFNAME, NFT_CMP_EQ, br->ifname);
        e_verdict(b, NF_DROP, NULL);
        rule_end(b);
    }
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        rule_begin(b, CH_FWD, "add rule keel fwd (published)");
        m_ifname(b, NFT_META_OIFNAME, NFT_CMP_EQ, br->ifname);
        m_ct_bits(b, NFT_CT_STATUS, IPS_DST_NAT);
        e_verdict(b, NF_ACCEPT, NULL);
        rule_end(b);
    }
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        for (size_t j = 0; j < c->n_bridges; j++) {
            /* Same bridge: br_netfilter (when loaded) shows bridged traffic
             * between containers as iif B oif B.  An isolated bridge has its
             * drop above already. */
            if (i == j && br->isolate)
                continue;
            bool accept = i == j;
            rule_begin(b, CH_FWD, i == j ? "add rule keel fwd (within a bridge)" : "add rule keel fwd (between bridges)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_ifname(b, NFT_META_OIFNAME, NFT_CMP_EQ, c->bridges[j].ifname);
            e_verdict(b, accept ? NF_ACCEPT : NF_DROP, NULL);
            rule_end(b);
        }
        if (!br->link_local) {
            rule_begin(b, CH_FWD, "add rule keel fwd (link-local)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_daddr(b, LINKLOCAL, 16);
            e_verdict(b, NF_DROP, NULL);
            rule_end(b);
        }
        if (!br->link_local && br->has_v6) {
            rule_begin(b, CH_FWD, "add rule keel fwd (IPv6 metadata)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_daddr6(b, METADATA6, 128);
            e_verdict(b, NF_DROP, NULL);
            rule_end(b);
        }
        for (size_t p = 0; br->no_lan && p < ARRAY_SIZE(PRIVATE); p++) {
            rule_begin(b, CH_FWD, "add rule keel fwd (lan)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_daddr(b, PRIVATE[p].net, PRIVATE[p].prefix);
            e_verdict(b, NF_DROP, NULL);
            rule_end(b);
        }
        if (br->no_lan && br->has_v6) {
            rule_begin(b, CH_FWD, "add rule keel fwd (IPv6 lan)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_daddr6(b, ULA6, 7);
            e_verdict(b, NF_DROP, NULL);
            rule_end(b);
        }
        rule_begin(b, CH_FWD, "add rule keel fwd (outbound)");
        m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
        e_verdict(b, NF_ACCEPT, NULL);
        rule_end(b);
        rule_begin(b, CH_FWD, "add rule keel fwd (inbound)");
        m_ifname(b, NFT_META_OIFNAME, NFT_CMP_EQ, br->ifname);
        e_verdict(b, NF_DROP, NULL);
        rule_end(b);
    }
    /* The forward policy follows IPv4 (a routing host keeps routing); IPv6
     * forwarding that keel turned on routes nothing but keel's networks, and
     * IPv6 forwarding the machine had on before keel goes on with policy drop. */
    if (!c->forward_drop && c->forward_drop6) {
        rule_begin(b, CH_FWD, "add rule keel fwd (IPv6 forwarding is keel's)");
        m_nfproto(b, NFPROTO_IPV6);
        e_verdict(b, NF_DROP, NULL);
        rule_end(b);
    }
    if (c->forward_drop && c->forward_accept6) {
        rule_begin(b, CH_FWD, "add rule keel fwd (the machine routes IPv6)");
        m_nfproto(b, NFPROTO_IPV6);
        e_verdict(b, NF_ACCEPT, NULL);
        rule_end(b);
    }
}

void nft_build_ports(struct nlbuf *b, const struct nft_dnat *d, size_t n)
{
    /* DELRULE with a chain and no handle flushes the chain. */
    msg(b, NFT_MSG_DELRULE, NLM_F_ACK, NFPROTO_INET, "flush chain keel ports");
    nlbuf_put_str(b, NFTA_RULE_TABLE, NFT_TABLE);
    nlbuf_put_str(b, NFTA_RULE_CHAIN, CH_PORTS);
    nlbuf_end(b);
    for (size_t i = 0; i < n; i++) {
        rule_begin(b, CH_PORTS, "add published port rule");
        if (d[i].host_ip.s_addr != htonl(INADDR_ANY))
            m_daddr(b, d[i].host_ip, 32);
        else
            m_nfproto(b, NFPROTO_IPV4);
        m_l4proto(b, d[i].proto);
        m_dport(b, d[i].host_port);
        uint16_t cp = htons(d[i].dest_port);
        e_imm(b, REG1, &d[i].dest.s_addr, 4);
        e_imm(b, REG2, &cp, 2);
        expr_begin(b, "nat");
        nlbuf_put_be32(b, NFTA_NAT_TYPE, NFT_NAT_DNAT);
        nlbuf_put_be32(b, NFTA_NAT_FAMILY, NFPROTO_IPV4);
        nlbuf_put_be32(b, NFTA_NAT_REG_ADDR_MIN, REG1);
        nlbuf_put_be32(b, NFTA_NAT_REG_PROTO_MIN, REG2);
        expr_end(b);
        rule_end(b);
        /* IPv6: a port published on every address answers on both
         * families; not for ::1 (IPv6 has no route_localnet: a connection
         * from ::1 cannot leave through the bridge, so it is not rewritten
         * into one that hangs). */
        if (!d[i].has_dest6 || d[i].host_ip.s_addr != htonl(INADDR_ANY))
            continue;
        rule_begin(b, CH_PORTS, "add published port rule (IPv6)");
        m_addr6(b, 24, LOOP6, 128, NFT_CMP_NEQ);
        m_l4proto(b, d[i].proto);
        m_dport(b, d[i].host_port);
        e_imm(b, REG1, d[i].dest6.s6_addr, 16);
        e_imm(b, REG2, &cp, 2);
        expr_begin(b, "nat");
        nlbuf_put_be32(b, NFTA_NAT_TYPE, NFT_NAT_DNAT);
        nlbuf_put_be32(b, NFTA_NAT_FAMILY, NFPROTO_IPV6);
        nlbuf_put_be32(b, NFTA_NAT_REG_ADDR_MIN, REG1);
        nlbuf_put_be32(b, NFTA_NAT_REG_PROTO_MIN, REG2);
        expr_end(b);
        rule_end(b);
    }
}

/* --- text ---------------------------------------------------------------------- */

static const char *proto_name(uint8_t p)
{
    return p == IPPROTO_UDP ? "udp" : "tcp";
}

void nft_describe_dnat(const struct nft_dnat *d, FILE *out)
{
    char hip[INET_ADDRSTRLEN], dip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &d->host_ip, hip, sizeof hip);
    inet_ntop(AF_INET, &d->dest, dip, sizeof dip);
    if (d->host_ip.s_addr != htonl(INADDR_ANY))
        fprintf(out, "ip daddr %s ", hip);
    else
        fprintf(out, "meta nfproto ipv4 ");
    fprintf(out, "%s dport %u dnat ip to %s:%u", proto_name(d->proto), d->host_port, dip, d->dest_port);
    if (d->has_dest6 && d->host_ip.s_addr == htonl(INADDR_ANY)) {
        char d6[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &d->dest6, d6, sizeof d6);
        fprintf(out, "; ip6 daddr != ::1 %s dport %u dnat ip6 to [%s]:%u", proto_name(d->proto), d->host_port, d6,
                d->dest_port);
    }
}

void nft_describe(const struct nft_config *c, const struct nft_dnat *d, size_t n, FILE *out)
{
    char net[INET_ADDRSTRLEN];
    char n6[INET6_ADDRSTRLEN];
    fprintf(out, "table inet keel {  # owned by keel's netlink socket\n");
    fprintf(out, "  chain guard { type filter hook prerouting priority -300;\n"
                 "    iifname != \"lo\" ip daddr 127.0.0.0/8 drop\n"
                 "    iifname != \"lo\" ip saddr 127.0.0.0/8 drop\n"
                 "    iifname != \"lo\" ip6 daddr ::1 drop\n"
                 "    iifname != \"lo\" ip6 saddr ::1 drop\n"
                 "    iifname != \"lo\" ip6 daddr ::ffff:127.0.0.0/104 drop\n"
                 "    iifname != \"lo\" ip6 saddr ::ffff:127.0.0.0/104 drop\n");
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        if (!br->has_v6)
            continue;
        inet_ntop(AF_INET6, &br->subnet6, n6, sizeof n6);
        fprintf(out, "    iifname \"%s\" ip6 saddr %s/%u accept\n", br->ifname, n6, br->prefix6);
        fprintf(out, "    iifname \"%s\" ip6 saddr fe80::/10 accept\n", br->ifname);
        fprintf(out, "    iifname \"%s\" ip6 saddr :: accept\n", br->ifname);
        fprintf(out, "    iifname \"%s\" meta nfproto ipv6 drop           # a spoofed source\n", br->ifname);
    }
    fprintf(out, "  }\n");
    fprintf(out, "  chain pre { type nat hook prerouting priority -100; fib daddr type local jump ports }\n");
    fprintf(out, "  chain out { type nat hook output priority -100; fib daddr type local jump ports }\n");
    fprintf(out, "  chain ports {\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "    ");
        nft_describe_dnat(&d[i], out);
        fprintf(out, "\n");
    }
    fprintf(out, "  }\n  chain post { type nat hook postrouting priority 100;\n");
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        inet_ntop(AF_INET, &br->subnet, net, sizeof net);
        fprintf(out, "    oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", br->ifname);
        fprintf(out, "    oifname \"%s\" ip saddr %s/%u ct status dnat masquerade\n", br->ifname, net, br->prefix);
        fprintf(out, "    ip saddr %s/%u oifname != \"%s\" masquerade\n", net, br->prefix, br->ifname);
        if (!br->has_v6)
            continue;
        inet_ntop(AF_INET6, &br->subnet6, n6, sizeof n6);
        fprintf(out, "    oifname \"%s\" ip6 saddr %s/%u ct status dnat masquerade\n", br->ifname, n6, br->prefix6);
        fprintf(out, "    ip6 saddr %s/%u oifname != \"%s\" masquerade\n", n6, br->prefix6, br->ifname);
    }
    fprintf(out, "  }\n  chain in { type filter hook input priority 0; policy accept;\n");
    fprintf(out, "    ct state established,related accept\n");
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        inet_ntop(AF_INET, &br->gateway, net, sizeof net);
        for (size_t p = 0; p < br->n_host_ports; p++)
            fprintf(out, "    iifname \"%s\" ip daddr %s %s dport %u accept\n", br->ifname, net,
                    proto_name(br->host_ports[p].proto), br->host_ports[p].port);
        if (br->has_v6) {
            inet_ntop(AF_INET6, &br->gateway6, n6, sizeof n6);
            for (size_t p = 0; p < br->n_host_ports; p++)
                fprintf(out, "    iifname \"%s\" ip6 daddr %s %s dport %u accept\n", br->ifname, n6,
                        proto_name(br->host_ports[p].proto), br->host_ports[p].port);
            fprintf(out, "    iifname \"%s\" icmpv6 type { echo-request, nd-neighbor-solicit, nd-neighbor-advert } "
                    "accept\n", br->ifname);
        }
        fprintf(out, "    iifname \"%s\" icmp type echo-request accept\n", br->ifname);
        fprintf(out, "    iifname \"%s\" drop\n", br->ifname);
    }
    fprintf(out, "  }\n  chain fwd { type filter hook forward priority 0; policy %s;\n",
            c->forward_drop ? "drop" : "accept");
    fprintf(out, "    ct state established,related accept\n    ct state invalid drop\n");
    for (size_t i = 0; i < c->n_bridges; i++)
        if (c->bridges[i].isolate)
            fprintf(out, "    iifname \"%s\" oifname \"%s\" drop\n", c->bridges[i].ifname, c->bridges[i].ifname);
    for (size_t i = 0; i < c->n_bridges; i++)
        fprintf(out, "    oifname \"%s\" ct status dnat accept\n", c->bridges[i].ifname);
    for (size_t i = 0; i < c->n_bridges; i++) {
        const struct nft_bridge *br = &c->bridges[i];
        for (size_t j = 0; j < c->n_bridges; j++)
            if (i != j || !br->isolate)
                fprintf(out, "    iifname \"%s\" oifname \"%s\" %s\n", br->ifname, c->bridges[j].ifname,
                        i == j ? "accept" : "drop");
        if (!br->link_local)
            fprintf(out, "    iifname \"%s\" ip daddr 169.254.0.0/16 drop\n", br->ifname);
        if (!br->link_local && br->has_v6)
            fprintf(out, "    iifname \"%s\" ip6 daddr fd00:ec2::254 drop\n", br->ifname);
        for (size_t p = 0; br->no_lan && p < ARRAY_SIZE(PRIVATE); p++)
            fprintf(out, "    iifname \"%s\" ip daddr %s drop\n", br->ifname, PRIVATE[p].text);
        if (br->no_lan && br->has_v6)
            fprintf(out, "    iifname \"%s\" ip6 daddr fc00::/7 drop\n", br->ifname);
        fprintf(out, "    iifname \"%s\" accept\n", br->ifname);
        fprintf(out, "    oifname \"%s\" drop\n", br->ifname);
    }
    if (!c->forward_drop && c->forward_drop6)
        fprintf(out, "    meta nfproto ipv6 drop                     # IPv6 forwarding is keel's\n");
    if (c->forward_drop && c->forward_accept6)
        fprintf(out, "    meta nfproto ipv6 accept                   # the machine routes IPv6\n");
    fprintf(out, "  }\n}\n");
}

/* --- system side ------------------------------------------------------------------ */

int nft_open(struct kerr *err)
{
    return nlbuf_socket(NETLINK_NETFILTER, err);
}

int nft_commit(int fd, struct nlbuf *b, struct kerr *err)
{
    return nlbuf_send(fd, b, NULL, NULL, err);
}

static int exists_cb(size_t index, const struct nlmsghdr *h, void *ud)
{
    if ((h->nlmsg_type & 0xff) == NFT_MSG_NEWTABLE)
        *(int *)ud = 1;
    return 0;
}

int nft_table_exists(int fd, struct kerr *err)
{
    struct nlbuf b;
    nlbuf_init(&b);
    msg(&b, NFT_MSG_GETTABLE, NLM_F_ACK, NFPROTO_INET, "look up nf_tables table inet keel");
    nlbuf_put_str(&b, NFTA_TABLE_NAME, NFT_TABLE);
    int found = 0;
    struct kerr e = { 0 };
    int r = nlbuf_send(fd, &b, exists_cb, &found, &e);
    nlbuf_free(&b);
    if (r == -ENOENT)
        return 0;
    if (r < 0) {
        if (err)
            *err = e;
        return r;
    }
    return found;
}

/* --- conntrack ------------------------------------------------------------------- */

static void ct_msg(struct nlbuf *b, uint16_t type, uint16_t flags, uint8_t family, const char *label)
{
    struct nfgenmsg g = { .nfgen_family = family, .version = NFNETLINK_V0, .res_id = 0 };
    nlbuf_begin(b, (uint16_t)((NFNL_SUBSYS_CTNETLINK << 8) | type), flags, &g, sizeof g, label);
}

void nft_ct_build_dump(struct nlbuf *b)
{
    /* AF_UNSPEC: the entries of every family. */
    ct_msg(b, IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_UNSPEC, "list conntrack entries");
    nlbuf_end(b);
}

static bool in_nets6(const struct nlattr *a, const struct nft_net *nets, size_t n)
{
    if (!a || nlbuf_attr_len(a) != 16)
        return false;
    const uint8_t *v = nlbuf_attr_data(a);
    for (size_t i = 0; i < n; i++) {
        if (!nets[i].v6)
            continue;
        bool same = true;
        for (unsigned bit = 0; bit < nets[i].prefix && bit < 128 && same; bit++) {
            uint8_t m = (uint8_t)(0x80 >> (bit % 8));
            same = (v[bit / 8] & m) == (nets[i].addr6.s6_addr[bit / 8] & m);
        }
        if (same)
            return true;
    }
    return false;
}

static bool in_nets(const struct nlattr *a, const struct nft_net *nets, size_t n)
{
    if (!a || nlbuf_attr_len(a) != 4)
        return false;
    uint32_t v;
    memcpy(&v, nlbuf_attr_data(a), 4);
    for (size_t i = 0; i < n; i++) {
        if (nets[i].v6)
            continue;
        uint32_t mask = nets[i].prefix == 0 ? 0 : nets[i].prefix >= 32 ? ~0u : ~0u << (32 - nets[i].prefix);
        if ((ntohl(v) & mask) == (ntohl(nets[i].addr.s_addr) & mask))
            return true;
    }
    return false;
}

/* CTA_TUPLE_* -> CTA_TUPLE_IP -> source and destination. */
static int tuple_matches(const struct nlattr *tuple, const struct nft_net *nets, size_t n)
{
    const struct nlattr *tt[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1];
    if (!tuple)
        return 0;
    if (nlbuf_parse_attrs(nlbuf_attr_data(tuple), nlbuf_attr_len(tuple), tt, CTA_TUPLE_MAX) < 0 ||
        !tt[CTA_TUPLE_IP] ||
        nlbuf_parse_attrs(nlbuf_attr_data(tt[CTA_TUPLE_IP]), nlbuf_attr_len(tt[CTA_TUPLE_IP]), ip, CTA_IP_MAX) < 0)
        return -EINVAL;
    return in_nets(ip[CTA_IP_V4_SRC], nets, n) || in_nets(ip[CTA_IP_V4_DST], nets, n) ||
           in_nets6(ip[CTA_IP_V6_SRC], nets, n) || in_nets6(ip[CTA_IP_V6_DST], nets, n);
}

int nft_ct_match(const struct nlmsghdr *h, const struct nft_net *nets, size_t n, struct nft_ct_entry *e)
{
    if (h->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW))
        return 0;
    size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
    if (h->nlmsg_len < hdr)
        return -EINVAL;
    const struct nfgenmsg *g = NLMSG_DATA(h);
    if (g->nfgen_family != AF_INET && g->nfgen_family != AF_INET6)
        return 0;
    const struct nlattr *tb[CTA_MAX + 1];
    if (nlbuf_parse_attrs((const uint8_t *)h + hdr, h->nlmsg_len - hdr, tb, CTA_MAX) < 0)
        return -EINVAL;
    int o = tuple_matches(tb[CTA_TUPLE_ORIG], nets, n);
    int r = tuple_matches(tb[CTA_TUPLE_REPLY], nets, n);
    if (o < 0 || r < 0)
        return -EINVAL;
    if (!o && !r)
        return 0;
    const struct nlattr *orig = tb[CTA_TUPLE_ORIG];
    if (!orig || nlbuf_attr_len(orig) > sizeof e->orig)
        return -EINVAL;
    memset(e, 0, sizeof *e);
    memcpy(e->orig, nlbuf_attr_data(orig), nlbuf_attr_len(orig));
    e->orig_len = nlbuf_attr_len(orig);
    e->family = g->nfgen_family;
    if (tb[CTA_ID] && nlbuf_attr_len(tb[CTA_ID]) == 4) {
        memcpy(&e->id_be, nlbuf_attr_data(tb[CTA_ID]), 4);
        e->has_id = true;
    }
    if (tb[CTA_ZONE] && nlbuf_attr_len(tb[CTA_ZONE]) == 2) {
        memcpy(&e->zone_be, nlbuf_attr_data(tb[CTA_ZONE]), 2);
        e->has_zone = true;
    }
    return 1;
}

void nft_ct_build_delete(struct nlbuf *b, const struct nft_ct_entry *e)
{
    ct_msg(b, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, e->family ? e->family : AF_INET, "delete a conntrack entry");
    nlbuf_put(b, CTA_TUPLE_ORIG | NLA_F_NESTED, e->orig, e->orig_len);
    if (e->has_zone)
        nlbuf_put(b, CTA_ZONE, &e->zone_be, 2);
    if (e->has_id)
        nlbuf_put(b, CTA_ID, &e->id_be, 4);
    nlbuf_end(b);
}

struct ct_found {
    const struct nft_net *nets;
    size_t n_nets;
    struct nft_ct_entry *e;
    size_t n, cap;
};

static int ct_found_cb(size_t index, const struct nlmsghdr *h, void *ud)
{
    struct ct_found *f = ud;
    struct nft_ct_entry e;
    int r = nft_ct_match(h, f->nets, f->n_nets, &e);
    if (r <= 0)
        return 0;   /* not ours, or an entry this code cannot read: leave it */
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;
        struct nft_ct_entry *ne = realloc(f->e, ncap * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        f->e = ne;
        f->cap = ncap;
    }
    f->e[f->n++] = e;
    return 0;
}

int nft_ct_forget(int fd, const struct nft_net *nets, size_t n, size_t *deleted, struct kerr *err)
{
    struct ct_found f = { .nets = nets, .n_nets = n };
    struct nlbuf b;
    nlbuf_init(&b);
    *deleted = 0;
    nft_ct_build_dump(&b);
    int r = nlbuf_send(fd, &b, ct_found_cb, &f, err);
    /* Deleted in batches of what one nlbuf holds.  ENOENT: the entry expired
     * (or was replaced by a new one of the same tuple, which keeps living). */
    for (size_t i = 0; r == 0 && i < f.n;) {
        nlbuf_reset(&b);
        size_t k = 0;
        for (; i < f.n && k < NLBUF_MAX_MSGS; i++, k++)
            nft_ct_build_delete(&b, &f.e[i]);
        struct kerr e = { 0 };
        int d = nlbuf_send(fd, &b, NULL, NULL, &e);
        if (d < 0 && d != -ENOENT) {
            if (err)
                *err = e;
            r = d;
        }
        *deleted += k;
    }
    nlbuf_free(&b);
    free(f.e);
    return r;
}
