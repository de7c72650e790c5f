/* nft.h — keel's nf_tables table, written as raw netlink batches.
 *
 * Debian ships no static libmnl, so libnftnl cannot be linked into a static
 * keel: the few expressions keel needs (meta, payload, cmp, bitwise, ct, fib,
 * immediate, nat, masq) are encoded here by hand over NETLINK_NETFILTER.
 *
 * keel owns one table, `inet keel` (both families), created with NFT_TABLE_F_OWNER: the kernel
 * removes it by itself when keel's netlink socket closes, so even a keel killed
 * with SIGKILL leaves no rules behind.  Its shape (see docs/networking.md):
 *
 *   guard  filter prerouting -300  iifname != "lo" ip daddr 127.0.0.0/8 drop
 *                                  iifname != "lo" ip saddr 127.0.0.0/8 drop
 *                                  (the CVE-2020-8558 class: keel's bridges
 *                                  have route_localnet on, nothing may use it
 *                                  to reach the host's loopback services, nor
 *                                  send with a loopback source through them)
 *   pre    nat prerouting -100     fib daddr type local jump ports
 *   out    nat output -100         fib daddr type local jump ports
 *   ports  (regular chain)         [ip daddr HOST_IP] meta l4proto P th dport HP
 *                                  dnat to CIP:CP — one per published port
 *   post   nat postrouting 100     per bridge B with subnet S:
 *                                    oifname B ip saddr 127.0.0.0/8 masquerade
 *                                    oifname B ip saddr S ct status dnat masquerade
 *                                    ip saddr S oifname != B masquerade
 *   in     filter input 0          ct state established,related accept;
 *                                  per bridge B with gateway G:
 *                                    iifname B ip daddr G P dport N accept
 *                                      (one per host_ports entry)
 *                                    iifname B icmp type echo-request accept
 *                                    iifname B drop
 *                                  (containers are untrusted: the machine's
 *                                  own services are closed to them)
 *   fwd    filter forward 0        ct state established,related accept;
 *                                  ct state invalid drop;
 *                                  iifname B oifname B drop for an isolated B
 *                                  (before the next rule: no hairpin to a
 *                                  neighbour's published port); per bridge:
 *                                  oifname B ct status dnat accept,
 *                                  iifname B oifname B accept (with
 *                                  br_netfilter, bridged traffic between
 *                                  containers shows up here),
 *                                  iifname B oifname <other keel bridge> drop,
 *                                  iifname B ip daddr 169.254.0.0/16 drop
 *                                  (unless link_local), iifname B ip daddr
 *                                  <private ranges> drop (lan = no),
 *                                  iifname B accept, oifname B drop;
 *                                  policy drop when keel turned forwarding on
 *
 * Published ports change by flushing and refilling `ports` in one batch, so
 * the update is atomic and no hook is re-registered.
 *
 * Conntrack (ctnetlink, NFNL_SUBSYS_CTNETLINK): when an address is freed,
 * nft_ct_forget() deletes the entries naming it, so that the next container
 * given that address does not inherit the flows (DNAT'ed UDP above all) of
 * the one before.
 *
 * Builders are pure (they only fill an nlbuf) and unit-tested; nft_commit()
 * sends.  Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_NFT_H
#define KEEL_NFT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keel/err.h"
#include "keel/nlbuf.h"

#define NFT_TABLE "keel"

struct nft_port {
    uint16_t port;
    uint8_t proto;             /* IPPROTO_TCP / IPPROTO_UDP */
};

struct nft_bridge {
    char ifname[16];
    struct in_addr subnet;     /* network address */
    unsigned prefix;
    struct in_addr gateway;    /* the bridge's own address */
    bool isolate;              /* no routing between its own containers either */
    bool no_lan;               /* drop forwarding to private-address ranges */
    bool link_local;           /* allow forwarding to 169.254.0.0/16 */
    const struct nft_port *host_ports;   /* open on the gateway (input chain) */
    size_t n_host_ports;
    bool has_v6;               /* dual stack: the IPv6 rules below apply too */
    struct in6_addr subnet6;
    unsigned prefix6;
    struct in6_addr gateway6;
};

