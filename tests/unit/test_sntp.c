/* Unit tests of sntp.c: packets, eras, the checks of a reply, offset and delay. */
#include "keel/sntp.h"
#include "keel/parse.h"
#include "unit.h"

#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>

#define S 1000000000LL

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* A well-formed server reply to `nonce`: LI 0, VN 4, mode 4, stratum 2. */
static void reply(uint8_t pkt[SNTP_PACKET_SIZE], uint64_t nonce, uint64_t rx, uint64_t tx)
{
    memset(pkt, 0, SNTP_PACKET_SIZE);
    pkt[0] = 4 << 3 | 4;
    pkt[1] = 2;
    pkt[2] = 6;
    memcpy(pkt + 12, "\x7f\0\0\1", 4);
    put64(pkt + 24, nonce);
    put64(pkt + 32, rx);
    put64(pkt + 40, tx);
}

TEST(timestamps)
{
    /* 2026-12-06 00:00:00 UTC = 1796515200; NTP seconds = that + 2208988800. */
    int64_t t = 1796515200LL * S + 500000000;
    uint64_t ts = sntp_from_unix_ns(t);
    CHECK_INT(ts >> 32, (1796515200ULL + SNTP_UNIX_OFFSET) & 0xffffffffULL);
    CHECK_INT(ts & 0xffffffffULL, 0x80000000ULL);
    CHECK_INT(sntp_to_unix_ns(ts, t), t);
    /* The Unix epoch is NTP second 2208988800. */
    CHECK_INT(sntp_from_unix_ns(0) >> 32, SNTP_UNIX_OFFSET);
    /* A server time of 2026 read by a client whose clock says 2001 or 2060:
     * the era nearest the pivot is still the right one. */
    CHECK_INT(sntp_to_unix_ns(ts, 978307200LL * S), t);
    CHECK_INT(sntp_to_unix_ns(ts, 2871763200LL * S), t);
    /* After 2036-02-07 06:28:16 the seconds wrap (era 1): a time in 2040
     * read with a pivot in 2026 is 2040, not 1904. */
    int64_t t2040 = 2208988800LL * S;   /* 2040-01-01 */
    uint64_t w = sntp_from_unix_ns(t2040);
    CHECK((w >> 32) < 0x80000000ULL);
    CHECK_INT(sntp_to_unix_ns(w, t), t2040);
    /* Fractions: 1 ns rounds down by at most one ns each way. */
    int64_t r = sntp_to_unix_ns(sntp_from_unix_ns(t + 123456789), t);
    CHECK(r >= t + 123456788 && r <= t + 123456789);
}

TEST(request)
{
    uint8_t pkt[SNTP_PACKET_SIZE];
    memset(pkt, 0xaa, sizeof pkt);
    sntp_request(pkt, 0x0102030405060708ULL);
    CHECK_INT(pkt[0], 0x23);   /* LI 0, VN 4, mode 3 */
    for (int i = 1; i < 40; i++)
        CHECK_INT(pkt[i], 0);   /* nothing about our clock */
    CHECK_INT(pkt[40], 1);
    CHECK_INT(pkt[47], 8);
}

TEST(reply_good)
{
    uint8_t pkt[SNTP_PACKET_SIZE];
    struct sntp_reply r;
    char why[PARSE_WHY_MAX] = "";
    reply(pkt, 42, 0x1111111100000000ULL, 0x1111111200000000ULL);
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), 0);
    CHECK_INT(r.stratum, 2);
    CHECK_INT(r.version, 4);
    CHECK_INT(r.receive, 0x1111111100000000ULL);
    CHECK_INT(r.transmit, 0x1111111200000000ULL);
    CHECK_STR(r.kiss, "");
    /* Version 3 servers and a longer datagram (extension fields, a MAC) too. */
    uint8_t big[68] = { 0 };
    reply(big, 42, 1ULL << 40, 1ULL << 40);
    big[0] = 3 << 3 | 4;
    CHECK_INT(sntp_parse_reply(big, sizeof big, 42, &r, why), 0);
}

TEST(reply_refused)
{
    uint8_t pkt[SNTP_PACKET_SIZE];
    struct sntp_reply r;
    char why[PARSE_WHY_MAX];
    uint64_t rx = 1ULL << 40, tx = (1ULL << 40) + 5;

    /* Not ours: short, wrong mode (a client's request echoed, a broadcast),
     * bad version, and above all a foreign origin (the anti-spoof check). */
    reply(pkt, 42, rx, tx);
    CHECK_INT(sntp_parse_reply(pkt, 47, 42, &r, why), -EBADMSG);
    reply(pkt, 42, rx, tx);
    pkt[0] = 4 << 3 | 3;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EBADMSG);
    pkt[0] = 4 << 3 | 5;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EBADMSG);
    pkt[0] = 0 << 3 | 4;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EBADMSG);
    pkt[0] = 7 << 3 | 4;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EBADMSG);
    reply(pkt, 43, rx, tx);
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EBADMSG);
    CHECK(strstr(why, "origin") != NULL);
    /* A forged kiss-o'-death with the wrong origin is not a refusal either. */
    reply(pkt, 43, rx, tx);
    pkt[1] = 0;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EBADMSG);

    /* Ours but unusable. */
    reply(pkt, 42, rx, tx);
    pkt[1] = 0;
    memcpy(pkt + 12, "RATE", 4);
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -ECONNREFUSED);
    CHECK_STR(r.kiss, "RATE");
    memcpy(pkt + 12, "D\n\0Y", 4);   /* control bytes never reach a log line */
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -ECONNREFUSED);
    CHECK_STR(r.kiss, "D??Y");
    reply(pkt, 42, rx, tx);
    pkt[0] |= 3 << 6;   /* leap indicator 3: alarm, not synchronized */
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EPROTO);
    reply(pkt, 42, rx, tx);
    pkt[1] = 16;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EPROTO);
    pkt[1] = 255;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EPROTO);
    reply(pkt, 42, 0, tx);
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EPROTO);
    reply(pkt, 42, rx, 0);
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EPROTO);
    reply(pkt, 42, rx, tx);
    pkt[9] = 16;   /* root dispersion 16 s */
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EPROTO);
    reply(pkt, 42, rx, tx);
    pkt[5] = 32;   /* root delay 32 s: distance 16 s */
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), -EPROTO);
    pkt[5] = 31;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), 0);
    /* Leap indicators 1 and 2 (a leap second announced) are fine. */
    reply(pkt, 42, rx, tx);
    pkt[0] |= 1 << 6;
    CHECK_INT(sntp_parse_reply(pkt, sizeof pkt, 42, &r, why), 0);
    CHECK_INT(r.leap, 1);
}

