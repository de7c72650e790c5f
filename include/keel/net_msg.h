/* net_msg.h — the rtnetlink requests of keel's networking (links, addresses,
 * routes, the tbf qdisc), built into an nlbuf batch.
 *
 * Pure: each function appends one message to `b` and touches nothing else (no
 * socket, no /proc), so the unit tests compare the bytes.  Every message asks
 * for an acknowledgement (NLM_F_ACK) and carries `label` for the error
 * sentence ("cannot LABEL: why", see nlbuf.h); building never fails (nlbuf
 * remembers an allocation failure for nlbuf_send).
 *
 * The bytes are those libnl-route-3 3.7 produced for the same requests until
 * keel stopped linking it (tests/unit/test_net.c holds them), attribute order
 * included, so the kernel sees exactly what it saw before.
 */
#ifndef KEEL_NET_MSG_H
#define KEEL_NET_MSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "keel/nlbuf.h"

/* RTM_NEWLINK (create, exclusive): a bridge `ifname`, up, with `mtu`. */
/* MAC: the bridge's own, set (not taken from its ports): a bridge whose
 * address is not set takes its lowest port's, so it changes as containers
 * come and go, and a running container's ARP entry for its gateway then
 * points nowhere until it expires (a kept container cut off after an apply). */
void net_msg_bridge_add(struct nlbuf *b, const char *ifname, unsigned mtu, const uint8_t mac[6], const char *label);

/* RTM_NEWLINK (create, exclusive): a veth pair whose end `ifname` is up, with
 * `mtu`, a port of the bridge `master`; its peer `peer_name` (same mtu, not
 * up: veth_open refuses until the pair is linked, MAC `peer_mac`) is created
 * directly inside the network namespace `peer_ns_fd`. */
void net_msg_veth_add(struct nlbuf *b, const char *ifname, int master, unsigned mtu, const char *peer_name,
                      const uint8_t peer_mac[6], int peer_ns_fd, const char *label);

/* RTM_NEWLINK on an existing link, by `ifindex` or (ifindex 0) by `ifname`:
 * `flags` under the mask `change`, then, when given, the alias, the mtu, and
 * the bridge port flag `isolated` (IFLA_INFO_SLAVE_DATA). */
void net_msg_link_set(struct nlbuf *b, const char *ifname, int ifindex, unsigned flags, unsigned change,
                      const char *alias, bool isolate, unsigned mtu, const char *label);

/* RTM_GETLINK of one link by name; the reply is an RTM_NEWLINK. */
void net_msg_link_get(struct nlbuf *b, const char *ifname, const char *label);

/* RTM_GETLINK dump of every link (answered by data replies and a DONE). */
void net_msg_link_dump(struct nlbuf *b, const char *label);

/* RTM_SETLINK on bridge port `ifindex`: state disabled (it forwards and
 * learns nothing more) and its learned addresses flushed. */
void net_msg_port_disable(struct nlbuf *b, int ifindex, const char *label);

/* RTM_DELLINK by `ifindex`, or (ifindex 0) by `ifname`. */
void net_msg_link_del(struct nlbuf *b, int ifindex, const char *ifname, const char *label);

/* RTM_NEWLINK on the existing link `ifname`: its link group becomes `group`. */
void net_msg_link_group(struct nlbuf *b, const char *ifname, uint32_t group, const char *label);

/* RTM_DELLINK of every link of `group` in the socket's namespace, in one
 * unregister batch (rtnl_group_dellink; ENODEV when the group is empty). */
void net_msg_group_del(struct nlbuf *b, uint32_t group, const char *label);

/* RTM_NEWADDR (create or replace): IPv4 `a`/`prefix` on `ifindex`, with the
 * subnet's broadcast address below /31.  A prefix outside 1..32 makes the
 * batch invalid (nlbuf_invalid). */
void net_msg_addr_add(struct nlbuf *b, int ifindex, struct in_addr a, unsigned prefix, const char *label);

/* RTM_NEWROUTE (create or replace): the IPv4 default route of the main table
 * via `gw` out of `ifindex`. */
void net_msg_route_default(struct nlbuf *b, int ifindex, struct in_addr gw, const char *label);

/* RTM_NEWADDR (create or replace): IPv6 `a`/`prefix` on `ifindex`; without
 * `dad`, no duplicate address detection (IFA_F_NODAD: usable at once, for
 * keel's own links).  A prefix outside 1..128 makes the batch invalid. */
void net_msg_addr6_add(struct nlbuf *b, int ifindex, const struct in6_addr *a, unsigned prefix, bool dad,
                       const char *label);

/* RTM_NEWROUTE (create or replace): the IPv6 default route (::/0) of the main
 * table via `gw` out of `ifindex`. */
void net_msg_route6_default(struct nlbuf *b, int ifindex, const struct in6_addr *gw, const char *label);

/* RTM_NEWQDISC (create or replace): a root tbf (handle 1:) on `ifindex` that
 * limits egress to `bits` per second: burst 10 ms of the rate (at least three
 * frames of `mtu`), queue 50 ms. */
void net_msg_tbf_add(struct nlbuf *b, int ifindex, uint64_t bits, unsigned mtu, const char *label);

/* DHCP leases (dhcp.c).  RTM_DELADDR of IPv4 `a`/`prefix` on `ifindex`. */
void net_msg_addr_del(struct nlbuf *b, int ifindex, struct in_addr a, unsigned prefix, const char *label);
/* RTM_NEWROUTE (create or replace) / RTM_DELROUTE in the main table, protocol
 * dhcp: `dst`/`prefix` (0: the default route) via `gw` out of `ifindex`; a
 * gateway 0.0.0.0 makes a route on the link (scope link). */
void net_msg_route_add(struct nlbuf *b, int ifindex, struct in_addr dst, unsigned prefix, struct in_addr gw,
                       const char *label);
void net_msg_route_del(struct nlbuf *b, int ifindex, struct in_addr dst, unsigned prefix, struct in_addr gw,
                       const char *label);

#endif
