/* dhcp_proto.h — DHCPv4 (RFC 2131, 2132, 3442), the pure half: the messages
 * keel's client sends, the parser of what servers send, the IPv4/UDP framing
 * of the packet socket, and the client's state machine as one step function.
 *
 * Nothing here does I/O, reads a clock or draws a random number: times and
 * random values come in through `struct dhcp_input`, so the unit tests and
 * the fuzzer drive every transition (dhcp.c carries the steps out).
 *
 * Every parser takes untrusted bytes from the network: each length is checked
 * against the buffer before it is read; a malformed message (an option that
 * runs past the end, a wrong length for its type, no message type, a bad
 * classless route) is refused as a whole with -EINVAL, never half-used.
 */
#ifndef KEEL_DHCP_PROTO_H
#define KEEL_DHCP_PROTO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Message types (option 53). */
enum {
    DHCP_DISCOVER = 1, DHCP_OFFER = 2, DHCP_REQUEST = 3, DHCP_DECLINE = 4,
    DHCP_ACK = 5, DHCP_NAK = 6, DHCP_RELEASE = 7, DHCP_INFORM = 8,
};

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_MAX_DNS 4
#define DHCP_MAX_NTP 4
#define DHCP_MAX_ROUTES 16
#define DHCP_DOMAIN_MAX 254
/* Largest message keel builds or accepts (BOOTP header + 1232 bytes of
 * options; a 1500-byte frame holds it with the IP and UDP headers). */
#define DHCP_MSG_MAX 1472
#define DHCP_FRAME_MAX (DHCP_MSG_MAX + 28)
#define DHCP_INFINITE 0xffffffffu

struct dhcp_route {
    struct in_addr dst;
    unsigned prefix;            /* 0..32 */
    struct in_addr gw;          /* 0.0.0.0: on the link */
};

/* What a server offered or acknowledged.  Fixed arrays: nothing to free. */
struct dhcp_lease {
    struct in_addr addr;        /* yiaddr */
    unsigned prefix;            /* from the subnet mask (option 1); 0 when absent */
    struct in_addr server;      /* server identifier (option 54) */
    struct in_addr router;      /* first router (option 3), 0 when none */
    struct in_addr dns[DHCP_MAX_DNS];
    size_t n_dns;
    struct in_addr ntp[DHCP_MAX_NTP];   /* option 42: for the SNTP client */
    size_t n_ntp;
    char domain[DHCP_DOMAIN_MAX + 1];   /* option 15, printable characters only; "" when none */
    unsigned mtu;               /* option 26, 0 when none (or below 576) */
    struct dhcp_route routes[DHCP_MAX_ROUTES];   /* option 121 */
    size_t n_routes;
    bool has_routes;            /* option 121 was present: it overrides option 3 (RFC 3442) */
    uint32_t lease_s;           /* option 51 (DHCP_INFINITE: never expires) */
    uint32_t t1_s, t2_s;        /* options 58, 59, else 1/2 and 7/8 of the lease */
};

/* A parsed server message. */
struct dhcp_msg {
    uint8_t type;               /* DHCP_OFFER, DHCP_ACK, DHCP_NAK, ... */
    uint32_t xid;
    uint8_t chaddr[6];
    struct dhcp_lease lease;
};

/* Parses a BOOTREPLY in buf[0..len).  0; -EINVAL when malformed (not a reply,
 * wrong magic cookie, an option overrunning the message or of a wrong
 * length, no message type, an offer or ack without an address or lease
 * time, a bad classless route).  Lists longer than keel keeps are cut to
 * their first entries; a domain with unprintable bytes is dropped. */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *out);

/* Parses option 121's payload into routes[] (at most `max`); returns the
 * count, or -EINVAL when a descriptor is truncated or its prefix exceeds 32
 * or has bits set beyond the prefix.  More than `max` routes: the first `max`. */
int dhcp_parse_routes(const uint8_t *p, size_t len, struct dhcp_route *routes, size_t max);

/* What keel sends. */
struct dhcp_send {
    uint8_t type;               /* DISCOVER, REQUEST or RELEASE */
    uint32_t xid;
    uint16_t secs;
    uint8_t mac[6];
    struct in_addr ciaddr;      /* RENEWING, REBINDING, RELEASE */
    struct in_addr requested;   /* option 50: REQUEST after an offer, 0 otherwise */
    struct in_addr server;      /* option 54: REQUEST after an offer, RELEASE */
    const char *hostname;       /* option 12, NULL for none */
};

/* Builds the message into buf (at least DHCP_MSG_MAX bytes): client
 * identifier 61 = type 1 + the MAC, host name 12 (cut to 63 bytes), the
 * parameter request list (1, 3, 6, 15, 26, 42, 51, 54, 58, 59, 121), maximum
 * message size 57 = DHCP_MSG_MAX; RELEASE carries only 53, 54 and 61.
 * Returns the length (a multiple of nothing; at least 300, BOOTP's minimum). */
size_t dhcp_build(const struct dhcp_send *s, uint8_t *buf);

/* IPv4 + UDP framing for the packet socket (the client has no address yet).
 * dhcp_frame: 0.0.0.0:68 -> 255.255.255.255:67, TTL 64, both checksums;
 * returns the frame length (payload + 28).  buf holds DHCP_FRAME_MAX. */
