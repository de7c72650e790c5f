/* sntp.h — the SNTP client's pure half (RFC 4330, packet format of RFC 5905):
 * building a request, checking a reply and the offset/delay arithmetic of
 * the four timestamps.  No I/O, no clock reads: the caller passes every
 * timestamp in, so unit tests and the fuzzer drive it with any values.
 *
 * Timestamps are NTP's 64-bit fixed point (seconds since 1900 in the high
 * 32 bits, the fraction in the low 32).  The era of a received timestamp is
 * ambiguous; sntp_to_unix_ns() takes the one nearest the pivot given
 * (RFC 4330 section 3: a first bit of 0 means 2036..2104), so a clock that
 * is wrong by up to 68 years in either direction is still corrected.
 *
 * Anti-spoofing (RFC 5905 section 8, "origin timestamp"): the request's
 * transmit timestamp is a 64-bit random nonce the caller keeps; a reply whose
 * origin timestamp is not that nonce is refused, so an off-path attacker
 * must guess 64 bits.  The real send time (T1) stays local.
 *
 * Contract: 0 / negative errno; `why` (PARSE_WHY_MAX bytes, parse.h) gets the
 * reason a reply was refused. */
#ifndef KEEL_SNTP_H
#define KEEL_SNTP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define SNTP_PACKET_SIZE 48
#define SNTP_PORT 123

/* A server as the manifest names it: a numeric IPv4 address, optionally
 * ":PORT" (default 123).  No names: keel has no resolver, and DNS before the
 * clock is set cannot be trusted anyway.  0 / -EINVAL with `why`. */
int sntp_parse_server(const char *s, struct sockaddr_in *out, char *why);

/* NTP seconds at the Unix epoch (1900-01-01 to 1970-01-01). */
#define SNTP_UNIX_OFFSET 2208988800ULL

/* Unix time in ns (may be anything an int64 holds at or after 1970) -> NTP
 * timestamp, modulo the era (the wire keeps 32 bits of seconds). */
uint64_t sntp_from_unix_ns(int64_t ns);
/* NTP timestamp -> Unix ns, in the era that puts it nearest `pivot_ns`
 * (the local clock: within 68 years of the truth). */
int64_t sntp_to_unix_ns(uint64_t ts, int64_t pivot_ns);

/* A client request (LI 0, version 4, mode 3) whose transmit timestamp is
 * `nonce`; every other field zero (RFC 4330 section 5: a client need not
 * reveal its clock). */
void sntp_request(uint8_t pkt[SNTP_PACKET_SIZE], uint64_t nonce);

struct sntp_reply {
    unsigned leap;        /* 0..2 */
    unsigned version;     /* 1..4 */
    unsigned stratum;     /* 1..15 */
    uint64_t receive;     /* T2: when the server received the request */
    uint64_t transmit;    /* T3: when the server sent the reply */
    uint32_t root_delay, root_dispersion;   /* NTP short format, 16.16 s */
    char kiss[5];         /* stratum 0: the kiss code (RATE, DENY, RSTR ...), else "" */
};

/* Checks a received datagram against the request it answers (`nonce`):
 * at least 48 bytes, version 1..4, mode 4 (server), origin == nonce, a
 * nonzero receive and transmit timestamp, root distance under 16 s.
 * Refusals: -EBADMSG (not an answer to our request: ignore it and keep
 * waiting), -EPROTO (a real answer that must not be used: leap indicator 3,
 * i.e. the server is not synchronized, stratum 16 or more, an implausible
 * root distance or timestamps), -ECONNREFUSED (stratum 0, a kiss-o'-death:
 * `out->kiss` holds the code; RFC 4330: the client must stop or back off). */
int sntp_parse_reply(const uint8_t *pkt, size_t len, uint64_t nonce, struct sntp_reply *out, char *why);

/* The offset of the local clock against the server's and the round-trip
 * delay, RFC 4330 section 5, from T1 (request sent, local clock), T2, T3 (the
 * reply's receive and transmit) and T4 (reply received, local clock), all in
 * Unix ns (sntp_to_unix_ns for T2 and T3):
 *     offset = ((T2 - T1) + (T3 - T4)) / 2     delay = (T4 - T1) - (T3 - T2)
 * Positive offset: the local clock is behind.  -EPROTO when the delay is
 * negative beyond a small tolerance (the server's clocks disagree with its
 * own order, or a replay) or above `max_delay_ns`; -ERANGE on overflow. */
int sntp_offset(int64_t t1, int64_t t2, int64_t t3, int64_t t4, int64_t max_delay_ns,
                int64_t *offset_ns, int64_t *delay_ns, char *why);

#endif
