/* peer.h — who a network peer is, for the servers' per-source limits and
 * their refusal messages: shared by the control server and the metrics
 * endpoint, so both count sources and rate-limit what a peer can make keel
 * log in one way.
 *
 * A peer key is the IPv4 address, the IPv6 /64 (one host usually owns a
 * whole /64), the vsock CID or the unix uid (filled by the caller).
 * Refusals are the one kind of message a peer can trigger at will: at most
 * one line per peer per PEER_REFUSAL_MS, and `burst` per `interval_ms` in
 * all, each saying how many were left out.
 */
#ifndef KEEL_PEER_H
#define KEEL_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "keel/log.h"

#define PEER_REFUSAL_MS 10000   /* one refusal message per peer per 10 s */

struct peer_key {
    int family;
    unsigned char a[16];
};

bool peer_key_eq(const struct peer_key *a, const struct peer_key *b);
/* The key of an accepted inet or vsock peer (IPv4-mapped IPv6 counts as IPv4). */
void peer_key_of(const struct sockaddr_storage *ss, struct peer_key *k);
/* "1.2.3.4:5", "[::1]:5", "vsock CID:PORT", "unix" (listener family AF_UNIX) or "?". */
void peer_name(const struct sockaddr_storage *ss, int family, char *buf, size_t n);

struct peer_refusals {
    struct log_ratelimit rl;     /* all peers together: set interval_ms and burst */
    struct peer_refusal {        /* per peer, the most recent ones */
        struct peer_key key;
        uint64_t last_ms;
        uint64_t suppressed;
    } recent[16];
};

/* Logs a warning about refusing peer k, within the limits above. */
void peer_refusal_log(struct peer_refusals *r, const struct peer_key *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
