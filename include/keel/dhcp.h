/* dhcp.h — the DHCPv4 client of an uplink (`[interface NAME] address = dhcp`),
 * the system half: sockets, the event loop, and the lease applied to the
 * interface.  The protocol and the state machine are dhcp_proto's (pure).
 *
 * Sockets.  Before the interface has an address (INIT, SELECTING,
 * REQUESTING) keel sends and receives through an AF_PACKET socket bound to
 * the interface, framing IPv4 and UDP itself (dhcp_frame), with a classic
 * BPF filter that lets only UDP datagrams to port 68 through.  Why not a UDP
 * socket with SO_BINDTODEVICE: without an address of its own on the link
 * the kernel would take the source address of the DISCOVER from another
 * interface (one of keel's bridges, say) and would not deliver an OFFER sent
 * unicast to the offered address, so a client on a UDP socket must ask every
 * server to broadcast and trust the kernel's source selection.  Once bound,
 * a UDP socket bound to port 68 on the device (SO_BINDTODEVICE) carries
 * the renewal (unicast to the server), the rebinding (broadcast from the
 * address) and the release; both sockets are read in every state and the
 * state machine ignores what it does not expect (each reply may arrive
 * twice: once per socket).
 *
 * The lease.  On an ACK keel adds the address (prefix from option 1), then
 * the routes: option 121's classless routes when present (RFC 3442: they
 * replace option 3), else a default route via the first router; routes are
 * protocol `dhcp` in the main table.  What a server on the link must not set
 * is dropped (dhcp_lease_routes), and a lease overlapping one of keel's
 * networks (`reserved`) is not applied.  The MTU of option 26 is set unless the
 * manifest's `mtu` is.  A renewal with other routes replaces them; a lease
 * that expires, a NAK, or a rebinding to another address removes the
 * address and routes.  `dhcp_client_stop` sends a RELEASE and removes them.
 * The callback hears of each change after it was applied.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_DHCP_H
#define KEEL_DHCP_H

#include <stdbool.h>
#include <stddef.h>

#include "keel/dhcp_proto.h"
#include "keel/err.h"
#include "keel/loop.h"

struct dhcp_client;

#define DHCP_MAX_RESERVED 64

/* After a lease was applied (lease set) or removed (lease NULL: expired,
 * refused or released).  The lease is the client's: valid until the next
 * change; copy what you keep. */
typedef void (*dhcp_lease_cb)(struct dhcp_client *dc, const struct dhcp_lease *lease, void *data);

struct dhcp_opts {
    const char *ifname;         /* the uplink (exists; keel brought it up) */
    const char *hostname;       /* sent as option 12; NULL for none (copied) */
    bool keep_mtu;              /* the manifest sets the MTU: ignore option 26 */
    /* keel's networks (dst/prefix; copied, at most DHCP_MAX_RESERVED): a
     * lease whose subnet overlaps one is not applied, a route inside one is
     * dropped (dhcp_lease_routes). */
    const struct dhcp_route *reserved;
    size_t n_reserved;
    dhcp_lease_cb cb;
    void *data;
};

/* Opens the sockets on the interface and sends the first DISCOVER from the
 * loop (never blocks: the boot goes on).  *out is freed by dhcp_client_stop. */
int dhcp_client_start(struct dhcp_client **out, struct loop *l, const struct dhcp_opts *o, struct kerr *err);
/* Sends a RELEASE when bound, removes the address and routes, closes the
 * sockets and frees c (NULL is allowed).  No callback is called. */
void dhcp_client_stop(struct dhcp_client *c);
/* The lease in force (bound, renewing or rebinding), or NULL: for the status
 * and for the SNTP client (lease->ntp). */
const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *c);
const char *dhcp_client_ifname(const struct dhcp_client *c);
enum dhcp_state dhcp_client_state(const struct dhcp_client *c);
/* Milliseconds until the lease expires (0 when none; UINT64_MAX: infinite). */
uint64_t dhcp_client_expires_in_ms(const struct dhcp_client *c);

#endif