size_t dhcp_frame(const uint8_t *payload, size_t len, uint8_t *buf);
/* The DHCP payload of a received IPv4 frame: an unfragmented UDP datagram to
 * port 68 from port 67 with consistent lengths and a correct IP header
 * checksum, and a correct UDP checksum when it is not 0 and `udp_sum_ready`
 * (a frame the kernel has not finished, CHECKSUM_PARTIAL on a veth, carries
 * only the pseudo header's sum: TP_STATUS_CSUMNOTREADY in PACKET_AUXDATA).
 * 0 with the payload and its length set, or -EINVAL. */
int dhcp_unframe(const uint8_t *buf, size_t len, bool udp_sum_ready, const uint8_t **payload, size_t *plen);

/* The client's states (RFC 2131 figure 5; INIT-REBOOT is not used: keel keeps
 * no lease across boots). */
enum dhcp_state {
    DHCP_S_INIT,        /* no lease; waiting to send a DISCOVER */
    DHCP_S_SELECTING,   /* DISCOVER sent, waiting for an OFFER */
    DHCP_S_REQUESTING,  /* REQUEST for an offer sent, waiting for ACK/NAK */
    DHCP_S_BOUND,       /* lease applied; waiting for T1 */
    DHCP_S_RENEWING,    /* T1 passed: REQUEST unicast to the server */
    DHCP_S_REBINDING,   /* T2 passed: REQUEST broadcast to any server */
    DHCP_S_STOPPED,     /* released (or stopped); nothing more */
};
const char *dhcp_state_name(enum dhcp_state s);

struct dhcp_machine {
    enum dhcp_state state;
    uint32_t xid;
    unsigned attempt;           /* transmissions in this exchange */
    uint64_t exchange_ms;       /* when the exchange began (the secs field) */
    uint64_t bound_ms;          /* when the lease was acknowledged (its times count from the REQUEST) */
    uint64_t request_ms;        /* when the REQUEST that got the ACK was first sent */
    struct dhcp_lease offer;    /* SELECTING -> REQUESTING */
    struct dhcp_lease lease;    /* valid when has_lease */
    bool has_lease;
};

enum dhcp_event {
    DHCP_EV_START,      /* begin (INIT): DISCOVER now */
    DHCP_EV_TIMER,      /* the timer of the last step fired */
    DHCP_EV_MSG,        /* a parsed message for this client's MAC */
    DHCP_EV_STOP,       /* shutdown: RELEASE when bound, then STOPPED */
};

struct dhcp_input {
    enum dhcp_event ev;
    uint64_t now_ms;            /* monotonic */
    uint32_t rand;              /* a fresh random value (xid, jitter) */
    const struct dhcp_msg *msg; /* DHCP_EV_MSG */
};

/* What to do after a step, in this order: remove the old lease (lost), apply
 * the lease (bound), send, (re)arm the one timer. */
struct dhcp_step {
    bool lost;                  /* the applied lease is gone (expired, NAK, address changed) */
    struct dhcp_lease old;      /* with lost: what to remove */
    bool bound;                 /* apply m->lease (new, or renewed with new options) */
    struct dhcp_send send;      /* send.type 0: nothing to send */
    bool unicast;               /* to m->lease.server from the bound address (RENEWING, RELEASE) */
    bool broadcast_udp;         /* REBINDING: broadcast from the bound address (not the packet socket) */
    uint64_t timer_at_ms;       /* 0: no timer */
};

/* Initializes m in DHCP_S_INIT. */
void dhcp_machine_init(struct dhcp_machine *m);
/* One step: (m, input) -> new m and *out.  mac and hostname go into
 * out->send (hostname is borrowed).  Messages with another xid, or a type
 * the state does not expect, change nothing (out has no action). */
void dhcp_step(struct dhcp_machine *m, const struct dhcp_input *in, const uint8_t mac[6], const char *hostname,
               struct dhcp_step *out);
/* RFC 2131 4.1: the n-th retransmission waits 4, 8, 16, 32, then 64 s, each
 * randomized by -1..+1 s (from `rand`); in ms. */
uint64_t dhcp_backoff_ms(unsigned attempt, uint32_t rand);

/* The routes a lease asks for, as keel applies them: option 121's when
 * present (RFC 3442: they replace option 3), else a default route via the
 * first router; on-link routes (gateway 0.0.0.0) first, so that a gateway
 * reachable only through one of them is reachable when its route is added.
 * Dropped (and counted in *dropped) are routes a server on the link must not
 * be able to set: a destination in 0/8 (but the default route), 127/8 or
 * 224/3 and up; a gateway in 0/8 (but 0.0.0.0), 127/8 or 224/3; and any as
 * specific as, or more than, one of the `reserved` networks (keel's bridges)
 * and inside it, which would take the containers' traffic off their bridge.
 * Returns the count written to out (DHCP_MAX_ROUTES entries). */
size_t dhcp_lease_routes(const struct dhcp_lease *l, const struct dhcp_route *reserved, size_t n_reserved,
                         struct dhcp_route *out, size_t *dropped);
/* True when a/pa and b/pb share an address. */
bool dhcp_prefixes_overlap(struct in_addr a, unsigned pa, struct in_addr b, unsigned pb);

/* /etc/resolv.conf from a lease: "search DOMAIN" (when given) and one
 * "nameserver" line per DNS server, under a comment naming `ifname`.
 * Returns the length, or -ENOSPC when buf (of size n) is too small; 0 when
 * the lease names no DNS server (keep what is there). */
int dhcp_resolv_conf(const struct dhcp_lease *l, const char *ifname, char *buf, size_t n);

#endif
