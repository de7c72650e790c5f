/* nft.h — keel's nf_tables table, written as raw netlink batches.
 *
 * Debian ships no static libmnl, so libnftnl cannot be linked into a static
 * keel: the few expressions keel needs (meta, payload, cmp, bitwise, ct, fib,
 * immediate, nat, masq) are encoded here by hand over NETLINK_NETFILTER.
 *
 * keel owns one table, `ip keel`, created with NFT_TABLE_F_OWNER: the kernel
 * removes it by itself when keel's netlink socket closes, so even a keel killed
 * with SIGKILL leaves no rules behind.  Its shape (see docs/networking.md):
 *
 *   guard  filter prerouting -300  iifname != "lo" ip daddr 127.0.0.0/8 drop
 *                                  (the CVE-2020-8558 class: keel's bridges
 *                                  have route_localnet on, nothing may use it
 *                                  to reach the host's loopback services)
 *   pre    nat prerouting -100     fib daddr type local jump ports
 *   out    nat output -100         fib daddr type local jump ports
 *   ports  (regular chain)         [ip daddr HOST_IP] meta l4proto P th dport HP
 *                                  dnat to CIP:CP — one per published port
 *   post   nat postrouting 100     per bridge B with subnet S:
 *                                    oifname B ip saddr 127.0.0.0/8 masquerade
 *                                    oifname B ip saddr S ct status dnat masquerade
 *                                    ip saddr S oifname != B masquerade
 *   fwd    filter forward 0        ct state established,related accept;
 *                                  ct state invalid drop; per bridge:
 *                                  oifname B ct status dnat accept,
 *                                  iifname B oifname B accept (drop if
 *                                  isolated; with br_netfilter, bridged
 *                                  traffic between containers shows up here),
 *                                  iifname B oifname <other keel bridge> drop,
 *                                  iifname B accept, oifname B drop;
 *                                  policy drop when keel turned forwarding on
 *
 * Published ports change by flushing and refilling `ports` in one batch, so
 * the update is atomic and no hook is re-registered.
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

struct nft_bridge {
    char ifname[16];
    struct in_addr subnet;     /* network address */
    unsigned prefix;
    bool isolate;              /* no routing between its own containers either */
};

struct nft_dnat {
    struct in_addr host_ip;    /* INADDR_ANY: every local address */
    uint16_t host_port;
    uint8_t proto;             /* IPPROTO_TCP / IPPROTO_UDP */
    struct in_addr dest;
    uint16_t dest_port;
};

struct nft_config {
    const struct nft_bridge *bridges;
    size_t n_bridges;
    bool forward_drop;         /* policy of the forward chain */
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

/* A NETLINK_NETFILTER socket (O_CLOEXEC). */
int nft_open(struct kerr *err);
/* Sends a batch; 0 or the first error. */
int nft_commit(int fd, struct nlbuf *b, struct kerr *err);
/* 1 if table `keel` exists, 0 if not, negative errno on failure. */
int nft_table_exists(int fd, struct kerr *err);

#endif
