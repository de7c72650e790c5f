/* nft.c — keel's nf_tables table as hand-written netlink batches (see nft.h). */
#include "keel/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
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
    msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, "add nf_tables table ip keel");
    nlbuf_put_str(b, NFTA_TABLE_NAME, NFT_TABLE);
    msg(b, NFT_MSG_DELTABLE, NLM_F_ACK, NFPROTO_IPV4, "delete nf_tables table ip keel");
    nlbuf_put_str(b, NFTA_TABLE_NAME, NFT_TABLE);
    nlbuf_end(b);
}

static void chain(struct nlbuf *b, const char *name, const char *type, int hook, int prio, int policy,
                  const char *label)
{
    msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, label);
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
    msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, NFPROTO_IPV4, label);
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

static void m_addr(struct nlbuf *b, uint32_t off, struct in_addr net, unsigned prefix)
{
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

static const struct in_addr LOOPNET = { .s_addr = __builtin_bswap32(0x7f000000u) };

/* --- the table ------------------------------------------------------------------- */

void nft_build_install(struct nlbuf *b, const struct nft_config *c)
{
    msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, NFPROTO_IPV4,
        "create nf_tables table ip keel");
    nlbuf_put_str(b, NFTA_TABLE_NAME, NFT_TABLE);
    nlbuf_put_be32(b, NFTA_TABLE_FLAGS, NFT_TABLE_F_OWNER);

    chain(b, CH_GUARD, "filter", NF_INET_PRE_ROUTING, -300, NF_ACCEPT, "create chain keel guard");
    chain(b, CH_PORTS, NULL, 0, 0, 0, "create chain keel ports");
    chain(b, CH_PRE, "nat", NF_INET_PRE_ROUTING, -100, NF_ACCEPT, "create chain keel pre");
    chain(b, CH_OUT, "nat", NF_INET_LOCAL_OUT, -100, NF_ACCEPT, "create chain keel out");
    chain(b, CH_POST, "nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT, "create chain keel post");
    chain(b, CH_FWD, "filter", NF_INET_FORWARD, 0, c->forward_drop ? NF_DROP : NF_ACCEPT,
          "create chain keel fwd");

    /* guard: packets for 127.0.0.0/8 only ever come from lo. */
    rule_begin(b, CH_GUARD, "add rule keel guard");
    m_ifname(b, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo");
    m_daddr(b, LOOPNET, 8);
    e_verdict(b, NF_DROP, NULL);
    rule_end(b);

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
    }

    rule_begin(b, CH_FWD, "add rule keel fwd (established)");
    m_ct_bits(b, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
    e_verdict(b, NF_ACCEPT, NULL);
    rule_end(b);
    rule_begin(b, CH_FWD, "add rule keel fwd (invalid)");
    m_ct_bits(b, NFT_CT_STATE, NF_CT_STATE_INVALID_BIT);
    e_verdict(b, NF_DROP, NULL);
    rule_end(b);
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
             * between containers as iif B oif B; port isolation has already
             * stopped it on an isolated bridge, where routing through the
             * gateway must not become a way around isolation. */
            bool accept = i == j && !br->isolate;
            rule_begin(b, CH_FWD, i == j ? "add rule keel fwd (within a bridge)" : "add rule keel fwd (between bridges)");
            m_ifname(b, NFT_META_IIFNAME, NFT_CMP_EQ, br->ifname);
            m_ifname(b, NFT_META_OIFNAME, NFT_CMP_EQ, c->bridges[j].ifname);
            e_verdict(b, accept ? NF_ACCEPT : NF_DROP, NULL);
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
}

void nft_build_ports(struct nlbuf *b, const struct nft_dnat *d, size_t n)
{
    /* DELRULE with a chain and no handle flushes the chain. */
    msg(b, NFT_MSG_DELRULE, NLM_F_ACK, NFPROTO_IPV4, "flush chain keel ports");
    nlbuf_put_str(b, NFTA_RULE_TABLE, NFT_TABLE);
    nlbuf_put_str(b, NFTA_RULE_CHAIN, CH_PORTS);
    nlbuf_end(b);
    for (size_t i = 0; i < n; i++) {
        rule_begin(b, CH_PORTS, "add published port rule");
        if (d[i].host_ip.s_addr != htonl(INADDR_ANY))
            m_daddr(b, d[i].host_ip, 32);
        uint8_t proto = d[i].proto;
        e_meta(b, NFT_META_L4PROTO);
        e_cmp(b, NFT_CMP_EQ, &proto, 1);
        uint16_t hp = htons(d[i].host_port), cp = htons(d[i].dest_port);
        e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
        e_cmp(b, NFT_CMP_EQ, &hp, 2);
        e_imm(b, REG1, &d[i].dest.s_addr, 4);
        e_imm(b, REG2, &cp, 2);
        expr_begin(b, "nat");
        nlbuf_put_be32(b, NFTA_NAT_TYPE, NFT_NAT_DNAT);
        nlbuf_put_be32(b, NFTA_NAT_FAMILY, NFPROTO_IPV4);
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
    fprintf(out, "%s dport %u dnat to %s:%u", proto_name(d->proto), d->host_port, dip, d->dest_port);
}

void nft_describe(const struct nft_config *c, const struct nft_dnat *d, size_t n, FILE *out)
{
    char net[INET_ADDRSTRLEN];
    fprintf(out, "table ip keel {  # owned by keel's netlink socket\n");
    fprintf(out, "  chain guard { type filter hook prerouting priority -300; "
                 "iifname != \"lo\" ip daddr 127.0.0.0/8 drop }\n");
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
    }
    fprintf(out, "  }\n  chain fwd { type filter hook forward priority 0; policy %s;\n",
            c->forward_drop ? "drop" : "accept");
    fprintf(out, "    ct state established,related accept\n    ct state invalid drop\n");
    for (size_t i = 0; i < c->n_bridges; i++)
        fprintf(out, "    oifname \"%s\" ct status dnat accept\n", c->bridges[i].ifname);
    for (size_t i = 0; i < c->n_bridges; i++) {
        for (size_t j = 0; j < c->n_bridges; j++)
            fprintf(out, "    iifname \"%s\" oifname \"%s\" %s\n", c->bridges[i].ifname, c->bridges[j].ifname,
                    i == j && !c->bridges[i].isolate ? "accept" : "drop");
        fprintf(out, "    iifname \"%s\" accept\n", c->bridges[i].ifname);
        fprintf(out, "    oifname \"%s\" drop\n", c->bridges[i].ifname);
    }
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
    msg(&b, NFT_MSG_GETTABLE, NLM_F_ACK, NFPROTO_IPV4, "look up nf_tables table ip keel");
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
