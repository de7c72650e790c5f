/* sntp.c — the SNTP client's pure half, see sntp.h. */
#include "keel/sntp.h"
#include "keel/parse.h"

#include <errno.h>
#include <string.h>

#define NS_PER_S 1000000000LL
#define ERA (1LL << 32)
/* A reply whose server is further than this from a reference clock (root
 * delay / 2 + root dispersion, RFC 5905's root distance; its MAXDIST is
 * 1.5 s) says itself that its time is not worth taking. */
#define MAX_ROOT_DISTANCE_S 16
/* Rounding of the wire's fractions may make a loopback exchange's delay a
 * few ns negative; more than this is not a real exchange. */
#define DELAY_TOLERANCE_NS 1000000LL

int sntp_parse_server(const char *s, struct sockaddr_in *out, char *why)
{
    char host[32];
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n == 0 || n >= sizeof host)
        return PARSE_FAIL(why, EINVAL, "'%s' is not an IPv4 address[:port]", s);
    memcpy(host, s, n);
    host[n] = '\0';
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    if (parse_ipv4(host, &out->sin_addr, why) < 0)
        return PARSE_FAIL(why, EINVAL, "'%s' is not a numeric IPv4 address (keel resolves no names)", host);
    uint64_t port = SNTP_PORT;
    if (colon && parse_u64(colon + 1, 1, 65535, &port, NULL) < 0)
        return PARSE_FAIL(why, EINVAL, "'%s' is not a port", colon + 1);
    out->sin_port = htons((uint16_t)port);
    return 0;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t sntp_from_unix_ns(int64_t ns)
{
    int64_t s = ns / NS_PER_S, rem = ns % NS_PER_S;
    if (rem < 0) {
        rem += NS_PER_S;
        s--;
    }
    uint64_t sec = (uint64_t)(s + (int64_t)SNTP_UNIX_OFFSET) & 0xffffffffULL;
    uint64_t frac = ((uint64_t)rem << 32) / NS_PER_S;
    return sec << 32 | frac;
}

int64_t sntp_to_unix_ns(uint64_t ts, int64_t pivot_ns)
{
    int64_t base = (int64_t)(ts >> 32) - (int64_t)SNTP_UNIX_OFFSET;
    int64_t pivot_s = pivot_ns / NS_PER_S;
    /* The era k (a multiple of 2^32 s) that brings base nearest the pivot. */
    int64_t d = pivot_s - base;
    int64_t k = d >= 0 ? (d + ERA / 2) / ERA : -((-d + ERA / 2 - 1) / ERA);
    int64_t s = base + k * ERA;
    int64_t frac_ns = (int64_t)(((ts & 0xffffffffULL) * (uint64_t)NS_PER_S) >> 32);
    /* Past 2262 an int64 of ns overflows: clamp (such a reply is refused by
     * the caller's sanity checks, never wrapped into the past). */
    if (s > INT64_MAX / NS_PER_S - 1)
        return INT64_MAX;
    if (s < INT64_MIN / NS_PER_S + 1)
        return INT64_MIN;
    return s * NS_PER_S + frac_ns;
}

void sntp_request(uint8_t pkt[SNTP_PACKET_SIZE], uint64_t nonce)
{
    memset(pkt, 0, SNTP_PACKET_SIZE);
    pkt[0] = 4 << 3 | 3;   /* LI 0, VN 4, mode 3 (client) */
    put64(pkt + 40, nonce);
}

int sntp_parse_reply(const uint8_t *pkt, size_t len, uint64_t nonce, struct sntp_reply *out, char *why)
{
    memset(out, 0, sizeof *out);
    if (len < SNTP_PACKET_SIZE)
        return PARSE_FAIL(why, EBADMSG, "a reply of %zu bytes (at least %d expected)", len, SNTP_PACKET_SIZE);
    unsigned leap = pkt[0] >> 6, version = pkt[0] >> 3 & 7, mode = pkt[0] & 7;
    if (version < 1 || version > 4)
        return PARSE_FAIL(why, EBADMSG, "version %u", version);
    if (mode != 4)
        return PARSE_FAIL(why, EBADMSG, "mode %u (4, server, expected)", mode);
    /* First the origin: whatever else a datagram says, if it does not carry
     * our nonce it is not an answer to our request (a late answer to an
     * earlier one, or a forgery) and must not even count as a refusal. */
    if (get64(pkt + 24) != nonce)
        return PARSE_FAIL(why, EBADMSG, "its origin timestamp is not our request's");
    out->leap = leap;
    out->version = version;
    out->stratum = pkt[1];
    out->root_delay = get32(pkt + 4);
    out->root_dispersion = get32(pkt + 8);
    out->receive = get64(pkt + 32);
    out->transmit = get64(pkt + 40);
    if (out->stratum == 0) {
        for (int i = 0; i < 4; i++) {
            uint8_t c = pkt[12 + i];
            out->kiss[i] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return PARSE_FAIL(why, ECONNREFUSED, "kiss-o'-death %s", out->kiss);
    }
    if (leap == 3)
        return PARSE_FAIL(why, EPROTO, "the server is not synchronized (leap indicator 3)");
    if (out->stratum > 15)
        return PARSE_FAIL(why, EPROTO, "stratum %u", out->stratum);
    if (out->receive == 0 || out->transmit == 0)
        return PARSE_FAIL(why, EPROTO, "a zero receive or transmit timestamp");
    /* Root distance in 16.16 s: delay / 2 + dispersion. */
    uint64_t dist = out->root_delay / 2 + (uint64_t)out->root_dispersion;
    if (dist >= (uint64_t)MAX_ROOT_DISTANCE_S << 16)
        return PARSE_FAIL(why, EPROTO, "a root distance of %llu s", (unsigned long long)(dist >> 16));
    return 0;
}

int sntp_offset(int64_t t1, int64_t t2, int64_t t3, int64_t t4, int64_t max_delay_ns,
                int64_t *offset_ns, int64_t *delay_ns, char *why)
{
    int64_t a, b, rtt, srv, delay;
    if (__builtin_sub_overflow(t2, t1, &a) || __builtin_sub_overflow(t3, t4, &b) ||
        __builtin_sub_overflow(t4, t1, &rtt) || __builtin_sub_overflow(t3, t2, &srv) ||
        __builtin_sub_overflow(rtt, srv, &delay))
        return PARSE_FAIL(why, ERANGE, "timestamps too far apart");
    if (delay < -DELAY_TOLERANCE_NS || srv < -DELAY_TOLERANCE_NS || rtt < 0)
        return PARSE_FAIL(why, EPROTO, "a negative round trip (%lld ns)", (long long)delay);
    if (delay > max_delay_ns)
        return PARSE_FAIL(why, EPROTO, "a round trip of %lld ms", (long long)(delay / 1000000));
    /* a/2 + b/2 (+ both odd halves) cannot overflow where a + b could. */
    *offset_ns = a / 2 + b / 2 + (a % 2 + b % 2) / 2;
    *delay_ns = delay < 0 ? 0 : delay;
    return 0;
}
