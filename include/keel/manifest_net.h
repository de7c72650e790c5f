/* manifest_net.h — the manifest's network rules and pure questions about its
 * networks.  Part of the manifest module (manifest_net.c): functions of a
 * `struct manifest` only, no system calls, so the manifest validates its
 * networks without calling up into the executor (net), and net asks the same
 * functions the same questions when it builds what they describe.
 */
#ifndef KEEL_MANIFEST_NET_H
#define KEEL_MANIFEST_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "keel/manifest.h"

/* Network rules of the manifest (keel check): valid network names, subnets,
 * gateways and mtus, non-overlapping subnets; ip inside its subnet and unique;
 * ports, ip and net_rate only with network = bridge; no host port published
 * twice (same protocol, overlapping HOST_IP); container:NAME names an existing
 * container that is not itself, not host-mode, no cycle; enough addresses.
 * Adds one "FILE:LINE: message" per problem, at the line of the key whose
 * value is wrong; returns 0 or -EINVAL. */
int manifest_validate_networks(const struct manifest *m, struct diag *d);

/* The network a bridge-mode container is on; NULL when it names none or one
 * the manifest lacks.  No fallback: the default network (keel0) is the
 * manifest's, which adds it and sets c->bridge when a container needs it. */
const struct network_spec *manifest_network_of(const struct manifest *m, const struct container_spec *c);
/* The gateway of `n`: its `gateway` key, else the subnet's first host address. */
struct in_addr manifest_network_gateway(const struct network_spec *n);
/* The mtu of `n` (1500 when unset). */
unsigned manifest_network_mtu(const struct network_spec *n);
/* The index of `c` in m->containers (by address, else by name); -1 if absent. */
int manifest_container_index_of(const struct manifest *m, const struct container_spec *c);
/* The container whose network namespace container `i` ends up in (itself
 * unless container:NAME); -1 for a missing target, a cycle, or host mode at
 * the end of the chain. */
int manifest_netns_root(const struct manifest *m, int i);
/* Allocates the lowest free host address of `n` not in `used` (count
 * entries), skipping network, gateway and broadcast addresses; -ENOSPC. */
int manifest_alloc_ip(const struct network_spec *n, const struct in_addr *used, size_t count,
                      struct in_addr *out);
/* Addresses of every bridge-mode container: explicit ones first, then the
 * lowest free address in manifest order, so the result is stable from one
 * start to the next.  ips[] has m->n_containers entries; 0 for other modes.
 * On exhaustion returns -ENOSPC and *failed names the container. */
int manifest_assign_ips(const struct manifest *m, struct in_addr *ips, int *failed);
/* IPv6 (networks with subnet6): the gateway (gateway6, else PREFIX::1);
 * whether `a` is inside net/prefix; the lowest free host address (from
 * PREFIX::1 up, skipping the gateway and `used`), -ENOSPC; and every bridge
 * container's address like manifest_assign_ips (:: for containers on a
 * network without subnet6 and for other modes). */
struct in6_addr manifest_network_gateway6(const struct network_spec *n);
bool manifest_in_prefix6(const struct in6_addr *net, unsigned prefix, const struct in6_addr *a);
int manifest_alloc_ip6(const struct network_spec *n, const struct in6_addr *used, size_t count, struct in6_addr *out);
int manifest_assign_ip6s(const struct manifest *m, struct in6_addr *ips, int *failed);
/* A valid interface name: 1-15 of A-Z a-z 0-9 _ - . (not "." or ".."). */
bool manifest_ifname_ok(const char *s);

#endif