struct nft_dnat {
    struct in_addr host_ip;    /* INADDR_ANY: every local address */
    uint16_t host_port;
    uint8_t proto;             /* IPPROTO_TCP / IPPROTO_UDP */
    struct in_addr dest;
    uint16_t dest_port;
    bool has_dest6;            /* the container's IPv6 address, when its network has one: */
    struct in6_addr dest6;     /* then the port answers on IPv6 too (not with a HOST_IP) */
};

struct nft_config {
    const struct nft_bridge *bridges;
    size_t n_bridges;
    bool forward_drop;         /* policy of the forward chain */
    bool forward_drop6;        /* keel turned IPv6 forwarding on: with policy accept, IPv6 not
                                * accepted by a rule is dropped at the end of the chain */
    bool forward_accept6;      /* IPv6 forwarding was on before keel: with policy drop, IPv6 not
                                * dropped by a rule is accepted at the end (the table is inet:
                                * the machine's own IPv6 routing goes on) */
};

void nft_batch_begin(struct nlbuf *b);
void nft_batch_end(struct nlbuf *b);
/* Removes table `keel` if it exists (adding it first makes the delete never
 * fail with ENOENT; both happen in the same transaction). */
void nft_build_delete(struct nlbuf *b);
/* Creates the owned table with its chains and fixed rules. */
void nft_build_install(struct nlbuf *b, const struct nft_config *c);
/* Replaces the content of the `ports` chain with `d`. */
void nft_build_ports(struct nlbuf *b, const struct nft_dnat *d, size_t n);

/* nft(8)-style text of what the builders make, for `keel check --plan` and docs. */
void nft_describe(const struct nft_config *c, const struct nft_dnat *d, size_t n, FILE *out);
void nft_describe_dnat(const struct nft_dnat *d, FILE *out);

/* --- conntrack ----------------------------------------------------------- */

struct nft_net {
    struct in_addr addr;
    unsigned prefix;           /* 32: one address (128 with v6) */
    bool v6;                   /* addr6 instead of addr */
    struct in6_addr addr6;
};

/* One conntrack entry to delete: its original tuple (the nested attribute as
 * the kernel sent it), id and zone. */
struct nft_ct_entry {
    uint8_t orig[192];
    size_t orig_len;
    bool has_id, has_zone;
    uint8_t family;            /* AF_INET or AF_INET6: the delete's nfgen_family */
    uint32_t id_be;
    uint16_t zone_be;
};

/* A request to dump the conntrack entries of both families. */
void nft_ct_build_dump(struct nlbuf *b);
/* A ctnetlink dump message: 1 when one of its four addresses (original and
 * reply source and destination) is in one of `nets` (then *e is filled), 0
 * when not (or not an IPv4 or IPv6 entry), -EINVAL when malformed. */
int nft_ct_match(const struct nlmsghdr *h, const struct nft_net *nets, size_t n, struct nft_ct_entry *e);
/* A request to delete the entry `e` (matched by tuple, zone and id: a new
 * entry with the same tuple is left alone). */
void nft_ct_build_delete(struct nlbuf *b, const struct nft_ct_entry *e);
/* Deletes every conntrack entry of the caller's network namespace that names
 * an address of `nets` (nft_ct_match); *deleted counts them.  Entries that
 * expire meanwhile are not an error. */
int nft_ct_forget(int fd, const struct nft_net *nets, size_t n, size_t *deleted, struct kerr *err);

/* A NETLINK_NETFILTER socket (O_CLOEXEC). */
int nft_open(struct kerr *err);
/* Sends a batch; 0 or the first error. */
int nft_commit(int fd, struct nlbuf *b, struct kerr *err);
/* 1 if table `keel` exists, 0 if not, negative errno on failure. */
int nft_table_exists(int fd, struct kerr *err);

#endif
