/* rdnss.h — the uplink's DNS servers from IPv6 router advertisements
 * (RDNSS, RFC 8106), for `[interface NAME] address6 = auto` in boot mode.
 *
 * The kernel does SLAAC itself but keeps no DNS servers: it hands each
 * advertisement's RDNSS options to whoever listens on the rtnetlink group
 * RTNLGRP_ND_USEROPT (RTM_NEWNDUSEROPT messages).  keel subscribes before
 * the uplink goes up (so the answer to its first router solicitation is not
 * missed), keeps each server with its lifetime, and the daemon rewrites
 * /etc/resolv.conf when the set changes (an advertisement, or a lifetime
 * running out).
 *
 * The table functions are pure (no clock, no socket: `now_ms` is given) and
 * unit-tested over message bytes.  Contract: 0 / negative errno with
 * `struct kerr` filled (err.h).
 */
#ifndef KEEL_RDNSS_H
#define KEEL_RDNSS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/err.h"

/* More than resolv.conf's three are kept (a later one takes over when one
 * expires), fewer than a flood from a hostile router could make. */
#define RDNSS_MAX 8

struct rdnss_server {
    struct in6_addr addr;
    int ifindex;               /* the interface it was advertised on (link-local servers need it) */
    uint64_t expires_ms;       /* CLOCK_MONOTONIC ms; UINT64_MAX: infinite lifetime */
};

struct rdnss {
    struct rdnss_server s[RDNSS_MAX];
    size_t n;
};

/* Applies one netlink message: an RTM_NEWNDUSEROPT from a router
 * advertisement adds or refreshes its RDNSS servers (lifetime 0 removes
 * them); anything else is ignored.  Returns 1 when the set of servers
 * changed, 0 when not, -EINVAL for a malformed message (nothing applied). */
int rdnss_apply(struct rdnss *t, const void *msg, size_t len, uint64_t now_ms);
/* Applies each message of one datagram as the socket delivers it (netlink
 * messages back to back, `buf` aligned to NLMSG_ALIGNTO): a malformed or
 * foreign one is skipped, the walk stops at the first header that does not
 * fit.  True when the set of servers changed. */
bool rdnss_apply_datagram(struct rdnss *t, const void *buf, size_t len, uint64_t now_ms);
/* Drops the servers whose lifetime ended by `now_ms`; true when any did. */
bool rdnss_expire(struct rdnss *t, uint64_t now_ms);
/* When the next lifetime ends (UINT64_MAX: never). */
uint64_t rdnss_next_expiry(const struct rdnss *t);
/* The servers as resolv.conf writes them ("fe80::1%eth0" for a link-local
 * one): a NULL-terminated heap vector, or NULL on ENOMEM. */
char **rdnss_servers(const struct rdnss *t);

/* A NETLINK_ROUTE socket (O_CLOEXEC, non-blocking) subscribed to
 * RTNLGRP_ND_USEROPT; the caller closes it. */
int rdnss_open(struct kerr *err);
/* Reads every message waiting on `fd` into `t`; *changed is set when the set
 * of servers changed.  0, or negative errno (an overrun, ENOBUFS, is not an
 * error: the next advertisement repeats what was lost). */
int rdnss_read(int fd, struct rdnss *t, uint64_t now_ms, bool *changed, struct kerr *err);

#endif