TEST(offset)
{
    int64_t off, delay;
    char why[PARSE_WHY_MAX];
    /* RFC 4330's example shape: the client is 10 s behind, 100 ms each way,
     * 20 ms in the server. */
    int64_t t1 = 1000 * S, t2 = 1010 * S + 100000000, t3 = t2 + 20000000, t4 = t1 + 220000000;
    CHECK_INT(sntp_offset(t1, t2, t3, t4, 10 * S, &off, &delay, why), 0);
    CHECK_INT(off, 10 * S);
    CHECK_INT(delay, 200000000);
    /* Ahead by 25 years (a clock that ran from 2001 while the truth is 2026):
     * no overflow. */
    int64_t y25 = 25LL * 365 * 86400 * S;
    CHECK_INT(sntp_offset(t1 + y25, t2, t3, t4 + y25, 10 * S, &off, &delay, why), 0);
    CHECK_INT(off, 10 * S - y25);
    CHECK_INT(delay, 200000000);
    /* Delay too long, negative (a replayed reply), server time reversed. */
    CHECK_INT(sntp_offset(t1, t2, t3, t1 + 11 * S, 10 * S, &off, &delay, why), -EPROTO);
    CHECK_INT(sntp_offset(t1, t2, t2 + 5 * S, t1 + 1 * S, 10 * S, &off, &delay, why), -EPROTO);
    CHECK_INT(sntp_offset(t1, t2, t2 - S, t4, 10 * S, &off, &delay, why), -EPROTO);
    CHECK_INT(sntp_offset(t1, t2, t3, t1 - 1, 10 * S, &off, &delay, why), -EPROTO);
    /* A tiny negative delay from rounding is a zero delay. */
    CHECK_INT(sntp_offset(t1, t2, t2 + 100, t1 + 50, 10 * S, &off, &delay, why), 0);
    CHECK_INT(delay, 0);
    /* Overflow is refused, not wrapped. */
    CHECK_INT(sntp_offset(INT64_MIN, INT64_MAX, INT64_MAX, INT64_MIN, 10 * S, &off, &delay, why), -ERANGE);
}

/* Every byte string: no crash, and only an answer with our origin is taken. */
TEST(random_packets)
{
    uint8_t pkt[64];
    struct sntp_reply r;
    char why[PARSE_WHY_MAX];
    srand(16);
    for (int i = 0; i < 200000; i++) {
        size_t n = (size_t)rand() % sizeof pkt;
        for (size_t j = 0; j < n; j++)
            pkt[j] = (uint8_t)rand();
        uint64_t nonce = 0;
        if (n >= 32 && rand() % 2) {
            for (int j = 24; j < 32; j++)
                nonce = nonce << 8 | pkt[j];
            pkt[0] = (uint8_t)((pkt[0] & ~7) | 4);
        }
        int rc = sntp_parse_reply(pkt, n, nonce, &r, why);
        CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTO || rc == -ECONNREFUSED);
        if (rc == 0) {
            uint64_t o = 0;
            for (int j = 24; j < 32; j++)
                o = o << 8 | pkt[j];
            CHECK(o == nonce);
            CHECK(r.stratum >= 1 && r.stratum <= 15 && r.leap != 3);
        }
    }
}

TEST(servers)
{
    struct sockaddr_in a;
    char why[PARSE_WHY_MAX];
    CHECK_INT(sntp_parse_server("10.0.2.2", &a, why), 0);
    CHECK_INT(ntohs(a.sin_port), 123);
    CHECK_INT(ntohl(a.sin_addr.s_addr), 0x0a000202);
    CHECK_INT(sntp_parse_server("192.0.2.1:10123", &a, why), 0);
    CHECK_INT(ntohs(a.sin_port), 10123);
    CHECK_INT(sntp_parse_server("pool.ntp.org", &a, why), -EINVAL);
    CHECK(strstr(why, "names") != NULL);
    CHECK_INT(sntp_parse_server("10.0.0.1:0", &a, why), -EINVAL);
    CHECK_INT(sntp_parse_server("10.0.0.1:65536", &a, why), -EINVAL);
    CHECK_INT(sntp_parse_server("10.0.0.1:", &a, why), -EINVAL);
    CHECK_INT(sntp_parse_server(":123", &a, why), -EINVAL);
    CHECK_INT(sntp_parse_server("", &a, why), -EINVAL);
    CHECK_INT(sntp_parse_server("1.2.3.4.5", &a, why), -EINVAL);
}

int main(void)
{
    RUN(servers);
    RUN(timestamps);
    RUN(request);
    RUN(reply_good);
    RUN(reply_refused);
    RUN(offset);
    RUN(random_packets);
    return unit_done();
}
